"""The FastAPI app factory: ``create_app(settings)`` — no import-time globals.

The factory migrates the database (Alembic) and wires the context every route reads through
:mod:`dispatch_api.deps`; the lifespan starts and stops the job runner.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote_plus

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.utils import get_openapi
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch_api.cachebus import make_bus
from dispatch_api.console import install_console
from dispatch_api.db import make_engine, migrate, sessions
from dispatch_api.deps import AppContext, LruCache
from dispatch_api.fastpath import CourierFastPath
from dispatch_api.jobs import InlineJobRunner, JobRunner, ProcessJobRunner
from dispatch_api.problems import MEDIA_TYPE, PROBLEM_SCHEMA, install_handlers
from dispatch_api.routers import (
    console_api,
    courier,
    keys,
    networks,
    orders,
    planner,
    plans,
    regions,
    trace,
)
from dispatch_api.routers import live as live_router
from dispatch_api.routers import webhooks as webhooks_router
from dispatch_api.security import key_pepper
from dispatch_api.settings import Settings
from dispatch_api.store import ScenarioCache
from dispatch_api.throttle import AuthThrottle, database_counter, redis_counter
from dispatch_api.warm import Warmer
from dispatch_api.webhooks import WebhookSender

__all__ = ["create_app"]

_UPLOADS = re.compile(r"^(/v1)?/networks/(upload|[^/]+/orders)$")

_PROBLEM_CODES = {
    "400": "Bad request: a NUL character or malformed escape in the path or query",
    "401": "No key, or an unknown, expired or revoked key",
    "403": "The key's role may not do this",
    "404": "Not found (or not visible to this key)",
    "409": "Conflict with the current state",
    "413": "The request body is too large",
    "415": "Unsupported media type",
    "422": "Invalid input; ``field`` names it",
    "429": "Too many failed authentications from this address (see Retry-After)",
    "503": "The database is busy or unavailable; retry (see Retry-After)",
}
"""Problem responses every operation documents (RFC 9457, ``application/problem+json``)."""


async def _send_problem(
    send: Send,
    status: int,
    detail: str,
    path: str,
    field: str,
    headers: list[Any] = (),  # type: ignore[assignment]
) -> None:
    body = json.dumps(
        {
            "type": f"/problems/{'bad-request' if status == 400 else 'error'}",
            "title": "Bad request" if status == 400 else "Error",
            "status": status,
            "detail": detail,
            "instance": path.replace("\x00", "\\0"),
            "field": field,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class CleanInput:
    """400 for a NUL character (``%00``) anywhere in the path or query: no database text
    column can hold one, and no id contains one. Names the query parameter when it is one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("path", "")
            query = scope.get("query_string", b"")
            if "\x00" in path:
                await _send_problem(send, 400, "the path contains a NUL character", path, "path")
                return
            if b"%00" in query.lower() or b"\x00" in query:
                field = "query"
                for part in query.split(b"&"):
                    name, _, value = part.partition(b"=")
                    if b"%00" in part.lower() or b"\x00" in part:
                        field = unquote_plus(name.decode("latin-1"))
                        if b"%00" in value.lower() or b"\x00" in value:
                            break
                await _send_problem(
                    send, 400, f"query parameter {field!r} contains a NUL character", path, field
                )
                return
        await self.app(scope, receive, send)


