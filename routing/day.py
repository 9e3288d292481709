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

Whatever does not fit is deferred with a reason and a suggestion. :func:`plan_day` is a short
orchestration of the public phases below, which :func:`routing.repair.replan` reuses; the
problems are built in :mod:`routing.build`, solved by a :class:`~routing.solvers.Solver`
under the budget :mod:`routing.budget` divides, and turned into routes by
:mod:`routing.assemble`. The result is checked by :mod:`routing.check` in tests and shells.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from networks import SiteKind
from routing.assemble import Prefix, uncollect
from routing.budget import DayBudget
from routing.build import (
    OPEN_END_S,
    BuiltProblem,
    deadlines,
    is_due,
    next_day,
    station_of,
    station_problem,
    trunk_problem,
)
from routing.crossing import assign_across_boundaries, keep_better, plan_cost, trunk_relief
from routing.deferral import capacity_suggestions, why_dropped
from routing.inputs import DayInput, with_mandatory_sites
from routing.model import Direction, Order
from routing.plan import (
    DeferralReason,
    Hint,
    Plan,
    PlanStatus,
    Route,
    StopKind,
    Tier,
    final_stops,
)
from routing.pools import assign_pools
from routing.problem import SolveStatus, TierSolution
from routing.solvers import DEFAULT_SOLVER, Solver, SolveSettings
from routing.solvers.pyvrp_search import initial_routes
from routing.split import split_oversize
from routing.state import DayState, Progress, Stage, no_stage, same_problem, solve_all

__all__ = [
    "apply_frequency",
    "assignment",
    "finish",
    "improvement_pass",
    "last_mile_problems",
    "pinned",
    "plan_day",
    "plan_trunk_wave",
    "relieve_trunk",
    "restated",
    "run_last_mile",
    "search_in_rounds",
    "started_from",
    "trunk_arrivals",
    "versions",
]


# -- phases ------------------------------------------------------------------------------------
def apply_frequency(state: DayState) -> set[str]:
    """Defer the orders of villages not due today; returns the villages visited today."""
    day, p = state.day, state.day.policy
    volume: dict[str, int] = {}
    by_site: dict[str, list[Order]] = {}
    for o in day.orders:
        volume[o.site] = volume.get(o.site, 0) + o.parcels
        by_site.setdefault(o.site, []).append(o)
    visited: set[str] = set()
    daily_poor = p.poor_min_visits_per_week > 3
    for point in day.network.village_points:
        orders = by_site.get(point.id, [])
        if not orders:
            continue
        small = volume[point.id] < p.daily_min_parcels
        must = any(o.mandatory for o in orders)  # a mandatory order is never held back
        if (
            small
            and not must
            and not (point.poor and daily_poor)
            and not is_due(point.id, day.date)
        ):
            nxt = next_day(day.date)
            down = [o for o in orders if o.direction is Direction.DOWN]
            up = [o for o in orders if o.direction is Direction.UP]
            note = Hint.of("every_other_day", site=point.name, parcels=p.daily_min_parcels)
            state.defer(down, DeferralReason.FREQUENCY, state.station_of[point.id], note, nxt)
            state.defer(up, DeferralReason.FREQUENCY, point.id, note, nxt)
            continue
        visited.add(point.id)
    return visited


def plan_trunk_wave(
    state: DayState,
    direction: Direction,
    station_orders: Mapping[str, list[Order]],
    ready_s: Mapping[str, int],
    truck_free_s: Mapping[str, int],
) -> None:
    """Plan one trunk wave for every hub: routes recorded, what the trucks cannot take
    deferred."""
    day = state.day
    wave = day.policy.wave(direction)
    tier = Tier.TRUNK_DOWN if direction is Direction.DOWN else Tier.TRUNK_UP
    for hub in day.network.hubs:
        with state.stage(f"trunk {direction.value}"):
            built = trunk_problem(
                day, hub.id, direction, station_orders, ready_s, truck_free_s, state.defer
            )
            if built is None:
                continue
            settings = state.budget.trunk()
            sol = state.solve(built.problem, settings)
            state.solved([(built, settings)], [sol])
            state.record(built, sol, tier, wave.id)
        for i in sol.dropped:
            node = built.problem.nodes[i]
            reason, hint = why_dropped(day.network, built.problem, i)
            waits = hub.id if direction is Direction.DOWN else node.site
            state.defer(built.node_orders[i], reason, waits, hint)
            for o in built.node_orders[i]:
                state.short_of.setdefault(o.id, hub.id)
        if sol.status is SolveStatus.NO_SOLUTION:
            for chunk in built.node_orders:
                state.defer(chunk, DeferralReason.CAPACITY, hub.id, Hint.of("no_trunk_plan"))


