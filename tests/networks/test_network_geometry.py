"""networks.geometry: road-following route lines, service areas, coverage distances."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
import shapely

from networks import (
    UNREACHABLE,
    Crs,
    LocalProjection,
    Network,
    UnreachableSite,
    nearest_point_distance_m,
    route_line,
    service_area,
)
from scenarios.bundle import Scenario


@pytest.mark.parametrize(
    ("cls", "stops"),
    [
        ("van", ["h", "s2"]),
        ("truck", ["h", "s2"]),  # over the dam road, not the 3 t bridge
        ("truck", ["s2", "h"]),
        ("van", ["s1", "v1", "v2", "s1"]),
        ("tricycle", ["s1", "v3", "v1", "s1"]),
        ("van", ["s2", "v4", "v7", "v5", "v6", "s2"]),
    ],
)
def test_route_line_follows_the_roads_of_the_matrix(
    tiny: Scenario, cls: str, stops: list[str]
) -> None:
    net = tiny.network
    line = route_line(net, stops, cls)
    first, last = net.site(stops[0]), net.site(stops[-1])
    assert line.coords[0] == (first.x, first.y)
    assert line.coords[-1] == (last.x, last.y)
    straight = sum(
        math.dist((net.site(a).x, net.site(a).y), (net.site(b).x, net.site(b).y))
        for a, b in itertools.pairwise(stops)
    )
    assert line.length >= straight
    m = net.road_index.matrix(tuple(dict.fromkeys(stops)), cls)
    by_matrix = sum(
        int(m.distance_m[m.position(a), m.position(b)]) for a, b in itertools.pairwise(stops)
    )
    assert line.length == pytest.approx(by_matrix, abs=len(stops))


def test_route_line_passes_every_stop(tiny: Scenario) -> None:
    stops = ["s2", "v4", "v5", "s2"]
    line = route_line(tiny.network, stops, "van")
    for sid in stops:
        s = tiny.network.site(sid)
        assert line.distance(shapely.Point(s.x, s.y)) < 1e-9


def test_truck_route_avoids_the_weak_bridge(tiny: Scenario) -> None:
    line = route_line(tiny.network, ["h", "s2"], "truck")
    assert any(x > 1000 for x, _ in line.coords)  # the dam road bends out to x = 1500
    assert not any(x > 1000 for x, _ in route_line(tiny.network, ["h", "s2"], "van").coords)


def test_route_line_to_an_unreachable_site_raises(tiny: Scenario) -> None:
    with pytest.raises(UnreachableSite, match="'v3'"):
        route_line(tiny.network, ["s1", "v3"], "van")


def test_route_line_of_one_stop_is_a_point_line(tiny: Scenario) -> None:
    line = route_line(tiny.network, ["s1"], "van")
    assert line.length == 0
    assert line.coords[0] == (4800.0, -40.0)


def test_route_line_without_roads_is_straight(tiny: Scenario) -> None:
    net = replace(tiny.network, roads=())
    line = route_line(net, ["h", "s1", "h"], "van")
    assert line.length == pytest.approx(2 * math.dist((200, -30), (4800, -40)))


@pytest.mark.parametrize(
    ("station", "inside", "outside"),
    [
        ("s1", ["s1", "v1", "v2", "v3"], ["s2", "v4", "v6"]),
        ("s2", ["s2", "v4", "v5", "v6", "v7"], ["s1", "v1", "v3"]),
    ],
)
def test_service_area_holds_its_station_and_villages(
    tiny: Scenario, station: str, inside: list[str], outside: list[str]
) -> None:
    area = service_area(tiny.network, station)
    assert area.is_valid
    for sid in inside:
        s = tiny.network.site(sid)
        assert area.contains(shapely.Point(s.x, s.y)), sid
    for sid in outside:
        s = tiny.network.site(sid)
        assert not area.contains(shapely.Point(s.x, s.y)), sid


def test_service_area_margin_is_in_metres_for_wgs84(tiny: Scenario) -> None:
    # The same network in degrees around Luoyang: the area still holds its sites, and its
    # buffer reaches about margin_m beyond the outermost village.
    proj = LocalProjection(Crs.WGS84, 112.79, 34.73)

    def to_deg(x: float, y: float) -> tuple[float, float]:
        lon, lat = proj.from_metres(np.array([x]), np.array([y]))
        return float(lon[0]), float(lat[0])

    sites = tuple(
        replace(s, x=to_deg(s.x, s.y)[0], y=to_deg(s.x, s.y)[1]) for s in tiny.network.sites
    )
    net = Network("deg", Crs.WGS84, sites)
    area = service_area(net, "s2", margin_m=500)
    for sid in ("s2", "v4", "v5", "v6", "v7"):
        s = net.site(sid)
        assert area.contains(shapely.Point(s.x, s.y)), sid
    west_lon = min(lon for lon, _ in area.exterior.coords)
    assert west_lon == pytest.approx(to_deg(-2800 - 500, 5950)[0], abs=2e-4)


def test_nearest_point_distance_uses_roads(tiny: Scenario) -> None:
    # v7 sits 100 m off the west lane; v5 is 600 m along it (+50 off-road), v4 700 m (+40).
    d = nearest_point_distance_m(tiny.network, ["v7"], ["v4", "v5"])
    assert d.tolist() == [750]
    d = nearest_point_distance_m(tiny.network, ["v7", "v6"], ["v4"])
    assert d.tolist() == [840, 60 + 1500 + 1500 + 40]


def test_nearest_point_distance_unreachable_and_empty(tiny: Scenario) -> None:
    assert nearest_point_distance_m(tiny.network, ["v3"], ["v1"], "van").tolist() == [UNREACHABLE]
    assert nearest_point_distance_m(tiny.network, ["v3"], ["v1"], "tricycle").tolist() == [
        50 + 2000 + 1500 + 50
    ]
    assert nearest_point_distance_m(tiny.network, ["v1", "v2"], []).tolist() == [UNREACHABLE] * 2
