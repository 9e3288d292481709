"""Shared fleets: pool vehicles assigned to stations within the pool's counts, the drive from
the hub priced, and the checker recomputing both."""

from __future__ import annotations

from dataclasses import replace

import pytest

from networks import InvalidScenario
from routing import DayInput, plan_day
from routing.build import station_of
from routing.check import check_plan
from routing.plan import Plan, Tier
from routing.pools import Pool, assign_pools, reposition
from scenarios.bundle import Scenario


def pooled_day(tiny: Scenario, total: int = 1, per_station: int = 1) -> DayInput:
    """The tiny county with village v1 filed under station s2 (its only village with work
    today), s2's own van taken away and two vans at the hub shared by both stations: v1 can
    only be served by a pool van working from s2."""
    sites = tuple(replace(s, parent="s2") if s.id == "v1" else s for s in tiny.network.sites)
    network = replace(tiny.network, sites=sites)
    fleet = tuple(v for v in tiny.fleet if v.id != "van2")
    van = next(v for v in tiny.fleet if v.id == "van2")
    shared = tuple(replace(van, id=f"pv{k}", home="h") for k in (1, 2))
    pool = Pool("vans", ("s1", "s2"), total=total, per_station=per_station, vehicles=("pv1", "pv2"))
    return DayInput(
        tiny.name, network, fleet + shared, tiny.policy, tiny.orders, "2026-12-01", (pool,)
    )


def checked(plan_: Plan, day: DayInput) -> list[str]:
    report = check_plan(plan_, day.network, day.fleet, day.policy, day.orders, pools=day.pools)
    return [f"{v.code}: {v}" for v in report.violations]


def test_pool_vehicle_serves_the_station_that_needs_it(tiny: Scenario) -> None:
    day = pooled_day(tiny)
    plan_ = plan_day(day, time_limit_s=2, work=50)
    assert checked(plan_, day) == []
    pool_runs = [r for r in plan_.routes_of(Tier.LAST_MILE) if r.vehicle in ("pv1", "pv2")]
    assert {r.home for r in pool_runs} == {"s2"}
    assert len({r.vehicle for r in pool_runs}) == 1
    # its cost includes the drive from the hub and back
    van = next(v for v in day.fleet if v.id == pool_runs[0].vehicle)
    moved = reposition(day.network, van, "s2")
    assert moved.fixed_cost > van.fixed_cost
    assert pool_runs[0].cost >= moved.fixed_cost


def test_assign_pools_respects_total_and_per_station_maximum(tiny: Scenario) -> None:
    day = pooled_day(tiny, total=2, per_station=1)
    fleet, assigned = assign_pools(
        day.network, day.fleet, day.pools, day.orders, station_of(day.network)
    )
    assert len(assigned) <= 2
    assert all(n <= 1 for n in [list(assigned.values()).count(st) for st in ("s1", "s2")])
    assert "s2" in assigned.values()
    homes = {v.id: v.home for v in fleet}
    for vid, st in assigned.items():
        assert homes[vid] == st
    # a pool vehicle not assigned is not in the day's fleet
    for vid in {"pv1", "pv2"} - set(assigned):
        assert vid not in homes


def test_checker_reports_pool_counts_over_their_maximum(tiny: Scenario) -> None:
    day = pooled_day(tiny)
    plan_ = plan_day(day, time_limit_s=2, work=50)
    run = next(r for r in plan_.routes if r.vehicle in ("pv1", "pv2"))
    other = "pv2" if run.vehicle == "pv1" else "pv1"
    # the same run a second time by the other pool van: two from s2 (max 1), two in all (1)
    doubled = replace(plan_, routes=(*plan_.routes, replace(run, vehicle=other)))
    found = checked(doubled, day)
    assert any(f.startswith("pool:") and "per-station maximum 1" in f for f in found), found
    assert any(f.startswith("pool:") and "> total 1" in f for f in found), found


def test_checker_reports_a_pool_vehicle_outside_its_stations(tiny: Scenario) -> None:
    day = pooled_day(tiny)
    narrow = replace(day, pools=(replace(day.pools[0], stations=("s1",)),))
    plan_ = plan_day(day, time_limit_s=2, work=50)
    found = checked(plan_, narrow)
    assert any(f.startswith("pool:") and "works from s2" in f for f in found), found


@pytest.mark.parametrize(
    ("pool", "message"),
    [
        (Pool("p", ("h",), 1, 1, ("pv1",)), "not a station"),  # the hub is no station
        (Pool("p", ("s1",), 1, 1, ("nobody",)), "unknown vehicle"),
    ],
)
def test_bad_pools_are_refused(tiny: Scenario, pool: Pool, message: str) -> None:
    day = pooled_day(tiny)
    with pytest.raises(InvalidScenario, match=message):
        replace(day, pools=(pool,))


def test_a_vehicle_in_two_pools_is_refused(tiny: Scenario) -> None:
    day = pooled_day(tiny)
    twice = (day.pools[0], replace(day.pools[0], name="again"))
    with pytest.raises(InvalidScenario, match="two pools"):
        replace(day, pools=twice)


def test_pool_counts_must_be_positive() -> None:
    with pytest.raises(InvalidScenario):
        Pool("p", ("s1",), total=0, per_station=1)
    with pytest.raises(InvalidScenario):
        Pool("p", ("s1",), total=1, per_station=0)
