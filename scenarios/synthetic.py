"""Synthetic counties of any size, and the geometry engine shared with the built-in county.

This module owns:

- the **road builder** (:func:`build_roads`): county and town roads (a Gabriel graph over hubs,
  stations and bridge ends on each bank of the river, split into ~2 km roads), village lanes (a
  minimum spanning forest over a Delaunay triangulation of village junctions and road junctions,
  plus a share of short loops), bridges as the only river crossings, access rules (lanes in the
  hills closed to trucks, a few lanes closed to vans) and a length-calibrated wiggle per terrain;
- the **spurs** that hang every site at the end of its own short road (:func:`place_spurs`), so a
  site snaps at 0 m onto a road open to the classes that serve it;
- **names** (villages, people, plates) and fictitious phone numbers;
- **fleet sizing** from expected demand (:func:`size_fleet`);
- :func:`generate_synthetic`: a seeded county (or prefecture) of ``n_villages`` villages.

Units: everything is built in **metres** on a plane; :func:`generate_synthetic` writes planar
coordinates (``Crs.PLANAR``, metres, origin at the area's centre) by default, or WGS-84
longitude/latitude around ``origin`` when ``crs=Crs.WGS84``. Times are seconds after midnight,
masses kg, volumes m³, money yuan. Every number from DOMAIN.md is a field of a frozen
parameter dataclass (:class:`RoadParams`, :class:`FleetParams`, :class:`SyntheticParams`).

Determinism: every random draw comes from one ``numpy.random.Generator`` in a fixed order;
no set iteration, no clock. Coordinates are rounded (7 decimals in WGS-84, 1 cm planar) so that
the first and last coordinates of roads meeting at a junction are bit-identical.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypedDict

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import Delaunay, QhullError, cKDTree

from networks import Crs, LocalProjection, Network, Road, RoadClass, Site, SiteKind, Terrain
from routing.model import Policy, Vehicle

if TYPE_CHECKING:
    from scenarios.bundle import Scenario

__all__ = [
    "TERRAIN_ORDER",
    "FleetParams",
    "FloatArray",
    "IntArray",
    "RoadDraft",
    "RoadParams",
    "RoadsBuilt",
    "SiteTimes",
    "SyntheticParams",
    "VehicleSpec",
    "attach_villages",
    "build_roads",
    "choose_points",
    "generate_synthetic",
    "kmeans_points",
    "person_names",
    "phone_numbers",
    "place_spurs",
    "plates",
    "river_distance",
    "river_side",
    "roads_from_drafts",
    "size_fleet",
    "synthetic_outline",
    "to_crs",
    "uniform_in",
    "village_names",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

TERRAIN_ORDER: tuple[Terrain, ...] = (
    Terrain.PLAIN,
    Terrain.LOESS,
    Terrain.HILLS,
    Terrain.MOUNTAINS,
)
"""Terrains from flattest to roughest; terrain arrays hold positions in this tuple."""

TerrainAt = Callable[[FloatArray], IntArray]
"""Maps points (k, 2) in metres to terrain codes (positions in :data:`TERRAIN_ORDER`)."""


# ------------------------------------------------------------------------------ parameters
class SiteTimes(TypedDict):
    """Opening hours and service times shared by generated sites (keyword arguments of Site)."""

    opens_s: int
    closes_s: int
    service_fixed_s: int
    service_per_parcel_s: float


@dataclass(frozen=True, slots=True)
class RoadParams:
    """How roads are drawn. Circuity targets: DOMAIN.md (1.3 plain, 1.5 loess, 1.6–1.7 hills).

    The network's structure (trees and detours) gives part of the circuity; ``wiggle`` is the
    extra length factor of each road's own course over its straight chord, per terrain.
    """

    backbone_vertex_m: float = 500.0
    """Spacing of shape vertices on county and town roads."""
    lane_vertex_m: float = 350.0
    """Spacing of shape vertices on village lanes."""
    junction_spacing_m: float = 2000.0
    """County and town roads are cut into roads of about this length; lanes join at the cuts."""
    wiggle: tuple[tuple[Terrain, float], ...] = (
        (Terrain.PLAIN, 1.03),
        (Terrain.LOESS, 1.1),
        (Terrain.HILLS, 1.1),
        (Terrain.MOUNTAINS, 1.18),
    )
    max_offset_share: float = 0.25
    """A road's course never strays more than this share of its chord from the chord."""
    loop_share: tuple[tuple[Terrain, float], ...] = (
        (Terrain.PLAIN, 0.85),
        (Terrain.LOESS, 0.7),
        (Terrain.HILLS, 0.65),
        (Terrain.MOUNTAINS, 0.55),
    )
    """Share of short non-tree lane candidates kept as loops (plains have denser lane grids)."""
    loop_max_m: float = 4000.0
    """Loops longer than this are not drawn."""
    outline_slack_m: float = 800.0
    """Lane candidates whose midpoint lies farther than this outside the outline are dropped."""
    bridge_half_m: float = 150.0
    """Half the length of a bridge (its ends are this far from the river line)."""
    lanes_closed_to_trucks: tuple[Terrain, ...] = (Terrain.LOESS, Terrain.HILLS, Terrain.MOUNTAINS)
    """Village lanes in these terrains are too narrow for 4.2 m trucks."""
    tricycle_only_lanes: float = 0.015
    """Lanes closed to vans (tricycles only): a count when >= 1, else a share of the lanes."""
    tricycle_class: str = "tricycle"
    van_class: str = "van"
    county_name: str = "县道X{:03d}"
    town_name: str = "乡道Y{:03d}"
    bridge_name: str = "{river}{ordinal}桥"


@dataclass(frozen=True, slots=True)
class VehicleSpec:
    """Capacities, costs and shift of one kind of vehicle (DOMAIN.md, "Fleet")."""

    vehicle_class: str
    capacity_kg: float
    capacity_m3: float
    capacity_parcels: int
    fixed_cost: float
    cost_per_km: float
    cost_per_hour: float
    shift_start_s: int
    shift_end_s: int
    max_duration_s: int
    range_km: float | None = None
    bulky_ok: bool = True

    def vehicle(
        self, vid: str, home: str, *, name: str = "", driver: str = "", phone: str = ""
    ) -> Vehicle:
        """A :class:`~routing.model.Vehicle` of this kind."""
        return Vehicle(
            id=vid,
            vehicle_class=self.vehicle_class,
            home=home,
            capacity_kg=self.capacity_kg,
            capacity_m3=self.capacity_m3,
            capacity_parcels=self.capacity_parcels,
            fixed_cost=self.fixed_cost,
            cost_per_km=self.cost_per_km,
            cost_per_hour=self.cost_per_hour,
            shift_start_s=self.shift_start_s,
            shift_end_s=self.shift_end_s,
            max_duration_s=self.max_duration_s,
            range_km=self.range_km,
            bulky_ok=self.bulky_ok,
            name=name,
            driver=driver,
            phone=phone,
        )


TRUCK = VehicleSpec("truck", 1800, 15, 1200, 200, 2.0, 30, 6 * 3600, 19 * 3600, 10 * 3600)
"""4.2 m box truck: 1.5–2 t, ~15 m³; 1,200 parcels of ~0.01 m³ fill ~80 % of the box."""
VAN = VehicleSpec("van", 700, 3, 250, 80, 1.0, 20, 7 * 3600, 19 * 3600, 9 * 3600)
"""面包车: 0.6–0.8 t, ~3 m³."""
TRICYCLE = VehicleSpec(
    "tricycle", 180, 1.2, 90, 20, 0.1, 18, 7 * 3600, 19 * 3600, 8 * 3600, 60.0, False
)
"""E-tricycle: ≤ 180 kg by the express-tricycle standard, ~1.2 m³, ~60 km per charge."""


