"""networks.coords: GCJ-02, great-circle distance and the local metric projection."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from networks.coords import (
    EARTH_RADIUS_M,
    Crs,
    LocalProjection,
    gcj02_to_wgs84,
    haversine_m,
    wgs84_to_gcj02,
)

# Published WGS-84 -> GCJ-02 pairs from independent implementations' test suites.
PUBLISHED_PAIRS = [
    # eviltransform (googollee), python tests: Shanghai
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    # eviltransform: Shenzhen
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    # eviltransform: Beijing
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    # wandergis/coordtransform test/app.js: Tian'anmen
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
]


@pytest.mark.parametrize(("wgs", "gcj"), PUBLISHED_PAIRS)
def test_wgs84_to_gcj02_matches_published_pairs(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    lon, lat = wgs84_to_gcj02(*wgs)
    assert lon == pytest.approx(gcj[0], abs=1e-9)
    assert lat == pytest.approx(gcj[1], abs=1e-9)


@pytest.mark.parametrize(("wgs", "gcj"), PUBLISHED_PAIRS)
def test_gcj02_to_wgs84_inverts_published_pairs(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    lon, lat = gcj02_to_wgs84(*gcj)
    assert lon == pytest.approx(wgs[0], abs=1e-8)
    assert lat == pytest.approx(wgs[1], abs=1e-8)


def test_gcj02_to_wgs84_matches_gcoord_reference() -> None:
    # hujiulong/gcoord test/unit/crs/GCJ02.spec.js: GCJ02 -> WGS84 of (123, 45), 5 decimals.
    lon, lat = gcj02_to_wgs84(123.0, 45.0)
    assert lon == pytest.approx(122.99395597, abs=5e-6)
    assert lat == pytest.approx(44.99804071, abs=5e-6)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (112.79, 34.727),  # Yanshi county seat
        (112.45, 34.62),  # Luoyang city
        (112.0, 34.2),  # Luoyang's south-west hills
    ],
)
def test_gcj02_offset_in_luoyang_is_a_few_hundred_metres_east(lon: float, lat: float) -> None:
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert 0.005 < glon - lon < 0.007
    assert abs(glat - lat) < 0.002
    assert 300 < float(haversine_m(lon, lat, glon, glat)) < 700


@given(
    lon=st.floats(min_value=73.0, max_value=135.0),
    lat=st.floats(min_value=18.0, max_value=53.0),
)
def test_gcj02_round_trip_inside_china(lon: float, lat: float) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert back[0] == pytest.approx(lon, abs=1e-6)
    assert back[1] == pytest.approx(lat, abs=1e-6)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (2.3522, 48.8566),  # Paris
        (-74.006, 40.7128),  # New York
        (139.6917, 35.6895),  # Tokyo: east of the GCJ-02 box
        (112.79, -34.727),  # southern hemisphere, Luoyang's longitude
    ],
)
def test_positions_outside_china_are_unchanged(lon: float, lat: float) -> None:
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_haversine_london_paris() -> None:
    # Great-circle London (Trafalgar Sq.) - Paris (Notre-Dame) is about 343.5 km.
    d = float(haversine_m(-0.1278, 51.5074, 2.3522, 48.8566))
    assert d == pytest.approx(343_500, rel=2e-3)


def test_haversine_quarter_meridian_and_one_degree() -> None:
    assert float(haversine_m(10.0, 0.0, 10.0, 90.0)) == pytest.approx(math.pi / 2 * EARTH_RADIUS_M)
    # One degree of longitude at 60° N is half a degree of the equator.
    assert float(haversine_m(0.0, 60.0, 1.0, 60.0)) == pytest.approx(
        float(haversine_m(0.0, 0.0, 0.5, 0.0)), rel=1e-4
    )


def test_haversine_broadcasts_and_is_symmetric() -> None:
    lons = np.array([112.0, 112.5, 113.0])
    lats = np.array([34.0, 34.5, 35.0])
    d = haversine_m(lons[:, None], lats[:, None], lons[None, :], lats[None, :])
    assert d.shape == (3, 3)
    assert np.allclose(d, d.T)
    assert np.all(np.diag(d) == 0)


def test_planar_projection_is_the_identity() -> None:
    proj = LocalProjection.around(Crs.PLANAR, np.array([5.0, 7.0]), np.array([1.0, 2.0]))
    xs, ys = np.array([1.5, -3.0]), np.array([2.5, 4.0])
    e, n = proj.to_metres(xs, ys)
    assert np.array_equal(e, xs) and np.array_equal(n, ys)


@given(
    de=st.floats(min_value=-60_000, max_value=60_000),
    dn=st.floats(min_value=-60_000, max_value=60_000),
)
def test_local_projection_round_trip(de: float, dn: float) -> None:
    proj = LocalProjection(Crs.WGS84, 112.79, 34.73)
    lon, lat = proj.from_metres(np.array([de]), np.array([dn]))
    e, n = proj.to_metres(lon, lat)
    assert float(e[0]) == pytest.approx(de, abs=1e-6)
    assert float(n[0]) == pytest.approx(dn, abs=1e-6)


def test_local_projection_centres_on_the_mean() -> None:
    proj = LocalProjection.around(Crs.WGS84, np.array([112.0, 113.0]), np.array([34.0, 35.0]))
    assert (proj.lon0, proj.lat0) == (112.5, 34.5)
    e, n = proj.to_metres(np.array([112.5]), np.array([34.5]))
    assert (float(e[0]), float(n[0])) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("half_width_m", "max_error"),
    [
        (10_000, 0.0012),  # a 20 km town area: about 0.1 %
        (50_000, 0.006),  # a 100 km county: east-west lengths scale by cos(lat)/cos(lat0)
    ],
)
def test_local_projection_length_error_against_great_circle(
    half_width_m: float, max_error: float
) -> None:
    lon0, lat0 = 112.79, 34.73
    proj = LocalProjection(Crs.WGS84, lon0, lat0)
    rng = np.random.default_rng(7)
    e = rng.uniform(-half_width_m, half_width_m, size=(2, 4000))
    n = rng.uniform(-half_width_m, half_width_m, size=(2, 4000))
    lon, lat = proj.from_metres(e, n)
    planar = np.hypot(e[0] - e[1], n[0] - n[1])
    sphere = haversine_m(lon[0], lat[0], lon[1], lat[1])
    far = sphere > 1000
    error = np.abs(planar[far] / sphere[far] - 1)
    assert error.max() < max_error
