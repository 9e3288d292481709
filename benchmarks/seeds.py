"""The spread of the daily plan over seeds: the built-in county (or another bundle) planned
with seeds 0..N-1 under the policy's default work budget, each plan checked.

Reports per seed the checker's cost, the parcels deferred for capacity and time, and the wall
time; then the spread of cost (max/min − 1) and every order one seed defers for capacity that
another seed serves. ``python -m benchmarks.seeds [--bundle yanshi] [--date D] [--seeds 10]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import replace

from routing import DeferralReason, check_plan, plan_day
from scenarios.bundle import load_bundle
from scenarios.demand import generate_demand


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.seeds", description=__doc__)
    ap.add_argument("--bundle", default="yanshi")
    ap.add_argument("--date", default="2026-12-01")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--wall-cap",
        type=float,
        default=None,
        help="the policy's wall_cap instead of its own (a loaded machine: keep the clock out)",
    )
    args = ap.parse_args(argv)
    sc = load_bundle(args.bundle)
    orders = sc.orders or generate_demand(sc, args.date, 7)
    costs: list[float] = []
    capacity: dict[int, set[str]] = {}
    print("| seed | cost (yuan) | capacity-deferred parcels | time-deferred | wall s | capped |")
    print("|---:|---:|---:|---:|---:|---:|")
    for seed in range(args.seeds):
        policy = replace(sc.policy, seed=seed)
        if args.wall_cap is not None:
            policy = replace(policy, wall_cap=args.wall_cap)
        day = sc.day(args.date, orders=orders, policy=policy)
        started = time.perf_counter()
        plan = plan_day(day, workers=args.workers)
        wall = time.perf_counter() - started
        report = check_plan(plan, day.network, day.fleet, day.policy, day.orders)
        assert report.ok, report.violations[:3]
        by_id = {o.id: o for o in day.orders}
        cap = {d.order for d in plan.deferred if d.reason is DeferralReason.CAPACITY}
        tim = sum(by_id[d.order].parcels for d in plan.deferred if d.reason is DeferralReason.TIME)
        capacity[seed] = cap
        costs.append(report.cost)
        capped = dict(plan.settings).get("wall_capped", "?")
        print(
            f"| {seed} | {report.cost:,.2f} | {sum(by_id[o].parcels for o in cap)} | {tim} | "
            f"{wall:.1f} | {capped} |",
            flush=True,
        )
    spread = max(costs) / min(costs) - 1
    served_elsewhere = {
        o
        for s, orders_ in capacity.items()
        for o in orders_
        if any(o not in capacity[t] for t in capacity)
    }
    print(
        f"\ncost spread over {args.seeds} seeds: {spread:.2%} (min {min(costs):,.2f}, max {max(costs):,.2f})"
    )
    print(f"orders one seed defers for capacity and another serves: {len(served_elsewhere)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
