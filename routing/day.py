"""The daily plan: three tiers planned in order, synchronised at the stations.

1. **Visit frequency.** Villages below ``daily_min_parcels`` are visited every other day
   (a stable alternating pattern per village, so poor villages still get ≥ 3 visits a week);
   on their off day their parcels wait (down: at the station; up: at the point).
2. **Trunk, down wave.** Each hub's trucks carry every station's parcels (split across trucks
   when a station exceeds one truck); late arrival at a station costs the idle time of the
   station's vehicles, so trucks visit stations in the order that lets runs start early.
3. **Village runs.** Per station (in parallel processes), vans and tricycles deliver and
   collect on the same runs, leave no earlier than the trunk's arrival plus the cross-dock
   time, may reload at the station, and are back before the up wave's trucks can arrive.
4. **Trunk, up wave.** Trucks collect what the runs brought to the stations (ready when the
   last run is back) and bulk shippers' consignments (full truckloads where volume calls
   for it), back at the hub before ``hub_return``.

Whatever does not fit is deferred with a reason and a suggestion. The result is checked by
:mod:`routing.check` in tests and by the CLI.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from networks import UNREACHABLE, Network, SiteKind, format_clock
from routing.consolidate import load_of
from routing.model import Direction, Order, Policy, Vehicle
from routing.plan import (
    DeferralReason,
    Deferred,
    Load,
    Plan,
    PlanStatus,
    Route,
    Stop,
    StopKind,
    Tier,
    final_stops,
)
from routing.problem import (
    COST_UNIT,
    Resources,
    SolveStatus,
    TierNode,
    TierProblem,
    TierSolution,
    TierVehicle,
)

__all__ = ["DayInput", "Solve", "VehicleState", "is_due", "plan_day", "resources"]

Solve = Callable[[TierProblem], TierSolution]


def _default_solve(problem: TierProblem) -> TierSolution:
    """PyVRP where it models the problem exactly or approximates it (the village runs), its
    routes then loaded, checked and polished by OR-Tools; OR-Tools alone for repairs under
    way (see routing/pyvrp_adapter.py)."""
    from routing.pyvrp_adapter import solve_hybrid

    return solve_hybrid(problem)


@dataclass(frozen=True)
class DayInput:
    """Everything one day's plan is made from."""

    name: str
    network: Network
    fleet: tuple[Vehicle, ...]
    policy: Policy
    orders: tuple[Order, ...]
    date: str


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
    """Kilograms, m³, parcels → grams, cm³, parcels (the solver's integers)."""
    return (round(load.kg * 1000), round(load.m3 * 1_000_000), load.parcels)


def _capacity(v: Vehicle) -> Resources:
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


def _next_day(date: str) -> str:
    return (dt.date.fromisoformat(date) + dt.timedelta(days=1)).isoformat()


def _tier_vehicle(v: Vehicle, *, start: int, end: int, trips: int) -> TierVehicle:
    return TierVehicle(
        id=v.id,
        vehicle_class=v.vehicle_class,
        depot=v.home,
        capacity=_capacity(v),
        fixed_cost=round(v.fixed_cost / COST_UNIT),
        cost_per_m=v.cost_per_km / 1000 / COST_UNIT,
        cost_per_s=v.cost_per_hour / 3600 / COST_UNIT,
        earliest_start_s=max(v.shift_start_s, start),
        latest_end_s=max(min(v.shift_end_s, end), max(v.shift_start_s, start)),
        max_duration_s=v.max_duration_s,
        range_m=None if v.range_km is None else round(v.range_km * 1000),
        max_trips=trips,
    )


def _penalty(orders: Sequence[Order], policy: Policy, scale: float = 1.0) -> int:
    total = sum(o.parcels * (1 + o.priority) for o in orders)
    return round(total * policy.deferral_cost_per_parcel * scale / COST_UNIT)


_NEIGHBOURS = 2
"""Stations besides its own that may serve a village under cross-boundary service."""


def _chunks(orders: Sequence[Order], cap: Resources) -> tuple[list[list[Order]], list[Order]]:
    """Pack orders (highest priority first) into chunks that fit ``cap``; too-big orders apart."""
    chunks: list[list[Order]] = []
    too_big: list[Order] = []
    used: list[list[int]] = []
    for o in sorted(orders, key=lambda o: (-o.priority, o.id)):
        need = resources(Load(o.weight_kg, o.volume_m3, o.parcels))
        if any(n > c for n, c in zip(need, cap, strict=True)):
            too_big.append(o)
            continue
        for chunk, u in zip(chunks, used, strict=True):
            if all(a + n <= c for a, n, c in zip(u, need, cap, strict=True)):
                chunk.append(o)
                for r in range(3):
                    u[r] += need[r]
                break
        else:
            chunks.append([o])
            used.append(list(need))
    return chunks, too_big


