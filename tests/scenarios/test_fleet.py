"""scenarios.fleet on hand-made days of the tiny county, where the answer is worked out by hand.

Village runs make one trip (no reloads); van1 at s1 holds 100 parcels. 25 consignments of 10
parcels for v1 and v2 (s1's villages) are 250 parcels: van1 carries 100, 150 are deferred for
capacity, so s1 needs ceil(150 / 100) = 2 more vans (3 × 100 ≥ 250, 2 × 100 < 250).
Adding 700 parcels for station s2 itself (town-seat parcels, which only the trunk carries)
makes 950 parcels for the hub's one 600-parcel truck: one more truck (2 × 600 ≥ 950).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from routing import DayInput, plan_day
from routing.model import Direction, Order
from routing.plan import Plan
from scenarios.bundle import Scenario
from scenarios.fleet import shortfalls, size_fleet


def planner(day: DayInput) -> Plan:
    return plan_day(day, work=50, time_limit_s=2, workers=1)


@pytest.fixture(scope="module")
def day(tiny: Scenario) -> DayInput:
    """The tiny county with one 100-parcel van at s1 (no tricycle), single-trip runs, and 250
    parcels for s1's villages."""
    fleet = tuple(
        replace(v, capacity_parcels=100) if v.id == "van1" else v
        for v in tiny.fleet
        if v.id != "tri1"
    )
    policy = replace(tiny.policy, reloads=False, max_trips=1)
    orders = tuple(
        Order(f"o{i}", "zto", Direction.DOWN, ("v1", "v2")[i % 2], 10.0, 0.1, parcels=10)
        for i in range(25)
    )
    return DayInput("tiny", tiny.network, fleet, policy, orders, "2026-12-01")


def test_short_vans_at_a_station_are_found(day: DayInput) -> None:
    before = planner(day)
    assert {h: s.parcels for h, s in shortfalls(before, day).items()} == {"s1": 150}
    sizing = size_fleet([day], planner)
    assert sizing.met
    assert sizing.added == (("s1", "van", 2),)
    assert sizing.short_before == 150 and sizing.short_after == 0
    assert sizing.cost_after > sizing.cost_before
    assert "+2 vans at s1" in sizing.text()


def test_a_short_trunk_adds_a_truck_at_the_hub(day: DayInput) -> None:
    town = tuple(
        Order(f"t{i}", "yto", Direction.DOWN, "s2", 10.0, 0.1, parcels=10) for i in range(70)
    )
    busy = replace(day, orders=day.orders + town)
    sizing = size_fleet([busy], planner)
    assert sizing.met
    assert sizing.added == (("h", "truck", 1), ("s1", "van", 2))


def test_enough_fleet_adds_nothing(day: DayInput) -> None:
    light = replace(day, orders=day.orders[:8])  # 80 parcels: van1 carries them all
    sizing = size_fleet([light], planner)
    assert sizing.added == () and sizing.met and sizing.rounds == 0
    assert "the fleet is enough" in sizing.text()


def test_fleet_for_a_change_sizes_the_changed_variant(tiny: Scenario) -> None:
    """A what-if that takes s1's van away and triples demand: whatever the planner defers for
    capacity on that day, the sizing serves it by adding vehicles (and nothing is short after)."""
    from scenarios.fleet import fleet_for_change
    from scenarios.whatif import Change, FleetRemove, SimulationSettings

    change = Change(
        name="no-van1", demand_factor_override=3.0, fleet_remove=(FleetRemove(ids=("van1",)),)
    )
    settings = SimulationSettings(days=1, start="2026-12-01", solutions=30)
    sizing = fleet_for_change(tiny, change, settings, ["2026-12-01"])
    assert sizing.days == 1 and sizing.met and sizing.short_after == 0
    assert sizing.short_before > 0 and sizing.added
    assert all(home in ("h", "s1", "s2") for home, _, _ in sizing.added)
