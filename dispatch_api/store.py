"""Conversions between database rows and the core's objects (scenarios, orders, plans).

The API stores what the core reads: a network is its bundle files as text, rebuilt with
:func:`scenarios.bundle.load_bundle` (validated once, there); orders are rows rebuilt into
:class:`routing.model.Order`; plans are ``plan.json`` documents. :class:`ScenarioCache` keeps
the rebuilt scenarios of a process (keyed by network version, so a re-import is seen at once).
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dispatch_api.cachebus import announce
from dispatch_api.db import Audit, NetworkRow, OrderDay, OrderRow, PlanRow, now_iso
from dispatch_api.problems import Problem
from dispatch_api.security import Principal
from routing import DayInput
from routing.model import Direction, Order
from routing.plan import Plan, plan_from_dict, plan_to_dict
from routing.savings import plan_kpis
from scenarios.bundle import Scenario, load_bundle

__all__ = [
    "BUNDLE_FILES",
    "ScenarioCache",
    "audit",
    "bump_orders",
    "day_input",
    "kpis_of",
    "order_from_row",
    "order_to_row",
    "plan_of",
    "scenario_from_files",
]

BUNDLE_FILES = ("network.geojson", "fleet.csv", "fleet.json", "policy.toml")


def scenario_from_files(files: Mapping[str, str]) -> Scenario:
    """Validate bundle files (name → text) with the core's loader; raises InvalidScenario."""
    with tempfile.TemporaryDirectory(prefix="countyroute-bundle-") as tmp:
        for name, text in files.items():
            if name in BUNDLE_FILES:
                (Path(tmp) / name).write_text(text, encoding="utf-8")
        return load_bundle(tmp)


class ScenarioCache:
    """Rebuilt scenarios of this process, keyed by (network name, version)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], Scenario] = {}

    def get(self, row: NetworkRow) -> Scenario:
        key = (row.name, row.version)
        with self._lock:
            found = self._items.get(key)
        if found is not None:
            return found
        scenario = scenario_from_files(json.loads(row.files))
        with self._lock:
            for old in [k for k in self._items if k[0] == row.name]:
                del self._items[old]
            self._items[key] = scenario
        return scenario

    def put(self, row: NetworkRow, scenario: Scenario) -> None:
        with self._lock:
            self._items[(row.name, row.version)] = scenario


def network_row(session: Session, name: str) -> NetworkRow:
    row = session.get(NetworkRow, name)
    if row is None:
        raise Problem(404, f"no network {name!r}", field="network")
    return row


def order_from_row(r: Any) -> Order:
    """An order from its row (an ``OrderRow``, or a row of the same columns)."""
    return Order(
        id=r.id,
        carrier=r.carrier,
        direction=Direction(r.direction),
        site=r.site,
        weight_kg=r.weight_kg,
        volume_m3=r.volume_m3,
        parcels=r.parcels,
        bulky=r.bulky,
        priority=r.priority,
        sector=r.sector,
        lot=r.lot,
        mandatory=bool(r.mandatory),
    )


def order_to_row(network: str, date: str, o: Order) -> dict[str, Any]:
    return {
        "network": network,
        "date": date,
        "id": o.id,
        "carrier": o.carrier,
        "direction": o.direction.value,
        "site": o.site,
        "weight_kg": o.weight_kg,
        "volume_m3": o.volume_m3,
        "parcels": o.parcels,
        "bulky": o.bulky,
        "priority": o.priority,
        "sector": o.sector,
        "lot": o.lot,
        "mandatory": o.mandatory,
    }


def day_orders(session: Session, network: str, date: str) -> tuple[Order, ...]:
    rows = session.scalars(
        select(OrderRow)
        .where(OrderRow.network == network, OrderRow.date == date)
        .order_by(OrderRow.id)
    )
    return tuple(order_from_row(r) for r in rows)


def orders_by_id(session: Session, network: str, date: str, ids: Iterable[str]) -> dict[str, Order]:
    """The day's orders with these ids (read as plain rows: one vehicle's orders, not the
    county's thousands)."""
    wanted = sorted(set(ids))
    out: dict[str, Order] = {}
    columns = [getattr(OrderRow.__table__.c, c) for c in _ORDER_COLUMNS]
    for batch in chunked(wanted, 500):
        rows = session.execute(
            select(*columns).where(
                OrderRow.network == network, OrderRow.date == date, OrderRow.id.in_(batch)
            )
        )
        for r in rows:
            out[r.id] = order_from_row(r)
    return out


