"""Read models built from a plan: the courier's compact route, progress per route, a lot's
transport chain. Pure conversions of core objects; nothing here changes a plan.

Coordinates: the network's WGS-84 (``crs=wgs84``) or converted to GCJ-02 (``crs=gcj02``) for
Chinese map apps; planar networks are returned in metres as they are. Times: ``HH:MM`` and
seconds after midnight of the plan's date (local time, ``settings.timezone``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from networks import Crs, Network, format_clock, route_line, wgs84_to_gcj02
from routing.model import Order, Vehicle
from routing.plan import Plan, Route, Stop, StopKind, Tier

__all__ = [
    "DONE_TYPES",
    "convert_xy",
    "courier_route",
    "find_route",
    "route_label",
    "route_progress",
]

DONE_TYPES = frozenset({"delivered", "collected", "failed"})


def route_label(route: Route) -> str:
    """``tier:vehicle`` — how requests and events name a route."""
    return f"{route.tier.value}:{route.vehicle}"


def find_route(plan: Plan, label: str) -> tuple[int, Route] | None:
    for i, r in enumerate(plan.routes):
        if route_label(r) == label:
            return i, r
    return None


def convert_xy(network: Network, x: float, y: float, crs: str) -> list[float]:
    if network.crs is Crs.WGS84 and crs == "gcj02":
        x, y = wgs84_to_gcj02(x, y)
    digits = 6 if network.crs is Crs.WGS84 else 1
    return [round(x, digits), round(y, digits)]


def _by_carrier(ids: Iterable[str], orders: Mapping[str, Order]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for oid in ids:
        o = orders.get(oid)
        out[o.carrier if o else "?"].append(oid)
    return dict(sorted(out.items()))


def _parcels(ids: Iterable[str], orders: Mapping[str, Order]) -> int:
    return sum(orders[i].parcels if i in orders else 1 for i in ids)


def _loading(route: Route, orders: Mapping[str, Order]) -> list[dict[str, Any]]:
    """Bags in loading order per trip: the trip's last drop is loaded first (deepest)."""
    out: list[dict[str, Any]] = []
    trip: list[int] = []

    def flush() -> None:
        seq = 0
        for i in reversed(trip):
            stop = route.stops[i]
            for carrier, ids in _by_carrier(stop.drop, orders).items():
                seq += 1
                out.append(
                    {
                        "trip": stop.trip,
                        "seq": seq,
                        "stop": i,
                        "site": stop.site,
                        "carrier": carrier,
                        "parcels": _parcels(ids, orders),
                    }
                )

    for i, s in enumerate(route.stops):
        if s.kind in (StopKind.RELOAD, StopKind.RETURN):
            flush()
            trip = []
        elif s.kind is StopKind.VISIT:
            trip.append(i)
    flush()
    return out


def _stop(
    network: Network, i: int, s: Stop, orders: Mapping[str, Order], crs: str
) -> dict[str, Any]:
    site = network.site(s.site) if s.site in network.index else None
    out: dict[str, Any] = {
        "i": i,
        "site": s.site,
        "name": site.name if site else s.site,
        "kind": s.kind.value,
        "trip": s.trip,
        "eta": format_clock(s.arrival_s),
        "arrival_s": s.arrival_s,
        "start_s": s.start_s,
        "departure_s": s.departure_s,
        "xy": convert_xy(network, site.x, site.y, crs) if site else None,
    }
    if s.drop:
        out["drop"] = _by_carrier(s.drop, orders)
        out["drop_parcels"] = _parcels(s.drop, orders)
    if s.collect:
        out["collect"] = _by_carrier(s.collect, orders)
        out["collect_parcels"] = _parcels(s.collect, orders)
    lots = [
        {"lot": o.lot, "order": o.id, "direction": o.direction.value}
        for o in (orders.get(x) for x in (*s.drop, *s.collect))
        if o is not None and o.lot
    ]
    if lots:
        out["lots"] = lots
    if site is not None and (site.keeper or site.phone):
        # the route goes to its assigned courier (or a dispatcher), who calls the keeper ahead
        out["contact"] = {"keeper": site.keeper, "phone": site.phone}
    return out


def _geometry(network: Network, route: Route, crs: str) -> list[list[float]]:
    line = route_line(network, [s.site for s in route.stops], route.vehicle_class)
    return [convert_xy(network, x, y, crs) for x, y in line.coords]


