"""Each API process remembers the couriers' keys and routes before they are asked for.

At 07:00 a county's couriers all fetch their route within a second or two. A process that
remembers nothing then looks every key and every route up while the fetches pile up behind
those look-ups: measured on 4 processes and PostgreSQL (issue 12's burst, 10,000 fetches
from 2,000 clients), each process's 30 key and 30 route look-ups ran 0.2–0.7 s each under the
load, the last finishing ~1.1 s into the burst, and no courier whose look-up was pending got
an answer from that process before then (first fetches p50 1.2 s; the same burst with
everything remembered: p95 0.4 s).

:class:`Warmer` is one thread per process that fills what the fast path
(:mod:`dispatch_api.fastpath`) reads, ahead of the requests:

- every courier key that still opens the door (:func:`dispatch_api.deps.remember_keys`),
- every courier's route (``("me", network, courier, date, crs)``, exactly what
  :func:`dispatch_api.routers.courier._resolve_mine` answers) for each network's published
  plans of its two latest dates, both coordinate systems, from the documents already
  rendered and shared in ``route_docs`` (a process never renders here: the publishing
  process pre-renders once for all, then announces ``warm`` on the cache bus).

It runs when the app starts, whenever the cache bus drops what the process remembers (a
publication, an import, a reassignment, a key change: everything is looked up again from
the database, so nothing stale survives a change), when a publication's pre-rendering is
done, and every :data:`REFRESH_S` seconds (so remembered keys never reach their age limit
while couriers are idle overnight). What it remembers is scoped exactly as a look-up is: a
key's own network and courier, a route under its courier's network, courier and date.
Answers computed while an invalidation arrived are dropped (the bus's generation).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dispatch_api.db import ApiKey, Courier, NetworkRow, OrderDay, PlanRow, RouteDoc

if TYPE_CHECKING:
    from dispatch_api.deps import AppContext

__all__ = ["REFRESH_S", "Warmer", "warm"]

log = logging.getLogger("countyroute.cache")

REFRESH_S = 30.0
"""Seconds between two warm-ups when nothing asks for one."""
DATES_PER_NETWORK = 2
"""Published plans warmed per network: its latest dates (today's and tomorrow's, at 07:00)."""
KEYS_WARMED = 5000
"""Courier keys warmed at most (the newest; a process remembers at most 10,000 keys)."""
_CHUNK = 500


def warm(ctx: AppContext, known: dict[str, tuple[str, bytes]] | None = None) -> dict[str, Any]:
    """Remember every courier key and every courier's published route (see the module
    docstring). Reads only; nothing is rendered. ``known``: the documents of the last warm-up
    by their key (a digest of what they show, so they are never stale): only the others are
    read from the table. Returns how many keys and routes were remembered and the documents
    (for the next warm-up)."""
    from dispatch_api.deps import remember_keys
    from dispatch_api.routers.courier import _doc_key, _Head

    bus = ctx.bus
    generation = bus.generation
    limit = ctx.settings.warm_documents
    with ctx.sessions() as session:
        if ctx.engine.dialect.name == "postgresql":  # reads only: no transaction round trips
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        keys = list(
            session.scalars(
                select(ApiKey)
                .where(
                    ApiKey.role == "courier",
                    ApiKey.revoked.is_(False),
                    ApiKey.hash_scheme == "hmac",
                )
                .order_by(ApiKey.id.desc())
                .limit(KEYS_WARMED)
            )
        )
        n_keys = remember_keys(ctx, keys, generation)
        heads: dict[str, list[_Head]] = {}
        for row in session.execute(
            select(PlanRow.id, PlanRow.network, PlanRow.date, PlanRow.status, PlanRow.revision)
            .where(PlanRow.status == "published")
            .order_by(PlanRow.network, PlanRow.date.desc())
        ):
            of_network = heads.setdefault(row.network, [])
            if len(of_network) < DATES_PER_NETWORK:
                of_network.append(_Head(*row))
        if not heads or limit <= 0:
            return {"keys": n_keys, "routes": 0, "documents": {}}
        imported = dict(
            session.execute(
                select(NetworkRow.name, NetworkRow.imported_at).where(
                    NetworkRow.name.in_(list(heads))
                )
            ).all()
        )
        versions = {
            (n, d): v
            for n, d, v in session.execute(
                select(OrderDay.network, OrderDay.date, OrderDay.version).where(
                    OrderDay.network.in_(list(heads))
                )
            )
        }
        couriers = session.scalars(
            select(Courier)
            .where(Courier.network.in_(list(heads)), Courier.vehicle.is_not(None))
            .order_by(Courier.network, Courier.id)
        ).all()
        wanted: dict[str, tuple[Any, ...]] = {}  # document key -> the route's identity
        for me in couriers:
            for head in heads[me.network]:
                seen = (imported.get(me.network), versions.get((me.network, head.date)))
                for crs in ("gcj02", "wgs84"):
                    if len(wanted) >= limit:
                        break
                    key, _ = _doc_key(session, head, str(me.vehicle), crs, me, seen)
                    wanted[key] = ("me", me.network, me.id, head.date, crs)
        found: dict[Any, tuple[str, bytes]] = {}
        documents: dict[str, tuple[str, bytes]] = {}
        missing = []
        for key, ident in wanted.items():
            hit = (known or {}).get(key) or ctx.routes.get(key)
            if hit is not None:
                found[ident] = documents[key] = hit
            else:
                missing.append(key)
        for start in range(0, len(missing), _CHUNK):
            for key, etag, body in session.execute(
                select(RouteDoc.key, RouteDoc.etag, RouteDoc.body).where(
                    RouteDoc.key.in_(missing[start : start + _CHUNK])
                )
            ):
                hit = (etag, bytes(body))
                found[wanted[key]] = documents[key] = hit
    # a route not rendered yet (or no route for the courier's vehicle) is left to the look-up
    return {"keys": n_keys, "routes": bus.put_many(found, generation), "documents": documents}


class Warmer:
    """The warming thread of one process (see the module docstring)."""

    def __init__(self, ctx: AppContext, refresh_s: float = REFRESH_S) -> None:
        self.ctx = ctx
        self.refresh_s = refresh_s
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._asked = 0
        self._done = 0
        self._thread: threading.Thread | None = None
        self._documents: dict[str, tuple[str, bytes]] = {}

    def ask(self) -> None:
        """Warm again soon (called from the cache bus's listener or a request's thread)."""
        with self._idle:
            self._asked += 1
        self._wanted.set()

    def start(self) -> None:
        self.ask()
        self._thread = threading.Thread(target=self._run, name="countyroute-warm", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until every warm-up asked for so far has run (tests, readiness)."""
        with self._idle:
            target = self._asked
            return self._idle.wait_for(lambda: self._done >= target, timeout=timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wanted.wait(timeout=self.refresh_s)
            if self._stop.is_set():
                return
            self._wanted.clear()
            with self._idle:
                target = self._asked
            try:
                self._documents = warm(self.ctx, self._documents)["documents"]
            except Exception:  # the database is away: the look-ups answer meanwhile
                log.warning("warming the route cache failed", exc_info=True)
            with self._idle:
                self._done = max(self._done, target)
                self._idle.notify_all()
