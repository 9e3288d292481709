"""What-if simulation: apply a change to a scenario and plan N seeded demand days with the real
planner, then compare KPIs with their spread across days, side by side on the same days.

**Change files** (TOML, ``docs/planner.md``): add, move or close village points and stations;
add or remove vehicles; grow demand (``growth_per_year``, ``years``); override policy fields
(e.g. every-other-day threshold ``daily_min_parcels``); plan each carrier alone instead of
jointly; carry some villages' parcels on scheduled rural bus lines.

**Same demand days.** Demand is always generated on the *base* network
(:func:`scenarios.demand.generate_demand`, one demand seed, consecutive dates), so both sides
of a comparison see the same residents ordering the same parcels. When a change moves the
point or station that serves a village, each order is handed to the site that now serves it:
an order of point P belongs to one of the villages behind P (P itself and the villages
attached to it), drawn in proportion to population by a hash of the order id — deterministic
and the same on every machine.

**Rural bus lines** (passenger-cargo-mail, 客货邮). A line leaves its town station at fixed
times; each trip's hold takes at most ``hold_kg``/``hold_m3``/``hold_parcels`` each way, at
``fee_per_parcel``. Down parcels for the line's village points (not bulky ones) are handed
over at the station: they ride the first trip, after the trunk can be there (down wave
departure + hub→station drive + trunk service + cross-dock), with room, or the next morning's
trips before that time (one day more hub→village); the rest stay with the vans. Up parcels
ride trips that are back at the station by the village cut-off. Parcels on the bus become
orders at the station (the trunk still carries them) and are not on any van run; the fee is
added to the day's cost; their villages count as served that day. The bus's own km and hours
are not the network's (it runs anyway).

**Joint vs alone.** With ``[carriers] alone = true`` each carrier's orders are planned on their
own (same network, fleet, policy and budget, as :func:`routing.savings.consolidation_savings`
does) and the KPIs are the sums.

KPIs per day (:class:`DayKpis`): cost (routes + bus fees, yuan), km, vehicle-hours, vehicles
used, parcels served, cost per parcel, deferred parcels (all, and those deferred for capacity,
time or reach), share of administrative villages and of poor villages served that day, and
mean days from hub to village of the down parcels to village points (0 served today;
a deferred parcel counts the days until its planned day).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time
import tomllib
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from networks import UNREACHABLE, InvalidScenario, Network, Site, SiteKind, parse_clock
from routing import DayInput
from routing.model import Direction, Order, Vehicle
from routing.plan import DeferralReason, Plan, StopKind, Tier
from routing.savings import Kpis, plan_kpis
from scenarios.demand import DemandParams, generate_demand
from scenarios.scaleout import PlanSettings, SerialExecutor

if TYPE_CHECKING:
    from scenarios.bundle import Scenario
    from scenarios.scaleout import Executor, Progress

__all__ = [
    "KPIS",
    "AddPoint",
    "AddStation",
    "BusLine",
    "Change",
    "DayKpis",
    "FleetAdd",
    "FleetRemove",
    "KpiComparison",
    "SimulationResult",
    "SimulationSettings",
    "Spread",
    "Variant",
    "apply_change",
    "grown_demand",
    "load_change",
    "parse_change",
    "run_simulation",
    "simulate_day",
]

CHANGE_SCHEMA_VERSION = 1


# ------------------------------------------------------------------------------ the change
@dataclass(frozen=True, slots=True)
class AddPoint:
    site: str
    """An administrative village (or a candidate site) that gets a village point."""
    station: str | None = None
    """Its station (default: the nearest by road)."""


@dataclass(frozen=True, slots=True)
class AddStation:
    site: str
    """Built at this village or candidate site (a candidate site becomes the station)."""
    id: str | None = None
    vans: int = 0
    tricycles: int = 0
    take_points: bool = True
    """Village points nearer to it by road than to their own station move to it."""


@dataclass(frozen=True, slots=True)
class FleetAdd:
    home: str
    vehicle_class: str
    count: int = 1
    like: str | None = None
    """Template vehicle (capacities, costs, shift); default the fleet's first of the class."""


@dataclass(frozen=True, slots=True)
class FleetRemove:
    ids: tuple[str, ...] = ()
    home: str | None = None
    vehicle_class: str | None = None
    count: int = 0
    """Remove ``count`` vehicles of this class at this home (the last ones by id)."""


@dataclass(frozen=True, slots=True)
class BusLine:
    """A scheduled rural bus line carrying parcels (passenger-cargo-mail)."""

    id: str
    station: str
    """The town station the line leaves from, where parcels are handed over."""
    villages: tuple[str, ...]
    """Village points on the line."""
    departures_s: tuple[int, ...]
    """Departure times of the day's trips from the station (s after midnight)."""
    round_trip_s: int = 90 * 60
    hold_kg: float = 300.0
    hold_m3: float = 1.0
    hold_parcels: int = 80
    fee_per_parcel: float = 0.6
    carries_up: bool = True


@dataclass(frozen=True)
class Change:
    """A what-if change; the empty change is the scenario as it is."""

    name: str = "as is"
    description: str = ""
    growth_per_year: float = 0.0
    years: float = 1.0
    demand_factor_override: float | None = None
    policy: tuple[tuple[str, Any], ...] = ()
    carriers_alone: bool = False
    add_points: tuple[AddPoint, ...] = ()
    close_points: tuple[str, ...] = ()
    move_points: tuple[tuple[str, str], ...] = ()
    add_stations: tuple[AddStation, ...] = ()
    close_stations: tuple[tuple[str, bool], ...] = ()
    """(station, move its vehicles to the nearest remaining station)."""
    move_stations: tuple[tuple[str, str], ...] = ()
    fleet_add: tuple[FleetAdd, ...] = ()
    fleet_remove: tuple[FleetRemove, ...] = ()
    bus_lines: tuple[BusLine, ...] = ()
    source: str = field(default="", compare=False)

    @property
    def demand_factor(self) -> float:
        """Demand multiplier: the override, else (1 + growth) ** years."""
        if self.demand_factor_override is not None:
            return self.demand_factor_override
        return float((1 + self.growth_per_year) ** self.years)

    @property
    def changes_structure(self) -> bool:
        return bool(
            self.add_points
            or self.close_points
            or self.move_points
            or self.add_stations
            or self.close_stations
            or self.move_stations
        )

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["policy"] = dict(self.policy)
        doc["demand_factor"] = round(self.demand_factor, 6)
        doc.pop("source", None)
        return doc


