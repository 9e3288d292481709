"""Stop events: validated against the plan, stored exactly once per client event id.

An event id is the client's, and it is scoped: unique per (plan, author), where the author is
the courier (or the staff key) who sent it — one courier's ids never collide with another's,
and nobody can probe or squat someone else's. The insert is ``INSERT … ON CONFLICT (plan,
author, id) DO NOTHING RETURNING id`` (SQLite ≥ 3.35 and PostgreSQL alike), so concurrent
retries of one event race on that key and exactly one row lands; the others see it and answer
``duplicate`` (same content) or ``conflict`` (an id reused for different content).

Couriers' events are checked for ownership first: an event on a route that is not theirs
(or on no route at all) is ``forbidden`` before anything else is looked at, so error messages
never describe another courier's route.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import insert as sql_insert
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from dispatch_api.db import Courier, Event, FeedItem, OrderRow, now_iso
from dispatch_api.problems import Problem
from dispatch_api.schemas import EventCreate, EventResult
from dispatch_api.security import Principal, Role
from dispatch_api.views import find_route
from routing.plan import Plan

__all__ = ["courier_vehicle", "ingest", "local_seconds"]


def local_seconds(at: dt.datetime, date: str, tz_name: str) -> int:
    """``at`` as seconds after midnight of ``date`` in the plan's time zone."""
    tz = zoneinfo.ZoneInfo(tz_name)
    local = at.replace(tzinfo=tz) if at.tzinfo is None else at.astimezone(tz)
    midnight = dt.datetime.combine(dt.date.fromisoformat(date), dt.time(), tzinfo=tz)
    return int((local - midnight).total_seconds())


def courier_vehicle(session: Session, who: Principal) -> str | None:
    """The vehicle a courier key's courier drives (None: none assigned)."""
    if who.network is None or who.courier is None:
        return None
    row = session.get(Courier, (who.network, who.courier))
    return row.vehicle if row else None


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


_FORBIDDEN = EventResult(
    id="", status="forbidden", http_status=403, field="route", detail="not your route"
)

_WINDOW_S = 86_400
"""Events are dated within a day of the plan's date (local time); years ahead are refused."""


def _validate(
    plan: Plan,
    e: EventCreate,
    tz: str,
    own: str | None,
    courier: bool,
    lot_orders: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, Any] | None, EventResult | None, str]:
    """The row to store, or a rejection naming the field. For couriers (``courier``) the
    route must be ``own`` vehicle's before anything else is checked (``lot_orders``: lot
    code → the day's order ids carrying it, for events that name lots)."""

    def reject(field: str, detail: str) -> tuple[None, EventResult, str]:
        return (
            None,
            EventResult(id="", status="rejected", http_status=422, field=field, detail=detail),
            "",
        )

    found = find_route(plan, e.route)
    if courier and (found is None or found[1].vehicle != own):
        return None, _FORBIDDEN, ""
    if found is None:
        return reject("route", f"the plan has no route {e.route!r}")
    _, route = found
    if e.stop >= len(route.stops):
        return reject("stop", f"route {e.route} has {len(route.stops)} stops")
    stop = route.stops[e.stop]
    if e.site is not None and e.site != stop.site:
        return reject("site", f"stop {e.stop} of {e.route} is at {stop.site}, not {e.site}")
    if e.type == "failed" and not e.reason.strip():
        return reject("reason", "a failed stop needs a reason")
    from_lots: list[str] = []
    for lot in e.lots or ():
        here = [o for o in (lot_orders or {}).get(lot, ()) if o in (*stop.drop, *stop.collect)]
        if not here:
            return reject("lots", f"lot {lot!r} is not handed over at this stop")
        from_lots += here
    if e.orders is None and e.lots:
        ids = list(dict.fromkeys(from_lots))
    elif e.orders is None:
        ids = list(
            stop.drop if e.type == "delivered" else stop.collect if e.type == "collected" else ()
        )
    else:
        ids = list(dict.fromkeys(e.orders))
        allowed = set(stop.drop) | set(stop.collect)
        strangers = [o for o in ids if o not in allowed]
        if strangers:
            return reject("orders", f"order {strangers[0]!r} is not handed over at this stop")
        ids = list(dict.fromkeys([*ids, *from_lots]))
    try:
        at_s = local_seconds(e.at, plan.date, tz)
    except (ValueError, OverflowError) as exc:
        return reject("at", str(exc))
    if not -_WINDOW_S <= at_s <= 2 * _WINDOW_S:
        return reject(
            "at", f"{e.at.isoformat()} is not within a day of the plan's date {plan.date}"
        )
    at_text = e.at.isoformat()
    content = {
        "route": e.route,
        "stop": e.stop,
        "site": stop.site,
        "type": e.type.value,
        "reason": e.reason,
        "orders": ids,
        "at": at_text,
    }
    if e.lots:  # only then, so that earlier events keep their digest
        content["lots"] = list(e.lots)
    row = {
        **{k: v for k, v in content.items() if k != "lots"},
        "orders": json.dumps(ids),
        "vehicle": route.vehicle,
        "at_s": at_s,
        "digest": _digest(content),
    }
    return row, None, route.vehicle


