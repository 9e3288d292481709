"""What each API process remembers, and how every process learns that it changed.

A process keeps small answers in memory — who a key is, which vehicle a courier drives,
which plan is published for a day, and the resolved route document of a courier's
``/courier/route`` — so that the hot path of a courier's route fetch asks the database
nothing. Every write that could change one of them calls :func:`announce` in its
transaction: on PostgreSQL that is ``pg_notify('countyroute_cache', …)``, delivered to every
process (and host) listening on the database exactly when the transaction commits; each
process's :class:`CacheBus` listener then drops what it remembers. On SQLite (one process)
the writer drops it itself (:meth:`CacheBus.changed`).

The route documents themselves are keyed by a digest of everything they show
(:mod:`dispatch_api.routers.courier`), so a change makes only the documents it touches new;
the others are found again under the same key (and ETag) once the lookups are redone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

__all__ = ["CHANNEL", "CacheBus", "announce"]

CHANNEL = "countyroute_cache"
log = logging.getLogger("countyroute.cache")


def announce(session: Session, what: str = "") -> None:
    """Tell every process, when the caller's transaction commits, that cached answers may be
    stale (PostgreSQL); nothing to do on SQLite (the writer is the only process)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:c, :w)"), {"c": CHANNEL, "w": what[:200]})


class CacheBus:
    """This process's remembered answers and their invalidation (see the module docstring).

    ``resolved`` maps a request's identity to its answer; ``generation`` counts
    invalidations, so an answer computed while one arrived is not stored (it might be
    stale)."""

    def __init__(self, engine: Engine, on_change: list[Any] | None = None) -> None:
        self.engine = engine
        self.generation = 0
        self.resolved: dict[Any, Any] = {}
        self._on_change = list(on_change or [])
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._inflight: dict[Any, asyncio.Future[Any]] = {}

    def on_change(self, callback: Any) -> None:
        self._on_change.append(callback)

    def changed(self) -> None:
        """Drop everything remembered (a write here, or a notification from elsewhere)."""
        with self._lock:
            self.generation += 1
            self.resolved.clear()
        for callback in self._on_change:
            callback()

    def get(self, key: Any) -> Any | None:
        return self.resolved.get(key)

    def put(self, key: Any, value: Any, generation: int) -> None:
        """Remember ``value`` unless an invalidation came since ``generation`` was read."""
        with self._lock:
            if generation == self.generation:
                if len(self.resolved) > 50_000:
                    self.resolved.clear()
                self.resolved[key] = value

    async def once(self, key: Any, fn: Any, *args: Any, remember: bool = True) -> Any:
        """``fn(*args)`` in the thread pool, once for every request that asks for ``key``
        at the same moment (the rest wait for its answer: no stampede on the database when
        a county's couriers all open their app at 07:00); remembered when ``remember``."""
        if remember:
            hit = self.resolved.get(key)
            if hit is not None:
                return hit
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._inflight[key] = future
        generation = self.generation
        try:
            value = await run_in_threadpool(fn, *args)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            self._inflight.pop(key, None)
        if remember:
            self.put(key, value, generation)
        future.set_result(value)
        return value

    # -------------------------------------------------------------- the PostgreSQL listener
    def start(self) -> None:
        if self.engine.dialect.name != "postgresql":
            return
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._listen, args=(ready,), name="countyroute-cache-bus", daemon=True
        )
        self._thread.start()
        ready.wait(timeout=10)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _listen(self, ready: threading.Event) -> None:
        import psycopg

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.changed()  # whatever happened while not listening
                    ready.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=None):
                            self.changed()
                            if self._stop.is_set():
                                break
            except Exception:  # the database restarted: forget everything, listen again
                log.exception("cache bus: listening again")
                self.changed()
                ready.set()
                time.sleep(1.0)
