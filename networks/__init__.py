"""The lowest layer: sites, roads, graphs, geometry and travel matrices.

Knows nothing of orders or solvers. Owns networkx, scipy.sparse.csgraph and shapely.
"""

from networks.coords import Crs, LocalProjection, gcj02_to_wgs84, haversine_m, wgs84_to_gcj02
from networks.errors import CountyrouteError, InvalidScenario, SolverError, UnreachableSite
from networks.geometry import nearest_point_distance_m, route_line, service_area
from networks.matrices import UNREACHABLE, RoadIndex, Snap, TravelMatrix, straight_line_m
from networks.network import DEFAULT_CIRCUITY, Network, check_network
from networks.roads import DEFAULT_VEHICLE_CLASSES, Road, RoadClass, VehicleClass
from networks.sites import Site, SiteKind, Terrain, format_clock, parse_clock

__all__ = [
    "DEFAULT_CIRCUITY",
    "DEFAULT_VEHICLE_CLASSES",
    "UNREACHABLE",
    "CountyrouteError",
    "Crs",
    "InvalidScenario",
    "LocalProjection",
    "Network",
    "Road",
    "RoadClass",
    "RoadIndex",
    "Site",
    "SiteKind",
    "Snap",
    "SolverError",
    "Terrain",
    "TravelMatrix",
    "UnreachableSite",
    "VehicleClass",
    "check_network",
    "format_clock",
    "gcj02_to_wgs84",
    "haversine_m",
    "nearest_point_distance_m",
    "parse_clock",
    "route_line",
    "service_area",
    "straight_line_m",
    "wgs84_to_gcj02",
]
