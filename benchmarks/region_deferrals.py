"""Deferrals of a generated prefecture, county by county: is it as plannable as the built-in one?

``python -m benchmarks.region_deferrals --counties 12 --seed 1 --time-limit 3`` generates the
region (or reuses ``--region DIR``), plans each county alone with ``plan_day`` at a short budget,
checks every plan and prints a RESULTS.md table: villages, trunk reach, orders, deferred orders
by reason, the checker's verdict and the wall time of each county, and the built-in county on
the same date and budget for comparison. One county at a time in this process (this is a
measurement of the networks, not of batch planning: see ``countyroute plan-batch``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from routing import check_plan, plan_day
from routing.plan import DeferralReason
from scenarios.bundle import Scenario, load_bundle
from scenarios.demand import generate_demand
from scenarios.region import RegionParams, generate_region, load_region, trunk_reach_s

REASONS = (
    DeferralReason.TIME,
    DeferralReason.CAPACITY,
    DeferralReason.UNREACHABLE,
    DeferralReason.FREQUENCY,
)


def _row(label: str, sc: Scenario, date: str, limit: float, workers: int) -> str:
    day = sc.day(date)
    t0 = time.perf_counter()
    plan = plan_day(day, time_limit_s=limit, workers=workers)
    wall = time.perf_counter() - t0
    ok = check_plan(plan, day.network, day.fleet, day.policy, day.orders).ok
    why = Counter(d.reason for d in plan.deferred)
    villages = sum(1 for s in sc.network.sites if s.is_village)
    cells = " | ".join(str(why[r]) for r in REASONS)
    return (
        f"| {label} | {villages} | {len(sc.network.stations)} | {trunk_reach_s(sc) / 60:.0f} "
        f"| {len(day.orders):,} | {cells} | {'ok' if ok else 'FAILED'} | {wall:.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Plan every county of a region (and the built-in county) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counties", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--region", help="an existing region folder (default: generate one)")
    parser.add_argument("--time-limit", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="county folders to plan (default: all)")
    args = parser.parse_args(argv)
    if args.region:
        folder = Path(args.region)
    else:
        folder = Path(tempfile.mkdtemp(prefix="region-deferrals-")) / f"prefecture-{args.counties}"
        generate_region(RegionParams(counties=args.counties, seed=args.seed), folder)
    region = load_region(folder)
    date = region.date or "2026-12-01"
    print(f"region {region.name} ({folder}), {date}, --time-limit {args.time_limit}")
    print(
        "| county | villages | stations | trunk reach (min) | orders | deferred: time | "
        "capacity | unreachable | frequency | checker | wall s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    yanshi = load_bundle("yanshi")
    yanshi = Scenario(
        yanshi.name,
        yanshi.network,
        yanshi.fleet,
        yanshi.policy,
        generate_demand(yanshi, date, 7),
        date,
    )
    print(_row("yanshi (built-in)", yanshi, date, args.time_limit, args.workers), flush=True)
    for name, path in zip(region.counties, region.county_paths, strict=True):
        if args.only and name not in args.only:
            continue
        print(_row(name, load_bundle(path), date, args.time_limit, args.workers), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
