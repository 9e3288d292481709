"""scenarios.region: prefectures and provinces as counties side by side, one bundle each.

Regions here are tiny (two or three counties of ~150 villages) so the file stays fast; the
10-county generation is timed in benchmarks/bench_region.py. The checks are the generator's
realism (per-county counts within DOMAIN.md's ranges, counties that do not overlap, roads
between neighbouring hubs, a county that plans with no parcel deferred for time, like the
built-in county), the folder's format and determinism, and the reader's errors.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections import Counter
from pathlib import Path

import pytest
import shapely

from dispatch_api.cli import main
from networks import InvalidScenario, SiteKind
from routing import check_plan, plan_day
from routing.model import Direction
from routing.plan import DeferralReason
from scenarios import region as region_module
from scenarios.bundle import Scenario, load_bundle
from scenarios.demand import generate_demand
from scenarios.region import (
    REGION_FILE,
    REGION_GEOJSON,
    RegionParams,
    generate_region,
    load_region,
    resolve_region,
    trunk_reach_s,
)

TINY = RegionParams(counties=3, seed=2, name="tiny-prefecture", villages=(150, 170))
"""Three small counties on a 2 × 2 grid (so one county has two road neighbours, one not
adjacent to another) with a prefecture hub."""


@pytest.fixture(scope="module")
def tiny_region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny prefecture, generated once for the module."""
    return generate_region(TINY, tmp_path_factory.mktemp("region") / "tiny")


@pytest.fixture(scope="module")
def counties(tiny_region: Path) -> list[Scenario]:
    """Each county's bundle, loaded and validated as `countyroute plan` would."""
    return [load_bundle(p) for p in load_region(tiny_region).county_paths]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ----------------------------------------------------------------------------- the format
def test_region_folder_holds_one_bundle_per_county_and_region_files(tiny_region: Path) -> None:
    doc = tomllib.loads((tiny_region / REGION_FILE).read_text(encoding="utf-8"))
    assert doc["name"] == "tiny-prefecture"
    assert (doc["date"], doc["seed"]) == ("2026-12-01", 2)
    assert doc["counties"] == ["county-01", "county-02", "county-03"]
    subfolders = sorted(p.name for p in tiny_region.iterdir() if p.is_dir())
    assert subfolders == doc["counties"]
    for c in doc["counties"]:
        names = sorted(p.name for p in (tiny_region / c).iterdir())
        assert names == ["fleet.csv", "network.geojson", "orders.csv", "policy.toml"]
    assert (tiny_region / REGION_GEOJSON).is_file()
    region = load_region(tiny_region)
    assert region.counties == tuple(doc["counties"])
    assert (region.name, region.date, region.seed) == ("tiny-prefecture", "2026-12-01", 2)
    assert region.prefecture is not None and region.prefecture.kind == "prefecture"
    assert [leg.county for leg in region.prefecture.legs] == doc["counties"]


def test_region_summary_matches_the_bundles(tiny_region: Path, counties: list[Scenario]) -> None:
    region = load_region(tiny_region)
    assert region.prefecture is not None
    for summary, leg, sc in zip(region.summaries, region.prefecture.legs, counties, strict=True):
        net = sc.network
        assert summary.villages == sum(1 for s in net.sites if s.is_village)
        assert summary.stations == len(net.stations)
        assert summary.vehicles == len(sc.fleet)
        assert summary.orders == len(sc.orders)
        down = sum(o.parcels for o in sc.orders if o.direction is Direction.DOWN)
        assert summary.parcels_down == leg.down_parcels == down
        assert leg.hub == summary.hub == net.hubs[0].id
        assert sc.date == "2026-12-01"
    # the region's totals are its counties' (three counties of 150–170 villages)
    villages = sum(s.villages for s in region.summaries)
    assert 450 <= villages <= 510
    doc = tomllib.loads((tiny_region / REGION_FILE).read_text(encoding="utf-8"))
    assert f"3 synthetic counties, {villages} villages" in doc["description"]
    # another day's orders come from the county's demand seed: the same seed gives today's
    first = region.summaries[0]
    assert first.demand_seed is not None
    assert generate_demand(counties[0], "2026-12-01", first.demand_seed) == counties[0].orders


def test_generate_region_is_deterministic(tmp_path: Path, tiny_region: Path) -> None:
    params = RegionParams(counties=1, seed=3, name="same", villages=(150, 150))
    first = generate_region(params, tmp_path / "first")
    again = generate_region(params, tmp_path / "again")
    assert _files(again) == _files(first)  # byte for byte
    orders = Path("county-01") / "orders.csv"
    assert (tiny_region / orders).read_bytes() != (first / orders).read_bytes()  # seed 2