def _strict_bool(raw: Any) -> bool:
    """TOML true/false only: ``bool("maybe")`` would be True."""
    if isinstance(raw, bool):
        return raw
    raise ValueError("expected true or false")


def _strict_int(raw: Any) -> int:
    """A whole number (not a bool, not 2.5)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or int(raw) != raw:
        raise ValueError("expected a whole number")
    return int(raw)


# policy keys a change may set: key → (Policy field, converter)
_POLICY: Mapping[str, tuple[str, Callable[[Any], Any]]] = {
    "daily_min_parcels": ("daily_min_parcels", _strict_int),
    "poor_min_visits_per_week": ("poor_min_visits_per_week", _strict_int),
    "reloads": ("reloads", _strict_bool),
    "max_trips": ("max_trips", _strict_int),
    "cross_boundary": ("cross_boundary", _strict_bool),
    "cross_dock_min": ("cross_dock_s", lambda v: round(float(v) * 60)),
    "wave_window_min": ("wave_window_s", lambda v: round(float(v) * 60)),
    "village_cutoff": ("village_cutoff_s", lambda v: parse_clock(str(v))),
    "hub_return": ("hub_return_s", lambda v: parse_clock(str(v))),
    "deferral_cost_per_parcel": ("deferral_cost_per_parcel", float),
    "poor_village_weight": ("poor_village_weight", float),
}


class _Reader:
    """Typed access to a TOML table, naming file, table and key in errors."""

    def __init__(self, doc: Mapping[str, Any], where: str, source: str) -> None:
        self.doc = doc
        self.where = where
        self.source = source

    def fail(self, message: str, key: str = "") -> InvalidScenario:
        return InvalidScenario(message, source=self.source, location=self.where, field=key)

    def known(self, *keys: str) -> None:
        for k in self.doc:
            if k not in keys:
                raise self.fail(f"unknown key {k!r} (expected {', '.join(keys)})", k)

    def get(self, key: str, kind: type[Any], default: Any = None, *, required: bool = False) -> Any:
        if key not in self.doc:
            if required:
                raise self.fail("is required", key)
            return default
        value = self.doc[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(f"expected {kind.__name__}, got {value!r}", key)
        if kind is float and not math.isfinite(value):  # TOML allows inf and nan
            raise self.fail(f"expected a finite number, got {value!r}", key)
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.doc.get(key, [])
        if isinstance(value, str):
            return (value,)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail("expected a list of ids", key)
        return tuple(value)

    def tables(self, key: str) -> list[_Reader]:
        value = self.doc.get(key, [])
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail("expected one or more tables", key)
        return [_Reader(v, f"{self.where}{key}[{k}]", self.source) for k, v in enumerate(value)]

    def table(self, key: str) -> _Reader:
        value = self.doc.get(key, {})
        if not isinstance(value, dict):
            raise self.fail("expected a table", key)
        return _Reader(value, f"[{key}] ", self.source)


def parse_change(doc: Mapping[str, Any], source: str = "change") -> Change:
    """A :class:`Change` from a parsed TOML document; raises InvalidScenario naming the table
    and key of the first fault."""
    top = _Reader(doc, "", source)
    top.known(
        "schema_version",
        "name",
        "description",
        "demand",
        "policy",
        "carriers",
        "points",
        "stations",
        "fleet",
        "bus_lines",
    )
    version = top.get("schema_version", int, CHANGE_SCHEMA_VERSION)
    if version != CHANGE_SCHEMA_VERSION:
        raise top.fail(f"schema_version {version} is not supported", "schema_version")
    demand = top.table("demand")
    demand.known("growth_per_year", "years", "factor")
    factor = demand.get("factor", float)
    if factor is not None and factor <= 0:
        raise demand.fail("must be > 0", "factor")
    growth = demand.get("growth_per_year", float, 0.0)
    if growth <= -1:
        raise demand.fail("must be > -1", "growth_per_year")
    pol = top.table("policy")
    pol.known(*_POLICY)
    policy = []
    for key, raw in pol.doc.items():
        name, conv = _POLICY[key]
        try:
            value = conv(raw)
        except (TypeError, ValueError, OverflowError) as exc:
            raise pol.fail(f"bad value {raw!r}: {exc}", key) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise pol.fail(f"expected a finite number, got {raw!r}", key)
        policy.append((name, value))
    carriers = top.table("carriers")
    carriers.known("alone")
    points = top.table("points")
    points.known("add", "close", "move")
    stations = top.table("stations")
    stations.known("add", "close", "move")
    fleet = top.table("fleet")
    fleet.known("add", "remove")

    def add_point(r: _Reader) -> AddPoint:
        r.known("site", "station")
        return AddPoint(r.get("site", str, required=True), r.get("station", str))

    def add_station(r: _Reader) -> AddStation:
        r.known("site", "id", "vans", "tricycles", "take_points")
        return AddStation(
            r.get("site", str, required=True),
            r.get("id", str),
            r.get("vans", int, 0),
            r.get("tricycles", int, 0),
            r.get("take_points", bool, True),
        )

    def fleet_add(r: _Reader) -> FleetAdd:
        r.known("home", "class", "count", "like")
        count = r.get("count", int, 1)
        if count < 1:
            raise r.fail("must be >= 1", "count")
        return FleetAdd(
            r.get("home", str, required=True),
            r.get("class", str, required=True),
            count,
            r.get("like", str),
        )

    def fleet_remove(r: _Reader) -> FleetRemove:
        r.known("ids", "home", "class", "count")
        out = FleetRemove(r.strings("ids"), r.get("home", str), r.get("class", str))
        if not out.ids:
            if out.home is None or out.vehicle_class is None:
                raise r.fail("give ids, or home and class (and count)", "ids")
            out = replace(out, count=r.get("count", int, 1))
        return out

    def bus_line(r: _Reader) -> BusLine:
        r.known(
            "id",
            "station",
            "villages",
            "departures",
            "round_trip_min",
            "hold_kg",
            "hold_m3",
            "hold_parcels",
            "fee_per_parcel",
            "carries_up",
        )
        try:
            departures = tuple(sorted(parse_clock(t) for t in r.strings("departures")))
        except ValueError as exc:
            raise r.fail(str(exc), "departures") from None
        if not departures:
            raise r.fail("a bus line needs at least one departure", "departures")
        line = BusLine(
            id=r.get("id", str, required=True),
            station=r.get("station", str, required=True),
            villages=r.strings("villages"),
            departures_s=departures,
            round_trip_s=round(r.get("round_trip_min", float, 90.0) * 60),
            hold_kg=r.get("hold_kg", float, 300.0),
            hold_m3=r.get("hold_m3", float, 1.0),
            hold_parcels=r.get("hold_parcels", int, 80),
            fee_per_parcel=r.get("fee_per_parcel", float, 0.6),
            carries_up=r.get("carries_up", bool, True),
        )
        if not line.villages:
            raise r.fail("a bus line needs village points", "villages")
        if min(line.hold_kg, line.hold_m3, line.hold_parcels) <= 0 or line.fee_per_parcel < 0:
            raise r.fail("holds must be > 0 and the fee >= 0", "hold_m3")
        return line

    def pairs(r: _Reader) -> tuple[str, str]:
        r.known("site", "to")
        return r.get("site", str, required=True), r.get("to", str, required=True)

    def close(r: _Reader) -> str:
        r.known("site")
        return str(r.get("site", str, required=True))

    def close_station(r: _Reader) -> tuple[str, bool]:
        r.known("site", "move_vehicles")
        return r.get("site", str, required=True), r.get("move_vehicles", bool, True)

    return Change(
        name=top.get("name", str, Path(source).stem or "change"),
        description=top.get("description", str, ""),
        growth_per_year=growth,
        years=demand.get("years", float, 1.0),
        demand_factor_override=factor,
        policy=tuple(policy),
        carriers_alone=carriers.get("alone", bool, False),
        add_points=tuple(add_point(r) for r in points.tables("add")),
        close_points=tuple(close(r) for r in points.tables("close")),
        move_points=tuple(pairs(r) for r in points.tables("move")),
        add_stations=tuple(add_station(r) for r in stations.tables("add")),
        close_stations=tuple(close_station(r) for r in stations.tables("close")),
        move_stations=tuple(pairs(r) for r in stations.tables("move")),
        fleet_add=tuple(fleet_add(r) for r in fleet.tables("add")),
        fleet_remove=tuple(fleet_remove(r) for r in fleet.tables("remove")),
        bus_lines=tuple(bus_line(r) for r in top.tables("bus_lines")),
        source=source,
    )


def load_change(path: str | os.PathLike[str]) -> Change:
    """Read and validate a change file (TOML)."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InvalidScenario("file not found", source=str(p)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidScenario(f"not valid TOML: {exc}", source=p.name) from None
    return parse_change(doc, source=p.name)


