"""The files a plan is read from: data, manifests, route sheets, a summary and pictures.

:func:`write_plan_outputs` writes one day's plan into a folder:

``plan.json``
    The versioned plan (:func:`routing.plan.dumps`).
``routes.geojson``
    RFC 7946 FeatureCollection: one road-following LineString per trip of every route (a
    route with reloads has one trip per loading) and one Point per stop. WGS-84 as the network
    gives it; a planar network's metres are kept as they are and the top-level foreign member
    ``countyroute.crs`` says so.
``manifests/<tier>-<vehicle>.csv``
    One row per *bag* (the parcels of one carrier for one stop), or one row for a stop with
    nothing to hand over; ``lots`` lists the bag's traceability lot codes; ``load_seq`` numbers the dropped bags in loading order (1 = loaded
    first = dropped last) and starts again at each loading (trip). UTF-8 with a BOM so that
    spreadsheet programs show Chinese site names.
``sheets/<vehicle>.md``
    A route sheet per vehicle (English or Chinese labels): the keepers of its stops with
    their full phones (the driver calls ahead), the driver's own phone masked.
``summary.md``
    Kilometres, hours, vehicles, cost, load factors, on-time share, deferrals, coverage.
``map.png``, ``timeline.png`` and ``roads.png``
    The routes on the district map (roads, boundary, sites, poor villages, points with orders
    deferred for capacity, time or reach marked with a large red cross; village runs coloured
    by station — one hue per station, a shade per vehicle — and trucks in dark hues; labels
    placed without overlap, the most important first), one bar per vehicle run over the day
    (driving, service, waiting, reload; every stop labelled; wave departures; each station's
    cross-dock window from the first trunk arrival until its runs may leave, i.e. the last
    trunk's unloading plus ``policy.cross_dock_s``; the hours when every village point of a
    run is open), and every road with its id (what a ``road_closed`` event names). Titles,
    legends and labels follow ``lang`` (Chinese site names under ``zh``).

Units: the plan's seconds after midnight are shown as ``HH:MM`` (truncated to the minute),
metres as kilometres, money in yuan. Pictures use matplotlib's Agg canvas without pyplot, so
writing them touches no global figure state. Site names are drawn when the machine's fonts
have every glyph (a CJK font found through ``fc-list :lang=zh`` is added to DejaVu Sans);
otherwise the site id is drawn instead, so a missing font never breaks a picture.
"""

from __future__ import annotations

import colorsys
import csv
import functools
import io
import json
import logging
import math
import re
import shutil
import subprocess
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from networks import Crs, Network, SiteKind, UnreachableSite, route_line
from routing.build import station_of
from routing.consolidate import load_of
from routing.crossing import settle_stations
from routing.inputs import DayInput
from routing.model import Direction, Order, Vehicle
from routing.plan import (
    DeferralReason,
    Load,
    Plan,
    Route,
    Stop,
    StopKind,
    Tier,
    dumps,
    final_stops,
    infeasibilities,
)
from routing.split import with_parts

__all__ = ["PICTURES", "mask_phone", "summary_text", "vehicle_colours", "write_plan_outputs"]

_TIER_ORDER: tuple[Tier, ...] = (Tier.TRUNK_DOWN, Tier.LAST_MILE, Tier.TRUNK_UP)


# ---------------------------------------------------------------------------------- helpers
def _hhmm(seconds: float) -> str:
    """Seconds after midnight → ``HH:MM`` (truncated; hours go past 24 for the next day)."""
    minutes = int(seconds) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def mask_phone(phone: str) -> str:
    """A phone number with its middle digits hidden, as courier apps show it.

    Parameters
    ----------
    phone
        As the scenario gives it; non-digits (spaces, dashes) and a leading ``+86`` are dropped.

    Returns
    -------
    str
        Numbers of eight digits or more keep their first three and last four digits (an
        11-digit mobile becomes ``138****1234``); shorter ones keep only their last two.
        Empty when no phone is given.

    Examples
    --------
    >>> mask_phone("13812341234"), mask_phone("+86 138-1234-1234"), mask_phone("")
    ('138****1234', '138****1234', '')
    >>> mask_phone("5551234")
    '*****34'
    """
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not digits:
        return ""
    if len(digits) < 8:
        return "*" * (len(digits) - 2) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


# One hue family per station (tab10 hues without grey), shades within it per vehicle, so a
# village run's colour says which station it belongs to; trunk trucks get dark, saturated
# hues of their own, spread by the golden ratio.
_STATION_HUES: tuple[float, ...] = (0.58, 0.08, 0.33, 0.0, 0.77, 0.12, 0.9, 0.17, 0.5, 0.68)
_SHADES: tuple[tuple[float, float], ...] = ((0.38, 0.85), (0.58, 0.75), (0.26, 0.9), (0.7, 0.6))
"""(lightness, saturation) of a station's 1st, 2nd, 3rd, 4th vehicle (HLS)."""


