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

With a Redis URL (``COUNTYROUTE_REDIS_URL``) the notifications go through Redis instead
(:class:`RedisCacheBus`): :func:`announce` then queues the message on the session and it is
published on the channel once the transaction has ended (after the commit, so a process that
hears it reads the new rows; a rollback publishes too, which only makes processes look again).
The bus also carries the failed-authentication blocks of :mod:`dispatch_api.throttle`
(messages ``block <seconds since the epoch> <client address>``), which drop nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

__all__ = ["CHANNEL", "WARM", "CacheBus", "RedisCacheBus", "announce", "make_bus"]

CHANNEL = "countyroute_cache"
BLOCK = "block "
"""Prefix of the messages that carry a failed-authentication block (not an invalidation)."""
WARM = "warm"
"""The message that asks every process to remember keys and routes ahead of the requests
(:mod:`dispatch_api.warm`; sent when a publication's documents are pre-rendered); it drops
nothing."""
REMEMBERED_AT_MOST = 50_000
"""Answers a process remembers at most (past it, it forgets them all and starts again)."""
log = logging.getLogger("countyroute.cache")

_REDIS_BUSES: weakref.WeakKeyDictionary[Engine, RedisCacheBus] = weakref.WeakKeyDictionary()
_PENDING = "countyroute.cachebus.pending"


def announce(session: Session, what: str = "") -> None:
    """Tell every process, when the caller's transaction commits, that cached answers may be
    stale: ``pg_notify`` in the transaction on PostgreSQL, a Redis publication after it when
    the app has a Redis bus; nothing to do on SQLite (the writer is the only process)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    redis_bus = _REDIS_BUSES.get(engine)
    if redis_bus is not None:
        pending: list[str] | None = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = []

            def _publish(s: Session, _transaction: Any = None) -> None:
                messages = s.info.pop(_PENDING, None)
                if messages:
                    redis_bus.publish(*messages)

            event.listen(session, "after_transaction_end", _publish, once=True)
        pending.append(what[:200])
    elif engine.dialect.name == "postgresql":
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
        self.on_block: Callable[[str, float], None] | None = None
        """Called with (client address, blocked until: seconds since the epoch) for a
        failed-authentication block heard on the bus."""
        self.on_warm: Callable[[], None] | None = None
        """Called for a :data:`WARM` message heard on the bus."""

    def on_change(self, callback: Any) -> None:
        self._on_change.append(callback)

    def heard(self, message: str) -> None:
        """A message from another process (or this one): a block, else an invalidation."""
        if message.startswith(BLOCK):
            until, _, client = message[len(BLOCK) :].partition(" ")
            if self.on_block is not None:
                try:
                    self.on_block(client, float(until))
                except ValueError:
                    log.warning("cache bus: a malformed block message %r", message)
            return
        if message == WARM:
            if self.on_warm is not None:
                self.on_warm()
            return
        self.changed()

    def broadcast(self, message: str) -> None:
        """Send ``message`` to every process now (outside any transaction); SQLite: to this
        process only."""
        if self.engine.dialect.name != "postgresql":
            self.heard(message)
            return
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_notify(:c, :w)"), {"c": CHANNEL, "w": message[:1000]})
            conn.commit()

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
        self.put_many({key: value}, generation)

    def put_many(self, values: dict[Any, Any], generation: int) -> int:
        """Remember every one of ``values`` unless an invalidation came since ``generation``
        was read; how many were remembered."""
        with self._lock:
            if generation != self.generation:
                return 0
            if len(self.resolved) + len(values) > REMEMBERED_AT_MOST:
                self.resolved.clear()
            self.resolved.update(values)
            return len(values)

    def if_current(self, generation: int, fn: Callable[[], None]) -> bool:
        """Run ``fn`` unless an invalidation came since ``generation`` was read (under the
        lock an invalidation takes first: nothing read before it is stored after it)."""
        with self._lock:
            if generation != self.generation:
                return False
            fn()
            return True

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
                        for note in conn.notifies(timeout=1.0, stop_after=None):
                            self.heard(note.payload)
                            if self._stop.is_set():
                                break
            except Exception:  # the database restarted: forget everything, listen again
                log.exception("cache bus: listening again")
                self.changed()
                ready.set()
                time.sleep(1.0)


class RedisCacheBus(CacheBus):
    """The cache bus over Redis publish/subscribe (``COUNTYROUTE_REDIS_URL``), for any
    database: :func:`announce` publishes after the writer's transaction ends, and a listener
    thread per process hears every publication on :data:`CHANNEL`."""

    def __init__(self, engine: Engine, url: str, on_change: list[Any] | None = None) -> None:
        import redis

        super().__init__(engine, on_change)
        self.url = url
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        _REDIS_BUSES[engine] = self

    def publish(self, *messages: str) -> None:
        """Publish ``messages`` on the channel. When Redis cannot be reached the failure is
        logged and this process forgets what it remembers; the others keep theirs until
        their listener reconnects (it forgets everything then)."""
        try:
            pipe = self._client.pipeline(transaction=False)
            for message in messages:
                pipe.publish(CHANNEL, message)
            pipe.execute()
        except Exception:
            log.exception(
                "cache bus: publishing on Redis failed; other processes may serve "
                "what they remember until their next invalidation"
            )
            self.changed()

    def broadcast(self, message: str) -> None:
        self.publish(message)

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._listen_redis, args=(ready,), name="countyroute-cache-bus", daemon=True
        )
        self._thread.start()
        ready.wait(timeout=10)

    def stop(self) -> None:
        super().stop()
        self._client.close()
        _REDIS_BUSES.pop(self.engine, None)

    def _listen_redis(self, ready: threading.Event) -> None:
        import redis

        while not self._stop.is_set():
            try:
                client = redis.Redis.from_url(self.url, socket_connect_timeout=5)
                pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(CHANNEL)
                pubsub.get_message(timeout=5.0)  # the subscription's confirmation
                self.changed()  # whatever happened while not listening
                ready.set()
                try:
                    while not self._stop.is_set():
                        message = pubsub.get_message(timeout=1.0)
                        if message is not None and message.get("type") == "message":
                            data = message["data"]
                            self.heard(data.decode() if isinstance(data, bytes) else str(data))
                finally:
                    pubsub.close()
                    client.close()
            except Exception:  # Redis restarted or is unreachable: forget everything, retry
                log.exception("cache bus: listening on Redis again")
                self.changed()
                ready.set()
                time.sleep(1.0)


def make_bus(engine: Engine, redis_url: str = "", on_change: list[Any] | None = None) -> CacheBus:
    """The bus for an app: Redis when a URL is given, else PostgreSQL's LISTEN/NOTIFY (or, on
    SQLite, the writer's own invalidation)."""
    if redis_url:
        return RedisCacheBus(engine, redis_url, on_change)
    return CacheBus(engine, on_change)
