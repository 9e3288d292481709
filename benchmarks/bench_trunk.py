"""Benchmarks of the trunk tier: the morning down wave (hub → stations) and the afternoon up
wave (stations and bulk shippers → hub), solved by the planner's default tier solver (PyVRP
models these pure-delivery and pure-pickup waves exactly; OR-Tools checks and polishes its
routes). Under a solution limit that is a fixed number of PyVRP iterations, then
``limit // 100`` (at least one) OR-Tools solutions.

The problems are the ones a captured day solved (see ``conftest.py``): built outside the timed
part, each search bounded by a solution limit, so the work is fixed and the solution is the
one in that day's checked plan (asserted).
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.ladder import CapturedDay, default_solve, same_solution

WAVES = ["trunk-down", "trunk-up"]


def solve_wave(benchmark: Any, captured: CapturedDay, wave: str, rounds: int) -> None:
    solved = captured.tier(wave)
    assert solved, f"the captured day of {captured.instance.name} has no {wave} wave"
    for problem, settings, expected in solved[1:]:  # more than one hub: untimed, still checked
        assert same_solution(default_solve(problem, settings), expected)
    problem, settings, expected = solved[0]
    solution = benchmark.pedantic(
        default_solve, args=(problem, settings), rounds=rounds, iterations=1
    )
    benchmark.extra_info.update(
        nodes=len(problem.nodes), vehicles=len(problem.vehicles), solutions=settings.work
    )
    assert same_solution(solution, expected)


@pytest.mark.parametrize("wave", WAVES)
def test_trunk_wave_of_yanshi(benchmark: Any, yanshi_captured: CapturedDay, wave: str) -> None:
    """The reference county: one hub, nine stations (split loads), four bulk shippers."""
    solve_wave(benchmark, yanshi_captured, wave, rounds=5)


@pytest.mark.parametrize("wave", WAVES)
def test_trunk_wave_of_ladder(benchmark: Any, ladder_captured: CapturedDay, wave: str) -> None:
    """A ladder step: 77 stations at 1,000 points, 385 at 5,000."""
    solve_wave(benchmark, ladder_captured, wave, rounds=3)