def _hex(r: float, g: float, b: float) -> str:
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def vehicle_colours(plan: Plan) -> dict[str, str]:
    """A hex colour per vehicle: village runs by station (one hue family per station, a shade
    per vehicle), trunk trucks dark and apart; stable in the order stations and vehicles
    first appear in the plan."""
    out: dict[str, str] = {}
    stations: dict[str, int] = {}
    per_station: Counter[str] = Counter()
    trucks = 0
    for route in plan.routes:
        if route.vehicle in out:
            continue
        if route.tier is Tier.LAST_MILE:
            k = stations.setdefault(route.home, len(stations))
            n = per_station[route.home]
            per_station[route.home] += 1
            hue = _STATION_HUES[k % len(_STATION_HUES)]
            if k >= len(_STATION_HUES):  # more stations than hues: shift a little each lap
                hue = (hue + 0.04 * (k // len(_STATION_HUES))) % 1.0
            light, sat = _SHADES[n % len(_SHADES)]
            out[route.vehicle] = _hex(*colorsys.hls_to_rgb(hue, light, sat))
        else:
            hue = (trucks * 0.618033988749895 + 0.05) % 1.0
            trucks += 1
            out[route.vehicle] = _hex(*colorsys.hls_to_rgb(hue, 0.3, 0.55))
    return out


def _readable(colour: str) -> str:
    """The colour, darkened when too light to read as text on white."""
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    if 0.299 * r + 0.587 * g + 0.114 * b < 0.6:
        return colour
    return f"#{round(r * 153):02x}{round(g * 153):02x}{round(b * 153):02x}"


def _with_plan_parts(plan: Plan, day: DayInput) -> DayInput:
    """The day with the orders the plan split replaced by its parts (the ids it names)."""
    if not plan.parts:
        return day
    return replace(day, orders=with_parts(day.orders, plan.parts))


def _orders(day: DayInput) -> dict[str, Order]:
    return {o.id: o for o in day.orders}


def _order(orders: Mapping[str, Order], oid: str) -> Order:
    """The order by id; an id the inputs do not know (a hand-edited plan) counts as one parcel."""
    found = orders.get(oid)
    if found is not None:
        return found
    return Order(oid, "?", Direction.DOWN, "", 0.0, 0.0)


def _parcels(ids: Iterable[str], orders: Mapping[str, Order]) -> int:
    return sum(_order(orders, i).parcels for i in ids)


@dataclass(frozen=True, slots=True)
class _Bag:
    """The parcels of one carrier dropped and collected at one stop."""

    carrier: str
    drop: tuple[Order, ...]
    collect: tuple[Order, ...]


def _bags(stop: Stop, orders: Mapping[str, Order]) -> list[_Bag]:
    drop: dict[str, list[Order]] = defaultdict(list)
    collect: dict[str, list[Order]] = defaultdict(list)
    for oid in stop.drop:
        o = _order(orders, oid)
        drop[o.carrier].append(o)
    for oid in stop.collect:
        o = _order(orders, oid)
        collect[o.carrier].append(o)
    return [
        _Bag(c, tuple(drop.get(c, ())), tuple(collect.get(c, ())))
        for c in sorted({*drop, *collect})
    ]


def _trips(route: Route) -> list[list[int]]:
    """Stop indices of each trip: its loading stop, its visits and where it ends.

    A reload stop ends one trip and starts the next, so it appears in both.
    """
    trips: list[list[int]] = []
    current: list[int] = []
    for i, stop in enumerate(route.stops):
        if stop.kind is StopKind.DEPART:
            if len(current) > 1:
                trips.append(current)
            current = [i]
        elif stop.kind is StopKind.RELOAD:
            current.append(i)
            trips.append(current)
            current = [i]
        else:
            current.append(i)
            if stop.kind is StopKind.RETURN:
                trips.append(current)
                current = []
    if len(current) > 1:
        trips.append(current)
    return trips


def _load_sequence(route: Route, orders: Mapping[str, Order]) -> dict[tuple[int, str], int]:
    """(stop index, carrier) → loading position of each dropped bag, per trip.

    The bags of the trip's last stop are loaded first (they sit deepest in the box), so the
    courier unloads from the door at every stop. Within a stop bags go by carrier name.
    """
    seq: dict[tuple[int, str], int] = {}
    for trip in _trips(route):
        n = 0
        for i in reversed(trip[1:-1]):
            for bag in _bags(route.stops[i], orders):
                if bag.drop:
                    n += 1
                    seq[(i, bag.carrier)] = n
    return seq


def _station_of(network: Network, site_id: str) -> str:
    """The station (or hub) a site's parcels go through."""
    try:
        site = network.site(site_id)
    except KeyError:
        return site_id
    for _ in range(3):
        if site.kind in (SiteKind.STATION, SiteKind.HUB) or site.parent is None:
            return site.id
        site = network.site(site.parent)
    return site.id


def _site_name(network: Network, site_id: str) -> str:
    try:
        return network.site(site_id).name or site_id
    except KeyError:
        return site_id


def _max_load(route: Route) -> Load:
    kg = max((s.load_after.kg for s in route.stops), default=0.0)
    m3 = max((s.load_after.m3 for s in route.stops), default=0.0)
    parcels = max((s.load_after.parcels for s in route.stops), default=0)
    return Load(kg, m3, parcels)


def _load_factor(route: Route, vehicle: Vehicle | None) -> tuple[float, float, float] | None:
    """Peak load ÷ capacity in kg, m³ and parcels (None when the vehicle is unknown)."""
    if vehicle is None:
        return None
    peak = _max_load(route)
    return (
        peak.kg / vehicle.capacity_kg,
        peak.m3 / vehicle.capacity_m3,
        peak.parcels / vehicle.capacity_parcels,
    )


def _final_parcels(plan: Plan, orders: Mapping[str, Order]) -> int:
    """Parcels handed over at their own site (delivered or collected), each counted once."""
    seen: set[str] = set()
    total = 0
    for oid, _, _ in final_stops(plan.routes, {k: o.site for k, o in orders.items()}):
        if oid not in seen:
            seen.add(oid)
            total += orders[oid].parcels
    return total


def _route_sort_key(route: Route) -> tuple[int, str, str]:
    return (
        _TIER_ORDER.index(route.tier),
        route.home if route.tier is Tier.LAST_MILE else "",
        route.vehicle,
    )


# ---------------------------------------------------------------------------------- geometry
@dataclass(frozen=True, slots=True)
class _TripLine:
    route: int
    trip: int
    stops: tuple[int, ...]
    coords: tuple[tuple[float, float], ...]
    on_roads: bool


def _trip_lines(plan: Plan, network: Network) -> list[_TripLine]:
    """Road-following coordinates of every trip, in the network's CRS.

    A leg no road connects for that vehicle class (an edited plan, a closure after planning)
    is drawn straight rather than failing the whole output.
    """
    out: list[_TripLine] = []
    for ri, route in enumerate(plan.routes):
        for ti, trip in enumerate(_trips(route)):
            ids = [route.stops[i].site for i in trip]
            ids = [s for k, s in enumerate(ids) if k == 0 or s != ids[k - 1]]
            on_roads = True
            try:
                line = route_line(network, ids, route.vehicle_class)
                coords = tuple((float(x), float(y)) for x, y in line.coords)
            except (UnreachableSite, KeyError):
                on_roads = False
                coords = tuple((network.site(s).x, network.site(s).y) for s in ids)
            if len(coords) < 2:
                coords = (coords[0], coords[0])
            out.append(_TripLine(ri, ti, tuple(trip), coords, on_roads))
    return out


def _length_m(network: Network, coords: Sequence[tuple[float, float]]) -> float:
    arr = np.asarray(coords, dtype=np.float64)
    e, n = network.projection.to_metres(arr[:, 0], arr[:, 1])
    return float(np.sum(np.hypot(np.diff(e), np.diff(n))))


# ---------------------------------------------------------------------------------- GeoJSON
def _routes_geojson(
    plan: Plan, day: DayInput, lines: Sequence[_TripLine], colours: Mapping[str, str]
) -> dict[str, Any]:
    net = day.network
    orders = _orders(day)
    vehicles = {v.id: v for v in day.fleet}
    digits = 7 if net.crs is Crs.WGS84 else 2

    def pt(x: float, y: float) -> list[float]:
        return [round(x, digits), round(y, digits)]

    features: list[dict[str, Any]] = []
    for tl in lines:
        route = plan.routes[tl.route]
        v = vehicles.get(route.vehicle)
        visits = [i for i in tl.stops if route.stops[i].kind is StopKind.VISIT]
        first, last = route.stops[tl.stops[0]], route.stops[tl.stops[-1]]
        features.append(
            {
                "type": "Feature",
                "id": f"{route.tier.value}-{route.vehicle}-trip{tl.trip}",
                "geometry": {"type": "LineString", "coordinates": [pt(*c) for c in tl.coords]},
                "properties": {
                    "feature": "route",
                    "vehicle": route.vehicle,
                    "vehicle_name": v.name if v else "",
                    "vehicle_class": route.vehicle_class,
                    "tier": route.tier.value,
                    "wave": route.wave,
                    "home": route.home,
                    "trip": tl.trip,
                    "trips": route.trips,
                    "distance_km": round(route.distance_m / 1000, 3),
                    "duration_min": round(route.duration_s / 60, 1),
                    "cost": round(route.cost, 2),
                    "stops": len(visits),
                    "trip_distance_km": round(_length_m(net, tl.coords) / 1000, 3),
                    "trip_start": _hhmm(first.departure_s),
                    "trip_end": _hhmm(last.arrival_s),
                    "on_roads": tl.on_roads,
                    "color": colours[route.vehicle],
                    "stroke": colours[route.vehicle],
                    "stroke-width": 4 if route.tier is not Tier.LAST_MILE else 2,
                    "stroke-opacity": 0.9,
                },
            }
        )
    for route in plan.routes:
        for seq, stop in enumerate(route.stops):
            try:
                site = net.site(stop.site)
            except KeyError:
                continue
            features.append(
                {
                    "type": "Feature",
                    "id": f"{route.tier.value}-{route.vehicle}-{seq}",
                    "geometry": {"type": "Point", "coordinates": pt(site.x, site.y)},
                    "properties": {
                        "feature": "stop",
                        "site": site.id,
                        "name": site.name,
                        "site_kind": site.kind.value,
                        "kind": stop.kind.value,
                        "poor": site.poor,
                        "vehicle": route.vehicle,
                        "tier": route.tier.value,
                        "sequence": seq,
                        "trip": stop.trip,
                        "arrival": _hhmm(stop.arrival_s),
                        "start": _hhmm(stop.start_s),
                        "departure": _hhmm(stop.departure_s),
                        "dropped_parcels": _parcels(stop.drop, orders),
                        "collected_parcels": _parcels(stop.collect, orders),
                        "load_after_kg": round(stop.load_after.kg, 3),
                        "load_after_m3": round(stop.load_after.m3, 4),
                        "load_after_parcels": stop.load_after.parcels,
                        "marker-color": colours[route.vehicle],
                        "marker-size": "small" if stop.kind is StopKind.VISIT else "medium",
                    },
                }
            )
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "name": f"{plan.scenario} {plan.date}",
        "countyroute": {
            "scenario": plan.scenario,
            "date": plan.date,
            "network_version": plan.network_version,
            "crs": str(net.crs),
        },
        "features": features,
    }
    if net.crs is Crs.PLANAR:
        doc["countyroute"]["crs_note"] = (
            "coordinates are planar metres as in the scenario, not WGS-84 longitude/latitude"
        )
    return doc


# ---------------------------------------------------------------------------------- manifests
_MANIFEST_COLUMNS: tuple[str, ...] = (
    "seq",
    "trip",
    "stop_kind",
    "site",
    "site_name",
    "arrival",
    "departure",
    "carrier",
    "drop_parcels",
    "drop_kg",
    "drop_m3",
    "collect_parcels",
    "collect_kg",
    "collect_m3",
    "load_seq",
    "drop_orders",
    "collect_orders",
    "load_after_kg",
    "load_after_m3",
    "load_after_parcels",
    "lots",
    "parts",
)


def _manifest_csv(route: Route, network: Network, orders: Mapping[str, Order]) -> str:
    """One row per bag (carrier × stop); a stop with no bag gets one row with no carrier."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_MANIFEST_COLUMNS)
    load_seq = _load_sequence(route, orders)
    for i, stop in enumerate(route.stops):
        head = [
            i,
            stop.trip,
            stop.kind.value,
            stop.site,
            _site_name(network, stop.site),
            _hhmm(stop.arrival_s),
            _hhmm(stop.departure_s),
        ]
        tail = [
            f"{stop.load_after.kg:.3f}",
            f"{stop.load_after.m3:.4f}",
            stop.load_after.parcels,
        ]
        bags = _bags(stop, orders)
        if not bags:
            w.writerow(
                [*head, "", 0, "0.000", "0.0000", 0, "0.000", "0.0000", "", "", "", *tail, "", ""]
            )
        for bag in bags:
            d, c = load_of(bag.drop), load_of(bag.collect)
            seq = load_seq.get((i, bag.carrier))
            w.writerow(
                [
                    *head,
                    bag.carrier,
                    d.parcels,
                    f"{d.kg:.3f}",
                    f"{d.m3:.4f}",
                    c.parcels,
                    f"{c.kg:.3f}",
                    f"{c.m3:.4f}",
                    "" if seq is None else seq,
                    ";".join(o.id for o in bag.drop),
                    ";".join(o.id for o in bag.collect),
                    *tail,
                    ";".join(dict.fromkeys(o.lot for o in (*bag.drop, *bag.collect) if o.lot)),
                    # a split order's parts: "<order> part k/n", so the courier knows the
                    # rest of the consignment travels on another vehicle or trip
                    ";".join(
                        f"{o.part_of} part {o.part}/{_part_count(o, orders)}"
                        for o in (*bag.drop, *bag.collect)
                        if o.part_of
                    ),
                ]
            )
    return buf.getvalue()


def _part_count(part: Order, orders: Mapping[str, Order]) -> int:
    """How many parts the order ``part`` belongs to was split into."""
    return sum(1 for o in orders.values() if o.part_of == part.part_of)


# ---------------------------------------------------------------------------------- sheets
_LABELS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "Route sheet",
        "date": "Date",
        "scenario": "Scenario",
        "vehicle": "Vehicle",
        "class": "Class",
        "capacity": "Capacity",
        "driver": "Driver",
        "phone": "Phone",
        "home": "Home",
        "keeper": "Station keeper",
        "wave": "Wave",
        "leaves": "Leaves",
        "back": "Back",
        "distance": "Distance",
        "duration": "Duration",
        "trips": "Trips",
        "stops": "Stops",
        "seq": "#",
        "arrive": "Arrive",
        "depart": "Depart",
        "site": "Site",
        "contact": "Contact",
        "drop": "Drop",
        "collect": "Collect",
        "load_after": "Load after",
        "loading": "Loading order",
        "loading_note": "Load in this order (1 first, deepest in the box); unload from the door at each stop.",
        "trip": "Trip",
        "bag": "Bag",
        "for_stop": "For stop",
        "parcels": "pcs",
        "none": "—",
        "unknown": "not given",
        "deferred": "Held back today at this vehicle's stops",
        "signature": "Driver's signature",
        "lots": "Traceability lots on board",
        "trunk_down": "Trunk, down wave",
        "last_mile": "Village run",
        "trunk_up": "Trunk, up wave",
        "depart_kind": "leave",
        "visit_kind": "stop",
        "reload_kind": "reload at station",
        "return_kind": "back",
        "halt_kind": "stopped (vehicle down)",
        "km": "km",
        "min": "min",
    },
    "zh": {
        "title": "路线单",
        "date": "日期",
        "scenario": "方案",
        "vehicle": "车辆",
        "class": "车型",
        "capacity": "载重/容积/件数",
        "driver": "司机",
        "phone": "电话",
        "home": "始发站",
        "keeper": "站点负责人",
        "wave": "班次",
        "leaves": "出发",
        "back": "返回",
        "distance": "里程",
        "duration": "用时",
        "trips": "趟数",
        "stops": "停靠点",
        "seq": "序号",
        "arrive": "到达",
        "depart": "离开",
        "site": "站点",
        "contact": "联系人",
        "drop": "卸下（投递）",
        "collect": "揽收",
        "load_after": "离开时载货",
        "loading": "装车顺序",
        "loading_note": "按序号装车（1 号最先装、放最里面），每站从车门处卸货。",
        "trip": "趟次",
        "bag": "袋",
        "for_stop": "送往",
        "parcels": "件",
        "none": "—",
        "unknown": "未填写",
        "deferred": "今日暂缓（本车停靠点）",
        "signature": "司机签字",
        "lots": "随车溯源批次",
        "trunk_down": "干线下行",
        "last_mile": "村级配送",
        "trunk_up": "干线上行",
        "depart_kind": "出发",
        "visit_kind": "停靠",
        "reload_kind": "回站装货",
        "return_kind": "返回",
        "halt_kind": "停驶（车辆故障）",
        "km": "公里",
        "min": "分钟",
    },
}

_CLASS_ZH: Mapping[str, str] = {"truck": "厢式货车", "van": "面包车", "tricycle": "电动三轮车"}
_CARRIER_ZH: Mapping[str, str] = {
    "ems": "邮政EMS",
    "post": "中国邮政",
    "zto": "中通",
    "yto": "圆通",
    "sto": "申通",
    "yunda": "韵达",
    "yd": "韵达",
    "jt": "极兔",
    "jtexpress": "极兔",
    "jd": "京东",
    "sf": "顺丰",
    "best": "百世",
}


def _carrier(code: str, lang: str) -> str:
    if lang == "zh":
        return _CARRIER_ZH.get(code.lower(), code.upper())
    return code.upper()


def _per_carrier(orders: Sequence[Order], lang: str) -> str:
    counts: Counter[str] = Counter()
    for o in orders:
        counts[o.carrier] += o.parcels
    return ", ".join(f"{_carrier(c, lang)} {n}" for c, n in sorted(counts.items()))


def _md_cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def _contact(network: Network, site_id: str) -> str:
    """Keeper and full phone: route sheets go to the assigned driver, who calls ahead
    (masking is for recipients and other people's data)."""
    try:
        site = network.site(site_id)
    except KeyError:
        return ""
    parts = [p for p in (site.keeper, site.phone) if p]
    return " ".join(parts)


def _route_sheet(
    vehicle_id: str,
    routes: Sequence[Route],
    plan: Plan,
    day: DayInput,
    lang: str,
) -> str:
    t = _LABELS[lang]
    net = day.network
    orders = _orders(day)
    vehicle = next((v for v in day.fleet if v.id == vehicle_id), None)
    cls = routes[0].vehicle_class
    cls_text = _CLASS_ZH.get(cls, cls) if lang == "zh" else cls
    lines = [f"# {t['title']} — {vehicle_id}", ""]
    lines.append(f"- {t['date']}: {plan.date}   {t['scenario']}: {plan.scenario}")
    name = f" ({vehicle.name})" if vehicle and vehicle.name else ""
    lines.append(f"- {t['vehicle']}: **{vehicle_id}**{name}   {t['class']}: {cls_text}")
    if vehicle is not None:
        lines.append(
            f"- {t['capacity']}: {vehicle.capacity_kg:g} kg / {vehicle.capacity_m3:g} m³ / "
            f"{vehicle.capacity_parcels} {t['parcels']}"
        )
        driver = vehicle.driver or t["unknown"]
        phone = mask_phone(vehicle.phone) or t["unknown"]
        lines.append(f"- {t['driver']}: {driver}   {t['phone']}: {phone}")
    home = routes[0].home
    lines.append(f"- {t['home']}: {_site_name(net, home)} ({home})")
    keeper_site = net.site(home) if home in net.index else None
    if keeper_site is not None:
        keeper = keeper_site.keeper or t["unknown"]
        phone = keeper_site.phone or t["unknown"]
        lines.append(f"- {t['keeper']}: {keeper}   {t['phone']}: {phone}")
    lines.append("")
    for route in routes:
        first, last = route.stops[0], route.stops[-1]
        lines.append(f"## {t[route.tier.value]} — {t['wave']} {route.wave}")
        lines.append("")
        lines.append(
            f"{t['leaves']} {_hhmm(first.departure_s)} · {t['back']} {_hhmm(last.arrival_s)} · "
            f"{t['distance']} {route.distance_m / 1000:.1f} {t['km']} · "
            f"{t['duration']} {route.duration_s / 60:.0f} {t['min']} · {t['trips']} {route.trips}"
        )
        lines.append("")
        head = (
            t["seq"],
            t["arrive"],
            t["depart"],
            t["site"],
            t["contact"],
            t["drop"],
            t["collect"],
            t["load_after"],
        )
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for i, stop in enumerate(route.stops):
            drop = [_order(orders, o) for o in stop.drop]
            collect = [_order(orders, o) for o in stop.collect]
            kind = t[f"{stop.kind.value}_kind"]
            site = f"{_site_name(net, stop.site)} ({stop.site})"
            if stop.kind is not StopKind.VISIT:
                site = f"{site} — {kind}"
            la = stop.load_after
            row = (
                str(i),
                _hhmm(stop.arrival_s) if stop.kind is not StopKind.DEPART else "",
                _hhmm(stop.departure_s) if stop.kind is not StopKind.RETURN else "",
                site,
                _contact(net, stop.site) if stop.kind is StopKind.VISIT else "",
                _per_carrier(drop, lang) or t["none"],
                _per_carrier(collect, lang) or t["none"],
                f"{la.parcels} {t['parcels']}, {la.kg:.0f} kg",
            )
            lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
        lines.append("")
        load_seq = _load_sequence(route, orders)
        if load_seq:
            lines.append(f"### {t['loading']}")
            lines.append("")
            lines.append(t["loading_note"])
            lines.append("")
            lines.append(f"| {t['trip']} | {t['bag']} | {t['for_stop']} | {t['drop']} |")
            lines.append("|---|---|---|---|")
            for (i, carrier), n in sorted(
                load_seq.items(), key=lambda kv: (route.stops[kv[0][0]].trip, kv[1])
            ):
                stop = route.stops[i]
                bag = [o for o in (_order(orders, x) for x in stop.drop) if o.carrier == carrier]
                parcels = sum(o.parcels for o in bag)
                kg = sum(o.weight_kg for o in bag)
                where = f"#{i} {_site_name(net, stop.site)} ({stop.site})"
                lines.append(
                    f"| {stop.trip + 1} | {n} | {_md_cell(where)} | "
                    f"{_carrier(carrier, lang)} {parcels} {t['parcels']}, {kg:.1f} kg |"
                )
            lines.append("")
    lot_lines = [
        f"- #{i} {_site_name(net, stop.site)} ({stop.site}): {', '.join(lots)}"
        for route in routes
        for i, stop in enumerate(route.stops)
        if (
            lots := list(
                dict.fromkeys(
                    o.lot for o in (_order(orders, x) for x in (*stop.drop, *stop.collect)) if o.lot
                )
            )
        )
    ]
    if lot_lines:
        lines += [f"### {t['lots']}", "", *lot_lines, ""]
    visited = {s.site for r in routes for s in r.stops if s.kind is StopKind.VISIT}
    held = Counter(d.site for d in plan.deferred if d.site in visited)
    if held:
        lines.append(f"### {t['deferred']}")
        lines.append("")
        for site_id, n in sorted(held.items()):
            lines.append(f"- {_site_name(net, site_id)} ({site_id}): {n}")
        lines.append("")
    lines.append(f"{t['signature']}: ____________________")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- summary
@dataclass(frozen=True, slots=True)
class _Kpis:
    km: float
    km_by_tier: dict[Tier, float]
    hours: float
    cost: float
    parcels: int
    cost_per_parcel: float
    vehicles: Counter[tuple[Tier, str]]
    vehicles_total: int
    load_factor: dict[Tier, tuple[float, float, float, float]]
    """Per tier: mean of kg, m³, parcels and binding (max of the three) peak shares."""
    on_time: float
    visits: int
    late: tuple[tuple[str, str, str], ...]
    """(vehicle, site, start HH:MM) of visits outside the site's opening hours."""
    deferred_by_reason: Counter[DeferralReason]
    deferred_parcels_by_reason: Counter[DeferralReason]
    deferred_by_station: dict[str, Counter[DeferralReason]]
    points_served: int
    points_total: int
    points_with_orders: int
    poor_covered: int
    poor_needed: int
    poor_missed: tuple[str, ...]


def _kpis(plan: Plan, day: DayInput) -> _Kpis:
    net = day.network
    orders = _orders(day)
    vehicles = {v.id: v for v in day.fleet}
    km_by_tier: dict[Tier, float] = dict.fromkeys(_TIER_ORDER, 0.0)
    for r in plan.routes:
        km_by_tier[r.tier] += r.distance_m / 1000
    cost = sum(r.cost for r in plan.routes)
    parcels = _final_parcels(plan, orders)
    used: dict[tuple[Tier, str], set[str]] = defaultdict(set)
    for r in plan.routes:
        used[(r.tier, r.vehicle_class)].add(r.vehicle)
    factors: dict[Tier, tuple[float, float, float, float]] = {}
    for tier in _TIER_ORDER:
        fs = [
            f
            for r in plan.routes
            if r.tier is tier
            for f in [_load_factor(r, vehicles.get(r.vehicle))]
            if f is not None
        ]
        if fs:
            arr = np.asarray(fs, dtype=np.float64)
            kg, m3, pc = (float(x) for x in arr.mean(axis=0))
            factors[tier] = (kg, m3, pc, float(arr.max(axis=1).mean()))
    visits = 0
    late: list[tuple[str, str, str]] = []
    # one rule with the planner and the checker: opening hours bind the village runs' stops;
    # stations take their trunk whenever the wave brings it
    for r in plan.routes:
        if r.tier is not Tier.LAST_MILE:
            continue
        for s in r.stops:
            if s.kind is not StopKind.VISIT:
                continue
            visits += 1
            site = net.site(s.site) if s.site in net.index else None
            if site is not None and not site.opens_s <= s.start_s <= site.closes_s:
                late.append((r.vehicle, s.site, _hhmm(s.start_s)))
    by_reason: Counter[DeferralReason] = Counter()
    parcels_by_reason: Counter[DeferralReason] = Counter()
    by_station: dict[str, Counter[DeferralReason]] = defaultdict(Counter)
    for d in plan.deferred:
        by_reason[d.reason] += 1
        parcels_by_reason[d.reason] += _order(orders, d.order).parcels
        by_station[_station_of(net, d.site)][d.reason] += 1
    visited = {
        s.site
        for r in plan.routes
        if r.tier is Tier.LAST_MILE
        for s in r.stops
        if s.kind is StopKind.VISIT
    }
    points = net.village_points
    with_orders = {o.site for o in day.orders}
    deferred_reasons: dict[str, set[DeferralReason]] = defaultdict(set)
    for d in plan.deferred:
        deferred_reasons[d.site].add(d.reason)
    poor_needed = [p.id for p in points if p.poor and p.id in with_orders]
    poor_ok = [
        p
        for p in poor_needed
        if p in visited or deferred_reasons.get(p, set()) == {DeferralReason.FREQUENCY}
    ]
    return _Kpis(
        km=sum(km_by_tier.values()),
        km_by_tier=km_by_tier,
        hours=sum(r.duration_s for r in plan.routes) / 3600,
        cost=cost,
        parcels=parcels,
        cost_per_parcel=cost / parcels if parcels else 0.0,
        vehicles=Counter({k: len(v) for k, v in used.items()}),
        vehicles_total=len({r.vehicle for r in plan.routes}),
        load_factor=factors,
        on_time=(visits - len(late)) / visits if visits else 1.0,
        visits=visits,
        late=tuple(late),
        deferred_by_reason=by_reason,
        deferred_parcels_by_reason=parcels_by_reason,
        deferred_by_station=dict(by_station),
        points_served=sum(1 for p in points if p.id in visited),
        points_total=len(points),
        points_with_orders=sum(1 for p in points if p.id in with_orders),
        poor_covered=len(poor_ok),
        poor_needed=len(poor_needed),
        poor_missed=tuple(sorted(set(poor_needed) - set(poor_ok))),
    )


_MAX_HINTS = 15


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


_SUMMARY: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "# Plan summary — {scenario}, {date}",
        "status": "Status **{status}**, solved in {solve:.1f} s (network {network}, {settings}).",
        "totals": "## Totals",
        "measure": "| measure | value |",
        "distance": "distance",
        "hours": "vehicle-hours",
        "vehicles_used": "vehicles used",
        "cost": "cost",
        "parcels": "parcels handed over at their own site",
        "cost_per_parcel": "cost per parcel",
        "on_time": "on-time village stops (service starts within opening hours)",
        "of": "of",
        "points": "village points served today",
        "had_parcels": "had parcels",
        "poor": "poor village points covered (visited, or deferred only for frequency)",
        "poor_none": "none had parcels today",
        "vehicles": "## Vehicles used",
        "vehicles_head": "| tier | class | vehicles |",
        "load": "## Load factors",
        "load_note": "Peak load ÷ capacity per route, averaged over the tier's routes.",
        "load_head": "| tier | kg | m³ | parcels | binding |",
        "routes": "## Routes",
        "routes_head": "| tier | vehicle | class | home | leaves | back | trips | stops | km | h | peak load | cost |",
        "deferred": "## Deferred",
        "nothing": "Nothing deferred: every order is on a route.",
        "deferred_head": "| reason | orders | parcels |",
        "by_station": "By station (orders):",
        "station": "station",
        "fit": "What would fit them:",
        "frequency": "- frequency ({n} orders at {points} village points): not due today under the every-other-day pattern; they go on the next visit day",
        "orders": "orders",
        "more": "- … and {n} more suggestions in plan.json",
        "late": "## Stops outside opening hours",
        "late_line": "- {vehicle} at {site}, service starts {start}",
        "missed": "## Poor village points not covered today",
        "yuan": "yuan",
        "km": "km",
        "h": "h",
        "across": "## Served across a boundary",
        "across_kept": (
            "Villages may be served from a neighbouring station (cross-boundary service). "
            "The day was planned with every village at its own station ({tied} yuan, "
            "deferrals priced) and pooled ({pooled} yuan); the {which} plan is kept, saving "
            "{saving} yuan."
        ),
        "across_none": "No village point is served from another station than its own.",
        "across_skipped": (
            "Villages may be served from a neighbouring station (cross-boundary service), "
            "but the day's budget ({budget}) is below the policy's: the day was planned with "
            "every village at its own station. Give the policy's budget to search the pooled "
            "day."
        ),
        "which_pooled": "pooled",
        "which_tied": "tied",
        "across_some": "{n} village points are served from another station than their own:",
        "across_head": "| village point | its station | served by | vehicle |",
        "settle": "Between stations (each run's km and cost shared by the parcels it carried):",
        "settle_head": "| station | served by | villages | orders | parcels | km | cost (yuan) |",
    },
    "zh": {
        "title": "# 计划汇总 — {scenario}，{date}",
        "status": "状态 **{status}**，求解用时 {solve:.1f} 秒（路网 {network}，{settings}）。",
        "totals": "## 合计",
        "measure": "| 指标 | 数值 |",
        "distance": "里程",
        "hours": "车辆工时",
        "vehicles_used": "用车数",
        "cost": "成本",
        "parcels": "送达/揽收的件数（在本站点交接）",
        "cost_per_parcel": "单件成本",
        "on_time": "村级站点准时停靠（在营业时间内开始作业）",
        "of": "/",
        "points": "今日服务的村级服务点",
        "had_parcels": "个有包裹",
        "poor": "覆盖的重点帮扶村服务点（已到访，或仅因频次暂缓）",
        "poor_none": "今日无包裹",
        "vehicles": "## 用车",
        "vehicles_head": "| 层级 | 车型 | 车辆数 |",
        "load": "## 装载率",
        "load_note": "每条线路的峰值载货 ÷ 容量，按层级取平均。",
        "load_head": "| 层级 | 重量 | 体积 | 件数 | 约束维度 |",
        "routes": "## 线路",
        "routes_head": "| 层级 | 车辆 | 车型 | 始发 | 出发 | 返回 | 趟数 | 停靠 | 公里 | 小时 | 峰值装载 | 成本 |",
        "deferred": "## 暂缓",
        "nothing": "无暂缓：所有订单均已排线。",
        "deferred_head": "| 原因 | 订单 | 件数 |",
        "by_station": "按站点（订单数）：",
        "station": "站点",
        "fit": "可行的安排：",
        "frequency": "- 频次（{points} 个村级服务点的 {n} 个订单）：按隔日配送今日不到访，下一配送日送达",
        "orders": "个订单",
        "more": "- …… 另有 {n} 条建议见 plan.json",
        "late": "## 营业时间外的停靠",
        "late_line": "- {vehicle} 在 {site}，{start} 开始作业",
        "missed": "## 今日未覆盖的重点帮扶村服务点",
        "yuan": "元",
        "km": "公里",
        "h": "小时",
        "across": "## 跨站服务",
        "across_kept": (
            "村服务点可由相邻站点服务（跨站服务）。当日按各村由本站服务规划为 {tied} 元"
            "（含暂缓计价），跨站统筹规划为 {pooled} 元；采用{which}方案，节省 {saving} 元。"
        ),
        "across_none": "没有村服务点由其他站点服务。",
        "across_skipped": (
            "村服务点可由相邻站点服务（跨站服务），但本次计算预算（{budget}）低于策略预算："
            "当日按各村由本站服务规划。给足策略预算即可计算跨站统筹方案。"
        ),
        "which_pooled": "跨站统筹",
        "which_tied": "本站服务",
        "across_some": "{n} 个村服务点由其他站点服务：",
        "across_head": "| 村服务点 | 所属站点 | 服务站点 | 车辆 |",
        "settle": "站点之间（每条线路的里程和成本按其所载件数分摊）：",
        "settle_head": "| 站点 | 服务站点 | 村数 | 订单 | 件数 | 公里 | 成本（元） |",
    },
}
_TIER_ZH: Mapping[str, str] = {
    "trunk_down": "干线下行",
    "last_mile": "村级配送",
    "trunk_up": "干线上行",
}
_REASON_ZH: Mapping[str, str] = {
    "capacity": "运力不足",
    "time": "时间不足",
    "unreachable": "不可达",
    "frequency": "频次",
}
_STATUS_ZH: Mapping[str, str] = {
    "complete": "全部完成",
    "partial": "部分暂缓",
    "infeasible": "必送订单无法送达",
    "no_solution": "无可行方案",
}


