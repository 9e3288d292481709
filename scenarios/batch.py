"""Batch planning: every county of a region planned for one day, each plan checked.

A **region** is a folder with one ordinary county bundle per subfolder (each loadable by
:func:`scenarios.bundle.load_bundle`) and a ``region.toml`` whose ``counties`` lists the
subfolders in order (docs/region-format.md, :mod:`scenarios.region`); :func:`region_counties`
finds them.

:func:`plan_batch` hands the counties to an :class:`~scenarios.scaleout.Executor` (local
processes or Ray). Each task (:func:`plan_county`) gets only the bundle's **path** and loads,
plans, checks and writes its own county, so a worker holds one county's network and matrices
at a time and the region's memory does not grow with its size. A county's plan folder is
written as ``countyroute plan`` writes one (``plan.json``, ``orders.csv``, ``scenario.json``,
manifests, sheets, summary; pictures on request) plus ``county.json``, the batch's record of
it, and ``check.json``, the independent checker's verdict; it is written into a temporary
folder and renamed into place, so a folder named after a county is always complete.

- **Failures are isolated**: a county whose bundle is broken or whose plan fails is reported
  with the error (the file, row and field of an input error) and the others finish; so is a
  county whose worker process dies while planning it (``worker process died (signal 9,
  SIGKILL) while planning county-07``: the executor's ``lost``, :mod:`scenarios.scaleout`).
- **Resumable**: a county whose folder already holds a checked plan for the date is not
  planned again (``resume=False`` plans everything afresh).
- **Deterministic** with a fixed work budget (the policy's ``work_per_s``, or ``work``): the
  same plans locally and on Ray, whatever order the counties finish in.

Units: costs in yuan, times in seconds, memory in MiB.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from networks import CountyrouteError, InvalidScenario
from scenarios.scaleout import Executor, SerialExecutor

if TYPE_CHECKING:
    from routing.model import Order
    from routing.plan import Plan

__all__ = [
    "COUNTY_FILE",
    "BatchResult",
    "BatchSettings",
    "County",
    "CountyResult",
    "counties_of",
    "plan_batch",
    "plan_county",
    "plan_figures",
    "region_counties",
    "summary_table",
]

COUNTY_FILE = "county.json"
"""The batch's record of a county's plan, written last: its presence marks a complete folder."""
SUMMARY_FILE = "region-summary.json"
_TMP_PREFIX = ".partial-"


@dataclass(frozen=True, slots=True)
class County:
    """One county of a batch: its name (its folder under the output) and its bundle."""

    name: str
    bundle: str
    """A bundle folder (absolute path) or a built-in name."""


@dataclass(frozen=True, slots=True)
class BatchSettings:
    """How every county of the batch is planned (one budget for all)."""

    date: str
    time_limit_s: float | None = None
    """Search budget of each county's day (default: its policy's ``time_limit_s``)."""
    work: int | None = None
    """A fixed amount of work per search (``--solution-limit``) instead of the policy's
    ``work_per_s`` share."""
    seed: int = 7
    """Demand seed for counties whose bundle has no orders for the date."""
    pictures: bool = False
    """Draw map, timeline and roads pictures for every county (most of the writing time)."""
    lang: str = "en"
    wall_cap: float | None = None
    """Replaces every county policy's ``[solver] wall_cap``: the clock's safety net, a
    multiple of each search's share. Work stops the searches; a search the clock stops
    instead (on an overloaded machine) makes that plan depend on the machine, so an
    overnight batch that must give the same plans everywhere can raise it."""


@dataclass(frozen=True, slots=True)
class CountyResult:
    """What the batch knows of one county: planned now, found done (resumed) or failed."""

    county: str
    bundle: str
    date: str
    status: str
    """``planned``, ``resumed`` (a checked plan was already there) or ``failed``."""
    error: str = ""
    orders: int = 0
    orders_source: str = ""
    routes: int = 0
    vehicles: int = 0
    parcels: int = 0
    """Parcels served today (down and up)."""
    deferred: dict[str, int] = field(default_factory=dict)
    """Deferred orders by reason."""
    cost: float = 0.0
    check_ok: bool = False
    violations: int = 0
    solve_s: float = 0.0
    wall_s: float = 0.0
    """Load, plan, check and write, in the worker."""
    cpu_s: float = 0.0
    """The worker's CPU time for the county (user + system): what it costs on an idle core,
    whatever else the machine runs."""
    peak_rss_mib: float = 0.0
    """The worker process's peak resident memory so far."""
    worker: str = ""
    """``host:pid`` of the worker that planned it."""
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> CountyResult:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in doc.items() if k in names})


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Every county's result in the batch's order, and how the batch ran."""

    date: str
    counties: tuple[CountyResult, ...]
    wall_s: float
    backend: str
    workers: int

    @property
    def failed(self) -> tuple[CountyResult, ...]:
        return tuple(c for c in self.counties if not c.ok)

    def totals(self) -> dict[str, Any]:
        done = [c for c in self.counties if c.ok]
        deferred: Counter[str] = Counter()
        for c in done:
            deferred.update(c.deferred)
        return {
            "counties": len(self.counties),
            "planned": sum(c.status == "planned" for c in self.counties),
            "resumed": sum(c.status == "resumed" for c in self.counties),
            "failed": len(self.failed),
            "cost": round(sum(c.cost for c in done), 2),
            "vehicles": sum(c.vehicles for c in done),
            "routes": sum(c.routes for c in done),
            "parcels": sum(c.parcels for c in done),
            "orders": sum(c.orders for c in done),
            "deferred": dict(sorted(deferred.items())),
            "checked_ok": sum(c.check_ok for c in done),
            "county_wall_s": round(sum(c.wall_s for c in done), 1),
            "county_cpu_s": round(sum(c.cpu_s for c in done), 1),
        }

    def slowest(self, n: int = 5) -> list[CountyResult]:
        return sorted((c for c in self.counties if c.ok), key=lambda c: -c.wall_s)[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date,
            "backend": self.backend,
            "workers": self.workers,
            "wall_s": round(self.wall_s, 2),
            "totals": self.totals(),
            "slowest": [c.county for c in self.slowest()],
            "counties": [c.to_dict() for c in self.counties],
        }


# ------------------------------------------------------------------------------ discovery
def region_counties(region: str | os.PathLike[str]) -> list[County]:
    """The counties of a region, in its ``region.toml`` order: a region folder, or a
    generated name (``prefecture-10``, ``province-110``) made on first use
    (:func:`scenarios.region.resolve_region`, :func:`scenarios.region.load_region`).

    Raises
    ------
    InvalidScenario
        When there is no such region, or its ``region.toml`` is wrong (naming the field).
    """
    from scenarios.region import load_region, resolve_region

    found = load_region(resolve_region(region))
    return [
        County(name, str(path.resolve()))
        for name, path in zip(found.counties, found.county_paths, strict=True)
    ]


def counties_of(bundles: Sequence[str]) -> list[County]:
    """Counties given one by one (bundle folders or built-in names), named by their folder.

    Raises
    ------
    InvalidScenario
        When two bundles would share a name (their plan folders would collide).
    """
    out: list[County] = []
    for b in bundles:
        path = Path(b)
        name = path.resolve().name if path.is_dir() else b
        out.append(County(name, str(path.resolve()) if path.is_dir() else b))
    seen = Counter(c.name for c in out)
    twice = sorted(n for n, k in seen.items() if k > 1)
    if twice:
        raise InvalidScenario(
            f"two counties named {twice[0]!r}: rename one folder", field="bundles"
        )
    return out


# ------------------------------------------------------------------------------ one county
def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def plan_figures(plan: Plan, orders: Sequence[Order]) -> dict[str, Any]:
    """What a region summary shows of a county's plan: orders, routes, vehicles, parcels
    served, deferred orders by reason and the route cost (yuan)."""
    deferred_ids = {d.order for d in plan.deferred}
    return {
        "orders": len(orders),
        "routes": len(plan.routes),
        "vehicles": len({r.vehicle for r in plan.routes}),
        "parcels": sum(o.parcels for o in orders if o.id not in deferred_ids),
        "deferred": dict(sorted(Counter(d.reason.value for d in plan.deferred).items())),
        "cost": round(sum(r.cost for r in plan.routes), 2),
    }


def _clocks(started: tuple[float, float]) -> tuple[float, float]:
    """Wall and CPU seconds since ``started`` (``perf_counter``, ``process_time``)."""
    return (
        round(time.perf_counter() - started[0], 2),
        round(time.process_time() - started[1], 2),
    )


def _failed(
    county: County, settings: BatchSettings, error: str, started: tuple[float, float]
) -> CountyResult:
    return CountyResult(
        county.name,
        county.bundle,
        settings.date,
        "failed",
        error=error,
        wall_s=_clocks(started)[0],
        cpu_s=_clocks(started)[1],
        peak_rss_mib=_peak_rss_mib(),
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )


def _replace_folder(tmp: Path, final: Path) -> None:
    """Put ``tmp`` where ``final`` is: at no moment is a half-written folder named ``final``
    (an old one is moved aside first and removed after)."""
    old = final.with_name(f"{_TMP_PREFIX}old-{final.name}-{uuid.uuid4().hex[:8]}")
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def plan_county(settings: BatchSettings, county: County, out: str) -> CountyResult:
    """Load, plan, check and write one county's day into ``out``/``county.name``.

    Never raises for the county's own faults: a broken bundle or a failed plan comes back
    as a ``failed`` result with the error (an input error names its file, row and field).
    """
    from routing import DayInput, plan_day
    from routing.check import check_plan
    from routing.present import write_plan_outputs
    from scenarios.bundle import load_bundle, orders_to_csv

    started = (time.perf_counter(), time.process_time())
    try:
        sc = load_bundle(county.bundle)
        orders = sc.orders
        source = "bundle"
        if not orders or (sc.date is not None and sc.date != settings.date):
            from scenarios.demand import generate_demand

            orders = generate_demand(sc, settings.date, settings.seed)
            source = f"generated (seed {settings.seed})"
        policy = sc.policy
        if settings.wall_cap is not None:
            policy = replace(policy, wall_cap=float(settings.wall_cap))
        day = DayInput(sc.name, sc.network, sc.fleet, policy, orders, settings.date)
        plan = plan_day(day, time_limit_s=settings.time_limit_s, workers=1, work=settings.work)
        report = check_plan(plan, sc.network, sc.fleet, policy, orders)
    except CountyrouteError as exc:
        return _failed(county, settings, f"input: {exc}", started)
    except Exception as exc:  # a bug in the planner must not take the other counties down
        return _failed(county, settings, f"plan failed: {type(exc).__name__}: {exc}", started)
    result = CountyResult(
        county.name,
        county.bundle,
        settings.date,
        "planned" if report.ok else "failed",
        error="" if report.ok else f"checker: {len(report.violations)} violations",
        orders_source=source,
        **plan_figures(plan, orders),
        check_ok=report.ok,
        violations=len(report.violations),
        solve_s=plan.solve_s,
        settings=dict(plan.settings),
    )
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f"{_TMP_PREFIX}{county.name}-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        (tmp / "orders.csv").write_text(orders_to_csv(orders), encoding="utf-8")
        sets = [] if settings.wall_cap is None else [f"solver.wall_cap={settings.wall_cap:g}"]
        meta = {"scenario": county.bundle, "date": settings.date, "set": sets, "pins": {}}
        (tmp / "scenario.json").write_text(
            json.dumps({**meta, "previous": None}, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        write_plan_outputs(plan, day, tmp, lang=settings.lang, pictures=settings.pictures)
        check = {
            "ok": report.ok,
            "violations": [str(v) for v in report.violations],
            "cost": round(report.cost, 2),
            "distance_m": report.distance_m,
            "vehicle_hours": round(report.vehicle_hours, 2),
        }
        (tmp / "check.json").write_text(json.dumps(check, indent=1) + "\n", encoding="utf-8")
        wall_s, cpu_s = _clocks(started)
        result = replace(
            result,
            wall_s=wall_s,
            cpu_s=cpu_s,
            peak_rss_mib=_peak_rss_mib(),
            worker=f"{socket.gethostname()}:{os.getpid()}",
        )
        (tmp / COUNTY_FILE).write_text(
            json.dumps(result.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        _replace_folder(tmp, target / county.name)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        where = exc.filename if exc.filename is not None else target
        return _failed(county, settings, f"cannot write {where}: {exc.strerror or exc}", started)
    return result


def _task(settings: BatchSettings, item: tuple[County, str]) -> CountyResult:
    return plan_county(settings, *item)


def done_before(out: Path, county: County, date: str) -> CountyResult | None:
    """The county's result when ``out`` already holds its checked plan for ``date``."""
    try:
        doc = json.loads((out / county.name / COUNTY_FILE).read_text(encoding="utf-8"))
        earlier = CountyResult.from_dict(doc)
    except (OSError, ValueError, TypeError):
        return None
    if earlier.date != date or earlier.status == "failed" or not earlier.check_ok:
        return None
    return replace(earlier, status="resumed")


