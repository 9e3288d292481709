"""Typed dependencies, all in one place: the app context, a database session, the caller.

Every router takes what it needs through these ``Annotated`` aliases, so a test can swap the
context (``create_app(settings, runner=...)``) without touching a route.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from dispatch_api.db import ApiKey, now_iso
from dispatch_api.jobs import JobRunner
from dispatch_api.problems import Problem
from dispatch_api.security import Principal, Role, hash_key, legacy_hash, principal_of
from dispatch_api.settings import Settings
from dispatch_api.store import ScenarioCache
from dispatch_api.throttle import AuthThrottle

__all__ = [
    "SESSION_KEY",
    "AdminKey",
    "AnyKey",
    "AppContext",
    "Ctx",
    "DbSession",
    "DispatchKey",
    "EventKey",
    "PlannerKey",
    "StaffKey",
    "caller",
    "principal_by_digest",
    "remember_keys",
    "visible_network",
]

log = logging.getLogger("countyroute.api")

_KEY_TTL_S = 5.0
"""How long an unknown key is remembered as unknown (a key made by ``countyroute apikey
create``, which tells no process, works within this)."""
_KEYS_AT_MOST = 10_000
"""Keys a process remembers at most (past it, it forgets them all and starts again)."""
_KEY_KEEP_S = 90.0
"""How long a key that opens the door is remembered. Every change to keys (a revocation, a
rotation) is announced on the cache bus and every process forgets every key at once, so this
is only the bound for a change the bus did not carry; the warmer (:mod:`dispatch_api.warm`)
remembers every courier key again every 30 s, so that at 07:00 no process has forgotten them."""


class LruCache:
    """A small thread-safe LRU map (courier route documents)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass
class AppContext:
    """What one app instance owns: settings, database, caches and the job runner."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    scenarios: ScenarioCache
    runner: JobRunner
    routes: LruCache
    pepper: bytes = b""
    keys: dict[str, tuple[float, Principal | None]] = field(default_factory=dict)
    touched: dict[int, float] = field(default_factory=dict)
    """When (``time.monotonic``) this process last had a key's ``last_used_at`` written."""
    throttle: AuthThrottle = field(default_factory=lambda: AuthThrottle(20))
    bus: Any = None
    """What this process remembers and its invalidation (:class:`~dispatch_api.cachebus.CacheBus`)."""
    warmer: Any = None
    """The thread that remembers keys and routes ahead of the requests
    (:class:`~dispatch_api.warm.Warmer`)."""
    _touches: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="countyroute-touch")
    )

    def touch(self, key_id: int, at: str) -> None:
        """Write a key's ``last_used_at`` after the request that used it (one worker thread:
        the write is off the request's path and the writes of a burst queue up in order)."""
        try:
            self._touches.submit(_touch, self.engine, key_id, at)
        except RuntimeError:  # the app stopped (its lifespan ended): write it now
            _touch(self.engine, key_id, at)

    def touches_done(self) -> None:
        """Wait until the ``last_used_at`` writes asked for so far are written."""
        with contextlib.suppress(RuntimeError):  # stopped: nothing is waiting
            self._touches.submit(lambda: None).result()

    def stop_touches(self) -> None:
        """Write what is asked for and stop the writer thread (the app's lifespan ends)."""
        self._touches.shutdown(wait=True)


def _touch(engine: Engine, key_id: int, at: str) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(
                update(ApiKey)
                .where(
                    ApiKey.id == key_id,
                    (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < at),
                )
                .values(last_used_at=at)
            )
    except Exception:  # the time a key was last used is worth no failed request
        log.warning("could not record when key %s was last used", key_id, exc_info=True)


