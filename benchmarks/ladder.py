"""The size ladder: time and peak memory of every stage of one day, per size, and quality gaps.

Each size runs in a fresh Python process (so peak memory is that size's alone and nothing is
cached from an earlier size) and is measured stage by stage:

* **generate** — ``generate_synthetic`` (network, fleet) + ``generate_demand`` (one day's
  orders); for the built-in county only the demand (its network ships with the package);
* **load/validate** — ``load_bundle`` of that scenario written as a bundle folder with its
  orders: parsing, validation, snapping and reachability;
* the day, ``plan_day`` at the policy's default time limit (or ``--limit``) on 2 workers,
  split by :class:`StageClock` into **matrices** (every ``RoadIndex.matrix`` call made while
  planning; the index is fresh, so each matrix is computed once), **trunk down**, **village
  runs: build** (the stations' problems), **village runs: solve** (solved in parallel, routes
  recorded), **trunk up**, **assemble** (the rest of the up phase: uncollect, suggestions,
  the plan) and **plan: other** (frequency, deadlines, bookkeeping);
* **check** — ``check_plan`` on the plan, with its own **check: matrices**.

Times are exclusive (a stage's matrices are counted under *matrices*, not under the stage).
Peak memory is the process's peak resident set while the stage ran (Linux ``VmHWM``, reset
between stages through ``/proc/self/clear_refs``); the village-run worker processes are
reported apart (their ``ru_maxrss``). The exponent is the slope of a least-squares fit of
log(time) against log(village points) over the synthetic sizes.

Quality: the built-in county's day at the default limit against the same engine at 60 s, and
each synthetic size of 1,000 points or more at its default against a 10× longer run. Cost is
the checker's recomputed route cost plus ``deferral_cost_per_parcel`` for every parcel
deferred for a reason other than visit frequency (a frequency deferral is the policy's rule,
the same in both runs).

The day runs with the planner's own tier solver, or OR-Tools alone with ``--solver ortools``.
Time-limited searches do a fixed amount of *time*, not of work: they vary with the machine's
load. The pytest suites (``bench_*.py``) use solution limits where they need fixed work. A size
whose run fails is reported with its error and the others go on::

    python -m benchmarks.ladder --json out/ladder.json   # yanshi, 130, 1000, 5000 + quality
    python -m benchmarks.ladder --sizes 130 1000 --no-quality --limit 3
    python -m benchmarks.ladder --render out/ladder.json  # the tables again
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from benchmarks.quality import cpu_model, versions
from networks import Network, SiteKind
from networks.matrices import RoadIndex
from routing import DayInput, plan_day
from routing.check import CheckReport, check_plan
from routing.model import Order
from routing.plan import DeferralReason, Plan
from routing.problem import TierProblem, TierSolution
from routing.solvers import DEFAULT_SOLVER, Solver, SolveSettings, solve_ortools
from scenarios.bundle import Scenario, load_bundle, orders_to_csv, save_bundle
from scenarios.demand import generate_demand
from scenarios.synthetic import SyntheticParams, generate_synthetic

__all__ = [
    "CAPTURE_BUDGET_S",
    "DATE",
    "DEMAND_SEED",
    "SCENARIO_SEED",
    "SOLUTIONS",
    "WORKERS",
    "CapturedDay",
    "Instance",
    "PeakMemory",
    "StageClock",
    "assert_checked",
    "capture_day",
    "check",
    "default_solve",
    "deferred_parcels",
    "fit_exponent",
    "fresh_network",
    "main",
    "penalised_cost",
    "same_solution",
    "synthetic_instance",
    "villages_for",
    "yanshi_instance",
]

ROOT = Path(__file__).resolve().parents[1]
DATE = "2026-12-01"
DEMAND_SEED = 7
SCENARIO_SEED = 1
SOLUTIONS = 10
"""Solution limit of every search in a captured (deterministic) day."""
CAPTURE_BUDGET_S = 3600.0
"""Day budget of a captured day: so large that every search stops at its solution limit."""
WORKERS = 2
YANSHI_LONG_S = 60.0
LONGER = 10.0
STAGES = (
    "generate",
    "load/validate",
    "matrices",
    "trunk down",
    "village runs: build",
    "village runs: solve",
    "trunk up",
    "assemble",
    "plan: other",
    "check",
    "check: matrices",
)


# ----------------------------------------------------------------------------- instances
def villages_for(points: int) -> int:
    """Administrative villages whose synthetic county has about ``points`` village points.

    >>> villages_for(1000), villages_for(5000)
    (1538, 7692)
    """
    return max(1, round(points / SyntheticParams().point_share))


@dataclass(frozen=True)
class Instance:
    """A validated scenario and one day's orders."""

    name: str
    scenario: Scenario
    orders: tuple[Order, ...]

    def day(self, network: Network | None = None) -> DayInput:
        """The planner's input (on ``network`` when given: a copy with cold caches)."""
        sc = self.scenario
        return DayInput(sc.name, network or sc.network, sc.fleet, sc.policy, self.orders, DATE)

    @property
    def parcels(self) -> int:
        return sum(o.parcels for o in self.orders)