def _summary_md(plan: Plan, day: DayInput, k: _Kpis, lang: str = "en") -> str:
    net = day.network
    t = _SUMMARY[lang]
    zh = lang == "zh"

    def tier(x: Tier) -> str:
        return _TIER_ZH[x.value] if zh else x.value

    def reason(x: DeferralReason) -> str:
        return _REASON_ZH[x.value] if zh else x.value

    def cls(x: str) -> str:
        return _CLASS_ZH.get(x, x) if zh else x

    vehicles = {v.id: v for v in day.fleet}
    out = [t["title"].format(scenario=plan.scenario, date=plan.date), ""]
    out.append(
        t["status"].format(
            status=_STATUS_ZH[plan.status.value] if zh else plan.status.value,
            solve=plan.solve_s,
            network=plan.network_version,
            settings=", ".join(f"{a}={b}" for a, b in plan.settings),
        )
    )
    out += ["", t["totals"], "", t["measure"], "|---|---|"]
    out.append(f"| {t['distance']} | {k.km:.1f} {t['km']} |")
    for x in _TIER_ORDER:
        out.append(f"| {t['distance']}, {tier(x)} | {k.km_by_tier[x]:.1f} {t['km']} |")
    out.append(f"| {t['hours']} | {k.hours:.1f} {t['h']} |")
    out.append(f"| {t['vehicles_used']} | {k.vehicles_total} |")
    out.append(f"| {t['cost']} | {k.cost:,.2f} {t['yuan']} |")
    out.append(f"| {t['parcels']} | {k.parcels} |")
    out.append(f"| {t['cost_per_parcel']} | {k.cost_per_parcel:.2f} {t['yuan']} |")
    out.append(f"| {t['on_time']} | {_pct(k.on_time)} {t['of']} {k.visits} |")
    out.append(
        f"| {t['points']} | {k.points_served} {t['of']} {k.points_total} "
        f"({k.points_with_orders} {t['had_parcels']}) |"
    )
    poor = f"{k.poor_covered} {t['of']} {k.poor_needed}" if k.poor_needed else t["poor_none"]
    out.append(f"| {t['poor']} | {poor} |")
    out += ["", t["vehicles"], "", t["vehicles_head"], "|---|---|---|"]
    for (x, c), n in sorted(
        k.vehicles.items(), key=lambda kv: (_TIER_ORDER.index(kv[0][0]), kv[0][1])
    ):
        out.append(f"| {tier(x)} | {cls(c)} | {n} |")
    out += ["", t["load"], "", t["load_note"], "", t["load_head"], "|---|---|---|---|---|"]
    for x, (kg, m3, pc, bind) in k.load_factor.items():
        out.append(f"| {tier(x)} | {_pct(kg)} | {_pct(m3)} | {_pct(pc)} | {_pct(bind)} |")
    out += [
        "",
        t["routes"],
        "",
        t["routes_head"],
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(plan.routes, key=_route_sort_key):
        f = _load_factor(r, vehicles.get(r.vehicle))
        stops = sum(1 for s in r.stops if s.kind is StopKind.VISIT)
        home = f"{_site_name(net, r.home)} ({r.home})" if zh else r.home
        out.append(
            f"| {tier(r.tier)} | {r.vehicle} | {cls(r.vehicle_class)} | {home} | "
            f"{_hhmm(r.stops[0].departure_s)} | {_hhmm(r.stops[-1].arrival_s)} | {r.trips} | "
            f"{stops} | {r.distance_m / 1000:.1f} | {r.duration_s / 3600:.1f} | "
            f"{_pct(max(f)) if f else '?'} | {r.cost:.2f} |"
        )
    out += ["", t["deferred"], ""]
    # a mandatory order deferred makes the plan infeasible: said first, by name
    out += [f"- **{line}**" for line in infeasibilities(plan)]
    if not plan.deferred:
        out.append(t["nothing"])
    else:
        out += [t["deferred_head"], "|---|---|---|"]
        for why in DeferralReason:
            if k.deferred_by_reason[why]:
                out.append(
                    f"| {reason(why)} | {k.deferred_by_reason[why]} | "
                    f"{k.deferred_parcels_by_reason[why]} |"
                )
        reasons = [x for x in DeferralReason if k.deferred_by_reason[x]]
        out += ["", t["by_station"], ""]
        out.append(f"| {t['station']} | " + " | ".join(reason(x) for x in reasons) + " |")
        out.append("|---|" + "---|" * len(reasons))
        for station, counts in sorted(k.deferred_by_station.items()):
            out.append(
                f"| {_site_name(net, station)} ({station}) | "
                + " | ".join(str(counts[x]) for x in reasons)
                + " |"
            )
        hints: Counter[tuple[DeferralReason, str]] = Counter(
            (d.reason, d.suggestion)
            for d in plan.deferred
            if d.suggestion and d.reason is not DeferralReason.FREQUENCY
        )
        frequency = [d for d in plan.deferred if d.reason is DeferralReason.FREQUENCY]
        if hints or frequency:
            out += ["", t["fit"], ""]
        if frequency:
            points = len({d.site for d in frequency})
            out.append(t["frequency"].format(n=len(frequency), points=points))
        ranked = sorted(hints.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
        for (why, text), n in ranked[:_MAX_HINTS]:
            out.append(f"- {reason(why)} ({n} {t['orders']}): {text}")
        if len(ranked) > _MAX_HINTS:
            out.append(t["more"].format(n=len(ranked) - _MAX_HINTS))
    if k.late:
        out += ["", t["late"], ""]
        for vehicle, site, start in k.late:
            out.append(
                t["late_line"].format(
                    vehicle=vehicle, site=f"{_site_name(net, site)} ({site})", start=start
                )
            )
    if k.poor_missed:
        out += ["", t["missed"], ""]
        for p in k.poor_missed:
            out.append(f"- {_site_name(net, p)} ({p})")
    out += _across_md(plan, day, t)
    out.append("")
    return "\n".join(out)


def _across_md(plan: Plan, day: DayInput, t: Mapping[str, str]) -> list[str]:
    """The summary's cross-boundary section: which plan was kept and what it saved, every
    village point served from another station, and who carried whose parcels."""
    said = dict(plan.settings)
    if "cross_boundary_skipped" in said:
        return [
            "",
            t["across"],
            "",
            t["across_skipped"].format(budget=said["cross_boundary_skipped"]),
        ]
    if "cross_boundary" not in said:
        return []
    net = day.network

    def name(site: str) -> str:
        return f"{_site_name(net, site)} ({site})"

    numbers = {
        "tied": said.get("cross_boundary_tied_yuan", "?"),
        "pooled": said.get("cross_boundary_pooled_yuan", "?"),
        "saving": said.get("cross_boundary_saving_yuan", "?"),
    }
    which = t.get(f"which_{said['cross_boundary']}", said["cross_boundary"])
    out = ["", t["across"], "", t["across_kept"].format(which=which, **numbers), ""]
    if not plan.crossings:
        return [*out, t["across_none"]]
    out += [t["across_some"].format(n=len(plan.crossings)), ""]
    out += [t["across_head"], "|---|---|---|---|"]
    for c in plan.crossings:
        out.append(f"| {name(c.site)} | {name(c.own)} | {name(c.served_by)} | {c.vehicle} |")
    lines = settle_stations(plan, station_of(net), day.orders)
    if lines:
        out += ["", t["settle"], "", t["settle_head"], "|---|---|---:|---:|---:|---:|---:|"]
        for x in lines:
            out.append(
                f"| {name(x.own)} | {name(x.served_by)} | {x.villages} | {x.orders} | "
                f"{x.parcels} | {x.km:.1f} | {x.cost:.2f} |"
            )
    return out


def summary_text(plan: Plan, day: DayInput) -> str:
    """A dozen lines for the terminal: the plan's status and what it costs and covers.

    Parameters
    ----------
    plan
        The day's plan.
    day
        The inputs it was made from (network, fleet, orders).

    Returns
    -------
    str
        Lines separated by newlines, without a trailing newline.
    """
    day = _with_plan_parts(plan, day)
    k = _kpis(plan, day)
    # a truck on both trunk waves is one vehicle
    per_class = Counter(cls for _v, cls in {(r.vehicle, r.vehicle_class) for r in plan.routes})
    tiers = ", ".join(
        f"{t.value} {k.km_by_tier[t]:.1f}" for t in _TIER_ORDER if k.km_by_tier[t] > 0
    )
    lf = ", ".join(f"{t.value} {_pct(v[3])}" for t, v in k.load_factor.items())
    deferred = (
        ", ".join(
            f"{r.value} {k.deferred_by_reason[r]}"
            for r in DeferralReason
            if k.deferred_by_reason[r]
        )
        or "none"
    )
    lines = [
        f"{plan.scenario} {plan.date}: {plan.status.value} (solved in {plan.solve_s:.1f} s)",
        f"routes        {len(plan.routes)} with {k.vehicles_total} vehicles ("
        + ", ".join(f"{n} {c}" for c, n in sorted(per_class.items()))
        + ")",
        f"distance      {k.km:.1f} km ({tiers})",
        f"hours         {k.hours:.1f} vehicle-hours",
        f"cost          {k.cost:,.2f} yuan, {k.cost_per_parcel:.2f} per parcel",
        f"parcels       {k.parcels} handed over at their own site",
        f"load factor   {lf or 'n/a'} (peak ÷ capacity, binding dimension)",
        f"on time       {_pct(k.on_time)} of {k.visits} stops start within opening hours",
        f"villages      {k.points_served} of {k.points_total} points served today",
        "poor villages "
        + (
            f"{k.poor_covered} of {k.poor_needed} covered (visited or deferred for frequency)"
            if k.poor_needed
            else "none had parcels today"
        ),
        f"deferred      {len(plan.deferred)} orders ({deferred})",
    ]
    lines += [f"infeasible    {line}" for line in infeasibilities(plan)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- fonts
_CJK_HINTS = (
    "Noto Sans CJK",
    "Noto Serif CJK",
    "Source Han",
    "WenQuanYi",
    "Droid Sans Fallback",
    "SimHei",
    "Microsoft YaHei",
    "PingFang",
    "AR PL",
    "Sarasa",
)


def _cjk_font_path() -> str | None:
    """A font file with Chinese glyphs: fontconfig's answer first, then matplotlib's list."""
    fc = shutil.which("fc-list")
    if fc:
        try:
            res = subprocess.run(
                [fc, ":lang=zh", "file"], capture_output=True, text=True, timeout=5, check=False
            )
            for line in res.stdout.splitlines():
                path = line.strip().rstrip(":").strip()
                if path.lower().endswith((".ttf", ".otf", ".ttc")):
                    return path
        except (OSError, subprocess.SubprocessError):
            pass
    from matplotlib import font_manager

    for entry in font_manager.fontManager.ttflist:
        if any(h.lower() in entry.name.lower() for h in _CJK_HINTS):
            return str(entry.fname)
    return None


@functools.cache
def _fonts() -> tuple[tuple[str, ...], frozenset[int]]:
    """Font families for the pictures and the code points they can draw."""
    from matplotlib import font_manager, ft2font

    families: list[str] = ["DejaVu Sans"]
    paths: list[str] = [str(font_manager.findfont("DejaVu Sans"))]
    cjk = _cjk_font_path()
    if cjk:
        try:
            font_manager.fontManager.addfont(cjk)
            families.append(font_manager.FontProperties(fname=cjk).get_name())
            paths.append(cjk)
        except (OSError, RuntimeError, ValueError):
            pass
    covered: set[int] = set()
    for p in paths:
        try:
            covered.update(ft2font.FT2Font(p).get_charmap())
        except (OSError, RuntimeError, ValueError):
            continue
    return tuple(families), frozenset(covered)


def _drawable(text: str, fallback: str) -> str:
    """``text`` if every glyph can be drawn, else ``fallback`` (a site id)."""
    covered = _fonts()[1]
    return text if all(ord(c) in covered or c.isspace() for c in text) else fallback


# ---------------------------------------------------------------------------------- pictures
_ROAD_STYLE: Mapping[str, tuple[str, float]] = {
    "national": ("#8a8a8a", 1.3),
    "county": ("#9e9e9e", 0.9),
    "town": ("#b5b5b5", 0.6),
    "lane": ("#cccccc", 0.4),
}


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=150)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path, *, tight: bool = False) -> None:
    # Labels are drawn only where the fonts have every glyph (else ids), so these warnings
    # would only come from an odd character in a title; they must not reach the CLI.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*[Gg]lyph.*missing.*")
        warnings.filterwarnings("ignore", message=r".*missing from (current )?font.*")
        if tight:
            fig.savefig(path, dpi=150, facecolor="white", bbox_inches="tight", pad_inches=0.15)
        else:
            fig.savefig(path, dpi=150, facecolor="white")


_PIC: Mapping[str, Mapping[str, str]] = {
    "en": {
        "routes": "{title} — {n} routes, {km:.0f} km, status {status}",
        "complete": "complete",
        "partial": "partial",
        "infeasible": "infeasible (a mandatory order cannot be served)",
        "no_solution": "no solution",
        "trunk_down": "trunk, down wave",
        "trunk_up": "trunk, up wave",
        "last_mile": "village runs",
        "village_run": "village run",
        "road": "road",
        "hub": "hub",
        "station": "station",
        "village_point": "village point",
        "poor": "poor village point",
        "deferred": "orders deferred (capacity, time, reach)",
        "closed": "closed road",
        "bulk": "bulk shipper",
        "boundary": "district boundary",
        "map": "map",
        "vehicles": "vehicles",
        "timeline": "{title} — vehicle timeline",
        "driving": "driving",
        "service": "service",
        "waiting": "waiting",
        "reload": "reload (incl. idle at station)",
        "cross_dock": "cross-dock (trunk arrival → runs may leave)",
        "wave": "wave departure",
        "open": "village points open (every stop of the run)",
        "open_short": "open",
        "roads": "{title} — road ids (for road_closed events)",
    },
    "zh": {
        "routes": "{title} — {n} 条线路，{km:.0f} 公里，状态：{status}",
        "complete": "全部完成",
        "partial": "部分暂缓",
        "infeasible": "必送订单无法送达",
        "no_solution": "无可行方案",
        "trunk_down": "干线下行",
        "trunk_up": "干线上行",
        "last_mile": "村级配送",
        "village_run": "村级配送",
        "road": "道路",
        "hub": "县级物流中心",
        "station": "乡镇服务站",
        "village_point": "村级服务点",
        "poor": "重点帮扶村服务点",
        "deferred": "有暂缓订单（运力、时间、不可达）",
        "closed": "封闭道路",
        "bulk": "大宗发货企业",
        "boundary": "区界",
        "map": "图例",
        "vehicles": "车辆",
        "timeline": "{title} — 车辆时间线",
        "driving": "行驶",
        "service": "装卸",
        "waiting": "等待",
        "reload": "回站装货（含站内等待）",
        "cross_dock": "分拣（干线到达 → 可发车）",
        "wave": "班次发车",
        "open": "村级服务点营业时间（本线路各站共同）",
        "open_short": "营业",
        "roads": "{title} — 道路编号（供 road_closed 事件使用）",
    },
}


def _pic(lang: str, key: str) -> str:
    """A picture's text in ``lang``, in English where the fonts cannot draw it."""
    text = _PIC[lang][key]
    return _drawable(text, _PIC["en"][key]) if lang != "en" else text


def _text_box(
    ax: Any, x: float, y: float, text: str, size: float, offset: tuple[float, float]
) -> tuple[float, float, float, float]:
    """Display-space box (x0, y0, x1, y1) of a left-aligned label at a point plus an offset
    in points; wide (CJK) characters count one em, others 0.6 em."""
    dpi = ax.figure.dpi
    px, py = ax.transData.transform((x, y))
    px += offset[0] * dpi / 72
    py += offset[1] * dpi / 72
    em = size * dpi / 72
    width = sum(1.0 if ord(c) >= 0x2E80 else 0.6 for c in text) * em
    return (px - 1, py - 0.3 * em, px + width + 1, py + 1.0 * em)


def _free(
    box: tuple[float, float, float, float], taken: list[tuple[float, float, float, float]]
) -> bool:
    x0, y0, x1, y1 = box
    return all(x1 <= a0 or a1 <= x0 or y1 <= b0 or b1 <= y0 for a0, b0, a1, b1 in taken)


def _draw_map(
    plan: Plan,
    day: DayInput,
    lines: Sequence[_TripLine],
    colours: Mapping[str, str],
    path: Path,
    lang: str = "en",
) -> None:
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    net = day.network
    xs = [s.x for s in net.sites] + [x for x, _ in net.boundary]
    ys = [s.y for s in net.sites] + [y for _, y in net.boundary]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    padx, pady = max((x1 - x0) * 0.04, 1e-4), max((y1 - y0) * 0.04, 1e-4)
    aspect = 1.0
    if net.crs is Crs.WGS84:
        aspect = 1 / math.cos(math.radians((y0 + y1) / 2))
    span_w, span_h = (x1 - x0 + 2 * padx), (y1 - y0 + 2 * pady) * aspect
    map_w = 9.0
    map_h = min(max(map_w * span_h / span_w, 4.0), 12.0)
    fig = _figure(map_w + 3.6, map_h + 0.8)
    ax = fig.add_axes((0.03, 0.04, map_w / (map_w + 3.6) - 0.03, 0.9))
    ax.set_aspect(aspect)
    ax.set_xlim(x0 - padx, x1 + padx)
    ax.set_ylim(y0 - pady, y1 + pady)
    ax.tick_params(labelsize=6, colors="#777777")
    for spine in ax.spines.values():
        spine.set_color("#bbbbbb")

    if net.boundary:
        bx, by = zip(*net.boundary, strict=True)
        ax.fill(bx, by, color="#f6f4ee", zorder=0)
        ax.plot([*bx, bx[0]], [*by, by[0]], color="#6b6b6b", lw=1.0, ls="-", zorder=1)
    by_class: dict[str, list[Any]] = defaultdict(list)
    closed: list[Any] = []
    for road in net.roads:
        (closed if road.closed else by_class[road.road_class.value]).append(road.coords)
    for cls, segs in by_class.items():
        colour, width = _ROAD_STYLE.get(cls, ("#bbbbbb", 0.5))
        ax.add_collection(LineCollection(segs, colors=colour, linewidths=width, zorder=2))
    if closed:
        ax.add_collection(
            LineCollection(closed, colors="#d08080", linewidths=0.6, linestyles=":", zorder=2)
        )

    # the up wave is drawn hollow (a white core) so it shows where it shares a road with the
    # same truck's down wave
    for tl in lines:
        route = plan.routes[tl.route]
        arr = np.asarray(tl.coords)
        trunk = route.tier is not Tier.LAST_MILE
        up = route.tier is Tier.TRUNK_UP
        ax.plot(
            arr[:, 0],
            arr[:, 1],
            color=colours[route.vehicle],
            lw=4.2 if up else 3.0 if trunk else 1.5,
            alpha=0.85 if trunk else 0.95,
            solid_capstyle="round",
            zorder=4.5 if up else 4 if trunk else 5,
        )
        if up:
            ax.plot(arr[:, 0], arr[:, 1], color="white", lw=1.2, zorder=4.6)

    visited = {s.site for r in plan.routes for s in r.stops if s.kind is StopKind.VISIT}
    held = {d.site for d in plan.deferred if d.reason is not DeferralReason.FREQUENCY}

    def scatter(sites: Sequence[Any], **kw: Any) -> None:
        if sites:
            ax.scatter([s.x for s in sites], [s.y for s in sites], **kw)

    villages = net.of_kind(SiteKind.VILLAGE)
    points = net.village_points
    scatter(villages, s=4, c="#9a9a9a", marker=".", linewidths=0, zorder=6)
    scatter(
        [p for p in points if not p.poor],
        s=[22 if p.id in visited else 12 for p in points if not p.poor],
        c=["white" if p.id in visited else "#dddddd" for p in points if not p.poor],
        edgecolors="#333333",
        linewidths=0.7,
        marker="o",
        zorder=7,
    )
    scatter(
        [p for p in points if p.poor],
        s=[34 if p.id in visited else 20 for p in points if p.poor],
        c="#ffd54f",
        edgecolors="#c62828",
        linewidths=1.3,
        marker="o",
        zorder=7,
    )
    deferred_halo = [patheffects.withStroke(linewidth=4.0, foreground="white")]
    held_sites = [s for s in net.sites if s.id in held]
    if held_sites:
        marks = ax.scatter(
            [p.x for p in held_sites],
            [p.y for p in held_sites],
            s=110,
            c="#d50000",
            marker="X",
            edgecolors="white",
            linewidths=0.8,
            zorder=12,
        )
        marks.set_path_effects(deferred_halo)
    scatter(
        net.of_kind(SiteKind.BULK_SHIPPER),
        s=40,
        c="#795548",
        marker="D",
        edgecolors="white",
        linewidths=0.6,
        zorder=7,
    )
    scatter(
        net.stations, s=90, c="#37474f", marker="^", edgecolors="white", linewidths=0.8, zorder=8
    )
    scatter(net.hubs, s=150, c="black", marker="s", edgecolors="white", linewidths=1.0, zorder=9)

    # a white halo keeps labels readable where they cross routes and roads; labels are
    # placed hub and stations first, then points with deferred orders, poor and visited
    # points, and a label that would overlap one already placed tries the other side of its
    # point, else is left out (the point stays)
    halo = [patheffects.withStroke(linewidth=2, foreground="white")]
    ax.apply_aspect()  # label boxes are measured in the final axes box
    taken: list[tuple[float, float, float, float]] = []

    def rank(site: Any) -> tuple[int, str]:
        if site.kind is SiteKind.HUB:
            return (0, site.id)
        if site.kind is SiteKind.STATION:
            return (1, site.id)
        return (
            2 if site.id in held else 3 if site.poor else 4 if site.id in visited else 5,
            site.id,
        )

    labelled = [
        s for s in net.sites if s.kind in (SiteKind.HUB, SiteKind.STATION, SiteKind.VILLAGE_POINT)
    ]
    for site in sorted(labelled, key=rank):
        big = site.kind in (SiteKind.HUB, SiteKind.STATION)
        text = _drawable(site.name or site.id, site.id)
        size = 8.0 if big else 5.0
        for offset in (
            ((4.0, 4.0), (4.0, -10.0), (-4.0 - len(text) * size * 0.9, 4.0))
            if big
            else (
                (3.0, -6.0),
                (3.0, 3.0),
                (-3.0 - sum(1.0 if ord(c) >= 0x2E80 else 0.6 for c in text) * size, -6.0),
            )
        ):
            box = _text_box(ax, site.x, site.y, text, size, offset)
            if big or _free(box, taken):
                break
        else:
            continue
        taken.append(box)
        ax.annotate(
            text,
            (site.x, site.y),
            xytext=offset,
            textcoords="offset points",
            fontsize=size,
            fontweight="bold" if big else "normal",
            color="#111111" if big else "#444444",
            path_effects=halo,
            zorder=11 if big else 10,
        )

    # scale bar: about a fifth of the map width, a round number of kilometres
    width_m = _length_m(net, [(x0, (y0 + y1) / 2), (x1, (y0 + y1) / 2)]) or 1.0
    nice = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
    bar_km = max([n for n in nice if n * 1000 <= width_m / 4], default=nice[0])
    units_per_m = (x1 - x0) / width_m if x1 > x0 else 1.0
    sx, sy = x0, y0 - pady * 0.5
    ax.plot([sx, sx + bar_km * 1000 * units_per_m], [sy, sy], color="black", lw=2, zorder=10)
    ax.annotate(
        f"{bar_km:g} km",
        (sx, sy),
        xytext=(0, 3),
        textcoords="offset points",
        fontsize=7,
        zorder=10,
    )
    km = sum(r.distance_m for r in plan.routes) / 1000
    title = f"{_drawable(plan.scenario, '')} {plan.date}".strip()
    ax.set_title(
        _pic(lang, "routes").format(
            title=title, n=len(plan.routes), km=km, status=_pic(lang, plan.status.value)
        ),
        fontsize=10,
    )

    vehicle_handles = []
    seen: set[str] = set()
    for route in sorted(plan.routes, key=_route_sort_key):
        if route.vehicle in seen:
            continue
        seen.add(route.vehicle)
        vehicle_handles.append(
            Line2D(
                [],
                [],
                color=colours[route.vehicle],
                lw=3.0 if route.tier is not Tier.LAST_MILE else 1.5,
                label=(
                    f"{route.vehicle} ({_CLASS_ZH.get(route.vehicle_class, route.vehicle_class)}, "
                    f"{_drawable(_site_name(net, route.home), route.home)})"
                    if lang == "zh"
                    else f"{route.vehicle} ({route.vehicle_class}, {route.home})"
                ),
            )
        )
    symbol_handles = [
        Line2D([], [], color="#555555", lw=3.0, label=_pic(lang, "trunk_down")),
        Line2D(
            [],
            [],
            color="white",
            lw=1.2,
            path_effects=[patheffects.withStroke(linewidth=4.2, foreground="#555555")],
            label=_pic(lang, "trunk_up"),
        ),
        Line2D([], [], color="#555555", lw=1.5, label=_pic(lang, "village_run")),
        Line2D([], [], color="#9e9e9e", lw=0.9, label=_pic(lang, "road")),
        Line2D([], [], ls="", marker="s", color="black", markersize=8, label=_pic(lang, "hub")),
        Line2D(
            [], [], ls="", marker="^", color="#37474f", markersize=8, label=_pic(lang, "station")
        ),
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            mfc="white",
            mec="#333333",
            markersize=5,
            label=_pic(lang, "village_point"),
        ),
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            mfc="#ffd54f",
            mec="#c62828",
            mew=1.3,
            markersize=6,
            label=_pic(lang, "poor"),
        ),
        Line2D(
            [],
            [],
            ls="",
            marker="X",
            color="#d50000",
            mec="white",
            markersize=8,
            label=_pic(lang, "deferred"),
        ),
    ]
    if closed:
        symbol_handles.append(
            Line2D([], [], color="#d08080", lw=0.8, ls=":", label=_pic(lang, "closed"))
        )
    if net.of_kind(SiteKind.BULK_SHIPPER):
        symbol_handles.append(
            Line2D(
                [], [], ls="", marker="D", color="#795548", markersize=6, label=_pic(lang, "bulk")
            )
        )
    if net.boundary:
        symbol_handles.append(Line2D([], [], color="#6b6b6b", lw=1.0, label=_pic(lang, "boundary")))
    leg1 = fig.legend(
        handles=symbol_handles,
        loc="upper left",
        bbox_to_anchor=(map_w / (map_w + 3.6) + 0.01, 0.95),
        fontsize=7,
        frameon=False,
        title=_pic(lang, "map"),
        title_fontsize=8,
    )
    fig.add_artist(leg1)
    fig.legend(
        handles=vehicle_handles,
        loc="upper left",
        bbox_to_anchor=(map_w / (map_w + 3.6) + 0.01, 0.6),
        fontsize=6 if len(vehicle_handles) > 20 else 7,
        ncol=2 if len(vehicle_handles) > 24 else 1,
        frameon=False,
        title=_pic(lang, "vehicles"),
        title_fontsize=8,
    )
    _save(fig, path, tight=True)


