"""Consolidation savings and settlement on the tiny county."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing import DayInput, plan_day
from routing.savings import consolidation_savings, daily_service, plan_kpis, settle
from scenarios.bundle import Scenario


def test_each_carrier_alone_is_planned_by_the_same_engine(tiny: Scenario) -> None:
    day = daily_service(
        DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")
    )
    assert day.policy.daily_min_parcels == 0
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
    assert savings.same_service and "visited daily on both sides" in savings.table()
    # every village visited daily: nothing is deferred for frequency on either side
    frequency = [d for d in joint.deferred if d.reason.value == "frequency"]
    assert frequency == []


def test_settlement_shares_add_up_to_the_plan(tiny: Scenario) -> None:
    day = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")
    plan_ = plan_day(day, time_limit_s=1, work=20)
    lines = settle(plan_, day)
    kpis = plan_kpis(plan_, day)
    assert sum(line.cost for line in lines) == pytest.approx(kpis.cost, abs=0.05)
    assert sum(line.km for line in lines) == pytest.approx(kpis.km, abs=0.01)
    assert sum(line.parcels for line in lines) == kpis.parcels


def test_equal_service_prices_every_deferred_parcel() -> None:
    """A hand-made county's numbers: carriers alone cost 300 + 200 = 500 yuan and defer 4 + 6
    parcels (villages visited every other day); the joint plan costs 350 and defers 2. At 50
    yuan a deferred parcel: alone 500 + 10 × 50 = 1000, joint 350 + 2 × 50 = 450, saving 55 %
    (the plain 30 % compares unequal service and is flagged)."""
    from routing.savings import CarrierShare, Kpis, Savings

    savings = Savings(
        joint=Kpis(km=40, vehicle_hours=6, vehicles=2, cost=350, parcels=98, deferred_parcels=2),
        alone={
            "yto": Kpis(30, 4, 2, 300, 56, 4),
            "zto": Kpis(25, 3, 2, 200, 34, 6),
        },
        deferral_price=50,
        by_carrier={"yto": CarrierShare(210, 59, 1), "zto": CarrierShare(140, 39, 1)},
    )
    assert not savings.equal_service
    assert savings.cost_saving_share == pytest.approx(0.30)
    assert savings.equal_service_saving_share == pytest.approx(0.55)
    # yto: 300 + 4×50 = 500 alone, 210 + 1×50 = 260 joint → 48 %; zto: 500 vs 190 → 62 %
    assert savings.carrier_rows() == [
        ("yto", 500, 260, pytest.approx(0.48)),
        ("zto", 500, 190, pytest.approx(0.62)),
    ]
    text = savings.table()
    assert "saves 55.0%" in text and "Not at equal service" in text
    assert "| yto | 4 | 1 | 500 | 260 | 48.0% |" in text


def test_joint_carrier_shares_add_up_and_chart_is_written(tiny: Scenario, tmp_path: Path) -> None:
    from routing.savings import savings_chart

    day = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")
    joint = plan_day(day, time_limit_s=1, work=20)
    savings = consolidation_savings(
        day,
        joint=joint,
        planner=lambda d: plan_day(d, time_limit_s=1, work=20),
        same_service=False,
    )
    assert not savings.same_service
    assert savings.deferral_price == tiny.policy.deferral_cost_per_parcel
    shares = savings.by_carrier.values()
    assert sum(s.cost for s in shares) == pytest.approx(savings.joint.cost, abs=0.05)
    assert sum(s.deferred_parcels for s in shares) == savings.joint.deferred_parcels
    path = savings_chart(savings, tmp_path / "savings.png")
    assert path.read_bytes().startswith(b"\x89PNG")
