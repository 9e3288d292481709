"""Failed authentications per client address, counted once for every API process.

A client address that fails ``per_minute`` authentications within a minute is answered 429
(with ``Retry-After``) by every process until that minute is over. The failures are counted
where every process sees them — a row per address in the database (``auth_failures``), or a
Redis counter with an expiry when the app has a Redis URL — in fixed windows of
``window_s`` seconds that start at an address's first failure. When a failure reaches the
limit, the process that counted it tells the others through the cache bus (a ``block``
message, :mod:`dispatch_api.cachebus`), so the check on every request reads only this
process's memory. Failures are rare in normal operation, so counting them costs a database
or Redis round trip only then. Units: seconds since the epoch (``time.time``), shared
between processes and hosts.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

__all__ = ["AuthThrottle", "Counter", "database_counter", "memory_counter", "redis_counter"]

Counter = Callable[[str, float, float], tuple[int, float]]
"""Counts one failure of ``client`` at ``now`` in windows of ``window_s``: returns the
failures in the current window and the time the window ends."""


def memory_counter() -> Counter:
    """Failures counted in this process only (tests of the throttle's rules)."""
    lock = threading.Lock()
    windows: dict[str, tuple[float, int]] = {}

    def count(client: str, now: float, window_s: float) -> tuple[int, float]:
        with lock:
            start, n = windows.get(client, (now, 0))
            if start <= now - window_s:
                start, n = now, 0
            windows[client] = (start, n + 1)
            return n + 1, start + window_s

    return count


_UPSERT = text(
    """
INSERT INTO auth_failures (client, window_start, failures) VALUES (:client, :now, 1)
ON CONFLICT (client) DO UPDATE SET
    failures = CASE WHEN auth_failures.window_start <= :stale THEN 1
                    ELSE auth_failures.failures + 1 END,
    window_start = CASE WHEN auth_failures.window_start <= :stale THEN :now
                        ELSE auth_failures.window_start END
RETURNING failures, window_start
"""
)


_PRUNE = text("DELETE FROM auth_failures WHERE window_start <= :stale AND client <> :client")
_PRUNE_SKIP_LOCKED = text(
    """
DELETE FROM auth_failures WHERE client IN (
    SELECT client FROM auth_failures WHERE window_start <= :stale AND client <> :client
    FOR UPDATE SKIP LOCKED)
"""
)
"""The rows of windows that have ended (other addresses': the upsert restarts this one's).
On PostgreSQL rows another process is deleting are skipped: no waiting, no deadlock."""


def database_counter(engine: Engine) -> Counter:
    """Failures counted in the ``auth_failures`` table (one upsert per failure; PostgreSQL
    and SQLite alike). Each failure also deletes the rows of windows that have ended, so the
    table holds only the addresses that failed in the last window (a scan of many addresses
    would otherwise leave a row for each of them forever)."""
    prune = _PRUNE_SKIP_LOCKED if engine.dialect.name == "postgresql" else _PRUNE

    def count(client: str, now: float, window_s: float) -> tuple[int, float]:
        with engine.begin() as conn:
            conn.execute(prune, {"stale": now - window_s, "client": client[:100]})
            failures, start = conn.execute(
                _UPSERT, {"client": client[:100], "now": now, "stale": now - window_s}
            ).one()
        return int(failures), float(start) + window_s

    return count


def redis_counter(url: str) -> Counter:
    """Failures counted in Redis (``INCR`` of a key that expires with its window)."""
    import redis

    client_ = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def count(client: str, now: float, window_s: float) -> tuple[int, float]:
        key = f"countyroute:auth-failures:{client}"
        pipe = client_.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, math.ceil(window_s), nx=True)
        pipe.pttl(key)
        failures, _, ttl_ms = pipe.execute()
        return int(failures), now + max(int(ttl_ms), 0) / 1000.0

    return count


class AuthThrottle:
    """Which client addresses are blocked (this process's memory of the shared count).

    Parameters
    ----------
    per_minute
        Failures in one window that block an address until the window ends.
    counter
        Where failures are counted (:func:`database_counter`, :func:`redis_counter`;
        :func:`memory_counter` by default).
    broadcast
        Tells every process about a block (the cache bus); None: this process only.
    """

    def __init__(
        self,
        per_minute: int,
        window_s: float = 60.0,
        *,
        counter: Counter | None = None,
        broadcast: Callable[[str], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self.counter = counter or memory_counter()
        self.broadcast = broadcast
        self._clock = clock
        self._lock = threading.Lock()
        self._blocked: dict[str, float] = {}

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or None when it may now (memory only)."""
        until = self._blocked.get(client)
        if until is None:
            return None
        now = self._clock()
        if until <= now:
            with self._lock:
                if self._blocked.get(client) == until:
                    del self._blocked[client]
            return None
        return max(1, math.ceil(until - now))

    def block(self, client: str, until: float) -> None:
        """Block ``client`` until ``until`` (a block heard from another process, too)."""
        with self._lock:
            if len(self._blocked) > 100_000:
                self._blocked.clear()
            self._blocked[client] = max(until, self._blocked.get(client, 0.0))

    def failed(self, client: str) -> None:
        """Count a failed authentication of ``client`` (blocking, a round trip: call it
        from a worker thread)."""
        failures, until = self.counter(client, self._clock(), self.window_s)
        if failures < self.per_minute:
            return
        self.block(client, until)
        if self.broadcast is not None:
            self.broadcast(f"block {until!r} {client}")
