"""Options of the day plan: determinism, dispatcher pins, yesterday's assignment, progress."""

from __future__ import annotations

from dataclasses import replace

from routing import DayInput, plan_day
from routing.check import check_plan
from routing.day import assignment
from routing.plan import Plan, plan_to_dict
from routing.state import DayState, same_problem
from scenarios.bundle import Scenario


def tiny_day(tiny: Scenario) -> DayInput:
    return DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")


def assert_checked(plan_: Plan, day: DayInput) -> None:
    report = check_plan(plan_, day.network, day.fleet, day.policy, day.orders)
    assert report.ok, [str(v) for v in report.violations]


def test_a_work_budget_makes_the_plan_deterministic(tiny: Scenario) -> None:
    day = tiny_day(tiny)
    first = plan_day(day, time_limit_s=20, work=20)
    again = plan_day(day, time_limit_s=20, work=20)
    assert first.routes == again.routes and first.deferred == again.deferred
    assert_checked(first, day)


def test_a_pinned_village_is_served_by_its_vehicle(tiny: Scenario) -> None:
    day = tiny_day(tiny)
    free = assignment(plan_day(day, time_limit_s=1))
    other = "van1" if free.get("v1") == "tri1" else "tri1"
    pinned = plan_day(day, time_limit_s=1, pins={"v1": other})
    assert assignment(pinned)["v1"] == other
    assert_checked(pinned, day)


def test_yesterdays_assignment_is_kept_unless_the_saving_beats_the_threshold(
    tiny: Scenario,
) -> None:
    day = tiny_day(tiny)
    yesterday = plan_day(day, time_limit_s=1, pins={"v1": "van1", "v2": "van1"})
    assert assignment(yesterday)["v1"] == "van1"
    # a threshold no saving can beat: the assignment stays
    loyal = replace(day, policy=replace(day.policy, stability_threshold=1.0))
    lines: list[str] = []
    kept = plan_day(loyal, time_limit_s=1, previous=yesterday, progress=lines.append)
    assert assignment(kept)["v1"] == "van1"
    assert assignment(kept)["v2"] == "van1"
    assert any("kept yesterday's assignment" in line for line in lines)
    assert_checked(kept, loyal)


def test_progress_reports_each_phase(tiny: Scenario) -> None:
    lines: list[str] = []
    plan_day(tiny_day(tiny), time_limit_s=0.5, progress=lines.append)
    assert [line.split(":")[0].split(",")[0] for line in lines[:1]] == ["trunk"]
    assert any(line.startswith("village runs") for line in lines)
    assert any(line.startswith("trunk, up wave") for line in lines)


def test_cross_boundary_service_lets_the_nearer_station_serve_a_village(tiny: Scenario) -> None:
    """v1 lies next to station s1; filed under the far station s2 it is still served from
    s1 when the policy allows cross-boundary service, and the trunk brings its parcels to s1."""
    sites = tuple(replace(s, parent="s2") if s.id == "v1" else s for s in tiny.network.sites)
    network = replace(tiny.network, sites=sites)
    day = replace(tiny_day(tiny), network=network)
    own = plan_day(day, time_limit_s=1, work=50)
    assert next(r.home for r in own.routes for s in r.stops if s.site == "v1") == "s2"
    crossing = replace(day, policy=replace(day.policy, cross_boundary=True))
    plan_ = plan_day(crossing, time_limit_s=2, work=100)
    assert_checked(plan_, crossing)
    served_from = {r.home for r in plan_.routes for s in r.stops if s.site == "v1"}
    assert served_from == {"s1"}
    handed_over = {s.site for r in plan_.routes for s in r.stops if "o01" in s.drop}
    assert "s1" in handed_over


