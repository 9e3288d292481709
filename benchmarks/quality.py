"""Quality harness: the core and its peers on public instances with best-known solutions.

Runs the instances listed in ``benchmarks/instances/bks.csv`` (CVRP X; Solomon and
Gehring–Homberger VRPTW under the DIMACS convention, see that folder's README) through

* ``countyroute`` — the product's default path: the instance becomes the same
  :class:`~routing.problem.TierProblem` the daily plan solves, solved by the daily plan's
  default tier solver (:data:`DEFAULT_SOLVE`; the ``backend`` column says which backend ran);

* with ``--peers``: ``pyvrp`` (PyVRP's Model API, default parameters), ``ortools-plain``
  (OR-Tools routing as its guide teaches: Python distance callback, PATH_CHEAPEST_ARC +
  GUIDED_LOCAL_SEARCH) and ``vroom`` (pyvroom, exploration level 5, all cores, the budget as
  its timeout), each built from the instance as a typical user would;
* on request (``--solver``): ``countyroute-hybrid``
  (:func:`routing.solvers.solve_hybrid`: PyVRP for 95 % of the budget, then the
  OR-Tools model checks its routes and polishes them), ``countyroute-2cores`` (the same
  with PyVRP on two cores: two seeds at once, then, on a short budget for a large problem,
  the solution cut into two parts searched at once; ``cores_used`` = 2),
  ``countyroute-ortools`` and ``countyroute-pyvrp``: the core's backends on the same
  ``TierProblem``.

Solvers run one at a time, seed 0. Every cost is recomputed from the returned routes by
:func:`benchmarks.formats.evaluate_routes`, never taken from a solver. Rows go to
``benchmarks/results/quality-<date>.csv``; a markdown table of mean gaps per family, solver
and budget is printed::

    python -m benchmarks.quality --budget 5 --budget 30 --peers
    python -m benchmarks.quality --budget 1 --instance X-n101-k25 --solver countyroute
    python -m benchmarks.quality --summarize benchmarks/results/quality-2026-05-01.csv
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.metadata
import importlib.util
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.formats import (
    Instance,
    evaluate_routes,
    instance_to_problem,
    read_instance,
    solution_routes,
)
from benchmarks.formats_2e import evaluate_2e, read_2e
from benchmarks.solve_2e import solve_2e
from routing.problem import SolveStatus
from routing.solvers import (
    DEFAULT_SOLVER,
    Solver,
    SolveSettings,
    solve_hybrid,
    solve_ortools,
    solve_pyvrp,
)

__all__ = [
    "DEFAULT_SOLVE",
    "FIELDS",
    "INSTANCES_DIR",
    "SOLVERS",
    "load_bks",
    "machine_info",
    "main",
    "run_quality",
    "run_quality_2e",
    "summarize",
]

ROOT = Path(__file__).resolve().parents[1]
INSTANCES_DIR = Path(
    os.environ.get("COUNTYROUTE_INSTANCES", Path(__file__).resolve().parent / "instances")
)
RESULTS_DIR = ROOT / "benchmarks" / "results"
FIELDS = (
    "instance",
    "family",
    "n",
    "solver",
    "budget_s",
    "feasible",
    "cost",
    "bks",
    "gap_pct",
    "wall_s",
    "cpu_s",
    "routes",
    "cores_used",
    "backend",
    "note",
)

DEFAULT_SOLVE: Solver = DEFAULT_SOLVER
"""The tier solver :func:`routing.day.plan_day` uses by default, measured as ``countyroute``:
the harness follows the product, whatever that default is."""

SEED = 0


@dataclass(frozen=True)
class Entry:
    """One row of ``bks.csv``."""

    instance: str
    file: str
    family: str
    n: int
    bks: float


@dataclass(frozen=True)
class Run:
    """What one solver returned: client routes and how it ran."""

    routes: list[list[int]]
    cores: int
    backend: str
    note: str = ""


class Skipped(Exception):
    """A peer that is not installed here."""


def load_bks(directory: Path = INSTANCES_DIR) -> list[Entry]:
    """The instances of ``bks.csv``, in file order."""
    with (directory / "bks.csv").open(newline="") as fh:
        return [
            Entry(r["instance"], r["file"], r["family"], int(r["n_clients"]), float(r["bks"]))
            for r in csv.DictReader(fh)
        ]


# --- solvers -----------------------------------------------------------------------------


def _countyroute(inst: Instance, budget_s: float) -> Run:
    return _countyroute_with(DEFAULT_SOLVE)(inst, budget_s)


def _countyroute_with(solve: Solver, cores: int = 1) -> Callable[..., Run]:
    def run(inst: Instance, budget_s: float) -> Run:
        problem = instance_to_problem(inst)
        solution = solve(problem, SolveSettings(time_limit_s=budget_s, seed=SEED, cores=cores))
        note = "" if solution.status is SolveStatus.FEASIBLE else solution.status.value
        return Run(solution_routes(problem, solution), cores, solution.backend, note)

    return run


def _pyvrp(inst: Instance, budget_s: float) -> Run:
    if importlib.util.find_spec("pyvrp") is None:
        raise Skipped("pyvrp not installed (pip install countyroute[peers])")
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    m = Model()
    locs = [m.add_location(float(x), float(y)) for x, y in inst.coords]
    tw = inst.time_windows
    depot = m.add_depot(locs[0], *(() if tw is None else (int(tw[0][0]), int(tw[0][1]))))
    if tw is None:
        m.add_vehicle_type(inst.num_vehicles, capacity=inst.capacity, start_depot=depot)
    else:
        m.add_vehicle_type(
            inst.num_vehicles,
            capacity=inst.capacity,
            start_depot=depot,
            tw_early=int(tw[0][0]),
            tw_late=int(tw[0][1]),
        )
    for c in range(1, inst.n_clients + 1):
        if tw is None:
            m.add_client(locs[c], delivery=int(inst.demand[c]))
        else:
            m.add_client(
                locs[c],
                delivery=int(inst.demand[c]),
                service_duration=int(inst.service[c]),
                tw_early=int(tw[c][0]),
                tw_late=int(tw[c][1]),
            )
    timed = tw is not None
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            d = int(inst.distance[i, j])
            m.add_edge(a, b, distance=d, duration=d if timed else 0)
    result = m.solve(stop=MaxRuntime(budget_s), seed=SEED, display=False)
    routes = [[a.idx + 1 for a in r.schedule() if a.is_client()] for r in result.best.routes()]
    return Run(routes, 1, "pyvrp", "" if result.is_feasible() else "infeasible best")


def _ortools_plain(inst: Instance, budget_s: float) -> Run:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    size, k = inst.n_clients + 1, inst.num_vehicles
    manager = pywrapcp.RoutingIndexManager(size, k, 0)
    routing = pywrapcp.RoutingModel(manager)
    dist = inst.distance.tolist()
    demand = inst.demand.tolist()

    def distance_callback(i: int, j: int) -> int:
        return int(dist[manager.IndexToNode(i)][manager.IndexToNode(j)])

    def demand_callback(i: int) -> int:
        return int(demand[manager.IndexToNode(i)])

    transit = routing.RegisterTransitCallback(distance_callback)
    routing.SetArcCostEvaluatorOfAllVehicles(transit)
    routing.AddDimensionWithVehicleCapacity(
        routing.RegisterUnaryTransitCallback(demand_callback), 0, [inst.capacity] * k, True, "Cap"
    )
    tw = inst.time_windows
    if tw is not None:
        service = inst.service.tolist()
        horizon = int(tw[0][1])

        def time_callback(i: int, j: int) -> int:
            a, b = manager.IndexToNode(i), manager.IndexToNode(j)
            return int(service[a] + dist[a][b])

        routing.AddDimension(
            routing.RegisterTransitCallback(time_callback), horizon, horizon, False, "Time"
        )
        tdim = routing.GetDimensionOrDie("Time")
        for c in range(1, size):
            tdim.CumulVar(manager.NodeToIndex(c)).SetRange(int(tw[c][0]), int(tw[c][1]))
        for v in range(k):
            tdim.CumulVar(routing.Start(v)).SetRange(int(tw[0][0]), horizon)
            routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(routing.End(v)))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(round(budget_s * 1000))
    solution = routing.SolveWithParameters(params)
    if solution is None:
        return Run([], 1, "ortools", "no solution")
    routes = []
    for v in range(k):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        route = []
        while not routing.IsEnd(index):
            route.append(manager.IndexToNode(index))
            index = solution.Value(routing.NextVar(index))
        routes.append(route)
    return Run(routes, 1, "ortools")


def _vroom(inst: Instance, budget_s: float) -> Run:
    if importlib.util.find_spec("vroom") is None:
        raise Skipped("pyvroom not installed (pip install countyroute[peers])")
    import vroom

    cores = os.cpu_count() or 1
    problem = vroom.Input()
    problem.set_durations_matrix("car", inst.distance.tolist())
    tw = inst.time_windows
    for v in range(inst.num_vehicles):
        problem.add_vehicle(
            vroom.Vehicle(
                id=v + 1,
                start=0,
                end=0,
                capacity=[inst.capacity],
                time_window=None if tw is None else vroom.TimeWindow(int(tw[0][0]), int(tw[0][1])),
            )
        )
    for c in range(1, inst.n_clients + 1):
        problem.add_job(
            vroom.Job(
                id=c,
                location=c,
                delivery=[int(inst.demand[c])],
                default_service=int(inst.service[c]),
                time_windows=() if tw is None else [vroom.TimeWindow(int(tw[c][0]), int(tw[c][1]))],
            )
        )
    solution = problem.solve(
        exploration_level=5, nb_threads=cores, timeout=dt.timedelta(seconds=budget_s)
    )
    frame = solution.routes
    routes: dict[int, list[int]] = {}
    for vehicle, kind, job in zip(frame["vehicle_id"], frame["type"], frame["id"], strict=True):
        if kind == "job":
            routes.setdefault(int(vehicle), []).append(int(job))
    return Run(list(routes.values()), cores, "vroom")


SOLVERS: dict[str, Callable[[Instance, float], Run]] = {
    "countyroute": _countyroute,
    "pyvrp": _pyvrp,
    "ortools-plain": _ortools_plain,
    "vroom": _vroom,
    # the core's backends, for measuring the default's parts (not run unless named)
    "countyroute-hybrid": _countyroute_with(solve_hybrid),
    "countyroute-2cores": _countyroute_with(solve_hybrid, cores=2),
    "countyroute-ortools": _countyroute_with(solve_ortools),
    "countyroute-pyvrp": _countyroute_with(solve_pyvrp),
}
PEERS = ("pyvrp", "ortools-plain", "vroom")


# --- harness -------------------------------------------------------------------------------


def _cpu_s() -> float:
    """CPU seconds of this process and of its finished children (a solver's worker
    processes are joined before it returns)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_quality(
    instances: list[str] | None,
    budgets: list[float],
    solvers: list[str],
    *,
    directory: Path = INSTANCES_DIR,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every solver on every instance at every budget, one solve at a time.

    Parameters
    ----------
    instances
        Instance names from ``bks.csv`` (``None``: all of them).
    budgets
        Time budgets in seconds.
    solvers
        Names from :data:`SOLVERS`. A peer that is not installed gives no rows and a note on
        stderr.
    directory
        Where ``bks.csv`` and the instance files are.
    progress
        Called with each row as it is produced.

    Returns
    -------
    list[dict]
        One row per (instance, solver, budget) with the keys of :data:`FIELDS`; ``cost`` is
        recomputed by :func:`~benchmarks.formats.evaluate_routes`, ``gap_pct`` is empty for
        an infeasible result. ``cpu_s`` is the CPU time of this process and its worker
        processes during the solve: well below ``wall_s × cores_used`` means the machine was
        busy with other work.

    Raises
    ------
    ValueError
        On an unknown instance or solver name.
    """
    entries = load_bks(directory)
    if instances is not None:
        known = {e.instance for e in entries}
        if unknown := [i for i in instances if i not in known]:
            raise ValueError(f"unknown instance(s) {unknown}; bks.csv lists {sorted(known)}")
        entries = [e for e in entries if e.instance in instances]
    if unknown := [s for s in solvers if s not in SOLVERS]:
        raise ValueError(f"unknown solver(s) {unknown}; known: {sorted(SOLVERS)}")
    skipped: set[str] = set()
    rows: list[dict[str, Any]] = []
    for budget in budgets:
        for entry in entries:
            inst = read_instance(directory / entry.file)
            for name in solvers:
                if name in skipped:
                    continue
                started, cpu = time.perf_counter(), _cpu_s()
                try:
                    run = SOLVERS[name](inst, budget)
                except Skipped as why:
                    print(f"skipping {name}: {why}", file=sys.stderr)
                    skipped.add(name)
                    continue
                wall = time.perf_counter() - started
                cpu = _cpu_s() - cpu
                ev = evaluate_routes(inst, run.routes)
                cost = inst.objective(ev.cost)
                gap = (cost - entry.bks) / entry.bks * 100 if ev.feasible else None
                row = {
                    "instance": entry.instance,
                    "family": entry.family,
                    "n": entry.n,
                    "solver": name,
                    "budget_s": budget,
                    "feasible": ev.feasible,
                    "cost": cost if ev.feasible else None,
                    "bks": entry.bks,
                    "gap_pct": None if gap is None else round(gap, 3),
                    "wall_s": round(wall, 2),
                    "cpu_s": round(cpu, 2),
                    "routes": ev.routes,
                    "cores_used": run.cores,
                    "backend": run.backend,
                    "note": "; ".join(filter(None, (run.note, *ev.violations[:2]))),
                }
                rows.append(row)
                if progress is not None:
                    progress(row)
    return rows


TWO_E_DIR = ROOT / "benchmarks" / "instances" / "2e"
"""The two-echelon instances (Perboli Set 2) and their ``bks.csv``."""


def load_bks_2e(directory: Path = TWO_E_DIR) -> list[Entry]:
    """The two-echelon instances of ``bks.csv`` (instance, set, customers, …, bks)."""
    with (directory / "bks.csv").open(newline="") as fh:
        return [
            Entry(
                r["instance"],
                f"{r['instance']}.dat",
                r["set"],
                int(r["customers"]),
                float(r["bks"]),
            )
            for r in csv.DictReader(fh)
        ]


def run_quality_2e(
    instances: list[str] | None,
    budgets: list[float],
    *,
    directory: Path = TWO_E_DIR,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """The two-echelon instances through the core (:func:`benchmarks.solve_2e.solve_2e`:
    multi-depot last mile with the shared freighter pool, exact split-delivery trunk, both
    echelons priced together), one at a time, seed 0. Rows as :func:`run_quality`'s, with
    ``solver = "countyroute-2e"``; ``cost`` is recomputed unrounded by
    :func:`benchmarks.formats_2e.evaluate_2e` and ``routes`` counts freighter routes.

    Raises
    ------
    ValueError
        On an unknown instance name.
    """
    entries = load_bks_2e(directory)
    if instances is not None:
        known = {e.instance for e in entries}
        if unknown := [i for i in instances if i not in known]:
            raise ValueError(f"unknown instance(s) {unknown}; bks.csv lists {sorted(known)}")
        entries = [e for e in entries if e.instance in instances]
    rows: list[dict[str, Any]] = []
    for budget in budgets:
        for entry in entries:
            inst = read_2e(directory / entry.file)
            started, cpu = time.perf_counter(), _cpu_s()
            solution, note = solve_2e(inst, budget, seed=SEED)
            wall = time.perf_counter() - started
            cpu = _cpu_s() - cpu
            ev = evaluate_2e(inst, solution)
            gap = (ev.cost - entry.bks) / entry.bks * 100 if ev.feasible else None
            row = {
                "instance": entry.instance,
                "family": entry.family,
                "n": entry.n,
                "solver": "countyroute-2e",
                "budget_s": budget,
                "feasible": ev.feasible,
                "cost": round(ev.cost, 4) if ev.feasible else None,
                "bks": entry.bks,
                "gap_pct": None if gap is None else round(gap, 3),
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "routes": ev.freighters,
                "cores_used": 1,
                "backend": f"trucks {ev.trucks}, freighters {list(ev.freighters_at)}",
                "note": "; ".join(filter(None, (note, *ev.violations[:2]))),
            }
            rows.append(row)
            if progress is not None:
                progress(row)
    return rows


def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Write rows with the :data:`FIELDS` header (empty cells for missing values)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in FIELDS})


def read_csv(path: Path) -> list[dict[str, Any]]:
    """Rows written by :func:`write_csv`, with numbers parsed back."""
    rows: list[dict[str, Any]] = []
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            row: dict[str, Any] = dict(r)
            row["budget_s"] = float(r["budget_s"])
            row["feasible"] = r["feasible"] == "True"
            row["gap_pct"] = float(r["gap_pct"]) if r["gap_pct"] else None
            row["wall_s"] = float(r["wall_s"])
            rows.append(row)
    return rows


_KIND = {"X": "CVRP", "Solomon": "VRPTW", "HG200": "VRPTW", "Set2a": "2E", "Set2b": "2E"}


def summarize(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table: mean gap (over feasible results), feasible count, max gap, mean
    wall time and CPU share (CPU time / (wall × cores used); below 100 % the machine was
    busy) per family (and per kind: CVRP, VRPTW), solver and budget."""
    groups: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    for r in rows:
        for fam in (r["family"], _KIND.get(r["family"], r["family"])):
            groups.setdefault((fam, r["solver"], float(r["budget_s"])), []).append(r)
    order = {
        f: i
        for i, f in enumerate(("X", "Solomon", "HG200", "CVRP", "VRPTW", "Set2a", "Set2b", "2E"))
    }
    lines = [
        "| family | solver | budget (s) | mean gap % | max gap % | feasible | mean wall (s) "
        "| CPU share |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for fam, solver, budget in sorted(groups, key=lambda k: (order.get(k[0], 9), k[2], k[1])):
        rs = groups[(fam, solver, budget)]
        gaps = [float(r["gap_pct"]) for r in rs if r["feasible"] and r["gap_pct"] is not None]
        mean = f"{statistics.fmean(gaps):.2f}" if gaps else "—"
        worst = f"{max(gaps):.2f}" if gaps else "—"
        wall = statistics.fmean(float(r["wall_s"]) for r in rs)
        timed = [r for r in rs if r.get("cpu_s") not in (None, "")]
        share = (
            f"{sum(float(r['cpu_s']) for r in timed) / sum(float(r['wall_s']) * int(r['cores_used']) for r in timed):.0%}"
            if timed
            else "—"
        )
        label = f"**{fam}**" if fam in ("CVRP", "VRPTW", "2E") else fam
        lines.append(
            f"| {label} | {solver} | {budget:g} | {mean} | {worst} | "
            f"{len(gaps)}/{len(rs)} | {wall:.1f} | {share} |"
        )
    return "\n".join(lines)


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if "model name" in line)
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def versions(dists: Sequence[str]) -> list[str]:
    """``"name version"`` of each distribution, or ``"name (not installed)"``."""
    out = []
    for dist in dists:
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist} (not installed)")
    return out


