"""The courier's two hot requests without the framework's routing and dependency solving.

At 07:00 a county's couriers all fetch their route, and during the day they report stop
events one at a time. Through the full FastAPI stack each such request costs far more in
route matching (the ``/v1`` paths and their aliases are tried in turn) and dependency
solving than in its own work. This ASGI middleware, the outermost of the app, answers

- ``GET``/``HEAD /v1/courier/route`` when the caller's key is a courier's and its route
  resolves to a document, and
- ``PUT /v1/plans/{plan_id}/events/{event_id}`` when the body is a well-formed event,

with the same checks, the same status codes and the same bodies as the routes in
:mod:`dispatch_api.routers.courier` (which do the work: :func:`~dispatch_api.routers.courier._ingest`).
A key or a route this process does not remember is looked up here, once for all the
requests that ask for it at the same moment (:meth:`~dispatch_api.cachebus.CacheBus.once`,
as the routes do): at 07:00 every process has forgotten every key, and when each of a county's
first fetches went on to the app instead, a process's share of them queued behind that many
passes through the framework (seconds; issue 12's burst tail). Anything else — an unknown,
expired or revoked key, a throttled address, a query or body the fast path does not
recognise, a CORS request, a route that is a problem, a database error — goes on to the
app unchanged (a body already read is handed on as it came), so the app stays the one place
that explains errors.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import re
from collections import OrderedDict
from urllib.parse import parse_qsl

from pydantic import ValidationError
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch_api.deps import AppContext, caller
from dispatch_api.problems import Problem, problem_response
from dispatch_api.schemas import EventCreate
from dispatch_api.security import Principal, Role

__all__ = ["CourierFastPath"]

log = logging.getLogger("countyroute.api")

_ROUTE_PATHS = frozenset({"/v1/courier/route", "/courier/route"})
_EVENT_PATH = re.compile(
    r"^(?:/v1)?/plans/([1-9][0-9]{0,9})/events/([^\s/?#%\\\x00-\x1f\x7f]{1,100})$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EVENT_ROLES = frozenset({Role.ADMIN, Role.DISPATCHER, Role.COURIER})
_GZIP_MIN_BYTES = 1024
"""As the app's GZipMiddleware: smaller bodies go uncompressed."""


def _headers(scope: Scope) -> dict[bytes, bytes] | None:
    """The request's headers by lower-case name; None when one we read is repeated."""
    out: dict[bytes, bytes] = {}
    for name, value in scope.get("headers") or ():
        if name in out and name in (b"authorization", b"content-type", b"content-length"):
            return None
        out[name] = value
    return out