def test_a_county_with_several_hubs_collects_each_bulk_shipper_once() -> None:
    """Each hub's up wave collects only its own bulk shippers (a shipper in every hub's
    problem was served by one hub and deferred by another)."""
    from scenarios.demand import generate_demand
    from scenarios.synthetic import generate_synthetic

    sc = generate_synthetic(300, seed=3, n_hubs=2)
    orders = generate_demand(sc, "2026-12-01", 1)
    day = DayInput(sc.name, sc.network, sc.fleet, sc.policy, orders, "2026-12-01")
    plan_ = plan_day(day, time_limit_s=2, workers=2)
    assert_checked(plan_, day)


def test_by_default_the_same_inputs_give_the_same_plan_byte_for_byte(tiny: Scenario) -> None:
    """The policy's work budget stops every search (not the clock): two plans of the same day
    differ only in the time they took, and the plan records how to plan it again."""
    day = tiny.day("2026-12-01")
    assert day.policy.work_per_s > 0
    first, again = plan_day(day, workers=2), plan_day(day, workers=1)
    a, b = plan_to_dict(first), plan_to_dict(again)
    a.pop("solve_s"), b.pop("solve_s")
    a["settings"].pop("workers"), b["settings"].pop("workers")
    assert a == b
    settings = dict(first.settings)
    assert settings["seed"] == str(day.policy.seed)
    assert settings["work_per_s"] == str(day.policy.work_per_s)
    assert settings["wall_capped"] == "0"
    assert "ortools" in settings["versions"] and "pyvrp" in settings["versions"]


def test_the_clock_can_still_stop_the_searches(tiny: Scenario) -> None:
    """``work_per_s = 0``: the searches stop at their share of the time (not repeatable)."""
    day = tiny.day("2026-12-01", policy=replace(tiny.policy, work_per_s=0))
    plan = plan_day(day, time_limit_s=1)
    assert float(dict(plan.settings)["work_per_s"]) == 0
    assert check_plan(plan, day.network, day.fleet, day.policy, day.orders).ok


def test_more_budget_than_the_policys_buys_passes_that_never_make_the_plan_dearer(
    tiny: Scenario,
) -> None:
    """Budgets above the policy's plan the day with the policy's budget, then improvement
    passes (a quarter of it each): the cost never rises with the budget, the first plan is
    the policy's own, and the plan records the passes and the budget it was given."""
    from routing.crossing import plan_cost

    for pooled in (False, True):  # pooled: even passes search the assignment again
        policy = replace(tiny.policy, time_limit_s=0.4, cross_boundary=pooled)
        day = tiny.day("2026-12-01", policy=policy)
        price = policy.deferral_cost_per_parcel
        base = plan_day(day)
        costs = [plan_cost(base, day.orders, price)]
        for budget, passes in ((0.45, 0), (0.6, 2), (0.8, 4), (1.2, 8)):
            plan_ = plan_day(day, time_limit_s=budget)
            assert_checked(plan_, day)
            settings = dict(plan_.settings)
            assert settings["passes"] == str(passes)
            assert settings["time_limit_s"] == str(budget)
            assert settings["seed"] == str(policy.seed)
            assert ("cross_boundary" in settings) is pooled
            costs.append(plan_cost(plan_, day.orders, price))
            if settings["passes_kept"] == "0":
                assert plan_.routes == base.routes
        assert costs == sorted(costs, reverse=True), (pooled, costs)
        assert "passes" not in dict(base.settings)


