"""Consolidation savings and settlement on the tiny county."""

from __future__ import annotations

import pytest

from routing import DayInput, plan_day
from routing.savings import consolidation_savings, plan_kpis, settle
from scenarios.bundle import Scenario


def test_each_carrier_alone_is_planned_by_the_same_engine(tiny: Scenario) -> None:
    day = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")
    joint = plan_day(day, time_limit_s=1, work=20)
    savings = consolidation_savings(
        day, joint=joint, planner=lambda d: plan_day(d, time_limit_s=1, work=20)
    )
    assert set(savings.alone) == {o.carrier for o in tiny.orders}
    total = savings.alone_total
    # every parcel is served or deferred in each carrier's own plan, as in the joint one
    assert total.parcels + total.deferred_parcels == sum(o.parcels for o in tiny.orders)
    assert savings.joint == plan_kpis(joint, day)
    # one set of runs instead of one per carrier: the fixed costs alone make it cheaper here
    assert savings.joint.cost < total.cost
    assert savings.cost_saving_share == pytest.approx(1 - savings.joint.cost / total.cost)
    assert "**joint**" in savings.table()


def test_settlement_shares_add_up_to_the_plan(tiny: Scenario) -> None:
    day = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")
    plan_ = plan_day(day, time_limit_s=1, work=20)
    lines = settle(plan_, day)
    kpis = plan_kpis(plan_, day)
    assert sum(line.cost for line in lines) == pytest.approx(kpis.cost, abs=0.05)
    assert sum(line.km for line in lines) == pytest.approx(kpis.km, abs=0.01)
    assert sum(line.parcels for line in lines) == kpis.parcels
