"""Coordinates: WGS-84 lon/lat or a projected planar CRS in metres, and GCJ-02 for Chinese maps.

A network states its CRS once. Inside the project, geometry that needs metres (snapping,
road lengths, service areas) goes through :class:`LocalProjection`, an equirectangular
projection centred on the network. East-west lengths scale by cos(lat) / cos(lat0), so the
length error grows with the distance north or south of the centre: about 0.1 % within 10 km,
0.5 % at 50 km (the edge of a 100 km county); still under the uncertainty of a road's course.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "EARTH_RADIUS_M",
    "Crs",
    "LocalProjection",
    "gcj02_to_wgs84",
    "haversine_m",
    "wgs84_to_gcj02",
]

EARTH_RADIUS_M = 6_371_008.8


class Crs(StrEnum):
    """The coordinate reference systems a scenario may use."""

    WGS84 = "EPSG:4326"
    """Longitude and latitude in degrees (x = lon, y = lat)."""
    PLANAR = "planar"
    """A projected plane in metres; straight-line distances are Euclidean."""


def haversine_m(
    lon1: NDArray[np.float64] | float,
    lat1: NDArray[np.float64] | float,
    lon2: NDArray[np.float64] | float,
    lat2: NDArray[np.float64] | float,
) -> NDArray[np.float64]:
    """Great-circle distance in metres; broadcasts over numpy arrays.

    >>> round(float(haversine_m(112.79, 34.727, 112.79, 34.737)))
    1112
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a)), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Maps a network's coordinates to local metres and back.

    For :attr:`Crs.PLANAR` it is the identity. For WGS-84 it is an equirectangular projection
    around ``(lon0, lat0)``.
    """

    crs: Crs
    lon0: float = 0.0
    lat0: float = 0.0

    @classmethod
    def around(cls, crs: Crs, xs: NDArray[np.float64], ys: NDArray[np.float64]) -> LocalProjection:
        """A projection centred on the mean of the given coordinates."""
        if crs is Crs.PLANAR or len(xs) == 0:
            return cls(crs)
        return cls(crs, float(np.mean(xs)), float(np.mean(ys)))

    def to_metres(
        self, xs: NDArray[np.float64], ys: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Project coordinates to local metres (east, north)."""
        xs = np.asarray(xs, dtype=np.float64)
        ys = np.asarray(ys, dtype=np.float64)
        if self.crs is Crs.PLANAR:
            return xs, ys
        k = math.pi / 180 * EARTH_RADIUS_M
        return (xs - self.lon0) * k * math.cos(math.radians(self.lat0)), (ys - self.lat0) * k

    def from_metres(
        self, es: NDArray[np.float64], ns: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Inverse of :meth:`to_metres`."""
        es = np.asarray(es, dtype=np.float64)
        ns = np.asarray(ns, dtype=np.float64)
        if self.crs is Crs.PLANAR:
            return es, ns
        k = math.pi / 180 * EARTH_RADIUS_M
        return es / (k * math.cos(math.radians(self.lat0))) + self.lon0, ns / k + self.lat0


# GCJ-02 ("Mars coordinates") is the datum Chinese map apps (Amap, Tencent) require. The
# transform below is the widely published one (Krasovsky 1940 ellipsoid constants); it is
# accurate to well under a metre against the official implementation inside China.
_A = 6378245.0
_EE = 0.00669342162296594323


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _outside_china(lon: float, lat: float) -> bool:
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """Convert a WGS-84 position to GCJ-02; positions outside China are returned unchanged.

    >>> lon, lat = wgs84_to_gcj02(112.79, 34.727)
    >>> 0.004 < lon - 112.79 < 0.008 and -0.002 < lat - 34.727 < 0.002
    True
    """
    if _outside_china(lon, lat):
        return lon, lat
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: float, lat: float, *, tolerance_deg: float = 1e-9) -> tuple[float, float]:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration (converges in a few steps)."""
    x, y = lon, lat
    for _ in range(30):
        gx, gy = wgs84_to_gcj02(x, y)
        dx, dy = gx - lon, gy - lat
        x, y = x - dx, y - dy
        if abs(dx) < tolerance_deg and abs(dy) < tolerance_deg:
            break
    return x, y