def yanshi_instance() -> Instance:
    """The built-in county (130 village points) and its demand for :data:`DATE`."""
    sc = load_bundle("yanshi")
    return Instance("yanshi", sc, generate_demand(sc, DATE, DEMAND_SEED))


def synthetic_instance(points: int) -> Instance:
    """A seeded synthetic county of about ``points`` village points and its demand."""
    sc = generate_synthetic(villages_for(points), seed=SCENARIO_SEED)
    return Instance(f"synthetic-{points}", sc, generate_demand(sc, DATE, DEMAND_SEED))


def fresh_network(network: Network) -> Network:
    """An equal network with nothing cached (no road index, no matrices)."""
    return replace(network)


def check(inst: Instance, plan: Plan, network: Network | None = None) -> CheckReport:
    """The independent checker on a plan of ``inst``."""
    sc = inst.scenario
    return check_plan(plan, network or sc.network, sc.fleet, sc.policy, inst.orders)


def assert_checked(report: CheckReport, what: str) -> None:
    """Fail with the first violations when the checker found any."""
    if not report.ok:
        lines = "\n".join(str(v) for v in report.violations[:10])
        raise AssertionError(f"{what}: {len(report.violations)} violations\n{lines}")


def deferred_parcels(inst: Instance, plan: Plan) -> int:
    """Parcels deferred for any reason but visit frequency (the policy's own rule)."""
    parcels = {o.id: o.parcels for o in inst.orders}
    return sum(parcels[d.order] for d in plan.deferred if d.reason is not DeferralReason.FREQUENCY)


def penalised_cost(inst: Instance, plan: Plan, report: CheckReport) -> float:
    """Checker's route cost + the deferral cost of every non-frequency deferred parcel."""
    per_parcel = inst.scenario.policy.deferral_cost_per_parcel
    return report.cost + per_parcel * deferred_parcels(inst, plan)


# ----------------------------------------------------------------------------- captured days
def default_solve(problem: TierProblem, settings: SolveSettings) -> TierSolution:
    """The planner's own tier solver: what ``plan_day`` uses when it is given none (PyVRP,
    exact or approximate, then OR-Tools; OR-Tools alone for repairs under way)."""
    return DEFAULT_SOLVER(problem, settings)


SOLVERS: dict[str, Solver] = {"default": default_solve, "ortools": solve_ortools}
"""Tier solvers the ladder can run the day with (``--solver``)."""


class Solved(NamedTuple):
    """One search of a captured day: the problem, the settings it ran under, its answer."""

    problem: TierProblem
    settings: SolveSettings
    solution: TierSolution


class _Recorder:
    """:func:`default_solve`, keeping every problem it solved and its solution."""

    def __init__(self) -> None:
        self.solved: list[Solved] = []

    def __call__(self, problem: TierProblem, settings: SolveSettings) -> TierSolution:
        solution = default_solve(problem, settings)
        self.solved.append(Solved(problem, settings, solution))
        return solution


@dataclass(frozen=True)
class CapturedDay:
    """A checked day planned under a solution limit, with every tier problem it solved.

    Re-solving one of ``solved`` gives the same solution (the work is fixed by the solution
    limit), so a benchmark that re-solves it reproduces part of a checked plan.
    """

    instance: Instance
    plan: Plan
    report: CheckReport
    solved: tuple[Solved, ...] = field(repr=False)

    def tier(self, prefix: str) -> list[Solved]:
        """The solved problems whose name starts with ``prefix`` (``trunk-down``,
        ``trunk-up``, ``last-mile``)."""
        return [s for s in self.solved if s.problem.name.startswith(prefix)]


