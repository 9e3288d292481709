"""scenarios.whatif: change files, applying changes to a network, handing the same demand to
the changed network, rural bus lines, per-day KPIs and simulation determinism for a seed.

Simulated days run the real planner bounded by a solution count (deterministic), on the tiny
bundle, except for one day of the built-in county; every simulated plan goes through the
checker.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from dispatch_api.cli import main
from networks import InvalidScenario, SiteKind
from routing.check import check_plan
from routing.model import Direction, Order
from scenarios.bundle import BUILTIN_DIR, Scenario
from scenarios.demand import DemandParams, generate_demand
from scenarios.whatif import (
    AddPoint,
    BusLine,
    Change,
    FleetAdd,
    FleetRemove,
    SimulationSettings,
    Spread,
    apply_change,
    grown_demand,
    load_buses,
    load_change,
    parse_change,
    plan_variant_day,
    run_simulation,
    simulate_day,
)

CHANGES = BUILTIN_DIR / "changes"
DATE = "2026-04-06"
BOUNDED = SimulationSettings(days=2, start=DATE, seed=7, solutions=10)
"""Two days, every search stopped after 10 solutions: deterministic and quick."""


@pytest.fixture(scope="module")
def county() -> Scenario:
    """A synthetic county of 20 villages (13 points, 2 stations) whose fleet is sized for its
    demand — the tiny bundle's fleet is not, so simulated days there are mostly deferrals."""
    from scenarios.synthetic import generate_synthetic

    return generate_synthetic(20, seed=3)


# ------------------------------------------------------------------------------ change files
def test_every_shipped_change_file_loads_and_applies_to_yanshi() -> None:
    from scenarios.bundle import load_bundle

    yanshi = load_bundle("yanshi")
    files = sorted(CHANGES.glob("*.toml"))
    assert {f.stem for f in files} >= {"growth30", "bus-dakou", "carriers-alone"}
    for f in files:
        change = load_change(f)
        variant = apply_change(yanshi, change)
        assert variant.scenario.network.village_points
    assert load_change(CHANGES / "growth30.toml").demand_factor == pytest.approx(1.3)


BAD_CHANGES = [
    ({"demand": {"growth": 0.3}}, "[demand] ", "growth"),  # misspelt key
    ({"demand": {"growth_per_year": "30%"}}, "[demand] ", "growth_per_year"),  # text, not a number
    ({"demand": {"factor": 0}}, "[demand] ", "factor"),  # demand cannot vanish
    ({"policy": {"daily_min": 10}}, "[policy] ", "daily_min"),  # unknown policy key
    ({"points": {"add": [{"station": "s1"}]}}, "[points] add[0]", "site"),  # no site
    ({"fleet": {"add": [{"home": "s1", "class": "van", "count": 0}]}}, "[fleet] add[0]", "count"),
    ({"fleet": {"remove": [{"home": "s1"}]}}, "[fleet] remove[0]", "ids"),  # neither ids nor class
    ({"bus_lines": [{"id": "b", "station": "s1", "villages": ["v1"], "departures": ["25:99"]}]},
     "bus_lines[0]", "departures"),  # not a time of day
    ({"bus_lines": [{"id": "b", "station": "s1", "villages": ["v1"], "departures": []}]},
     "bus_lines[0]", "departures"),  # a line without trips
    ({"bus_lines": [{"id": "b", "station": "s1", "villages": ["v1"], "departures": ["09:00"],
                     "round_trip_min": float("inf")}]},
     "bus_lines[0]", "round_trip_min"),  # TOML's inf: was an OverflowError
    ({"policy": {"cross_dock_min": float("inf")}}, "[policy] ", "cross_dock_min"),
    ({"policy": {"deferral_cost_per_parcel": float("nan")}}, "[policy] ", "deferral_cost_per_parcel"),
    ({"demand": {"growth_per_year": float("inf")}}, "[demand] ", "growth_per_year"),
    ({"schema_version": 2}, "", "schema_version"),  # from the future
    ({"colour": "red"}, "", "colour"),  # unknown top-level key
]  # fmt: skip


@pytest.mark.parametrize(("doc", "where", "key"), BAD_CHANGES)
def test_bad_change_files_name_the_table_and_key(
    doc: dict[str, object], where: str, key: str
) -> None:
    with pytest.raises(InvalidScenario) as err:
        parse_change(doc, source="bad.toml")
    assert err.value.source == "bad.toml"
    assert err.value.location == where
    assert err.value.field == key


