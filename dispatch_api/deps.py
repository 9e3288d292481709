"""Typed dependencies, all in one place: the app context, a database session, the caller.

Every router takes what it needs through these ``Annotated`` aliases, so a test can swap the
context (``create_app(settings, runner=...)``) without touching a route.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from dispatch_api.db import ApiKey
from dispatch_api.jobs import JobRunner
from dispatch_api.problems import Problem
from dispatch_api.security import Principal, Role, hash_key
from dispatch_api.settings import Settings
from dispatch_api.store import ScenarioCache

__all__ = [
    "AdminKey",
    "AnyKey",
    "AppContext",
    "Ctx",
    "DbSession",
    "DispatchKey",
    "EventKey",
    "PlannerKey",
    "StaffKey",
]

_KEY_TTL_S = 5.0
"""How long an authenticated key is remembered (a revoked key stops working within this)."""


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
    keys: dict[str, tuple[float, Principal | None]] = field(default_factory=dict)


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def get_session(ctx: Ctx) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cr_…`")


def _principal(ctx: AppContext, key: str) -> Principal | None:
    digest = hash_key(key)
    now = time.monotonic()
    hit = ctx.keys.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1]
    with ctx.sessions() as s:
        row = s.scalars(select(ApiKey).where(ApiKey.hash == digest)).one_or_none()
        who = (
            None
            if row is None or row.revoked
            else Principal(row.id, row.name, Role(row.role), row.network, row.courier)
        )
    if len(ctx.keys) > 10_000:
        ctx.keys.clear()
    ctx.keys[digest] = (now + _KEY_TTL_S, who)
    return who


def current_key(
    ctx: Ctx, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller, from ``Authorization: Bearer …``; 401 without a valid key."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "an API key is required (Authorization: Bearer …)", headers=challenge)
    who = _principal(ctx, credentials.credentials)
    if who is None:
        raise Problem(401, "unknown or revoked API key", headers=challenge)
    return who


def require(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets only ``roles`` through (403 for the others)."""
    allowed = frozenset(roles)

    def check(who: Annotated[Principal, Depends(current_key)]) -> Principal:
        if who.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Problem(403, f"a {who.role.value} key may not do this (needs {names})")
        return who

    return check


AnyKey = Annotated[Principal, Depends(current_key)]
AdminKey = Annotated[Principal, Depends(require(Role.ADMIN))]
StaffKey = Annotated[Principal, Depends(require(Role.ADMIN, Role.DISPATCHER, Role.PLANNER))]
"""Admins, dispatchers and planners: everything but keys, publishing and repair."""
PlannerKey = Annotated[Principal, Depends(require(Role.ADMIN, Role.PLANNER))]
"""Admins and planners: the planner's jobs (placement, what-if simulation)."""
DispatchKey = Annotated[Principal, Depends(require(Role.ADMIN, Role.DISPATCHER))]
"""Admins and dispatchers: publish, repair, audit."""
EventKey = Annotated[Principal, Depends(require(Role.ADMIN, Role.DISPATCHER, Role.COURIER))]
"""Who may report stop events (couriers only on their own routes)."""
RouteReader = Annotated[
    Principal, Depends(require(Role.ADMIN, Role.DISPATCHER, Role.PLANNER, Role.COURIER))
]