def _feed_payload(plan_id: int, row: Mapping[str, Any]) -> str:
    return json.dumps(
        {
            "plan": plan_id,
            "route": row["route"],
            "stop": row["stop"],
            "site": row["site"],
            "type": row["type"],
            "at": row["at"],
            "orders": json.loads(row["orders"]),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _store(session: Session, rows: list[dict[str, Any]], plan_row: Any) -> set[str]:
    """Insert the events that are new and their feed items (in the session's transaction);
    the ids inserted. Any database but PostgreSQL (SQLite: one process)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(Event)
        .on_conflict_do_nothing(index_elements=["plan", "author", "id"])
        .returning(Event.id)
    )
    inserted = set(session.scalars(stmt, rows).all())
    if inserted:
        at = now_iso()
        session.execute(
            sql_insert(FeedItem),
            [
                {
                    "network": plan_row.network,
                    "kind": "stop.event",
                    "vehicle": r["vehicle"],
                    "at": at,
                    "payload": _feed_payload(plan_row.id, r),
                }
                for r in rows
                if r["id"] in inserted
            ],
        )
    return inserted


_PG_STORE = text(
    """
WITH src AS (
    SELECT * FROM unnest(
        CAST(:ids AS varchar[]), CAST(:routes AS varchar[]), CAST(:vehicles AS varchar[]),
        CAST(:stops AS integer[]), CAST(:sites AS varchar[]), CAST(:types AS varchar[]),
        CAST(:reasons AS varchar[]), CAST(:orders AS text[]), CAST(:ats AS varchar[]),
        CAST(:at_ss AS integer[]), CAST(:digests AS varchar[]), CAST(:payloads AS text[])
    ) WITH ORDINALITY
      AS u(id, route, vehicle, stop, site, type, reason, orders, at, at_s, digest, payload, ord)
), ins AS (
    INSERT INTO events (id, author, network, "date", plan, route, vehicle, stop, site, "type",
                        reason, orders, "at", at_s, courier, digest, received_at)
    SELECT id, :author, :network, :date, :plan, route, vehicle, stop, site, "type",
           reason, orders, "at", at_s, :courier, digest, :received
    FROM src ORDER BY ord
    ON CONFLICT (plan, author, id) DO NOTHING
    RETURNING id
), fed AS (
    INSERT INTO feed (network, kind, vehicle, payload, "at")
    SELECT :network, 'stop.event', src.vehicle, src.payload, :received
    FROM src JOIN ins ON ins.id = src.id ORDER BY src.ord
    RETURNING seq
)
SELECT id FROM ins
"""
)


def _store_postgresql(session: Session, rows: list[dict[str, Any]], plan_row: Any) -> set[str]:
    """The events that are new and their feed items in one statement (one round trip, atomic
    by itself): the rows go as one array per column through ``unnest``, so the statement's
    text is the same for any batch size and the driver prepares it once."""
    first = rows[0]
    params: dict[str, Any] = {
        "author": first["author"],
        "network": first["network"],
        "date": first["date"],
        "plan": first["plan"],
        "courier": first["courier"],
        "received": first["received_at"],
        "payloads": [_feed_payload(plan_row.id, r) for r in rows],
    }
    for column, name in _PG_COLUMNS:
        params[name] = [r[column] for r in rows]
    return set(session.scalars(_PG_STORE, params).all())


_PG_COLUMNS = (
    ("id", "ids"),
    ("route", "routes"),
    ("vehicle", "vehicles"),
    ("stop", "stops"),
    ("site", "sites"),
    ("type", "types"),
    ("reason", "reasons"),
    ("orders", "orders"),
    ("at", "ats"),
    ("at_s", "at_ss"),
    ("digest", "digests"),
)


def ingest(
    session: Session,
    plan_row: Any,
    plan: Plan,
    who: Principal,
    items: Sequence[tuple[str, EventCreate]],
    tz: str,
    *,
    own_vehicle: str | None = None,
) -> list[EventResult]:
    """Validate, authorise and store events (one transaction); one result per item.
    ``own_vehicle``: a courier's vehicle when the caller already knows it."""
    courier = who.role is Role.COURIER
    own = (own_vehicle or courier_vehicle(session, who)) if courier else None
    if courier and who.network != plan_row.network:
        raise Problem(403, "this plan is not of your network")
    author = who.author
    results: list[EventResult | None] = [None] * len(items)
    rows: dict[str, dict[str, Any]] = {}
    received = now_iso()
    lots = sorted({lot for _, e in items for lot in e.lots or ()})
    lot_orders: dict[str, list[str]] = {}
    if lots:
        found = session.execute(
            select(OrderRow.lot, OrderRow.id).where(
                OrderRow.network == plan_row.network,
                OrderRow.date == plan_row.date,
                OrderRow.lot.in_(lots),
            )
        )
        for lot, oid in found:
            lot_orders.setdefault(lot, []).append(oid)
    for k, (event_id, e) in enumerate(items):
        row, rejected, _vehicle = _validate(plan, e, tz, own, courier, lot_orders)
        if rejected is not None:
            results[k] = rejected.model_copy(update={"id": event_id})
            continue
        assert row is not None
        if event_id in rows:  # the same id twice in one batch: the first one counts
            same = rows[event_id]["digest"] == row["digest"]
            results[k] = EventResult(
                id=event_id,
                status="duplicate" if same else "conflict",
                http_status=200 if same else 409,
                detail=None if same else "event id reused for different content",
            )
            continue
        rows[event_id] = {
            "id": event_id,
            "author": author,
            "network": plan_row.network,
            "date": plan_row.date,
            "plan": plan_row.id,
            "courier": who.name,
            "received_at": received,
            **row,
        }
    inserted: set[str] = set()
    existing: dict[str, str] = {}
    if rows:
        if session.get_bind().dialect.name == "postgresql":
            inserted = _store_postgresql(session, list(rows.values()), plan_row)
        else:
            inserted = _store(session, list(rows.values()), plan_row)
        missing = [i for i in rows if i not in inserted]
        if missing:
            existing = dict(
                session.execute(
                    select(Event.id, Event.digest).where(
                        Event.plan == plan_row.id, Event.author == author, Event.id.in_(missing)
                    )
                ).all()
            )
    for k, (event_id, _) in enumerate(items):
        if results[k] is not None or event_id not in rows:
            continue
        if event_id in inserted:
            results[k] = EventResult(id=event_id, status="stored", http_status=201)
            inserted.discard(event_id)  # a later duplicate in the batch is a duplicate
        elif existing.get(event_id) == rows[event_id]["digest"]:
            results[k] = EventResult(id=event_id, status="duplicate", http_status=200)
        else:
            results[k] = EventResult(
                id=event_id,
                status="conflict",
                http_status=409,
                field="id",
                detail="event id already used for different content",
            )
    session.commit()
    return [r for r in results if r is not None]
