"""Benchmarks of the independent checker (``routing.check.check_plan``) on checked plans.

*Warm*: the network's travel matrices are already cached (the checker right after the
planner, in the same process). *Cold*: a network with nothing cached (``countyroute check
PLAN`` on a plan edited by hand): the checker computes its matrices inside the timed part.
The plans are captured days (``conftest.py``), built outside the timed part.
"""

from __future__ import annotations

from typing import Any

from benchmarks.ladder import CapturedDay, check, fresh_network
from routing.check import CheckReport


def warm(benchmark: Any, captured: CapturedDay, rounds: int) -> None:
    inst = captured.instance
    report = benchmark.pedantic(check, args=(inst, captured.plan), rounds=rounds, iterations=1)
    assert report == captured.report


def cold(benchmark: Any, captured: CapturedDay, rounds: int) -> None:
    inst = captured.instance

    def fresh() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (inst, captured.plan, fresh_network(inst.scenario.network)), {}

    report: CheckReport = benchmark.pedantic(check, setup=fresh, rounds=rounds, iterations=1)
    benchmark.extra_info.update(
        routes=len(captured.plan.routes), sites=len(inst.scenario.network.sites)
    )
    assert report == captured.report


def test_check_yanshi_plan_warm(benchmark: Any, yanshi_captured: CapturedDay) -> None:
    """The reference day's plan, matrices cached."""
    warm(benchmark, yanshi_captured, rounds=10)


def test_check_yanshi_plan_cold(benchmark: Any, yanshi_captured: CapturedDay) -> None:
    """The reference day's plan on a network with nothing cached."""
    cold(benchmark, yanshi_captured, rounds=5)


def test_check_ladder_plan_warm(benchmark: Any, ladder_captured: CapturedDay) -> None:
    """A ladder step's plan, matrices cached."""
    warm(benchmark, ladder_captured, rounds=3)


def test_check_ladder_plan_cold(benchmark: Any, ladder_captured: CapturedDay) -> None:
    """A ladder step's plan on a network with nothing cached."""
    cold(benchmark, ladder_captured, rounds=1)