def last_mile_problems(
    state: DayState, visited: set[str], trunk_ready: Mapping[str, int], deadline: Mapping[str, int]
) -> list[BuiltProblem]:
    """Each station's village-run problem: its villages due today (less those another
    station serves), plus the orders it serves across a boundary."""
    day = state.day
    groups: dict[str, list[str]] = {}
    for point in day.network.village_points:
        if point.id in visited and point.parent:
            groups.setdefault(point.parent, []).append(point.id)
    for station_id in state.serving.values():
        groups.setdefault(station_id, [])
    by_site: dict[str, list[Order]] = {}
    crossing: dict[str, list[Order]] = {}
    for o in day.orders:
        if o.id in state.deferred:
            continue
        by_site.setdefault(o.site, []).append(o)
        if o.id in state.serving:
            crossing.setdefault(state.serving[o.id], []).append(o)
    out = []
    for station_id, points in groups.items():
        orders = [
            o for pt in points for o in by_site.get(pt, ()) if o.id not in state.serving
        ] + crossing.get(station_id, [])
        built = station_problem(
            day,
            station_id,
            orders,
            state.defer,
            start=trunk_ready.get(station_id, 0),
            end=deadline.get(station_id, OPEN_END_S),
        )
        if built is not None:
            out.append(built)
    return out


def run_last_mile(
    state: DayState,
    problems: Sequence[BuiltProblem],
    trunk_at: Mapping[str, Sequence[str]],
    prefixes: Mapping[str, Prefix] | None = None,
) -> dict[str, int]:
    """Solve the stations' village runs (in parallel), record them, defer what is left;
    returns when each station's last run is back.

    With yesterday's plan in ``state.previous``, its village-to-vehicle assignment is tried
    beside the free plan, each with half the budget; the free plan wins only by more than
    the policy's stability threshold. Without it, a station whose problem is one an earlier
    plan of the same day solved (``state.reuse``; its vehicles may now leave earlier, not
    later: :func:`~routing.state.same_problem`) keeps that solution. Each station's
    problem and recorded solution go to ``state.runs``."""
    down_wave = state.day.policy.wave(Direction.DOWN)
    chosen = [started_from(pinned(b, state.pins), state.starts) for b in problems]
    settings = state.budget.last_mile([len(b.problem.nodes) for b in chosen])
    # a station whose problem an earlier plan of the day solved keeps its runs (no search)
    reused = [_reused(state, b) for b in chosen]
    todo = [k for k, r in enumerate(reused) if r is None]
    jobs = [(chosen[k], settings[k]) for k in todo]
    held: dict[int, BuiltProblem] = {}
    if state.previous is not None:
        yesterday = assignment(state.previous)
        for j, k in enumerate(todo):
            option = pinned(chosen[k], yesterday)
            if option is not chosen[k]:
                held[k] = option
                jobs[j] = (chosen[k], state.budget.halved(settings[k]))
    extra = [(h, state.budget.halved(settings[k])) for k, h in held.items()]
    solved = search_in_rounds(state, jobs + extra)
    for built, kept in zip(chosen, reused, strict=True):  # a kept solution: its first round too
        if kept is not None:
            state.first_runs.setdefault(built.problem.sites[0], (built, kept))
    fresh = iter(solved[: len(jobs)])
    solutions = [r if r is not None else next(fresh) for r in reused]
    held_solutions = iter(solved[len(jobs) :])
    for k, option in held.items():
        stable = next(held_solutions)
        free = solutions[k]
        saving = 1 - free.objective / stable.objective if stable.objective else 0.0
        if stable.status is not SolveStatus.NO_SOLUTION and (
            free.status is SolveStatus.NO_SOLUTION or saving <= state.day.policy.stability_threshold
        ):
            solutions[k] = stable
            chosen[k] = option
            state.say(
                f"  {option.problem.sites[0]}: kept yesterday's assignment "
                f"(a free plan would save {saving:.1%})"
            )
    run_end: dict[str, int] = {}
    for built, sol in zip(chosen, solutions, strict=True):
        station = built.problem.sites[0]
        state.runs[station] = (built, sol)
        new = state.record(built, sol, Tier.LAST_MILE, down_wave.id, prefixes)
        trunks = tuple(sorted(set(trunk_at.get(station, []))))
        state.feeds.append((down_wave.id, station, trunks, tuple(r.vehicle for r in new)))
        for r in new:
            run_end[station] = max(run_end.get(station, 0), r.stops[-1].arrival_s)
        for i in sol.dropped:
            reason, hint = why_dropped(state.day.network, built.problem, i)
            for o in built.node_orders[i]:
                waits = station if o.direction is Direction.DOWN else o.site
                state.defer([o], reason, waits, hint)
        if sol.status is SolveStatus.NO_SOLUTION:
            for chunk in built.node_orders:
                state.defer(
                    chunk,
                    DeferralReason.CAPACITY,
                    station,
                    Hint.of("no_station_plan"),
                )
    return run_end