async def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def get_session(ctx: Ctx) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cr_…`")

_LAST_USED_EVERY_S = 60.0
"""``last_used_at`` is written at most this often per key (not on every request)."""


def _lookup(ctx: AppContext, key: str | None, digest: str) -> Principal | None:
    """The caller of a key (by its digest; ``key``: to find a key made before the pepper).
    ``last_used_at`` is written by a worker thread after the answer (:func:`_touch`)."""
    with ctx.sessions() as s:
        if ctx.engine.dialect.name == "postgresql":  # a read: no transaction round trips
            s.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        row = s.scalars(select(ApiKey).where(ApiKey.hash == digest)).one_or_none()
        if row is None and key is not None:  # a key made before the pepper: re-hashed
            row = s.scalars(
                select(ApiKey).where(
                    ApiKey.hash == legacy_hash(key), ApiKey.hash_scheme == "sha256"
                )
            ).one_or_none()
            if row is not None:
                s.execute(
                    update(ApiKey)
                    .where(ApiKey.id == row.id)
                    .values(hash=digest, hash_scheme="hmac")
                )
                s.commit()
        if row is None or row.revoked:
            return None
        now = dt.datetime.now(dt.UTC)
        last = dt.datetime.fromisoformat(row.last_used_at) if row.last_used_at else None
        if last is None or (now - last).total_seconds() > _LAST_USED_EVERY_S:
            ctx.touch(row.id, now.isoformat(timespec="microseconds"))
            ctx.touched[row.id] = time.monotonic()
        else:
            _touched_at(ctx, row)
        return principal_of(row)


def _touched_at(ctx: AppContext, row: ApiKey) -> None:
    """Note when ``row``'s ``last_used_at`` was written (as this process's monotonic time), so
    that a remembered key has it written again once :data:`_LAST_USED_EVERY_S` have passed."""
    if row.last_used_at is None:
        ctx.touched.pop(row.id, None)
        return
    age = (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(row.last_used_at)).total_seconds()
    ctx.touched[row.id] = time.monotonic() - max(0.0, age)


def remember_keys(ctx: AppContext, rows: list[ApiKey], generation: int) -> int:
    """Remember these keys (the warmer's, read at the bus's ``generation``): none when an
    invalidation came since (a revoked key must not come back); how many were remembered."""
    now = time.monotonic()
    found = {
        row.hash: (now + _KEY_KEEP_S, principal_of(row))
        for row in rows
        if not row.revoked and row.hash_scheme == "hmac"
    }

    def put() -> None:
        if len(ctx.keys) + len(found) > _KEYS_AT_MOST:
            ctx.keys.clear()
        ctx.keys.update(found)
        for row in rows:
            _touched_at(ctx, row)

    return len(found) if ctx.bus.if_current(generation, put) else 0


_MISS = object()


def _remembered(ctx: AppContext, digest: str) -> Any:
    """The remembered caller of a key digest (None: unknown or revoked), else ``_MISS``. A
    remembered key that is used has its ``last_used_at`` written once a minute, as a
    looked-up one does."""
    hit = ctx.keys.get(digest)
    if hit is None:
        return _MISS
    now = time.monotonic()
    if hit[0] <= now:
        return _MISS
    who = hit[1]
    if who is not None and now - ctx.touched.get(who.key_id, -_LAST_USED_EVERY_S) > (
        _LAST_USED_EVERY_S
    ):
        ctx.touched[who.key_id] = now
        ctx.touch(who.key_id, dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"))
    return who


def _remember(ctx: AppContext, digest: str, who: Principal | None, generation: int) -> None:
    """Remember a looked-up key unless the keys changed since ``generation`` (the look-up
    may have read a key that was revoked meanwhile)."""

    def put() -> None:
        if len(ctx.keys) > _KEYS_AT_MOST:
            ctx.keys.clear()
        keep = _KEY_KEEP_S if who is not None else _KEY_TTL_S
        ctx.keys[digest] = (time.monotonic() + keep, who)

    ctx.bus.if_current(generation, put)


def _expired(who: Principal | None) -> Principal | None:
    if who is not None and who.expires_at is not None and who.expires_at <= now_iso():
        return None
    return who


def _principal(ctx: AppContext, key: str) -> Principal | None:
    return principal_by_digest(ctx, hash_key(key, ctx.pepper), key)


async def caller(ctx: AppContext, key: str, client: str) -> Principal | None:
    """The caller of a key, as :func:`current_key` finds it: this process's memory, else one
    database look-up shared by every request that asks for the key at the same moment. None
    for a throttled address and for a key that is unknown, expired or revoked: only
    :func:`current_key` answers those (and counts the failure).

    The fast path (:mod:`dispatch_api.fastpath`) asks this, so that at 07:00 — keys this
    process has not seen in the last seconds — a county's first fetches wait for that one
    look-up instead of each taking the whole framework's path."""
    if ctx.throttle.retry_after(client) is not None:
        return None
    digest = hash_key(key, ctx.pepper)
    found = _remembered(ctx, digest)
    if found is _MISS:
        generation = ctx.bus.generation
        found = await ctx.bus.once(("key", digest), _lookup, ctx, key, digest, remember=False)
        _remember(ctx, digest, found, generation)
    return _expired(found)


SESSION_KEY = "countyroute.session_key"
"""ASGI scope state: the key digest of a console session (:mod:`dispatch_api.console`),
set by the session middleware, never by a client."""


def principal_by_digest(ctx: AppContext, digest: str, key: str | None = None) -> Principal | None:
    """The caller of a key known by its digest (a console session; ``key``: the key itself,
    when the caller has it), checked as a key is."""
    who = _remembered(ctx, digest)
    if who is _MISS:
        generation = ctx.bus.generation
        who = _lookup(ctx, key, digest)
        _remember(ctx, digest, who, generation)
    return _expired(who)


async def current_key(
    request: Request,
    ctx: Ctx,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer …``; 401 without a valid key, 429 (with
    ``Retry-After``) for an address that failed too often in the last minute. A key is
    remembered until keys change (every process forgets them at once: the cache bus; at most
    90 s when the bus missed a change), an unknown key for 5 s."""
    challenge = {"WWW-Authenticate": "Bearer"}
    client = request.client.host if request.client else "?"
    wait = ctx.throttle.retry_after(client)
    if wait is not None:
        raise Problem(
            429,
            f"too many failed authentications from {client}; retry in {wait} s",
            headers={"Retry-After": str(wait)},
            field="authorization",
        )
    session_digest = request.scope.get("state", {}).get(SESSION_KEY)
    if credentials is not None and credentials.scheme.lower() == "bearer":
        key: str | None = credentials.credentials
        digest = hash_key(credentials.credentials, ctx.pepper)
    elif credentials is None and session_digest:
        key, digest = None, str(session_digest)
    else:
        raise Problem(401, "an API key is required (Authorization: Bearer …)", headers=challenge)
    found = _remembered(ctx, digest)
    if found is _MISS:
        generation = ctx.bus.generation
        found = await ctx.bus.once(("key", digest), _lookup, ctx, key, digest, remember=False)
        _remember(ctx, digest, found, generation)
    who = _expired(found)
    if who is None:
        await run_in_threadpool(ctx.throttle.failed, client)
        raise Problem(401, "unknown, expired or revoked API key", headers=challenge)
    return who


def require(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets only ``roles`` through (403 for the others)."""
    allowed = frozenset(roles)

    async def check(who: Annotated[Principal, Depends(current_key)]) -> Principal:
        if who.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Problem(403, f"a {who.role.value} key may not do this (needs {names})")
        return who

    return check


def visible_network(who: Principal, network: str) -> None:
    """404 — as for a network that does not exist — when the key may not see ``network``."""
    if not who.sees(network):
        raise Problem(404, f"no network {network!r}", field="network")


class _OfNetwork(Protocol):
    @property
    def network(self) -> str: ...


PlanLike = TypeVar("PlanLike", bound=_OfNetwork)


def visible_plan(who: Principal, row: PlanLike | None, plan_id: int) -> PlanLike:
    """The plan (a ``PlanRow`` or a row of some of its columns) when it exists and the key may
    see its network; else 404, the same for both, so another network's plans are not there."""
    if row is None or not who.sees(row.network):
        raise Problem(404, f"no plan {plan_id}", field="plan_id")
    return row


AnyKey = Annotated[Principal, Depends(current_key)]
AdminKey = Annotated[Principal, Depends(require(Role.ADMIN))]
StaffKey = Annotated[Principal, Depends(require(Role.ADMIN, Role.DISPATCHER, Role.PLANNER))]
"""Admins, dispatchers and planners: everything but keys, publishing and repair."""
PlannerKey = Annotated[Principal, Depends(require(Role.ADMIN, Role.PLANNER))]
"""Admins and planners: the planner's jobs (placement, what-if simulation)."""
DispatchKey = Annotated[Principal, Depends(require(Role.ADMIN, Role.DISPATCHER))]
"""Admins and dispatchers: publish, repair, audit, reassigning couriers."""
EventKey = Annotated[Principal, Depends(require(Role.ADMIN, Role.DISPATCHER, Role.COURIER))]
"""Who may report stop events (couriers only on their own routes)."""
RouteReader = Annotated[
    Principal, Depends(require(Role.ADMIN, Role.DISPATCHER, Role.PLANNER, Role.COURIER))
]