@dataclass(frozen=True, slots=True)
class FleetParams:
    """How many vehicles of each kind a hub or station gets for an average day.

    Trucks: enough to carry the hub's average down load (kg, m³ or parcels, whichever binds)
    in one wave with ``truck_slack`` to spare. Vans: enough for the station's village parcels
    in ``van_trips`` reload trips each, with ``van_slack`` to spare.
    """

    truck: VehicleSpec = TRUCK
    van: VehicleSpec = VAN
    tricycle: VehicleSpec = TRICYCLE
    truck_slack: float = 0.3
    trucks: tuple[int, int] = (2, 10_000)
    """Fewest and most trucks per hub."""
    van_trips: float = 2.5
    van_slack: float = 0.3
    vans: tuple[int, int] = (2, 4)
    tricycles_plain: int = 2
    """Tricycles at stations on the plain with many villages (short flat trips)."""
    tricycles_other: int = 1
    tricycles_plain_min_villages: int = 18
    plate_prefix: str = "豫C"


@dataclass(frozen=True, slots=True)
class SyntheticParams:
    """Shape of a synthetic county; defaults follow the reference county (DOMAIN.md)."""

    km2_per_village: float = 2.9
    """Yanshi: ~557 km² of rural units for 192 administrative villages."""
    villages_per_station: float = 20.0
    """DOMAIN.md: one station per 15–25 villages (Yanshi 192 / 9)."""
    point_share: float = 0.65
    """Share of villages with a village point (≥ 60 % policy target; Yanshi 130/192)."""
    poor_share: float = 0.12
    """Registered poor villages (Yanshi est. 15–35 of 192)."""
    poor_weight: tuple[tuple[Terrain, float], ...] = (
        (Terrain.PLAIN, 1.0),
        (Terrain.LOESS, 2.5),
        (Terrain.HILLS, 3.0),
        (Terrain.MOUNTAINS, 4.0),
    )
    """Relative odds of a village being poor by terrain (mostly hills and loess)."""
    terrain_shares: tuple[float, float, float, float] = (0.45, 0.2, 0.2, 0.15)
    """Shares of the area that are plain, loess, hills and mountains."""
    population_median: float = 2200.0
    population_sigma: float = 0.4
    population_bounds: tuple[int, int] = (400, 8000)
    villages_per_bulk_shipper: float = 45.0
    """Yanshi has ~4 shoe workshops for 192 villages."""
    bulk_names: tuple[tuple[str, float], ...] = (("鞋坊", 0.6), ("针织厂", 0.3), ("乐器坊", 0.1))
    """Bulk shipper kinds with shares; the name tells the demand model the sector."""
    bridge_spacing_m: float = 9000.0
    min_bridges: int = 3
    weak_bridge_share: float = 0.25
    """Share of bridges with a weight limit below a truck's (vans pass, trucks do not)."""
    weak_bridge_t: float = 3.0
    river_name: str = "清河"
    village_margin_m: float = 600.0
    """Villages keep this far inside the outline."""
    river_margin_m: float = 500.0
    """Village junctions and towns keep this far from the river."""
    hub_station_gap_m: float = 4000.0
    """A hub keeps this far from every station when it can (it sits in the county town)."""
    hub_search_m: float = 6000.0
    """…searching this far from the centre of its stations."""
    spur_m: tuple[float, float] = (80.0, 250.0)
    """A village's site hangs this far off its lane junction."""
    town_spur_m: tuple[float, float] = (100.0, 200.0)
    """A hub's or station's site hangs this far off its road junction."""
    bulk_spur_m: tuple[float, float] = (150.0, 300.0)
    """A bulk shipper's yard is this far off the county or town road."""
    origin: tuple[float, float] = (112.79, 34.727)
    """Longitude and latitude of the centre when written in WGS-84."""
    opens_s: int = 8 * 3600
    closes_s: int = 20 * 3600
    service_fixed_s: int = 180
    service_per_parcel_s: float = 6.0
    roads: RoadParams = field(default_factory=RoadParams)
    fleet: FleetParams = field(default_factory=FleetParams)


# ------------------------------------------------------------------------------ geometry
def river_side(river: FloatArray, xy: FloatArray) -> NDArray[np.int8]:
    """+1 for points north of the river line (a function y(x), x increasing), -1 south."""
    y_river = np.interp(xy[:, 0], river[:, 0], river[:, 1])
    return np.where(xy[:, 1] >= y_river, 1, -1).astype(np.int8)


def river_distance(river: FloatArray, xy: FloatArray) -> FloatArray:
    """Distance (m) of each point from the river line."""
    line = shapely.LineString(river)
    return np.asarray(shapely.distance(shapely.points(xy), line), dtype=np.float64)


def _unit_vectors(n: int, rng: np.random.Generator) -> FloatArray:
    """Random directions without trigonometry (bit-stable across CPUs)."""
    v = rng.standard_normal((n, 2))
    norm = np.sqrt(np.sum(v * v, axis=1))
    norm = np.where(norm > 1e-12, norm, 1.0)
    return np.asarray(v / norm[:, None], dtype=np.float64)


def kmeans_points(
    candidates: FloatArray, k: int, rng: np.random.Generator, iterations: int = 8
) -> FloatArray:
    """``k`` well-spread points: Lloyd iterations over candidate points (centroidal Voronoi).

    Returns the candidates nearest to the final centroids (so every point is a real candidate,
    inside whatever region the candidates were drawn from).
    """
    if k <= 0:
        return np.zeros((0, 2))
    if len(candidates) <= k:
        return candidates.copy()
    centres = candidates[rng.choice(len(candidates), size=k, replace=False)]
    for _ in range(iterations):
        _, label = cKDTree(centres).query(candidates)
        counts = np.bincount(label, minlength=k).astype(np.float64)
        sx = np.bincount(label, weights=candidates[:, 0], minlength=k)
        sy = np.bincount(label, weights=candidates[:, 1], minlength=k)
        ok = counts > 0
        centres = np.where(
            ok[:, None], np.column_stack([sx, sy]) / np.maximum(counts, 1)[:, None], centres
        )
    tree = cKDTree(candidates)
    _, idx = tree.query(centres)
    # two centroids may share a nearest candidate: replace duplicates by the next nearest free
    used: set[int] = set()
    out: list[int] = []
    for i, c in enumerate(np.asarray(idx, dtype=np.int64).tolist()):
        if c in used:
            _, near = tree.query(centres[i], k=len(candidates))
            c = next(int(j) for j in np.atleast_1d(near) if int(j) not in used)
        used.add(c)
        out.append(c)
    return candidates[np.array(out, dtype=np.int64)]


def uniform_in(
    polygon: shapely.Polygon, n: int, rng: np.random.Generator, *, margin_m: float = 0.0
) -> FloatArray:
    """``n`` uniform random points inside ``polygon`` shrunk by ``margin_m``."""
    inner = polygon.buffer(-margin_m) if margin_m > 0 else polygon
    x0, y0, x1, y1 = inner.bounds
    out: list[FloatArray] = []
    got = 0
    while got < n:
        batch = rng.uniform((x0, y0), (x1, y1), size=(max(64, 2 * (n - got)), 2))
        keep = batch[shapely.contains_xy(inner, batch[:, 0], batch[:, 1])]
        out.append(keep)
        got += len(keep)
    return np.concatenate(out)[:n]