def test_a_budget_below_the_policys_buys_rounds_that_never_make_the_plan_dearer(
    tiny: Scenario,
) -> None:
    """Below the policy's budget a budget buys rounds of the village-run searches (the trunk
    gets the policy's work whatever the budget): a quarter of the policy's budget or less
    buys the first, half of it two, all of it three; the cost never rises with the budget,
    the same rounds give the same plan, and the plan records the budget it was given and
    its rounds. A day with cross-boundary service searches its pooled day only from the
    policy's budget up (its joint search gets the policy's work: below, it would take
    several times the budget); below, the plan is the tied day and says so, also in its
    summary."""
    from routing.crossing import plan_cost

    for pooled in (False, True):
        policy = replace(tiny.policy, time_limit_s=0.4, cross_boundary=pooled)
        day = tiny.day("2026-12-01", policy=policy)
        price = policy.deferral_cost_per_parcel
        costs, plans = [], {}
        for budget, rounds in ((0.01, 1), (0.1, 1), (0.2, 2), (0.3, 2), (0.4, 3), (0.5, 3)):
            plan_ = plan_day(day, time_limit_s=budget)
            assert_checked(plan_, day)
            settings = dict(plan_.settings)
            if budget != policy.time_limit_s:  # the policy's own budget is not restated
                assert settings["rounds"] == str(rounds), (pooled, budget)
                assert settings["time_limit_s"] == str(budget)
            if pooled:  # below the policy's budget the tied day alone, and the plan says so
                below = budget < policy.time_limit_s
                assert ("cross_boundary_skipped" in settings) is below, budget
                assert ("cross_boundary" in settings) is not below, budget
            costs.append(plan_cost(plan_, day.orders, price))
            plans[budget] = plan_
        assert costs == sorted(costs, reverse=True), (pooled, costs)
        if pooled:
            from routing.present.outputs import _kpis, _summary_md

            for lang, said in (("en", "below the policy's"), ("zh", "低于策略预算")):
                text = _summary_md(plans[0.1], day, _kpis(plans[0.1], day), lang)
                assert said in text and "0.1 < 0.4 s" in text, lang
        assert plans[0.01].routes == plans[0.1].routes  # one round each
        assert plans[0.2].routes == plans[0.3].routes  # two rounds each


def test_each_round_goes_on_from_the_cheapest_runs_and_no_station_gets_dearer(
    tiny: Scenario,
) -> None:
    """The rounds of a station's village-run search: the first round's answer does not depend
    on how many rounds run, a later round's search starts from the runs so far, and a station's
    runs after three rounds cost no more than after one (the same problem: the trunk had the
    same work)."""
    from routing.day import _plan_day

    day = tiny_day(tiny)
    states = {}
    for rounds in ((0.25,), (0.25, 0.25, 0.5)):
        _, states[rounds] = _plan_day(
            day, 0.4, rounds=rounds, workers=1, solve=None, work=None, previous=None,
            pins=None, progress=None, stage=None,
        )  # fmt: skip
    one, three = states[(0.25,)], states[(0.25, 0.25, 0.5)]
    assert one.runs
    for station, (built, sol) in one.runs.items():
        built3, sol3 = three.runs[station]
        assert same_problem(built, built3), station
        assert sol3.objective <= sol.objective, station
        first, first3 = one.first_runs[station][1], three.first_runs[station][1]
        assert (first.routes, first.objective) == (first3.routes, first3.objective), station


def test_an_improvement_pass_starts_each_station_from_the_best_day(tiny: Scenario) -> None:
    """A pass over a day planned with little work: each station's search starts from that
    day's runs (a search handed a start returns nothing worse than the start polished), so
    no station's runs get dearer."""
    from routing.day import _plan_day, improvement_pass

    day = tiny_day(tiny)

    def once(
        d: DayInput, seconds: float, assigned: DayState | None = None, tied: DayState | None = None
    ) -> tuple[Plan, DayState]:
        return _plan_day(d, seconds, workers=1, solve=None, work=None, previous=None,
                         pins=None, progress=None, stage=None, assigned=assigned, tied=tied)  # fmt: skip

    _, state = once(replace(day, policy=replace(day.policy, work_per_s=30)), 1.0)
    again, again_state = improvement_pass(state, 1, 1.0, once, day.policy.seed)
    assert_checked(again, day)
    assert again_state.day.policy.seed == day.policy.seed + 1
    compared = 0
    for station, (built, sol) in state.runs.items():
        built_again, sol_again = again_state.runs[station]
        assert built_again.problem.initial_routes  # started from the first day's runs
        unstarted = replace(built_again, problem=replace(built_again.problem, initial_routes=()))
        if same_problem(built, unstarted):  # the trunk arrived as before
            assert sol_again.objective <= sol.objective, station
            compared += 1
    assert compared