def capture_day(inst: Instance, *, solution_limit: int = SOLUTIONS) -> CapturedDay:
    """Plan ``inst`` serially with every search bounded by ``solution_limit``, check the plan
    and keep the tier problems (serially: a solver in a worker process records nothing here).

    Raises
    ------
    AssertionError
        When the plan has violations, or no search stopped at its solution count.
    """
    recorder = _Recorder()
    plan = plan_day(
        inst.day(),
        time_limit_s=CAPTURE_BUDGET_S,
        workers=1,
        solve=recorder,
        work=solution_limit,
    )
    report = check(inst, plan)
    assert_checked(report, f"captured day of {inst.name}")
    # only searches that stopped at their solution count can be re-solved identically; one
    # that ran into its clock (a problem with few solutions) is planned but not re-benchmarked
    reproducible = tuple(
        s for s in recorder.solved if s.solution.wall_s < 0.9 * s.settings.time_limit_s
    )
    if not reproducible:
        raise AssertionError(f"no search of {inst.name} stopped at its solution count")
    return CapturedDay(inst, plan, report, reproducible)


def same_solution(a: TierSolution, b: TierSolution) -> bool:
    """Same routes (with times) and same dropped stops."""
    return a.status == b.status and a.routes == b.routes and a.dropped == b.dropped


# ----------------------------------------------------------------------------- measuring
class PeakMemory:
    """Peak resident memory of this process since the last :meth:`reset`.

    On Linux it reads ``VmHWM`` and resets it by writing 5 to ``/proc/self/clear_refs``;
    elsewhere (or where that is not allowed) it reports the lifetime peak (``ru_maxrss``).
    """

    def __init__(self) -> None:
        self.resettable = True
        try:
            self.reset()
            self._hwm_kib()
        except OSError:
            self.resettable = False

    def reset(self) -> None:
        if self.resettable:
            Path("/proc/self/clear_refs").write_text("5")

    @staticmethod
    def _hwm_kib() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise OSError("no VmHWM")

    def peak_mib(self) -> float:
        if self.resettable:
            return self._hwm_kib() / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def workers_peak_mib() -> float:
    """Largest peak resident memory of any child process reaped so far."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


@dataclass
class _Frame:
    """A stage under way: when it started, and what its nested stages took."""

    label: str
    started: float
    cpu_started: float
    nested_s: float = 0.0
    nested_cpu_s: float = 0.0


class StageClock:
    """Exclusive wall time and peak memory of named stages, nested or not.

    Given as ``plan_day(..., stage=clock.stage)`` it times the day's phases; ``with
    clock.instrument():`` also times every ``RoadIndex.matrix`` call (the network's public
    method, wrapped for the length of the block).
    """

    def __init__(self, memory: PeakMemory | None = None) -> None:
        self.memory = memory or PeakMemory()
        self.seconds: dict[str, float] = defaultdict(float)
        self.peak_mib: dict[str, float] = defaultdict(float)
        self.cpu_s: dict[str, float] = defaultdict(float)
        """This process's CPU seconds (worker processes not included)."""
        self._stack: list[_Frame] = []

    def _checkpoint(self) -> None:
        peak = self.memory.peak_mib()
        for frame in self._stack:
            self.peak_mib[frame.label] = max(self.peak_mib[frame.label], peak)
        self.memory.reset()

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        """Count the block under ``label`` (minus what nested stages count)."""
        self._checkpoint()
        frame = _Frame(label, time.perf_counter(), time.process_time())
        self._stack.append(frame)
        try:
            yield
        finally:
            self._checkpoint()
            self._stack.pop()
            elapsed = time.perf_counter() - frame.started
            cpu = time.process_time() - frame.cpu_started
            self.seconds[label] += elapsed - frame.nested_s
            self.cpu_s[label] += cpu - frame.nested_cpu_s
            if self._stack:
                self._stack[-1].nested_s += elapsed
                self._stack[-1].nested_cpu_s += cpu

    def _timed(self, label_of: Callable[..., str], original: Callable[..., Any]) -> Any:
        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.stage(label_of(*args, **kwargs)):
                return original(*args, **kwargs)

        return timed

    @contextmanager
    def instrument(self) -> Iterator[StageClock]:
        """Wrap the planner's phases and the matrix builder for the length of the block."""
        targets: list[tuple[Any, str, Callable[..., str]]] = [
            (RoadIndex, "matrix", lambda *a, **k: "matrices"),
        ]
        saved = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
        try:
            for (owner, name, label_of), (_, _, original) in zip(targets, saved, strict=True):
                setattr(owner, name, self._timed(label_of, original))
            yield self
        finally:
            for owner, name, original in saved:
                setattr(owner, name, original)

    def rows(self, rename: Callable[[str], str] = str) -> dict[str, tuple[float, float, float]]:
        """{stage: (wall seconds, peak MiB, CPU seconds of this process)}."""
        return {
            rename(k): (self.seconds[k], self.peak_mib.get(k, 0.0), self.cpu_s[k])
            for k in self.seconds
        }