# ------------------------------------------------------------------------------ applying it
@dataclass(frozen=True)
class Variant:
    """A scenario as changed, with what the simulation needs to give it the base's demand."""

    name: str
    base: Scenario
    """Demand is generated on this network."""
    scenario: Scenario
    """Planned on this one."""
    change: Change
    behind: Mapping[str, tuple[tuple[str, int], ...]]
    """Base order site (village point) → (village, weight) behind it; empty: no remapping."""
    serving: Mapping[str, str]
    """Village (or base site) → the site serving it in the changed network."""


class _Roads:
    """Road distances (m, shorter direction) between the base network's sites, one class."""

    def __init__(self, network: Network, vehicle_class: str) -> None:
        self.network = network
        self.vehicle_class = vehicle_class
        self.pos = {s.id: i for i, s in enumerate(network.sites)}
        self._d: NDArray[np.int64] | None = None

    def __call__(self, a: str, b: str) -> int:
        if self._d is None:  # built on first use: changes without sites need no matrix
            ids = tuple(s.id for s in self.network.sites)
            m = self.network.road_index.matrix(ids, self.vehicle_class).distance_m
            self._d = np.minimum(m, m.T)
        return int(self._d[self.pos[a], self.pos[b]])

    def nearest(self, a: str, options: Sequence[str]) -> str | None:
        best = min(options, key=lambda o: (self(a, o), o), default=None)
        return best if best is not None and self(a, best) < UNREACHABLE else None


def _class_of(network: Network) -> str:
    names = {vc.name for vc in network.vehicle_classes}
    return "van" if "van" in names else sorted(names)[0]


