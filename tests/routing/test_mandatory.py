"""Mandatory orders and sites, and the deferral price as a policy field, on the tiny bundle.

A mandatory order is served when it can be (even on its village's off day, even when the
policy prices deferral at almost nothing); when it cannot, the plan is ``infeasible`` and its
deferred entry names the order, the site and why; the checker flags a plan that defers one.

Every search is bounded by work (``work=``), never the clock.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from routing import DayInput, plan_day
from routing.check import check_plan
from routing.plan import DeferralReason, Deferred, Plan, PlanStatus, infeasibilities
from scenarios.bundle import Scenario, load_bundle, load_orders

DATE = "2026-12-01"
"""v4, v5, v6 (North station) are not due on this date: their orders wait a day."""

WORK = 30


def _must(day: DayInput, *ids: str) -> DayInput:
    return replace(
        day, orders=tuple(replace(o, mandatory=o.id in ids or o.mandatory) for o in day.orders)
    )


def _deferred(plan: Plan) -> dict[str, Deferred]:
    return {d.order: d for d in plan.deferred}


def _ok(plan: Plan, day: DayInput) -> None:
    report = check_plan(plan, day.network, day.fleet, day.policy, day.orders)
    assert report.ok, "\n".join(map(str, report.violations))


def test_mandatory_order_is_served_on_its_off_day(tiny: Scenario) -> None:
    day = tiny.day(DATE)
    assert _deferred(plan_day(day, work=WORK))["o05"].reason is DeferralReason.FREQUENCY
    day = _must(day, "o05")
    plan = plan_day(day, work=WORK)
    assert "o05" not in _deferred(plan)
    assert plan.status is not PlanStatus.INFEASIBLE
    _ok(plan, day)


def test_mandatory_order_that_cannot_be_served_makes_the_plan_infeasible(tiny: Scenario) -> None:
    # o04 is bulky and goes to v3, which only the (non-bulky) tricycle can reach: the vans
    # may carry it but cannot reach v3
    day = _must(tiny.day(DATE), "o04")
    plan = plan_day(day, work=WORK)
    assert plan.status is PlanStatus.INFEASIBLE
    d = _deferred(plan)["o04"]
    assert d.mandatory and d.site == "v3" and d.reason is DeferralReason.UNREACHABLE
    (line,) = infeasibilities(plan)
    assert "o04" in line and "v3" in line and "unreachable" in line
    # the rest of the plan stands: the other orders are served as without the flag
    assert {r.vehicle for r in plan.routes}
    report = check_plan(plan, day.network, day.fleet, day.policy, day.orders)
    assert [v.code for v in report.violations] == ["mandatory"]
    assert "o04" in report.violations[0].message


def test_checker_flags_a_deferred_mandatory_order(tiny: Scenario) -> None:
    day = tiny.day(DATE)
    plan = plan_day(day, work=WORK)  # o05 deferred for frequency: fine while optional
    _ok(plan, day)
    strict = _must(day, "o05")
    report = check_plan(plan, strict.network, strict.fleet, strict.policy, strict.orders)
    assert [(v.code, v.site) for v in report.violations] == [("mandatory", "v4")]


def test_mandatory_site_serves_every_order_there(tiny_copy: Path) -> None:
    path = tiny_copy / "network.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for feat in doc["features"]:
        if (feat.get("id") or feat["properties"].get("id")) == "v5":
            feat["properties"]["mandatory"] = True
    path.write_text(json.dumps(doc), encoding="utf-8")
    sc = load_bundle(tiny_copy)
    assert sc.network.site("v5").mandatory
    day = sc.day(DATE)
    plan = plan_day(day, work=WORK)
    assert "o06" not in _deferred(plan)  # v5's order, on v5's off day
    _ok(plan, day)
    # the checker reads the site's flag from the network too
    v5_orders = [o.id for o in day.orders if o.site == "v5"]
    deferring = replace(
        plan,
        routes=(),
        deferred=tuple(
            Deferred(o.id, o.site, DeferralReason.TIME, "2026-12-02") for o in day.orders
        ),
    )
    report = check_plan(deferring, day.network, day.fleet, day.policy, day.orders)
    flagged = [v for v in report.violations if v.code == "mandatory"]
    assert [v.message.split()[2] for v in flagged] == v5_orders


def test_orders_csv_reads_the_mandatory_column(tiny: Scenario, tmp_path: Path) -> None:
    src = (Path(__file__).parents[1] / "data" / "tiny" / "orders.csv").read_text()
    lines = src.splitlines()
    out = [lines[0] + ",mandatory"] + [
        line + (",true" if line.startswith("o02,") else ",") for line in lines[1:]
    ]
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    orders = load_orders(path, tiny.network)
    assert [o.id for o in orders if o.mandatory] == ["o02"]


def test_deferral_price_from_the_policy_changes_what_is_deferred(tiny: Scenario) -> None:
    day = tiny.day(DATE)
    served = plan_day(day, work=WORK)
    cheap = replace(day, policy=replace(day.policy, deferral_cost_per_parcel=0.01))
    plan = plan_day(cheap, work=WORK)
    _ok(plan, cheap)

    def not_served(p: Plan) -> set[str]:
        return {d.order for d in p.deferred if d.reason is not DeferralReason.FREQUENCY}

    # at 0.01 yuan a parcel no vehicle is worth its fixed cost: the day's orders wait
    assert not_served(plan) > not_served(served)
    # ... except a mandatory one, whatever the price
    must = _must(cheap, "o01")
    plan = plan_day(must, work=WORK)
    assert "o01" not in _deferred(plan)
    _ok(plan, must)


@pytest.mark.parametrize("raw", ["maybe", "2"])
def test_a_bad_mandatory_value_names_the_row(tiny: Scenario, tmp_path: Path, raw: str) -> None:
    from networks import InvalidScenario

    path = tmp_path / "orders.csv"
    path.write_text(
        f"id,carrier,direction,site,weight_kg,volume_m3,mandatory\nx1,ems,down,v1,1,0.01,{raw}\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidScenario) as err:
        load_orders(path, tiny.network)
    assert err.value.field == "mandatory" and "2" in str(err.value.location)
