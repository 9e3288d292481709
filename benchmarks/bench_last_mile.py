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

from benchmarks.ladder import WORKERS, CapturedDay, Solved, default_solve, same_solution
from routing.problem import TierSolution


def solve_all(solved: Sequence[Solved], workers: int = WORKERS) -> list[TierSolution]:
    """Every station's problem, under the settings it was captured with, on ``workers``
    processes, largest first."""
    order = sorted(range(len(solved)), key=lambda i: -len(solved[i].problem.nodes))
    with ProcessPoolExecutor(max_workers=min(workers, len(solved))) as pool:
        futures = {
            i: pool.submit(default_solve, solved[i].problem, solved[i].settings) for i in order
        }
        return [futures[i].result() for i in range(len(solved))]


def biggest_station(benchmark: Any, captured: CapturedDay, rounds: int) -> None:
    problem, settings, expected = max(
        captured.tier("last-mile"), key=lambda s: len(s.problem.nodes)
    )
    solution = benchmark.pedantic(
        default_solve, args=(problem, settings), rounds=rounds, iterations=1
    )
    benchmark.extra_info.update(
        station=problem.sites[0],
        nodes=len(problem.nodes),
        vehicles=len(problem.vehicles),
        solutions=settings.work,
    )
    assert same_solution(solution, expected)


def every_station(benchmark: Any, captured: CapturedDay, rounds: int) -> None:
    solved = captured.tier("last-mile")
    solutions = benchmark.pedantic(solve_all, args=(solved,), rounds=rounds, iterations=1)
    benchmark.extra_info.update(
        stations=len(solved), nodes=sum(len(s.problem.nodes) for s in solved), workers=WORKERS
    )
    assert all(same_solution(s, e.solution) for s, e in zip(solutions, solved, strict=True))


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