def _wiggle(
    a: FloatArray,
    b: FloatArray,
    factor: FloatArray,
    vertex_m: float,
    max_offset_share: float,
    rng: np.random.Generator,
) -> list[FloatArray]:
    """Polylines from ``a[i]`` to ``b[i]`` about ``factor[i]`` times as long as the chord.

    Interior vertices are displaced sideways by smoothed Gaussian noise scaled so the length
    matches the target (two calibration passes on the exact length). Ends are exactly a and b.
    """
    m = len(a)
    if m == 0:
        return []
    d = b - a
    length = np.sqrt(np.sum(d * d, axis=1))
    n = np.clip(np.ceil(length / vertex_m), 1, 64).astype(np.int64)
    n = np.where(factor > 1.0, n, 1)
    starts = np.concatenate([[0], np.cumsum(n + 1)[:-1]]).astype(np.int64)
    total = int(np.sum(n + 1))
    eid = np.repeat(np.arange(m), n + 1)
    k = np.arange(total) - starts[eid]
    t = k / n[eid]
    interior = (k > 0) & (k < n[eid])
    z = np.where(interior, rng.standard_normal(total), 0.0)
    zs = z.copy()
    zs[1:-1] = (z[:-2] + 2.0 * z[1:-1] + z[2:]) / 4.0
    zs = np.where(interior, zs, 0.0)
    safe_len = np.where(length > 0, length, 1.0)
    perp = np.column_stack([-d[:, 1], d[:, 0]]) / safe_len[:, None]
    same = eid[1:] == eid[:-1]
    seg_e = eid[:-1][same]
    dz = np.diff(zs)[same]
    s_sum = np.bincount(seg_e, weights=dz * dz, minlength=m)
    want = np.maximum(factor - 1.0, 0.0)
    scale = np.where(
        s_sum > 0, np.sqrt(2.0 * want * length**2 / (n * np.maximum(s_sum, 1e-12))), 0.0
    )
    zmax = np.maximum.reduceat(np.abs(zs), starts)
    cap = np.where(zmax > 0, max_offset_share * length / np.maximum(zmax, 1e-12), 0.0)
    base = a[eid] + t[:, None] * d[eid]
    step = length / n
    for _ in range(2):
        scale = np.minimum(scale, cap)
        dy = dz * scale[seg_e]
        seg_len = np.sqrt(step[seg_e] ** 2 + dy * dy)
        got = np.bincount(seg_e, weights=seg_len, minlength=m) / safe_len - 1.0
        scale = np.where(got > 1e-9, scale * np.sqrt(want / np.maximum(got, 1e-9)), scale)
    scale = np.minimum(scale, cap)
    pos = base + (scale[eid] * zs)[:, None] * perp[eid]
    pos[starts] = a
    pos[starts + n] = b
    return np.split(pos, starts[1:])


def _unique_edges(simplices: IntArray) -> IntArray:
    e = np.concatenate([simplices[:, [0, 1]], simplices[:, [1, 2]], simplices[:, [0, 2]]])
    e = np.sort(e, axis=1)
    return np.unique(e, axis=0).astype(np.int64)


def _delaunay_edges(pts: FloatArray) -> IntArray:
    n = len(pts)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if n == 2:
        return np.array([[0, 1]], dtype=np.int64)
    try:
        tri = Delaunay(pts)
    except QhullError:  # collinear points: chain them along their main direction
        order = np.lexsort((pts[:, 1], pts[:, 0]))
        return np.sort(np.column_stack([order[:-1], order[1:]]), axis=1).astype(np.int64)
    return _unique_edges(np.asarray(tri.simplices, dtype=np.int64))


def _gabriel_edges(pts: FloatArray) -> IntArray:
    """Delaunay edges whose diametral circle holds no other point (a road-like planar graph)."""
    edges = _delaunay_edges(pts)
    if len(pts) < 3 or len(edges) == 0:
        return edges
    mid = (pts[edges[:, 0]] + pts[edges[:, 1]]) / 2
    r = np.sqrt(np.sum((pts[edges[:, 0]] - pts[edges[:, 1]]) ** 2, axis=1)) / 2
    dist, idx = cKDTree(pts).query(mid, k=1)
    keep = (idx == edges[:, 0]) | (idx == edges[:, 1]) | (dist >= r * (1 - 1e-9))
    return np.asarray(edges[keep], dtype=np.int64)


def _lines(polylines: Sequence[FloatArray]) -> NDArray[np.object_]:
    """Shapely LineStrings of ragged polylines (one vectorised call)."""
    if not polylines:
        return np.zeros(0, dtype=object)
    sizes = np.array([len(c) for c in polylines])
    idx = np.repeat(np.arange(len(polylines)), sizes)
    return np.asarray(shapely.linestrings(np.concatenate(polylines), indices=idx), dtype=object)


def _crosses_river(
    lines: Sequence[FloatArray] | NDArray[np.object_], river_line: shapely.LineString
) -> NDArray[np.bool_]:
    geoms = _lines(lines) if isinstance(lines, list) else lines
    return np.asarray(shapely.intersects(geoms, river_line), dtype=bool)


def _segments(pts: FloatArray, edges: IntArray) -> NDArray[np.object_]:
    coords = np.stack([pts[edges[:, 0]], pts[edges[:, 1]]], axis=1)
    return np.asarray(shapely.linestrings(coords), dtype=object)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return i

    def union(self, i: int, j: int) -> bool:
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return False
        if ri < rj:
            ri, rj = rj, ri
        self.parent[ri] = rj
        return True


def _connect_components(
    pts: FloatArray,
    uf: _UnionFind,
    nodes: IntArray,
    river_line: shapely.LineString,
) -> list[tuple[int, int]]:
    """Shortest non-river-crossing edges joining every component of ``nodes`` into one."""
    added: list[tuple[int, int]] = []
    tree = cKDTree(pts[nodes])
    while True:
        roots = np.array([uf.find(int(i)) for i in nodes])
        uniq, counts = np.unique(roots, return_counts=True)
        if len(uniq) <= 1:
            return added
        small = uniq[np.argmin(counts)]  # the smallest component (lowest root on ties)
        members = nodes[roots == small]
        k = min(len(nodes), 16)
        best: tuple[float, int, int] | None = None
        while best is None:
            dist, idx = tree.query(pts[members], k=k)
            dist = np.atleast_2d(dist)
            idx = np.atleast_2d(idx)
            cand = [
                (float(dist[r, c]), int(members[r]), int(nodes[idx[r, c]]))
                for r in range(len(members))
                for c in range(idx.shape[1])
                if roots[idx[r, c]] != small
            ]
            cand.sort()
            for dd, i, j in cand:
                seg = shapely.LineString([pts[i], pts[j]])
                if not seg.intersects(river_line):
                    best = (dd, i, j)
                    break
            if best is None:
                if k >= len(nodes):
                    raise ValueError("cannot join the road network without crossing the river")
                k = min(len(nodes), k * 4)
        _, i, j = best
        uf.union(i, j)
        added.append((i, j))


@dataclass(frozen=True, slots=True)
class RoadDraft:
    """A road in metres, before conversion to the network's CRS."""

    coords: FloatArray
    road_class: RoadClass
    terrain: Terrain
    bridge: bool = False
    max_weight_t: float | None = None
    access: frozenset[str] = frozenset()
    name: str = ""


@dataclass(frozen=True, slots=True)
class RoadsBuilt:
    """What :func:`build_roads` made.

    ``junctions`` are the backbone junctions (anchors first, then bridge ends, then the cuts
    along county and town roads); ``sample_junctions`` indexes the cuts (where bulk shippers and
    lanes attach). ``nearest_hub[s]`` is the hub (position in ``hubs``) nearest to station ``s``
    by county road, ``hub_station_m[h, s]`` the backbone distance in metres.
    """

    roads: tuple[RoadDraft, ...]
    junctions: FloatArray
    sample_junctions: IntArray
    nearest_hub: IntArray
    hub_station_m: FloatArray


def _terrain_of(codes: IntArray) -> list[Terrain]:
    return [TERRAIN_ORDER[int(c)] for c in codes]


