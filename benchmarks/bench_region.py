"""Benchmark of the region generator: a prefecture of synthetic counties written to disk.

``make bench`` generates a 10-county prefecture (seed 1, 150–600 villages a county: every
county's network, roads, fleet, a day's orders and the trunk-reach check, then the bundles,
region.toml and region.geojson); with ``--benchmark-disable`` (CI runs every suite once) two
counties of 150 villages, so the smoke run stays short. ``COUNTYROUTE_BENCH_REGION=N`` sets
the counties either way. The work is fixed (seeded).

``python -m benchmarks.bench_region --counties 10`` prints the same measurement as a table
row for ``benchmarks/RESULTS.md``: wall and CPU time, peak memory, villages, sites, roads,
orders and bytes written.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from scenarios.region import RegionParams, generate_region, load_region

REGION_ENV = "COUNTYROUTE_BENCH_REGION"
FULL_COUNTIES = 10
SMOKE = RegionParams(counties=2, seed=1, name="smoke", villages=(150, 150))


def region_params(config: pytest.Config) -> RegionParams:
    """The env variable's county count, else 10 counties, or the smoke region when disabled."""
    raw = os.environ.get(REGION_ENV, "").strip()
    if raw:
        return RegionParams(counties=int(raw), seed=1, name=f"prefecture-{raw}")
    if config.getoption("benchmark_disable", False):
        return SMOKE
    return RegionParams(counties=FULL_COUNTIES, seed=1, name=f"prefecture-{FULL_COUNTIES}")


def test_generate_prefecture(
    benchmark: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A whole region written to disk (one round: it is seconds of work per county)."""
    params = region_params(request.config)
    out = tmp_path / params.name
    benchmark.pedantic(generate_region, args=(params, out), rounds=1, iterations=1)
    region = load_region(out)
    assert len(region.counties) == params.counties
    lo, hi = params.villages
    assert all(lo <= s.villages <= hi for s in region.summaries)
    assert all(8 <= s.stations <= 20 for s in region.summaries)


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    """Generate one region and print a RESULTS.md row."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counties", type=int, default=FULL_COUNTIES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="write the region here (default: a temporary folder)")
    args = parser.parse_args(argv)
    params = RegionParams(
        counties=args.counties, seed=args.seed, name=f"prefecture-{args.counties}"
    )
    scratch = Path(tempfile.mkdtemp(prefix="bench-region-"))
    out = Path(args.keep) if args.keep else scratch / params.name
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        generate_region(params, out)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        region = load_region(out)
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        villages = sum(s.villages for s in region.summaries)
        orders = sum(s.orders for s in region.summaries)
        sites = roads = 0
        for path in region.county_paths:
            text = (path / "network.geojson").read_text(encoding="utf-8")
            sites += text.count('"type": "Point"')
            roads += text.count('"type": "LineString"')
        print(
            "| counties | villages | sites | roads | orders | MiB written | wall s | CPU s "
            "| s per county (CPU) | peak MiB |"
        )
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        print(
            f"| {args.counties} | {villages:,} | {sites:,} | {roads:,} | {orders:,} "
            f"| {_size(out) / 2**20:.1f} | {wall:.1f} | {cpu:.1f} | {cpu / args.counties:.2f} "
            f"| {peak_mib:.0f} |"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
