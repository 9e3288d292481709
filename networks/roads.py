"""Roads, vehicle classes and the road graph.

A road is a polyline between two junctions: junctions are the first and last coordinates of
each LineString (intermediate vertices are shape only). Roads carry a class, a terrain,
per-vehicle-class access, weight limits (bridges) and closures.

Units: lengths in metres, speeds in km/h at the edges of the API, seconds inside matrices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import networkx as nx
import numpy as np

from networks.coords import LocalProjection
from networks.sites import Terrain

__all__ = [
    "DEFAULT_VEHICLE_CLASSES",
    "Road",
    "RoadClass",
    "VehicleClass",
    "road_graph",
]


class RoadClass(StrEnum):
    """Administrative road classes of a rural county."""

    NATIONAL = "national"
    COUNTY = "county"
    TOWN = "town"
    LANE = "lane"
    """Village lanes: narrow, slow, often closed to trucks (and some to vans)."""


@dataclass(frozen=True, slots=True)
class VehicleClass:
    """How a kind of vehicle moves: speeds per road class, slow-down in hills, weight.

    ``terrain_factor`` multiplies speeds on roads of that terrain (hill roads are slower).
    ``gross_weight_t`` is compared with a road's ``max_weight_t`` (bridges).
    """

    name: str
    gross_weight_t: float
    speeds_kmh: tuple[tuple[RoadClass, float], ...]
    terrain_factor: tuple[tuple[Terrain, float], ...] = (
        (Terrain.PLAIN, 1.0),
        (Terrain.LOESS, 0.8),
        (Terrain.HILLS, 0.75),
        (Terrain.MOUNTAINS, 0.65),
    )
    offroad_kmh: float = 10.0
    """Speed on the short leg between a site and the road it snaps to."""

    def speed_kmh(self, road_class: RoadClass, terrain: Terrain) -> float:
        """Speed of this class on a road of the given class and terrain."""
        speeds = dict(self.speeds_kmh)
        base = speeds.get(road_class)
        if base is None:
            return 0.0
        return base * dict(self.terrain_factor).get(terrain, 1.0)


def _speeds(**kmh: float) -> tuple[tuple[RoadClass, float], ...]:
    return tuple((RoadClass(k), v) for k, v in kmh.items())


# DOMAIN.md: trucks 45 km/h on county roads, 35 in hills; vans 35 / 25; tricycles ~25.
DEFAULT_VEHICLE_CLASSES: Mapping[str, VehicleClass] = {
    "truck": VehicleClass(
        "truck", 4.5, _speeds(national=55, county=45, town=35, lane=20), offroad_kmh=10
    ),
    "van": VehicleClass("van", 2.0, _speeds(national=45, county=40, town=35, lane=25)),
    "tricycle": VehicleClass("tricycle", 0.5, _speeds(national=25, county=25, town=25, lane=20)),
}


@dataclass(frozen=True, slots=True)
class Road:
    """A road segment between two junctions.

    ``access`` lists the vehicle classes allowed (empty = every class). ``speeds_kmh``
    overrides the vehicle class's default speed on this road. ``closed`` closes the road to
    everyone (a seasonal closure, a washed-out lane).
    """

    id: str
    coords: tuple[tuple[float, float], ...]
    road_class: RoadClass = RoadClass.TOWN
    terrain: Terrain = Terrain.PLAIN
    name: str = ""
    bridge: bool = False
    max_weight_t: float | None = None
    access: frozenset[str] = frozenset()
    closed: bool = False
    speeds_kmh: tuple[tuple[str, float], ...] = ()
    length_m: float = field(default=0.0, compare=False)
    """Filled in from the geometry by :func:`with_lengths`; 0 means not yet measured."""

    def allows(self, vehicle: VehicleClass) -> bool:
        """Whether a vehicle of this class may drive on the road."""
        if self.closed:
            return False
        if self.access and vehicle.name not in self.access:
            return False
        return self.max_weight_t is None or vehicle.gross_weight_t <= self.max_weight_t

    def speed_kmh(self, vehicle: VehicleClass) -> float:
        """Speed of the vehicle class on this road (0 if it may not drive here)."""
        if not self.allows(vehicle):
            return 0.0
        override = dict(self.speeds_kmh).get(vehicle.name)
        if override is not None:
            return override
        return vehicle.speed_kmh(self.road_class, self.terrain)


def polyline_length_m(coords: tuple[tuple[float, float], ...], proj: LocalProjection) -> float:
    """Length of a polyline in metres under the given projection."""
    arr = np.asarray(coords, dtype=np.float64)
    e, n = proj.to_metres(arr[:, 0], arr[:, 1])
    return float(np.sum(np.hypot(np.diff(e), np.diff(n))))


def road_graph(roads: tuple[Road, ...], proj: LocalProjection) -> nx.MultiGraph:
    """The roads as a networkx multigraph.

    Nodes are junction coordinates ``(x, y)`` rounded to 1e-7 degrees (or 1 cm planar); each
    edge carries the :class:`Road` under ``"road"`` and its ``length_m``.
    """
    g: nx.MultiGraph = nx.MultiGraph()
    for road in roads:
        u, v = junction_key(road.coords[0]), junction_key(road.coords[-1])
        length = road.length_m or polyline_length_m(road.coords, proj)
        g.add_edge(u, v, key=road.id, road=road, length_m=length)
    return g


def junction_key(xy: tuple[float, float]) -> tuple[float, float]:
    """The node key of a junction: coordinates rounded so shared endpoints coincide."""
    return (round(xy[0], 7), round(xy[1], 7))


def travel_time_s(length_m: float, speed_kmh: float) -> float:
    """Seconds to drive ``length_m`` at ``speed_kmh`` (infinite when the speed is 0)."""
    return math.inf if speed_kmh <= 0 else length_m / (speed_kmh / 3.6)