_ORDER_COLUMNS = (
    "id",
    "carrier",
    "direction",
    "site",
    "weight_kg",
    "volume_m3",
    "parcels",
    "bulky",
    "priority",
    "sector",
    "lot",
    "mandatory",
)


def day_input(session: Session, cache: ScenarioCache, network: str, date: str) -> DayInput:
    """The core's input for one network and day, from the database."""
    row = network_row(session, network)
    sc = cache.get(row)
    # the network's own name, never the bundle's (or an upload's temporary folder's): plans
    # and orders are filed under it
    return DayInput(
        network, sc.network, sc.fleet, sc.policy, day_orders(session, network, date), date
    )


def closed_roads(plan: Plan) -> list[str]:
    """Roads a repair closed for this plan (kept in its settings as ``closed_roads``)."""
    text = dict(plan.settings).get("closed_roads", "")
    return [r for r in text.split(",") if r]


def plan_day_input(session: Session, cache: ScenarioCache, row: PlanRow, plan: Plan) -> DayInput:
    """The inputs a stored plan holds for: its day, with the roads its repairs closed (and
    the orders it split in its parts)."""
    day = day_input(session, cache, row.network, row.date)
    if plan.parts:
        from routing.split import with_parts

        day = replace(day, orders=with_parts(day.orders, plan.parts))
    roads = closed_roads(plan)
    if roads:
        from routing.repair import close_roads

        day = replace(day, network=close_roads(day.network, roads))
    return day


def plan_of(row: PlanRow) -> Plan:
    return plan_from_dict(json.loads(row.document))


def plan_document(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), ensure_ascii=False, separators=(",", ":"))


def kpis_of(plan: Plan, day: DayInput) -> dict[str, Any]:
    """Headline numbers (``routing.savings.plan_kpis``) plus deferrals by reason."""
    k = plan_kpis(plan, day)
    by_reason: dict[str, int] = {}
    for d in plan.deferred:
        by_reason[d.reason.value] = by_reason.get(d.reason.value, 0) + 1
    return {
        "km": k.km,
        "vehicle_hours": k.vehicle_hours,
        "vehicles": k.vehicles,
        "cost": k.cost,
        "parcels": k.parcels,
        "cost_per_parcel": round(k.cost_per_parcel, 3),
        "deferred_parcels": k.deferred_parcels,
        "deferred_orders": len(plan.deferred),
        "deferred_by_reason": by_reason,
        "routes": len(plan.routes),
        "solve_s": plan.solve_s,
    }


def audit(
    session: Session,
    who: Principal | None,
    action: str,
    target: str,
    detail: Any = None,
    *,
    network: str | None = None,
) -> None:
    """Write one audit line (in the caller's transaction); ``network`` scopes who reads it."""
    session.add(
        Audit(
            network=network,
            at=now_iso(),
            key_id=who.key_id if who else None,
            actor=who.name if who else "system",
            role=who.role.value if who else "system",
            action=action,
            target=target,
            detail=json.dumps(detail if detail is not None else {}, ensure_ascii=False),
        )
    )


def bump_orders(session: Session, network: str, date: str) -> None:
    """Mark the day's orders changed (in the caller's transaction): route documents that show
    them are keyed by this version."""
    res = session.execute(
        update(OrderDay)
        .where(OrderDay.network == network, OrderDay.date == date)
        .values(version=OrderDay.version + 1)
    )
    if not getattr(res, "rowcount", 0):
        session.add(OrderDay(network=network, date=date, version=1))
    announce(session, f"orders {network} {date}")


def chunked(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
