"""Joint versus tied village runs on generated counties (issue 16), with a multi-depot PyVRP
search of the same last-mile problem as the peer.

For each county (three shapes of :func:`scenarios.synthetic.generate_synthetic`) and demand
level (×1, ×2.5: the day's orders plus 1.5 days' more, renamed), under one fixed work budget:

The ×2.5 day gets the hub's trucks three times over (:func:`_fleet`: the generated fleet's
trunk carries one day), the stations' vehicles unchanged.

* ``tied`` — :func:`routing.plan_day` with ``cross_boundary = false``;
* ``pooled`` — the same with ``cross_boundary = true`` (it plans the tied day too and keeps
  the cheaper; ``kept`` says which);
* ``peer`` — PyVRP's multi-depot search (:func:`routing.solvers.pyvrp_search.pyvrp_start`,
  several depots, reload depots) of each hub's joint last-mile problem
  (:func:`routing.crossing.hub_problems`: the trunk assumed there at the earliest), from
  nothing, its routes priced by the OR-Tools model (one solution from them as the start:
  the core's cost model; the orders it leaves out at the deferral price as for the tied and
  pooled days, though its search, like the core's, weighs a poor village's 5 times), run
  twice: ``peer_wall`` given the wall time of the pooled day's own searches (the joint
  search and the final station searches of the pooled day, timed by the day's stages),
  ``peer_iters`` given the same number of PyVRP iterations as they ran (the joint search's
  work plus two starts of one search's work per station search run; split over the hubs by
  their stops, two starts each as :func:`~routing.solvers.pyvrp_search.pyvrp_start` does).
  PyVRP's penalties are the adapter's
  (:func:`~routing.solvers.pyvrp_search.initial_penalties`: scaled to the stops' prizes;
  with PyVRP's own it found no feasible solution at ×2.5).

Costs in yuan: ``*_total`` = the plan's routes plus deferral penalties
(:func:`routing.crossing.plan_cost`); ``*_lm`` = the village runs' route costs plus the
penalties of their deferrals; what the trunk waves deferred (an up wave that cannot take a
station's pickups in time, say) is the first echelon's, apart in ``pooled_trunk_deferred``,
as the peer plans the last mile only. Every plan is checked by
:func:`routing.check.check_plan`::

    python -m benchmarks.pooling --work 100

The peer alone under a given budget (a pooled day's, from an earlier run)::

    python -m benchmarks.pooling --county plain-160 --scale 2.5 \\
        --peer-iterations 3210 --peer-seconds 76.5
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from benchmarks.quality import machine_info
from networks import Network
from routing import DayInput, plan_day
from routing.budget import DayBudget
from routing.build import deadlines
from routing.check import check_plan
from routing.crossing import hub_problems, plan_cost
from routing.day import apply_frequency, trunk_arrivals
from routing.model import Order, Vehicle
from routing.plan import DeferralReason, Plan, Tier
from routing.problem import COST_UNIT, SolveStatus, TierProblem, TierSolution
from routing.solvers import DEFAULT_SOLVER, SolveSettings, solve_ortools
from routing.solvers.pyvrp_search import START_RESTARTS, initial_routes, pyvrp_start
from routing.state import DayState
from scenarios.demand import generate_demand
from scenarios.synthetic import SyntheticParams, generate_synthetic

__all__ = ["COUNTIES", "main", "run_peer", "run_pooling"]

COUNTIES: dict[str, tuple[int, int, SyntheticParams]] = {
    "plain-160": (160, 11, SyntheticParams()),
    "dense-200": (200, 12, SyntheticParams(villages_per_station=15.0)),
    "sparse-180": (180, 13, SyntheticParams(km2_per_village=5.0)),
}
"""Name → (villages, seed, shape parameters)."""

DATE = "2026-12-01"


def _orders(sc: Any, seed: int, scale: float) -> tuple[Order, ...]:
    orders = generate_demand(sc, DATE, seed)
    if scale > 1:
        extra: list[Order] = []
        for k in range(1, 3):
            extra += [replace(o, id=f"{o.id}-x{k}") for o in generate_demand(sc, DATE, seed + k)]
        orders = orders + tuple(extra[: round(len(orders) * (scale - 1))])
    return orders


def _fleet(sc: Any, scale: float) -> tuple[Vehicle, ...]:
    """The county's fleet, with the hub's trucks copied so that they can carry ``scale`` times
    the day (the generator sizes them for one day's demand; without the copies the trunk
    defers most of a ×2.5 day and the village runs have little to do). The stations' vans
    and tricycles are kept: the village runs are what pooling is about."""
    hubs = {h.id for h in sc.network.hubs}
    trucks = [v for v in sc.fleet if v.home in hubs]
    extra = [replace(v, id=f"{v.id}-c{k}") for k in range(1, math.ceil(scale)) for v in trucks]
    return tuple(sc.fleet) + tuple(extra)


def _by_trunk(plan: Plan, network: Network) -> set[str]:
    """The orders a trunk wave deferred: its suggestion names the hub (``home``) or a
    station or hub as the ``site`` the round trip does not fit (a village run's names the
    station's vans or the village), or says the wave had no plan or had left. Such an order
    may have been collected by a village run first (the up wave could not take it)."""
    hubs = {h.name for h in network.hubs}
    depots = hubs | {s.name for s in network.stations}
    out = set()
    for d in plan.deferred:
        if d.hint is None:
            continue
        values = dict(d.hint.values)
        if (
            d.hint.code in {"no_trunk_plan", "up_wave_left"}
            or values.get("home") in hubs
            or values.get("site") in depots
        ):
            out.add(d.order)
    return out


def _last_mile(plan: Plan, orders: Sequence[Order], price: float, network: Network) -> float:
    """The village runs' route costs plus the deferral price of what they left out (orders
    the trunk deferred are the first echelon's: not counted, see :func:`_by_trunk`)."""
    by_id = {o.id: o for o in orders}
    served_lm = {
        oid
        for r in plan.routes_of(Tier.LAST_MILE)
        for s in r.stops
        for oid in (*s.drop, *s.collect)
    }
    trunk = _by_trunk(plan, network)
    deferred = [
        by_id[d.order]
        for d in plan.deferred
        if d.reason is not DeferralReason.FREQUENCY
        and d.order not in served_lm
        and d.order not in trunk
    ]
    return sum(r.cost for r in plan.routes_of(Tier.LAST_MILE)) + price * sum(
        o.parcels * (1 + o.priority) for o in deferred
    )


def _trunk_deferred(plan: Plan, orders: Sequence[Order], price: float, network: Network) -> float:
    """The deferral price of the orders the trunk waves deferred (:func:`_by_trunk`)."""
    by_id = {o.id: o for o in orders}
    return price * sum(
        by_id[oid].parcels * (1 + by_id[oid].priority) for oid in _by_trunk(plan, network)
    )


class PooledSearches:
    """Watches a pooled day (``plan_day(..., solve=w.solve, stage=w.stage)``, one worker):
    the wall time of its joint search and of the pooled day's village-run searches (the
    first ``village runs: solve`` after the joint search; the tied day's come before it,
    the trunk relief's after), and how many station searches ran there."""

    def __init__(self) -> None:
        self.joint_s = 0.0
        self.final_s = 0.0
        self.station_searches = 0
        self._phase = "tied"

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        t = time.perf_counter()
        if label == "village runs: solve" and self._phase == "joint":
            self._phase = "final"
        try:
            yield
        finally:
            if label == "cross-boundary":
                self.joint_s += time.perf_counter() - t
                self._phase = "joint"
            elif self._phase == "final" and label == "village runs: solve":
                self.final_s += time.perf_counter() - t
                self._phase = "after"

    def solve(self, problem: TierProblem, settings: SolveSettings) -> TierSolution:
        if self._phase == "final" and problem.name.startswith("last-mile-"):
            self.station_searches += 1
        return DEFAULT_SOLVER(problem, settings)


def _peer(
    day: DayInput,
    seconds: float | None,
    iterations: int | None,
    ready: Mapping[str, int] | None = None,
) -> tuple[float, str]:
    """PyVRP's multi-depot search of each hub's joint problem, given ``seconds`` of wall
    time or ``iterations`` in all (shared by the hubs' stops), priced by OR-Tools (its
    routes; the orders it leaves out at the deferral price, as :func:`_last_mile`). The note
    says, per hub, how many stops PyVRP served and how many the priced plan serves (fewer:
    OR-Tools did not take all of PyVRP's routes). With ``ready`` (station → when a planned
    day's trunk had its parcels there), no station's vehicles leave before that, instead of
    the earliest the trunk could be there."""
    state = DayState(day, DayBudget(seconds or 1.0))
    by_id, price = {o.id: o for o in day.orders}, day.policy.deferral_cost_per_parcel
    total, notes = 0.0, []
    problems = list(hub_problems(state, apply_frequency(state), deadlines(day)))
    stops = sum(len(h.joint.problem.nodes) for h in problems)
    for hp in problems:
        joint = hp.joint.problem
        if ready is not None:
            joint = replace(
                joint,
                vehicles=tuple(
                    replace(v, earliest_start_s=max(v.earliest_start_s, ready.get(v.depot, 0)))
                    for v in joint.vehicles
                ),
            )
        share = len(joint.nodes) / stops
        if iterations is not None:
            work = max(1, round(iterations * share / START_RESTARTS))
            settings = SolveSettings(time_limit_s=100_000.0, work=work)
        else:
            settings = SolveSettings(time_limit_s=max(0.01, (seconds or 1.0) * share))
        first = pyvrp_start(joint, settings)
        if first.status is not SolveStatus.FEASIBLE:
            notes.append(f"{hp.hub}: no feasible PyVRP solution")
            return math.nan, "; ".join(notes)
        priced = solve_ortools(
            replace(joint, initial_routes=initial_routes(joint, first)),
            SolveSettings(time_limit_s=30.0, work=1),
        )
        left_out = [o for i in priced.dropped for o in joint.nodes[i].orders]
        routes = priced.objective - sum(joint.nodes[i].penalty or 0 for i in priced.dropped)
        total += routes * COST_UNIT + price * sum(
            by_id[o].parcels * (1 + by_id[o].priority) for o in left_out
        )
        n = len(joint.nodes)
        notes.append(
            f"{hp.hub}: PyVRP served {n - len(first.dropped)} of {n} stops, "
            f"priced {n - len(priced.dropped)}"
        )
    return total, "; ".join(notes)


def run_peer(
    name: str,
    scale: float,
    seconds: float | None,
    iterations: int | None,
    trunk_work: int | None = None,
) -> dict[str, Any]:
    """The peer alone on one county and demand level under a given budget (wall seconds,
    PyVRP iterations, or both: two runs), e.g. a pooled day's budget from an earlier run.
    With ``trunk_work`` the pooled day is planned first with that work and the peer's
    vehicles leave no earlier than its trunk had their station's parcels there."""
    n, seed, params = COUNTIES[name]
    sc = generate_synthetic(n, seed=seed, params=params)
    orders = _orders(sc, seed, scale)
    day = DayInput(sc.name, sc.network, _fleet(sc, scale), sc.policy, orders, DATE)
    day = replace(day, policy=replace(day.policy, cross_boundary=True))
    row: dict[str, Any] = {"county": name, "demand": f"x{scale:g}", "orders": len(orders)}
    ready = None
    if trunk_work is not None:
        pooled = plan_day(day, time_limit_s=600, work=trunk_work)
        arrived, _ = trunk_arrivals(pooled.routes_of(Tier.TRUNK_DOWN))
        ready = {st: t + day.policy.cross_dock_s for st, t in arrived.items()}
        price = day.policy.deferral_cost_per_parcel
        row["pooled_lm"] = round(_last_mile(pooled, orders, price, sc.network), 2)
    for label, budget in (("wall", (seconds, None)), ("iters", (None, iterations))):
        if budget == (None, None):
            continue
        t = time.perf_counter()
        cost, note = _peer(day, *budget, ready)
        row[f"peer_{label}_budget"] = budget[0] if budget[0] is not None else budget[1]
        row[f"peer_{label}_lm"] = round(cost, 2)
        row[f"peer_{label}_s"] = round(time.perf_counter() - t, 1)
        row[f"peer_{label}_note"] = note
    return row


def _joint_iterations(day: DayInput, work: int) -> int:
    """The PyVRP iterations of the day's joint searches (one per hub) under ``work``."""
    state = DayState(day, DayBudget(600.0, work))
    problems = hub_problems(state, apply_frequency(state), deadlines(day))
    return sum(state.budget.joint(len(h.joint.problem.nodes)).work or 0 for h in problems)


def run_pooling(
    work: int,
    names: Sequence[str] | None = None,
    scales: Sequence[float] = (1.0, 2.5),
    peer: bool = True,
) -> list[dict[str, Any]]:
    """One row per county and demand level (see the module docstring)."""
    rows = []
    for name in names or list(COUNTIES):
        n, seed, params = COUNTIES[name]
        sc = generate_synthetic(n, seed=seed, params=params)
        for scale in scales:
            orders = _orders(sc, seed, scale)
            base = DayInput(sc.name, sc.network, _fleet(sc, scale), sc.policy, orders, DATE)
            tied_day = replace(base, policy=replace(base.policy, cross_boundary=False))
            pooled_day = replace(base, policy=replace(base.policy, cross_boundary=True))
            price = base.policy.deferral_cost_per_parcel
            t = time.perf_counter()
            tied = plan_day(tied_day, time_limit_s=600, work=work)
            tied_s = time.perf_counter() - t
            watch = PooledSearches()
            t = time.perf_counter()
            pooled = plan_day(
                pooled_day, time_limit_s=600, work=work, solve=watch.solve, stage=watch.stage
            )
            pooled_s = time.perf_counter() - t
            ok = all(
                check_plan(p, d.network, d.fleet, d.policy, d.orders).ok
                for p, d in ((tied, tied_day), (pooled, pooled_day))
            )
            searches_s = watch.joint_s + watch.final_s
            iterations = _joint_iterations(pooled_day, work) + (
                watch.station_searches * START_RESTARTS * work
            )
            if peer:
                peer_wall, note_wall = _peer(pooled_day, searches_s, None)
                peer_iters, note_iters = _peer(pooled_day, None, iterations)
                note = "; ".join(n for n in (note_wall, note_iters) if n)
            else:
                peer_wall = peer_iters = math.nan
                note = "peer not run"
            settings = dict(pooled.settings)
            tied_total = plan_cost(tied, orders, price)
            pooled_total = plan_cost(pooled, orders, price)
            rows.append(
                {
                    "county": name,
                    "stations": len(sc.network.stations),
                    "villages": len(sc.network.village_points),
                    "demand": f"x{scale:g}",
                    "orders": len(orders),
                    "tied_total": round(tied_total, 2),
                    "pooled_total": round(pooled_total, 2),
                    "saving_pct": round(100 * (tied_total - pooled_total) / tied_total, 2),
                    "kept": settings.get("cross_boundary", ""),
                    "moved_villages": len(pooled.crossings),
                    "trunk_relief": settings.get("trunk_relief", ""),
                    "tied_lm": round(_last_mile(tied, orders, price, sc.network), 2),
                    "pooled_lm": round(_last_mile(pooled, orders, price, sc.network), 2),
                    "pooled_trunk_deferred": round(
                        _trunk_deferred(pooled, orders, price, sc.network), 2
                    ),
                    "peer_wall_lm": round(peer_wall, 2),
                    "peer_iters_lm": round(peer_iters, 2),
                    "tied_s": round(tied_s, 1),
                    "pooled_s": round(pooled_s, 1),
                    "searches_s": round(searches_s, 1),
                    "station_searches": watch.station_searches,
                    "iterations": iterations,
                    "checked": ok,
                    "note": note,
                }
            )
            print(rows[-1], flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pooling", description=__doc__)
    parser.add_argument("--work", type=int, default=100, help="work per search (default 100)")
    parser.add_argument("--county", action="append", choices=sorted(COUNTIES))
    parser.add_argument(
        "--scale", type=float, action="append", help="demand level (repeatable; 1 and 2.5)"
    )
    parser.add_argument("--no-peer", action="store_true", help="skip the multi-depot peer")
    parser.add_argument("--peer-seconds", type=float, help="run only the peer, with this wall time")
    parser.add_argument(
        "--peer-iterations", type=int, help="run only the peer, with this many iterations"
    )
    parser.add_argument(
        "--peer-trunk-of-work",
        type=int,
        help="the peer alone: plan the pooled day with this work first and let the peer's "
        "vans leave only when that day's trunk is at their station",
    )
    args = parser.parse_args(argv)
    print(f"machine: {machine_info()}")
    if args.peer_seconds is not None or args.peer_iterations is not None:
        if len(args.county or []) != 1 or len(args.scale or []) != 1:
            parser.error("the peer alone needs one --county and one --scale")
        print(
            run_peer(
                args.county[0],
                args.scale[0],
                args.peer_seconds,
                args.peer_iterations,
                args.peer_trunk_of_work,
            )
        )
        return 0
    rows = run_pooling(args.work, args.county, args.scale or (1.0, 2.5), not args.no_peer)
    cols = list(rows[0]) if rows else []
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
