"""networks.matrices snapping: where sites meet roads, and sites no road comes near."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from networks import (
    UNREACHABLE,
    Crs,
    Network,
    Road,
    RoadClass,
    Site,
    SiteKind,
    UnreachableSite,
)
from scenarios.bundle import Scenario


@pytest.mark.parametrize(
    ("site", "road", "distance_m", "along_m"),
    [
        ("h", "r1", 30, 200),
        ("s1", "r1", 40, 4800),
        ("s2", "r3", 40, 2400),
        ("v1", "L1", 50, 1500),
        ("v3", "L2", 50, 2000),
        ("v6", "L5", 60, 1500),
        ("v7", "L4", 100, 2200),
        ("b1", "r1", 45, 2500),
    ],
)
def test_tiny_snaps(
    tiny: Scenario, site: str, road: str, distance_m: float, along_m: float
) -> None:
    snap = tiny.network.road_index.snaps[site]
    assert (snap.site_id, snap.road_id) == (site, road)
    assert snap.distance_m == pytest.approx(distance_m)
    assert snap.along_m == pytest.approx(along_m)


def test_every_site_is_snapped(tiny: Scenario) -> None:
    assert set(tiny.network.road_index.snaps) == {s.id for s in tiny.network.sites}


def test_site_beyond_max_snap_raises_naming_the_site(tiny: Scenario) -> None:
    far = replace(tiny.network.site("v6"), x=1200.0)  # 1200 m east of the ridge lane
    sites = tuple(far if s.id == "v6" else s for s in tiny.network.sites)
    net = replace(tiny.network, sites=sites)
    with pytest.raises(UnreachableSite) as info:
        _ = net.road_index
    assert "'v6'" in str(info.value)
    assert info.value.field == "coordinates"
    assert "1200 m" in str(info.value) and "500" in str(info.value)
    assert "\n" not in str(info.value)


def test_site_just_inside_max_snap_is_accepted(tiny: Scenario) -> None:
    near = replace(tiny.network.site("v6"), x=499.0)
    sites = tuple(near if s.id == "v6" else s for s in tiny.network.sites)
    net = replace(tiny.network, sites=sites)
    assert net.road_index.snaps["v6"].distance_m == pytest.approx(499.0)


def _two_roads(site_xy: tuple[float, float], closed_first: bool, angle_deg: float) -> Network:
    """An open road ending at the junction (1000, 0) and a closed one leaving it."""
    t = math.radians(angle_deg)
    open_road = Road("open", ((0.0, 0.0), (1000.0, 0.0)), RoadClass.TOWN)
    shut = Road(
        "shut",
        ((1000.0, 0.0), (1000 + 1000 * math.cos(t), 1000 * math.sin(t))),
        RoadClass.TOWN,
        closed=True,
    )
    roads = (shut, open_road) if closed_first else (open_road, shut)
    sites = (
        Site("h", "H", SiteKind.HUB, 0.0, -20.0),
        Site("s", "S", SiteKind.STATION, *site_xy, parent="h"),
    )
    return Network("junction", Crs.PLANAR, sites, roads)


@pytest.mark.parametrize("closed_first", [True, False])
@pytest.mark.parametrize("angle_deg", [200, 240, 270, 300, 330])
def test_site_nearest_to_a_junction_reaches_the_open_road(
    closed_first: bool, angle_deg: float
) -> None:
    # The site lies 6 m beyond the junction, equally near both roads; whichever the nearest
    # road search picks, the foot is the junction and the open road must stay usable.
    t = math.radians(angle_deg)
    bx, by = math.cos(t) - 1, math.sin(t)
    norm = math.hypot(bx, by)
    net = _two_roads((1000 - 6 * bx / norm, -6 * by / norm), closed_first, angle_deg)
    m = net.road_index.matrix(("h", "s"), "van")
    assert m.distance_m[0, 1] == 20 + 1000 + 6


def test_site_exactly_on_a_junction_has_zero_length_legs() -> None:
    # Zero-length arcs must stay arcs (and add no length).
    net = _two_roads((1000.0, 0.0), closed_first=True, angle_deg=90)
    assert net.road_index.snaps["s"].distance_m == 0
    m = net.road_index.matrix(("h", "s"), "tricycle")
    assert m.distance_m[0, 1] == 1020
    assert m.distance_m[1, 0] == 1020


def test_site_on_a_closed_road_is_cut_off() -> None:
    # Snapping ignores access by design: a site nearest a closed road's middle is unreachable.
    net = _two_roads((1005.0, 500.0), closed_first=False, angle_deg=90)
    assert net.road_index.snaps["s"].road_id == "shut"
    assert net.road_index.matrix(("h", "s"), "van").distance_m[0, 1] == UNREACHABLE


def test_wgs84_snap_distance_is_in_metres() -> None:
    # 0.001° of latitude north of an east-west road is 111.2 m.
    road = Road("r", ((112.70, 34.70), (112.80, 34.70)), RoadClass.COUNTY)
    sites = (
        Site("h", "H", SiteKind.HUB, 112.71, 34.70),
        Site("s", "S", SiteKind.STATION, 112.75, 34.701, parent="h"),
    )
    net = Network("w", Crs.WGS84, sites, (road,))
    assert net.road_index.snaps["s"].distance_m == pytest.approx(111.2, abs=0.2)
    # along the road: 0.05° of longitude at 34.7° N
    expected_along = 0.05 * math.pi / 180 * 6_371_008.8 * math.cos(math.radians(34.7))
    assert net.road_index.snaps["s"].along_m == pytest.approx(expected_along, rel=1e-3)
