"""Cross-boundary service: let each village be served from a neighbouring station when that
is cheaper (the policy's ``cross_boundary``), and never plan worse than with every village
tied to its own station.

Two levels:

* :func:`assign_across_boundaries` — per hub, the stations' village runs searched jointly as
  one multi-depot problem by PyVRP (several depots and reload depots), **starting from the
  tied day's village runs** (:func:`tied_start`). The joint problem is made of the very
  nodes of the stations' own problems (each village's orders cut into chunks by its own
  station's vehicles), so the tied runs map onto it key for key (by order where the trunk
  deferred part of a village), and PyVRP, which keeps the best solution it has seen, never
  answers above that start in its model (the cause of issue 16: chunks cut by the county's
  biggest vehicle made every key of the warm start unknown, and a cold short answer was
  kept without comparison). OR-Tools searches the joint model only when PyVRP's answer is
  infeasible, leaves out a stop the start served, or finds nothing cheaper than a start
  that leaves stops out (an overloaded day). The stations whose orders changed are then
  planned again from their joint routes; the others keep the tied day's runs.
* :func:`keep_better` — the day is planned twice, with every village tied to its own station
  and with the joint assignment; the cheaper plan (route costs plus deferral penalties) is
  kept and says which it is (``settings``: ``cross_boundary``) and which villages another
  station serves (:attr:`~routing.plan.Plan.crossings`). Under a work budget both plans are
  deterministic, so the pooled day is never above the tied one for the same inputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from routing.build import OPEN_END_S, BuiltProblem, capacity, chunks, station_problem
from routing.model import Direction, Order
from routing.plan import (
    Crossing,
    DeferralReason,
    Plan,
    Route,
    Stop,
    Tier,
    share_routes,
    with_parts,
)
from routing.problem import COST_UNIT, SolveStatus, TierNode, TierSolution
from routing.solvers import solve_ortools
from routing.solvers.pyvrp_search import initial_routes as initial_routes_of
from routing.solvers.pyvrp_search import pyvrp_from_start, pyvrp_start
from routing.state import DayState

__all__ = [
    "NEIGHBOURS",
    "TRUNK_OVERFLOW_SHARE",
    "HubProblems",
    "JointChoice",
    "StationSettlement",
    "assign_across_boundaries",
    "crossings",
    "hub_problems",
    "keep_better",
    "plan_cost",
    "settle_stations",
    "tied_start",
    "trunk_relief",
]

NEIGHBOURS = 2
"""Stations besides its own that may serve a village under cross-boundary service."""


@dataclass(frozen=True, slots=True)
class JointChoice:
    """What the joint search of one hub's stations found: its answer's cost and its start's
    (the tied day's runs; cost units, PyVRP's model of the joint problem, the start's
    violations of it not priced; ``None`` where there is none, and for the start when
    OR-Tools' answer replaced PyVRP's), whether the joint assignment was kept (some orders
    move), how many orders move, and which search answered (``"pyvrp"`` or
    ``"ortools"``)."""

    hub: str
    joint_cost: int | None
    tied_cost: int | None
    kept_joint: bool
    moved_orders: int
    backend: str = "pyvrp"


def _no_defer(*_: object) -> None:
    """Building the search's problems defers nothing: the day's own phases do."""


def _joint_nodes(
    own: Sequence[BuiltProblem],
    fleet_ids: Sequence[str],
    homes: Sequence[str],
    bulky_ok: Sequence[bool],
    near: Mapping[str, set[str]],
) -> tuple[list[TierNode], list[tuple[Order, ...]]]:
    nodes: list[TierNode] = []
    node_orders: list[tuple[Order, ...]] = []
    for b in own:
        for n, chunk in zip(b.problem.nodes, b.node_orders, strict=True):
            bulky = any(o.bulky for o in chunk)
            allowed = tuple(
                i
                for i in range(len(fleet_ids))
                if homes[i] in near[n.site] and (bulky_ok[i] or not bulky)
            )
            nodes.append(replace(n, allowed=allowed))
            node_orders.append(chunk)
    return nodes, node_orders


@dataclass(frozen=True)
class HubProblems:
    """One hub's village runs twice over: each station's own problem (the tied plan's) and
    the joint multi-depot problem made of their nodes (``node_orders`` behind its nodes)."""

    hub: str
    own: tuple[BuiltProblem, ...]
    joint: BuiltProblem


def hub_problems(
    state: DayState, visited: set[str], deadline: Mapping[str, int]
) -> Iterator[HubProblems]:
    """Per hub with at least two stations, the stations' own village-run problems and the
    joint one: every station's vehicles, every village due today, a village open to its own
    station and the :data:`NEIGHBOURS` nearest others (by van time); runs leave at the
    earliest the trunk could be there and are back by the stations' deadlines."""
    day = state.day
    net, p = day.network, day.policy
    wave = p.wave(Direction.DOWN)
    for hub in net.hubs:
        stations = [s.id for s in net.stations if s.parent == hub.id]
        fleet = [v for v in day.fleet if v.home in stations]
        trucks = [v for v in day.fleet if v.home == hub.id]
        if not fleet or not trucks or len(stations) < 2:
            continue
        m = net.road_index.matrix((hub.id, *stations), trucks[0].vehicle_class)
        earliest = {
            st: wave.departs_s + int(m.time_s[0, k + 1]) + p.trunk_service_fixed_s + p.cross_dock_s
            for k, st in enumerate(stations)
        }
        points = [pt.id for pt in net.village_points if pt.id in visited and pt.parent in stations]
        orders = [o for o in day.orders if o.site in set(points) and o.id not in state.deferred]
        if not orders:
            continue
        # the tied plan: every station's own villages, its own chunks
        own_problems = []
        for st in stations:
            mine = [o for o in orders if state.station_of.get(o.site) == st]
            built_own = station_problem(
                day, st, mine, _no_defer, start=earliest[st], end=deadline.get(st, OPEN_END_S)
            )
            if built_own is not None:
                own_problems.append(built_own)
        # the joint problem's sites, matrices and vehicles (its nodes are the stations' own)
        frame = station_problem(
            day, stations[0], orders, _no_defer, start=0, end=OPEN_END_S, fleet=fleet
        )
        if frame is None or not own_problems:
            continue
        problem, fleet_all = frame.problem, frame.fleet
        van = min(
            {v.vehicle_class for v in fleet_all}, key=lambda c: net.vehicle_class(c).gross_weight_t
        )
        tim, pos = problem.time_s[van], problem.site_index
        near: dict[str, set[str]] = {}
        for pt in points:
            own = net.site(pt).parent or ""
            others = sorted(
                (st for st in stations if st != own), key=lambda st: int(tim[pos[st], pos[pt]])
            )
            near[pt] = {own, *others[:NEIGHBOURS]}
        nodes, node_orders = _joint_nodes(
            own_problems,
            [v.id for v in fleet_all],
            [v.home for v in fleet_all],
            [v.bulky_ok for v in fleet_all],
            near,
        )
        vehicles = tuple(
            replace(
                tv,
                earliest_start_s=max(tv.earliest_start_s, earliest[tv.depot]),
                latest_end_s=min(tv.latest_end_s, deadline.get(tv.depot, OPEN_END_S)),
            )
            for tv in problem.vehicles
        )
        joint = replace(
            problem, name=f"cross-boundary-{hub.id}", nodes=tuple(nodes), vehicles=vehicles
        )
        yield HubProblems(
            hub.id, tuple(own_problems), BuiltProblem(joint, tuple(node_orders), fleet_all)
        )


def tied_start(
    joint: BuiltProblem, runs: Mapping[str, tuple[BuiltProblem, TierSolution]]
) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    """The tied day's village runs (``DayState.runs``: station → problem and solution) as a
    warm start of the joint problem: each vehicle's trips, their stops mapped to the joint
    nodes by the orders behind them (the joint nodes are the stations' own, so the keys are
    the same unless the trunk deferred part of a village's orders; an order the joint
    problem does not have is left out, a joint node is visited where its first order was).
    Vehicles the joint problem does not have are left out."""
    key_of = {
        o.id: joint.problem.nodes[i].key for i, chunk in enumerate(joint.node_orders) for o in chunk
    }
    mine = {v.id for v in joint.problem.vehicles}
    seen: set[str] = set()
    out: list[tuple[str, tuple[tuple[str, ...], ...]]] = []
    for station in sorted(runs):
        built, sol = runs[station]
        for vi, trips in enumerate(sol.routes):
            vid = built.problem.vehicles[vi].id
            if vid not in mine:
                continue
            keyed = []
            for _, visits, _ in trips:
                keys = [
                    k
                    for v in visits
                    for o in built.node_orders[v.node]
                    if (k := key_of.get(o.id)) is not None
                ]
                trip = tuple(k for k in dict.fromkeys(keys) if k not in seen)
                seen.update(trip)
                if trip:
                    keyed.append(trip)
            if keyed:
                out.append((vid, tuple(keyed)))
    return tuple(out)


def assign_across_boundaries(
    state: DayState,
    visited: set[str],
    deadline: Mapping[str, int],
    runs: Mapping[str, tuple[BuiltProblem, TierSolution]] | None = None,
) -> list[JointChoice]:
    """Choose the station that serves each village's orders (``state.serving``).

    Per hub (:func:`hub_problems`), PyVRP's multi-depot search of the joint problem starts
    from ``runs``, the tied day's village runs (:func:`tied_start`; the stations' own
    problems are not solved again), with the work :meth:`~routing.budget.DayBudget.joint`
    gives it; it keeps the best solution it has seen, so its answer is never above the
    start in its model when the start is feasible there. On a day the tied runs leave stops
    out (a short day: the stations cannot serve it whole), a fresh multi-depot search of the
    joint problem (the same work) runs as well, the cheaper of the two answers in PyVRP's
    model is taken, and it is judged by its cost alone, whatever stops it leaves out (their
    prizes are in its cost). Where the answer is infeasible, or on a short day finds nothing
    cheaper than the start, or on a day the stations serve whole leaves out a stop the start
    served, OR-Tools searches the joint model from the start instead (a few solutions:
    :meth:`~routing.budget.DayBudget.joint_fallback`). PyVRP's assignment is kept only
    when it is cheaper than the start in PyVRP's model (the start's violations of the
    approximation, e.g. its shifted loading times, not priced: a start it finds infeasible
    is still the yardstick), OR-Tools' when it moves any order; otherwise the start's
    assignment stands (none moved from the tied day; on a pooled day's improvement pass,
    which starts from the best day's runs, that day's crossings). The real runs are then
    planned per station after the trunk, with its real arrival times: the stations whose
    orders changed start from their routes in the answer (``state.starts``), the others
    are planned as on the tied day. Returns what was decided per hub."""
    choices: list[JointChoice] = []
    for hp in hub_problems(state, visited, deadline):
        initial = tied_start(hp.joint, runs or {})
        joint = replace(hp.joint.problem, initial_routes=initial)
        depot_of = {v.id: v.depot for v in joint.vehicles}
        node_orders = hp.joint.node_orders
        settings = state.budget.joint(len(joint.nodes))
        sol, start_cost, _ = pyvrp_from_start(joint, settings)
        state.solved([(joint, settings)], [sol])
        served = {k for _, trips in initial for t in trips for k in t}
        # a day the stations cannot serve whole (the tied runs leave stops out): the
        # answers are judged by their cost alone, whatever stops they leave out (their
        # prizes are in it), and a fresh multi-depot search runs as well (sparse-180 at
        # x2.5: the answer from the start, 231,529 yuan in PyVRP's model, left out 27 stops,
        # some the start served, and the rule below sent the search to OR-Tools, 281,505)
        short = start_cost is not None and len(served) < len(joint.nodes)
        fresh_won = False
        if short:
            fresh = pyvrp_start(replace(joint, initial_routes=()), settings)
            state.solved([(joint, settings)], [fresh])
            best = sol.objective if sol.status is SolveStatus.FEASIBLE else math.inf
            if fresh.status is SolveStatus.FEASIBLE and fresh.objective < best:
                sol, fresh_won = fresh, True
        # a day the stations serve whole: an answer that leaves out a stop the start served
        # goes to OR-Tools, which searches from the start
        left_out = set() if short else {joint.nodes[i].key for i in sol.dropped} & served
        backend = "pyvrp (fresh)" if fresh_won else "pyvrp"
        # on a short day PyVRP may find nothing cheaper than the start (the left-out stops'
        # prizes dominate its cost; measured on plain-160 at x2.5: 1,610 iterations, no
        # change), while OR-Tools inserts them: 20 solutions from the start were 3.5 %
        # cheaper in its model, 6 stops fewer left out
        stuck = short and start_cost is not None and sol.objective >= start_cost
        if sol.status is not SolveStatus.FEASIBLE or left_out or stuck:
            # OR-Tools models every constraint and takes the start (its keys are the joint
            # problem's): a few solutions from it
            fallback = state.budget.joint_fallback()
            sol = solve_ortools(joint, fallback)
            state.solved([(joint, fallback)], [sol])
            start_cost, backend = None, "ortools"
        joint_cost = sol.objective if sol.status is not SolveStatus.NO_SOLUTION else None
        keep = joint_cost is not None and (start_cost is None or joint_cost < start_cost)
        moved: dict[str, str] = {}
        if keep:
            for vi, trips in enumerate(sol.routes):
                home = joint.vehicles[vi].depot
                for _, visits, _ in trips:
                    for visit in visits:
                        for o in node_orders[visit.node]:
                            if home != state.station_of.get(o.site):
                                moved[o.id] = home
        else:  # the start's assignment stands (a pooled day's pass: the best day's crossings)
            index = {n.key: i for i, n in enumerate(joint.nodes)}
            for vid, keyed in initial:
                for key in (k for trip in keyed for k in trip if k in index):
                    for o in node_orders[index[key]]:
                        if depot_of[vid] != state.station_of.get(o.site):
                            moved[o.id] = depot_of[vid]
        state.serving.update(moved)
        # the final searches of the stations whose orders changed start where this one
        # ended (and keep the better of that start polished and their own search)
        changed = {state.station_of.get(state.orders[oid].site, "") for oid in moved}
        changed |= set(moved.values())
        starts: dict[str, list[tuple[str, tuple[tuple[str, ...], ...]]]] = {}
        for vid, keys in initial_routes_of(joint, sol) if moved and keep else ():
            if depot_of[vid] in changed:
                starts.setdefault(depot_of[vid], []).append((vid, keys))
        state.starts.update({st: tuple(r) for st, r in starts.items()})
        choices.append(
            JointChoice(hp.hub, joint_cost, start_cost, keep and bool(moved), len(moved), backend)
        )
        state.say(
            f"  {hp.hub}: joint search ({backend}) {_yuan(joint_cost)}, "
            f"tied runs {_yuan(start_cost)}: "
            + (
                f"{len(moved)} orders served across a boundary"
                if moved
                else "every village at its own station"
            )
        )
    return choices


# -- the trunk weighed in the assignment ----------------------------------------------------
TRUNK_OVERFLOW_SHARE = 0.25
"""A station whose down load exceeds a whole number of truckloads by at most this share of
a truck (in its tightest resource) is relieved by :func:`trunk_relief`: the last, small
truckload costs a truck visit (often a truck) of its own."""

MAX_RELIEF_VILLAGES = 3
"""At most this many villages leave one station to save it a truckload."""


def _van_time(state: DayState, hub: str, sites: Sequence[str]) -> Mapping[tuple[str, str], int]:
    """Van travel seconds between ``sites`` (the smallest station vehicle class of ``hub``)."""
    net = state.day.network
    stations = {s.id for s in net.stations if s.parent == hub}
    classes = {v.vehicle_class for v in state.day.fleet if v.home in stations}
    if not classes:
        return {}
    van = min(classes, key=lambda c: net.vehicle_class(c).gross_weight_t)
    m = net.road_index.matrix(tuple(sites), van).time_s
    return {(a, b): int(m[i, j]) for i, a in enumerate(sites) for j, b in enumerate(sites)}


def trunk_relief(state: DayState) -> dict[str, str] | None:
    """Villages to serve from a neighbouring station so that a station whose down load just
    exceeds a whole number of truckloads (by at most :data:`TRUNK_OVERFLOW_SHARE` of the
    hub's largest truck) needs one truckload fewer, without adding one at the neighbour.

    Per hub and overloaded station (in id order), the station's villages that a neighbour may
    serve (its own station or one of the :data:`NEIGHBOURS` nearest, as in the joint search)
    are moved, cheapest extra van time first, until the last truckload is gone (at most
    :data:`MAX_RELIEF_VILLAGES`). Returns the whole new order → station map (``serving``
    with the moves), or ``None`` when nothing would move. The caller plans the day with it
    and keeps the cheaper day (:func:`routing.day.plan_day`)."""
    day = state.day
    net = day.network
    serving = dict(state.serving)
    villages = {pt.id for pt in net.village_points}
    moved_any = False
    for hub in net.hubs:
        trucks = [v for v in day.fleet if v.home == hub.id]
        stations = sorted(s.id for s in net.stations if s.parent == hub.id)
        if not trucks or len(stations) < 2:
            continue
        cap = capacity(max(trucks, key=lambda v: v.capacity_kg))
        down: dict[str, list[Order]] = {st: [] for st in stations}
        village_orders: dict[str, list[Order]] = {}
        for o in day.orders:
            own = state.station_of.get(o.site)
            d = state.deferred.get(o.id)
            if (d is not None and d.reason is DeferralReason.FREQUENCY) or own not in down:
                continue  # (orders deferred later, at the village runs, still rode the trunk)
            village_orders.setdefault(o.site, []).append(o)
            if o.direction is Direction.DOWN:
                down[serving.get(o.id, own)].append(o)
        points = sorted(pt for pt in village_orders if pt in villages)
        tim = _van_time(state, hub.id, (*stations, *points))
        if not tim:
            continue

        for st in stations:
            n = _truckloads(down[st], cap)
            if n < 2:
                continue
            last = min(chunks(down[st], cap)[0], key=len)
            used = [sum(x) for x in zip(*(_need(o) for o in last), strict=True)]
            if max(u / c for u, c in zip(used, cap, strict=True)) > TRUNK_OVERFLOW_SHARE:
                continue
            own_points = [
                pt
                for pt in points
                if serving.get(village_orders[pt][0].id, state.station_of[pt]) == st
            ]
            options = []
            for pt in own_points:
                near = sorted((x for x in stations if x != st), key=lambda x: (tim[(x, pt)], x))[
                    :NEIGHBOURS
                ]
                home = state.station_of[pt]
                for other in ([home] if home != st else []) + near:
                    extra = 2 * (tim[(other, pt)] - tim[(st, pt)])
                    options.append((extra, pt, other))
            options.sort()
            left = list(down[st])
            moves: dict[str, str] = {}
            taken: set[str] = set()
            for _, pt, other in options:
                if pt in taken or len(moves) >= MAX_RELIEF_VILLAGES:
                    continue
                going = [o for o in village_orders[pt] if o.direction is Direction.DOWN]
                if _truckloads(down[other] + going, cap) > _truckloads(down[other], cap):
                    continue
                moves[pt] = other
                taken.add(pt)
                left = [o for o in left if o.site != pt]
                if _truckloads(left, cap) < n:
                    break
            if not moves or _truckloads(left, cap) >= n:
                continue
            for pt, other in moves.items():
                for o in village_orders[pt]:
                    if other == state.station_of[pt]:
                        serving.pop(o.id, None)
                    else:
                        serving[o.id] = other
                    if o.direction is Direction.DOWN:
                        down[other].append(o)
                down[st] = [o for o in down[st] if o.site != pt]
            moved_any = True
    return serving if moved_any else None


def _truckloads(orders: Sequence[Order], cap: tuple[int, int, int]) -> int:
    return len(chunks(orders, cap)[0])


def _need(o: Order) -> tuple[int, int, int]:
    return (round(o.weight_kg * 1000), round(o.volume_m3 * 1_000_000), o.parcels)


def _yuan(cost: int | None) -> str:
    return "no plan" if cost is None else f"{cost * COST_UNIT:.2f} yuan"


# -- the day's guarantee -------------------------------------------------------------------
def plan_cost(plan: Plan, orders: Sequence[Order], policy_penalty: float) -> float:
    """The plan's cost in yuan: its routes' costs plus, for every order deferred for another
    reason than visit frequency (those are the same whichever station serves), the
    policy's deferral price per parcel (``policy_penalty``), weighted by priority."""
    by_id = {o.id: o for o in orders}
    deferred = [
        by_id[d.order]
        for d in plan.deferred
        if d.reason is not DeferralReason.FREQUENCY and d.order in by_id
    ]
    parcels = sum(o.parcels * (1 + o.priority) for o in deferred)
    return sum(r.cost for r in plan.routes) + parcels * policy_penalty


def crossings(plan: Plan, station_of: Mapping[str, str]) -> tuple[Crossing, ...]:
    """Every village point a village run serves from another station than its own."""
    seen: dict[str, Crossing] = {}
    for r in plan.routes_of(Tier.LAST_MILE):
        for s in r.stops:
            own = station_of.get(s.site)
            if own is not None and own != s.site and own != r.home and s.site not in seen:
                seen[s.site] = Crossing(s.site, own, r.home, r.vehicle)
    return tuple(sorted(seen.values(), key=lambda c: c.site))


@dataclass(frozen=True, slots=True)
class StationSettlement:
    """What station ``served_by`` carried for station ``own`` on its village runs: the
    villages of ``own`` it served, their orders and parcels, and its runs' km and cost in
    proportion to the parcels they carried at ``own``'s villages (each run's km and cost
    shared by the parcels it dropped or collected, as carriers are settled:
    :func:`routing.plan.share_routes`)."""

    own: str
    served_by: str
    villages: int
    orders: int
    parcels: int
    km: float
    cost: float


def settle_stations(
    plan: Plan, station_of: Mapping[str, str], orders: Sequence[Order]
) -> tuple[StationSettlement, ...]:
    """Who carried whose parcels: one line per pair of stations where one station's village
    runs served villages of the other (none when every village is served by its own)."""

    def pair(r: Route, s: Stop, o: Order) -> tuple[str, str] | None:
        own = station_of.get(s.site)
        # the station itself (departure, reload, return) is nobody's village
        return None if own is None or own == s.site else (own, r.home)

    by_id = {o.id: o for o in with_parts(orders, plan.parts)}
    shares = share_routes(plan.routes_of(Tier.LAST_MILE), by_id, pair)
    return tuple(
        StationSettlement(
            own,
            by,
            len(x.sites),
            len(x.orders),
            x.parcels,
            round(x.km, 3),
            round(x.cost, 2),
        )
        for (own, by), x in sorted(shares.items())
        if own != by
    )


def keep_better(
    tied: Plan,
    pooled: Plan,
    orders: Sequence[Order],
    policy_penalty: float,
    station_of: Mapping[str, str],
) -> Plan:
    """The cheaper of the tied and the pooled plan (the tied one on a tie), saying which
    (``settings``: ``cross_boundary``, ``cross_boundary_saving_yuan``) and listing the
    villages served across a boundary (none when the tied plan is kept). A strictly cheaper
    pooled plan is kept even when it serves no village across a boundary (its searches
    started elsewhere and found better runs)."""
    c_tied = plan_cost(tied, orders, policy_penalty)
    c_pooled = plan_cost(pooled, orders, policy_penalty)
    if c_pooled < c_tied:
        chosen, which, crossed = pooled, "pooled", crossings(pooled, station_of)
    else:
        chosen, which, crossed = tied, "tied", ()
    saving = c_tied - c_pooled if which == "pooled" else 0.0
    return replace(
        chosen,
        crossings=crossed,
        settings=(
            *chosen.settings,
            ("cross_boundary", which),
            ("cross_boundary_tied_yuan", f"{c_tied:.2f}"),
            ("cross_boundary_pooled_yuan", f"{c_pooled:.2f}"),
            ("cross_boundary_saving_yuan", f"{saving:.2f}"),
        ),
    )