# ----------------------------------------------------------------------------- realism
def test_counties_have_domain_counts(counties: list[Scenario]) -> None:
    names = set()
    for sc in counties:
        net = sc.network
        kinds = Counter(s.kind for s in net.sites)
        villages = kinds[SiteKind.VILLAGE_POINT] + kinds[SiteKind.VILLAGE]
        assert kinds[SiteKind.HUB] == 1  # each county its own hub
        assert 150 <= villages <= 170
        assert 8 <= kinds[SiteKind.STATION] <= 20
        assert 15 <= villages / kinds[SiteKind.STATION] <= 25  # DOMAIN: a station per 15–25
        assert 0.6 <= kinds[SiteKind.VILLAGE_POINT] / villages <= 0.7  # ≥ 60 % policy target
        assert 0.05 <= sum(s.poor for s in net.sites) / villages <= 0.2
        down = sum(o.parcels for o in sc.orders if o.direction is Direction.DOWN)
        assert 15 <= down / villages <= 150  # DOMAIN: ~50 a village a day (5–150)
        classes = Counter(v.vehicle_class for v in sc.fleet)
        assert classes["truck"] >= 2 and classes["van"] >= 2 * kinds[SiteKind.STATION]
        hub = net.hubs[0]
        assert hub.name.endswith("县物流配送中心")  # in its county town, named after it
        # every station within the reference county's trunk reach (41 min) plus a margin
        assert trunk_reach_s(sc) <= TINY.max_trunk_s == 45 * 60
        names.add(hub.name)
    assert len(names) == len(counties)  # county names unique


def test_counties_lie_side_by_side_without_overlapping(counties: list[Scenario]) -> None:
    outlines = [shapely.Polygon(sc.network.boundary) for sc in counties]
    for i, a in enumerate(outlines):
        for b in outlines[i + 1 :]:
            assert not a.intersects(b)
            assert a.distance(b) < 0.2  # degrees: neighbours, not scattered (~20 km)


def test_inter_county_roads_join_neighbouring_hubs(
    tiny_region: Path, counties: list[Scenario]
) -> None:
    geo = json.loads((tiny_region / REGION_GEOJSON).read_text(encoding="utf-8"))
    feats = geo["features"]
    hubs = {
        f"county-0{i + 1}/{sc.network.hubs[0].id}": sc.network.hubs[0]
        for i, sc in enumerate(counties)
    }
    roads = [f for f in feats if f["properties"]["kind"] == "road"]
    county_roads = {
        frozenset((r["properties"]["from"], r["properties"]["to"]))
        for r in roads
        if "ph" not in (r["properties"]["from"], r["properties"]["to"])
    }
    # 2 × 2 grid: 01 | 02 over 03; neighbours east and south, never the diagonal
    assert county_roads == {
        frozenset(("county-01/h1", "county-02/h1")),
        frozenset(("county-01/h1", "county-03/h1")),
    }
    for r in roads:
        props = r["properties"]
        a, b = r["geometry"]["coordinates"][0], r["geometry"]["coordinates"][-1]
        for end, node in ((a, props["from"]), (b, props["to"])):
            if node in hubs:
                assert end == [hubs[node].x, hubs[node].y]
        assert props["length_m"] > 0 and props["time_s"] > 0
    # every line-haul leg follows roads from the prefecture hub, and its numbers add up
    region = load_region(tiny_region)
    assert region.prefecture is not None
    by_id = {r["id"]: r["properties"] for r in roads}
    for leg in region.prefecture.legs:
        assert leg.roads and all(rid in by_id for rid in leg.roads)
        assert leg.length_m == sum(by_id[rid]["length_m"] for rid in leg.roads)
        assert leg.arrive_s - leg.depart_s == leg.time_s
        assert 4 * 3600 <= leg.arrive_s <= 6.5 * 3600  # DOMAIN: line-hauls arrive 04:00–06:30
        ends = {by_id[leg.roads[0]]["from"], by_id[leg.roads[0]]["to"]}
        assert "ph" in ends


def test_a_generated_county_plans_without_deferring_for_time(counties: list[Scenario]) -> None:
    sc = counties[0]
    day = sc.day()
    plan = plan_day(day, time_limit_s=2, work=20)
    report = check_plan(plan, day.network, day.fleet, day.policy, day.orders)
    assert report.ok
    reasons = Counter(d.reason for d in plan.deferred)
    # the built-in county defers nothing for time; a county-sized generated county neither
    assert reasons[DeferralReason.TIME] == 0
    assert reasons[DeferralReason.UNREACHABLE] == 0


# ----------------------------------------------------------------------------- reading
def _fake_region(folder: Path, toml_text: str | None, counties: tuple[str, ...]) -> Path:
    folder.mkdir()
    for c in counties:
        (folder / c).mkdir()
        (folder / c / "network.geojson").write_text("{}", encoding="utf-8")
    if toml_text is not None:
        (folder / REGION_FILE).write_text(toml_text, encoding="utf-8")
    return folder