def test_a_change_naming_an_unknown_site_fails_on_apply(tiny: Scenario) -> None:
    with pytest.raises(InvalidScenario, match="unknown site 'nowhere'") as err:
        apply_change(tiny, Change(add_points=(AddPoint("nowhere"),), source="c.toml"))
    assert err.value.location == "points.add[0]"
    with pytest.raises(InvalidScenario, match="is a village_point, expected village"):
        apply_change(tiny, Change(add_points=(AddPoint("v4"),)))


# ------------------------------------------------------------------------------ applying
def test_a_new_point_takes_the_villages_nearer_to_it(tiny: Scenario) -> None:
    v = apply_change(tiny, Change(add_points=(AddPoint("v7"),)))
    v7 = v.scenario.network.site("v7")
    assert v7.kind is SiteKind.VILLAGE_POINT and v7.parent == "s2"
    assert v.serving["v7"] == "v7"


def test_closing_a_point_hangs_it_and_its_villages_on_the_nearest_point(tiny: Scenario) -> None:
    v = apply_change(tiny, Change(close_points=("v4",)))
    net = v.scenario.network
    assert net.site("v4").kind is SiteKind.VILLAGE
    assert net.site("v4").parent in {"v5", "v6"} and net.site("v7").parent in {"v5", "v6"}
    # the same orders, handed to the points that serve their villages now
    orders = generate_demand(tiny, DATE, 7)
    from scenarios.whatif import _remap

    moved = _remap(v, orders)
    assert [o.id for o in moved] == [o.id for o in orders]
    assert sum(o.parcels for o in moved) == sum(o.parcels for o in orders)
    assert not any(o.site in {"v4", "v7"} for o in moved)
    assert {o.site for o, m in zip(orders, moved, strict=True) if o.site != m.site} == {"v4"}


def test_closing_a_station_moves_its_points_vehicles_and_seat_parcels(tiny: Scenario) -> None:
    v = apply_change(tiny, Change(close_stations=(("s2", True),)))
    net = v.scenario.network
    assert "s2" not in net.index
    assert {p.parent for p in net.village_points} == {"s1"}
    assert next(x for x in v.scenario.fleet if x.id == "van2").home == "s1"
    assert v.serving["s2"] == "s1"


def test_fleet_and_policy_changes(tiny: Scenario) -> None:
    change = Change(
        fleet_add=(FleetAdd("s2", "van", 2),),
        fleet_remove=(FleetRemove(("van2",)),),
        policy=(("daily_min_parcels", 5),),
    )
    v = apply_change(tiny, change)
    ids = [x.id for x in v.scenario.fleet]
    assert "van2" not in ids and ids.count("van-s2-x1") == 1 and "van-s2-x2" in ids
    assert v.scenario.policy.daily_min_parcels == 5
    assert v.behind == {}  # no structural change: orders are not remapped


def test_removing_the_only_vehicle_that_reaches_a_point_is_refused(tiny: Scenario) -> None:
    # only tricycles may use the lane to v3 (tests/data/tiny/README.md)
    with pytest.raises(InvalidScenario, match="can reach 'v3'") as err:
        apply_change(tiny, Change(fleet_remove=(FleetRemove(("tri1",)),), source="c.toml"))
    assert err.value.source == "c.toml"


def test_grown_demand_has_about_30_percent_more_parcels() -> None:
    """Down parcels of the built-in county's 130 points: a sum of many counts, so one day's
    ratio is close to the factor (a bulk shipper's day is not)."""
    from scenarios.bundle import load_bundle

    yanshi = load_bundle("yanshi")

    def down(params: DemandParams) -> int:
        orders = generate_demand(yanshi, DATE, 7, params)
        return sum(o.parcels for o in orders if o.direction is Direction.DOWN)

    assert 1.25 < down(grown_demand(DemandParams(), 1.3)) / down(DemandParams()) < 1.35