class HeadAsGet:
    """HEAD on any GET operation: the GET's status and headers, without the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            await self.app(scope, receive, send)
            return

        async def no_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if not message.get("more_body"):
                    await send({"type": "http.response.body", "body": b""})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, no_body)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """413 for request bodies over the limit (declared or streamed): uploads (order imports,
    bundles) get ``max_upload_bytes``, everything else ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = (
            self.settings.max_upload_bytes if _UPLOADS.match(path) else self.settings.max_body_bytes
        )
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                await self._reject(send, limit, path)
                return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send, limit, path)

    @staticmethod
    async def _reject(send: Send, limit: int, path: str) -> None:
        body = json.dumps(
            {
                "type": "/problems/content-too-large",
                "title": "Content too large",
                "status": 413,
                "detail": f"the request body is over {limit} bytes",
                "instance": path,
                "field": "body",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings) -> FastAPI:
    """Build the dispatch API.

    Parameters
    ----------
    settings
        Where the database is, limits, worker count.
        ``settings.job_runner`` says where solve jobs go: worker processes
        (:class:`~dispatch_api.jobs.ProcessJobRunner`) or ``inline`` in the request
        (:class:`~dispatch_api.jobs.InlineJobRunner`, for tests: no sleeping and polling).
    """
    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    if settings.migrate:
        migrate(engine)
    scenarios = ScenarioCache()
    runner: JobRunner = (
        InlineJobRunner(engine, scenarios)
        if settings.job_runner == "inline"
        else ProcessJobRunner(settings, engine)
    )
    ctx = AppContext(
        settings=settings,
        engine=engine,
        sessions=sessions(engine),
        scenarios=scenarios,
        runner=runner,
        routes=LruCache(settings.route_cache_size),
        pepper=key_pepper(engine),
        throttle=AuthThrottle(
            settings.auth_failures_per_minute,
            counter=(
                redis_counter(settings.redis_url)
                if settings.redis_url
                else database_counter(engine)
            ),
        ),
    )
    ctx.bus = make_bus(engine, settings.redis_url, on_change=[ctx.keys.clear])
    # keys and routes remembered ahead of the requests: on start, after every change, when a
    # publication's documents are pre-rendered (the bus's "warm"), and every 30 s
    ctx.warmer = Warmer(ctx)
    ctx.bus.on_change(ctx.warmer.ask)
    ctx.bus.on_warm = ctx.warmer.ask
    # a block counted by any process reaches every process
    ctx.throttle.broadcast = ctx.bus.broadcast
    ctx.bus.on_block = ctx.throttle.block
    sender = WebhookSender(engine) if settings.webhooks else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ctx.bus.start()
        ctx.warmer.start()
        ctx.runner.start()
        if sender is not None:
            sender.start()
        try:
            yield
        finally:
            if sender is not None:
                sender.stop()
            ctx.runner.stop()
            ctx.warmer.stop()
            ctx.bus.stop()
            ctx.stop_touches()

    app = FastAPI(
        title="countyroute dispatch API",
        version="1",
        description=(
            "Dispatchers and courier apps reach the countyroute engine here. "
            "Authenticate with `Authorization: Bearer <API key>`; errors are RFC 9457 problem "
            "details. Every path is under `/v1` (the unprefixed paths stay as aliases). "
            "See docs/api.md."
        ),
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: the console serves them with local assets
        redoc_url=None,
    )
    app.state.ctx = ctx
    install_handlers(app)
    # console_api first: its /plans/{id}/edits/check must win over any /plans/{id}/… pattern
    for module in (
        console_api,
        keys,
        networks,
        orders,
        plans,
        planner,
        regions,
        courier,
        trace,
        live_router,
        webhooks_router,
    ):
        app.include_router(module.router, prefix="/v1")
        app.include_router(module.router, include_in_schema=False)  # the old paths: aliases
    install_console(app)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        """Liveness: answers without a key."""
        return {"status": "ok"}

    @app.get("/ready", tags=["health"], responses={503: {"description": "Not ready"}})
    def ready() -> dict[str, Any]:
        """Readiness: the database answers (what a script waits for before its first call)."""
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ready"}

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "If-None-Match",
                "Idempotency-Key",
                "Last-Event-ID",
            ],
            expose_headers=["ETag", "Link", "X-Next-Cursor", "Location", "Retry-After"],
        )
    app.add_middleware(HeadAsGet)
    app.add_middleware(CleanInput)
    app.add_middleware(CourierFastPath, ctx=ctx)  # outermost: the courier's hot requests
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema, with the problem responses every operation can give."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, ops in schema.get("paths", {}).items():
        for op in ops.values():
            responses = op.setdefault("responses", {})
            for code, text_ in _PROBLEM_CODES.items():
                if code in ("401", "403", "429") and path in ("/health", "/ready"):
                    continue
                entry = responses.setdefault(code, {"description": text_})
                entry["content"] = {MEDIA_TYPE: {"schema": problem_ref}}
            if "HTTPValidationError" in json.dumps(responses.get("422", {})):
                responses["422"] = {
                    "description": _PROBLEM_CODES["422"],
                    "content": {MEDIA_TYPE: {"schema": problem_ref}},
                }
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    app.openapi_schema = schema
    return schema