GOOD = 'name = "r"\ndate = "2026-12-01"\nseed = 1\ncounties = ["a", "b"]\n'
LEG = '[[prefecture.legs]]\ncounty = "{c}"\nhub = "h1"\nlength_m = 1000\ntime_s = {t}\ndepart_s = 0\narrive_s = 60\n'
TIER = '[prefecture]\nenabled = true\nkind = "{k}"\nhub = "ph"\nlon = 1.0\nlat = 2.0\n'


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('name = "r"\ndate = ', ""),  # not TOML at all: the file is named, no field
        (GOOD.replace('name = "r"\n', ""), "'name'"),  # a required field missing
        (GOOD.replace('"2026-12-01"', '"1 Dec"'), "'date'"),  # a date that is not ISO
        (GOOD.replace("seed = 1", 'seed = "one"'), "'seed'"),  # the wrong type
        (GOOD.replace('["a", "b"]', "[]"), "'counties'"),  # no county at all
        (GOOD.replace('["a", "b"]', '["a", "a"]'), "'counties[1]'"),  # a county twice
        (GOOD.replace('["a", "b"]', '["a", "c"]'), "'counties[1]'"),  # a folder with no bundle
        (GOOD.replace('["a", "b"]', '["a", "../b"]'), "'counties[1]'"),  # not a subfolder
        (GOOD + TIER.format(k="county") + LEG.format(c="a", t=60), "'prefecture.kind'"),
        (GOOD + TIER.format(k="prefecture") + LEG.format(c="z", t=60), "legs[0].county'"),
        (GOOD + TIER.format(k="prefecture") + LEG.format(c="a", t=-5), "legs[0].time_s'"),
        (GOOD + TIER.format(k="prefecture"), "'prefecture.legs'"),  # a tier without legs
        (GOOD + '[county.a]\nname = "x"\n', "'county.a.villages'"),  # a summary missing a field
    ],
)
def test_load_region_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    folder = _fake_region(tmp_path / "bad", text, ("a", "b"))
    with pytest.raises(InvalidScenario) as err:
        load_region(folder)
    message = str(err.value)
    assert str(folder / REGION_FILE) in message
    assert field in message


def test_load_region_without_region_toml_finds_the_bundles(tmp_path: Path) -> None:
    folder = _fake_region(tmp_path / "loose", None, ("b", "a"))
    (folder / "notes").mkdir()  # no network.geojson: not a county
    region = load_region(folder)
    assert region.counties == ("a", "b") and region.date is None and region.prefecture is None
    with pytest.raises(InvalidScenario, match="not a region"):
        load_region(_fake_region(tmp_path / "empty", None, ()))


def test_generate_region_will_not_overwrite_other_folders(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(InvalidScenario, match="not a region"):
        generate_region(RegionParams(counties=1), tmp_path / "docs")
    assert (tmp_path / "docs" / "keep.txt").read_text(encoding="utf-8") == "mine"


# ----------------------------------------------------------------------------- names
def test_named_region_is_generated_once_then_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(region_module.REGIONS_ENV, str(tmp_path / "cache"))
    made: list[RegionParams] = []
    real = region_module.generate_region

    def small(params: RegionParams, out: Path, **_: object) -> Path:
        made.append(params)
        return real(
            RegionParams(
                counties=params.counties, seed=params.seed, name=params.name, villages=(150, 150)
            ),
            out,
        )

    monkeypatch.setattr(region_module, "generate_region", small)
    path = resolve_region("province-1")
    assert path == tmp_path / "cache" / "province-1"
    region = load_region(path)
    assert region.name == "province-1" and region.seed == 1 and len(region.counties) == 1
    assert [(p.counties, p.seed, p.kind) for p in made] == [(1, 1, "province")]
    assert resolve_region("province-1") == path and len(made) == 1  # reused, not redone
    assert resolve_region(path) == path  # a path resolves to itself
    with pytest.raises(InvalidScenario, match="prefecture-<N>"):
        resolve_region("prefecture-x")


# ----------------------------------------------------------------------------- CLI
def test_cli_generates_a_region_without_prefecture_hub_and_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "flat"
    args = ["--counties", "2", "--seed", "5", "--villages", "150-150", "--no-prefecture-hub"]
    assert main(["region", "generate", *args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "county-02" in printed and "prefecture tier: none" in printed
    region = load_region(out)
    assert region.prefecture is None and region.name == "flat"
    geo = json.loads((out / REGION_GEOJSON).read_text(encoding="utf-8"))
    kinds = Counter(f["properties"]["kind"] for f in geo["features"])
    assert kinds == {"county": 2, "county_hub": 2, "road": 1}  # only the road between them
    assert main(["region", "show", str(out)]) == 0
    shown = capsys.readouterr().out
    row = next(line for line in shown.splitlines() if line.startswith("county-01"))
    assert row.split()[2] == "150"  # villages
    loose = tmp_path / "loose"  # bundles without region.toml: counted from the bundles
    shutil.copytree(out / "county-02", loose / "a")
    assert main(["region", "show", str(loose)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("a "))
    assert row.split()[2:4] == ["150", "8"]  # villages, stations
    assert main(["region", "show", str(tmp_path / "nowhere")]) == 2
    assert "no region" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["region", "generate", "--counties", "0", "--out", str(out)])
    assert stop.value.code == 2
