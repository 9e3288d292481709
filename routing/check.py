"""The independent plan checker ("plan mode").

It recomputes every route from the inputs alone — the network's travel matrices, the fleet,
the policy and the orders — and lists each violation with the route and stop it concerns.
It imports no solver code (no ``routing.problem``, no adapter): it is the oracle the tests
hold every solver output to, and the engine behind dispatchers' manual edits
(``countyroute check PLAN``).

Tolerances: one second per leg for times (matrices are whole seconds), 1 g / 1 cm³ for loads,
one fen for costs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from networks import UNREACHABLE, Network, SiteKind, format_clock
from routing.model import Direction, Order, Policy, Vehicle
from routing.plan import Load, Part, Plan, Route, StopKind, Tier, final_stops, with_parts
from routing.pools import Pool

__all__ = ["CheckReport", "Violation", "check_plan"]

_EPS_KG = 1e-3
_EPS_M3 = 1e-6


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule at one stop (``stop`` = -1 for the whole route or plan)."""

    route: str
    stop: int
    site: str
    code: str
    message: str

    def __str__(self) -> str:
        where = f"{self.route} stop {self.stop} ({self.site})" if self.stop >= 0 else self.route
        return f"{where}: [{self.code}] {self.message}"


@dataclass(frozen=True)
class CheckReport:
    """What the checker found, and the totals it recomputed."""

    violations: tuple[Violation, ...]
    distance_m: int
    cost: float
    vehicle_hours: float
    route_costs: Mapping[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


def _route_label(r: Route) -> str:
    return f"{r.tier.value}:{r.vehicle}"


def _load(orders: Iterable[Order]) -> Load:
    total = Load()
    for o in orders:
        total = total + Load(o.weight_kg, o.volume_m3, o.parcels)
    return total


def _over(load: Load, v: Vehicle) -> list[str]:
    out = []
    if load.kg > v.capacity_kg + _EPS_KG:
        out.append(f"{load.kg:.1f} kg > {v.capacity_kg:g} kg")
    if load.m3 > v.capacity_m3 + _EPS_M3:
        out.append(f"{load.m3:.3f} m3 > {v.capacity_m3:g} m3")
    if load.parcels > v.capacity_parcels:
        out.append(f"{load.parcels} parcels > {v.capacity_parcels}")
    return out


def _ends_trip(route: Route, j: int, trip: int) -> bool:
    """Whether stop j is the station stop that closes trip ``trip`` of the route."""
    st = route.stops[j]
    if st.kind is StopKind.RELOAD:
        return st.trip == trip + 1
    return st.kind is StopKind.RETURN and st.trip == trip


def _with_parts(plan: Plan, orders: Sequence[Order], vio: list[Violation]) -> list[Order]:
    """The orders with each order the plan split (``plan.parts``) replaced by its parts, after
    checking that the parts add up to it: numbered 1..n, parcels exactly, weight and volume
    within the tolerances (code ``split``). Orders that already are parts stay as given."""
    if not plan.parts:
        return list(orders)
    by_order: dict[str, list[Part]] = {}
    for p in plan.parts:
        by_order.setdefault(p.order, []).append(p)
    given = {o.id: o for o in orders}
    for oid, parts in sorted(by_order.items()):
        o = given.get(oid)
        if o is None:
            if not any(x.id == parts[0].id for x in orders):
                vio.append(Violation("plan", -1, "", "split", f"parts of unknown order {oid!r}"))
            continue
        numbers = sorted(p.part for p in parts)
        if numbers != list(range(1, len(parts) + 1)) or any(p.parts != len(parts) for p in parts):
            vio.append(
                Violation(
                    "plan", -1, o.site, "split", f"order {oid}'s parts are numbered {numbers}"
                )
            )
        kg = sum(p.weight_kg for p in parts)
        m3 = sum(p.volume_m3 for p in parts)
        n = sum(p.parcels for p in parts)
        if (
            n != o.parcels
            or abs(kg - o.weight_kg) > _EPS_KG
            or abs(m3 - o.volume_m3) > _EPS_M3
            or any(p.parcels < 1 or p.weight_kg < 0 or p.volume_m3 < 0 for p in parts)
        ):
            vio.append(
                Violation(
                    "plan",
                    -1,
                    o.site,
                    "split",
                    f"order {oid}'s parts add up to {n} parcels, {kg:.3f} kg, {m3:.6f} m3; "
                    f"the order is {o.parcels} parcels, {o.weight_kg:.3f} kg, {o.volume_m3:.6f} m3",
                )
            )
    return list(with_parts(orders, plan.parts))


def check_plan(
    plan: Plan,
    network: Network,
    fleet: Sequence[Vehicle],
    policy: Policy,
    orders: Sequence[Order],
    *,
    earlier: tuple[int, Network] | None = None,
    pools: Sequence[Pool] = (),
) -> CheckReport:
    """Recompute the plan from the inputs and list every violation.

    ``earlier`` = (time, network) checks legs that ended by that time on the network as it
    was then (a repaired plan after a road closure: legs already driven used the road).

    ``pools`` (shared fleets): a pool vehicle's runs may leave from any station of its pool;
    its drive there from its home and back is recomputed here and priced into its fixed
    cost and taken from its shift; no more of a pool's vehicles work than its ``total``, nor
    more than ``per_station`` from one station (code ``pool``).

    ``orders`` are the day's orders as given: an order the plan split is served by the parts
    ``plan.parts`` lists, which must add up to it (code ``split``); a mandatory order, or an
    order of a mandatory site, must not be deferred (code ``mandatory``).

    Returns
    -------
    CheckReport
        ``ok`` when nothing is violated.
    """
    vio: list[Violation] = []
    orders = _with_parts(plan, orders, vio)
    vehicles = {v.id: v for v in fleet}
    by_id = {o.id: o for o in orders}
    station_of = {
        s.id: (s.parent if s.kind is SiteKind.VILLAGE_POINT else s.id)
        for s in network.sites
        if s.kind in (SiteKind.VILLAGE_POINT, SiteKind.STATION)
    }
    # one matrix per vehicle class and home over the sites those routes visit — a station's
    # service area, the trunk's hub and stations — never one over a whole county (a
    # 5,000-village county would need 25 million entries a class)
    groups = {(r.vehicle_class, r.home) for r in plan.routes}
    sites_of = {
        g: tuple(
            sorted(
                {s.site for r in plan.routes if (r.vehicle_class, r.home) == g for s in r.stops}
                & set(network.index)
            )
        )
        for g in groups
    }
    pos_of = {g: {x: i for i, x in enumerate(sites_of[g])} for g in groups}
    before_s, before_net = earlier if earlier is not None else (-1, network)
    before = {g: before_net.road_index.matrix(sites_of[g], g[0]) for g in groups}
    matrices = {g: network.road_index.matrix(sites_of[g], g[0]) for g in groups}
    total_m = 0
    total_cost = 0.0
    total_h = 0.0
    costs: dict[str, float] = {}
    # when each station's parcels arrived (down trunk) and were picked up (up trunk)
    down_ready: dict[str, int] = {}
    down_at: dict[str, str] = {}  # the station a down order was handed over at
    up_at: dict[str, str] = {}  # the station an up order was taken from
    up_pickup: dict[str, int] = {}
    halted_at: dict[str, tuple[str, int]] = {}  # handed back by a vehicle that broke down
    for r in plan.routes:
        for s in r.stops:
            if s.kind is StopKind.HALT:
                for oid in s.drop:
                    halted_at[oid] = (r.vehicle, s.arrival_s)
            if s.kind is StopKind.VISIT and r.tier is Tier.TRUNK_DOWN:
                for oid in s.drop:
                    down_ready[oid] = s.departure_s
                    down_at[oid] = s.site
            if s.kind is StopKind.VISIT and r.tier is Tier.TRUNK_UP:
                for oid in s.collect:
                    up_pickup[oid] = s.start_s
                    up_at[oid] = s.site

    pool_of = {vid: pool for pool in pools for vid in pool.vehicles}
    pool_starts: dict[str, dict[str, set[str]]] = {pool.name: {} for pool in pools}
    for r in plan.routes:
        label = _route_label(r)

        def add(stop: int, site: str, code: str, message: str, label: str = label) -> None:
            vio.append(Violation(label, stop, site, code, message))

        v = vehicles.get(r.vehicle)
        if v is None:
            add(-1, r.home, "vehicle", f"unknown vehicle {r.vehicle!r}")
            continue
        pool = pool_of.get(r.vehicle)
        if pool is not None:
            pool_starts[pool.name].setdefault(r.home, set()).add(r.vehicle)
            if r.home not in pool.stations:
                add(-1, r.home, "pool", f"{r.vehicle} of pool {pool.name} works from {r.home}")
            elif r.home != v.home:
                # the drive from its home to the station and back, on its class's roads
                drive = network.road_index.matrix((v.home, r.home), v.vehicle_class)
                d_m, t_s = int(drive.distance_m[0, 1]), int(drive.time_s[0, 1])
                v = replace(
                    v,
                    home=r.home,
                    fixed_cost=round(
                        v.fixed_cost
                        + 2 * (d_m / 1000 * v.cost_per_km + t_s / 3600 * v.cost_per_hour),
                        2,
                    ),
                    shift_start_s=v.shift_start_s + t_s,
                    shift_end_s=v.shift_end_s - t_s,
                    max_duration_s=v.max_duration_s - 2 * t_s,
                )
        if v.vehicle_class != r.vehicle_class:
            add(-1, r.home, "vehicle", f"{r.vehicle} is a {v.vehicle_class}, not {r.vehicle_class}")
        if r.home != v.home:
            add(-1, r.home, "home", f"{r.vehicle} lives at {v.home}, not {r.home}")
        if (
            len(r.stops) < 2
            or r.stops[0].kind is not StopKind.DEPART
            or r.stops[-1].kind not in (StopKind.RETURN, StopKind.HALT)
            or any(s.kind is StopKind.HALT for s in r.stops[:-1])
        ):
            add(
                -1,
                r.home,
                "shape",
                "a route starts with a depart stop and ends with a return (or halt) stop",
            )
            continue
        group = (r.vehicle_class, r.home)
        m = matrices[group]
        pos = pos_of[group]
        dist_m = 0
        load = Load()
        for i, s in enumerate(r.stops):
            if s.site not in network.index:
                add(i, s.site, "site", f"unknown site {s.site!r}")
                continue
            site = network.site(s.site)
            if s.kind in (StopKind.DEPART, StopKind.RELOAD, StopKind.RETURN) and s.site != v.home:
                add(i, s.site, "home", f"{s.kind.value} must be at the vehicle's home {v.home}")
            if i > 0:
                prev = r.stops[i - 1]
                if prev.site in pos and s.site in pos:
                    leg = before[group] if s.arrival_s <= before_s else m
                    d = int(leg.distance_m[pos[prev.site], pos[s.site]])
                    t = int(leg.time_s[pos[prev.site], pos[s.site]])
                    if d >= UNREACHABLE:
                        add(
                            i,
                            s.site,
                            "unreachable",
                            f"no open road for {r.vehicle_class} from {prev.site}",
                        )
                    else:
                        dist_m += d
                        if s.arrival_s + 1 < prev.departure_s + t:
                            add(
                                i,
                                s.site,
                                "time",
                                f"arrives {format_clock(s.arrival_s)} but cannot before {format_clock(prev.departure_s + t)}",
                            )
            if s.start_s < s.arrival_s or s.departure_s < s.start_s:
                add(i, s.site, "time", "times must satisfy arrival <= start <= departure")
            # what happens to the load here
            drops = [by_id[o] for o in s.drop if o in by_id]
            collects = [by_id[o] for o in s.collect if o in by_id]
            for oid in (*s.drop, *s.collect):
                if oid not in by_id:
                    add(i, s.site, "order", f"unknown order {oid!r}")
            if s.kind is StopKind.VISIT:
                parcels = sum(o.parcels for o in (*drops, *collects))
                if r.tier is Tier.LAST_MILE:
                    service = round(site.service_fixed_s + site.service_per_parcel_s * parcels)
                    if not site.opens_s <= s.start_s <= site.closes_s:
                        add(
                            i,
                            s.site,
                            "window",
                            f"service starts {format_clock(s.start_s)}, open {format_clock(site.opens_s)}-{format_clock(site.closes_s)}",
                        )
                    if collects and s.start_s > policy.village_cutoff_s:
                        add(
                            i,
                            s.site,
                            "cutoff",
                            f"collects after the village cut-off {format_clock(policy.village_cutoff_s)}",
                        )
                    for o in (*drops, *collects):
                        if o.site != s.site:
                            add(i, s.site, "order", f"order {o.id} belongs to {o.site}")
                else:
                    service = round(
                        policy.trunk_service_fixed_s + policy.trunk_service_per_parcel_s * parcels
                    )
                    crossing = policy.cross_boundary and s.site in station_of.values()
                    for o in (*drops, *collects):
                        if o.site != s.site and station_of.get(o.site) != s.site and not crossing:
                            add(
                                i,
                                s.site,
                                "order",
                                f"order {o.id} is not for this station ({o.site})",
                            )
                if s.departure_s - s.start_s + 1 < service:
                    add(
                        i,
                        s.site,
                        "service",
                        f"service {s.departure_s - s.start_s} s < {service} s needed",
                    )
                for o in drops:
                    if o.direction is not Direction.DOWN:
                        add(i, s.site, "order", f"order {o.id} goes up; it cannot be dropped")
                for o in collects:
                    if o.direction is not Direction.UP:
                        add(i, s.site, "order", f"order {o.id} goes down; it cannot be collected")
                if not v.bulky_ok:
                    for o in (*drops, *collects):
                        if o.bulky:
                            add(
                                i,
                                s.site,
                                "bulky",
                                f"bulky order {o.id} on {r.vehicle_class} {r.vehicle}",
                            )
                if r.tier is Tier.LAST_MILE:
                    # the trip carrying it leaves from its depart or reload stop
                    k = max(
                        j for j in range(i) if r.stops[j].kind in (StopKind.DEPART, StopKind.RELOAD)
                    )
                    for o in drops:
                        ready = down_ready.get(o.id)
                        if down_at.get(o.id, r.home) != r.home:
                            add(
                                i,
                                s.site,
                                "sync",
                                f"order {o.id} was handed over at {down_at[o.id]}, "
                                f"but this run leaves from {r.home}",
                            )
                        if ready is None:
                            add(i, s.site, "sync", f"order {o.id} came to {r.home} on no trunk")
                        halted = halted_at.get(o.id)
                        if (
                            halted is not None
                            and halted[0] != r.vehicle
                            and (r.stops[k].departure_s < halted[1])
                        ):
                            add(
                                k,
                                r.home,
                                "sync",
                                f"leaves before order {o.id} is handed back by {halted[0]} ({format_clock(halted[1])})",
                            )
                        if ready is None:
                            pass
                        elif r.stops[k].departure_s < ready + policy.cross_dock_s:
                            add(
                                k,
                                r.home,
                                "sync",
                                f"leaves before order {o.id}'s trunk arrival + cross-dock ({format_clock(ready + policy.cross_dock_s)})",
                            )
                load = load - _load(drops) + _load(collects)
            elif s.kind is StopKind.HALT:
                # broken down: the parcels it lists are handed back; its collections stay on it
                load = load - _load(drops)
            else:  # depart / reload: the trip's deliveries are loaded
                # loaded: what the trip drops on its way, hands back at a halt, or brings back
                # undelivered to the station stop that ends it
                trip_drops = [
                    by_id[o]
                    for j, st in enumerate(r.stops)
                    if (st.trip == s.trip and st.kind in (StopKind.VISIT, StopKind.HALT))
                    or (j > i and _ends_trip(r, j, s.trip))
                    for o in st.drop
                    if o in by_id
                ]
                load = _load(trip_drops) if s.kind is not StopKind.RETURN else Load()
                if r.tier is Tier.LAST_MILE and s.kind in (StopKind.RELOAD, StopKind.RETURN):
                    prev_trip = s.trip - 1 if s.kind is StopKind.RELOAD else s.trip
                    for st in r.stops:
                        if st.trip == prev_trip:
                            for oid in st.collect:
                                pick = up_pickup.get(oid)
                                if up_at.get(oid, s.site) != s.site:
                                    add(
                                        i,
                                        s.site,
                                        "sync",
                                        f"order {oid} is brought to {s.site} but taken up "
                                        f"from {up_at[oid]}",
                                    )
                                if pick is None and oid in by_id:
                                    add(
                                        i,
                                        s.site,
                                        "sync",
                                        f"order {oid} is brought to the station but no up trunk takes it",
                                    )
                                elif pick is not None and pick < s.arrival_s:
                                    add(
                                        i,
                                        s.site,
                                        "sync",
                                        f"order {oid} reaches the station at {format_clock(s.arrival_s)}, after its up trunk ({format_clock(pick)})",
                                    )
            for problem in _over(load, v):
                add(i, s.site, "capacity", f"load after stop {problem} (recomputed)")
            recorded = s.load_after
            for problem in _over(recorded, v):
                add(i, s.site, "capacity", f"recorded load {problem}")
            if (
                abs(recorded.kg - load.kg) > 0.01
                or abs(recorded.m3 - load.m3) > 1e-5
                or recorded.parcels != load.parcels
            ):
                add(
                    i,
                    s.site,
                    "load",
                    f"recorded load {recorded} differs from recomputed {load.rounded()}",
                )
        start, end = r.stops[0].departure_s, r.stops[-1].arrival_s
        if start < v.shift_start_s:
            add(
                0,
                r.home,
                "shift",
                f"leaves before the shift starts ({format_clock(v.shift_start_s)})",
            )
        if end > v.shift_end_s:
            add(
                len(r.stops) - 1,
                r.home,
                "shift",
                f"back after the shift ends ({format_clock(v.shift_end_s)})",
            )
        if end - start > v.max_duration_s:
            add(-1, r.home, "duration", f"{end - start} s > max {v.max_duration_s} s")
        if v.range_km is not None and dist_m > v.range_km * 1000 + 1:
            add(-1, r.home, "range", f"{dist_m / 1000:.1f} km > range {v.range_km:g} km")
        if r.tier is Tier.TRUNK_UP and end > policy.hub_return_s:
            add(
                len(r.stops) - 1,
                r.home,
                "cutoff",
                f"back at the hub after {format_clock(policy.hub_return_s)}",
            )
        if dist_m != r.distance_m:
            add(-1, r.home, "distance", f"recorded {r.distance_m} m, recomputed {dist_m} m")
        hours = (end - start) / 3600
        cost = v.fixed_cost + v.cost_per_km * dist_m / 1000 + v.cost_per_hour * hours
        if abs(cost - r.cost) > 0.011:
            add(-1, r.home, "cost", f"recorded {r.cost:.2f}, recomputed {cost:.2f}")
        total_m += dist_m
        total_cost += cost
        total_h += hours
        costs[label] = round(cost, 2)

    for pool in pools:
        starts = pool_starts[pool.name]
        for station, used in sorted(starts.items()):
            if len(used) > pool.per_station:
                vio.append(
                    Violation(
                        f"pool {pool.name}",
                        -1,
                        station,
                        "pool",
                        f"{len(used)} vehicles from {station} > per-station maximum "
                        f"{pool.per_station}",
                    )
                )
        n_used = len({vid for used in starts.values() for vid in used})
        if n_used > pool.total:
            vio.append(
                Violation(
                    f"pool {pool.name}", -1, "", "pool", f"{n_used} vehicles > total {pool.total}"
                )
            )

    # the invariant: every order on exactly one final stop, or deferred, never both
    final: dict[str, int] = {}
    for oid, _, _ in final_stops(plan.routes, {o.id: o.site for o in orders}):
        final[oid] = final.get(oid, 0) + 1
    deferred = [d.order for d in plan.deferred]
    dup_def = (
        {d for d in deferred if deferred.count(d) > 1}
        if len(deferred) != len(set(deferred))
        else set()
    )
    for oid in sorted(dup_def):
        vio.append(Violation("plan", -1, "", "order", f"order {oid} deferred twice"))
    deferred_set = set(deferred)
    for o in orders:
        n = final.get(o.id, 0)
        if n > 1:
            vio.append(Violation("plan", -1, o.site, "order", f"order {o.id} served {n} times"))
        if n and o.id in deferred_set:
            vio.append(
                Violation("plan", -1, o.site, "order", f"order {o.id} both served and deferred")
            )
        if not n and o.id not in deferred_set:
            vio.append(
                Violation("plan", -1, o.site, "order", f"order {o.id} neither served nor deferred")
            )
    # a mandatory order (or an order of a mandatory site) is never deferred
    for entry in plan.deferred:
        held = by_id.get(entry.order)
        if held is None:
            continue
        if held.mandatory or (held.site in network.index and network.site(held.site).mandatory):
            vio.append(
                Violation(
                    "plan",
                    -1,
                    held.site,
                    "mandatory",
                    f"mandatory order {held.id} is deferred ({entry.reason.value})",
                )
            )
    for oid in deferred_set - set(by_id):
        vio.append(Violation("plan", -1, "", "order", f"deferred order {oid!r} is unknown"))
    return CheckReport(tuple(vio), total_m, round(total_cost, 2), round(total_h, 3), costs)