class _Builder:
    """Holds one day's state while the tiers are planned."""

    def __init__(
        self,
        day: DayInput,
        solve: Solve,
        workers: int,
        time_limit_s: float,
        *,
        solution_limit: int | None = None,
        previous: Plan | None = None,
        pins: Mapping[str, str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.solution_limit = solution_limit
        self.previous = previous
        self.pins = dict(pins or {})
        self.say = progress or (lambda _: None)
        self.day = day
        self.net = day.network
        self.policy = day.policy
        self.solve = solve
        self.workers = max(1, workers)
        self.budget = time_limit_s
        self.orders = {o.id: o for o in day.orders}
        self.deferred: dict[str, Deferred] = {}
        self.short_of: dict[str, str] = {}
        """Order → the hub whose trucks had no room for it (trunk capacity deferrals)."""
        self.routes: list[Route] = []
        self.feeds: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = []
        self.serving: dict[str, str] = {}
        """Order → the station whose runs serve it, where that is not its village's own
        (cross-boundary service)."""
        self.station_of: dict[str, str] = {}
        for s in self.net.sites:
            if s.kind is SiteKind.VILLAGE_POINT and s.parent:
                self.station_of[s.id] = s.parent
            elif s.kind is SiteKind.STATION:
                self.station_of[s.id] = s.id

    # -- helpers ----------------------------------------------------------------------------
    def defer(
        self,
        orders: Sequence[Order],
        reason: DeferralReason,
        waits_at: str,
        suggestion: str = "",
        until: str | None = None,
    ) -> None:
        for o in orders:
            self.deferred.setdefault(
                o.id,
                Deferred(
                    o.id, o.site, reason, until or _next_day(self.day.date), waits_at, suggestion
                ),
            )

    def matrices(
        self, sites: tuple[str, ...], classes: set[str]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        dist: dict[str, np.ndarray] = {}
        tim: dict[str, np.ndarray] = {}
        for cls in sorted(classes):
            m = self.net.road_index.matrix(sites, cls)
            dist[cls], tim[cls] = m.distance_m, m.time_s
        return dist, tim

    def service_s(self, site_id: str, parcels: int) -> int:
        site = self.net.site(site_id)
        return round(site.service_fixed_s + site.service_per_parcel_s * parcels)

    def trunk_service_s(self, parcels: int) -> int:
        return round(
            self.policy.trunk_service_fixed_s + self.policy.trunk_service_per_parcel_s * parcels
        )

    def hub_of(self, site_id: str) -> str:
        """The hub a site belongs to, following parents up (the first hub if none)."""
        site = self.net.site(site_id)
        while site.kind is not SiteKind.HUB and site.parent is not None:
            site = self.net.site(site.parent)
        return site.id if site.kind is SiteKind.HUB else self.net.hubs[0].id

    # -- frequency ----------------------------------------------------------------------------
    def apply_frequency(self) -> set[str]:
        """Defers the orders of villages not due today; returns the villages visited today."""
        p = self.policy
        volume: dict[str, int] = {}
        by_site: dict[str, list[Order]] = {}
        for o in self.day.orders:
            volume[o.site] = volume.get(o.site, 0) + o.parcels
            by_site.setdefault(o.site, []).append(o)
        visited: set[str] = set()
        daily_poor = p.poor_min_visits_per_week > 3
        for point in self.net.village_points:
            orders = by_site.get(point.id, [])
            if not orders:
                continue
            small = volume[point.id] < p.daily_min_parcels
            if small and not (point.poor and daily_poor) and not is_due(point.id, self.day.date):
                nxt = _next_day(self.day.date)
                down = [o for o in orders if o.direction is Direction.DOWN]
                up = [o for o in orders if o.direction is Direction.UP]
                note = f"{point.name} is visited every other day (under {p.daily_min_parcels} parcels a day)"
                self.defer(down, DeferralReason.FREQUENCY, self.station_of[point.id], note, nxt)
                self.defer(up, DeferralReason.FREQUENCY, point.id, note, nxt)
                continue
            visited.add(point.id)
        return visited

    # -- trunk ----------------------------------------------------------------------------------
    def trunk(
        self,
        direction: Direction,
        station_orders: Mapping[str, list[Order]],
        ready_s: Mapping[str, int],
        truck_free_s: Mapping[str, int],
    ) -> TierSolution | None:
        """Plan one trunk wave for every hub; returns nothing, records routes."""
        p = self.policy
        wave = p.wave(direction)
        for hub in self.net.hubs:
            fleet = [v for v in self.day.fleet if v.home == hub.id]
            stations = [s.id for s in self.net.stations if s.parent == hub.id]
            targets = [s for s in stations if station_orders.get(s)]
            if direction is Direction.UP:
                # a bulk shipper is collected by the trucks of its own hub (its parent, or
                # its parent station's hub), never by every hub's wave
                targets += [
                    b.id
                    for b in self.net.of_kind(SiteKind.BULK_SHIPPER)
                    if station_orders.get(b.id) and self.hub_of(b.id) == hub.id
                ]
            if not targets:
                continue
            if not fleet:
                for t in targets:
                    self.defer(
                        station_orders[t],
                        DeferralReason.CAPACITY,
                        hub.id if direction is Direction.DOWN else t,
                        f"no vehicles at {hub.name}",
                    )
                continue
            sites = (hub.id, *targets)
            classes = {v.vehicle_class for v in fleet}
            dist, tim = self.matrices(sites, classes)
            biggest = max(fleet, key=lambda v: v.capacity_kg)
            cap = _capacity(biggest)
            # while a station waits for its trunk, its vehicles and crews stand idle: a late
            # arrival costs their hourly rate, so trucks serve stations in a useful order
            idle_cost = {
                t: (
                    wave.departs_s,
                    round(
                        sum(v.cost_per_hour for v in self.day.fleet if v.home == t)
                        / 3600
                        / COST_UNIT
                    ),
                )
                for t in targets
            }
            nodes: list[TierNode] = []
            node_orders: list[list[Order]] = []
            for t in targets:
                chunks, too_big = _chunks(station_orders[t], cap)
                if too_big:
                    self.defer(
                        too_big,
                        DeferralReason.CAPACITY,
                        hub.id if direction is Direction.DOWN else t,
                        f"larger than the largest vehicle at {hub.name} ({biggest.id})",
                    )
                site = self.net.site(t)
                is_bulk = site.kind is SiteKind.BULK_SHIPPER
                for k, chunk in enumerate(chunks):
                    load = resources(load_of(chunk))
                    zero = (0, 0, 0)
                    if direction is Direction.DOWN:
                        window = (0, 48 * 3600)
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
                            service_s=self.trunk_service_s(load[2]),
                            window=window,
                            penalty=_penalty(chunk, p, 1.0 if is_bulk else 10.0),
                            orders=tuple(o.id for o in chunk),
                            soft_latest=idle_cost.get(t) if direction is Direction.DOWN else None,
                        )
                    )
                    node_orders.append(chunk)
            end = p.hub_return_s if direction is Direction.UP else 48 * 3600
            vehicles = tuple(
                replace(
                    _tier_vehicle(v, start=leave, end=end, trips=1),
                    latest_start_s=leave + p.wave_window_s,
                )
                for v in fleet
                for leave in [max(wave.departs_s, truck_free_s.get(v.id, 0))]
            )
            problem = TierProblem(
                name=f"trunk-{direction.value}-{hub.id}",
                sites=sites,
                nodes=tuple(nodes),
                vehicles=vehicles,
                distance_m=dist,
                time_s=tim,
                time_limit_s=max(0.2, self.budget * 0.15),
                solution_limit=self.solution_limit,
                seed=p.seed,
            )
            sol = self.solve(problem)
            tier = Tier.TRUNK_DOWN if direction is Direction.DOWN else Tier.TRUNK_UP
            self.record(problem, sol, tier, wave.id, fleet, node_orders)
            for i in sol.dropped:
                node = problem.nodes[i]
                reason, hint = self.why_dropped(problem, i)
                waits = hub.id if direction is Direction.DOWN else node.site
                self.defer(node_orders[i], reason, waits, hint)
                for o in node_orders[i]:
                    self.short_of.setdefault(o.id, hub.id)
            if sol.status is SolveStatus.NO_SOLUTION:
                for chunk in node_orders:
                    self.defer(
                        chunk,
                        DeferralReason.CAPACITY,
                        hub.id,
                        "the trunk wave has no feasible plan",
                    )
        return None

    # -- last mile ----------------------------------------------------------------------------
    def last_mile_problems(
        self, visited: set[str], trunk_ready: Mapping[str, int], deadline: Mapping[str, int]
    ) -> list[tuple[TierProblem, list[list[Order]], list[Vehicle]]]:
        out = []
        groups: dict[str, list[str]] = {}
        for point in self.net.village_points:
            if point.id in visited and point.parent:
                groups.setdefault(point.parent, []).append(point.id)
        for station_id in self.serving.values():
            groups.setdefault(station_id, [])
        by_site: dict[str, list[Order]] = {}
        for o in self.day.orders:
            if o.id not in self.deferred:
                by_site.setdefault(o.site, []).append(o)
        crossing: dict[str, list[Order]] = {}
        for o in self.day.orders:
            if o.id in self.serving and o.id not in self.deferred:
                crossing.setdefault(self.serving[o.id], []).append(o)
        for station_id, points in groups.items():
            orders = [
                o for pt in points for o in by_site.get(pt, ()) if o.id not in self.serving
            ] + crossing.get(station_id, [])
            built = self.station_problem(
                station_id,
                orders,
                start=trunk_ready.get(station_id, 0),
                end=deadline.get(station_id, 48 * 3600),
            )
            if built is not None:
                out.append(built)
        return self.share_budget(out)

    def share_budget(
        self, out: list[tuple[TierProblem, list[list[Order]], list[Vehicle]]]
    ) -> list[tuple[TierProblem, list[list[Order]], list[Vehicle]]]:
        """Share the village-run budget by size across the workers."""
        total = sum(len(pr.nodes) for pr, _, _ in out) or 1
        share = self.budget * 0.6 * self.workers
        return [
            (
                replace(
                    pr,
                    time_limit_s=max(0.1, share * len(pr.nodes) / total),
                    solution_limit=self.solution_limit,
                ),
                no,
                fl,
            )
            for pr, no, fl in out
        ]

    def station_problem(
        self,
        station_id: str,
        orders: Sequence[Order],
        *,
        start: int,
        end: int,
        states: Mapping[str, VehicleState] | None = None,
        release: Mapping[str, int] | None = None,
        fleet: Sequence[Vehicle] | None = None,
    ) -> tuple[TierProblem, list[list[Order]], list[Vehicle]] | None:
        """The village-run problem of one station.

        ``states`` (a repair) says where vehicles under way are, what they carry and when they
        are free; ``release`` gives orders that reach the station only at some time.
        """
        p = self.policy
        states = states or {}
        release = release or {}
        fleet = list(
            fleet if fleet is not None else (v for v in self.day.fleet if v.home == station_id)
        )
        station = self.net.site(station_id)
        if not orders:
            return None
        if not fleet:
            self.defer(
                orders, DeferralReason.CAPACITY, station_id, f"no vehicles at {station.name}"
            )
            return None
        onboard_of = {oid: vid for vid, st in states.items() for oid in st.onboard}
        # every point of the station is in the matrix: a repaired route goes on from wherever
        # its vehicle last stopped
        own = {pt.id for pt in self.net.children(station_id, SiteKind.VILLAGE_POINT)}
        points = sorted(
            ({o.site for o in orders} | {st.site for st in states.values()} | own) - {station_id}
        )
        homes = sorted({v.home for v in fleet} - {station_id})
        sites = (station_id, *homes, *[pt for pt in points if pt not in homes])
        dist, tim = self.matrices(sites, {v.vehicle_class for v in fleet})
        nodes: list[TierNode] = []
        node_orders: list[list[Order]] = []
        bulky_ok = [i for i, v in enumerate(fleet) if v.bulky_ok]
        index_of = {v.id: i for i, v in enumerate(fleet)}
        by_point: dict[str, list[Order]] = {}
        for o in orders:
            by_point.setdefault(o.site, []).append(o)
        for pt in sorted(by_point):
            site = self.net.site(pt)

            # one node per direction: a stop that both drops and collects would sit in two
            # pickup-and-delivery pairs, which OR-Tools' insertion heuristics handle badly;
            # the two nodes share the site, so the solver visits them back to back. Parcels
            # already on a vehicle, and parcels released later, form nodes of their own.
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
                    candidates = [fleet[index_of[carrier_vehicle]]]
                else:
                    allowed = tuple(bulky_ok) if bulky else None
                    candidates = [fleet[i] for i in bulky_ok] if bulky else fleet
                if not candidates:
                    self.defer(
                        group,
                        DeferralReason.CAPACITY,
                        station_id,
                        f"no vehicle at {station.name} may carry bulky parcels",
                    )
                    continue
                biggest = max(candidates, key=lambda v: v.capacity_kg)
                chunks, too_big = _chunks(group, _capacity(biggest))
                if carrier_vehicle:  # already on board: one node, whatever its size
                    chunks, too_big = [list(group)], []
                if too_big:
                    self.defer(
                        too_big,
                        DeferralReason.CAPACITY,
                        station_id,
                        f"larger than the largest vehicle at {station.name} ({biggest.id})",
                    )
                tag = f"{direction.value}{'#bulky' if bulky else ''}"
                tag += f"#on-{carrier_vehicle}" if carrier_vehicle else ""
                tag += f"#rel{released}" if released >= 0 else ""
                for k, chunk in enumerate(chunks):
                    down = [o for o in chunk if o.direction is Direction.DOWN]
                    up = [o for o in chunk if o.direction is Direction.UP]
                    close = min(site.closes_s, p.village_cutoff_s) if up else site.closes_s
                    parcels = sum(o.parcels for o in chunk)
                    service = self.service_s(pt, parcels)
                    nodes.append(
                        TierNode(
                            key=f"{pt}#{tag}#{k}",
                            site=pt,
                            delivery=resources(load_of(down)),
                            pickup=resources(load_of(up)),
                            service_s=service,
                            window=(site.opens_s, max(site.opens_s, close)),
                            setup_s=min(round(site.service_fixed_s), service),
                            penalty=_penalty(chunk, p, p.poor_village_weight if site.poor else 1.0),
                            allowed=allowed,
                            orders=tuple(o.id for o in chunk),
                            release_s=released if released >= 0 else None,
                            onboard=bool(carrier_vehicle),
                        )
                    )
                    node_orders.append(chunk)
        trips = p.max_trips if p.reloads else 1
        vehicles = []
        for v in fleet:
            tv = _tier_vehicle(v, start=start, end=end, trips=trips)
            st = states.get(v.id)
            if st is not None:
                collected = load_of(self.orders[o] for o in st.collected)
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
            time_limit_s=1.0,
            seed=p.seed,
        )
        return problem, node_orders, fleet

    # -- phases shared by plan_day and repair --------------------------------------------------
    def run_last_mile(
        self,
        problems: Sequence[tuple[TierProblem, list[list[Order]], list[Vehicle]]],
        trunk_at: Mapping[str, Sequence[str]],
        prefixes: Mapping[str, tuple[tuple[Stop, ...], int, bool]] | None = None,
    ) -> dict[str, int]:
        """Solve the stations' village runs (in parallel), record them, defer what is left;
        returns when each station's last run is back."""
        down_wave = self.policy.wave(Direction.DOWN)
        problems = [(self.pinned(pr, fl, self.pins), no, fl) for pr, no, fl in problems]
        candidates = [pr for pr, _, _ in problems]
        kept: list[TierProblem | None] = [None] * len(problems)
        if self.previous is not None:
            # yesterday's village-to-vehicle assignment, tried beside the free plan with half
            # the budget each; the free plan wins only by more than the stability threshold
            yesterday = self.assignment(self.previous)
            for k, (pr, _, fl) in enumerate(problems):
                held = self.pinned(pr, fl, yesterday)
                if held is not pr:
                    kept[k] = replace(held, time_limit_s=pr.time_limit_s / 2)
                    candidates[k] = replace(pr, time_limit_s=pr.time_limit_s / 2)
        extra = [h for h in kept if h is not None]
        solved = _solve_all(self.solve, candidates + extra, self.workers)
        solutions = solved[: len(problems)]
        held_solutions = iter(solved[len(problems) :])
        for k, option in enumerate(kept):
            if option is None:
                continue
            stable = next(held_solutions)
            free = solutions[k]
            saving = 1 - free.objective / stable.objective if stable.objective else 0.0
            if stable.status is not SolveStatus.NO_SOLUTION and (
                free.status is SolveStatus.NO_SOLUTION or saving <= self.policy.stability_threshold
            ):
                solutions[k] = stable
                problems[k] = (option, problems[k][1], problems[k][2])
                self.say(
                    f"  {option.sites[0]}: kept yesterday's assignment "
                    f"(a free plan would save {saving:.1%})"
                )
        run_end: dict[str, int] = {}
        for (problem, node_orders, fleet), sol in zip(problems, solutions, strict=True):
            station = problem.sites[0]
            before = len(self.routes)
            self.record(problem, sol, Tier.LAST_MILE, down_wave.id, fleet, node_orders, prefixes)
            runs = tuple(r.vehicle for r in self.routes[before:])
            trunks = tuple(sorted(set(trunk_at.get(station, []))))
            self.feeds.append((down_wave.id, station, trunks, runs))
            for r in self.routes[before:]:
                run_end[station] = max(run_end.get(station, 0), r.stops[-1].arrival_s)
            for i in sol.dropped:
                reason, hint = self.why_dropped(problem, i)
                for o in node_orders[i]:
                    waits = station if o.direction is Direction.DOWN else o.site
                    self.defer([o], reason, waits, hint)
            if sol.status is SolveStatus.NO_SOLUTION:
                for chunk in node_orders:
                    self.defer(
                        chunk,
                        DeferralReason.CAPACITY,
                        station,
                        "the station's runs have no feasible plan",
                    )
        return run_end

    def finish(
        self,
        run_end: Mapping[str, int],
        truck_free: Mapping[str, int],
        started: float,
        keep_up: Sequence[Route] | None = None,
    ) -> Plan:
        """Plan the up wave (or keep ``keep_up``, its routes already under way), settle what
        it cannot take, and assemble the plan."""
        day, net, p = self.day, self.net, self.policy
        up_wave = p.wave(Direction.UP)
        # up wave: what the runs collected plus the stations' own and the bulk shippers' orders
        up_by_site: dict[str, list[Order]] = {}
        collected = {
            oid
            for r in self.routes
            if r.tier is Tier.LAST_MILE
            for s in r.stops
            for oid in s.collect
        }
        brought_to = {
            oid: r.home
            for r in self.routes
            if r.tier is Tier.LAST_MILE
            for s in r.stops
            for oid in s.collect
        }
        for o in day.orders:
            if o.direction is not Direction.UP or o.id in self.deferred:
                continue
            site = net.site(o.site)
            if site.kind is SiteKind.VILLAGE_POINT and o.id not in collected:
                continue
            key = brought_to.get(o.id) or self.station_of.get(o.site, o.site)
            up_by_site.setdefault(key, []).append(o)
        before = len(self.routes)
        if keep_up is None:
            self.trunk(Direction.UP, up_by_site, run_end, truck_free)
        else:
            self.routes.extend(keep_up)
            carried = {oid for r in keep_up for s in r.stops for oid in s.collect}
            for items in up_by_site.values():
                left = [o for o in items if o.id not in carried]
                for o in left:
                    waits = self.station_of.get(o.site, o.site)
                    self.defer([o], DeferralReason.TIME, waits, "the up wave had already left")
        # what the up trunk could not take is not collected either: it waits at its village
        # point (an order is on its final stop or deferred, never both)
        self.uncollect({oid for oid in collected if oid in self.deferred})
        up_trunk_at: dict[str, list[str]] = {}
        for r in self.routes[before:]:
            for s in r.stops:
                if s.kind is StopKind.VISIT:
                    up_trunk_at.setdefault(s.site, []).append(r.vehicle)
        runs_at: dict[str, list[str]] = {}
        for r in self.routes:
            if r.tier is Tier.LAST_MILE and any(s.collect for s in r.stops):
                runs_at.setdefault(r.home, []).append(r.vehicle)
        for st in sorted(set(up_trunk_at) & {s.id for s in net.stations}):
            self.feeds.append(
                (up_wave.id, st, tuple(sorted(set(up_trunk_at[st]))), tuple(runs_at.get(st, ())))
            )
        self.capacity_suggestions()
        # any order neither on a final stop nor deferred is a bug: make it loud
        site_of = {oid: o.site for oid, o in self.orders.items()}
        final = {oid for oid, _, _ in final_stops(self.routes, site_of)}
        for oid in [oid for oid in self.orders if oid not in final and oid not in self.deferred]:
            o = self.orders[oid]
            self.defer(
                [o],
                DeferralReason.CAPACITY,
                self.station_of.get(o.site, o.site),
                "not placed by the planner",
            )
        status = PlanStatus.COMPLETE
        if any(d.reason is not DeferralReason.FREQUENCY for d in self.deferred.values()):
            status = PlanStatus.PARTIAL
        return Plan(
            scenario=day.name,
            network_version=net.version,
            date=day.date,
            status=status,
            routes=tuple(self.routes),
            deferred=tuple(sorted(self.deferred.values(), key=lambda d: d.order)),
            feeds=tuple(self.feeds),
            solve_s=round(time.perf_counter() - started, 3),
            settings=(
                ("time_limit_s", str(self.budget)),
                ("workers", str(self.workers)),
                ("backend", "ortools"),
            ),
        )

    def assign_across_boundaries(self, visited: set[str], deadline: Mapping[str, int]) -> None:
        """Let each village be served from a neighbouring station when that is cheaper.

        Per hub, one multi-depot problem holds every station's vehicles and every village due
        today; a village may be served by its own station or the ``_NEIGHBOURS`` nearest
        others (by van time). Runs are assumed to leave at the earliest the trunk could be
        there; the chosen station of each order is then kept, and the real runs are planned
        per station after the trunk, with its real arrival times."""
        p = self.policy
        wave = p.wave(Direction.DOWN)
        for hub in self.net.hubs:
            stations = [s.id for s in self.net.stations if s.parent == hub.id]
            fleet = [v for v in self.day.fleet if v.home in stations]
            trucks = [v for v in self.day.fleet if v.home == hub.id]
            if not fleet or not trucks or len(stations) < 2:
                continue
            m = self.net.road_index.matrix((hub.id, *stations), trucks[0].vehicle_class)
            earliest = {
                st: wave.departs_s
                + int(m.time_s[0, k + 1])
                + p.trunk_service_fixed_s
                + p.cross_dock_s
                for k, st in enumerate(stations)
            }
            points = [
                pt.id
                for pt in self.net.village_points
                if pt.id in visited and pt.parent in stations
            ]
            orders = [
                o for o in self.day.orders if o.site in set(points) and o.id not in self.deferred
            ]
            if not orders:
                continue
            built = self.station_problem(stations[0], orders, start=0, end=48 * 3600, fleet=fleet)
            if built is None:
                continue
            problem, node_orders, fleet = built
            classes = {v.vehicle_class for v in fleet}
            tim = problem.time_s
            van = min(classes, key=lambda c: self.net.vehicle_class(c).gross_weight_t)
            pos = problem.site_index
            near: dict[str, set[str]] = {}
            for pt in points:
                own = self.net.site(pt).parent or ""
                others = sorted(
                    (st for st in stations if st != own),
                    key=lambda st: int(tim[van][pos[st], pos[pt]]),
                )
                near[pt] = {own, *others[:_NEIGHBOURS]}
            nodes = []
            for n in problem.nodes:
                allowed = [
                    i
                    for i, v in enumerate(fleet)
                    if v.home in near[n.site] and (n.allowed is None or i in n.allowed)
                ]
                nodes.append(replace(n, allowed=tuple(allowed)))
            vehicles = tuple(
                replace(
                    tv,
                    earliest_start_s=max(tv.earliest_start_s, earliest[tv.depot]),
                    latest_end_s=min(tv.latest_end_s, deadline.get(tv.depot, 48 * 3600)),
                )
                for tv in problem.vehicles
            )
            # the search starts from every station serving its own villages, so crossing a
            # boundary is kept only where it lowers the cost
            own_problems = []
            for st in stations:
                mine = [o for o in orders if self.station_of.get(o.site) == st]
                built_own = self.station_problem(
                    st, mine, start=earliest[st], end=deadline.get(st, 48 * 3600)
                )
                if built_own is not None:
                    own_problems.append(built_own)
            own_problems = self.share_budget(own_problems)
            own_problems = [
                (replace(pr, time_limit_s=pr.time_limit_s / 2), no, fl)
                for pr, no, fl in own_problems
            ]
            own_solutions = _solve_all(self.solve, [pr for pr, _, _ in own_problems], self.workers)
            initial = []
            for (pr, _, _), sol_own in zip(own_problems, own_solutions, strict=True):
                for vi, trips in enumerate(sol_own.routes):
                    if trips:
                        keys = tuple(
                            tuple(pr.nodes[v.node].key for v in visits) for _, visits, _ in trips
                        )
                        initial.append((pr.vehicles[vi].id, keys))
            joint = replace(
                problem,
                name=f"cross-boundary-{hub.id}",
                nodes=tuple(nodes),
                vehicles=vehicles,
                time_limit_s=max(0.2, self.budget * 0.3),
                solution_limit=self.solution_limit,
                initial_routes=tuple(initial),
            )
            sol = self.solve(joint)
            for vi, trips in enumerate(sol.routes):
                home = joint.vehicles[vi].depot
                for _, visits, _ in trips:
                    for visit in visits:
                        for o in node_orders[visit.node]:
                            if home != self.station_of.get(o.site):
                                self.serving[o.id] = home
            self.say(f"  {hub.name}: {len(self.serving)} orders served across a boundary")

    @staticmethod
    def assignment(plan: Plan) -> dict[str, str]:
        """Village point → the vehicle that served it (its first village-run visit)."""
        out: dict[str, str] = {}
        for r in plan.routes_of(Tier.LAST_MILE):
            for s in r.stops:
                if s.kind is StopKind.VISIT:
                    out.setdefault(s.site, r.vehicle)
        return out

    @staticmethod
    def pinned(
        problem: TierProblem, fleet: Sequence[Vehicle], pins: Mapping[str, str]
    ) -> TierProblem:
        """The problem with villages tied to vehicles (where that vehicle may serve them)."""
        index = {v.id: i for i, v in enumerate(fleet)}
        nodes = []
        changed = False
        for n in problem.nodes:
            k = index.get(pins.get(n.site, ""))
            if k is not None and (n.allowed is None or k in n.allowed) and not n.onboard:
                nodes.append(replace(n, allowed=(k,)))
                changed = True
            else:
                nodes.append(n)
        return replace(problem, nodes=tuple(nodes)) if changed else problem

    # -- recording ----------------------------------------------------------------------------
    def record(
        self,
        problem: TierProblem,
        sol: TierSolution,
        tier: Tier,
        wave: str,
        fleet: Sequence[Vehicle],
        node_orders: Sequence[Sequence[Order]],
        prefixes: Mapping[str, tuple[tuple[Stop, ...], int, bool]] | None = None,
    ) -> None:
        """Turn a tier solution into routes.

        ``prefixes`` (a repair) maps a vehicle to the stops it has done, their distance, and
        whether its current trip goes on (under way) or it waits at its station.
        """
        pos = problem.site_index
        prefixes = prefixes or {}
        for vi, trips in enumerate(sol.routes):
            if not trips:
                continue
            tv = problem.vehicles[vi]
            cls = tv.vehicle_class
            dist, tim = problem.distance_m[cls], problem.time_s[cls]
            home = tv.depot
            done, done_m, under_way = prefixes.get(tv.id, ((), 0, False))
            stops: list[Stop] = list(done)
            total_m = done_m
            prev_site = done[-1].site if done else home
            prev_dep = done[-1].departure_s if done else 0
            trip0 = done[-1].trip + (0 if under_way else 1) if done else 0
            for k, (leave, visits, _back) in enumerate(trips):
                trip_orders = [o for v in visits for o in node_orders[v.node]]
                load = load_of([o for o in trip_orders if o.direction is Direction.DOWN])
                if k == 0 and under_way:
                    load = done[-1].load_after
                elif k == 0 and not done:
                    stops.append(
                        Stop(home, StopKind.DEPART, leave, leave, leave, 0, (), (), load.rounded())
                    )
                else:
                    travel = int(tim[pos[prev_site], pos[home]])
                    total_m += int(dist[pos[prev_site], pos[home]])
                    arrive = prev_dep + travel
                    stops.append(
                        Stop(
                            home,
                            StopKind.RELOAD,
                            arrive,
                            arrive,
                            max(leave, arrive),
                            trip0 + k,
                            (),
                            (),
                            load.rounded(),
                        )
                    )
                if not (k == 0 and under_way):
                    prev_site, prev_dep = home, max(leave, stops[-1].arrival_s)
                for v in visits:
                    node = problem.nodes[v.node]
                    travel = int(tim[pos[prev_site], pos[node.site]])
                    total_m += int(dist[pos[prev_site], pos[node.site]])
                    arrive = prev_dep + travel
                    start = max(arrive, v.start_s)
                    last = stops[-1] if len(stops) > len(done) else None
                    # straight on at the same site (same trip): one stop for the courier,
                    # and its setup was paid already (TierNode.setup_s)
                    into = (
                        last
                        if last is not None
                        and last.kind is StopKind.VISIT
                        and last.site == node.site
                        and last.trip == trip0 + k
                        else None
                    )
                    dep = start + node.service_s - (node.setup_s if into is not None else 0)
                    orders = node_orders[v.node]
                    drop = tuple(o.id for o in orders if o.direction is Direction.DOWN)
                    collect = tuple(o.id for o in orders if o.direction is Direction.UP)
                    load = (
                        load
                        - load_of(self.orders[i] for i in drop)
                        + load_of(self.orders[i] for i in collect)
                    )
                    here = Stop(
                        node.site,
                        StopKind.VISIT,
                        arrive,
                        start,
                        dep,
                        trip0 + k,
                        drop,
                        collect,
                        load.rounded(),
                    )
                    if into is not None:
                        # two loads at one village (its parcels and its bulky ones, or drops
                        # and collections) are one stop for the courier
                        here = replace(
                            into,
                            departure_s=dep,
                            drop=into.drop + drop,
                            collect=into.collect + collect,
                            load_after=here.load_after,
                        )
                        stops[-1] = here
                    else:
                        stops.append(here)
                    prev_site, prev_dep = node.site, dep
            travel = int(tim[pos[prev_site], pos[home]])
            total_m += int(dist[pos[prev_site], pos[home]])
            arrive = prev_dep + travel
            stops.append(
                Stop(home, StopKind.RETURN, arrive, arrive, arrive, stops[-1].trip, (), (), Load())
            )
            vehicle = next(v for v in fleet if v.id == tv.id)
            duration_h = (stops[-1].departure_s - stops[0].departure_s) / 3600
            cost = (
                vehicle.fixed_cost
                + vehicle.cost_per_km * total_m / 1000
                + vehicle.cost_per_hour * duration_h
            )
            self.routes.append(
                Route(tv.id, cls, tier, wave, home, tuple(stops), total_m, round(cost, 2))
            )

    def uncollect(self, order_ids: set[str]) -> None:
        """Take orders off the village runs that collected them and let them wait at their
        village point; the loads after the later stops of the same trip drop by theirs."""
        if not order_ids:
            return
        for k, r in enumerate(self.routes):
            if r.tier is not Tier.LAST_MILE:
                continue
            stops: list[Stop] = []
            off = Load()
            for s in r.stops:
                if s.kind is not StopKind.VISIT:
                    off = Load()  # a trip starts (or ends) at the station
                    stops.append(s)
                    continue
                gone = [oid for oid in s.collect if oid in order_ids]
                off = off + load_of(self.orders[oid] for oid in gone)
                if gone or off != Load():
                    s = replace(
                        s,
                        collect=tuple(oid for oid in s.collect if oid not in order_ids),
                        load_after=(s.load_after - off).rounded(),
                    )
                stops.append(s)
            self.routes[k] = replace(r, stops=tuple(stops))
        for oid in order_ids:
            d = self.deferred[oid]
            self.deferred[oid] = replace(d, waits_at=d.site)

    # -- reasons ---------------------------------------------------------------------------------
    def why_dropped(self, problem: TierProblem, i: int) -> tuple[DeferralReason, str]:
        node = problem.nodes[i]
        pos = problem.site_index
        site = self.net.site(node.site)
        candidates = [
            v for k, v in enumerate(problem.vehicles) if node.allowed is None or k in node.allowed
        ]
        reachable = [
            v
            for v in candidates
            if problem.distance_m[v.vehicle_class][pos[v.depot], pos[node.site]] < UNREACHABLE
            and problem.distance_m[v.vehicle_class][pos[node.site], pos[v.depot]] < UNREACHABLE
        ]
        if not reachable:
            classes = ", ".join(sorted({v.vehicle_class for v in candidates})) or "any vehicle"
            return (
                DeferralReason.UNREACHABLE,
                f"no open road lets {classes} reach {site.name}; reopen the road or send a vehicle class that may use it",
            )
        best_late = None
        fits_time = False
        latest_open = None  # the latest service start some vehicle could still make
        for v in reachable:
            t_out = int(problem.time_s[v.vehicle_class][pos[v.depot], pos[node.site]])
            t_back = int(problem.time_s[v.vehicle_class][pos[node.site], pos[v.depot]])
            arrive = v.earliest_start_s + t_out
            start = max(arrive, node.window[0])
            if start <= node.window[1] and start + node.service_s + t_back <= v.latest_end_s:
                fits_time = True
                break
            late = start - node.window[1]
            best_late = late if best_late is None else min(best_late, late)
            last = v.latest_end_s - node.service_s - t_back
            if arrive <= last:
                latest_open = last if latest_open is None else max(latest_open, last)
        if not fits_time:
            if latest_open is not None and node.window[0] > latest_open:
                # the point opens after the runs must be back: staying open longer or leaving
                # earlier cannot help, opening earlier can
                opens_by = latest_open - latest_open % 600
                return (
                    DeferralReason.TIME,
                    f"{site.name} opens at {format_clock(node.window[0])}, after the last run could serve it; opening by {format_clock(opens_by)} would fit it",
                )
            if best_late is not None and best_late > 0:
                minutes = math.ceil(best_late / 600) * 10
                return (
                    DeferralReason.TIME,
                    f"keeping {site.name} open {minutes} min longer (until {format_clock(node.window[1] + minutes * 60)}) would fit it",
                )
            return (
                DeferralReason.TIME,
                f"the round trip to {site.name} does not fit the vehicles' shifts; an earlier departure would fit it",
            )
        return DeferralReason.CAPACITY, ""

    def capacity_suggestions(self) -> None:
        """Turn capacity deferrals into one actionable line per home site."""
        by_home: dict[str, list[Deferred]] = {}
        for d in self.deferred.values():
            if d.reason is DeferralReason.CAPACITY and not d.suggestion:
                home = self.station_of.get(d.site) or next((h.id for h in self.net.hubs), d.site)
                if self.net.site(d.site).kind is SiteKind.BULK_SHIPPER:
                    home = self.net.site(d.site).parent or home
                # a full trunk wave is short of trucks at the hub, not of vans at the station
                home = self.short_of.get(d.order, home)
                by_home.setdefault(home, []).append(d)
        for home, items in by_home.items():
            fleet = [v for v in self.day.fleet if v.home == home]
            parcels = sum(self.orders[d.order].parcels for d in items)
            if fleet:
                ref = max(fleet, key=lambda v: v.capacity_parcels)
                trips = (
                    self.policy.max_trips
                    if self.policy.reloads and self.net.site(home).kind is SiteKind.STATION
                    else 1
                )
                # what its trips hold by weight, volume and parcels, not by parcels alone
                chunks, _ = _chunks([self.orders[d.order] for d in items], _capacity(ref))
                carry = sum(o.parcels for chunk in chunks[:trips] for o in chunk)
                text = f"one more {ref.vehicle_class} at {self.net.site(home).name} would carry {carry} of these {parcels} parcels"
            else:
                text = f"{self.net.site(home).name} has no vehicles; add one to carry these {parcels} parcels"
            for d in items:
                self.deferred[d.order] = Deferred(
                    d.order, d.site, d.reason, d.until, d.waits_at, text
                )


