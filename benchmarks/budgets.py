"""The daily plan under growing budgets: does more budget ever give a worse plan?

Plans each county's day with the policy's work budget (``work_per_s``: the searches stop
after a fixed amount of work, so every row is repeatable) at each ``--budget`` (seconds,
the ``--time-limit`` of ``countyroute plan``), checks every plan with the independent
checker and prints its cost (routes plus deferral penalties,
:func:`routing.crossing.plan_cost`), the parcels deferred, the wall time, and whether the
cost ever rose with the budget::

    python -m benchmarks.budgets --bundle yanshi --county plain-160 --budget 5 10 20 40

``--county`` names a generated county of :data:`benchmarks.pooling.COUNTIES` (planned with
cross-boundary service, the pooled day); ``--bundle`` a scenario bundle (its own policy).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from benchmarks.pooling import COUNTIES, DATE, _orders
from benchmarks.quality import machine_info
from routing import DayInput, check_plan, plan_day
from routing.crossing import plan_cost
from scenarios.bundle import load_bundle
from scenarios.demand import generate_demand
from scenarios.synthetic import generate_synthetic

__all__ = ["main", "run_budgets"]


def _days(bundles: Sequence[str], counties: Sequence[str]) -> list[tuple[str, DayInput]]:
    out = []
    for name in bundles:
        sc = load_bundle(name)
        orders = sc.orders or generate_demand(sc, DATE, 7)
        out.append((name, sc.day(DATE, orders=orders)))
    for name in counties:
        n, seed, params = COUNTIES[name]
        sc = generate_synthetic(n, seed=seed, params=params)
        policy = replace(sc.policy, cross_boundary=True)
        out.append(
            (
                f"{name} pooled",
                DayInput(sc.name, sc.network, sc.fleet, policy, _orders(sc, seed, 1.0), DATE),
            )
        )
    return out


def run_budgets(
    bundles: Sequence[str], counties: Sequence[str], budgets: Sequence[float], workers: int
) -> list[dict[str, Any]]:
    """One row per day and budget (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    for name, day in _days(bundles, counties):
        price = day.policy.deferral_cost_per_parcel
        by_id = {o.id: o for o in day.orders}
        previous = None
        for budget in sorted(budgets):
            started = time.perf_counter()
            plan = plan_day(day, time_limit_s=budget, workers=workers)
            wall = time.perf_counter() - started
            report = check_plan(plan, day.network, day.fleet, day.policy, day.orders)
            cost = plan_cost(plan, day.orders, price)
            settings = dict(plan.settings)
            rows.append(
                {
                    "day": name,
                    "budget_s": budget,
                    "cost": round(cost, 2),
                    "checked": report.ok,
                    "deferred_parcels": sum(by_id[d.order].parcels for d in plan.deferred),
                    "wall_s": round(wall, 1),
                    "capped": settings.get("wall_capped", "0"),
                    "kept": settings.get("cross_boundary", ""),
                    "rose": previous is not None and cost > previous + 0.005,
                }
            )
            previous = cost if previous is None else min(previous, cost)
            print(rows[-1], flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.budgets", description=__doc__)
    ap.add_argument("--bundle", action="append", default=[])
    ap.add_argument("--county", action="append", default=[], choices=sorted(COUNTIES))
    ap.add_argument("--budget", type=float, nargs="+", default=[5.0, 10.0, 20.0, 40.0])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    print(machine_info(), flush=True)
    rows = run_budgets(args.bundle or ["yanshi"], args.county, args.budget, args.workers)
    print(
        "\n| day | budget s | cost (yuan) | deferred parcels | wall s | capped | kept | above a smaller budget's |"
    )
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        print(
            f"| {r['day']} | {r['budget_s']:g} | {r['cost']:,.2f} | {r['deferred_parcels']} | "
            f"{r['wall_s']} | {r['capped']} | {r['kept']} | {'**yes**' if r['rose'] else 'no'} |"
        )
    print(f"\nchecked: {all(r['checked'] for r in rows)}; rose: {sum(r['rose'] for r in rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