def machine_info() -> str:
    """CPU, cores and library versions, for the table's caption."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, load average {load}, "
        f"Python {platform.python_version()}; "
        + ", ".join(versions(("ortools", "pyvrp", "pyvroom", "vrplib")))
    )


def _fmt(row: dict[str, Any]) -> str:
    gap = "infeasible" if row["gap_pct"] is None else f"gap {row['gap_pct']:.2f} %"
    return (
        f"{row['instance']:<11} {row['solver']:<13} {row['budget_s']:>5g} s  {gap:<14} "
        f"wall {row['wall_s']:.1f} s  {row['backend']}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__)
    parser.add_argument("--budget", type=float, action="append", help="seconds (repeatable)")
    parser.add_argument("--peers", action="store_true", help="also run " + ", ".join(PEERS))
    parser.add_argument("--instance", action="append", help="name from bks.csv (repeatable)")
    parser.add_argument("--solver", action="append", choices=sorted(SOLVERS), help="repeatable")
    parser.add_argument("--instances-dir", type=Path, default=INSTANCES_DIR)
    parser.add_argument("--out", type=Path, help="CSV path (default results/quality-<date>.csv)")
    parser.add_argument("--summarize", type=Path, nargs="+", help="print the table of CSVs")
    parser.add_argument(
        "--family",
        choices=("vrp", "2e"),
        default="vrp",
        help="vrp: the CVRP/VRPTW instances (default); 2e: the two-echelon Set 2 instances",
    )
    args = parser.parse_args(argv)
    print(f"machine: {machine_info()}")
    if args.summarize:
        print(summarize([r for p in args.summarize for r in read_csv(p)]))
        return 0
    # --peers adds the peers to the named solvers (default: countyroute)
    solvers = list(
        dict.fromkeys([*(args.solver or ["countyroute"]), *(PEERS if args.peers else ())])
    )
    budgets = args.budget or [5.0]
    if any(not math.isfinite(b) or b <= 0 for b in budgets):
        parser.error("--budget must be a positive number of seconds")
    if args.family == "2e":
        try:
            rows = run_quality_2e(
                args.instance, budgets, progress=lambda r: print(_fmt(r), flush=True)
            )
        except (ValueError, FileNotFoundError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        out = args.out or RESULTS_DIR / f"quality-2e-{dt.date.today().isoformat()}.csv"
        write_csv(rows, out)
        print(f"\nrows: {out}\n")
        print(summarize(rows))
        return 0
    try:
        rows = run_quality(
            args.instance,
            budgets,
            solvers,
            directory=args.instances_dir,
            progress=lambda r: print(_fmt(r), flush=True),
        )
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = args.out or RESULTS_DIR / f"quality-{dt.date.today().isoformat()}.csv"
    write_csv(rows, out)
    print(f"\nrows: {out}\n")
    print(summarize(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