def measure_size(
    spec: str, time_limit_s: float | None, solver: str = "default", workers: int = WORKERS
) -> dict[str, Any]:
    """Every stage of one day of ``spec`` ("yanshi" or a number of village points), in this
    process; meant for a fresh process (see :func:`run_child`)."""
    mem = PeakMemory()
    stages: dict[str, tuple[float, float, float]] = {}

    def timed(label: str, fn: Callable[[], Any]) -> Any:
        gc.collect()
        mem.reset()
        started, cpu = time.perf_counter(), time.process_time()
        out = fn()
        stages[label] = (
            time.perf_counter() - started,
            mem.peak_mib(),
            time.process_time() - cpu,
        )
        return out

    with tempfile.TemporaryDirectory(prefix="ladder-") as tmp:
        if spec == "yanshi":
            base = load_bundle("yanshi")
            orders = timed("generate", lambda: generate_demand(base, DATE, DEMAND_SEED))
            csv = Path(tmp) / "orders.csv"
            csv.write_text(orders_to_csv(orders), encoding="utf-8")
            del base, orders

            def load() -> Scenario:
                return load_bundle("yanshi", orders=csv)
        else:
            points = int(spec)

            def generate() -> tuple[Scenario, tuple[Order, ...]]:
                sc = generate_synthetic(villages_for(points), seed=SCENARIO_SEED)
                return sc, generate_demand(sc, DATE, DEMAND_SEED)

            sc, orders = timed("generate", generate)
            folder = save_bundle(replace(sc, orders=orders, date=DATE), Path(tmp) / "bundle")
            del sc, orders

            def load() -> Scenario:
                return load_bundle(folder)

        scenario = timed("load/validate", load)
    inst = Instance(spec, scenario, scenario.orders)
    net = scenario.network
    clock = StageClock(mem)
    gc.collect()
    started = time.perf_counter()
    with clock.instrument(), clock.stage("plan: other"):
        plan = plan_day(
            inst.day(),
            time_limit_s=time_limit_s,
            workers=workers,
            solve=SOLVERS[solver],
            stage=clock.stage,
        )
    day_s = time.perf_counter() - started
    stages.update(clock.rows())
    check_clock = StageClock(mem)
    with check_clock.instrument(), check_clock.stage("check"):
        report = check(inst, plan)
    stages.update(check_clock.rows(lambda k: "check: matrices" if k == "matrices" else k))
    assert_checked(report, f"day of {spec}")
    return {
        "spec": spec,
        "villages": len(net.village_points) + len(net.of_kind(SiteKind.VILLAGE)),
        "points": len(net.village_points),
        "stations": len(net.stations),
        "sites": len(net.sites),
        "vehicles": len(scenario.fleet),
        "orders": len(inst.orders),
        "parcels": inst.parcels,
        "time_limit_s": time_limit_s or scenario.policy.time_limit_s,
        "stages": stages,
        "day_s": day_s,
        "routes": len(plan.routes),
        "deferred_parcels": deferred_parcels(inst, plan),
        "cost": report.cost,
        "peak_mib": max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            *(row[1] for row in stages.values()),
        ),
        "workers_peak_mib": workers_peak_mib(),
    }


def measure_quality(
    spec: str, base_s: float | None, long_s: float | None, solver: str = "default"
) -> dict[str, Any]:
    """One day of ``spec`` at ``base_s`` (default: the policy's) and at ``long_s`` (default:
    60 s for yanshi, 10× the base otherwise), each on a fresh network, both checked."""
    inst = yanshi_instance() if spec == "yanshi" else synthetic_instance(int(spec))
    base = base_s or inst.scenario.policy.time_limit_s
    longer = long_s or (YANSHI_LONG_S if spec == "yanshi" else LONGER * base)
    runs = []
    for limit in (base, longer):
        net = fresh_network(inst.scenario.network)
        started = time.perf_counter()
        plan = plan_day(inst.day(net), time_limit_s=limit, workers=WORKERS, solve=SOLVERS[solver])
        wall = time.perf_counter() - started
        report = check(inst, plan, net)
        assert_checked(report, f"day of {spec} at {limit} s")
        runs.append(
            {
                "limit_s": limit,
                "wall_s": wall,
                "route_cost": report.cost,
                "deferred_parcels": deferred_parcels(inst, plan),
                "cost": penalised_cost(inst, plan, report),
            }
        )
    return {"spec": spec, "parcels": inst.parcels, "runs": runs}