def search_in_rounds(
    state: DayState, jobs: Sequence[tuple[BuiltProblem, SolveSettings]]
) -> list[TierSolution]:
    """Solve the village-run problems of ``jobs`` (in parallel): one search each with its
    settings, or under :attr:`~routing.budget.DayBudget.rounds` one per round with that
    round's share of the work, each round's search going on from the cheapest of the earlier
    rounds' answers (``SolveSettings.go_on``: never worse than it) and that answer kept
    unless the round finds a cheaper one. The rounds do not depend on how many run, so
    a budget that buys more rounds never returns dearer runs."""
    rounds = state.budget.rounds or (1.0,)
    best: list[TierSolution] = []
    for r, part in enumerate(rounds):
        todo = [
            (
                (continued(built, best[j]), replace(state.budget.part(s, part), go_on=True))
                if r
                else (built, state.budget.part(s, part))
            )
            for j, (built, s) in enumerate(jobs)
        ]
        found = solve_all(state.solve, todo, state.budget.workers)
        state.solved(todo, found)
        best = [cheaper(b, f) for b, f in zip(best, found, strict=True)] if r else found
        if r == 0:
            for (built, _), sol in zip(jobs, found, strict=True):  # a free plan before a held one
                state.first_runs.setdefault(built.problem.sites[0], (built, sol))
    return best


def continued(built: BuiltProblem, sol: TierSolution) -> BuiltProblem:
    """``built`` with ``sol``'s routes as its warm start (as they are when it has none)."""
    routes = initial_routes(built.problem, sol)
    if not routes:
        return built
    return replace(built, problem=replace(built.problem, initial_routes=routes))


def cheaper(kept: TierSolution, found: TierSolution) -> TierSolution:
    """``found`` when it is a solution and costs less than ``kept`` (both answers to the
    same problem, priced by the same model), else ``kept``."""
    if found.status is SolveStatus.NO_SOLUTION:
        return kept
    if kept.status is SolveStatus.NO_SOLUTION or found.objective < kept.objective:
        return found
    return kept


