"""Benchmarks of the quality path: one solve of C101 (Solomon VRPTW, 100 stops) per backend,
and X-n251-k28 (250 stops) on two cores.

The instance is read and turned into a ``TierProblem`` outside the timed part. The work is
fixed by a solution limit, not the clock, so what is measured is how long that amount of
search takes here; every result goes through the independent evaluator. Quality against the
best-known solutions is ``python -m benchmarks.quality`` (see ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.formats import (
    Instance,
    evaluate_routes,
    instance_to_problem,
    read_instance,
    solution_routes,
)
from benchmarks.quality import DEFAULT_SOLVE
from benchmarks.quality import INSTANCES_DIR as INSTANCES
from routing.problem import SolveStatus
from routing.solvers import Solver, SolveSettings, solve_hybrid


@pytest.fixture(scope="module")
def c101() -> Instance:
    """C101: clustered, tight windows; every backend finds a feasible plan quickly."""
    return read_instance(INSTANCES / "C101.txt")


def _bench(
    benchmark: Any,
    solve: Solver,
    inst: Instance,
    limit: int,
    time_limit_s: float = 60.0,
    cores: int = 1,
) -> None:
    problem = instance_to_problem(inst)
    settings = SolveSettings(time_limit_s=time_limit_s, work=limit, cores=cores)
    solution = benchmark.pedantic(solve, args=(problem, settings), rounds=3, iterations=1)
    assert solution.status is SolveStatus.FEASIBLE
    ev = evaluate_routes(inst, solution_routes(problem, solution))
    assert ev.feasible, ev.violations


def test_bench_default_solve_c101(benchmark: Any, c101: Instance) -> None:
    """The daily plan's default tier solver, 50 solutions."""
    _bench(benchmark, DEFAULT_SOLVE, c101, 50)


def test_bench_hybrid_c101(benchmark: Any, c101: Instance) -> None:
    """PyVRP 1,000 iterations, then OR-Tools' check and 10 solutions of polish."""
    _bench(benchmark, solve_hybrid, c101, 1000)


@pytest.mark.heavy
def test_bench_two_cores_x251(benchmark: Any) -> None:
    """X-n251-k28 on two cores with a 5 s budget's cut into parts: 4,000 iterations (1,600
    per seed, then four rounds of 600 per part), OR-Tools' check and 40 solutions."""
    inst = read_instance(INSTANCES / "X-n251-k28.vrp")
    _bench(benchmark, solve_hybrid, inst, 4000, time_limit_s=5.0, cores=2)