def _vehicle_like(fleet: Sequence[Vehicle], cls: str, like: str | None, where: str) -> Vehicle:
    if like is not None:
        found = [v for v in fleet if v.id == like]
        if not found:
            raise InvalidScenario(f"no vehicle {like!r} to copy", location=where, field="like")
        return found[0]
    same = sorted((v for v in fleet if v.vehicle_class == cls), key=lambda v: v.id)
    if not same:
        classes = ", ".join(sorted({v.vehicle_class for v in fleet}))
        raise InvalidScenario(
            f"no {cls} in the fleet to copy (classes: {classes}); name one with like",
            location=where,
            field="class",
        )
    return same[0]


def apply_change(base: Scenario, change: Change) -> Variant:
    """The base scenario with the change applied (validated like any scenario).

    Raises
    ------
    InvalidScenario
        Naming the change file, the entry and the key: an unknown site, a point that is not a
        village, a closed station's points with nowhere to go, a changed network whose points
        its stations' vehicles cannot reach…
    """
    from scenarios.bundle import Scenario

    src = change.source or change.name
    net = base.network
    sites: dict[str, Site] = {s.id: s for s in net.sites}
    fleet = list(base.fleet)
    roads = _Roads(net, _class_of(net))
    # where a (new or moved) station stands: the base site whose location it takes
    location: dict[str, str] = {s.id: s.id for s in net.sites}

    def fail(message: str, where: str, key: str = "site") -> InvalidScenario:
        return InvalidScenario(message, source=src, location=where, field=key)

    def need(site_id: str, where: str, *kinds: SiteKind) -> Site:
        if site_id not in sites:
            raise fail(f"unknown site {site_id!r}", where)
        s = sites[site_id]
        if kinds and s.kind not in kinds:
            raise fail(f"{site_id!r} is a {s.kind}, expected {' or '.join(kinds)}", where)
        return s

    def stations() -> list[str]:
        return [s.id for s in sites.values() if s.kind is SiteKind.STATION]

    def dist_station(station: str, site: str) -> int:
        return roads(location[station], site)

    def nearest_station(site: str, exclude: set[str] | frozenset[str] = frozenset()) -> str | None:
        options = [s for s in stations() if s not in exclude]
        return min(options, key=lambda s: (dist_station(s, site), s), default=None)

    # -- stations -------------------------------------------------------------------------
    station_map: dict[str, str] = {}
    for k, (sid, move_vehicles) in enumerate(change.close_stations):
        where = f"stations.close[{k}]"
        need(sid, where, SiteKind.STATION)
        target = nearest_station(location[sid], exclude={sid})
        if target is None:
            raise fail("the last station cannot be closed", where)
        station_map[sid] = target
        for s in list(sites.values()):
            if s.parent == sid:
                sites[s.id] = replace(s, parent=nearest_station(s.id, exclude={sid}) or target)
        if move_vehicles:
            fleet = [replace(v, home=target) if v.home == sid else v for v in fleet]
        else:
            fleet = [v for v in fleet if v.home != sid]
        del sites[sid]
    for k, (sid, to) in enumerate(change.move_stations):
        where = f"stations.move[{k}]"
        st = need(sid, where, SiteKind.STATION)
        dest = need(to, where)
        sites[sid] = replace(st, x=dest.x, y=dest.y, terrain=dest.terrain)
        location[sid] = location[to]
    hubs = [s.id for s in net.hubs]
    for k, add in enumerate(change.add_stations):
        where = f"stations.add[{k}]"
        at = need(add.site, where, SiteKind.VILLAGE, SiteKind.VILLAGE_POINT, SiteKind.CANDIDATE)
        hub = min(hubs, key=lambda h: (roads(h, add.site), h))
        if at.kind is SiteKind.CANDIDATE and add.id in (None, at.id):
            new_id = at.id
            sites[new_id] = replace(at, kind=SiteKind.STATION, parent=hub)
        else:
            new_id = add.id or f"st-new-{at.id}"
            if new_id in sites:
                raise fail(f"site id {new_id!r} is taken", where, "id")
            sites[new_id] = Site(
                new_id,
                f"{at.name} station",
                SiteKind.STATION,
                at.x,
                at.y,
                hub,
                0,
                False,
                at.terrain,
            )
        location[new_id] = at.id
        if add.take_points:
            for p in list(sites.values()):
                if (
                    p.kind is SiteKind.VILLAGE_POINT
                    and p.parent
                    and p.parent != new_id
                    and dist_station(new_id, p.id) < dist_station(p.parent, p.id)
                ):
                    sites[p.id] = replace(p, parent=new_id)
        for cls, count in (("van", add.vans), ("tricycle", add.tricycles)):
            if count:
                tpl = _vehicle_like(fleet, cls, None, where)
                fleet += [
                    replace(tpl, id=f"{cls}-{new_id}-{n + 1}", home=new_id, name="", driver="")
                    for n in range(count)
                ]

    # -- points ---------------------------------------------------------------------------
    def points_of(station: str | None) -> list[str]:
        return [
            s.id
            for s in sites.values()
            if s.kind is SiteKind.VILLAGE_POINT and (station is None or s.parent == station)
        ]

    def reattach(village: str, station: str | None, exclude: str = "") -> None:
        """Hang a village on the nearest point of ``station`` (or the station itself)."""
        options = [p for p in points_of(station) if p != exclude]
        best = roads.nearest(village, options)
        s = sites[village]
        sites[village] = replace(s, kind=SiteKind.VILLAGE, parent=best or station)

    for k, pid in enumerate(change.close_points):
        where = f"points.close[{k}]"
        point = need(pid, where, SiteKind.VILLAGE_POINT)
        orphans = [s.id for s in sites.values() if s.parent == pid]
        reattach(pid, point.parent, exclude=pid)
        for v in orphans:
            reattach(v, point.parent, exclude=pid)
    for k, (pid, to) in enumerate(change.move_points):
        where = f"points.move[{k}]"
        point = need(pid, where, SiteKind.VILLAGE_POINT)
        dest = need(to, where, SiteKind.VILLAGE, SiteKind.CANDIDATE)
        sites[to] = replace(dest, kind=SiteKind.VILLAGE_POINT, parent=point.parent)
        orphans = [s.id for s in sites.values() if s.parent == pid]
        if point.kind is SiteKind.VILLAGE_POINT:
            sites[pid] = replace(point, kind=SiteKind.VILLAGE, parent=to)
        for v in orphans:
            reattach(v, point.parent)
    for k, new_point in enumerate(change.add_points):
        where = f"points.add[{k}]"
        at = need(new_point.site, where, SiteKind.VILLAGE, SiteKind.CANDIDATE)
        if new_point.station is not None:
            need(new_point.station, where, SiteKind.STATION)
            station = new_point.station
        else:
            found = nearest_station(new_point.site)
            if found is None:
                raise fail("no station to serve it", where)
            station = found
        sites[new_point.site] = replace(at, kind=SiteKind.VILLAGE_POINT, parent=station)
        for vil in list(sites.values()):
            if vil.kind is SiteKind.VILLAGE and vil.parent and vil.parent in sites:
                here = roads(vil.id, vil.parent) if vil.parent in roads.pos else UNREACHABLE
                if roads(vil.id, new_point.site) < here:
                    sites[vil.id] = replace(vil, parent=new_point.site)
    # every village still hangs on a point or a station
    for s in list(sites.values()):
        if s.kind is SiteKind.VILLAGE and s.parent is None:
            raise fail(f"village {s.id!r} has no point or station left", "points")

    # -- fleet ----------------------------------------------------------------------------
    for k, rem in enumerate(change.fleet_remove):
        where = f"fleet.remove[{k}]"
        ids = set(rem.ids)
        unknown = ids - {v.id for v in fleet}
        if unknown:
            raise fail(f"unknown vehicle(s) {', '.join(sorted(unknown))}", where, "ids")
        if not ids:
            match = sorted(
                (v for v in fleet if v.home == rem.home and v.vehicle_class == rem.vehicle_class),
                key=lambda v: v.id,
            )
            if len(match) < rem.count:
                raise fail(
                    f"{rem.home} has {len(match)} {rem.vehicle_class}(s), cannot remove {rem.count}",
                    where,
                    "count",
                )
            ids = {v.id for v in match[len(match) - rem.count :]}
        fleet = [v for v in fleet if v.id not in ids]
    for k, add_v in enumerate(change.fleet_add):
        where = f"fleet.add[{k}]"
        if add_v.home not in sites:
            raise fail(f"unknown home {add_v.home!r}", where, "home")
        tpl = _vehicle_like(base.fleet, add_v.vehicle_class, add_v.like, where)
        taken = {v.id for v in fleet}
        n = 0
        for _ in range(add_v.count):
            n += 1
            while f"{add_v.vehicle_class}-{add_v.home}-x{n}" in taken:
                n += 1
            vid = f"{add_v.vehicle_class}-{add_v.home}-x{n}"
            taken.add(vid)
            fleet.append(
                replace(tpl, id=vid, home=add_v.home, vehicle_class=add_v.vehicle_class, name="")
            )

    # -- policy ---------------------------------------------------------------------------
    try:
        policy = replace(base.policy, **dict(change.policy))
    except InvalidScenario as exc:
        raise InvalidScenario(
            exc.message, source=src, location="[policy]", field=exc.field
        ) from None

    # -- bus lines ------------------------------------------------------------------------
    for k, line in enumerate(change.bus_lines):
        where = f"bus_lines[{k}]"
        need(line.station, where, SiteKind.STATION)
        for v in line.villages:
            need(v, where, SiteKind.VILLAGE_POINT)

    order = {s.id: i for i, s in enumerate(net.sites)}
    new_sites = tuple(sorted(sites.values(), key=lambda s: (order.get(s.id, len(order)), s.id)))
    try:
        network = replace(net, sites=new_sites)
        scenario = Scenario(
            name=base.name,
            network=network,
            fleet=tuple(fleet),
            policy=policy,
            date=base.date,
            attribution=base.attribution,
        )
    except InvalidScenario as exc:
        raise InvalidScenario(
            f"the changed scenario is not valid: {exc.message}",
            source=src,
            location=exc.location,
            field=exc.field,
        ) from None

    behind: dict[str, tuple[tuple[str, int], ...]] = {}
    serving: dict[str, str] = {}
    if change.changes_structure:
        groups: dict[str, list[tuple[str, int]]] = {}
        for s in net.sites:
            if s.kind is SiteKind.VILLAGE_POINT:
                groups.setdefault(s.id, []).append((s.id, max(1, s.population)))
            elif s.kind is SiteKind.VILLAGE and s.parent:
                groups.setdefault(s.parent, []).append((s.id, max(1, s.population)))
        behind = {k: tuple(v) for k, v in groups.items()}
        for s in network.sites:
            if s.kind is SiteKind.VILLAGE_POINT:
                serving[s.id] = s.id
            elif s.kind is SiteKind.VILLAGE and s.parent:
                serving[s.id] = s.parent
        serving.update(station_map)
    return Variant(change.name, base, scenario, change, behind, serving)