def finish(
    state: DayState,
    run_end: Mapping[str, int],
    truck_free: Mapping[str, int],
    started: float,
    keep_up: Sequence[Route] | None = None,
) -> Plan:
    """Plan the up wave (or keep ``keep_up``, its routes already under way), settle what it
    cannot take, and assemble the plan."""
    day, net, p = state.day, state.day.network, state.day.policy
    up_wave = p.wave(Direction.UP)
    # up wave: what the runs collected plus the stations' own and the bulk shippers' orders
    up_by_site: dict[str, list[Order]] = {}
    collected = {
        oid for r in state.routes if r.tier is Tier.LAST_MILE for s in r.stops for oid in s.collect
    }
    brought_to = {
        oid: r.home
        for r in state.routes
        if r.tier is Tier.LAST_MILE
        for s in r.stops
        for oid in s.collect
    }
    for o in day.orders:
        if o.direction is not Direction.UP or o.id in state.deferred:
            continue
        site = net.site(o.site)
        if site.kind is SiteKind.VILLAGE_POINT and o.id not in collected:
            continue
        key = brought_to.get(o.id) or state.station_of.get(o.site, o.site)
        up_by_site.setdefault(key, []).append(o)
    before = len(state.routes)
    if keep_up is None:
        plan_trunk_wave(state, Direction.UP, up_by_site, run_end, truck_free)
    else:
        state.routes.extend(keep_up)
        carried = {oid for r in keep_up for s in r.stops for oid in s.collect}
        for items in up_by_site.values():
            for o in items:
                if o.id not in carried:
                    waits = state.station_of.get(o.site, o.site)
                    state.defer([o], DeferralReason.TIME, waits, Hint.of("up_wave_left"))
    # what the up trunk could not take is not collected either: it waits at its village point
    # (an order is on its final stop or deferred, never both)
    gone = {oid for oid in collected if oid in state.deferred}
    if gone:
        state.routes[:] = uncollect(state.routes, gone, state.orders)
        for oid in gone:
            d = state.deferred[oid]
            state.deferred[oid] = replace(d, waits_at=d.site)
    up_trunk_at: dict[str, list[str]] = {}
    for r in state.routes[before:]:
        for s in r.stops:
            if s.kind is StopKind.VISIT:
                up_trunk_at.setdefault(s.site, []).append(r.vehicle)
    runs_at: dict[str, list[str]] = {}
    for r in state.routes:
        if r.tier is Tier.LAST_MILE and any(s.collect for s in r.stops):
            runs_at.setdefault(r.home, []).append(r.vehicle)
    for st in sorted(set(up_trunk_at) & {s.id for s in net.stations}):
        state.feeds.append(
            (up_wave.id, st, tuple(sorted(set(up_trunk_at[st]))), tuple(runs_at.get(st, ())))
        )
    state.deferred.update(
        capacity_suggestions(
            state.deferred,
            network=net,
            fleet=day.fleet,
            policy=p,
            orders=state.orders,
            station_of=state.station_of,
            short_of=state.short_of,
        )
    )
    # any order neither on a final stop nor deferred is a bug: make it loud
    site_of = {oid: o.site for oid, o in state.orders.items()}
    final = {oid for oid, _, _ in final_stops(state.routes, site_of)}
    for oid in [oid for oid in state.orders if oid not in final and oid not in state.deferred]:
        o = state.orders[oid]
        state.defer(
            [o],
            DeferralReason.CAPACITY,
            state.station_of.get(o.site, o.site),
            Hint.of("not_placed"),
        )
    status = PlanStatus.COMPLETE
    if any(d.reason is not DeferralReason.FREQUENCY for d in state.deferred.values()):
        status = PlanStatus.PARTIAL
    if any(d.mandatory for d in state.deferred.values()):
        status = PlanStatus.INFEASIBLE
    return Plan(
        scenario=day.name,
        network_version=net.version,
        date=day.date,
        status=status,
        routes=tuple(state.routes),
        deferred=tuple(sorted(state.deferred.values(), key=lambda d: d.order)),
        feeds=tuple(state.feeds),
        solve_s=round(time.perf_counter() - started, 3),
        settings=(
            *state.budget.describe(),
            ("solver", getattr(state.solve, "__name__", type(state.solve).__name__)),
            ("wall_capped", str(state.capped)),
            ("versions", versions()),
        ),
    )


