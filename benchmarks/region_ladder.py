"""The region ladder: a day of 10, 50 and 110 counties planned with ``plan-batch`` on local Ray.

For each size the first N counties of one region are planned (``scenarios.batch.plan_batch``
on ``RayExecutor("local", workers)``, a fresh Ray instance per size, every plan checked,
pictures off, resume off) and measured:

* **wall** — the whole batch, Ray's start included;
* **per county** — each county's own wall and CPU time in its worker (load, plan, check,
  write); on a shared machine the CPU time is the figure that does not depend on the load;
* **peak per worker** — the largest ``ru_maxrss`` a worker reported (a worker plans many
  counties one after the other; this is its peak over all of them);
* **peak total** — the largest sum of resident memory (``VmRSS`` from ``/proc``) over this
  process and all its descendants (Ray's raylet, GCS, object store and workers), sampled
  every half second; shared pages are counted once per process, so it is an upper bound.

The exponent is the slope of a least-squares fit of log(wall) against log(counties).

The region: ``--region NAME|DIR``, default ``province-<largest size>`` generated on first use
by :func:`scenarios.region.resolve_region` (counties of 150–600 villages, each with its hub,
stations, fleet and a day's orders; ``COUNTYROUTE_REGIONS`` says where); the sizes take the
first N of its counties, so a larger size contains the smaller ones. Each county is planned
with ``--time-limit`` seconds of budget (the policy's ``work_per_s`` turns it into a fixed
amount of work per search)::

    python -m benchmarks.region_ladder --sizes 10 --time-limit 1
    python -m benchmarks.region_ladder --sizes 10 50 110 --json out/region-ladder.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from scenarios.batch import BatchResult, BatchSettings, County, plan_batch, region_counties

DATE = "2026-12-01"


def _tree_rss_mib(root: int) -> float:
    """Resident memory of ``root`` and every descendant (Linux ``/proc``), MiB."""
    parent: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        parent[pid] = int(fields.get("PPid", "0").strip() or 0)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    keep = {root}
    grew = True
    while grew:
        grew = False
        for pid, pp in parent.items():
            if pp in keep and pid not in keep:
                keep.add(pid)
                grew = True
    return sum(rss.get(p, 0) for p in keep) / 1024


class PeakSampler:
    """The peak of :func:`_tree_rss_mib` over this process's tree while it runs."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.every_s = every_s
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mib = max(self.peak_mib, _tree_rss_mib(os.getpid()))
            self._stop.wait(self.every_s)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def villages_of(county: County) -> int:
    """Administrative villages of a county bundle (village points and the villages they serve)."""
    from networks import SiteKind
    from scenarios.bundle import load_bundle

    net = load_bundle(county.bundle).network
    return len(net.village_points) + len(net.of_kind(SiteKind.VILLAGE))


def run_size(
    counties: list[County], settings: BatchSettings, out: Path, workers: int
) -> dict[str, Any]:
    """One rung: plan ``counties`` afresh on a new local Ray instance and measure it."""
    from scenarios.scaleout import RayExecutor

    started = time.perf_counter()
    with PeakSampler() as sampler:
        with RayExecutor("local", workers=workers) as ex:
            batch: BatchResult = plan_batch(
                counties,
                settings,
                out,
                executor=ex,
                resume=False,
                progress=lambda d, t, c: print(
                    f"  [{d}/{t}] {c.county} {c.status} {c.wall_s:.0f} s ({c.cpu_s:.0f} s CPU)",
                    flush=True,
                ),
            )
        wall = time.perf_counter() - started
    done = [c for c in batch.counties if c.ok]
    per = sorted(c.wall_s for c in done)
    cpu = sorted(c.cpu_s for c in done)
    return {
        "counties": len(counties),
        "failed": len(batch.failed),
        "checked_ok": sum(c.check_ok for c in done),
        "wall_s": round(wall, 1),
        "county_s_median": round(per[len(per) // 2], 1) if per else None,
        "county_s_max": round(per[-1], 1) if per else None,
        "county_s_sum": round(sum(per), 1),
        "county_cpu_s_median": round(cpu[len(cpu) // 2], 1) if cpu else None,
        "county_cpu_s_sum": round(sum(cpu), 1),
        "load_avg_1min": round(os.getloadavg()[0], 1),
        "peak_worker_mib": max((c.peak_rss_mib for c in done), default=0.0),
        "peak_total_mib": round(sampler.peak_mib, 1),
        "orders": sum(c.orders for c in done),
        "parcels": sum(c.parcels for c in done),
        "deferred": batch.totals()["deferred"],
        "cost": batch.totals()["cost"],
    }


def exponent(rows: list[dict[str, Any]], key: str = "wall_s") -> float | None:
    """Slope of log(``key``) against log(counties), least squares (None below two sizes)."""
    if len(rows) < 2:
        return None
    x = np.log([r["counties"] for r in rows])
    y = np.log([r[key] for r in rows])
    return float(np.polyfit(x, y, 1)[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.region_ladder")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 110])
    parser.add_argument("--time-limit", type=float, default=1.0, help="budget per county (s)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--region", help="a region folder or name (default province-<largest>)")
    parser.add_argument("--work", default="out/region-ladder", help="the plans go here")
    parser.add_argument("--json", help="append the rows to this JSON file")
    args = parser.parse_args(argv)

    work = Path(args.work)
    region = args.region or f"province-{max(args.sizes)}"
    print(f"region {region} ...", flush=True)
    every = region_counties(region)
    settings = BatchSettings(DATE, time_limit_s=args.time_limit)
    rows = []
    for n in sorted(args.sizes):
        counties = every[:n]
        villages = sum(villages_of(c) for c in counties)
        print(f"{n} counties ({villages} villages) on local Ray, {args.workers} workers ...")
        row = run_size(counties, settings, work / f"plans-{n}", args.workers)
        row["villages"] = villages
        rows.append(row)
        print(json.dumps(row), flush=True)
    fit = exponent(rows)
    print()
    print(
        "| counties | villages | wall | per county median / max | CPU per county median "
        "| peak per worker | peak total | checked | failed | load |"
    )
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in rows:
        print(
            f"| {r['counties']} | {r['villages']:,} | {r['wall_s'] / 60:.1f} min "
            f"| {r['county_s_median']} / {r['county_s_max']} s | {r['county_cpu_s_median']} s "
            f"| {r['peak_worker_mib']:.0f} MiB | {r['peak_total_mib'] / 1024:.2f} GiB "
            f"| {r['checked_ok']} | {r['failed']} | {r['load_avg_1min']} |"
        )
    cpu_fit = exponent(rows, "county_cpu_s_sum")
    if fit is not None and cpu_fit is not None:
        print(f"exponent vs counties: wall {fit:.2f}, the counties' CPU time {cpu_fit:.2f}")
    if args.json:
        path = Path(args.json)
        doc = json.loads(path.read_text()) if path.is_file() else []
        doc.append(
            {
                "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": f"{platform.node()} {os.cpu_count()} CPUs {platform.machine()}",
                "load_avg_at_end": os.getloadavg(),
                "time_limit_s": args.time_limit,
                "workers": args.workers,
                "rows": rows,
                "exponent": None if fit is None or math.isnan(fit) else round(fit, 3),
                "exponent_cpu": None if cpu_fit is None else round(cpu_fit, 3),
            }
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
