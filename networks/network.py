"""The network: sites and roads of one county (or prefecture), in one CRS.

Holding a :class:`Network` means it is valid: ids are unique, parents exist and have the
right kind, coordinates are in range, times and populations make sense. Derived structures
(site index, the compiled road graph and its matrices) are built lazily and cached on the
instance, so a network version is a content hash and edits go through ``dataclasses.replace``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from networks.coords import Crs, LocalProjection
from networks.errors import InvalidScenario
from networks.roads import DEFAULT_VEHICLE_CLASSES, Road, VehicleClass
from networks.sites import Site, SiteKind, Terrain

if TYPE_CHECKING:
    from networks.matrices import RoadIndex

__all__ = ["DEFAULT_CIRCUITY", "Network", "check_network"]

# DOMAIN.md: road ÷ straight line is 1.3 on the plain, 1.5 in loess hills, 1.6–1.7 in mountains.
DEFAULT_CIRCUITY: Mapping[Terrain, float] = {
    Terrain.PLAIN: 1.3,
    Terrain.LOESS: 1.5,
    Terrain.HILLS: 1.5,
    Terrain.MOUNTAINS: 1.65,
}

# Which kinds a site's parent may have.
_PARENT_KINDS: Mapping[SiteKind, tuple[SiteKind, ...]] = {
    SiteKind.HUB: (),
    SiteKind.STATION: (SiteKind.HUB,),
    SiteKind.VILLAGE_POINT: (SiteKind.STATION,),
    SiteKind.VILLAGE: (SiteKind.VILLAGE_POINT, SiteKind.STATION),
    SiteKind.BULK_SHIPPER: (SiteKind.STATION, SiteKind.HUB),
    SiteKind.CANDIDATE: (SiteKind.STATION, SiteKind.HUB),
}

Locate = Callable[[int, str], str]
"""Maps (position, id) of a site or road to a location for error messages."""


def _default_locate(what: str) -> Locate:
    return lambda i, ident: f"{what} {ident!r}"


@dataclass(frozen=True)
class Network:
    """Sites and roads of one network.

    Parameters
    ----------
    name
        Human name of the network (a county).
    crs
        The coordinate reference system of every coordinate in it.
    sites, roads
        Immutable tuples. A network with no roads uses straight-line distance × circuity.
    vehicle_classes
        Profiles of the vehicle classes that move on it (speeds, weight).
    max_snap_m
        Sites farther than this from every road are an error.
    circuity
        Road ÷ straight-line factor per terrain, used only when there are no roads.
    """

    name: str
    crs: Crs
    sites: tuple[Site, ...]
    roads: tuple[Road, ...] = ()
    vehicle_classes: tuple[VehicleClass, ...] = tuple(DEFAULT_VEHICLE_CLASSES.values())
    max_snap_m: float = 1500.0
    circuity: tuple[tuple[Terrain, float], ...] = tuple(DEFAULT_CIRCUITY.items())
    boundary: tuple[tuple[float, float], ...] = field(default=(), compare=False)
    """Outline of the area (display only)."""

    def __post_init__(self) -> None:
        check_network(self.crs, self.sites, self.roads)
        names = [vc.name for vc in self.vehicle_classes]
        if len(set(names)) != len(names):
            raise InvalidScenario("vehicle classes must have distinct names", field="name")
        if self.max_snap_m <= 0:
            raise InvalidScenario("must be > 0", field="max_snap_m")

    # -- lookups ---------------------------------------------------------------------------
    @cached_property
    def index(self) -> Mapping[str, int]:
        """Position of each site id in :attr:`sites`."""
        return {s.id: i for i, s in enumerate(self.sites)}

    def site(self, site_id: str) -> Site:
        """The site with this id (KeyError naming it when absent)."""
        try:
            return self.sites[self.index[site_id]]
        except KeyError:
            raise KeyError(f"no site with id {site_id!r}") from None

    def of_kind(self, *kinds: SiteKind) -> tuple[Site, ...]:
        """Sites of the given kinds, in network order."""
        return tuple(s for s in self.sites if s.kind in kinds)

    def children(self, parent_id: str, *kinds: SiteKind) -> tuple[Site, ...]:
        """Sites whose parent is ``parent_id`` (optionally only of some kinds)."""
        return tuple(
            s for s in self.sites if s.parent == parent_id and (not kinds or s.kind in kinds)
        )

    def vehicle_class(self, name: str) -> VehicleClass:
        """The profile of a vehicle class by name."""
        for vc in self.vehicle_classes:
            if vc.name == name:
                return vc
        raise KeyError(f"unknown vehicle class {name!r}")

    @property
    def hubs(self) -> tuple[Site, ...]:
        return self.of_kind(SiteKind.HUB)

    @property
    def stations(self) -> tuple[Site, ...]:
        return self.of_kind(SiteKind.STATION)

    @property
    def village_points(self) -> tuple[Site, ...]:
        return self.of_kind(SiteKind.VILLAGE_POINT)

    @cached_property
    def projection(self) -> LocalProjection:
        """Local metric projection centred on the network."""
        import numpy as np

        xs = np.array([s.x for s in self.sites], dtype=np.float64)
        ys = np.array([s.y for s in self.sites], dtype=np.float64)
        return LocalProjection.around(self.crs, xs, ys)

    @cached_property
    def version(self) -> str:
        """Content hash: two networks with the same content share matrices."""
        payload = {
            "crs": str(self.crs),
            "sites": [asdict(s) for s in self.sites],
            "roads": [
                {**asdict(r), "access": sorted(r.access), "length_m": None} for r in self.roads
            ],
            "classes": [asdict(vc) for vc in self.vehicle_classes],
            "snap": self.max_snap_m,
            "circuity": list(self.circuity),
        }
        text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @cached_property
    def road_index(self) -> RoadIndex:
        """The compiled road graph (snapping, per-class sparse graphs, matrix cache)."""
        from networks.matrices import RoadIndex

        return RoadIndex(self)


def check_network(
    crs: Crs,
    sites: tuple[Site, ...],
    roads: tuple[Road, ...],
    *,
    locate_site: Locate | None = None,
    locate_road: Locate | None = None,
    source: str = "",
) -> None:
    """Validate sites and roads together; raise :class:`InvalidScenario` on the first fault.

    ``locate_site`` / ``locate_road`` turn a position and id into a location for the message
    (a loader passes feature numbers; the default names the id).
    """
    loc_s = locate_site or _default_locate("site")
    loc_r = locate_road or _default_locate("road")

    def fail(message: str, where: str, fld: str) -> InvalidScenario:
        return InvalidScenario(message, source=source, location=where, field=fld)

    kinds: dict[str, SiteKind] = {}
    for i, s in enumerate(sites):
        where = loc_s(i, s.id)
        if not s.id:
            raise fail("site id must not be empty", where, "id")
        if s.id in kinds:
            raise fail(f"duplicate site id {s.id!r}", where, "id")
        kinds[s.id] = s.kind
        _check_coords(crs, s.x, s.y, where, fail)
        if s.population < 0:
            raise fail(f"population must be >= 0, got {s.population}", where, "population")
        if not 0 <= s.opens_s < s.closes_s <= 48 * 3600:
            raise fail("opening hours must satisfy opens < closes", where, "closes")
        if s.service_fixed_s < 0 or s.service_per_parcel_s < 0:
            raise fail("service times must be >= 0", where, "service_fixed_s")
        if s.poor and not s.is_village:
            raise fail("only villages can be flagged poor", where, "poor")
    for i, s in enumerate(sites):
        where = loc_s(i, s.id)
        allowed = _PARENT_KINDS[s.kind]
        if s.parent is None:
            if allowed and s.kind is not SiteKind.CANDIDATE:
                raise fail(f"a {s.kind} needs a parent ({' or '.join(allowed)})", where, "parent")
            continue
        if s.parent not in kinds:
            raise fail(f"unknown parent {s.parent!r}", where, "parent")
        if kinds[s.parent] not in allowed:
            raise fail(
                f"parent {s.parent!r} is a {kinds[s.parent]}, expected {' or '.join(allowed)}",
                where,
                "parent",
            )
    road_ids: set[str] = set()
    for i, r in enumerate(roads):
        where = loc_r(i, r.id)
        if not r.id:
            raise fail("road id must not be empty", where, "id")
        if r.id in road_ids:
            raise fail(f"duplicate road id {r.id!r}", where, "id")
        road_ids.add(r.id)
        if len(r.coords) < 2:
            raise fail("a road needs at least two coordinates", where, "coordinates")
        for x, y in r.coords:
            _check_coords(crs, x, y, where, fail)
        if r.max_weight_t is not None and r.max_weight_t <= 0:
            raise fail(f"max_weight_t must be > 0, got {r.max_weight_t}", where, "max_weight_t")
        for cls, kmh in r.speeds_kmh:
            if kmh < 0:
                raise fail(f"speed for {cls} must be >= 0", where, "speeds_kmh")


def _check_coords(
    crs: Crs,
    x: float,
    y: float,
    where: str,
    fail: Callable[[str, str, str], InvalidScenario],
) -> None:
    import math

    if not (math.isfinite(x) and math.isfinite(y)):
        raise fail("coordinates must be finite numbers", where, "coordinates")
    if crs is Crs.WGS84:
        if not -180 <= x <= 180:
            raise fail(f"longitude {x} out of range [-180, 180]", where, "coordinates")
        if not -90 <= y <= 90:
            raise fail(f"latitude {y} out of range [-90, 90]", where, "coordinates")