def _remap(variant: Variant, orders: Sequence[Order]) -> tuple[Order, ...]:
    """Hand each base order to the site that serves its village in the changed network."""
    if not variant.behind and not variant.serving:
        return tuple(orders)
    out = []
    for o in orders:
        group = variant.behind.get(o.site)
        site = o.site
        if group:
            total = sum(w for _, w in group)
            u = zlib.crc32(o.id.encode()) / 2**32 * total
            acc = 0
            village = group[-1][0]
            for v, w in group:
                acc += w
                if u < acc:
                    village = v
                    break
            site = variant.serving.get(village, site)
        else:
            site = variant.serving.get(site, site)
        out.append(o if site == o.site else replace(o, site=site))
    return tuple(out)


def grown_demand(params: DemandParams, factor: float) -> DemandParams:
    """The demand model with every volume scaled by ``factor`` (down, seats, up, e-commerce
    villages, bulk shippers); sizes, shares and noise unchanged."""
    if factor == 1.0:
        return params

    def pair(v: tuple[float, float]) -> tuple[float, float]:
        return (v[0] * factor, v[1] * factor)

    return replace(
        params,
        down_per_1000=params.down_per_1000 * factor,
        seat_per_1000=params.seat_per_1000 * factor,
        seat_parcels=pair(params.seat_parcels),
        up_per_village=params.up_per_village * factor,
        ecommerce_median=params.ecommerce_median * factor,
        ecommerce_bounds=pair(params.ecommerce_bounds),
        bulk_median=params.bulk_median * factor,
        bulk_bounds=pair(params.bulk_bounds),
    )


