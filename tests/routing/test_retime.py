"""routing.retime: a route re-timed from its stop order, as a dispatcher's edit needs it."""

from __future__ import annotations

from dataclasses import replace

from routing import DayInput, SolveSettings, plan_day
from routing.check import check_plan
from routing.plan import StopKind, Tier
from routing.problem import TierProblem, TierSolution
from routing.retime import retime
from routing.solvers import solve_ortools
from scenarios.bundle import Scenario


def bounded_solve(problem: TierProblem, settings: SolveSettings) -> TierSolution:
    return solve_ortools(problem, replace(settings, work=20, time_limit_s=5.0))


def test_an_untouched_village_run_keeps_its_distance_loads_and_order(tiny: Scenario) -> None:
    day = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")
    plan = plan_day(day, time_limit_s=1.0, solve=bounded_solve)
    vehicles = {v.id: v for v in day.fleet}
    run = plan.routes_of(Tier.LAST_MILE)[0]
    again = retime(run, day, vehicles[run.vehicle])
    assert again.distance_m == run.distance_m
    assert [s.site for s in again.stops] == [s.site for s in run.stops]
    assert [s.load_after for s in again.stops] == [s.load_after for s in run.stops]
    visits = [s for s in again.stops if s.kind is StopKind.VISIT]
    assert all(s.arrival_s <= s.start_s <= s.departure_s for s in visits)
    edited = replace(plan, routes=tuple(again if r is run else r for r in plan.routes))
    assert check_plan(edited, day.network, day.fleet, day.policy, day.orders).ok


def test_a_later_start_moves_every_stop_later(tiny: Scenario) -> None:
    day = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")
    plan = plan_day(day, time_limit_s=1.0, solve=bounded_solve)
    vehicles = {v.id: v for v in day.fleet}
    run = plan.routes_of(Tier.LAST_MILE)[0]
    first = run.stops[0]
    late = replace(
        run, stops=(replace(first, departure_s=first.departure_s + 3600), *run.stops[1:])
    )
    again = retime(late, day, vehicles[run.vehicle])
    for before, after in zip(
        retime(run, day, vehicles[run.vehicle]).stops[1:], again.stops[1:], strict=True
    ):
        assert after.arrival_s == before.arrival_s + 3600