def _solve_all(solve: Solve, problems: Sequence[TierProblem], workers: int) -> list[TierSolution]:
    if workers <= 1 or len(problems) <= 1:
        return [solve(p) for p in problems]
    order = sorted(range(len(problems)), key=lambda i: -len(problems[i].nodes))
    with ProcessPoolExecutor(max_workers=min(workers, len(problems))) as pool:
        futures = {i: pool.submit(solve, problems[i]) for i in order}
        return [futures[i].result() for i in range(len(problems))]


def plan_day(
    day: DayInput,
    *,
    time_limit_s: float | None = None,
    workers: int = 1,
    solve: Solve | None = None,
    solution_limit: int | None = None,
    previous: Plan | None = None,
    pins: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    """Plan one day across the three tiers.

    Parameters
    ----------
    day
        The validated inputs.
    time_limit_s
        Search budget for the whole day (default: the policy's ``time_limit_s``).
    workers
        Processes for the stations' village runs (independent problems).
    solve
        The tier solver (default: OR-Tools).
    solution_limit
        Stop each search after this many solutions: with it the plan is deterministic.
    previous
        Yesterday's plan: its village-to-vehicle assignment is kept unless re-planning freely
        saves more than the policy's ``stability_threshold`` (drivers and station keepers
        rely on it).
    pins
        Village point → vehicle that must serve it (a dispatcher's pin).
    progress
        Called with a line of text as each phase starts.

    Returns
    -------
    Plan
        Every order is on exactly one final stop or deferred with a reason.
    """
    started = time.perf_counter()
    b = _Builder(
        day,
        solve or _default_solve,
        workers,
        time_limit_s or day.policy.time_limit_s,
        solution_limit=solution_limit,
        previous=previous,
        pins=pins,
        progress=progress,
    )
    p = day.policy
    visited = b.apply_frequency()
    b.say(f"trunk, down wave: {len(day.network.stations)} stations")

    deadline = _deadlines(day)
    if p.cross_boundary:
        b.say("cross-boundary: choosing the station that serves each village")
        b.assign_across_boundaries(visited, deadline)
    down_by_station: dict[str, list[Order]] = {}
    for o in day.orders:
        if o.direction is Direction.DOWN:
            key = b.serving.get(o.id) or b.station_of.get(o.site, o.site)
            down_by_station.setdefault(key, []).append(o)
    b.trunk(Direction.DOWN, down_by_station, {}, {})
    # when each station's parcels are there (all trunk chunks unloaded) and who brought them
    arrived: dict[str, int] = {}
    trunk_at: dict[str, list[str]] = {}
    truck_free: dict[str, int] = {}
    for r in b.routes:
        truck_free[r.vehicle] = r.stops[-1].arrival_s
        for s in r.stops:
            if s.kind is StopKind.VISIT:
                arrived[s.site] = max(arrived.get(s.site, 0), s.departure_s)
                trunk_at.setdefault(s.site, []).append(r.vehicle)
    # stations whose trunk chunk was dropped: their orders are deferred already
    ready = {st: t + p.cross_dock_s for st, t in arrived.items()}

    problems = b.last_mile_problems(visited, ready, deadline)
    b.say(f"village runs: {len(problems)} stations on {b.workers} worker(s)")
    run_end = b.run_last_mile(problems, trunk_at)
    b.say("trunk, up wave")
    return b.finish(run_end, truck_free, started)


def _deadlines(day: DayInput) -> dict[str, int]:
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