# ------------------------------------------------------------------------------ bus lines
@dataclass(frozen=True)
class BusLoad:
    """What the day's bus trips carry: order → (line, extra days hub→village)."""

    orders: tuple[Order, ...]
    """The day's orders, those on a bus re-sited to its station."""
    carried: Mapping[str, tuple[str, int]]
    origin: Mapping[str, str]
    """Order → its village point (for the orders now at a station)."""
    parcels: int = 0
    fee: float = 0.0


def _fill(
    line: BusLine, todo: Sequence[Order], trips: Sequence[tuple[int, int]]
) -> list[tuple[str, int]]:
    """First fit of orders into trips ``(departure_s, extra days)``, each trip's hold apart;
    returns (order, extra days) of the orders that found room."""
    used = [[0.0, 0.0, 0.0] for _ in trips]
    out = []
    for o in todo:
        for t, (_, extra) in enumerate(trips):
            u = used[t]
            if (
                u[0] + o.weight_kg <= line.hold_kg + 1e-9
                and u[1] + o.volume_m3 <= line.hold_m3 + 1e-9
                and u[2] + o.parcels <= line.hold_parcels
            ):
                u[0] += o.weight_kg
                u[1] += o.volume_m3
                u[2] += o.parcels
                out.append((o.id, extra))
                break
    return out


def load_buses(scenario: Scenario, lines: Sequence[BusLine], orders: Sequence[Order]) -> BusLoad:
    """Put the day's parcels of the lines' village points on their trips (module docstring)."""
    if not lines:
        return BusLoad(tuple(orders), {}, {})
    net, p = scenario.network, scenario.policy
    down_wave = p.wave(Direction.DOWN)
    trucks = [v for v in scenario.fleet if net.site(v.home).kind is SiteKind.HUB]
    cls = trucks[0].vehicle_class if trucks else _class_of(net)
    carried: dict[str, tuple[str, int]] = {}
    by_id = {o.id: o for o in orders}
    new_site: dict[str, str] = {}
    for line in lines:
        hub = net.site(line.station).parent or net.hubs[0].id
        drive = int(net.road_index.matrix((hub, line.station), cls).time_s[0, 1])
        ready = (
            down_wave.departs_s + min(drive, UNREACHABLE) + p.trunk_service_fixed_s + p.cross_dock_s
        )
        stops = set(line.villages)
        mine = sorted(
            (o for o in orders if o.site in stops and not o.bulky and o.id not in carried),
            key=lambda o: (-o.priority, o.id),
        )
        deps = line.departures_s
        loads = _fill(
            line,
            [o for o in mine if o.direction is Direction.DOWN],
            [(t, 0) for t in deps if t >= ready] + [(t, 1) for t in deps if t < ready],
        )
        if line.carries_up:
            loads += _fill(
                line,
                [o for o in mine if o.direction is Direction.UP],
                [(t, 0) for t in deps if t + line.round_trip_s <= p.village_cutoff_s],
            )
        for oid, extra in loads:
            carried[oid] = (line.id, extra)
            new_site[oid] = line.station
    fee_of = {ln.id: ln.fee_per_parcel for ln in lines}
    fee = sum(fee_of[lid] * by_id[oid].parcels for oid, (lid, _) in carried.items())
    out = tuple(replace(o, site=new_site[o.id]) if o.id in new_site else o for o in orders)
    return BusLoad(
        out,
        carried,
        {oid: by_id[oid].site for oid in carried},
        sum(by_id[oid].parcels for oid in carried),
        round(fee, 2),
    )


# ------------------------------------------------------------------------------ one day
@dataclass(frozen=True, slots=True)
class DayKpis:
    """One simulated day's KPIs (units in the module docstring)."""

    date: str
    cost: float
    km: float
    vehicle_hours: float
    vehicles: int
    parcels: int
    cost_per_parcel: float
    deferred_parcels: int
    deferred_capacity: int
    """Parcels deferred for capacity, time or reach (not by the frequency policy)."""
    village_coverage: float
    poor_village_coverage: float
    days_hub_to_village: float
    bus_parcels: int = 0
    bus_cost: float = 0.0
    solve_s: float = field(default=0.0, compare=False)
    """Planner wall time (not part of the result: it differs from run to run)."""


KPIS: tuple[tuple[str, str, str], ...] = (
    ("cost", "cost per day", "yuan"),
    ("km", "km per day", "km"),
    ("vehicle_hours", "vehicle-hours per day", "h"),
    ("vehicles", "vehicles used", ""),
    ("cost_per_parcel", "cost per parcel", "yuan"),
    ("parcels", "parcels served", ""),
    ("village_coverage", "villages served that day", "share"),
    ("poor_village_coverage", "poor villages served that day", "share"),
    ("deferred_parcels", "deferred parcels (all)", ""),
    ("deferred_capacity", "deferred for capacity/time/reach", ""),
    ("days_hub_to_village", "days hub → village", "days"),
    ("bus_parcels", "parcels on rural buses", ""),
)
"""(field of DayKpis, label, unit) of every KPI reported."""