def run_child(args: Sequence[str]) -> dict[str, Any]:
    """Run ``python -m benchmarks.ladder ARGS`` in a fresh process; its last line is JSON.
    A failed child gives ``{"error": its last line of stderr}``."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.ladder", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        print(proc.stderr[-4000:], file=sys.stderr, flush=True)
        lines = proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"]
        return {"error": lines[-1]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# ----------------------------------------------------------------------------- reporting
def fit_exponent(sizes: Sequence[float], values: Sequence[float]) -> float:
    """Slope of the least-squares line through (log size, log value).

    >>> round(fit_exponent([100, 1000, 10000], [1.0, 100.0, 10000.0]), 3)
    2.0
    """
    x = np.log(np.asarray(sizes, dtype=np.float64))
    y = np.log(np.maximum(np.asarray(values, dtype=np.float64), 1e-4))
    return float(np.polyfit(x, y, 1)[0])


def machine() -> list[str]:
    """CPU, cores, memory, library versions and date, one markdown bullet each."""
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    libs = ", ".join(versions(("ortools", "pyvrp", "numpy", "scipy")))
    return [
        f"- CPU: {cpu_model()}, {os.cpu_count()} cores; RAM {ram:.0f} GiB",
        f"- Python {platform.python_version()}, {libs}",
        f"- {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, load average before the run "
        f"{os.getloadavg()[0]:.1f}",
    ]


def _column(r: dict[str, Any]) -> str:
    return "yanshi (130)" if r["spec"] == "yanshi" else f"{int(r['spec']):,}"


def ladder_tables(results: Sequence[dict[str, Any]]) -> str:
    """Markdown tables: instance shapes; wall time, peak memory and main-process CPU per
    stage, with the exponent fitted over the synthetic sizes."""
    synth = [r for r in results if r["spec"] != "yanshi"]
    sizes = [r["points"] for r in synth]
    fit = len(synth) >= 2
    cols = [_column(r) for r in results]
    out = ["| instance | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for key, label in (
        ("points", "village points"),
        ("stations", "stations"),
        ("vehicles", "vehicles"),
        ("orders", "orders"),
        ("parcels", "parcels"),
        ("time_limit_s", "time limit (s)"),
        ("routes", "routes"),
        ("deferred_parcels", "deferred parcels (not frequency)"),
    ):
        out.append(f"| {label} | " + " | ".join(f"{r[key]:,}" for r in results) + " |")

    def value(r: dict[str, Any], stage: str, idx: int) -> float:
        row = r["stages"].get(stage)
        return float(row[idx]) if row is not None and len(row) > idx else 0.0

    def line(label: str, vals: Sequence[float], digits: int, exponent: bool) -> str:
        cells = [f"{v:.{digits}f}" for v in vals]
        if fit:
            synth_vals = [v for v, r in zip(vals, results, strict=True) if r["spec"] != "yanshi"]
            cells.append(f"{fit_exponent(sizes, synth_vals):.2f}" if exponent else "")
        return f"| {label} | " + " | ".join(cells) + " |"

    stages = [st for st in STAGES if any(st in r["stages"] for r in results)]
    stages += sorted({st for r in results for st in r["stages"]} - set(STAGES))
    head = " | ".join(cols) + (" | exponent" if fit else "")
    rule = "|---" * (len(cols) + 1 + fit) + "|"

    def end_to_end(r: dict[str, Any]) -> float:
        parts = ("load/validate", "check", "check: matrices")
        return float(r["day_s"]) + sum(value(r, st, 0) for st in parts)

    out += ["", f"| wall time (s) | {head} |", rule]
    out += [line(st, [value(r, st, 0) for r in results], 2, True) for st in stages]
    out.append(line("**day (plan_day)**", [r["day_s"] for r in results], 2, True))
    out.append(line("**end to end (load, day, check)**", list(map(end_to_end, results)), 2, True))

    out += ["", f"| peak memory (MiB) | {head} |", rule]
    # "plan: other" encloses the whole day: its peak is the day's
    out += [
        line(st, [value(r, st, 1) for r in results], 0, True)
        for st in stages
        if st != "plan: other"
    ]
    out.append(line("day (plan_day)", [value(r, "plan: other", 1) for r in results], 0, True))
    out.append(line("**process peak**", [r["peak_mib"] for r in results], 0, True))
    workers = [r["workers_peak_mib"] for r in results]
    out.append(line("worker process peak (each)", workers, 0, True))

    if all(len(row) > 2 for r in results for row in r["stages"].values()):
        out += ["", f"| CPU of the main process (s) | {head} |", rule]
        out += [line(st, [value(r, st, 2) for r in results], 2, True) for st in stages]
    return "\n".join(out)


def quality_table(results: Sequence[dict[str, Any]]) -> str:
    """Markdown table of the default-limit runs against the longer ones: the gap on the
    penalised cost (routes + deferrals) and on the route cost alone."""
    out = [
        "| instance | limit (s) | wall (s) | route cost | deferred parcels "
        "| cost with deferrals | gap | route-cost gap |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def gap(a: float, b: float) -> str:
        return f"**{100 * (a - b) / b:+.2f} %**" if b else "–"

    for q in results:
        base, longer = q["runs"]
        name = "yanshi" if q["spec"] == "yanshi" else f"{int(q['spec']):,} points"
        gaps = (gap(base["cost"], longer["cost"]), gap(base["route_cost"], longer["route_cost"]))
        for run, (g, rg) in ((base, gaps), (longer, ("", ""))):
            out.append(
                f"| {name} | {run['limit_s']:g} | {run['wall_s']:.1f} | {run['route_cost']:,.2f} "
                f"| {run['deferred_parcels']:,} | {run['cost']:,.2f} | {g} | {rg} |"
            )
    return "\n".join(out)


def failures(results: Sequence[dict[str, Any]]) -> str:
    """One markdown line per size whose run failed."""
    return "\n".join(f"- **{r['spec']}: failed** — `{r['error']}`" for r in results if "error" in r)


def render(raw: dict[str, Any]) -> str:
    """Every table of a ladder run (as written by ``--json``)."""
    out = ["\n".join(raw["machine"]), f"- tier solver: {raw.get('solver', 'default')}"]
    for key, table in (("speed", ladder_tables), ("quality", quality_table)):
        results = raw.get(key) or []
        done = [r for r in results if "error" not in r]
        if done:
            out.append(table(done))
        if len(done) < len(results):
            out.append(failures(results))
    return "\n\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.ladder",
        description="Time and peak memory of each stage of one day per size, and quality gaps.",
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[130, 1000, 5000])
    ap.add_argument("--limit", type=float, default=None, help="day time limit (s)")
    ap.add_argument("--solver", choices=sorted(SOLVERS), default="default")
    ap.add_argument("--no-yanshi", action="store_true", help="skip the built-in county")
    ap.add_argument("--no-quality", action="store_true", help="skip the quality runs")
    ap.add_argument("--no-speed", action="store_true", help="only the quality runs")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument("--render", type=Path, help="print the tables of a --json file and stop")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--quality-child", help=argparse.SUPPRESS)
    ap.add_argument("--long", type=float, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(measure_size(args.child, args.limit, args.solver)))
        return 0
    if args.quality_child:
        result = measure_quality(args.quality_child, args.limit, args.long, args.solver)
        print(json.dumps(result))
        return 0
    if args.render:
        print(render(json.loads(args.render.read_text())))
        return 0

    specs = ([] if args.no_yanshi else ["yanshi"]) + [str(n) for n in args.sizes]
    common = ["--solver", args.solver] + (
        [] if args.limit is None else ["--limit", str(args.limit)]
    )
    raw: dict[str, Any] = {"machine": machine(), "solver": args.solver}
    if not args.no_speed:
        raw["speed"] = []
        for spec in specs:
            print(f"[ladder] {spec} ...", file=sys.stderr, flush=True)
            raw["speed"].append({"spec": spec} | run_child(["--child", spec, *common]))
    if not args.no_quality:
        raw["quality"] = []
        for spec in [s for s in specs if s == "yanshi" or int(s) >= 1000]:
            print(f"[ladder] quality {spec} ...", file=sys.stderr, flush=True)
            raw["quality"].append({"spec": spec} | run_child(["--quality-child", spec, *common]))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, ensure_ascii=False) + "\n")
    print(render(raw))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
