"""Benchmarks of the last-mile tier: the stations' village runs (deliver and collect on the
same run, loads at every point, reloads, opening hours, vehicle access), solved by the
planner's default tier solver (PyVRP on an approximation — mixed loads, reloads — for 70 % of
the budget, then OR-Tools, which models all of it, from PyVRP's routes).

The problems are the ones a captured day solved (see ``conftest.py``): built outside the timed
part, each search bounded by a solution limit, so the work is fixed and every solution is the
one in that day's checked plan (asserted). Two cases per county: the biggest station alone,
and every station on two worker processes, largest first, as the planner runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from benchmarks.ladder import WORKERS, CapturedDay, default_solve, same_solution
from routing.problem import TierProblem, TierSolution


def solve_all(problems: Sequence[TierProblem], workers: int = WORKERS) -> list[TierSolution]:
    """Every station's problem on ``workers`` processes, largest first."""
    order = sorted(range(len(problems)), key=lambda i: -len(problems[i].nodes))
    with ProcessPoolExecutor(max_workers=min(workers, len(problems))) as pool:
        futures = {i: pool.submit(default_solve, problems[i]) for i in order}
        return [futures[i].result() for i in range(len(problems))]


def biggest_station(benchmark: Any, captured: CapturedDay, rounds: int) -> None:
    problem, expected = max(captured.tier("last-mile"), key=lambda ps: len(ps[0].nodes))
    solution = benchmark.pedantic(default_solve, args=(problem,), rounds=rounds, iterations=1)
    benchmark.extra_info.update(
        station=problem.sites[0],
        nodes=len(problem.nodes),
        vehicles=len(problem.vehicles),
        solutions=problem.solution_limit,
    )
    assert same_solution(solution, expected)


def every_station(benchmark: Any, captured: CapturedDay, rounds: int) -> None:
    solved = captured.tier("last-mile")
    problems = [p for p, _ in solved]
    solutions = benchmark.pedantic(solve_all, args=(problems,), rounds=rounds, iterations=1)
    benchmark.extra_info.update(
        stations=len(problems), nodes=sum(len(p.nodes) for p in problems), workers=WORKERS
    )
    assert all(same_solution(s, e) for s, (_, e) in zip(solutions, solved, strict=True))


def test_biggest_station_of_yanshi(benchmark: Any, yanshi_captured: CapturedDay) -> None:
    """The reference county's busiest station (about 60 stops, five vehicles)."""
    biggest_station(benchmark, yanshi_captured, rounds=3)


def test_every_station_of_yanshi(benchmark: Any, yanshi_captured: CapturedDay) -> None:
    """The reference county's nine stations on two workers."""
    every_station(benchmark, yanshi_captured, rounds=3)


def test_biggest_station_of_ladder(benchmark: Any, ladder_captured: CapturedDay) -> None:
    """A ladder step's busiest station."""
    biggest_station(benchmark, ladder_captured, rounds=3)


def test_every_station_of_ladder(benchmark: Any, ladder_captured: CapturedDay) -> None:
    """Every station of a ladder step on two workers."""
    every_station(benchmark, ladder_captured, rounds=1)
