"""Cross-boundary service: the pooled day is never above the tied one, a village moves to a
nearer station only when that saves, and the plan says which plan it kept and what moved."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from routing import DayInput, plan_day
from routing.budget import DayBudget
from routing.build import deadlines
from routing.check import check_plan
from routing.crossing import assign_across_boundaries, plan_cost
from routing.day import apply_frequency, last_mile_problems, started_from
from routing.plan import Crossing, Plan, dumps, plan_from_dict
from routing.state import DayState
from scenarios.bundle import Scenario
from scenarios.demand import generate_demand
from scenarios.synthetic import generate_synthetic


def tiny_day(tiny: Scenario) -> DayInput:
    return DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")


def assert_checked(plan_: Plan, day: DayInput) -> None:
    report = check_plan(plan_, day.network, day.fleet, day.policy, day.orders)
    assert report.ok, [str(v) for v in report.violations]


def crossing(day: DayInput, on: bool = True) -> DayInput:
    return replace(day, policy=replace(day.policy, cross_boundary=on))


def v1_filed_under_s2(tiny: Scenario) -> DayInput:
    """The tiny county with village v1 (next to station s1) filed under the far station s2."""
    sites = tuple(replace(s, parent="s2") if s.id == "v1" else s for s in tiny.network.sites)
    return replace(tiny_day(tiny), network=replace(tiny.network, sites=sites))


def settings(plan_: Plan) -> dict[str, str]:
    return dict(plan_.settings)


def test_a_village_nearer_another_station_moves_when_that_saves(tiny: Scenario) -> None:
    day = crossing(v1_filed_under_s2(tiny))
    tied = plan_day(crossing(day, False), time_limit_s=2, work=100)
    pooled = plan_day(day, time_limit_s=2, work=100)
    assert_checked(pooled, day)
    assert settings(pooled)["cross_boundary"] == "pooled"
    moved = [c for c in pooled.crossings if c.site == "v1"]
    assert [(c.own, c.served_by) for c in moved] == [("s2", "s1")]
    assert isinstance(moved[0], Crossing)
    saved = float(settings(pooled)["cross_boundary_saving_yuan"])
    assert saved > 0
    assert plan_cost(pooled, day.orders, day.policy.deferral_cost_per_parcel) == pytest.approx(
        plan_cost(tied, day.orders, day.policy.deferral_cost_per_parcel) - saved, abs=0.02
    )
    # the crossings survive plan.json
    assert plan_from_dict(json.loads(dumps(pooled))).crossings == pooled.crossings


def test_a_village_nearer_another_station_stays_when_moving_does_not_save(
    tiny: Scenario,
) -> None:
    """Station s1's vehicles made dear (100 yuan a km): serving v1 from there costs more than
    the long run from s2, so v1 stays with s2 and the plan is not above the tied one."""
    day = crossing(v1_filed_under_s2(tiny))
    dear = tuple(replace(v, cost_per_km=100.0) if v.home == "s1" else v for v in day.fleet)
    day = replace(day, fleet=dear)
    tied = plan_day(crossing(day, False), time_limit_s=2, work=100)
    pooled = plan_day(day, time_limit_s=2, work=100)
    assert_checked(pooled, day)
    assert {r.home for r in pooled.routes for s in r.stops if s.site == "v1"} == {"s2"}
    assert not any(c.site == "v1" for c in pooled.crossings)
    price = day.policy.deferral_cost_per_parcel
    assert plan_cost(pooled, day.orders, price) <= plan_cost(tied, day.orders, price)


@pytest.mark.parametrize(("seed", "scale"), [(1, 1.0), (2, 2.5)])
def test_pooled_day_is_never_above_the_tied_day(seed: int, scale: float) -> None:
    """Generated counties (seeded), demand ×1 and ×2.5, a fixed work budget: the same inputs
    planned with every village tied to its station and with cross-boundary service."""
    sc = generate_synthetic(60, seed=seed)
    orders = generate_demand(sc, "2026-12-01", seed)
    if scale != 1.0:
        extra = generate_demand(sc, "2026-12-02", seed + 100)
        more = tuple(replace(o, id=f"{o.id}-b") for o in extra)
        orders = orders + more[: round(len(more) * (scale - 1))]
    day = DayInput(sc.name, sc.network, sc.fleet, sc.policy, orders, "2026-12-01")
    tied = plan_day(crossing(day, False), time_limit_s=30, work=30)
    pooled = plan_day(crossing(day), time_limit_s=30, work=30)
    assert_checked(pooled, crossing(day))
    price = day.policy.deferral_cost_per_parcel
    assert plan_cost(pooled, orders, price) <= plan_cost(tied, orders, price) + 1e-6
    assert settings(pooled)["cross_boundary"] in {"tied", "pooled"}
    assert float(settings(pooled)["cross_boundary_tied_yuan"]) == pytest.approx(
        plan_cost(tied, orders, price), abs=0.01
    )


def test_the_joint_search_starts_from_the_stations_own_plans() -> None:
    """The joint problem is made of the stations' own nodes, so OR-Tools accepts their plans
    as its start and the joint answer is never above their sum (issue 16: the start was
    rejected when the joint model cut orders into other chunks)."""
    sc = generate_synthetic(60, seed=1)
    orders = generate_demand(sc, "2026-12-01", 1)
    day = crossing(DayInput(sc.name, sc.network, sc.fleet, sc.policy, orders, "2026-12-01"))
    state = DayState(day, DayBudget(30.0, 20, 0, 1))
    choices = assign_across_boundaries(state, apply_frequency(state), deadlines(day))
    assert choices
    for c in choices:
        assert c.tied_cost is not None and c.joint_cost is not None
        assert c.joint_cost <= c.tied_cost
        assert c.kept_joint == (c.joint_cost < c.tied_cost)
        assert (c.moved_orders > 0) <= c.kept_joint


def test_the_final_station_searches_start_where_the_joint_search_ended() -> None:
    """After the joint search, every station's village runs start from its routes there (the
    joint answer's, or the stations' own plans when those were kept): each start uses the
    station's own vehicles, and the station's final problem carries it (keys it has)."""
    sc = generate_synthetic(60, seed=1)
    orders = generate_demand(sc, "2026-12-01", 1)
    day = crossing(DayInput(sc.name, sc.network, sc.fleet, sc.policy, orders, "2026-12-01"))
    state = DayState(day, DayBudget(30.0, 20, 0, 1))
    visited = apply_frequency(state)
    assign_across_boundaries(state, visited, deadlines(day))
    home = {v.id: v.home for v in day.fleet}
    assert state.starts
    for station, routes in state.starts.items():
        assert routes and all(home[vid] == station for vid, _ in routes)
    problems = last_mile_problems(state, visited, {}, deadlines(day))
    started = [started_from(b, state.starts) for b in problems]
    assert any(b.problem.initial_routes for b in started)
    for b in started:
        keys = {n.key for n in b.problem.nodes}
        assert all(k in keys for _, trips in b.problem.initial_routes for t in trips for k in t)
        if b.problem.sites[0] not in state.starts:
            assert not b.problem.initial_routes
