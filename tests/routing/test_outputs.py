"""routing.present on the tiny bundle's plan: every file is written and readable, the GeoJSON is
valid, manifests add up to the plan's stops, loading order is the reverse of the visits, phones
are masked, the summary names every deferral reason, and the pictures are real PNGs.

The plan is made once per module (one second of search); each test reads the written files.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import shapely.geometry

from routing import DayInput, plan_day
from routing.plan import Load, Plan, PlanStatus, Route, Stop, StopKind, Tier, plan_from_dict
from routing.present import mask_phone, summary_text, write_plan_outputs
from scenarios.bundle import Scenario

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def day(tiny: Scenario) -> DayInput:
    """The tiny bundle's own orders on its own date."""
    return DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")


@pytest.fixture(scope="module")
def plan(day: DayInput) -> Plan:
    """The tiny day's plan: a trunk down and up, one tricycle run, frequency and unreachable
    deferrals (so the summary has reasons to name)."""
    return plan_day(day, time_limit_s=1)


@pytest.fixture(scope="module")
def written(plan: Plan, day: DayInput, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every output of the tiny plan, in English, written once."""
    return write_plan_outputs(plan, day, tmp_path_factory.mktemp("out"))


@pytest.fixture(scope="module")
def two_trips(day: DayInput) -> Plan:
    """A hand-made plan: van1 from s1 drops at v2 then v1, reloads, then drops at v3.

    Trip 1 loads v1's bags first (YTO o01, then ZTO o02), then v2's (STO o03); trip 2 has
    only v3's YTO bag. Times are consistent; the route need not be optimal.
    """
    stops = (
        Stop("s1", StopKind.DEPART, 34000, 34000, 34000, 0, (), (), Load(15.7, 0.074, 5)),
        Stop(
            "v2", StopKind.VISIT, 34500, 34500, 34700, 0, ("o03",), ("o09",), Load(32.5, 0.16, 10)
        ),
        Stop("v1", StopKind.VISIT, 34900, 34900, 35100, 0, ("o01", "o02"), (), Load(18, 0.09, 6)),
        Stop("s1", StopKind.RELOAD, 35400, 35400, 35800, 1, (), (), Load(30, 0.2, 1)),
        Stop("v3", StopKind.VISIT, 36300, 36300, 36500, 1, ("o04",), (), Load()),
        Stop("s1", StopKind.RETURN, 37000, 37000, 37000, 1, (), (), Load()),
    )
    route = Route("van1", "van", Tier.LAST_MILE, "down-1", "s1", stops, 9000, 170.0)
    return Plan("tiny", day.network.version, day.date, PlanStatus.COMPLETE, (route,), ())


def read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def parcels(ids: tuple[str, ...], day: DayInput) -> int:
    by_id = {o.id: o for o in day.orders}
    return sum(by_id[i].parcels for i in ids)


# ----------------------------------------------------------------------------- files
def test_every_output_file_exists_and_is_not_empty(written: dict[str, Path], plan: Plan) -> None:
    for name in ("plan.json", "routes.geojson", "summary.md", "map.png", "timeline.png"):
        assert written[name].is_file()
    for route in plan.routes:
        assert written[f"manifests/{route.tier.value}-{route.vehicle}.csv"].is_file()
        assert written[f"sheets/{route.vehicle}.md"].is_file()
    assert all(p.stat().st_size > 0 for p in written.values())
    # the keys are the paths relative to the output folder
    root = written["plan.json"].parent
    assert all(root / key == path for key, path in written.items())


def test_plan_json_round_trips(written: dict[str, Path], plan: Plan) -> None:
    assert plan_from_dict(json.loads(written["plan.json"].read_text("utf-8"))) == plan


def test_unknown_language_is_refused(plan: Plan, day: DayInput, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lang"):
        write_plan_outputs(plan, day, tmp_path, lang="fr")


# ----------------------------------------------------------------------------- GeoJSON
def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def test_geojson_is_valid_with_finite_coordinates(written: dict[str, Path], plan: Plan) -> None:
    doc = json.loads(written["routes.geojson"].read_text("utf-8"), parse_constant=_no_constants)
    assert doc["type"] == "FeatureCollection"
    # tiny is planar: the coordinates stay metres and a foreign member says so
    assert doc["countyroute"]["crs"] == "planar" and "crs_note" in doc["countyroute"]
    kinds: dict[str, int] = defaultdict(int)
    for feat in doc["features"]:
        assert feat["type"] == "Feature"
        geom = feat["geometry"]
        kinds[geom["type"]] += 1
        coords = geom["coordinates"] if geom["type"] == "LineString" else [geom["coordinates"]]
        assert all(len(c) == 2 and all(math.isfinite(v) for v in c) for c in coords)
        assert shapely.geometry.shape(geom).is_valid
        props = feat["properties"]
        if geom["type"] == "LineString":
            assert len(coords) >= 2
            for key in ("vehicle", "vehicle_class", "tier", "wave", "distance_km"):
                assert key in props
            for key in ("duration_min", "cost", "stops", "color"):
                assert key in props
            assert props["color"].startswith("#") and len(props["color"]) == 7
        else:
            assert geom["type"] == "Point"
            for key in ("site", "name", "kind", "vehicle", "sequence", "arrival", "departure"):
                assert key in props
            for key in ("dropped_parcels", "collected_parcels", "load_after_kg"):
                assert key in props
            assert len(props["arrival"]) == 5 and props["arrival"][2] == ":"
    assert kinds["LineString"] == sum(r.trips for r in plan.routes)
    # the lines follow the same roads the plan measured: trips add up to the route's distance
    trips_km: dict[tuple[str, str], float] = defaultdict(float)
    for feat in doc["features"]:
        props = feat["properties"]
        if feat["geometry"]["type"] == "LineString":
            trips_km[(props["tier"], props["vehicle"])] += props["trip_distance_km"]
    for route in plan.routes:
        assert trips_km[(route.tier.value, route.vehicle)] == pytest.approx(
            route.distance_m / 1000, rel=0.01
        )
    assert kinds["Point"] == sum(len(r.stops) for r in plan.routes)


# ----------------------------------------------------------------------------- manifests
def test_manifest_totals_equal_the_stops_drops_and_collections(
    written: dict[str, Path], plan: Plan, day: DayInput
) -> None:
    for route in plan.routes:
        rows = read_manifest(written[f"manifests/{route.tier.value}-{route.vehicle}.csv"])
        drop: dict[int, int] = defaultdict(int)
        collect: dict[int, int] = defaultdict(int)
        ids: dict[int, set[str]] = defaultdict(set)
        for row in rows:
            seq = int(row["seq"])
            drop[seq] += int(row["drop_parcels"])
            collect[seq] += int(row["collect_parcels"])
            ids[seq] |= {
                i for i in (*row["drop_orders"].split(";"), *row["collect_orders"].split(";")) if i
            }
        assert set(drop) == set(range(len(route.stops)))  # every stop has a row
        for seq, stop in enumerate(route.stops):
            assert drop[seq] == parcels(stop.drop, day)
            assert collect[seq] == parcels(stop.collect, day)
            assert ids[seq] == {*stop.drop, *stop.collect}


def _loading_order_is_reversed(rows: list[dict[str, str]]) -> None:
    by_trip: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for row in rows:
        if row["load_seq"]:
            assert int(row["drop_parcels"]) > 0  # only dropped bags are loaded
            by_trip[row["trip"]].append((int(row["load_seq"]), int(row["seq"])))
        else:
            assert int(row["drop_parcels"]) == 0
    for bags in by_trip.values():
        bags.sort()
        assert [n for n, _ in bags] == list(range(1, len(bags) + 1))
        visits = [seq for _, seq in bags]
        assert visits == sorted(visits, reverse=True)


def test_loading_order_is_the_reverse_of_the_visits(written: dict[str, Path], plan: Plan) -> None:
    for route in plan.routes:
        rows = read_manifest(written[f"manifests/{route.tier.value}-{route.vehicle}.csv"])
        _loading_order_is_reversed(rows)
        if route.tier is Tier.TRUNK_UP:  # nothing goes down on the up wave
            assert not any(row["load_seq"] for row in rows)


def test_loading_order_starts_again_at_each_reload(
    two_trips: Plan, day: DayInput, tmp_path: Path
) -> None:
    files = write_plan_outputs(two_trips, day, tmp_path)
    rows = read_manifest(files["manifests/last_mile-van1.csv"])
    _loading_order_is_reversed(rows)
    loaded = sorted(
        (row["trip"], int(row["load_seq"]), row["site"], row["carrier"])
        for row in rows
        if row["load_seq"]
    )
    assert loaded == [
        ("0", 1, "v1", "yto"),
        ("0", 2, "v1", "zto"),
        ("0", 3, "v2", "sto"),
        ("1", 1, "v3", "yto"),
    ]
    geo = json.loads(files["routes.geojson"].read_text("utf-8"))
    lines = [f for f in geo["features"] if f["geometry"]["type"] == "LineString"]
    assert [f["properties"]["trip"] for f in lines] == [0, 1]


# ----------------------------------------------------------------------------- sheets
@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812341234", "138****1234"),  # the usual 11-digit mobile
        ("+86 138 1234 1234", "138****1234"),  # country code and spaces dropped
        ("0379-67891234", "037*****1234"),  # a 12-digit landline with its area code
        ("12345", "***45"),  # too short to show both ends
        ("", ""),  # no phone given
    ],
)
def test_mask_phone(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


def test_full_phones_only_of_keepers_on_their_drivers_sheets(
    written: dict[str, Path], day: DayInput, plan: Plan
) -> None:
    """A driver's sheet shows the full phone of the keepers it stops at (to call ahead);
    no other file shows a full phone number, and no sheet shows a driver's."""
    drivers = {v.phone for v in day.fleet if v.phone}
    keepers = {s.id: s.phone for s in day.network.sites if s.phone}
    assert drivers and keepers  # the tiny bundle has a driver's and a keeper's phone
    shown = 0
    for name, path in written.items():
        if path.suffix == ".png":
            continue
        text = path.read_text("utf-8-sig")
        assert not any(p in text for p in drivers), path
        allowed: set[str] = set()
        if name.startswith("sheets/"):
            vehicle = path.stem
            allowed = {
                keepers[s.site]
                for r in plan.routes
                if r.vehicle == vehicle
                for s in r.stops
                if s.site in keepers and (s.kind is StopKind.VISIT or s.site == r.home)
            }
            shown += sum(1 for p in allowed if p in text)
        assert not any(p in text for p in set(keepers.values()) - allowed), path
    assert shown >= 1  # some sheet does show a keeper's number
    truck = next(v for v in day.fleet if v.id == "truck1")
    assert mask_phone(truck.phone) in written["sheets/truck1.md"].read_text("utf-8")


def test_chinese_route_sheets_have_translated_labels(
    plan: Plan, day: DayInput, tmp_path: Path
) -> None:
    files = write_plan_outputs(plan, day, tmp_path, lang="zh")
    text = files["sheets/truck1.md"].read_text("utf-8")
    for label in ("路线单", "司机", "装车顺序", "干线下行", "干线上行"):
        assert label in text
    assert "County hub" in text  # site names as the scenario gives them


# ----------------------------------------------------------------------------- summary
def test_summary_names_every_deferral_reason(
    written: dict[str, Path], plan: Plan, day: DayInput
) -> None:
    reasons = {d.reason.value for d in plan.deferred}
    assert reasons  # tiny defers for frequency and reachability
    summary = written["summary.md"].read_text("utf-8")
    text = summary_text(plan, day)
    for reason in reasons:
        assert reason in summary
        assert reason in text
    assert plan.status.value in summary and plan.status.value in text
    assert 5 <= len(text.splitlines()) <= 15


# ----------------------------------------------------------------------------- pictures
@pytest.mark.parametrize("name", ["map.png", "timeline.png"])
def test_pictures_are_real_pngs(written: dict[str, Path], name: str) -> None:
    from PIL import Image

    data = written[name].read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 10_000
    with Image.open(written[name]) as im:
        im.verify()


def test_names_without_glyphs_draw_without_warnings(
    plan: Plan, day: DayInput, tmp_path: Path
) -> None:
    """Chinese site names: drawn with a CJK font if the machine has one, else as ids."""
    net = day.network
    sites = tuple(replace(s, name=f"站点{s.id}镇") for s in net.sites)
    zh_day = replace(day, name="偃师", network=replace(net, sites=sites))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        files = write_plan_outputs(plan, zh_day, tmp_path, lang="zh")
    assert files["map.png"].read_bytes()[:8] == PNG_SIGNATURE


def test_on_time_counts_the_village_runs_like_the_checker(plan: Plan, day: DayInput) -> None:
    """One rule for planner, checker and KPI: opening hours bind the village runs' stops, and
    a trunk may reach a station before it opens (the checker accepts it, so does the KPI)."""
    from dataclasses import replace as _replace

    from routing import Tier, check_plan

    early = tuple(
        _replace(r, stops=tuple(_replace(s, start_s=min(s.start_s, 3600)) for s in r.stops))
        if r.tier is Tier.TRUNK_DOWN
        else r
        for r in plan.routes
    )
    shifted = _replace(plan, routes=early)
    runs = sum(
        1
        for r in plan.routes
        if r.tier is Tier.LAST_MILE
        for s in r.stops
        if s.kind.value == "visit"
    )
    assert f"of {runs} stops start within opening hours" in summary_text(shifted, day)
    codes = {
        v.code
        for v in check_plan(shifted, day.network, day.fleet, day.policy, day.orders).violations
    }
    assert "window" not in codes
