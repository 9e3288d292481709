"""The day's search budget (routing.budget): a budget built directly and one taken from a
policy give the same safety net."""

from __future__ import annotations

from routing.budget import DayBudget
from routing.model import Policy


def test_a_budget_built_directly_has_the_policys_safety_net() -> None:
    """Benchmarks and tests build DayBudget(...) without a policy: under a work rate their
    searches must be stopped by the clock where a planned day's would be (wall_cap × share
    + slack), not at a laxer cap of their own."""
    policy = Policy()
    direct = DayBudget(time_limit_s=10, workers=2, work_per_s=policy.work_per_s)
    planned = DayBudget.of(policy, time_limit_s=10, workers=2)
    assert direct.wall_cap == policy.wall_cap
    assert direct.last_mile([30, 10]) == planned.last_mile([30, 10])
    assert direct.trunk() == planned.trunk()