def build_roads(
    *,
    anchors: FloatArray,
    hubs: Sequence[int],
    stations: Sequence[int],
    villages: FloatArray,
    outline: shapely.Polygon,
    river: FloatArray,
    bridges: Sequence[tuple[float, float | None]],
    terrain_at: TerrainAt,
    params: RoadParams,
    rng: np.random.Generator,
    river_name: str = "",
) -> RoadsBuilt:
    """Draw the road network of a county in metres.

    Parameters
    ----------
    anchors
        Backbone nodes (k, 2): hubs, stations and other towns; county and town roads join them.
    hubs, stations
        Positions in ``anchors`` of the hubs and of the stations (county roads run from each
        station to its nearest hub).
    villages
        Village junctions (n, 2); lanes join them to each other and to the backbone.
    outline
        The area (metres); lane candidates that leave it by more than
        ``params.outline_slack_m`` are not drawn.
    river
        The river line (r, 2), x increasing across the whole area: no road crosses it but the
        bridges.
    bridges
        ``(x, max_weight_t)`` for each bridge: where it crosses (x in metres) and its weight
        limit (``None`` for none).
    terrain_at
        Terrain codes of points; a road takes the roughest terrain of its ends (lanes) or the
        terrain at its middle (county and town roads).
    params
        Road parameters.
    rng
        The generator's random source.

    Raises
    ------
    ValueError
        When the parts of the network cannot be joined without crossing the river.
    """
    river_line = shapely.LineString(river)
    wiggle = dict(params.wiggle)
    wig = np.array([wiggle.get(t, 1.0) for t in TERRAIN_ORDER])
    loops = dict(params.loop_share)
    loop_p = np.array([loops.get(t, 0.0) for t in TERRAIN_ORDER])

    # ---- backbone nodes: anchors and bridge ends
    bx = np.array([b[0] for b in bridges], dtype=np.float64)
    by = np.interp(bx, river[:, 0], river[:, 1])
    dx = np.interp(bx + 50.0, river[:, 0], river[:, 1]) - np.interp(
        bx - 50.0, river[:, 0], river[:, 1]
    )
    tangent = np.column_stack([np.full_like(bx, 100.0), dx])
    tangent /= np.sqrt(np.sum(tangent * tangent, axis=1))[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])  # points north (+y)
    north_end = np.column_stack([bx, by]) + params.bridge_half_m * normal
    south_end = np.column_stack([bx, by]) - params.bridge_half_m * normal
    n_a = len(anchors)
    n_b = len(bridges)
    nodes = np.concatenate([anchors, north_end, south_end]).astype(np.float64)
    side = river_side(river, nodes)
    side[n_a : n_a + n_b] = 1
    side[n_a + n_b :] = -1

    # ---- backbone edges: Gabriel graph on each bank, no river crossing, plus bridges
    edges: list[tuple[int, int]] = []
    for s in (1, -1):
        idx = np.flatnonzero(side == s)
        if len(idx) < 2:
            continue
        local = _gabriel_edges(nodes[idx])
        if len(local) == 0:
            continue
        glob = idx[local]
        ok = ~_crosses_river(_segments(nodes, glob), river_line)
        edges.extend((int(i), int(j)) for i, j in glob[ok])
    uf = _UnionFind(len(nodes))
    for i, j in edges:
        uf.union(i, j)
    for s in (1, -1):
        idx = np.flatnonzero(side == s).astype(np.int64)
        if len(idx) > 1:
            edges.extend(_connect_components(nodes, uf, idx, river_line))
    bridge_edges = [(n_a + q, n_a + n_b + q) for q in range(n_b)]
    n_road_edges = len(edges)
    edges.extend(bridge_edges)
    e_arr = np.array(edges, dtype=np.int64)
    is_bridge = np.arange(len(edges)) >= n_road_edges
    weak = np.zeros(len(edges), dtype=bool)
    for q, (_, limit) in enumerate(bridges):
        weak[n_road_edges + q] = limit is not None
    limits: list[float | None] = [None] * n_road_edges
    limits.extend(b[1] for b in bridges)

    # ---- shapes of backbone edges
    a_pts, b_pts = nodes[e_arr[:, 0]], nodes[e_arr[:, 1]]
    mid_terrain = terrain_at((a_pts + b_pts) / 2)
    factor = np.where(is_bridge, 1.0, wig[mid_terrain])
    shapes = _wiggle(a_pts, b_pts, factor, params.backbone_vertex_m, params.max_offset_share, rng)
    crossing = _crosses_river(shapes, river_line) & ~is_bridge
    for q in np.flatnonzero(crossing).tolist():
        shapes[q] = np.stack([a_pts[q], b_pts[q]])
    seg_len = np.array([_polyline_length(c) for c in shapes])

    # ---- county roads: shortest truck paths from each station to its nearest hub
    n_nodes = len(nodes)
    usable = ~weak
    g = csr_matrix(
        (
            np.concatenate([seg_len[usable], seg_len[usable]]),
            (
                np.concatenate([e_arr[usable, 0], e_arr[usable, 1]]),
                np.concatenate([e_arr[usable, 1], e_arr[usable, 0]]),
            ),
        ),
        shape=(n_nodes, n_nodes),
    )
    hub_idx = np.asarray(hubs, dtype=np.int64)
    st_idx = np.asarray(stations, dtype=np.int64)
    dist, pred = dijkstra(g, directed=True, indices=hub_idx, return_predecessors=True)
    dist = np.atleast_2d(dist)
    pred = np.atleast_2d(pred)
    hub_station = dist[:, st_idx] if len(st_idx) else np.zeros((len(hub_idx), 0))
    nearest = (
        np.argmin(hub_station, axis=0).astype(np.int64)
        if len(st_idx)
        else np.zeros(0, dtype=np.int64)
    )
    edge_of: dict[tuple[int, int], int] = {}
    for q, (i, j) in enumerate(e_arr.tolist()):
        if usable[q]:
            for key in ((i, j), (j, i)):
                if key not in edge_of or seg_len[q] < seg_len[edge_of[key]]:
                    edge_of[key] = q
    county = np.zeros(len(edges), dtype=bool)
    for s_pos, st in enumerate(st_idx.tolist()):
        h = int(nearest[s_pos])
        node = st
        if not np.isfinite(dist[h, st]):
            raise ValueError(f"station anchor {st} is cut off from every hub")
        while node != hub_idx[h]:
            prev = int(pred[h, node])
            county[edge_of[(prev, node)]] = True
            node = prev

    # ---- cut county and town roads into ~junction_spacing_m roads
    drafts: list[RoadDraft] = []
    junctions: list[FloatArray] = [nodes[i] for i in range(n_nodes)]
    samples: list[int] = []
    piece_lines: list[FloatArray] = []
    n_county = n_town = 0
    bridge_no = 0
    ordinals = "一二三四五六七八九十"
    for q in range(len(edges)):
        coords = shapes[q]
        terrain = TERRAIN_ORDER[int(mid_terrain[q])]
        cls = RoadClass.COUNTY if county[q] else RoadClass.TOWN
        if is_bridge[q]:
            bridge_no += 1
            ordinal = ordinals[bridge_no - 1] if bridge_no <= 10 else str(bridge_no)
            name = params.bridge_name.format(river=river_name, ordinal=ordinal)
            drafts.append(RoadDraft(coords, cls, terrain, True, limits[q], frozenset(), name))
            piece_lines.append(coords)
            continue
        if county[q]:
            n_county += 1
            name = params.county_name.format(n_county)
        else:
            n_town += 1
            name = params.town_name.format(n_town)
        nv = len(coords) - 1
        step = max(1, round(params.junction_spacing_m / max(seg_len[q] / nv, 1.0)))
        cuts = list(range(0, nv, step))
        if len(cuts) > 1 and nv - cuts[-1] < step / 2:
            cuts.pop()
        cuts.append(nv)
        for c0, c1 in itertools.pairwise(cuts):
            piece = coords[c0 : c1 + 1]
            drafts.append(RoadDraft(piece, cls, terrain, name=name))
            piece_lines.append(piece)
        for c in cuts[1:-1]:
            samples.append(len(junctions))
            junctions.append(coords[c])
    junc = np.array(junctions, dtype=np.float64)
    n_j = len(junc)

    # ---- village lanes: spanning forest over Delaunay edges plus short loops
    pts = np.concatenate([junc, villages]).astype(np.float64)
    cand = _delaunay_edges(pts)
    cand = cand[(cand[:, 0] >= n_j) | (cand[:, 1] >= n_j)]  # at least one village end
    segs = _segments(pts, cand)
    ok = ~np.asarray(shapely.intersects(segs, river_line), dtype=bool)
    mid = (pts[cand[:, 0]] + pts[cand[:, 1]]) / 2
    wide = outline.buffer(params.outline_slack_m)
    ok &= shapely.contains_xy(wide, mid[:, 0], mid[:, 1])
    if piece_lines:
        tree = shapely.STRtree(_lines(piece_lines))
        hit, _ = tree.query(segs, predicate="crosses")
        ok[np.unique(hit)] = False
    cand = cand[ok]
    length = np.sqrt(np.sum((pts[cand[:, 0]] - pts[cand[:, 1]]) ** 2, axis=1))
    order = np.lexsort((cand[:, 1], cand[:, 0], length))
    uf = _UnionFind(len(pts))
    for i in range(1, n_j):  # the backbone is one piece already
        uf.union(0, i)
    tree_edges: list[tuple[int, int]] = []
    rejected: list[int] = []
    for q in order.tolist():
        i, j = int(cand[q, 0]), int(cand[q, 1])
        if uf.union(i, j):
            tree_edges.append((i, j))
        else:
            rejected.append(q)
    tree_edges.extend(_connect_components(pts, uf, np.arange(len(pts), dtype=np.int64), river_line))
    rej = np.array(rejected, dtype=np.int64)
    loop_edges: list[tuple[int, int]] = []
    if len(rej):
        rl = length[rej]
        rt = np.maximum(terrain_at(pts[cand[rej, 0]]), terrain_at(pts[cand[rej, 1]]))
        draw = rng.random(len(rej))
        keep = (rl <= params.loop_max_m) & (draw < loop_p[rt])
        loop_edges = [(int(cand[q, 0]), int(cand[q, 1])) for q in rej[keep]]
    lanes = np.array(tree_edges + loop_edges, dtype=np.int64).reshape(-1, 2)
    is_loop = np.arange(len(lanes)) >= len(tree_edges)
    lane_terrain = np.maximum(terrain_at(pts[lanes[:, 0]]), terrain_at(pts[lanes[:, 1]]))

    # lanes closed to vans: loops and leaf lanes (a village at the end of one lane)
    degree = np.bincount(lanes.ravel(), minlength=len(pts))
    leaf = ((lanes[:, 0] >= n_j) & (degree[lanes[:, 0]] == 1)) | (
        (lanes[:, 1] >= n_j) & (degree[lanes[:, 1]] == 1)
    )
    eligible = np.flatnonzero(is_loop | leaf)
    want = params.tricycle_only_lanes
    n_tri = int(want) if want >= 1 else round(want * len(lanes))
    n_tri = min(n_tri, len(eligible))
    tri_only = np.zeros(len(lanes), dtype=bool)
    if n_tri:
        tri_only[rng.choice(eligible, size=n_tri, replace=False)] = True

    shapes_l = _wiggle(
        pts[lanes[:, 0]],
        pts[lanes[:, 1]],
        wig[lane_terrain],
        params.lane_vertex_m,
        params.max_offset_share,
        rng,
    )
    crossing = _crosses_river(shapes_l, river_line)
    closed_to_trucks = {TERRAIN_ORDER.index(t) for t in params.lanes_closed_to_trucks}
    for q in range(len(lanes)):
        coords = shapes_l[q] if not crossing[q] else pts[lanes[q]].copy()
        code = int(lane_terrain[q])
        if tri_only[q]:
            access = frozenset({params.tricycle_class})
        elif code in closed_to_trucks:
            access = frozenset({params.van_class, params.tricycle_class})
        else:
            access = frozenset()
        drafts.append(RoadDraft(coords, RoadClass.LANE, TERRAIN_ORDER[code], access=access))
    return RoadsBuilt(
        roads=tuple(drafts),
        junctions=junc,
        sample_junctions=np.array(samples, dtype=np.int64),
        nearest_hub=nearest,
        hub_station_m=np.asarray(hub_station, dtype=np.float64),
    )


