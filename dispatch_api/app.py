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

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch_api.console import install_console
from dispatch_api.db import make_engine, migrate, sessions
from dispatch_api.deps import AppContext, LruCache
from dispatch_api.jobs import InlineJobRunner, JobRunner, ProcessJobRunner
from dispatch_api.problems import MEDIA_TYPE, install_handlers
from dispatch_api.routers import (
    console_api,
    courier,
    keys,
    networks,
    orders,
    planner,
    plans,
    trace,
)
from dispatch_api.settings import Settings
from dispatch_api.store import ScenarioCache

__all__ = ["create_app"]

_UPLOADS = re.compile(r"^/networks/(upload|[^/]+/orders)$")


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
    engine = make_engine(settings.database_url)
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
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ctx.runner.start()
        try:
            yield
        finally:
            ctx.runner.stop()

    app = FastAPI(
        title="countyroute dispatch API",
        version="1",
        description=(
            "Dispatchers and courier apps reach the countyroute engine here. "
            "Authenticate with `Authorization: Bearer <API key>`; errors are RFC 9457 problem "
            "details. See docs/api.md."
        ),
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc: the console serves them with local assets
        redoc_url=None,
    )
    app.state.ctx = ctx
    install_handlers(app)
    # console_api first: its /plans/{id}/edits/check must win over any /plans/{id}/… pattern
    for module in (console_api, keys, networks, orders, plans, planner, courier, trace):
        app.include_router(module.router)
    install_console(app)

    @app.get("/health", tags=["health"])
    def health() -> dict[str, Any]:
        """Liveness: answers without a key."""
        return {"status": "ok"}

    app.add_middleware(BodyLimit, settings=settings)
    return app