def assignment(plan: Plan) -> dict[str, str]:
    """Village point → the vehicle that served it (its first village-run visit)."""
    out: dict[str, str] = {}
    for r in plan.routes_of(Tier.LAST_MILE):
        for s in r.stops:
            if s.kind is StopKind.VISIT:
                out.setdefault(s.site, r.vehicle)
    return out


def _reused(state: DayState, built: BuiltProblem) -> TierSolution | None:
    """The solution an earlier plan of the day found for this very problem, if any."""
    if state.previous is not None:
        return None
    earlier = state.reuse.get(built.problem.sites[0])
    if earlier is None or not same_problem(earlier[0], built):
        return None
    return earlier[1]


def pinned(built: BuiltProblem, pins: Mapping[str, str]) -> BuiltProblem:
    """The problem with villages tied to vehicles (where that vehicle may serve them); the
    same object when no pin applies."""
    index = {v.id: i for i, v in enumerate(built.fleet)}
    nodes = []
    changed = False
    for n in built.problem.nodes:
        k = index.get(pins.get(n.site, ""))
        if k is not None and (n.allowed is None or k in n.allowed) and not n.onboard:
            nodes.append(replace(n, allowed=(k,)))
            changed = True
        else:
            nodes.append(n)
    if not changed:
        return built
    return replace(built, problem=replace(built.problem, nodes=tuple(nodes)))


def started_from(
    built: BuiltProblem, starts: Mapping[str, tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]]
) -> BuiltProblem:
    """The problem with its station's warm start (``DayState.starts``: where the
    cross-boundary search ended), keys it does not have left out; the same object when there
    is none. A solver given a start returns nothing worse than the start polished
    (:func:`routing.solvers.hybrid.solve_hybrid`)."""
    start = starts.get(built.problem.sites[0])
    if not start:
        return built
    keys = {n.key for n in built.problem.nodes}
    mine = {v.id for v in built.problem.vehicles}
    routes = tuple(
        (vid, kept)
        for vid, trips in start
        if vid in mine
        and (kept := tuple(t for t in (tuple(k for k in trip if k in keys) for trip in trips) if t))
    )
    if not routes:
        return built
    return replace(built, problem=replace(built.problem, initial_routes=routes))