def day_kpis(
    variant: Variant,
    date: str,
    plans: Sequence[tuple[Plan, DayInput]],
    bus: BusLoad,
) -> DayKpis:
    """KPIs of one day's plan(s) — one plan, or one per carrier when planned alone."""
    net = variant.scenario.network
    total = Kpis(0, 0, 0, 0, 0, 0)
    visited: set[str] = set()
    deferred_days: dict[str, int] = {}
    capacity = 0
    solve_s = 0.0
    day0 = dt.date.fromisoformat(date)
    for plan, day in plans:
        total = total + plan_kpis(plan, day)
        solve_s += plan.solve_s
        orders = {o.id: o for o in day.orders}
        for r in plan.routes:
            if r.tier is Tier.TRUNK_DOWN:
                visited.update(s.site for s in r.stops if s.kind is StopKind.VISIT)
            if r.tier is Tier.LAST_MILE:
                visited.update(
                    s.site for s in r.stops if s.kind is StopKind.VISIT and (s.drop or s.collect)
                )
        for d in plan.deferred:
            deferred_days[d.order] = (dt.date.fromisoformat(d.until) - day0).days
            if d.reason is not DeferralReason.FREQUENCY:
                capacity += orders[d.order].parcels
    visited.update(bus.origin[oid] for oid in bus.carried if oid not in deferred_days)
    admin = net.of_kind(SiteKind.VILLAGE_POINT, SiteKind.VILLAGE)
    serve = {s.id: (s.id if s.kind is SiteKind.VILLAGE_POINT else s.parent or "") for s in admin}
    served = [s for s in admin if serve[s.id] in visited]
    poor = [s for s in admin if s.poor]
    # days hub → village, down parcels to village points
    n = days = 0
    points = {s.id for s in net.village_points}
    for _, day in plans:
        for o in day.orders:
            home = bus.origin.get(o.id, o.site)
            if o.direction is not Direction.DOWN or home not in points:
                continue
            extra = deferred_days.get(o.id, bus.carried.get(o.id, ("", 0))[1])
            n += o.parcels
            days += o.parcels * extra
    cost = total.cost + bus.fee
    return DayKpis(
        date=date,
        cost=round(cost, 2),
        km=round(total.km, 3),
        vehicle_hours=round(total.vehicle_hours, 3),
        vehicles=total.vehicles,
        parcels=total.parcels,
        cost_per_parcel=round(cost / total.parcels, 4) if total.parcels else 0.0,
        deferred_parcels=total.deferred_parcels,
        deferred_capacity=capacity,
        village_coverage=round(len(served) / len(admin), 4) if admin else 0.0,
        poor_village_coverage=(
            round(sum(1 for s in poor if serve[s.id] in visited) / len(poor), 4) if poor else 1.0
        ),
        days_hub_to_village=round(days / n, 4) if n else 0.0,
        bus_parcels=bus.parcels,
        bus_cost=bus.fee,
        solve_s=round(solve_s, 3),
    )


@dataclass(frozen=True, slots=True)
class SimulationSettings:
    """How many days, which demand, how each day is planned."""

    days: int = 30
    start: str = "2026-04-06"
    """First simulated date (a Monday away from Double-11 and the New Year)."""
    seed: int = 7
    """Demand seed: the county's shoppers; the days differ by date."""
    time_limit_s: float = 1.0
    """Search budget per planned day (routing.day.plan_day)."""
    solutions: int | None = None
    """Bound every tier search by this many solutions instead (deterministic results)."""

    def __post_init__(self) -> None:
        if self.days < 1:
            raise InvalidScenario("must be >= 1", field="days")
        if self.time_limit_s <= 0:
            raise InvalidScenario("must be > 0", field="time_limit_s")
        dt.date.fromisoformat(self.start)

    @property
    def dates(self) -> tuple[str, ...]:
        first = dt.date.fromisoformat(self.start)
        return tuple((first + dt.timedelta(days=k)).isoformat() for k in range(self.days))

    @property
    def plan(self) -> PlanSettings:
        return PlanSettings(self.time_limit_s, self.solutions)


def variant_day(
    variant: Variant, date: str, settings: SimulationSettings
) -> tuple[DayInput, BusLoad]:
    """The day's demand (on the base network, grown), handed to the changed network and put
    on the buses: what the variant plans that day."""
    params = grown_demand(DemandParams(), variant.change.demand_factor)
    orders = _remap(variant, generate_demand(variant.base, date, settings.seed, params))
    sc = variant.scenario
    bus = load_buses(sc, variant.change.bus_lines, orders)
    return DayInput(sc.name, sc.network, sc.fleet, sc.policy, bus.orders, date), bus


def plan_variant_day(
    variant: Variant, date: str, settings: SimulationSettings
) -> tuple[list[tuple[Plan, DayInput]], BusLoad]:
    """The day's demand (on the base network, grown), handed to the changed network, on the
    buses, and planned — jointly or carrier by carrier."""
    day, bus = variant_day(variant, date, settings)
    if variant.change.carriers_alone:
        days = [
            replace(day, orders=tuple(o for o in day.orders if o.carrier == c))
            for c in sorted({o.carrier for o in day.orders})
        ]
    else:
        days = [day]
    return [(settings.plan.plan(d), d) for d in days], bus


def simulate_day(variant: Variant, date: str, settings: SimulationSettings) -> DayKpis:
    """Plan one day of a variant and measure it."""
    plans, bus = plan_variant_day(variant, date, settings)
    return day_kpis(variant, date, plans, bus)


