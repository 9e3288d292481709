"""networks.network, sites and roads: validation on construction, lookups, access rules."""

from __future__ import annotations

import pickle
from dataclasses import replace

import pytest

from networks import (
    DEFAULT_VEHICLE_CLASSES,
    Crs,
    InvalidScenario,
    Network,
    Road,
    RoadClass,
    Site,
    SiteKind,
    Terrain,
    format_clock,
    parse_clock,
)
from networks.coords import LocalProjection
from networks.roads import road_graph
from scenarios.bundle import Scenario

HUB = Site("h", "Hub", SiteKind.HUB, 0.0, 0.0)
STATION = Site("s", "Station", SiteKind.STATION, 100.0, 0.0, parent="h")
POINT = Site("v", "Village", SiteKind.VILLAGE_POINT, 200.0, 0.0, parent="s")
ROAD = Road("r", ((0.0, 0.0), (300.0, 0.0)))


def _net(*sites: Site, roads: tuple[Road, ...] = (ROAD,), **kw: object) -> Network:
    return Network("n", Crs.PLANAR, sites or (HUB, STATION, POINT), roads, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sites", "roads", "kw", "field", "words"),
    [
        # a site without an id
        ((replace(HUB, id=""), STATION, POINT), (ROAD,), {}, "id", "empty"),
        # two roads with one id
        (
            (HUB, STATION, POINT),
            (ROAD, replace(ROAD, coords=((0.0, 0.0), (0.0, 9.0)))),
            {},
            "id",
            "duplicate road",
        ),
        # a road with a single coordinate
        ((HUB, STATION, POINT), (replace(ROAD, coords=((0.0, 0.0),)),), {}, "coordinates", "two"),
        # a bridge limit of zero tonnes
        ((HUB, STATION, POINT), (replace(ROAD, max_weight_t=0.0),), {}, "max_weight_t", "> 0"),
        # a negative per-class speed override
        (
            (HUB, STATION, POINT),
            (replace(ROAD, speeds_kmh=(("van", -5.0),)),),
            {},
            "speeds_kmh",
            "van",
        ),
        # a site that closes before it opens
        (
            (HUB, STATION, replace(POINT, opens_s=18 * 3600, closes_s=9 * 3600)),
            (ROAD,),
            {},
            "closes",
            "opens",
        ),
        # negative service time
        (
            (HUB, STATION, replace(POINT, service_fixed_s=-1)),
            (ROAD,),
            {},
            "service_fixed_s",
            ">= 0",
        ),
        # only villages may be flagged poor
        ((HUB, replace(STATION, poor=True), POINT), (ROAD,), {}, "poor", "villages"),
        # a station without a hub
        ((HUB, replace(STATION, parent=None), POINT), (ROAD,), {}, "parent", "needs a parent"),
        # NaN coordinates
        ((HUB, STATION, replace(POINT, x=float("nan"))), (ROAD,), {}, "coordinates", "finite"),
        # max_snap_m must be positive
        ((HUB, STATION, POINT), (ROAD,), {"max_snap_m": 0.0}, "max_snap_m", "> 0"),
        # two vehicle classes with one name
        (
            (HUB, STATION, POINT),
            (ROAD,),
            {"vehicle_classes": (DEFAULT_VEHICLE_CLASSES["van"],) * 2},
            "name",
            "distinct",
        ),
    ],
)
def test_invalid_networks_are_refused(
    sites: tuple[Site, ...], roads: tuple[Road, ...], kw: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(InvalidScenario) as info:
        _net(*sites, roads=roads, **kw)
    assert info.value.field == field
    assert words in str(info.value)


def test_out_of_range_wgs84_latitude_is_refused() -> None:
    with pytest.raises(InvalidScenario, match=r"latitude 91"):
        Network("w", Crs.WGS84, (replace(HUB, x=112.0, y=91.0),))


def test_planar_coordinates_have_no_range() -> None:
    assert _net(replace(HUB, x=1e7), STATION, POINT).site("h").x == 1e7


def test_lookups(tiny: Scenario) -> None:
    net = tiny.network
    assert [s.id for s in net.hubs] == ["h"]
    assert [s.id for s in net.stations] == ["s1", "s2"]
    assert [s.id for s in net.children("s1")] == ["v1", "v2", "v3"]
    assert [s.id for s in net.children("v4", SiteKind.VILLAGE)] == ["v7"]
    assert net.site("v7").is_village and not net.site("b1").is_village
    with pytest.raises(KeyError, match="'nowhere'"):
        net.site("nowhere")
    with pytest.raises(KeyError, match="'bicycle'"):
        net.vehicle_class("bicycle")


def test_version_is_a_content_hash(tiny: Scenario) -> None:
    net = tiny.network
    same = replace(net, boundary=((0.0, 0.0), (1.0, 0.0), (1.0, 1.0)))  # display only
    assert same.version == net.version
    measured = replace(net, roads=tuple(replace(r, length_m=r.length_m + 1) for r in net.roads))
    assert measured.version == net.version  # lengths are derived, not content
    roads = tuple(replace(r, closed=True) if r.id == "L1" else r for r in net.roads)
    assert replace(net, roads=roads).version != net.version


def test_invalid_scenario_pickles_with_its_location() -> None:
    exc = InvalidScenario("bad", source="fleet.csv", location="row 2", field="home")
    back = pickle.loads(pickle.dumps(exc))
    assert (back.source, back.location, back.field, str(back)) == (
        "fleet.csv",
        "row 2",
        "home",
        "fleet.csv, row 2, field 'home': bad",
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("07:30", 27000), ("00:00", 0), ("24:00", 86400), ("06:05:09", 21909), (" 8:00 ", 28800)],
)
def test_parse_and_format_clock(text: str, seconds: int) -> None:
    assert parse_clock(text) == seconds
    assert parse_clock(format_clock(seconds)) == seconds