def _polyline_length(coords: FloatArray) -> float:
    d = np.diff(coords, axis=0)
    return float(np.sum(np.sqrt(np.sum(d * d, axis=1))))


def place_spurs(
    anchors: FloatArray,
    length_m: tuple[float, float],
    rng: np.random.Generator,
    *,
    outline: shapely.Polygon,
    river: FloatArray,
    min_river_m: float = 60.0,
) -> FloatArray:
    """Site positions hanging ``length_m`` off each anchor junction.

    A site stays inside the outline and on its anchor's bank of the river, at least
    ``min_river_m`` from it; a draw that breaks this is redrawn, then shortened.
    """
    n = len(anchors)
    out = np.zeros((n, 2))
    lengths = rng.uniform(length_m[0], length_m[1], size=n)
    todo = np.arange(n)
    anchor_side = river_side(river, anchors)
    shrink = 1.0
    for attempt in range(40):
        if len(todo) == 0:
            break
        if attempt >= 20:
            shrink = 0.5
        dirs = _unit_vectors(len(todo), rng)
        cand = anchors[todo] + dirs * (lengths[todo] * shrink)[:, None]
        ok = shapely.contains_xy(outline, cand[:, 0], cand[:, 1])
        ok &= river_side(river, cand) == anchor_side[todo]
        ok &= river_distance(river, cand) >= min_river_m
        out[todo[ok]] = cand[ok]
        todo = todo[~ok]
    for i in todo.tolist():  # hopeless cases: a short spur wherever it stays on the bank
        out[i] = anchors[i] + np.array([0.0, 20.0 * anchor_side[i]])
    return out


# ------------------------------------------------------------------------------ conversion
def to_crs(xy: FloatArray, crs: Crs, proj: LocalProjection) -> list[tuple[float, float]]:
    """Metres → the network's CRS, rounded so shared junctions stay bit-identical.

    WGS-84: 7 decimals (~1 cm), the same rounding as the road graph's junction keys.
    Planar: 2 decimals (1 cm).
    """
    if crs is Crs.WGS84:
        xs, ys = proj.from_metres(xy[:, 0], xy[:, 1])
        return [(round(float(x), 7), round(float(y), 7)) for x, y in zip(xs, ys, strict=True)]
    return [(round(float(x), 2), round(float(y), 2)) for x, y in xy]


def roads_from_drafts(
    drafts: Sequence[RoadDraft], crs: Crs, proj: LocalProjection, *, first_id: int = 1
) -> tuple[Road, ...]:
    """Roads in the network's CRS with ids ``r00001``…, in draft order."""
    if not drafts:
        return ()
    sizes = np.array([len(d.coords) for d in drafts])
    flat = to_crs(np.concatenate([d.coords for d in drafts]), crs, proj)
    out: list[Road] = []
    pos = 0
    width = max(5, len(str(len(drafts) + first_id)))
    for k, (d, size) in enumerate(zip(drafts, sizes.tolist(), strict=True)):
        coords = tuple(flat[pos : pos + size])
        pos += size
        out.append(
            Road(
                id=f"r{k + first_id:0{width}d}",
                coords=coords,
                road_class=d.road_class,
                terrain=d.terrain,
                name=d.name,
                bridge=d.bridge,
                max_weight_t=d.max_weight_t,
                access=d.access,
            )
        )
    return tuple(out)


# ------------------------------------------------------------------------------ names
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严武戴孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘"
)
"""Common Chinese surnames (one character each)."""
NAME_WORDS = "石柳枣槐杏桃柏松榆桑马牛龙凤白黄青红新老古寺庙井泉塔"
"""Non-surname first parts of village names (trees, animals, colours, landmarks)."""
VILLAGE_PREFIXES = ("", "", "", "东", "西", "南", "北", "前", "后", "上", "下", "大", "小")
VILLAGE_SUFFIXES: tuple[str, str, str, str] = (
    "庄村寨营屯店集楼桥湾堡铺",  # plain
    "沟坡岭洼窑凹岗塬",  # loess
    "沟坡岭坪窑岗凹",  # hills
    "沟峪岭坪垴岩口",  # mountains
)
"""Village-name endings by terrain (plain villages are 庄 and 营, loess ones 沟 and 塬 …)."""
GIVEN_NAMES: tuple[str, ...] = (
    "建国", "秀英", "桂兰", "志强", "红梅", "国庆", "丽", "伟", "芳", "军", "敏", "静", "磊",
    "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "霞", "平", "刚", "玉兰", "春生", "海燕",
    "小红", "卫东", "建华", "文博", "振华", "宏伟", "淑珍", "凤英", "德胜", "长江", "晓东",
    "永强", "翠花", "金凤", "俊杰", "子豪", "雨欣", "浩然", "梦琪", "国强", "保国", "新民", "素芬",
)  # fmt: skip
"""Common given names (one or two characters)."""


