"""Console sessions: an API key exchanged once for a random session token.

A session remembers the key's digest (the HMAC under the server's pepper, as ``api_keys``
stores it), never the key: each request of the session is authenticated from that digest
exactly as a request with the key would be (revocation and expiry included). The browser
holds the session token in an HttpOnly cookie and a separate CSRF token it sends back as a
header on every state-changing request.

:class:`DatabaseSessionStore` (what the app uses) keeps sessions in the ``console_sessions``
table, so every API process (``serve --processes N``) and host knows every session; only a
SHA-256 of the token is stored. :class:`SessionStore` keeps them in one process's memory
(tests of the expiry rules). Units: seconds (``time.time`` in the database, shared between
processes; any clock in memory).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from hashlib import sha256

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dispatch_api.db import ConsoleSessionRow
from dispatch_api.security import Principal

__all__ = ["ConsoleSession", "DatabaseSessionStore", "SessionStore"]


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """One signed-in browser."""

    token: str
    csrf: str
    key: str
    """The key's digest (:func:`~dispatch_api.security.hash_key`), not the key."""
    who: Principal | None
    expires: float
    """Idle expiry (monotonic seconds); every request moves it on."""
    hard_expires: float
    """Absolute expiry: sign in again after this, however busy."""


def _new_session(
    key: str, who: Principal | None, now: float, idle_s: float, max_s: float
) -> ConsoleSession:
    """A session with fresh random token and CSRF token, expiring after ``idle_s`` idle and
    ``max_s`` at the latest (both stores make theirs so)."""
    return ConsoleSession(
        token=secrets.token_urlsafe(32),
        csrf=secrets.token_urlsafe(32),
        key=key,
        who=who,
        expires=now + idle_s,
        hard_expires=now + max_s,
    )


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

    def create(self, key: str, who: Principal | None = None) -> ConsoleSession:
        now = self._clock()
        s = _new_session(key, who, now, self.idle_s, self.max_s)
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


class DatabaseSessionStore:
    """Sessions in the ``console_sessions`` table (every process sees every session), with
    the same idle and absolute expiry as :class:`SessionStore`. The idle expiry is written
    when it moved by more than a tenth of ``idle_s`` (at most a minute), not on every
    request."""

    def __init__(
        self,
        engine: Engine,
        idle_s: float = 8 * 3600.0,
        max_s: float = 16 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.idle_s = idle_s
        self.max_s = max_s
        self._clock = clock
        self._write_every_s = min(60.0, idle_s / 10)

    @staticmethod
    def _digest(token: str) -> str:
        return sha256(token.encode("utf-8")).hexdigest()

    def create(self, key: str, who: Principal | None = None) -> ConsoleSession:
        now = self._clock()
        s = _new_session(key, who, now, self.idle_s, self.max_s)
        with Session(self.engine) as db, db.begin():
            db.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at <= now))
            db.add(
                ConsoleSessionRow(
                    token_hash=self._digest(s.token),
                    csrf=s.csrf,
                    key_hash=key,
                    expires_at=s.expires,
                    hard_expires_at=s.hard_expires,
                )
            )
        return s

    def get(self, token: str) -> ConsoleSession | None:
        """The live session of this token (its idle expiry moved on), else None."""
        now = self._clock()
        digest = self._digest(token)
        with Session(self.engine) as db:
            row = db.scalars(
                select(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == digest)
            ).one_or_none()
            if row is None:
                return None
            if now >= row.expires_at or now >= row.hard_expires_at:
                db.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == digest))
                db.commit()
                return None
            expires = min(now + self.idle_s, row.hard_expires_at)
            if expires - row.expires_at >= self._write_every_s or expires == row.hard_expires_at:
                db.execute(
                    update(ConsoleSessionRow)
                    .where(ConsoleSessionRow.token_hash == digest)
                    .values(expires_at=expires)
                )
                db.commit()
            else:
                expires = row.expires_at
            return ConsoleSession(
                token=token,
                csrf=row.csrf,
                key=row.key_hash,
                who=None,
                expires=expires,
                hard_expires=row.hard_expires_at,
            )

    def delete(self, token: str) -> None:
        with Session(self.engine) as db, db.begin():
            db.execute(
                delete(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == self._digest(token))
            )
