"""Geometry of routes, service areas and coverage (shapely), in the network's CRS.

Service areas and coverage distances are measured on roads where the network has them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray

from networks.matrices import UNREACHABLE
from networks.network import Network
from networks.sites import SiteKind

__all__ = ["nearest_point_distance_m", "route_line", "service_area"]


def route_line(network: Network, site_ids: Sequence[str], vehicle_class: str) -> shapely.LineString:
    """The road-following line through ``site_ids`` in order, in the network's CRS.

    >>> from networks.network import Network
    >>> from networks.sites import Site, SiteKind
    >>> from networks.coords import Crs
    >>> net = Network("t", Crs.PLANAR, (Site("h", "H", SiteKind.HUB, 0, 0),
    ...     Site("s", "S", SiteKind.STATION, 300, 400, parent="h")))
    >>> route_line(net, ["h", "s", "h"], "van").length
    1000.0
    """
    index = network.road_index
    coords: list[tuple[float, float]] = []
    for a, b in itertools.pairwise(site_ids):
        leg = index.path_coords(a, b, vehicle_class)
        coords.extend(leg if not coords else leg[1:])
    if len(coords) < 2:
        site = network.site(site_ids[0])
        coords = [(site.x, site.y), (site.x, site.y)]
    return shapely.LineString(coords)


def service_area(network: Network, station_id: str, *, margin_m: float = 500.0) -> shapely.Polygon:
    """A polygon around a station and every village it serves (points and their villages).

    It is the concave hull of those sites, widened by ``margin_m``; drawn on maps and used to
    say which station's area a candidate site falls in.
    """
    points = network.children(station_id, SiteKind.VILLAGE_POINT)
    ids = {station_id, *(p.id for p in points)}
    villages = [s for s in network.of_kind(SiteKind.VILLAGE) if s.parent in ids]
    sites = [network.site(station_id), *points, *villages]
    proj = network.projection
    e, n = proj.to_metres(
        np.array([s.x for s in sites], dtype=np.float64),
        np.array([s.y for s in sites], dtype=np.float64),
    )
    hull = shapely.concave_hull(shapely.MultiPoint(np.column_stack([e, n])), ratio=0.4)
    area = hull.buffer(margin_m)
    ring = np.asarray(area.exterior.coords)
    xs, ys = proj.from_metres(ring[:, 0], ring[:, 1])
    return shapely.Polygon(np.column_stack([xs, ys]))


def nearest_point_distance_m(
    network: Network,
    village_ids: Sequence[str],
    point_ids: Sequence[str],
    vehicle_class: str = "van",
) -> NDArray[np.int64]:
    """Road distance (m) from each village to its nearest point among ``point_ids``.

    Villages no point can reach get :data:`~networks.matrices.UNREACHABLE`.
    """
    if not point_ids:
        return np.full(len(village_ids), UNREACHABLE, dtype=np.int64)
    ids = tuple(dict.fromkeys([*village_ids, *point_ids]))
    m = network.road_index.matrix(ids, vehicle_class)
    pos = {s: i for i, s in enumerate(ids)}
    rows = [pos[v] for v in village_ids]
    cols = [pos[p] for p in point_ids]
    # A villager walks or rides to the point: the shorter direction counts.
    sub = np.minimum(m.distance_m[np.ix_(rows, cols)], m.distance_m[np.ix_(cols, rows)].T)
    return np.asarray(sub.min(axis=1), dtype=np.int64)