@pytest.mark.parametrize("text", ["7.30", "07:60", "49:00", "07:30:60", "", "-1:00", "7h"])
def test_parse_clock_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_clock(text)


@pytest.mark.parametrize(
    ("road", "allowed"),
    [
        (ROAD, {"truck", "van", "tricycle"}),  # no restriction
        (replace(ROAD, closed=True), set()),  # closed to everyone
        (replace(ROAD, access=frozenset({"tricycle"})), {"tricycle"}),  # narrow lane
        (replace(ROAD, max_weight_t=3.0), {"van", "tricycle"}),  # 3 t bridge: no 4.5 t trucks
        (replace(ROAD, max_weight_t=4.5), {"truck", "van", "tricycle"}),  # the limit itself is fine
    ],
)
def test_road_access(road: Road, allowed: set[str]) -> None:
    got = {name for name, vc in DEFAULT_VEHICLE_CLASSES.items() if road.allows(vc)}
    assert got == allowed
    for name, vc in DEFAULT_VEHICLE_CLASSES.items():
        assert (road.speed_kmh(vc) > 0) == (name in allowed)


def test_road_speed_override_and_terrain() -> None:
    van = DEFAULT_VEHICLE_CLASSES["van"]
    hill = replace(ROAD, road_class=RoadClass.COUNTY, terrain=Terrain.HILLS)
    assert hill.speed_kmh(van) == pytest.approx(40 * 0.75)
    assert replace(hill, speeds_kmh=(("van", 12.0),)).speed_kmh(van) == 12.0


def test_road_graph_keeps_parallel_roads(tiny: Scenario) -> None:
    g = road_graph(tiny.network.roads, LocalProjection(Crs.PLANAR))
    between = g.get_edge_data((0.0, 3000.0), (0.0, 3400.0))
    assert set(between) == {"bridge", "dam"}
    assert between["bridge"]["length_m"] == pytest.approx(400)
    assert between["dam"]["length_m"] == pytest.approx(2 * (1500**2 + 200**2) ** 0.5)
