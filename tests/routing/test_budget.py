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


def test_a_round_gets_its_share_of_a_search_and_the_rounds_add_up() -> None:
    """A round of a village-run search gets its share of the search's work (at least
    MIN_WORK) and of its time, the clock's safety net (wall_cap × share + slack) scaled with
    the share and the slack kept; the rounds of a search add up to its work (each rounded); an explicit
    work (the benchmarks') is every search's, in rounds too."""
    from routing.budget import CAP_SLACK_S, MIN_WORK, ROUNDS

    rated = DayBudget(time_limit_s=20, work_per_s=90)
    whole = rated.last_mile([100, 10])
    assert sum(ROUNDS) == 1.0
    big, small = whole
    parts = [rated.part(big, share) for share in ROUNDS]
    assert abs(sum(p.work or 0 for p in parts) - (big.work or 0)) < len(ROUNDS)  # rounding
    assert [p.time_limit_s - CAP_SLACK_S for p in parts] == [
        (big.time_limit_s - CAP_SLACK_S) * share for share in ROUNDS
    ]
    assert rated.part(small, ROUNDS[0]).work == MIN_WORK
    assert rated.part(big, 1.0) is big
    fixed = DayBudget(time_limit_s=20, work=100)
    assert fixed.part(fixed.last_mile([100])[0], 0.25).work == 100
