"""The day's tier problems, built from its input: units converted once, orders packed into
nodes, vehicles into solver vehicles.

* :func:`trunk_problem` — one hub's trucks and the stations (and bulk shippers) of one wave;
* :func:`station_problem` — one station's (or, for cross-boundary service, several stations')
  vans and tricycles and the village points they serve, with reloads, mixed loads, windows,
  range and vehicle–road rules; for a repair, with vehicles under way.

Units: kilograms, m³ and parcels become grams, cm³ and parcels (:func:`resources`); costs
become :data:`~routing.problem.COST_UNIT`; times are seconds from midnight. Orders that no
node can hold are handed to the caller's ``defer`` with a reason; nothing here solves.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from networks import Network, SiteKind
from routing.consolidate import load_of
from routing.inputs import DayInput
from routing.model import Direction, Order, Policy, Vehicle
from routing.plan import DeferralReason, Hint, Load
from routing.problem import COST_UNIT, Resources, TierNode, TierProblem, TierVehicle

__all__ = [
    "MANDATORY_PENALTY",
    "OPEN_END_S",
    "BuiltProblem",
    "Defer",
    "VehicleState",
    "capacity",
    "chunks",
    "deadlines",
    "hub_of",
    "is_due",
    "next_day",
    "penalty",
    "resources",
    "station_of",
    "station_problem",
    "tier_vehicle",
    "trunk_problem",
]

OPEN_END_S = 48 * 3600
"""The end of a window that is not bounded within the day."""

MANDATORY_PENALTY = 10**11
"""The cost (cost units: 10 million yuan) of leaving out a node with a mandatory order:
dearer than any day's routes, so a solver leaves one out only when it cannot serve it, and
the plan then says so (infeasible, naming the order) instead of failing the whole problem."""

Defer = Callable[[Sequence[Order], DeferralReason, str, Hint], None]
"""``defer(orders, reason, waits_at, hint)``: where building hands orders it cannot
place (too big for every vehicle, no vehicle at all)."""


@dataclass(frozen=True)
class BuiltProblem:
    """A tier problem with what it stands for: the orders behind each node and the vehicles
    behind each solver vehicle (same order as ``problem.vehicles``)."""

    problem: TierProblem
    node_orders: tuple[tuple[Order, ...], ...]
    fleet: tuple[Vehicle, ...]


@dataclass(frozen=True, slots=True)
class VehicleState:
    """Where a vehicle stands when a plan is repaired, and what it carries."""

    site: str
    free_s: int
    under_way: bool
    """It has left its station with a load (its current trip goes on)."""
    onboard: tuple[str, ...] = ()
    """Down orders on board, not yet dropped."""
    collected: tuple[str, ...] = ()
    """Up orders collected on the current trip, on board until the station."""
    trips_done: int = 0
    worked_s: int = 0
    driven_m: int = 0


def resources(load: Load) -> Resources:
    """Kilograms, m³, parcels → grams, cm³, parcels (the solver's integers).

    >>> resources(Load(1.5, 0.02, 3))
    (1500, 20000, 3)
    """
    return (round(load.kg * 1000), round(load.m3 * 1_000_000), load.parcels)


def capacity(v: Vehicle) -> Resources:
    """A vehicle's capacity in the solver's integers (rounded down)."""
    return (
        math.floor(v.capacity_kg * 1000),
        math.floor(v.capacity_m3 * 1_000_000),
        v.capacity_parcels,
    )


def is_due(site_id: str, date: str) -> bool:
    """Whether an every-other-day village is visited on ``date`` (stable per village).

    >>> is_due("v1", "2026-12-01") != is_due("v1", "2026-12-02")
    True
    """
    parity = zlib.crc32(site_id.encode()) % 2
    return (dt.date.fromisoformat(date).toordinal() + parity) % 2 == 0


def next_day(date: str) -> str:
    """The ISO date after ``date``.

    >>> next_day("2026-12-31")
    '2027-01-01'
    """
    return (dt.date.fromisoformat(date) + dt.timedelta(days=1)).isoformat()


def tier_vehicle(
    v: Vehicle, *, start: int, end: int, trips: int, reload_s: int = 600
) -> TierVehicle:
    """``v`` as the solver sees it, its shift cut to ``[start, end]``; ``reload_s`` is the
    policy's ``unload_fixed_s``."""
    return TierVehicle(
        id=v.id,
        vehicle_class=v.vehicle_class,
        depot=v.home,
        capacity=capacity(v),
        fixed_cost=round(v.fixed_cost / COST_UNIT),
        cost_per_m=v.cost_per_km / 1000 / COST_UNIT,
        cost_per_s=v.cost_per_hour / 3600 / COST_UNIT,
        earliest_start_s=max(v.shift_start_s, start),
        latest_end_s=max(min(v.shift_end_s, end), max(v.shift_start_s, start)),
        max_duration_s=v.max_duration_s,
        range_m=None if v.range_km is None else round(v.range_km * 1000),
        max_trips=trips,
        reload_s=reload_s,
    )


def penalty(orders: Sequence[Order], policy: Policy, scale: float = 1.0) -> int:
    """The cost (cost units) of deferring ``orders``: the policy's price per parcel,
    weighted by priority and ``scale``; :data:`MANDATORY_PENALTY` when one is mandatory."""
    if any(o.mandatory for o in orders):
        return MANDATORY_PENALTY
    total = sum(o.parcels * (1 + o.priority) for o in orders)
    return round(total * policy.deferral_cost_per_parcel * scale / COST_UNIT)


def chunks(orders: Sequence[Order], cap: Resources) -> tuple[list[list[Order]], list[Order]]:
    """Pack orders (highest priority first) into chunks that fit ``cap``; too-big orders apart."""
    packed: list[list[Order]] = []
    too_big: list[Order] = []
    used: list[list[int]] = []
    for o in sorted(orders, key=lambda o: (-o.priority, o.id)):
        need = resources(Load(o.weight_kg, o.volume_m3, o.parcels))
        if any(n > c for n, c in zip(need, cap, strict=True)):
            too_big.append(o)
            continue
        for chunk, u in zip(packed, used, strict=True):
            if all(a + n <= c for a, n, c in zip(u, need, cap, strict=True)):
                chunk.append(o)
                for r in range(3):
                    u[r] += need[r]
                break
        else:
            packed.append([o])
            used.append(list(need))
    return packed, too_big


def station_of(network: Network) -> dict[str, str]:
    """Village point → its station, and each station → itself."""
    out: dict[str, str] = {}
    for s in network.sites:
        if s.kind is SiteKind.VILLAGE_POINT and s.parent:
            out[s.id] = s.parent
        elif s.kind is SiteKind.STATION:
            out[s.id] = s.id
    return out


def hub_of(network: Network, site_id: str) -> str:
    """The hub a site belongs to, following parents up (the first hub if none)."""
    site = network.site(site_id)
    while site.kind is not SiteKind.HUB and site.parent is not None:
        site = network.site(site.parent)
    return site.id if site.kind is SiteKind.HUB else network.hubs[0].id


def deadlines(day: DayInput) -> dict[str, int]:
    """When a station's runs must be back: the earliest an up-wave truck can be there."""
    p, net = day.policy, day.network
    up_wave = p.wave(Direction.UP)
    deadline: dict[str, int] = {}
    for hub in net.hubs:
        trucks = [v for v in day.fleet if v.home == hub.id]
        stations = tuple(s.id for s in net.stations if s.parent == hub.id)
        if not trucks or not stations:
            continue
        m = net.road_index.matrix((hub.id, *stations), trucks[0].vehicle_class)
        for k, st in enumerate(stations):
            deadline[st] = min(up_wave.departs_s + int(m.time_s[0, k + 1]), p.hub_return_s)
    return deadline


def _matrices(
    network: Network, sites: tuple[str, ...], classes: set[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    dist: dict[str, np.ndarray] = {}
    tim: dict[str, np.ndarray] = {}
    for cls in sorted(classes):
        m = network.road_index.matrix(sites, cls)
        dist[cls], tim[cls] = m.distance_m, m.time_s
    return dist, tim


def _service_s(network: Network, site_id: str, parcels: int) -> int:
    site = network.site(site_id)
    return round(site.service_fixed_s + site.service_per_parcel_s * parcels)


def _trunk_service_s(policy: Policy, parcels: int) -> int:
    return round(policy.trunk_service_fixed_s + policy.trunk_service_per_parcel_s * parcels)


def trunk_problem(
    day: DayInput,
    hub_id: str,
    direction: Direction,
    station_orders: Mapping[str, Sequence[Order]],
    ready_s: Mapping[str, int],
    truck_free_s: Mapping[str, int],
    defer: Defer,
) -> BuiltProblem | None:
    """One hub's trunk wave: its trucks, and a node per truck-sized chunk of each station's
    (and, going up, each of its bulk shippers') orders; ``None`` when there is nothing to carry
    or no truck (those orders go to ``defer``).

    Down, a late arrival at a station costs the idle time of the station's vehicles
    (``soft_latest``), so trucks serve stations in the order that lets runs start early; up,
    a station's parcels are ready at ``ready_s`` (its last run back) and the trucks must be
    at the hub by the policy's ``hub_return``.
    """
    net, p = day.network, day.policy
    hub = net.site(hub_id)
    wave = p.wave(direction)
    fleet = [v for v in day.fleet if v.home == hub_id]
    stations = [s.id for s in net.stations if s.parent == hub_id]
    targets = [s for s in stations if station_orders.get(s)]
    if direction is Direction.UP:
        # a bulk shipper is collected by the trucks of its own hub (its parent, or its parent
        # station's hub), never by every hub's wave
        targets += [
            b.id
            for b in net.of_kind(SiteKind.BULK_SHIPPER)
            if station_orders.get(b.id) and hub_of(net, b.id) == hub_id
        ]
    if not targets:
        return None
    if not fleet:
        for t in targets:
            waits = hub_id if direction is Direction.DOWN else t
            defer(
                station_orders[t],
                DeferralReason.CAPACITY,
                waits,
                Hint.of("no_vehicles", home=hub.name),
            )
        return None
    sites = (hub_id, *targets)
    dist, tim = _matrices(net, sites, {v.vehicle_class for v in fleet})
    biggest = max(fleet, key=lambda v: v.capacity_kg)
    cap = capacity(biggest)
    # while a station waits for its trunk, its vehicles and crews stand idle: a late arrival
    # costs their hourly rate
    idle_cost = {
        t: (
            wave.departs_s,
            round(sum(v.cost_per_hour for v in day.fleet if v.home == t) / 3600 / COST_UNIT),
        )
        for t in targets
    }
    nodes: list[TierNode] = []
    node_orders: list[tuple[Order, ...]] = []
    for t in targets:
        packed, too_big = chunks(station_orders[t], cap)
        if too_big:
            defer(
                too_big,
                DeferralReason.CAPACITY,
                hub_id if direction is Direction.DOWN else t,
                Hint.of("larger_than_vehicles", home=hub.name, vehicle=biggest.id),
            )
        site = net.site(t)
        is_bulk = site.kind is SiteKind.BULK_SHIPPER
        for k, chunk in enumerate(packed):
            load = resources(load_of(chunk))
            zero = (0, 0, 0)
            if direction is Direction.DOWN:
                window = (0, OPEN_END_S)
            elif is_bulk:
                window = (max(site.opens_s, wave.departs_s), site.closes_s)
            else:
                window = (ready_s.get(t, wave.departs_s), p.hub_return_s)
            nodes.append(
                TierNode(
                    key=f"{t}#{k}",
                    site=t,
                    delivery=load if direction is Direction.DOWN else zero,
                    pickup=load if direction is Direction.UP else zero,
                    service_s=_trunk_service_s(p, load[2]),
                    window=window,
                    penalty=penalty(chunk, p, 1.0 if is_bulk else 10.0),
                    orders=tuple(o.id for o in chunk),
                    soft_latest=idle_cost.get(t) if direction is Direction.DOWN else None,
                )
            )
            node_orders.append(tuple(chunk))
    end = p.hub_return_s if direction is Direction.UP else OPEN_END_S
    vehicles = tuple(
        replace(
            tier_vehicle(v, start=leave, end=end, trips=1),
            latest_start_s=leave + p.wave_window_s,
        )
        for v in fleet
        for leave in [max(wave.departs_s, truck_free_s.get(v.id, 0))]
    )
    problem = TierProblem(
        name=f"trunk-{direction.value}-{hub_id}",
        sites=sites,
        nodes=tuple(nodes),
        vehicles=vehicles,
        distance_m=dist,
        time_s=tim,
    )
    return BuiltProblem(problem, tuple(node_orders), tuple(fleet))


def station_problem(
    day: DayInput,
    station_id: str,
    orders: Sequence[Order],
    defer: Defer,
    *,
    start: int,
    end: int,
    states: Mapping[str, VehicleState] | None = None,
    release: Mapping[str, int] | None = None,
    fleet: Sequence[Vehicle] | None = None,
) -> BuiltProblem | None:
    """The village-run problem of one station (or of ``fleet``, for several stations).

    Its runs leave no earlier than ``start`` (the trunk's arrival plus cross-dock) and are
    back by ``end``. ``states`` (a repair) says where vehicles under way are, what they carry
    and when they are free; ``release`` gives orders that reach the station only at some
    time. ``None`` when there are no orders, or no vehicle (they go to ``defer``).
    """
    net, p = day.network, day.policy
    states = states or {}
    release = release or {}
    vehicles_here = list(
        fleet if fleet is not None else (v for v in day.fleet if v.home == station_id)
    )
    station = net.site(station_id)
    if not orders:
        return None
    if not vehicles_here:
        defer(
            orders,
            DeferralReason.CAPACITY,
            station_id,
            Hint.of("no_vehicles", home=station.name),
        )
        return None
    onboard_of = {oid: vid for vid, st in states.items() for oid in st.onboard}
    # every point of the station is in the matrix: a repaired route goes on from wherever its
    # vehicle last stopped
    own = {pt.id for pt in net.children(station_id, SiteKind.VILLAGE_POINT)}
    points = sorted(
        ({o.site for o in orders} | {st.site for st in states.values()} | own) - {station_id}
    )
    homes = sorted({v.home for v in vehicles_here} - {station_id})
    sites = (station_id, *homes, *[pt for pt in points if pt not in homes])
    dist, tim = _matrices(net, sites, {v.vehicle_class for v in vehicles_here})
    nodes: list[TierNode] = []
    node_orders: list[tuple[Order, ...]] = []
    bulky_ok = [i for i, v in enumerate(vehicles_here) if v.bulky_ok]
    index_of = {v.id: i for i, v in enumerate(vehicles_here)}
    by_point: dict[str, list[Order]] = {}
    for o in orders:
        by_point.setdefault(o.site, []).append(o)
    for pt in sorted(by_point):
        site = net.site(pt)

        # one node per direction: a stop that both drops and collects would sit in two
        # pickup-and-delivery pairs, which OR-Tools' insertion heuristics handle badly; the
        # two nodes share the site, so the solver visits them back to back. Parcels already
        # on a vehicle, and parcels released later, form nodes of their own.
        def group_key(o: Order) -> tuple[bool, Direction, str, int]:
            return (o.bulky, o.direction, onboard_of.get(o.id, ""), release.get(o.id, -1))

        groups: dict[tuple[bool, Direction, str, int], list[Order]] = {}
        for o in by_point[pt]:
            groups.setdefault(group_key(o), []).append(o)
        for (bulky, direction, carrier_vehicle, released), group in sorted(
            groups.items(), key=lambda kv: (kv[0][0], kv[0][1].value, kv[0][2], kv[0][3])
        ):
            if carrier_vehicle:
                allowed: tuple[int, ...] | None = (index_of[carrier_vehicle],)
                candidates = [vehicles_here[index_of[carrier_vehicle]]]
            else:
                allowed = tuple(bulky_ok) if bulky else None
                candidates = [vehicles_here[i] for i in bulky_ok] if bulky else vehicles_here
            if not candidates:
                defer(
                    group,
                    DeferralReason.CAPACITY,
                    station_id,
                    Hint.of("no_bulky_vehicle", home=station.name),
                )
                continue
            biggest = max(candidates, key=lambda v: v.capacity_kg)
            packed, too_big = chunks(group, capacity(biggest))
            if carrier_vehicle:  # already on board: one node, whatever its size
                packed, too_big = [list(group)], []
            if too_big:
                defer(
                    too_big,
                    DeferralReason.CAPACITY,
                    station_id,
                    Hint.of("larger_than_vehicles", home=station.name, vehicle=biggest.id),
                )
            tag = f"{direction.value}{'#bulky' if bulky else ''}"
            tag += f"#on-{carrier_vehicle}" if carrier_vehicle else ""
            tag += f"#rel{released}" if released >= 0 else ""
            for k, chunk in enumerate(packed):
                up = [o for o in chunk if o.direction is Direction.UP]
                close = min(site.closes_s, p.village_cutoff_s) if up else site.closes_s
                service = _service_s(net, pt, sum(o.parcels for o in chunk))
                nodes.append(
                    TierNode(
                        key=f"{pt}#{tag}#{k}",
                        site=pt,
                        delivery=resources(
                            load_of(o for o in chunk if o.direction is Direction.DOWN)
                        ),
                        pickup=resources(load_of(up)),
                        service_s=service,
                        window=(site.opens_s, max(site.opens_s, close)),
                        setup_s=min(round(site.service_fixed_s), service),
                        penalty=penalty(chunk, p, p.poor_village_weight if site.poor else 1.0),
                        allowed=allowed,
                        orders=tuple(o.id for o in chunk),
                        release_s=released if released >= 0 else None,
                        onboard=bool(carrier_vehicle),
                    )
                )
                node_orders.append(tuple(chunk))
    trips = p.max_trips if p.reloads else 1
    orders_by_id = {o.id: o for o in day.orders}
    vehicles = []
    for v in vehicles_here:
        tv = tier_vehicle(v, start=start, end=end, trips=trips, reload_s=p.unload_fixed_s)
        st = states.get(v.id)
        if st is not None:
            collected = load_of(orders_by_id[o] for o in st.collected)
            tv = replace(
                tv,
                earliest_start_s=st.free_s,
                latest_end_s=max(tv.latest_end_s, st.free_s),
                # on the road it goes on at once; at its station it may leave later
                latest_start_s=st.free_s if st.under_way else None,
                start_site=st.site if st.under_way else None,
                initial_load=resources(collected),
                max_trips=max(1, trips - st.trips_done),
                max_duration_s=max(1, v.max_duration_s - st.worked_s),
                range_m=None if tv.range_m is None else max(0, tv.range_m - st.driven_m),
            )
        vehicles.append(tv)
    problem = TierProblem(
        name=f"last-mile-{station_id}",
        sites=sites,
        nodes=tuple(nodes),
        vehicles=tuple(vehicles),
        distance_m=dist,
        time_s=tim,
        load_s_per_parcel=p.load_s_per_parcel,
        unload_s_per_parcel=p.unload_s_per_parcel,
    )
    return BuiltProblem(problem, tuple(node_orders), tuple(vehicles_here))