# ------------------------------------------------------------------------------ the batch
def plan_batch(
    counties: Sequence[County],
    settings: BatchSettings,
    out: str | os.PathLike[str],
    *,
    executor: Executor | None = None,
    resume: bool = True,
    progress: Callable[[int, int, CountyResult], None] | None = None,
) -> BatchResult:
    """Plan every county for ``settings.date`` on ``executor`` and write the region summary.

    Parameters
    ----------
    counties
        The counties, in the order the summary lists them (names must be unique).
    settings
        The budget and options every county is planned with.
    out
        The output folder: one plan folder per county, and ``region-summary.json``.
    executor
        Where the counties are planned (default: in this process, one after the other).
    resume
        Skip counties whose checked plan for the date is already in ``out``.
    progress
        ``progress(done, total, result)`` as each county finishes (resumed ones first).

    Returns
    -------
    BatchResult
        Every county's result; ``failed`` lists the ones that failed.
    """
    started = time.perf_counter()
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob(f"{_TMP_PREFIX}*"):  # left by a batch that was killed
        shutil.rmtree(stale, ignore_errors=True)
    run = executor or SerialExecutor()
    results: list[CountyResult | None] = [None] * len(counties)
    todo: list[int] = []
    for k, c in enumerate(counties):
        earlier = done_before(target, c, settings.date) if resume else None
        if earlier is None:
            todo.append(k)
        else:
            results[k] = earlier
    total = len(counties)
    finished = 0
    for r in results:
        if r is not None:
            finished += 1
            if progress:
                progress(finished, total, r)

    def each(index: int, result: CountyResult) -> None:
        nonlocal finished
        results[todo[index]] = result
        finished += 1
        if progress:
            progress(finished, total, result)

    def lost(index: int, exc: BaseException) -> CountyResult:
        county = counties[todo[index]]  # its worker died: no clocks or memory to report
        error = f"{exc} while planning {county.name}"
        return CountyResult(county.name, county.bundle, settings.date, "failed", error=error)

    items = [(counties[k], str(target.resolve())) for k in todo]
    run.map(_task, settings, items, each=each, lost=lost)
    batch = BatchResult(
        settings.date,
        tuple(r for r in results if r is not None),
        time.perf_counter() - started,
        run.name,
        run.workers,
    )
    (target / SUMMARY_FILE).write_text(
        json.dumps(batch.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    (target / "region-summary.md").write_text(summary_table(batch) + "\n", encoding="utf-8")
    return batch


# ------------------------------------------------------------------------------ summary
_REASONS = ("capacity", "time", "unreachable", "frequency")


def summary_table(batch: BatchResult, slowest: int = 5) -> str:
    """The region summary as a Markdown table: one row per county, the totals, the slowest
    counties and the failures with their errors."""
    head = (
        "| county | status | cost (yuan) | vehicles | parcels | deferred cap/time/unr/freq "
        "| check | wall s |"
    )
    lines = [head, "|---|---|--:|--:|--:|--:|---|--:|"]

    def deferred(d: dict[str, int]) -> str:
        return "/".join(str(d.get(r, 0)) for r in _REASONS)

    for c in batch.counties:
        if not c.ok:
            lines.append(f"| {c.county} | failed | | | | | | {c.wall_s:.1f} |")
            continue
        check = "ok" if c.check_ok else f"{c.violations} violations"
        lines.append(
            f"| {c.county} | {c.status} | {c.cost:,.2f} | {c.vehicles} | {c.parcels} "
            f"| {deferred(c.deferred)} | {check} | {c.wall_s:.1f} |"
        )
    t = batch.totals()
    lines.append(
        f"| **total** ({t['counties']}) | {t['planned']} planned, {t['resumed']} resumed, "
        f"{t['failed']} failed | {t['cost']:,.2f} | {t['vehicles']} | {t['parcels']} "
        f"| {deferred(t['deferred'])} | {t['checked_ok']} ok | {t['county_wall_s']:.1f} |"
    )
    slow = batch.slowest(slowest)
    if slow:
        lines.append("")
        lines.append("slowest: " + ", ".join(f"{c.county} {c.wall_s:.1f} s" for c in slow))
    for c in batch.failed:
        lines.append(f"failed: {c.county}: {c.error}")
    lines.append(
        f"{batch.wall_s:.1f} s on {batch.backend} ({batch.workers} workers) for {batch.date}"
    )
    return "\n".join(lines)