_SEGMENT_COLOURS: Mapping[str, str] = {
    "driving": "#4e79a7",
    "service": "#f28e2b",
    "waiting": "#d0d0d0",
    "reload": "#b07aa1",
}


def _segments(route: Route) -> dict[str, list[tuple[float, float]]]:
    """(start, width) spans per activity; times a plan got wrong (negative spans) are skipped."""
    out: dict[str, list[tuple[float, float]]] = {k: [] for k in _SEGMENT_COLOURS}
    for prev, stop in zip(route.stops, route.stops[1:], strict=False):
        if stop.arrival_s > prev.departure_s:
            out["driving"].append((prev.departure_s, stop.arrival_s - prev.departure_s))
        if stop.kind is StopKind.RELOAD:
            if stop.departure_s > stop.arrival_s:
                out["reload"].append((stop.arrival_s, stop.departure_s - stop.arrival_s))
            continue
        if stop.start_s > stop.arrival_s:
            out["waiting"].append((stop.arrival_s, stop.start_s - stop.arrival_s))
        if stop.departure_s > stop.start_s:
            out["service"].append((stop.start_s, stop.departure_s - stop.start_s))
    return out


def _cross_dock_windows(plan: Plan, day: DayInput) -> dict[str, tuple[int, int]]:
    """Per station: from the first trunk arrival until its runs may leave.

    The window ends ``cross_dock_s`` after the last trunk has finished unloading there, the
    rule :func:`routing.day.plan_day` synchronises the village runs with.
    """
    stations = {s.id for s in day.network.stations}
    arrivals: dict[str, list[int]] = defaultdict(list)
    unloaded: dict[str, list[int]] = defaultdict(list)
    for r in plan.routes_of(Tier.TRUNK_DOWN):
        for s in r.stops:
            if s.kind is StopKind.VISIT and s.site in stations:
                arrivals[s.site].append(s.arrival_s)
                unloaded[s.site].append(s.departure_s)
    return {
        st: (min(ts), max(unloaded[st]) + day.policy.cross_dock_s)
        for st, ts in arrivals.items()
        if ts
    }