def village_names(
    terrains: IntArray, rng: np.random.Generator, taken: set[str] | None = None
) -> list[str]:
    """Unique village names such as 王庄, 东李家沟, 柳树坪 fitting each village's terrain.

    ``taken`` holds names already used (updated in place). Draws are made in village order, and
    a drawn name that is already taken is drawn again, so the result is deterministic.
    """
    used = taken if taken is not None else set()
    out: list[str] = []
    for code in terrains.tolist():
        suffixes = VILLAGE_SUFFIXES[int(code)]
        for attempt in range(1000):
            prefix = VILLAGE_PREFIXES[int(rng.integers(len(VILLAGE_PREFIXES)))]
            r = rng.random()
            if r < 0.75:
                first = SURNAMES[int(rng.integers(len(SURNAMES)))]
                first += "家" if rng.random() < 0.3 else ""
            else:
                first = NAME_WORDS[int(rng.integers(len(NAME_WORDS)))]
                first += "树" if first in "柳枣槐杏桃柏松榆桑" and rng.random() < 0.4 else ""
            name = prefix + first + suffixes[int(rng.integers(len(suffixes)))]
            if attempt >= 500:
                name += str(attempt)
            if name not in used:
                used.add(name)
                out.append(name)
                break
    return out


def person_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` fictitious Chinese personal names (surname + given name)."""
    s = rng.integers(len(SURNAMES), size=n)
    g = rng.integers(len(GIVEN_NAMES), size=n)
    return [SURNAMES[int(a)] + GIVEN_NAMES[int(b)] for a, b in zip(s, g, strict=True)]


MOBILE_PREFIXES = ("138", "139", "137", "135", "158", "186", "155", "177")


def phone_numbers(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` fictitious mobile numbers like ``138xxxxxxxx`` (random digits, not real people)."""
    p = rng.integers(len(MOBILE_PREFIXES), size=n)
    rest = rng.integers(0, 10**8, size=n)
    return [f"{MOBILE_PREFIXES[int(a)]}{int(b):08d}" for a, b in zip(p, rest, strict=True)]


def plates(n: int, prefix: str, rng: np.random.Generator) -> list[str]:
    """``n`` distinct fictitious licence plates such as 豫C·D5K21."""
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    out: list[str] = []
    used: set[str] = set()
    while len(out) < n:
        body = letters[int(rng.integers(len(letters)))] + f"{int(rng.integers(10000)):04d}"
        if body not in used:
            used.add(body)
            out.append(f"{prefix}·{body}")
    return out


# ------------------------------------------------------------------------------ fleet
def size_fleet(
    network: Network,
    params: FleetParams,
    rng: np.random.Generator,
    *,
    trucks_range: tuple[int, int] | None = None,
    id_style: Callable[[str, Site, int], str] | None = None,
) -> tuple[Vehicle, ...]:
    """A fleet for an average day of :func:`scenarios.demand.expected_daily` demand.

    Each hub gets trucks for its stations' average down load (kg, m³ or parcels, whichever
    binds) plus ``truck_slack``; each station gets vans for its village parcels in
    ``van_trips`` trips plus ``van_slack`` (within ``params.vans``), and one or two tricycles.
    ``id_style(kind, home, k)`` names vehicle ``k`` (from 1) of a kind at a home site.
    """
    from scenarios.demand import DemandParams, expected_daily

    demand = DemandParams()
    expected = expected_daily(network, demand)
    kg, m3 = demand.mean_down_kg, demand.mean_down_m3

    def name_of(kind: str, home: Site, k: int) -> str:
        return id_style(kind, home, k) if id_style else f"{kind}-{home.id}-{k}"

    points_of: dict[str, list[Site]] = {}
    behind: dict[str, int] = {}
    for site in network.sites:
        if site.kind is SiteKind.VILLAGE_POINT and site.parent is not None:
            points_of.setdefault(site.parent, []).append(site)
        elif site.kind is SiteKind.VILLAGE and site.parent is not None:
            behind[site.parent] = behind.get(site.parent, 0) + 1

    fleet: list[Vehicle] = []
    lo, hi = trucks_range or params.trucks
    t = params.truck
    for hub in network.hubs:
        stations = [s for s in network.stations if s.parent == hub.id]
        parcels = sum(
            expected[s.id][0] + sum(expected[p.id][0] for p in points_of.get(s.id, []))
            for s in stations
        )
        need = max(
            parcels * kg / t.capacity_kg, parcels * m3 / t.capacity_m3, parcels / t.capacity_parcels
        )
        n = min(hi, max(lo, math.ceil(need * (1 + params.truck_slack))))
        fleet.extend(t.vehicle(name_of("truck", hub, k + 1), hub.id) for k in range(n))
    van = params.van
    per_van = params.van_trips * min(
        van.capacity_parcels, van.capacity_kg / kg, van.capacity_m3 / m3
    )
    for st in network.stations:
        points = points_of.get(st.id, [])
        parcels = sum(expected[p.id][0] for p in points)
        n_van = math.ceil(parcels * (1 + params.van_slack) / per_van)
        n_van = min(params.vans[1], max(params.vans[0], n_van))
        fleet.extend(van.vehicle(name_of("van", st, k + 1), st.id) for k in range(n_van))
        n_villages = len(points) + sum(behind.get(p.id, 0) for p in points)
        plain = st.terrain is Terrain.PLAIN and n_villages >= params.tricycles_plain_min_villages
        n_tri = params.tricycles_plain if plain else params.tricycles_other
        fleet.extend(
            params.tricycle.vehicle(name_of("tricycle", st, k + 1), st.id) for k in range(n_tri)
        )
    drivers = person_names(len(fleet), rng)
    phones = phone_numbers(len(fleet), rng)
    tricycle = params.tricycle.vehicle_class
    n_plated = sum(1 for veh in fleet if veh.vehicle_class != tricycle)
    plate_list = iter(plates(n_plated, params.plate_prefix, rng))
    out: list[Vehicle] = []
    tri_no = 0
    for veh, driver, phone in zip(fleet, drivers, phones, strict=True):
        if veh.vehicle_class == tricycle:
            tri_no += 1
            label = f"电三轮{tri_no:02d}"
        else:
            label = next(plate_list)
        out.append(replace(veh, name=label, driver=driver, phone=phone))
    return tuple(out)


# ------------------------------------------------------------------------------ synthetic
def synthetic_outline(
    n_villages: int, *, seed: int = 0, params: SyntheticParams | None = None
) -> shapely.Polygon:
    """The outline :func:`generate_synthetic` draws for these arguments (planar metres,
    centred on the origin), without the rest of the county: for laying counties side by side
    before generating them (:mod:`scenarios.region`)."""
    p = params or SyntheticParams()
    return _outline(n_villages * p.km2_per_village * 1e6, np.random.default_rng(seed))


def _outline(area_m2: float, rng: np.random.Generator) -> shapely.Polygon:
    theta = np.linspace(0.0, 2.0 * np.pi, 72, endpoint=False)
    r = np.ones_like(theta)
    for k in (2, 3, 4, 5):
        r += rng.uniform(0.0, 0.08) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    poly = shapely.Polygon(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
    scale = math.sqrt(area_m2 / poly.area)
    return shapely.Polygon(np.asarray(poly.exterior.coords) * scale)


def _river(outline: shapely.Polygon, rng: np.random.Generator) -> FloatArray:
    x0, y0, x1, y1 = outline.bounds
    w = x1 - x0
    xs = np.linspace(x0 - 0.1 * w, x1 + 0.1 * w, 80)
    cy = (y0 + y1) / 2 + rng.uniform(-0.1, 0.1) * (y1 - y0)
    ys = np.full_like(xs, cy)
    for k in (1, 2, 3):
        ys += (
            rng.uniform(0.005, 0.03)
            * (y1 - y0)
            / k
            * np.sin(k * np.pi * (xs - x0) / w + rng.uniform(0, 2 * np.pi))
        )
    return np.column_stack([xs, ys])


def _terrain_field(
    outline: shapely.Polygon, river: FloatArray, shares: Sequence[float], rng: np.random.Generator
) -> TerrainAt:
    """A smooth random height (bumps plus distance from the river) cut at area quantiles."""
    x0, y0, x1, y1 = outline.bounds
    size = max(x1 - x0, y1 - y0)
    n_bumps = 10
    centres = rng.uniform((x0, y0), (x1, y1), size=(n_bumps, 2))
    widths = rng.uniform(0.08, 0.25, size=n_bumps) * size
    heights = rng.uniform(0.3, 1.0, size=n_bumps)

    def height(xy: FloatArray) -> FloatArray:
        h = 1.2 * river_distance(river, xy) / size
        for c, w, a in zip(centres, widths, heights, strict=True):
            d2 = np.sum((xy - c) ** 2, axis=1)
            h = h + a * np.exp(-d2 / (2 * w * w))
        return np.asarray(h, dtype=np.float64)

    probe = uniform_in(outline, 4000, rng)
    cuts = np.quantile(height(probe), np.cumsum(shares)[:-1])

    def terrain_at(xy: FloatArray) -> IntArray:
        return np.searchsorted(cuts, height(xy)).astype(np.int64)

    return terrain_at


def generate_synthetic(
    n_villages: int,
    *,
    seed: int = 0,
    n_hubs: int = 1,
    crs: Crs = Crs.PLANAR,
    params: SyntheticParams | None = None,
) -> Scenario:
    """A seeded synthetic county (or prefecture, with several hubs) of ``n_villages`` villages.

    Parameters
    ----------
    n_villages
        Administrative villages; stations, points, poor villages, bulk shippers, bridges and
        the fleet scale with it (about one station per ``villages_per_station`` villages).
    seed
        Seed of the only random source: the same arguments give an equal scenario.
    n_hubs
        Hubs; each station's parent is the hub nearest to it by county road.
    crs
        ``Crs.PLANAR`` (default): metres with the origin at the area's centre.
        ``Crs.WGS84``: longitude and latitude around ``params.origin``.
    params
        Shape parameters (defaults follow the reference county).

    Returns
    -------
    Scenario
        Validated (every point reachable by its station's fleet, every station and bulk
        shipper by its hub's trucks); no orders (see :func:`scenarios.demand.generate_demand`).

    Raises
    ------
    ValueError
        For ``n_villages < 1`` or ``n_hubs < 1``.
    """
    from scenarios.bundle import Scenario

    if n_villages < 1 or n_hubs < 1:
        raise ValueError("n_villages and n_hubs must be >= 1")
    p = params or SyntheticParams()
    rng = np.random.default_rng(seed)
    outline = _outline(n_villages * p.km2_per_village * 1e6, rng)
    river = _river(outline, rng)
    terrain_at = _terrain_field(outline, river, p.terrain_shares, rng)

    # villages: well spread, away from the edge and the river
    # margins shrink for tiny areas (a county of one village is 1.7 km across)
    size = math.sqrt(outline.area)
    edge_margin = min(p.village_margin_m, 0.1 * size)
    river_margin = min(p.river_margin_m, 0.1 * size)
    cand = uniform_in(outline, max(40 * n_villages, 400), rng, margin_m=edge_margin)
    cand = cand[river_distance(river, cand) >= river_margin]
    village_xy = kmeans_points(cand, n_villages, rng, iterations=6)
    v_side = river_side(river, village_xy)
    v_terrain = terrain_at(village_xy)

    # stations: centroids of village clusters on each bank
    n_st = max(1, round(n_villages / p.villages_per_station))
    station_xy_parts: list[FloatArray] = []
    banks = [s for s in (1, -1) if np.any(v_side == s)]
    counts = {s: int(np.sum(v_side == s)) for s in banks}
    alloc = {s: max(1, round(n_st * counts[s] / n_villages)) for s in banks}
    for s in banks:
        pts = village_xy[v_side == s]
        centres = kmeans_points(pts + rng.normal(0, 1.0, pts.shape), min(alloc[s], len(pts)), rng)
        # a station sits between its villages: move it off the village junction
        centres = centres + _unit_vectors(len(centres), rng) * 400.0
        far = river_distance(river, centres) < river_margin
        centres[far] = pts[cKDTree(pts).query(centres[far])[1]] if np.any(far) else centres[far]
        station_xy_parts.append(centres)
    station_xy = np.concatenate(station_xy_parts)
    s_side = river_side(river, station_xy)
    # villages belong to the nearest station on their bank
    v_station = np.zeros(n_villages, dtype=np.int64)
    for s in banks:
        st = np.flatnonzero(s_side == s)
        vv = np.flatnonzero(v_side == s)
        v_station[vv] = st[cKDTree(station_xy[st]).query(village_xy[vv])[1]]

    # hubs: near the centres of station clusters, in town (away from stations and the river)
    hub_xy = kmeans_points(station_xy, min(n_hubs, len(station_xy)), rng)
    st_tree = cKDTree(station_xy)
    for i in range(len(hub_xy)):
        ring = hub_xy[i] + _unit_vectors(64, rng) * rng.uniform(1000.0, p.hub_search_m, (64, 1))
        ring = np.concatenate([hub_xy[i : i + 1], ring])
        ok = shapely.contains_xy(outline.buffer(-edge_margin), ring[:, 0], ring[:, 1])
        ok &= river_distance(river, ring) >= river_margin
        gap, _ = st_tree.query(ring)
        score = np.where(ok, np.minimum(gap, p.hub_station_gap_m), -1.0)
        hub_xy[i] = ring[int(np.argmax(score))]
    n_h = len(hub_xy)

    # bridges: evenly along the river inside the outline; a share with a low weight limit
    inside = river[shapely.contains_xy(outline, river[:, 0], river[:, 1])]
    rx0, rx1 = (float(inside[0, 0]), float(inside[-1, 0])) if len(inside) else (0.0, 1.0)
    river_len = _polyline_length(inside) if len(inside) > 1 else 0.0
    n_br = max(p.min_bridges, round(river_len / p.bridge_spacing_m))
    bx = rx0 + (rx1 - rx0) * (np.arange(n_br) + 0.5 + rng.uniform(-0.25, 0.25, n_br)) / n_br
    n_weak = min(n_br - 2, max(1, round(p.weak_bridge_share * n_br)))
    weak = set(rng.choice(n_br, size=n_weak, replace=False).tolist()) if n_weak > 0 else set()
    bridges = [(float(x), p.weak_bridge_t if q in weak else None) for q, x in enumerate(bx)]

    anchors = np.concatenate([hub_xy, station_xy])
    built = build_roads(
        anchors=anchors,
        hubs=list(range(n_h)),
        stations=list(range(n_h, n_h + len(station_xy))),
        villages=village_xy,
        outline=outline,
        river=river,
        bridges=bridges,
        terrain_at=terrain_at,
        params=p.roads,
        rng=rng,
        river_name=p.river_name,
    )

    # village points and poor villages
    n_points = min(n_villages, max(len(station_xy), round(p.point_share * n_villages)))
    pop_f = np.clip(
        rng.lognormal(math.log(p.population_median), p.population_sigma, n_villages),
        *p.population_bounds,
    )
    pop = (np.round(pop_f / 10) * 10).astype(np.int64)
    pw = dict(p.poor_weight)
    w_poor = np.array([pw.get(TERRAIN_ORDER[int(c)], 1.0) for c in v_terrain]) / np.sqrt(pop)
    n_poor = min(n_points, round(p.poor_share * n_villages))
    poor = np.zeros(n_villages, dtype=bool)
    if n_poor:
        poor[rng.choice(n_villages, size=n_poor, replace=False, p=w_poor / w_poor.sum())] = True
    is_point = choose_points(v_station, len(station_xy), pop, poor, n_points, rng)

    # bulk shippers at road junctions near stations on flat ground
    n_bulk = max(1, round(n_villages / p.villages_per_bulk_shipper))
    samples = built.sample_junctions if len(built.sample_junctions) else np.arange(len(anchors))
    sample_xy = built.junctions[samples]
    st_terrain = terrain_at(station_xy)
    st_w = np.where(st_terrain <= 1, 3.0, 1.0)
    bulk_station = rng.choice(len(station_xy), size=n_bulk, p=st_w / st_w.sum())
    bulk_anchor = np.zeros((n_bulk, 2))
    taken: set[int] = set()
    for b, s in enumerate(bulk_station.tolist()):
        _, near = cKDTree(sample_xy).query(station_xy[s], k=min(len(sample_xy), 6))
        choice = next(
            (int(j) for j in np.atleast_1d(near) if int(j) not in taken),
            int(np.atleast_1d(near)[0]),
        )
        taken.add(choice)
        bulk_anchor[b] = sample_xy[choice]
    kinds = [k for k, _ in p.bulk_names]
    kind_w = np.array([w for _, w in p.bulk_names])
    bulk_kind = rng.choice(len(kinds), size=n_bulk, p=kind_w / kind_w.sum())

    # sites hang off their junctions
    hub_site = place_spurs(hub_xy, p.town_spur_m, rng, outline=outline, river=river)
    st_site = place_spurs(station_xy, p.town_spur_m, rng, outline=outline, river=river)
    v_site = place_spurs(village_xy, p.spur_m, rng, outline=outline, river=river)
    b_site = place_spurs(bulk_anchor, p.bulk_spur_m, rng, outline=outline.buffer(2000), river=river)
    spur_drafts: list[RoadDraft] = []
    for xy, site, cls, access in (
        (hub_xy, hub_site, RoadClass.COUNTY, frozenset[str]()),
        (station_xy, st_site, RoadClass.TOWN, frozenset[str]()),
        (village_xy, v_site, RoadClass.LANE, frozenset[str]()),
        (bulk_anchor, b_site, RoadClass.TOWN, frozenset[str]()),
    ):
        codes = terrain_at(site)
        for i in range(len(xy)):
            spur_drafts.append(
                RoadDraft(
                    np.stack([xy[i], site[i]]), cls, TERRAIN_ORDER[int(codes[i])], access=access
                )
            )

    # names and sites
    if crs is Crs.WGS84:
        lon0, lat0 = p.origin
        proj = LocalProjection(Crs.WGS84, lon0, lat0)
    else:
        proj = LocalProjection(Crs.PLANAR)
    names_used: set[str] = set()
    town_names = village_names(st_terrain, rng, names_used)
    vnames = village_names(v_terrain, rng, names_used)
    keepers = person_names(len(station_xy) + n_villages, rng)
    phones = phone_numbers(len(station_xy) + n_villages, rng)
    sites: list[Site] = []
    hw = max(1, len(str(n_h)))
    for i, (x, y) in enumerate(to_crs(hub_site, crs, proj)):
        sites.append(
            Site(
                f"h{i + 1:0{hw}d}",
                f"物流配送中心{i + 1}",
                SiteKind.HUB,
                x,
                y,
                terrain=TERRAIN_ORDER[int(terrain_at(hub_site[i : i + 1])[0])],
            )
        )
    hub_ids = [s.id for s in sites]
    sw = max(3, len(str(len(station_xy))))
    st_ids = [f"s{i + 1:0{sw}d}" for i in range(len(station_xy))]
    common = SiteTimes(
        opens_s=p.opens_s,
        closes_s=p.closes_s,
        service_fixed_s=p.service_fixed_s,
        service_per_parcel_s=p.service_per_parcel_s,
    )
    for i, (x, y) in enumerate(to_crs(st_site, crs, proj)):
        town = town_names[i][:-1] + "镇" if len(town_names[i]) > 1 else town_names[i] + "镇"
        sites.append(
            Site(
                st_ids[i],
                f"{town}综合服务站",
                SiteKind.STATION,
                x,
                y,
                parent=hub_ids[int(built.nearest_hub[i])],
                terrain=TERRAIN_ORDER[int(st_terrain[i])],
                keeper=keepers[i],
                phone=phones[i],
                **common,
            )
        )
    vw = max(4, len(str(n_villages)))
    v_ids = [f"v{i + 1:0{vw}d}" for i in range(n_villages)]
    v_parent = attach_villages(village_xy, v_station, is_point)
    v_coords = to_crs(v_site, crs, proj)
    for i in range(n_villages):
        x, y = v_coords[i]
        point = bool(is_point[i])
        sites.append(
            Site(
                v_ids[i],
                vnames[i],
                SiteKind.VILLAGE_POINT if point else SiteKind.VILLAGE,
                x,
                y,
                parent=st_ids[int(v_station[i])] if point else v_ids[int(v_parent[i])],
                population=int(pop[i]),
                poor=bool(poor[i]),
                terrain=TERRAIN_ORDER[int(v_terrain[i])],
                keeper=keepers[len(station_xy) + i] if point else "",
                phone=phones[len(station_xy) + i] if point else "",
                **common,
            )
        )
    bw = max(3, len(str(n_bulk)))
    b_coords = to_crs(b_site, crs, proj)
    b_names = person_names(n_bulk, rng)
    for b in range(n_bulk):
        x, y = b_coords[b]
        s = int(bulk_station[b])
        sites.append(
            Site(
                f"b{b + 1:0{bw}d}",
                f"{b_names[b][0]}家{kinds[int(bulk_kind[b])]}",
                SiteKind.BULK_SHIPPER,
                x,
                y,
                parent=st_ids[s],
                terrain=TERRAIN_ORDER[int(terrain_at(b_site[b : b + 1])[0])],
                **common,
            )
        )
    roads = roads_from_drafts([*built.roads, *spur_drafts], crs, proj)
    boundary = to_crs(np.asarray(outline.exterior.coords), crs, proj)
    network = Network(
        name=f"synthetic-{n_villages}-s{seed}",
        crs=crs,
        sites=tuple(sites),
        roads=roads,
        boundary=tuple(boundary),
    )
    fleet = size_fleet(network, p.fleet, rng)
    return Scenario(
        name=network.name,
        network=network,
        fleet=fleet,
        policy=Policy(),
        attribution="synthetic (countyroute scenarios.synthetic)",
    )


def choose_points(
    station_of: IntArray,
    n_stations: int,
    population: IntArray,
    poor: NDArray[np.bool_],
    total: int,
    rng: np.random.Generator,
) -> NDArray[np.bool_]:
    """Exactly ``total`` village points (when there are that many villages).

    Every poor village gets one; each station gets points in proportion to its villages and
    at least one; within a station the largest villages win, with a random tilt (×0.6–1.4).
    """
    n = len(station_of)
    total = min(total, n)
    size = np.bincount(station_of, minlength=n_stations)
    quota = np.maximum(np.bincount(station_of[poor], minlength=n_stations), (size > 0).astype(int))
    target = total * size / max(n, 1)
    while quota.sum() < total:
        gap = np.where(quota < size, target - quota, -np.inf)
        quota[int(np.argmax(gap))] += 1
    score = population * rng.uniform(0.6, 1.4, n) + np.where(poor, 1e9, 0.0)
    chosen = np.zeros(n, dtype=bool)
    order = np.lexsort((np.arange(n), -score, station_of))
    first = np.searchsorted(station_of[order], np.arange(n_stations))
    for st in range(n_stations):
        chosen[order[first[st] : first[st] + quota[st]]] = True
    return chosen


def attach_villages(xy: FloatArray, v_station: IntArray, is_point: NDArray[np.bool_]) -> IntArray:
    """For each village, the nearest point of its own station (itself for points)."""
    parent = np.arange(len(xy), dtype=np.int64)
    for s in np.unique(v_station).tolist():
        pts = np.flatnonzero((v_station == s) & is_point)
        others = np.flatnonzero((v_station == s) & ~is_point)
        if len(pts) and len(others):
            parent[others] = pts[cKDTree(xy[pts]).query(xy[others])[1]]
    return parent