def courier_route(
    plan_id: int,
    revision: int,
    plan: Plan,
    network: Network,
    fleet: Sequence[Vehicle],
    orders: Mapping[str, Order],
    vehicle: str,
    crs: str,
    courier: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The compact route document of one vehicle (all its tiers of the day)."""
    v = next((x for x in fleet if x.id == vehicle), None)
    routes = [r for r in plan.routes if r.vehicle == vehicle]
    return {
        "plan": plan_id,
        "revision": revision,
        "date": plan.date,
        "crs": "planar" if network.crs is Crs.PLANAR else crs,
        "vehicle": {
            "id": vehicle,
            "class": v.vehicle_class if v else "",
            "name": v.name if v else "",
        },
        "courier": dict(courier) if courier else None,
        "routes": [
            {
                "route": route_label(r),
                "tier": r.tier.value,
                "wave": r.wave,
                "home": r.home,
                "distance_m": r.distance_m,
                "leaves": format_clock(r.stops[0].departure_s) if r.stops else None,
                "back": format_clock(r.stops[-1].arrival_s) if r.stops else None,
                "stops": [_stop(network, i, s, orders, crs) for i, s in enumerate(r.stops)],
                "loading": _loading(r, orders),
                "geometry": _geometry(network, r, crs),
            }
            for r in routes
        ],
    }


def route_progress(
    plan_id: int,
    plan: Plan,
    orders: Mapping[str, Order],
    events: Sequence[Mapping[str, Any]],
    couriers: Mapping[str, str],
    *,
    now_s: int | None,
    grace_s: int,
) -> list[dict[str, Any]]:
    """Per route: stops done and left, parcels delivered and collected, late stops.

    A visit is done when an event ``delivered``, ``collected`` or ``failed`` names its vehicle
    and site on the day (whatever plan version it was reported against, so progress survives a
    repair). It is late when its first event came after its planned start + ``grace_s``, or
    when it is not done and ``now_s`` is past that.
    """
    by_stop: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for e in events:
        by_stop[(e["vehicle"], e["site"])].append(e)

    def belongs(e: Mapping[str, Any], index: int, stop: Stop) -> bool:
        # reported against this plan: its stop index says it; against another version (before
        # a repair): the orders it names, else its site
        if e["plan"] == plan_id:
            return bool(e["stop"] == index)
        ids = json.loads(e["orders"]) if isinstance(e["orders"], str) else e["orders"]
        return not ids or bool(set(ids) & {*stop.drop, *stop.collect})

    out = []
    for r in plan.routes:
        visits = [(i, s) for i, s in enumerate(r.stops) if s.kind is StopKind.VISIT]
        done = failed = late = 0
        delivered = collected = 0
        last: str | None = None
        for i, s in visits:
            evs = sorted(
                (e for e in by_stop.get((r.vehicle, s.site), []) if belongs(e, i, s)),
                key=lambda e: e["at_s"],
            )
            types = {e["type"] for e in evs}
            if types & DONE_TYPES:
                done += 1
            if "failed" in types and not types & {"delivered", "collected"}:
                failed += 1
            first = evs[0]["at_s"] if evs else None
            if (first is not None and first > s.start_s + grace_s) or (
                not types & DONE_TYPES and now_s is not None and now_s > s.start_s + grace_s
            ):
                late += 1
            for e in evs:
                ids = json.loads(e["orders"]) if isinstance(e["orders"], str) else e["orders"]
                if e["type"] == "delivered":
                    delivered += _parcels((i for i in ids if i in s.drop), orders)
                elif e["type"] == "collected":
                    collected += _parcels((i for i in ids if i in s.collect), orders)
                last = max(last or e["at"], e["at"])
        final_drop = [o for _, s in visits for o in s.drop]
        final_collect = [o for _, s in visits for o in s.collect]
        out.append(
            {
                "route": route_label(r),
                "vehicle": r.vehicle,
                "tier": r.tier.value,
                "courier": couriers.get(r.vehicle),
                "stops_total": len(visits),
                "stops_done": done,
                "stops_left": len(visits) - done,
                "parcels_to_deliver": _parcels(final_drop, orders),
                "parcels_delivered": delivered,
                "parcels_to_collect": _parcels(final_collect, orders),
                "parcels_collected": collected,
                "failed_stops": failed,
                "late_stops": late,
                "last_event_at": last,
            }
        )
    return out


def order_legs(plan: Plan, order: Order) -> list[tuple[str, Route, int]]:
    """(step, route, stop index) of every stop that hands the order over, in travel order."""
    legs: list[tuple[str, Route, int]] = []
    tiers = (
        (Tier.TRUNK_DOWN, Tier.LAST_MILE)
        if order.direction.value == "down"
        else (Tier.LAST_MILE, Tier.TRUNK_UP)
    )
    for tier in tiers:
        for r in plan.routes_of(tier):
            for i, s in enumerate(r.stops):
                ids = s.drop if order.direction.value == "down" else s.collect
                if order.id in ids:
                    if order.direction.value == "down":
                        legs.append(("loaded at " + r.home, r, 0))
                        legs.append(("dropped at " + s.site, r, i))
                    else:
                        legs.append(("collected at " + s.site, r, i))
                        back = len(r.stops) - 1
                        if tier is Tier.LAST_MILE:
                            after = [
                                k
                                for k in range(i + 1, len(r.stops))
                                if r.stops[k].kind in (StopKind.RELOAD, StopKind.RETURN)
                            ]
                            back = after[0] if after else back
                        legs.append(("unloaded at " + r.stops[back].site, r, back))
    return legs