# ------------------------------------------------------------------------------ buses
def test_the_bus_takes_what_fits_its_trips_at_the_fee(tiny: Scenario) -> None:
    """Two trips of 10 parcels: trunk parcels reach s1 after 08:00 + drive + 10 + 45 min, so
    the 07:00 trip carries parcels the next morning (one day more) and the 12:00 trip today."""
    line = BusLine(
        "b", "s1", ("v1",), (7 * 3600, 12 * 3600), 3600, 500.0, 5.0, 10, 0.5, carries_up=False
    )
    orders = [Order(f"o{i:02d}", "ems", Direction.DOWN, "v1", 1.0, 0.01) for i in range(25)]
    orders.append(Order("big", "ems", Direction.DOWN, "v1", 30.0, 0.2, bulky=True))
    load = load_buses(tiny, [line], orders)
    assert load.parcels == 20 and load.fee == 10.0
    assert sorted(extra for _, extra in load.carried.values()) == [0] * 10 + [1] * 10
    assert "big" not in load.carried
    on_bus = [o for o in load.orders if o.id in load.carried]
    assert {o.site for o in on_bus} == {"s1"} and set(load.origin.values()) == {"v1"}


def test_a_bus_day_is_planned_and_checked(tiny: Scenario) -> None:
    change = Change(
        name="bus",
        bus_lines=(BusLine("b", "s1", ("v1", "v2"), (12 * 3600, 14 * 3600), 3600),),
        add_points=(AddPoint("v7"),),
    )
    variant = apply_change(tiny, change)
    plans, bus = plan_variant_day(variant, DATE, BOUNDED)
    assert bus.parcels > 0
    for plan, day in plans:
        report = check_plan(plan, day.network, day.fleet, day.policy, day.orders)
        assert report.ok, [str(x) for x in report.violations]
    k = simulate_day(variant, DATE, BOUNDED)
    assert k.bus_parcels == bus.parcels and k.bus_cost == pytest.approx(0.6 * bus.parcels)
    assert k.cost > k.bus_cost


# ------------------------------------------------------------------------------ simulation
def test_simulation_is_deterministic_for_a_seed(county: Scenario) -> None:
    change = Change(name="growth", growth_per_year=0.3)
    first = run_simulation(county, change, BOUNDED)
    again = run_simulation(county, change, BOUNDED)
    assert first.base_days == again.base_days and first.change_days == again.change_days
    assert [d.date for d in first.base_days] == ["2026-04-06", "2026-04-07"]
    by = {c.kpi: c for c in first.comparison()}
    assert by["parcels"].difference.mean > 0  # the same days, more demand
    doc = json.loads(json.dumps(first.to_dict()))
    assert doc["change"]["demand_factor"] == pytest.approx(1.3)
    assert len(doc["change_days"]) == 2


def test_carriers_alone_cost_more_than_jointly(county: Scenario) -> None:
    """Each carrier alone runs its own vehicles, and its smaller volume per village puts more
    villages on every-other-day service: more cost, more parcels deferred."""
    alone = run_simulation(
        county, Change(name="alone", carriers_alone=True), replace(BOUNDED, days=1)
    )
    joint, apart = alone.base_days[0], alone.change_days[0]
    assert apart.cost > 2 * joint.cost
    assert apart.deferred_parcels > joint.deferred_parcels


def test_spread_of_known_values() -> None:
    s = Spread.of([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (s.mean, s.p50, s.min, s.max, s.n) == (3.0, 3.0, 1.0, 5.0, 5)
    assert s.std == pytest.approx(1.5811, abs=1e-4)
    assert s.p10 == pytest.approx(1.4) and s.p90 == pytest.approx(4.6)


def test_one_day_of_yanshi_grown_30_percent() -> None:
    """The built-in county, one day, first solutions only: +30 % demand serves more parcels
    and costs more on the same day."""
    result = run_simulation(
        "yanshi", CHANGES / "growth30.toml", SimulationSettings(days=1, solutions=1)
    )
    base, grown = result.base_days[0], result.change_days[0]
    assert grown.parcels > 1.15 * base.parcels
    assert grown.cost > base.cost
    assert 0.9 <= base.village_coverage <= 1.0


def test_simulate_command_writes_report_and_json(
    tiny_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change = tmp_path / "more.toml"
    change.write_text('name = "more"\n[demand]\nfactor = 1.2\n', encoding="utf-8")
    out = tmp_path / "sim"
    code = main(["simulate", str(tiny_path), "--change", str(change), "--days", "2",
                 "--solution-limit", "5", "--workers", "1", "--out", str(out)])  # fmt: skip
    assert code == 0
    assert {p.name for p in out.iterdir()} == {
        "simulation.json",
        "simulation.md",
        "kpi_distributions.png",
        "kpi_by_day.png",
    }
    text = capsys.readouterr().out
    assert "| cost per day (yuan) |" in text
    doc = json.loads((out / "simulation.json").read_text(encoding="utf-8"))
    assert doc["settings"]["solutions"] == 5 and len(doc["base_days"]) == 2