def versions() -> str:
    """The versions a plan depends on: countyroute and its solvers."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("countyroute", "ortools", "pyvrp"):
        try:
            out.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            out.append(f"{name} ?")
    return ", ".join(out)


# -- the day -----------------------------------------------------------------------------------
def trunk_arrivals(routes: Sequence[Route]) -> tuple[dict[str, int], dict[str, list[str]]]:
    """When each station's parcels are there (all trunk chunks unloaded), and which trucks
    brought them."""
    arrived: dict[str, int] = {}
    trunk_at: dict[str, list[str]] = {}
    for r in routes:
        for s in r.stops:
            if s.kind is StopKind.VISIT:
                arrived[s.site] = max(arrived.get(s.site, 0), s.departure_s)
                trunk_at.setdefault(s.site, []).append(r.vehicle)
    return arrived, trunk_at


def plan_day(
    day: DayInput,
    *,
    time_limit_s: float | None = None,
    workers: int = 1,
    solve: Solver | None = None,
    work: int | None = None,
    previous: Plan | None = None,
    pins: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    stage: Stage | None = None,
) -> Plan:
    """Plan one day across the three tiers.

    Parameters
    ----------
    day
        The validated inputs.
    time_limit_s
        Search budget for the whole day (default: the policy's ``time_limit_s``), divided
        among its problems by :class:`~routing.budget.DayBudget`. Under the policy's work
        rate the trunk and joint searches get the policy's work whatever the budget, which
        buys rounds of the village-run searches (:func:`search_in_rounds`) and, beyond the
        policy's budget, improvement passes over the day (:func:`improvement_pass`), each
        kept only when cheaper (:meth:`~routing.budget.DayBudget.passes`): more budget never
        returns a dearer plan.
    workers
        Processes for the stations' village runs (independent problems).
    solve
        The tier solver (default: :data:`~routing.solvers.DEFAULT_SOLVER`).
    work
        A fixed amount of work for every search (PyVRP iterations, OR-Tools solutions):
        with it the plan is deterministic.
    previous
        Yesterday's plan: its village-to-vehicle assignment is kept unless re-planning freely
        saves more than the policy's ``stability_threshold`` (drivers and station keepers
        rely on it).
    pins
        Village point → vehicle that must serve it (a dispatcher's pin).
    progress
        Called with a line of text as each phase starts.
    stage
        Wraps each phase under a label (``"trunk down"``, ``"village runs: solve"`` …), for
        timing them (:class:`benchmarks.ladder.StageClock`).

    Returns
    -------
    Plan
        Every order is on exactly one final stop or deferred with a reason; an order too big
        for any vehicle that could carry it is split (:mod:`routing.split`) and its parts,
        listed in ``parts``, stand for it. With the policy's
        ``cross_boundary``, the day is planned with every village tied to its own station,
        then with the joint assignment (searched from the tied day's village runs; only the
        stations whose problem changed are searched again), each with its share of the time
        (:meth:`~routing.budget.DayBudget.pooled_day`; the same work per search), and the
        cheaper plan is kept (:func:`routing.crossing.keep_better`: it says which, and lists
        the villages served across a boundary).
    """
    started = time.perf_counter()
    day = with_mandatory_sites(day)
    day, parts = split_oversize(day)  # oversize orders go in parts, on several vehicles/trips
    p = day.policy
    budget = DayBudget.of(p, time_limit_s=time_limit_s, work=work, workers=workers)
    first_s, rounds, passes = budget.passes()

    def once(
        d: DayInput,
        seconds: float | None,
        assigned: DayState | None = None,
        tied: DayState | None = None,
        rounds: tuple[float, ...] = (),
        joint_from: Mapping[str, tuple[BuiltProblem, TierSolution]] | None = None,
    ) -> tuple[Plan, DayState]:
        return _plan_day(
            d,
            seconds,
            rounds=rounds,
            joint_from=joint_from,
            workers=workers,
            solve=solve,
            work=work,
            previous=previous,
            pins=pins,
            progress=progress,
            stage=stage,
            assigned=assigned,
            tied=tied,
        )

    # the plans compared at the end: the day with every village at its own station, and
    # with cross-boundary service the pooled day; passes improve the cheaper of them
    plans: dict[str, tuple[Plan, DayState]] = {}
    if p.cross_boundary:
        tied_s, pooled_s = replace(budget, time_limit_s=first_s).pooled_day()
        plans["tied"] = once(
            replace(day, policy=replace(p, cross_boundary=False)), tied_s, rounds=rounds
        )
        tied = plans["tied"][1]  # the joint search starts from its first round, whatever the budget
        if budget.pools:  # below the policy's budget the tied day alone (DayBudget.pools)
            pooled = once(day, pooled_s, tied=tied, rounds=rounds, joint_from=tied.first_runs)
            plans["pooled"] = relieve_trunk(
                *pooled, lambda d, a: once(d, pooled_s, a, rounds=rounds)
            )
    else:
        plans["tied"] = once(day, first_s, rounds=rounds)
    price = p.deferral_cost_per_parcel
    kept = 0
    capped = sum(st.capped for _, st in plans.values())
    for k, seconds in enumerate(passes, 1):
        which = min(plans, key=lambda w: (plan_cost(plans[w][0], day.orders, price), w != "tied"))
        again = improvement_pass(plans[which][1], k, seconds, once, p.seed)
        capped += again[1].capped
        before = plans[which][0]
        if plan_cost(again[0], day.orders, price) < plan_cost(before, day.orders, price):
            mine = dict(again[0].settings)  # what the pass's plan does not say (trunk relief)
            more = tuple((key, v) for key, v in before.settings if key not in mine)
            plans[which] = (replace(again[0], settings=(*again[0].settings, *more)), again[1])
            kept += 1
    if "pooled" in plans:
        best = keep_better(
            plans["tied"][0], plans["pooled"][0], day.orders, price, station_of(day.network)
        )
    elif p.cross_boundary:  # not searched: the budget is below the policy's
        skipped = ("cross_boundary_skipped", f"{budget.time_limit_s:g} < {budget.base_s:g} s")
        best = replace(plans["tied"][0], settings=(*plans["tied"][0].settings, skipped))
    else:
        best = plans["tied"][0]
    based = first_s != budget.time_limit_s  # the first plan had the policy's budget
    if p.cross_boundary or based:
        # the plan records the budget it was given (the tied and the pooled day each had a
        # share of it, a pass a quarter of the policy's), so that --reproduce plans it again
        best = restated(best, budget, len(rounds), len(passes), kept, capped, based)
    best = replace(best, solve_s=round(time.perf_counter() - started, 3))
    return replace(best, parts=parts) if parts else best


def improvement_pass(
    state: DayState,
    k: int,
    seconds: float,
    once: Callable[[DayInput, float, DayState | None, DayState | None], tuple[Plan, DayState]],
    seed: int,
) -> tuple[Plan, DayState]:
    """Pass ``k`` over the day ``state`` planned, with ``seconds`` of budget and seed
    ``seed + k`` (``seed``: the day's own); the caller keeps the cheaper day.

    * Odd passes, and every pass of a day without cross-boundary service: the same stations
      serve each village, every station's search starts from its runs there (a search
      handed a start returns nothing worse than the start polished), the trunk is searched
      again.
    * Even passes of a pooled day: the joint search, which chooses the station serving
      each village, starts again from the day's village runs (the stations whose problem
      it leaves as it was keep their runs; where it finds nothing cheaper, the best day's
      assignment stands). Station passes alone keep the assignment, and on one generated
      county stayed 0.46 % above the plain 40 s plan that the alternating passes beat
      elsewhere (benchmarks/RESULTS.md, "The day under growing budgets")."""
    day = state.day
    d = replace(day, policy=replace(day.policy, seed=seed + k))
    if day.policy.cross_boundary and k % 2 == 0:
        state.say(f"improvement pass {k}: the joint search from the best day so far")
        return once(d, seconds, None, state)
    again = DayState(d, state.budget, state.solve, state.say, state.stage, dict(state.pins))
    again.serving.update(state.serving)
    again.starts.update(
        {station: initial_routes(b.problem, sol) for station, (b, sol) in state.runs.items()}
    )
    state.say(f"improvement pass {k}: every station from the best day so far")
    return once(d, seconds, again, None)


def restated(
    plan: Plan, budget: DayBudget, rounds: int, passes: int, kept: int, capped: int, based: bool
) -> Plan:
    """``plan`` (a share's or a pass's) with the day's own budget in its settings and the
    searches the clock stopped in all its plans (``wall_capped``); with ``based`` (the
    first plan had the policy's budget, not the day's) how many rounds its village runs were
    searched in and how many improvement passes ran and were kept."""
    own = {**dict(budget.describe()), "wall_capped": str(capped)}
    settings = [(k, own.pop(k, v)) for k, v in plan.settings]
    if based:
        settings += [("rounds", str(rounds)), ("passes", str(passes)), ("passes_kept", str(kept))]
    return replace(plan, settings=tuple(settings))


def relieve_trunk(
    pooled: Plan,
    state: DayState,
    once: Callable[[DayInput, DayState], tuple[Plan, DayState]],
) -> tuple[Plan, DayState]:
    """The trunk weighed in the assignment: where a station's down load just exceeds a
    whole number of truckloads, the day is planned again with boundary villages served from
    a neighbour (:func:`routing.crossing.trunk_relief`) and the cheaper day kept; the plan
    says whether it was tried and kept (``settings``: ``trunk_relief``). Only the trunk and
    the stations whose village-run problem the move changed (other orders, or a trunk that
    arrives later) are searched again: the others keep the pooled day's runs
    (``DayState.reuse``). Returns the day kept and its ledger."""
    day = state.day
    serving = trunk_relief(state)
    if serving is None:
        return replace(pooled, settings=(*pooled.settings, ("trunk_relief", "none"))), state
    state.say("trunk relief: boundary villages moved to save a truckload; planning again")
    relieved = replace(state, serving=serving, reuse=dict(state.runs))
    again, again_state = once(day, relieved)
    both = state.capped + again_state.capped  # the day's searches the clock stopped, both plans'
    state.capped = again_state.capped = both
    price = day.policy.deferral_cost_per_parcel
    if plan_cost(again, day.orders, price) < plan_cost(pooled, day.orders, price):
        return replace(again, settings=(*again.settings, ("trunk_relief", "kept"))), again_state
    return replace(pooled, settings=(*pooled.settings, ("trunk_relief", "tried"))), state


def _plan_day(
    day: DayInput,
    time_limit_s: float | None,
    *,
    workers: int,
    solve: Solver | None,
    work: int | None,
    previous: Plan | None,
    pins: Mapping[str, str] | None,
    progress: Progress | None,
    stage: Stage | None,
    assigned: DayState | None = None,
    tied: DayState | None = None,
    rounds: tuple[float, ...] = (),
    joint_from: Mapping[str, tuple[BuiltProblem, TierSolution]] | None = None,
) -> tuple[Plan, DayState]:
    """One plan of the day (:func:`plan_day` without the tied-versus-pooled comparison), and
    its ledger. With ``assigned`` (a ledger of the same day), its stations serving each
    village, its warm starts and the runs it offers for reuse are taken instead of a new
    joint search. With ``tied`` (the ledger of the same day planned with every village at
    its own station), the joint search starts from its village runs (``joint_from``: from
    those instead), and a station whose problem is the same as there keeps its runs.
    ``rounds``: the shares of their work the village-run searches get in successive rounds
    (:func:`search_in_rounds`)."""
    started = time.perf_counter()
    p = day.policy
    if day.pools:  # pool vehicles work from the stations they are assigned to
        fleet, _ = assign_pools(
            day.network, day.fleet, day.pools, day.orders, station_of(day.network)
        )
        day = replace(day, fleet=fleet, pools=())
    state = DayState(
        day,
        replace(
            DayBudget.of(p, time_limit_s=time_limit_s, work=work, workers=workers), rounds=rounds
        ),
        solve or DEFAULT_SOLVER,
        progress or (lambda _: None),
        stage or no_stage,
        dict(pins or {}),
        previous,
    )
    with state.stage("plan: other"):
        visited = apply_frequency(state)
        deadline = deadlines(day)
    if assigned is not None:
        state.serving.update(assigned.serving)
        state.starts.update(assigned.starts)
        state.reuse = assigned.reuse
    elif p.cross_boundary:
        state.say("cross-boundary: choosing the station that serves each village")
        with state.stage("cross-boundary"):
            start = joint_from if joint_from is not None else (tied.runs if tied else None)
            assign_across_boundaries(state, visited, deadline, start)
    if tied is not None:
        state.reuse = tied.runs
    state.say(f"trunk, down wave: {len(day.network.stations)} stations")
    down_by_station: dict[str, list[Order]] = {}
    for o in day.orders:
        if o.direction is Direction.DOWN:
            key = state.serving.get(o.id) or state.station_of.get(o.site, o.site)
            down_by_station.setdefault(key, []).append(o)
    plan_trunk_wave(state, Direction.DOWN, down_by_station, {}, {})
    arrived, trunk_at = trunk_arrivals(state.routes)
    truck_free = {r.vehicle: r.stops[-1].arrival_s for r in state.routes}
    # stations whose trunk chunk was dropped: their orders are deferred already
    ready = {st: t + p.cross_dock_s for st, t in arrived.items()}
    with state.stage("village runs: build"):
        problems = last_mile_problems(state, visited, ready, deadline)
    state.say(f"village runs: {len(problems)} stations on {state.budget.workers} worker(s)")
    with state.stage("village runs: solve"):
        run_end = run_last_mile(state, problems, trunk_at)
    state.say("trunk, up wave")
    with state.stage("assemble"):
        return finish(state, run_end, truck_free, started), state