def _query(scope: Scope) -> tuple[str, str] | None:
    """``date`` and ``crs`` of a route fetch, when they are exactly what the route accepts."""
    raw = scope.get("query_string", b"").decode("latin-1")
    seen: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        if name not in ("date", "crs") or name in seen:
            return None
        seen[name] = value
    date, crs = seen.get("date"), seen.get("crs", "wgs84")
    if date is None or not _DATE.match(date) or crs not in ("wgs84", "gcj02"):
        return None
    try:
        dt.date.fromisoformat(date)
    except ValueError:
        return None
    return date, crs


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class CourierFastPath:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp, ctx: AppContext) -> None:
        self.app = app
        self.ctx = ctx
        self._gzipped: OrderedDict[str, bytes] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method, path = scope["method"], scope["path"]
            if method in ("GET", "HEAD") and path in _ROUTE_PATHS:
                if await self._route(scope, send):
                    return
            elif method == "PUT":
                match = _EVENT_PATH.match(path)
                if match is not None:
                    handed_on = await self._event(scope, receive, send, match)
                    if handed_on is None:
                        return
                    receive = handed_on
        await self.app(scope, receive, send)

    async def _caller(self, scope: Scope, headers: dict[bytes, bytes]) -> Principal | None:
        if self.ctx.settings.cors_origins and b"origin" in headers:
            return None
        auth = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        client = scope["client"][0] if scope.get("client") else "?"
        try:
            return await caller(self.ctx, key.strip(), client)
        except (OperationalError, SQLAlchemyTimeoutError, DataError):  # the app answers 503/422
            return None

    # ---------------------------------------------------------------- GET /courier/route
    async def _route(self, scope: Scope, send: Send) -> bool:
        headers = _headers(scope)
        if headers is None:
            return False
        query = _query(scope)
        if query is None:
            return False
        who = await self._caller(scope, headers)
        if who is None or who.role is not Role.COURIER:
            return False
        ident = ("me", who.network, who.courier, *query)
        hit = self.ctx.bus.get(ident)
        if hit is None:  # looked up once for every fetch asking at this moment, as the app does
            from dispatch_api.routers.courier import _resolve_mine  # they import this module

            try:
                hit = await self.ctx.bus.once(ident, _resolve_mine, self.ctx, who, *query)
            except (OperationalError, SQLAlchemyTimeoutError, DataError):
                return False  # the app answers (503/422)
        if len(hit) != 2:  # a problem: the app explains it
            return False
        etag, body = hit
        out = [(b"etag", etag.encode()), (b"cache-control", b"private, no-cache")]
        tags = headers.get(b"if-none-match")
        if tags is not None:
            sent = [t.strip().removeprefix("W/") for t in tags.decode("latin-1").split(",")]
            if "*" in sent or etag in sent:
                await _send(send, 304, out, b"")
                return True
        out.append((b"content-type", b"application/json"))
        if len(body) >= _GZIP_MIN_BYTES and b"gzip" in headers.get(b"accept-encoding", b""):
            body = self._gzip(etag, body)
            out += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
        out.append((b"content-length", str(len(body)).encode()))
        await _send(send, 200, out, b"" if scope["method"] == "HEAD" else body)
        return True

    def _gzip(self, etag: str, body: bytes) -> bytes:
        """The document compressed once per ETag (the documents never change under one)."""
        packed = self._gzipped.get(etag)
        if packed is None:
            packed = gzip.compress(body, compresslevel=6, mtime=0)
            self._gzipped[etag] = packed
            while len(self._gzipped) > self.ctx.settings.route_cache_size:
                self._gzipped.popitem(last=False)
        return packed

    # ------------------------------------------------------- PUT /plans/{id}/events/{id}
    async def _event(
        self, scope: Scope, receive: Receive, send: Send, match: re.Match[str]
    ) -> Receive | None:
        """Store the event and answer (None), or hand the request on: the receive to use."""
        headers = _headers(scope)
        if headers is None:
            return receive
        who = await self._caller(scope, headers)
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        try:
            length = int(headers.get(b"content-length", b"-1"))
        except ValueError:
            length = -1
        plan_id = int(match.group(1))
        if (
            who is None
            or who.role not in _EVENT_ROLES
            or media != b"application/json"
            or not 0 < length <= self.ctx.settings.max_body_bytes
            or plan_id > 2**31 - 1
        ):
            return receive
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body"))
        body = b"".join(chunks)
        try:
            event = EventCreate.model_validate(json.loads(body))
        except (ValueError, ValidationError):  # the app names the field
            return _replay(body, receive)
        from dispatch_api.routers.courier import _ingest  # the routes import this module's app

        try:
            (result,) = await run_in_threadpool(
                _ingest, self.ctx, plan_id, who, [(match.group(2), event)]
            )
        except Problem as exc:
            await _problem(scope, receive, send, exc)
            return None
        except (OperationalError, SQLAlchemyTimeoutError) as exc:
            log.warning("database unavailable on %s: %s", scope["path"], exc)
            await _problem(
                scope,
                receive,
                send,
                Problem(
                    503,
                    "the database is busy or unavailable; retry shortly",
                    code="unavailable",
                    headers={"Retry-After": "1"},
                ),
            )
            return None
        except DataError:
            await _problem(
                scope,
                receive,
                send,
                Problem(
                    422,
                    "a value does not fit the database (too long, too large, or a NUL character)",
                    code="invalid-input",
                ),
            )
            return None
        if result.status in ("rejected", "forbidden", "conflict"):
            problem = Problem(
                result.http_status, result.detail or result.status, field=result.field or ""
            )
            await _problem(scope, receive, send, problem)
            return None
        payload = result.model_dump_json().encode()
        out = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await _send(send, result.http_status, out, payload)
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then whatever the client sends next."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def _problem(scope: Scope, receive: Receive, send: Send, exc: Problem) -> None:
    response = problem_response(
        exc.status,
        exc.detail,
        instance=scope["path"],
        field=exc.field,
        code=exc.code,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )
    await response(scope, receive, send)
