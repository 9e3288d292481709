"""Repair: events during the day re-plan only what is not finished.

Every repaired plan goes through the independent checker (legs driven before the repair are
measured on the network as it was then)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from networks import InvalidScenario
from routing import DayInput, plan_day
from routing.check import check_plan
from routing.model import Direction, Order
from routing.plan import Plan, StopKind, Tier
from routing.repair import (
    RoadClosed,
    TrunkLate,
    UrgentPickup,
    VehicleDown,
    load_events,
    replan,
)
from scenarios.bundle import load_bundle
from scenarios.demand import generate_demand

AT = 11 * 3600


@pytest.fixture(scope="module")
def county() -> Iterator[tuple[DayInput, Plan]]:
    """The built-in county on one generated day, planned with a short budget."""
    sc = load_bundle("yanshi")
    orders = generate_demand(sc, "2026-12-01", 7)
    day = DayInput(sc.name, sc.network, sc.fleet, sc.policy, orders, "2026-12-01")
    yield day, plan_day(day, time_limit_s=2, workers=2)


def busiest_run_under_way(plan: Plan) -> str:
    """A village run that has started but not finished at AT."""
    runs = [
        r
        for r in plan.routes_of(Tier.LAST_MILE)
        if r.stops[0].departure_s <= AT < r.stops[-1].arrival_s
    ]
    return max(runs, key=lambda r: len(r.stops)).vehicle


def assert_finished_stops_kept(before: Plan, after: Plan) -> None:
    old = {(r.vehicle, r.tier): r for r in before.routes}
    for r in after.routes:
        o = old.get((r.vehicle, r.tier))
        if o is None:
            continue
        done = [s for s in o.stops if s.start_s <= AT]
        kept = r.stops[: len(done)]
        # a finished return becomes a reload when the vehicle is sent out again
        assert [(s.site, s.arrival_s, s.drop, s.collect) for s in kept] == [
            (s.site, s.arrival_s, s.drop, s.collect) for s in done
        ], r.vehicle


def check(after: Plan, new_day: DayInput, before_day: DayInput) -> None:
    report = check_plan(
        after,
        new_day.network,
        new_day.fleet,
        new_day.policy,
        new_day.orders,
        earlier=(AT, before_day.network),
    )
    assert report.ok, [str(v) for v in report.violations[:10]]


def test_a_van_breaking_down_ends_its_route_and_others_take_its_work(
    county: tuple[DayInput, Plan],
) -> None:
    day, plan = county
    victim = busiest_run_under_way(plan)
    after, new_day = replan(plan, day, [VehicleDown(victim)], at_s=AT, time_limit_s=2)
    check(after, new_day, day)
    assert_finished_stops_kept(plan, after)
    route = next(r for r in after.routes if r.vehicle == victim and r.tier is Tier.LAST_MILE)
    assert route.stops[-1].kind is StopKind.HALT
    assert all(s.start_s <= AT or s.kind is StopKind.HALT for s in route.stops)
    # what it still had to drop is dropped by someone else or deferred with a reason
    old = next(r for r in plan.routes if r.vehicle == victim and r.tier is Tier.LAST_MILE)
    left = {o for s in old.stops if s.start_s > AT for o in s.drop}
    served = {o for r in after.routes if r.vehicle != victim for s in r.stops for o in s.drop}
    deferred = {d.order for d in after.deferred}
    assert left and left <= served | deferred


def test_a_late_trunk_delays_the_runs_it_feeds(county: tuple[DayInput, Plan]) -> None:
    day, plan = county
    late_at = 8 * 3600 + 5 * 60  # early enough that the trucks are still on the road
    truck = max(plan.routes_of(Tier.TRUNK_DOWN), key=lambda r: r.stops[-1].arrival_s).vehicle
    after, new_day = replan(plan, day, [TrunkLate(truck, 40 * 60)], at_s=late_at, time_limit_s=2)
    report = check_plan(after, new_day.network, new_day.fleet, new_day.policy, new_day.orders)
    assert report.ok, [str(v) for v in report.violations[:10]]
    old = next(r for r in plan.routes if r.vehicle == truck and r.tier is Tier.TRUNK_DOWN)
    new = next(r for r in after.routes if r.vehicle == truck and r.tier is Tier.TRUNK_DOWN)
    for a, b in zip(old.stops, new.stops, strict=True):
        assert b.start_s == a.start_s + (40 * 60 if a.start_s > late_at else 0)


def test_an_urgent_pickup_is_collected_or_deferred_with_a_reason(
    county: tuple[DayInput, Plan],
) -> None:
    day, plan = county
    point = day.network.village_points[10].id
    urgent = Order("urgent-1", "zto", Direction.UP, point, 8.0, 0.04, 2, priority=2)
    after, new_day = replan(plan, day, [UrgentPickup(urgent)], at_s=AT, time_limit_s=2)
    check(after, new_day, day)
    collected = [s for r in after.routes for s in r.stops if "urgent-1" in s.collect]
    deferred = [d for d in after.deferred if d.order == "urgent-1"]
    assert len(collected) + len(deferred) >= 1
    if collected:  # collected at the village, then carried up by a truck
        assert {s.site for s in collected} >= {point}


def test_a_closed_road_is_not_driven_after_it_closed(county: tuple[DayInput, Plan]) -> None:
    day, plan = county
    # close a road that the plan drives on after AT: the lane leading to a village visited later
    later = [
        s.site
        for r in plan.routes_of(Tier.LAST_MILE)
        for s in r.stops
        if s.kind is StopKind.VISIT and s.start_s > AT
    ]
    snap = day.network.road_index.snaps[later[0]]
    after, new_day = replan(plan, day, [RoadClosed(snap.road_id)], at_s=AT, time_limit_s=2)
    check(after, new_day, day)  # the checker measures later legs on the closed network


def test_events_file_errors_name_the_event_and_field(tmp_path: Path) -> None:
    path = tmp_path / "events.json"
    path.write_text(json.dumps({"at": "11:00", "events": [{"type": "trunk_late", "vehicle": "t"}]}))
    with pytest.raises(InvalidScenario, match=r"events.json, event 0, field 'delay_min'"):
        load_events(path)
    path.write_text(json.dumps({"at": "25:99", "events": []}))
    with pytest.raises(InvalidScenario, match="field 'at'"):
        load_events(path)


def test_an_unknown_vehicle_in_an_event_is_an_error(county: tuple[DayInput, Plan]) -> None:
    day, plan = county
    with pytest.raises(InvalidScenario, match="unknown vehicle 'nope'"):
        replan(plan, day, [VehicleDown("nope")], at_s=AT)