def _draw_timeline(
    plan: Plan, day: DayInput, colours: Mapping[str, str], path: Path, lang: str = "en"
) -> None:
    from matplotlib import patheffects
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    # rows: a header per tier, then one bar per route of that tier
    rows: list[Route | Tier] = []
    for route in sorted(plan.routes, key=_route_sort_key):
        if not rows or (isinstance(rows[-1], Route) and rows[-1].tier is not route.tier):
            rows.append(route.tier)
        rows.append(route)
    row_in, top_in, bottom_in, width_in = 0.24, 0.55, 0.75, 12.0
    height = top_in + bottom_in + row_in * max(len(rows), 1)
    fig = _figure(width_in, height)
    ax = fig.add_axes((0.13, bottom_in / height, 0.84, row_in * max(len(rows), 1) / height))
    times: list[int] = [w.departs_s for w in day.policy.waves]
    for route in plan.routes:
        if route.stops:
            times += [route.stops[0].departure_s, route.stops[-1].arrival_s]
    lo = (min(times) // 1800) * 1800 - 900
    hi = -(-max(times) // 1800) * 1800 + 900
    # seconds one character of a 5 pt label covers (≈ 0.6 em), to keep stop labels apart
    char_s = 5 * 0.6 / 72 * (hi - lo) / (width_in * 0.84)
    halo = [patheffects.withStroke(linewidth=1.5, foreground="white")]
    windows = _cross_dock_windows(plan, day)
    labels: list[str] = []
    for y, row in enumerate(rows):
        if isinstance(row, Tier):
            labels.append(_pic(lang, row.value))
            if y:
                ax.axhline(y - 0.5, color="#999999", lw=0.6, zorder=0)
            continue
        route = row
        if route.tier is Tier.LAST_MILE and route.home in windows:
            t0, t1 = windows[route.home]
            ax.broken_barh(
                [(t0, t1 - t0)],
                (y - 0.42, 0.84),
                facecolors="#fff3c4",
                edgecolors="#e0b000",
                hatch="////",
                linewidth=0.4,
                zorder=1,
            )
        for kind, spans in _segments(route).items():
            if spans:
                ax.broken_barh(spans, (y - 0.3, 0.6), facecolors=_SEGMENT_COLOURS[kind], zorder=2)
        # every stop is labelled (site names under zh where the fonts draw them) unless the
        # previous label still covers its start; village runs show when all their village
        # points are open (the latest opening to the earliest closing) as a thin green line
        free_from = -math.inf
        for s in route.stops:
            if s.kind is StopKind.VISIT and s.start_s >= free_from:
                text = (
                    _drawable(_site_name(day.network, s.site), s.site) if lang == "zh" else s.site
                )
                ax.annotate(
                    text,
                    (s.start_s, y),
                    xytext=(1, 0),
                    textcoords="offset points",
                    fontsize=5,
                    color="#222222",
                    va="center",
                    path_effects=halo,
                    zorder=3,
                )
                wide = sum(1.7 if ord(c) >= 0x2E80 else 1.0 for c in text)
                free_from = s.start_s + (wide + 1) * char_s
        if route.tier is Tier.LAST_MILE:
            sites = [
                day.network.site(s.site)
                for s in route.stops
                if s.kind is StopKind.VISIT and s.site in day.network.index
            ]
            if sites:
                opens = max(x.opens_s for x in sites)
                closes = min(x.closes_s for x in sites)
                # the common opening window: green ticks where it starts or ends inside the
                # day shown, and its hours at the row's right end
                for edge in (opens, closes):
                    if lo < edge < hi:
                        ax.plot(
                            [edge, edge], [y - 0.42, y + 0.42], color="#2e7d32", lw=1.6, zorder=3.5
                        )
                ax.annotate(
                    f"{_pic(lang, 'open_short')} {_hhmm(opens)}–{_hhmm(closes)}",
                    (1.0, y),
                    xycoords=("axes fraction", "data"),
                    xytext=(-2, 0),
                    textcoords="offset points",
                    ha="right",
                    va="center",
                    fontsize=5,
                    color="#2e7d32",
                    zorder=3,
                )
        where = f"  @{route.home}" if route.tier is Tier.LAST_MILE else ""
        if lang == "zh":
            cls = _CLASS_ZH.get(route.vehicle_class, route.vehicle_class)
            if route.tier is Tier.LAST_MILE:
                where = f"  @{_drawable(_site_name(day.network, route.home), route.home)}"
            labels.append(_drawable(f"{route.vehicle}（{cls}）{where}", route.vehicle))
        else:
            labels.append(f"{route.vehicle} ({route.vehicle_class}){where}")
    ax.set_xlim(lo, hi)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    for w in day.policy.waves:
        ax.axvline(w.departs_s, color="#c62828", lw=1.0, ls="--", zorder=4)
        ax.annotate(
            f"{w.id} {_hhmm(w.departs_s)}",
            (w.departs_s, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, 2),
            textcoords="offset points",
            fontsize=7,
            color="#c62828",
        )
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.tick_params(axis="y", length=0)
    for tick, row in zip(ax.get_yticklabels(), rows, strict=True):
        if isinstance(row, Tier):
            tick.set_fontweight("bold")
            tick.set_color("#333333")
        else:
            tick.set_color(_readable(colours.get(row.vehicle, "#000000")))
    ax.xaxis.set_major_locator(MultipleLocator(3600))
    ax.xaxis.set_minor_locator(MultipleLocator(900))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _hhmm(v)))
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", which="major", color="#eeeeee", zorder=0)
    ax.set_axisbelow(True)
    title = f"{_drawable(plan.scenario, '')} {plan.date}".strip()
    ax.set_title(_pic(lang, "timeline").format(title=title), fontsize=10, pad=14)
    # a reload stop records arrival and departure only: idle time there shows as reload
    handles: list[Any] = [
        Patch(facecolor=c, label=_pic(lang, k)) for k, c in _SEGMENT_COLOURS.items()
    ]
    handles.append(
        Patch(
            facecolor="#fff3c4",
            edgecolor="#e0b000",
            hatch="////",
            label=_pic(lang, "cross_dock"),
        )
    )
    handles.append(Patch(facecolor="white", edgecolor="#c62828", ls="--", label=_pic(lang, "wave")))
    handles.append(Line2D([], [], color="#2e7d32", lw=1.6, label=_pic(lang, "open")))
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        fontsize=7,
        frameon=False,
        bbox_to_anchor=(0.55, 0.05 / height),
    )
    _save(fig, path, tight=True)


