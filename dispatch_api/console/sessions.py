"""Console sessions: an API key exchanged once for a random session token.

The store lives in the server's memory (one server per database): a restart signs everybody
out, which is the safe side. The key itself must be kept to act for the caller on the public
API (only its hash is in the database), so it never leaves this process: the browser holds
the session token in an HttpOnly cookie and a separate CSRF token it sends back as a header on
every state-changing request. Units: seconds (``time.monotonic``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from dispatch_api.security import Principal

__all__ = ["ConsoleSession", "SessionStore"]


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """One signed-in browser."""

    token: str
    csrf: str
    key: str
    who: Principal
    expires: float
    """Idle expiry (monotonic seconds); every request moves it on."""
    hard_expires: float
    """Absolute expiry: sign in again after this, however busy."""


class SessionStore:
    """Thread-safe in-memory sessions with idle and absolute expiry."""

    def __init__(
        self,
        idle_s: float = 8 * 3600.0,
        max_s: float = 16 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_s = idle_s
        self.max_s = max_s
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[str, ConsoleSession] = {}

    def create(self, key: str, who: Principal) -> ConsoleSession:
        now = self._clock()
        s = ConsoleSession(
            token=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            key=key,
            who=who,
            expires=now + self.idle_s,
            hard_expires=now + self.max_s,
        )
        with self._lock:
            self._drop_expired(now)
            self._items[s.token] = s
        return s

    def get(self, token: str) -> ConsoleSession | None:
        """The live session of this token (its idle expiry moved on), else None."""
        now = self._clock()
        with self._lock:
            s = self._items.get(token)
            if s is None:
                return None
            if now >= s.expires or now >= s.hard_expires:
                del self._items[token]
                return None
            s = replace(s, expires=min(now + self.idle_s, s.hard_expires))
            self._items[token] = s
            return s

    def delete(self, token: str) -> None:
        with self._lock:
            self._items.pop(token, None)

    def _drop_expired(self, now: float) -> None:
        for token in [t for t, s in self._items.items() if now >= s.expires]:
            del self._items[token]
