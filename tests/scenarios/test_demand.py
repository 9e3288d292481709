"""scenarios.demand: one seeded day of orders, checked against DOMAIN.md's demand ranges."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from networks import SiteKind
from routing.model import Direction, Order
from scenarios.bundle import Scenario, load_bundle, load_orders
from scenarios.demand import (
    CARRIERS,
    DemandParams,
    active_carriers,
    generate_demand,
    season_factor,
    write_orders_csv,
)
from scenarios.synthetic import generate_synthetic

NORMAL_DAY = "2026-12-01"


@pytest.fixture(scope="module")
def yanshi() -> Scenario:
    """The built-in county as committed (demand is generated for bundles as shipped)."""
    return load_bundle("yanshi")


@pytest.fixture(scope="module")
def day(yanshi: Scenario) -> tuple[Order, ...]:
    """An ordinary Tuesday: the date `make plan` uses."""
    return generate_demand(yanshi, NORMAL_DAY, 7)


def _down_parcels(orders: tuple[Order, ...]) -> int:
    return sum(o.parcels for o in orders if o.direction is Direction.DOWN)


# ----------------------------------------------------------------------------- determinism
def test_demand_is_deterministic(yanshi: Scenario, day: tuple[Order, ...]) -> None:
    assert generate_demand(yanshi, dt.date(2026, 12, 1), 7) == day
    assert generate_demand(yanshi, NORMAL_DAY, 8) != day
    assert generate_demand(yanshi, "2026-12-02", 7) != day


def test_order_ids_are_unique_and_dated(day: tuple[Order, ...]) -> None:
    ids = [o.id for o in day]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith(("20261201-d-", "20261201-u-")) for i in ids)


def test_orders_round_trip_through_csv(
    yanshi: Scenario, day: tuple[Order, ...], tmp_path: Path
) -> None:
    path = write_orders_csv(day, tmp_path / "orders.csv")
    assert load_orders(path, yanshi.network) == day  # also: every site exists and takes orders


# ----------------------------------------------------------------------------- volumes
def test_daily_totals_are_in_the_domain_ranges(yanshi: Scenario, day: tuple[Order, ...]) -> None:
    assert 6000 <= len(day) <= 12000
    points = yanshi.network.village_points
    per_point = Counter(o.site for o in day if o.direction is Direction.DOWN and o.parcels == 1)
    mean = np.mean([per_point.get(p.id, 0) for p in points])
    assert 30 <= mean <= 80


def test_town_seat_parcels_go_to_stations_in_bags(yanshi: Scenario, day: tuple[Order, ...]) -> None:
    stations = {s.id for s in yanshi.network.stations}
    seat: Counter[str] = Counter()
    for o in day:
        if o.site in stations:
            assert o.direction is Direction.DOWN and 1 <= o.parcels <= 30
            seat[o.site] += o.parcels
    assert set(seat) == stations
    assert all(150 <= n <= 2000 for n in seat.values())  # means 300–1,500 plus day noise


def test_parcel_weights_and_volumes(day: tuple[Order, ...]) -> None:
    down = [o for o in day if o.direction is Direction.DOWN and o.parcels == 1]
    kg = np.array([o.weight_kg for o in down])
    m3 = np.array([o.volume_m3 for o in down])
    assert 0.85 <= float(np.median(kg)) <= 1.2
    assert 1.3 <= float(kg.mean()) <= 2.2
    assert 0.04 <= float((kg > 3).mean()) <= 0.11
    assert 0.004 <= float(np.median(m3)) <= 0.0065
    assert 0.007 <= float(m3.mean()) <= 0.013
    bulky = np.array([o.bulky for o in down])
    assert 0.005 <= float(bulky.mean()) <= 0.02
    assert ((kg[bulky] >= 20) | (m3[bulky] >= 0.1)).all()
    assert ((kg[~bulky] < 20) & (m3[~bulky] < 0.1)).all()


def test_carriers_and_priorities(day: tuple[Order, ...]) -> None:
    carriers = {o.carrier for o in day}
    assert 5 <= len(carriers) <= 7
    assert carriers <= {c.id for c in CARRIERS}
    express = {c.id for c in CARRIERS if c.express}
    for o in day:
        if o.priority == 2:
            assert o.direction is Direction.UP and o.sector == "farm"
        elif o.priority == 1:
            assert o.carrier in express


def test_carrier_shares_are_fixed_per_seed() -> None:
    a = active_carriers(DemandParams(), 7)
    b = active_carriers(DemandParams(), 7)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert a[0][0].id == "ems"  # the postal service is always there
    assert float(a[1].sum()) == pytest.approx(1.0)


def test_upstream_sectors_lots_and_bulk_shippers(yanshi: Scenario, day: tuple[Order, ...]) -> None:
    up = [o for o in day if o.direction is Direction.UP]
    assert {o.sector for o in up} <= {"farm", "shoes", "knitwear", "instruments"}
    assert any(o.lot for o in up) and not any(o.lot for o in day if o.direction is Direction.DOWN)
    bulk = {s.id for s in yanshi.network.of_kind(SiteKind.BULK_SHIPPER)}
    per_bulk: Counter[str] = Counter()
    for o in up:
        if o.site in bulk:
            assert o.parcels <= 50 and o.sector == "shoes"
            per_bulk[o.site] += o.parcels
    assert set(per_bulk) == bulk
    assert all(100 <= n <= 6000 for n in per_bulk.values())
    village_up = Counter(o.site for o in up if o.site not in bulk)
    assert max(village_up.values()) >= 5  # e-commerce villages ship in batches


# ----------------------------------------------------------------------------- seasons
def test_season_factor_calendar() -> None:
    assert season_factor(NORMAL_DAY) == 1.0
    double_11 = [season_factor(dt.date(2026, 11, d)) for d in range(12, 18)]
    assert all(2.0 <= f <= 3.0 for f in double_11)
    assert season_factor("2026-02-17") <= 0.5  # Spring Festival 2026
    assert season_factor("2026-02-27") > 1.2  # the backlog after it
    harvest = season_factor("2026-10-01", direction=Direction.UP, sector="farm")
    assert 5 <= harvest <= 10
    assert season_factor("2026-10-01", direction=Direction.UP, sector="shoes") == 1.0


def test_double_11_week_is_busier_than_a_normal_day(
    yanshi: Scenario, day: tuple[Order, ...]
) -> None:
    peak = generate_demand(yanshi, "2026-11-13", 7)
    assert _down_parcels(peak) > 2 * _down_parcels(day)


def test_harvest_raises_farm_upstream(yanshi: Scenario) -> None:
    def farm(date: str) -> int:
        orders = generate_demand(yanshi, date, 7)
        return sum(o.parcels for o in orders if o.sector == "farm")

    assert farm("2026-10-07") > 3 * farm("2026-12-02")


def test_demand_works_on_a_planar_synthetic_county() -> None:
    sc = generate_synthetic(120, seed=4)
    orders = generate_demand(sc, "2027-03-03", 1)
    sites = {o.site for o in orders}
    takes = {
        s.id
        for s in sc.network.sites
        if s.kind in (SiteKind.VILLAGE_POINT, SiteKind.STATION, SiteKind.BULK_SHIPPER)
    }
    assert sites <= takes and len(orders) > 1000