def _day_task(
    shared: tuple[tuple[Variant, ...], SimulationSettings], task: tuple[int, str]
) -> DayKpis:
    variants, settings = shared
    return simulate_day(variants[task[0]], task[1], settings)


# ------------------------------------------------------------------------------ statistics
@dataclass(frozen=True, slots=True)
class Spread:
    """A KPI across days: mean, sample standard deviation, quantiles."""

    mean: float
    std: float
    p10: float
    p50: float
    p90: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        a = np.asarray(values, dtype=np.float64)
        if a.size == 0:
            return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0)
        q10, q50, q90 = np.quantile(a, [0.1, 0.5, 0.9])
        return cls(
            round(float(a.mean()), 4),
            round(float(a.std(ddof=1)) if a.size > 1 else 0.0, 4),
            round(float(q10), 4),
            round(float(q50), 4),
            round(float(q90), 4),
            round(float(a.min()), 4),
            round(float(a.max()), 4),
            int(a.size),
        )


@dataclass(frozen=True, slots=True)
class KpiComparison:
    """One KPI, baseline against change on the same days."""

    kpi: str
    label: str
    unit: str
    base: Spread
    change: Spread
    difference: Spread
    """Of the per-day differences (change − baseline), paired by date."""

    @property
    def relative(self) -> float | None:
        return (self.change.mean - self.base.mean) / abs(self.base.mean) if self.base.mean else None


@dataclass(frozen=True)
class SimulationResult:
    """Two variants planned on the same demand days, with per-day KPIs and their spread."""

    scenario: str
    baseline: Change
    change: Change
    settings: SimulationSettings
    base_days: tuple[DayKpis, ...]
    change_days: tuple[DayKpis, ...]
    wall_s: float
    backend: str
    workers: int

    def summary(self, which: str = "change") -> dict[str, Spread]:
        days = self.change_days if which == "change" else self.base_days
        return {k: Spread.of([float(getattr(d, k)) for d in days]) for k, _, _ in KPIS}

    def comparison(self) -> tuple[KpiComparison, ...]:
        out = []
        for k, label, unit in KPIS:
            a = [float(getattr(d, k)) for d in self.base_days]
            b = [float(getattr(d, k)) for d in self.change_days]
            out.append(
                KpiComparison(
                    k,
                    label,
                    unit,
                    Spread.of(a),
                    Spread.of(b),
                    Spread.of([y - x for x, y in zip(a, b, strict=True)]),
                )
            )
        return tuple(out)

    @property
    def seconds_per_day(self) -> float:
        """Wall time per simulated day (both variants planned)."""
        return self.wall_s / max(1, len(self.base_days))

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "baseline": self.baseline.to_dict(),
            "change": self.change.to_dict(),
            "settings": asdict(self.settings),
            "dates": list(self.settings.dates),
            "comparison": [
                {
                    "kpi": c.kpi,
                    "label": c.label,
                    "unit": c.unit,
                    "base": asdict(c.base),
                    "change": asdict(c.change),
                    "difference": asdict(c.difference),
                    "relative": None if c.relative is None else round(c.relative, 4),
                }
                for c in self.comparison()
            ],
            "base_days": [asdict(d) for d in self.base_days],
            "change_days": [asdict(d) for d in self.change_days],
            "wall_s": round(self.wall_s, 3),
            "seconds_per_day": round(self.seconds_per_day, 3),
            "backend": self.backend,
            "workers": self.workers,
        }


def run_simulation(
    scenario: str | os.PathLike[str] | Scenario,
    change: Change | str | os.PathLike[str],
    settings: SimulationSettings | None = None,
    *,
    baseline: Change | str | os.PathLike[str] | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Simulate a change against a baseline (default: the scenario as it is) on the same days.

    Parameters
    ----------
    scenario
        A bundle path, a built-in name or a loaded scenario.
    change, baseline
        :class:`Change` objects or change files.
    settings
        Days, demand seed, planning budget (or solution count, for reproducible results).
    executor
        Where the days are planned (default: this process); every (variant, day) is a task.
    progress
        ``progress(done, total)`` over the planned days of both variants.
    """
    from scenarios.bundle import Scenario, load_bundle

    started = time.perf_counter()
    s = settings or SimulationSettings()
    base = scenario if isinstance(scenario, Scenario) else load_bundle(scenario)
    chg = change if isinstance(change, Change) else load_change(change)
    ref = Change() if baseline is None else baseline
    ref = ref if isinstance(ref, Change) else load_change(ref)
    variants = (apply_change(base, ref), apply_change(base, chg))
    # ship cache-free copies: workers build their own road index
    portable = tuple(
        replace(
            v,
            base=replace(v.base, network=replace(v.base.network)),
            scenario=replace(v.scenario, network=replace(v.scenario.network)),
        )
        for v in variants
    )
    tasks = [(i, d) for d in s.dates for i in range(2)]
    run = executor or SerialExecutor()
    out = run.map(_day_task, (portable, s), tasks, progress=progress)
    by = dict(zip(tasks, out, strict=True))
    return SimulationResult(
        scenario=base.name,
        baseline=ref,
        change=chg,
        settings=s,
        base_days=tuple(by[(0, d)] for d in s.dates),
        change_days=tuple(by[(1, d)] for d in s.dates),
        wall_s=time.perf_counter() - started,
        backend=run.name,
        workers=run.workers,
    )


def write_simulation_json(result: SimulationResult, path: str | os.PathLike[str]) -> Path:
    """``simulation.json``: the machine-readable result."""
    target = Path(path)
    target.write_text(
        json.dumps(result.to_dict(), ensure_ascii=False, indent=1, default=str) + "\n",
        encoding="utf-8",
    )
    return target
