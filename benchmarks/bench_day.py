"""Benchmarks of the whole day: orders to a checked plan across the three tiers.

* **The reference day end to end** (issue 3's target: ≤ 5 s here): load the built-in county
  with the day's orders CSV, plan at the policy's default time limit on two workers, check.
  A time limit fixes the *time* the searches take, not their work; the amount of search
  done varies with the machine's load.
* **The reference day, fixed work**: every search stopped by a solution limit (deterministic:
  the plan equals the captured one), on a network with nothing cached.
* **The size ladder** (issue 4: 1,000 / 5,000 village points, ≤ 30 s / ≤ 120 s, ≤ 4 GiB):
  plan at the default time limit and check, on a network with nothing cached (matrices are
  part of the day). Peak memory here is the pytest process's, fixtures included; the clean
  per-stage figures come from ``python -m benchmarks.ladder``.

Every plan goes through the checker (asserted outside the timed part); targets are recorded
in ``extra_info``, not asserted (the machine is shared).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.ladder import (
    CAPTURE_BUDGET_S,
    DATE,
    SOLUTIONS,
    WORKERS,
    CapturedDay,
    Instance,
    PeakMemory,
    assert_checked,
    check,
    deferred_parcels,
    fresh_network,
)
from networks import Network
from routing import plan_day
from routing.check import CheckReport
from routing.plan import Plan
from scenarios.bundle import load_bundle

LADDER_TARGET_S = {1000: 30.0, 5000: 120.0}
MEMORY_TARGET_MIB = 4096


def record(
    benchmark: Any, inst: Instance, plan: Plan, report: CheckReport, peak_mib: float
) -> None:
    assert_checked(report, f"day of {inst.name}")
    benchmark.extra_info.update(
        routes=len(plan.routes),
        deferred_parcels=deferred_parcels(inst, plan),
        cost=report.cost,
        peak_rss_mib=round(peak_mib),
    )


@pytest.mark.heavy
def test_yanshi_day_end_to_end_at_the_default_limit(
    benchmark: Any, yanshi: Instance, yanshi_orders_csv: Path
) -> None:
    """Load, matrices, every tier at the default limit, check: the ≤ 5 s target."""
    memory = PeakMemory()

    def day() -> tuple[Instance, Plan, CheckReport]:
        memory.reset()
        sc = load_bundle("yanshi", orders=yanshi_orders_csv)
        inst = Instance("yanshi", sc, sc.orders)
        plan = plan_day(inst.day(), workers=WORKERS)
        return inst, plan, check(inst, plan)

    inst, plan, report = benchmark.pedantic(day, rounds=3, iterations=1)
    record(benchmark, inst, plan, report, memory.peak_mib())
    benchmark.extra_info.update(time_limit_s=inst.scenario.policy.time_limit_s, target_s=5.0)
    assert inst.orders == yanshi.orders


def test_yanshi_day_fixed_work(benchmark: Any, yanshi_captured: CapturedDay) -> None:
    """Every search stopped at its solution limit: the captured plan, on two workers."""
    inst = yanshi_captured.instance
    memory = PeakMemory()

    def fresh() -> tuple[tuple[Network], dict[str, Any]]:
        return (fresh_network(inst.scenario.network),), {}

    def day(network: Network) -> tuple[Plan, CheckReport]:
        memory.reset()
        plan = plan_day(
            inst.day(network),
            time_limit_s=CAPTURE_BUDGET_S,
            workers=WORKERS,
            work=SOLUTIONS,
        )
        return plan, check(inst, plan, network)

    plan, report = benchmark.pedantic(day, setup=fresh, rounds=3, iterations=1)
    record(benchmark, inst, plan, report, memory.peak_mib())
    benchmark.extra_info.update(solutions=SOLUTIONS)
    assert plan.routes == yanshi_captured.plan.routes
    assert plan.deferred == yanshi_captured.plan.deferred


@pytest.mark.heavy
def test_ladder_day_at_the_default_limit(
    benchmark: Any, ladder: Instance, ladder_points: int
) -> None:
    """A ladder step's day at the default limit, matrices included, then checked."""
    memory = PeakMemory()

    def fresh() -> tuple[tuple[Network], dict[str, Any]]:
        return (fresh_network(ladder.scenario.network),), {}

    def day(network: Network) -> tuple[Plan, CheckReport]:
        memory.reset()
        plan = plan_day(ladder.day(network), workers=WORKERS)
        return plan, check(ladder, plan, network)

    plan, report = benchmark.pedantic(day, setup=fresh, rounds=1, iterations=1)
    record(benchmark, ladder, plan, report, memory.peak_mib())
    benchmark.extra_info.update(
        date=DATE,
        time_limit_s=ladder.scenario.policy.time_limit_s,
        target_s=LADDER_TARGET_S.get(ladder_points),
        memory_target_mib=MEMORY_TARGET_MIB,
    )
