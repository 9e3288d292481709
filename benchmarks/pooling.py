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
  (:func:`routing.crossing.hub_problems`: the trunk assumed there at the earliest), given
  the same wall time as the pooled day, its routes priced by the OR-Tools model (one
  solution from them as the start: the core's cost model, left-out stops at their
  penalty).

Costs in yuan: ``*_total`` = the plan's routes plus deferral penalties
(:func:`routing.crossing.plan_cost`); ``*_lm`` = the village runs' route costs plus the
penalties of their deferrals. Every plan is checked by :func:`routing.check.check_plan`::

    python -m benchmarks.pooling --work 100
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from benchmarks.quality import machine_info
from routing import DayInput, plan_day
from routing.budget import DayBudget
from routing.build import deadlines
from routing.check import check_plan
from routing.crossing import hub_problems, plan_cost
from routing.day import apply_frequency
from routing.model import Order, Vehicle
from routing.plan import DeferralReason, Plan, Tier
from routing.problem import COST_UNIT, SolveStatus
from routing.solvers import SolveSettings, solve_ortools
from routing.solvers.pyvrp_search import initial_routes, pyvrp_start
from routing.state import DayState
from scenarios.demand import generate_demand
from scenarios.synthetic import SyntheticParams, generate_synthetic

__all__ = ["COUNTIES", "main", "run_pooling"]

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


def _last_mile(plan: Plan, orders: Sequence[Order], price: float) -> float:
    by_id = {o.id: o for o in orders}
    served_lm = {
        oid
        for r in plan.routes_of(Tier.LAST_MILE)
        for s in r.stops
        for oid in (*s.drop, *s.collect)
    }
    deferred = [
        by_id[d.order]
        for d in plan.deferred
        if d.reason is not DeferralReason.FREQUENCY and d.order not in served_lm
    ]
    return sum(r.cost for r in plan.routes_of(Tier.LAST_MILE)) + price * sum(
        o.parcels * (1 + o.priority) for o in deferred
    )


def _peer(day: DayInput, seconds: float) -> tuple[float, str]:
    """PyVRP's multi-depot search of each hub's joint problem, priced by OR-Tools."""
    state = DayState(day, DayBudget(seconds))
    total, notes = 0.0, []
    problems = list(hub_problems(state, apply_frequency(state), deadlines(day)))
    for hp in problems:
        joint = hp.joint.problem
        share = seconds * len(joint.nodes) / sum(len(h.joint.problem.nodes) for h in problems)
        first = pyvrp_start(joint, SolveSettings(time_limit_s=share))
        if first.status is not SolveStatus.FEASIBLE:
            notes.append(f"{hp.hub}: no PyVRP solution")
            continue
        priced = solve_ortools(
            replace(joint, initial_routes=initial_routes(joint, first)),
            SolveSettings(time_limit_s=30.0, work=1),
        )
        total += priced.objective * COST_UNIT
    return total, "; ".join(notes)


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
            t = time.perf_counter()
            pooled = plan_day(pooled_day, time_limit_s=600, work=work)
            pooled_s = time.perf_counter() - t
            ok = all(
                check_plan(p, d.network, d.fleet, d.policy, d.orders).ok
                for p, d in ((tied, tied_day), (pooled, pooled_day))
            )
            peer_lm, note = _peer(pooled_day, pooled_s) if peer else (math.nan, "peer not run")
            settings = dict(pooled.settings)
            rows.append(
                {
                    "county": name,
                    "stations": len(sc.network.stations),
                    "villages": len(sc.network.village_points),
                    "demand": f"x{scale:g}",
                    "orders": len(orders),
                    "tied_total": round(plan_cost(tied, orders, price), 2),
                    "pooled_total": round(plan_cost(pooled, orders, price), 2),
                    "tied_lm": round(_last_mile(tied, orders, price), 2),
                    "pooled_lm": round(_last_mile(pooled, orders, price), 2),
                    "peer_lm": round(peer_lm, 2),
                    "kept": settings.get("cross_boundary", ""),
                    "joint_day_total": settings.get("cross_boundary_pooled_yuan", ""),
                    "moved_villages": len(pooled.crossings),
                    "trunk_relief": settings.get("trunk_relief", ""),
                    "tied_s": round(tied_s, 1),
                    "pooled_s": round(pooled_s, 1),
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
    args = parser.parse_args(argv)
    print(f"machine: {machine_info()}")
    rows = run_pooling(args.work, args.county, args.scale or (1.0, 2.5), not args.no_peer)
    cols = list(rows[0]) if rows else []
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
