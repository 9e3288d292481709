"""Sign-in, sign-out, the console's pages and ``/docs`` with local assets.

The session cookie (``countyroute_session``: HttpOnly, SameSite=Strict, Path=/) stands in for
the ``Authorization`` header on every API request: :class:`SessionAuth` finds the session,
checks the CSRF header on state-changing methods, and hands the request on with the digest
of the session's key (:data:`~dispatch_api.deps.SESSION_KEY`), which the API authenticates
exactly as the key itself. So the console goes through exactly the checks a script does
(roles, revocation), and nothing is reachable through it that the API does not offer.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from dispatch_api.console.sessions import DatabaseSessionStore, SessionStore
from dispatch_api.deps import SESSION_KEY, AppContext, LruCache, _principal, principal_by_digest
from dispatch_api.problems import MEDIA_TYPE, Problem
from dispatch_api.security import Role, hash_key

__all__ = ["COOKIE", "CSRF_HEADER", "SessionAuth", "install_console"]

COOKIE = "countyroute_session"
CSRF_HEADER = "x-csrf-token"
STATIC = Path(__file__).parent / "static"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SIGN_IN = "/console/session"
_CSP = (
    "default-src 'self'; img-src 'self' data: blob: https: http:; style-src 'self' "
    "'unsafe-inline'; script-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'"
)
"""Scripts, styles and data from the app only; images may come from the optional tile server
a dispatcher names in the settings."""


def _cookie(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == COOKIE:
                    return str(v)
    return None


class SessionAuth:
    """ASGI middleware: a request with a live session cookie and no ``Authorization`` header
    is sent on with the session's key; a state-changing one must carry the session's CSRF
    token in ``X-CSRF-Token`` (else 403), so another site cannot act with the cookie."""

    def __init__(self, app: ASGIApp, store: SessionStore | DatabaseSessionStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = list(scope.get("headers") or [])
        token = _cookie(scope)
        if token is None or any(k == b"authorization" for k, _ in headers):
            await self.app(scope, receive, send)
            return
        session = self.store.get(token)
        if session is None:
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        exempt = method == "POST" and scope.get("path") == _SIGN_IN
        if method in _UNSAFE and not exempt:
            sent = dict(headers).get(CSRF_HEADER.encode(), b"").decode("latin-1")
            if not secrets.compare_digest(sent, session.csrf):
                await _forbidden(send, scope.get("path", ""))
                return
        state = {**scope.get("state", {}), SESSION_KEY: session.key}
        await self.app({**scope, "state": state}, receive, send)


async def _forbidden(send: Send, path: str) -> None:
    body = json.dumps(
        {
            "type": "/problems/csrf",
            "title": "Forbidden",
            "status": 403,
            "detail": "a state-changing request with a console session needs X-CSRF-Token",
            "instance": path,
            "field": "X-CSRF-Token",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=200)


class SessionPublic(BaseModel):
    name: str
    role: str
    network: str | None
    csrf: str
    """Send it back as ``X-CSRF-Token`` on every POST, PUT, PATCH and DELETE."""
    idle_s: float
    """The session ends after this long without a request (and after 16 h in any case)."""


def _store(request: Request) -> SessionStore | DatabaseSessionStore:
    store: SessionStore | DatabaseSessionStore = request.app.state.console_sessions
    return store


def _ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


router = APIRouter(tags=["console"])
"""The console's own endpoints stay out of the OpenAPI document: they exchange a key for a
browser session (docs/api.md, "Console sessions"); scripts send their key instead."""


@router.post("/console/session", response_model=SessionPublic, include_in_schema=False)
def sign_in(body: SignIn, request: Request, response: Response) -> SessionPublic:
    """Exchange an API key for a console session (an HttpOnly cookie and a CSRF token).
    Couriers are refused (403, ``code`` courier-refused): they use the courier app."""
    if not _same_origin(request):
        raise Problem(403, "sign in from the console's own pages", field="origin")
    who = _principal(_ctx(request), body.key.strip())
    if who is None:
        raise Problem(401, "unknown or revoked API key", field="key")
    if who.role is Role.COURIER:
        raise Problem(
            403,
            "couriers do not use the console; the courier app shows your route",
            field="key",
            code="courier-refused",
        )
    store = _store(request)
    old = request.cookies.get(COOKIE)
    if old:
        store.delete(old)
    s = store.create(hash_key(body.key.strip(), _ctx(request).pepper), who)
    response.set_cookie(
        COOKIE,
        s.token,
        max_age=int(store.max_s),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return SessionPublic(
        name=who.name, role=who.role.value, network=who.network, csrf=s.csrf, idle_s=store.idle_s
    )


@router.get("/console/session", response_model=SessionPublic, include_in_schema=False)
def read_session(request: Request) -> SessionPublic:
    """Who this browser is signed in as (401 when signed out or expired)."""
    store = _store(request)
    token = request.cookies.get(COOKIE)
    s = store.get(token) if token else None
    who = principal_by_digest(_ctx(request), s.key) if s else None
    if s is None or who is None:
        raise Problem(401, "not signed in (or the session expired)")
    return SessionPublic(
        name=who.name, role=who.role.value, network=who.network, csrf=s.csrf, idle_s=store.idle_s
    )


@router.delete("/console/session", status_code=204, include_in_schema=False)
def sign_out(request: Request, response: Response) -> None:
    """End the session (the CSRF header is checked like on any state-changing request)."""
    token = request.cookies.get(COOKIE)
    if token:
        _store(request).delete(token)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")


def _page() -> Response:
    return FileResponse(
        STATIC / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-cache"},
    )


@router.get("/", include_in_schema=False)
def root() -> RedirectResponse:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console", include_in_schema=False)
@router.get("/console/", include_in_schema=False)
def console_page() -> Response:
    """The console (one page; its views are ``#/…`` fragments)."""
    return _page()


_VENDOR = "/console/static/vendor"


_DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:"
)
"""Swagger UI and ReDoc start from an inline script; everything else is the app's own."""


@router.get("/docs", include_in_schema=False)
def swagger_docs(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} — Swagger UI",
        swagger_js_url=f"{_VENDOR}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{_VENDOR}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=f"{_VENDOR}/swagger-ui/favicon-32x32.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
    page.headers["Content-Security-Policy"] = _DOCS_CSP
    return page


@router.get("/redoc", include_in_schema=False)
def redoc_docs(request: Request) -> HTMLResponse:
    page = get_redoc_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} — ReDoc",
        redoc_js_url=f"{_VENDOR}/redoc/redoc.standalone.js",
        redoc_favicon_url=f"{_VENDOR}/swagger-ui/favicon-32x32.png",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = _DOCS_CSP
    return page


def install_console(
    app: FastAPI, store: SessionStore | DatabaseSessionStore | None = None, **_: Any
) -> None:
    """Add the console to ``app`` (create the app with ``docs_url=None, redoc_url=None``:
    ``/docs`` and ``/redoc`` come from here, with local assets). Sessions are kept in the
    app's database (every process knows them) unless ``store`` says otherwise."""
    ctx = getattr(app.state, "ctx", None)
    app.state.console_sessions = store or (
        DatabaseSessionStore(ctx.engine) if ctx is not None else SessionStore()
    )
    # plans after accepted edit prefixes, for POST /plans/{id}/edits/check (a few per user)
    app.state.edit_checks = LruCache(64)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_middleware(SessionAuth, store=app.state.console_sessions)
