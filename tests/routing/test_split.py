"""Oversize orders split into parts (routing.split) on the tiny bundle: an order bigger
than any van of its station goes on several trips instead of being deferred, the plan lists
its parts, the checker accepts parts that add up to the order and rejects parts that do not,
and the manifests name the parts.

Every search is bounded by work (``work=``), never the clock.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest

from routing import DayInput, plan_day
from routing.check import check_plan
from routing.model import Direction, Order
from routing.plan import Plan
from routing.present import write_plan_outputs
from routing.split import part_id, split_oversize, with_parts
from scenarios.bundle import Scenario

DATE = "2026-12-01"
WORK = 300
"""Enough work for the van to find its third trip (at 30 it stops after two)."""

BIG = Order("o99", "ems", Direction.DOWN, "v1", 2000.0, 4.0, parcels=100)
"""2 t of 100 parcels for v1: East station's biggest van holds 800 kg, so 40 parcels a part
at most — three parts of 34, 33 and 33 parcels."""


@pytest.fixture(scope="module")
def big_day(tiny: Scenario) -> DayInput:
    """The tiny day with the oversize order added."""
    day = tiny.day(DATE)
    return replace(day, orders=(*day.orders, BIG))


@pytest.fixture(scope="module")
def big_plan(big_day: DayInput) -> Plan:
    return plan_day(big_day, work=WORK)


def test_an_oversize_order_is_split_into_parts_that_fit(big_day: DayInput) -> None:
    split, parts = split_oversize(big_day)
    assert [(p.id, p.part, p.parts, p.parcels) for p in parts] == [
        (part_id("o99", k, 3), k, 3, n) for k, n in ((1, 34), (2, 33), (3, 33))
    ]
    assert sum(p.weight_kg for p in parts) == pytest.approx(2000.0, abs=1e-9)
    assert sum(p.volume_m3 for p in parts) == pytest.approx(4.0, abs=1e-9)
    assert all(p.weight_kg <= 800 for p in parts)
    assert "o99" not in {o.id for o in split.orders}
    assert {o.part_of for o in split.orders if o.part_of} == {"o99"}
    # every other order is untouched
    assert split.orders[: len(big_day.orders) - 1] == big_day.orders[:-1]


def test_orders_that_fit_are_not_split(tiny: Scenario) -> None:
    day = tiny.day(DATE)
    assert split_oversize(day) == (day, ())


def test_a_single_parcel_too_big_for_every_vehicle_stays_whole(tiny: Scenario) -> None:
    day = tiny.day(DATE)
    day = replace(day, orders=(*day.orders, replace(BIG, parcels=1)))
    _, parts = split_oversize(day)
    assert parts == ()


def test_the_parts_are_served_and_the_checker_accepts_them(
    big_day: DayInput, big_plan: Plan
) -> None:
    assert {p.order for p in big_plan.parts} == {"o99"}
    deferred = {d.order for d in big_plan.deferred}
    served = {oid for r in big_plan.routes for s in r.stops for oid in s.drop if s.site == "v1"}
    assert {p.id for p in big_plan.parts} <= served - deferred
    # the checker reads the orders as given (o99 whole) and the plan's parts
    report = check_plan(big_plan, big_day.network, big_day.fleet, big_day.policy, big_day.orders)
    assert report.ok, "\n".join(map(str, report.violations))


def test_the_checker_rejects_parts_that_do_not_add_up(big_day: DayInput, big_plan: Plan) -> None:
    first, *rest = big_plan.parts
    light = replace(big_plan, parts=(replace(first, weight_kg=first.weight_kg - 5), *rest))
    report = check_plan(light, big_day.network, big_day.fleet, big_day.policy, big_day.orders)
    assert "split" in {v.code for v in report.violations}
    renumbered = replace(big_plan, parts=(replace(first, part=2), *rest))
    report = check_plan(renumbered, big_day.network, big_day.fleet, big_day.policy, big_day.orders)
    assert "split" in {v.code for v in report.violations}
    # a part the plan does not list is an unknown order
    dropped = replace(big_plan, parts=tuple(rest))
    report = check_plan(dropped, big_day.network, big_day.fleet, big_day.policy, big_day.orders)
    assert not report.ok


def test_the_manifest_lists_the_parts(big_day: DayInput, big_plan: Plan, tmp_path: Path) -> None:
    files = write_plan_outputs(big_plan, big_day, tmp_path, pictures=False)
    listed: list[str] = []
    for name, path in files.items():
        if name.startswith("manifests/"):
            rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
            listed += [p for row in rows for p in row["parts"].split(";") if p]
    assert sorted(set(listed)) == ["o99 part 1/3", "o99 part 2/3", "o99 part 3/3"]


def test_with_parts_puts_the_parts_in_place_of_their_order(big_day: DayInput) -> None:
    _, parts = split_oversize(big_day)
    orders = with_parts(big_day.orders, parts)
    assert [o.id for o in orders][-3:] == [p.id for p in parts]
    assert with_parts(big_day.orders, ()) == big_day.orders


def test_the_settlement_counts_the_parts(big_day: DayInput, big_plan: Plan) -> None:
    """Each carrier's share of the plan with o99 in parts: the parts' parcels are ems's,
    every parcel is served or deferred, and the shares add up to the plan's cost."""
    from routing.savings import settle

    lines = settle(big_plan, big_day)
    orders = {o.id: o for o in with_parts(big_day.orders, big_plan.parts)}
    deferred = sum(orders[d.order].parcels for d in big_plan.deferred)
    assert sum(x.parcels for x in lines) + deferred == sum(o.parcels for o in big_day.orders)
    assert sum(x.cost for x in lines) == pytest.approx(
        sum(r.cost for r in big_plan.routes), abs=0.05
    )


def test_the_plan_kpis_count_the_parts(big_day: DayInput, big_plan: Plan) -> None:
    """The savings report's KPIs of a plan with o99 in parts (served or deferred): every
    parcel is counted once, served or deferred."""
    from routing.savings import plan_kpis

    kpis = plan_kpis(big_plan, big_day)
    assert kpis.parcels + kpis.deferred_parcels == sum(o.parcels for o in big_day.orders)
    assert kpis.cost == pytest.approx(sum(r.cost for r in big_plan.routes), abs=0.01)