def _draw_roads(plan: Plan, day: DayInput, path: Path, lang: str = "en") -> None:
    """Every road with its id at its middle (closed roads red), sites as dots: the layer a
    dispatcher reads a ``road_closed`` event's road id from."""
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection

    net = day.network
    xs = [x for r in net.roads for x, _ in r.coords] + [x for x, _ in net.boundary]
    ys = [y for r in net.roads for _, y in r.coords] + [y for _, y in net.boundary]
    if not xs:
        xs, ys = [s.x for s in net.sites], [s.y for s in net.sites]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    aspect = 1 / math.cos(math.radians((y0 + y1) / 2)) if net.crs is Crs.WGS84 else 1.0
    span_w, span_h = max(x1 - x0, 1e-9), max((y1 - y0) * aspect, 1e-9)
    w = 14.0
    h = min(max(w * span_h / span_w, 4.0), 18.0)
    fig = _figure(w, h + 0.6)
    ax = fig.add_axes((0.02, 0.02, 0.96, h / (h + 0.6) - 0.02))
    ax.set_aspect(aspect)
    ax.set_xlim(x0 - 0.02 * span_w, x1 + 0.02 * span_w)
    ax.set_ylim(y0 - 0.02 * (y1 - y0), y1 + 0.02 * (y1 - y0))
    ax.set_axis_off()
    if net.boundary:
        bx, by = zip(*net.boundary, strict=True)
        ax.plot([*bx, bx[0]], [*by, by[0]], color="#9e9e9e", lw=0.8, zorder=1)
    for cls in ("lane", "town", "county", "national"):
        segs = [r.coords for r in net.roads if r.road_class.value == cls and not r.closed]
        colour, width = _ROAD_STYLE.get(cls, ("#bbbbbb", 0.5))
        if segs:
            ax.add_collection(LineCollection(segs, colors=colour, linewidths=width * 1.4, zorder=2))
    closed = [r.coords for r in net.roads if r.closed]
    if closed:
        ax.add_collection(LineCollection(closed, colors="#d50000", linewidths=1.2, zorder=3))
    ax.scatter([s.x for s in net.sites], [s.y for s in net.sites], s=3, c="#555555", zorder=4)
    ax.apply_aspect()
    halo = [patheffects.withStroke(linewidth=1.6, foreground="white")]
    taken: list[tuple[float, float, float, float]] = []
    for site in (*net.hubs, *net.stations):  # for orientation
        text = _drawable(site.name or site.id, site.id)
        taken.append(_text_box(ax, site.x, site.y, text, 7.0, (3.0, 3.0)))
        ax.annotate(
            text,
            (site.x, site.y),
            xytext=(3.0, 3.0),
            textcoords="offset points",
            fontsize=7,
            fontweight="bold",
            path_effects=halo,
            zorder=6,
        )
    order = sorted(net.roads, key=lambda r: (not r.closed, -_length_m(net, r.coords), r.id))
    for road in order:
        mx, my = road.coords[len(road.coords) // 2]
        if len(road.coords) == 2:
            (ax_, ay_), (bx_, by_) = road.coords
            mx, my = (ax_ + bx_) / 2, (ay_ + by_) / 2
        box = _text_box(ax, mx, my, road.id, 4.0, (-6.0, -1.5))
        if not _free(box, taken):
            continue
        taken.append(box)
        ax.annotate(
            road.id,
            (mx, my),
            xytext=(-6.0, -1.5),
            textcoords="offset points",
            fontsize=4,
            color="#d50000" if road.closed else "#1a237e",
            path_effects=halo,
            zorder=5,
        )
    title = f"{_drawable(plan.scenario, '')} {plan.date}".strip()
    ax.set_title(_pic(lang, "roads").format(title=title), fontsize=10)
    _save(fig, path, tight=True)


def _draw(
    plan: Plan,
    day: DayInput,
    lines: Sequence[_TripLine],
    colours: Mapping[str, str],
    out_dir: Path,
    lang: str = "en",
) -> None:
    from matplotlib import rc_context

    families, _ = _fonts()
    # a CJK font without a bold face makes matplotlib log "findfont: ... now using 400"
    log = logging.getLogger("matplotlib.font_manager")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with rc_context({"font.family": list(families), "axes.unicode_minus": True}):
            _draw_map(plan, day, lines, colours, out_dir / "map.png", lang)
            _draw_timeline(plan, day, colours, out_dir / "timeline.png", lang)
            _draw_roads(plan, day, out_dir / "roads.png", lang)
    finally:
        log.setLevel(level)


# ---------------------------------------------------------------------------------- writer
def _file_part(ident: str) -> str:
    """An id made safe for a file name (ids are usually safe already)."""
    return re.sub(r"[^\w.-]", "_", ident) or "_"


def _write(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_text(text, encoding="utf-8-sig" if bom else "utf-8", newline="")
    return path


PICTURES = ("map.png", "timeline.png", "roads.png")
"""The plan's pictures: most of the time it takes to write a plan folder (seconds for a
county, against a fraction of one for everything else), so ``countyroute plan`` draws them
only on request (``--outputs all``, or ``countyroute render DIR`` afterwards)."""


def write_plan_outputs(
    plan: Plan, day: DayInput, out_dir: Path, *, lang: str = "en", pictures: bool = True
) -> dict[str, Path]:
    """Write the plan's data files, manifests, route sheets, summary and (optionally)
    pictures.

    Parameters
    ----------
    plan
        The day's plan.
    day
        The inputs the plan was made from: the network gives names, coordinates, roads and
        contacts, the fleet gives capacities and drivers, the orders give carriers and loads.
    out_dir
        The folder to write into (created if missing). Files from an earlier plan in
        ``manifests/`` and ``sheets/`` are removed so no stale manifest survives.
    lang
        ``"en"`` or ``"zh"``: the language of the route sheets' headings and labels.
    pictures
        Draw :data:`PICTURES` too; without them, pictures left in ``out_dir`` by an earlier
        plan are removed (they would show another plan).

    Returns
    -------
    dict[str, Path]
        Each written file by its path relative to ``out_dir`` (``"plan.json"``,
        ``"manifests/trunk_down-truck1.csv"``, ``"sheets/van1.md"``, ``"map.png"`` …).

    Raises
    ------
    ValueError
        If ``lang`` is not supported.
    """
    if lang not in _LABELS:
        raise ValueError(f"lang must be one of {', '.join(_LABELS)}, got {lang!r}")
    day = _with_plan_parts(plan, day)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    orders = _orders(day)
    colours = vehicle_colours(plan)

    written["plan.json"] = _write(out_dir / "plan.json", dumps(plan))

    lines = _trip_lines(plan, day.network)
    geo = _routes_geojson(plan, day, lines, colours)
    written["routes.geojson"] = _write(
        out_dir / "routes.geojson", json.dumps(geo, ensure_ascii=False, allow_nan=False)
    )

    manifests = out_dir / "manifests"
    sheets = out_dir / "sheets"
    for folder, pattern in ((manifests, "*.csv"), (sheets, "*.md")):
        folder.mkdir(exist_ok=True)
        for old in folder.glob(pattern):
            old.unlink()
    for route in plan.routes:
        name = f"manifests/{route.tier.value}-{_file_part(route.vehicle)}.csv"
        if name in written:  # the same vehicle twice in one tier (two waves)
            name = f"manifests/{route.tier.value}-{_file_part(route.vehicle)}-{_file_part(route.wave)}.csv"
        written[name] = _write(out_dir / name, _manifest_csv(route, day.network, orders), bom=True)
    by_vehicle: dict[str, list[Route]] = defaultdict(list)
    for route in sorted(plan.routes, key=lambda r: _TIER_ORDER.index(r.tier)):
        by_vehicle[route.vehicle].append(route)
    for vehicle, routes in by_vehicle.items():
        name = f"sheets/{_file_part(vehicle)}.md"
        written[name] = _write(out_dir / name, _route_sheet(vehicle, routes, plan, day, lang))

    written["summary.md"] = _write(
        out_dir / "summary.md", _summary_md(plan, day, _kpis(plan, day), lang)
    )

    if not pictures:
        for name in PICTURES:
            (out_dir / name).unlink(missing_ok=True)
        return written
    _draw(plan, day, lines, colours, out_dir, lang)
    for name in PICTURES:
        written[name] = out_dir / name
    return written
