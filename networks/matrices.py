"""Travel matrices: distance (metres) and time (seconds) between sites, per vehicle class.

With roads, every site is snapped to its nearest road: the projection of the site onto the
road becomes a node that splits the road, and the site itself hangs off it by an off-road leg
driven at the class's ``offroad_kmh``. Matrices hold the **fastest** path's time and that same
path's length, computed for all sources in one multi-source Dijkstra (scipy.sparse.csgraph,
measured on `yanshi`, 206 sources on its 879-node van graph: 0.008 s against 0.137 s for
networkx's single-source Dijkstra from each, 16× faster).

Both values come out of one Dijkstra run by a lexicographic weight: each arc weighs
``time_cs * 10**8 + length_dm`` (centiseconds, decimetres, rounded per arc), so the shortest
weighted path is the fastest path with ties broken by length, and the sum decodes into both
exactly (float64 holds integers up to 2**53). Rounding costs at most 5 cm and 5 ms per arc
(unbiased: zero-weight arcs are stored explicitly, which csgraph treats as edges).

Without roads, distance is straight-line distance × a circuity factor per terrain (the mean
of both ends' factors) and time is that distance at the class's town-road speed in that
terrain. This is an **approximation**, stated as ``method="circuity"`` on the matrix.

Unreachable pairs hold :data:`UNREACHABLE`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import shapely
import shapely.ops
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from networks.coords import Crs, haversine_m
from networks.errors import UnreachableSite
from networks.roads import RoadClass, VehicleClass, junction_key
from networks.sites import Site, Terrain

if TYPE_CHECKING:  # the network builds its RoadIndex (Network.road_index): one way at run time
    from networks.network import Network

__all__ = ["UNREACHABLE", "RoadIndex", "Snap", "TravelMatrix", "straight_line_m"]

UNREACHABLE = 10**9
"""Sentinel distance (m) and time (s) for pairs no allowed road connects."""

_K = 10**8  # decimetres per "time unit" in the lexicographic weight
_BATCH = 256  # sources per Dijkstra call: bounds memory at _BATCH × nodes × 8 bytes


@dataclass(frozen=True, slots=True)
class TravelMatrix:
    """Distances and times between ``site_ids`` for one vehicle class (read-only int64)."""

    site_ids: tuple[str, ...]
    vehicle_class: str
    distance_m: NDArray[np.int64]
    time_s: NDArray[np.int64]
    method: Literal["roads", "circuity"]

    def position(self, site_id: str) -> int:
        """Row/column of a site in the matrix."""
        return self.site_ids.index(site_id)

    def reachable(self) -> NDArray[np.bool_]:
        """Boolean matrix: True where a path exists."""
        return np.asarray(self.distance_m < UNREACHABLE)


@dataclass(frozen=True, slots=True)
class Snap:
    """Where a site meets the road network."""

    site_id: str
    road_id: str
    distance_m: float
    along_m: float


def straight_line_m(network: Network, a: Site, b: Site) -> float:
    """Straight-line distance between two sites in metres."""
    if network.crs is Crs.PLANAR:
        return float(np.hypot(a.x - b.x, a.y - b.y))
    return float(haversine_m(a.x, a.y, b.x, b.y))


_PRED_KEPT = 64
"""Shortest-path trees :meth:`RoadIndex.path_coords` keeps (the depots' are asked again and
again; the rest rarely)."""


class RoadIndex:
    """The compiled road graph of a network; built once per network instance.

    Raises
    ------
    UnreachableSite
        When a site lies farther than ``network.max_snap_m`` from every road.
    """

    def __init__(self, network: Network) -> None:
        self.network = network
        self._cache: dict[tuple[str, tuple[str, ...]], TravelMatrix] = {}
        self._graphs: dict[str, csr_matrix] = {}
        self._weights: dict[str, NDArray[np.float64]] = {}
        self._seg_of: dict[str, dict[tuple[int, int], tuple[int, bool]]] = {}
        self._pred: dict[tuple[str, int], NDArray[np.int32]] = {}
        self.snaps: dict[str, Snap] = {}
        if not network.roads:
            return
        proj = network.projection
        roads = network.roads
        lines_m = []
        for r in roads:
            arr = np.asarray(r.coords, dtype=np.float64)
            e, n = proj.to_metres(arr[:, 0], arr[:, 1])
            lines_m.append(shapely.LineString(np.column_stack([e, n])))
        self._lines_m = lines_m
        self._road_len = np.array(
            [r.length_m or ln.length for r, ln in zip(roads, lines_m, strict=True)]
        )
        # junction nodes
        junctions: dict[tuple[float, float], int] = {}
        ends = []
        for r in roads:
            u = junctions.setdefault(junction_key(r.coords[0]), len(junctions))
            v = junctions.setdefault(junction_key(r.coords[-1]), len(junctions))
            ends.append((u, v))
        n_j = len(junctions)
        sites = network.sites
        n_s = len(sites)
        # snapping: nearest road to each site (all roads, whatever their access)
        sx, sy = proj.to_metres(
            np.array([s.x for s in sites], dtype=np.float64),
            np.array([s.y for s in sites], dtype=np.float64),
        )
        points = shapely.points(np.column_stack([sx, sy]))
        tree = shapely.STRtree(lines_m)
        (site_idx, road_idx), dist = tree.query_nearest(
            points, return_distance=True, all_matches=False
        )
        nearest = np.full(n_s, -1)
        snap_d = np.zeros(n_s)
        nearest[site_idx] = road_idx
        snap_d[site_idx] = dist
        along = np.array(
            [lines_m[nearest[i]].project(points[i]) for i in range(n_s)], dtype=np.float64
        )
        for i, s in enumerate(sites):
            if snap_d[i] > network.max_snap_m:
                raise UnreachableSite(
                    f"site is {snap_d[i]:.0f} m from the nearest road "
                    f"(more than max_snap_m = {network.max_snap_m:.0f} m)",
                    location=f"site {s.id!r}",
                    field="coordinates",
                )
            self.snaps[s.id] = Snap(s.id, roads[nearest[i]].id, float(snap_d[i]), float(along[i]))
        # nodes: junctions [0, n_j), projection points [n_j, n_j + n_s), sites after that
        self.n_nodes = n_j + 2 * n_s
        self.site_node = {s.id: n_j + n_s + i for i, s in enumerate(sites)}
        seg_a: list[int] = []
        seg_b: list[int] = []
        seg_len: list[float] = []
        seg_road: list[int] = []  # -1 for off-road legs
        self._seg_span: list[tuple[float, float]] = []  # metres along the road (start, end)
        by_road: dict[int, list[int]] = {}
        for i in range(n_s):
            by_road.setdefault(int(nearest[i]), []).append(i)
        for ri, (u, v) in enumerate(ends):
            length = float(self._road_len[ri])
            scale = length / lines_m[ri].length if lines_m[ri].length > 0 else 1.0
            chain = sorted(by_road.get(ri, ()), key=lambda i: along[i])
            prev_node, prev_at = u, 0.0
            for i in chain:
                at = float(along[i]) * scale
                seg_a.append(prev_node)
                seg_b.append(n_j + i)
                seg_len.append(at - prev_at)
                seg_road.append(ri)
                self._seg_span.append((prev_at / scale, at / scale))
                prev_node, prev_at = n_j + i, at
            seg_a.append(prev_node)
            seg_b.append(v)
            seg_len.append(length - prev_at)
            seg_road.append(ri)
            self._seg_span.append((prev_at / scale, length / scale))
            # A foot at an end of its road *is* that junction, equally near every road meeting
            # there; link it to the junction for every class (-1, zero length), so a tie that
            # picked a closed or restricted road does not cut the site off from the open ones.
            for i in chain:
                end = u if along[i] <= 0 else v if along[i] >= lines_m[ri].length else -1
                if end >= 0:
                    seg_a.append(end)
                    seg_b.append(n_j + i)
                    seg_len.append(0.0)
                    seg_road.append(-1)
                    self._seg_span.append((0.0, 0.0))
        for i in range(n_s):  # off-road legs: projection point <-> site
            seg_a.append(n_j + i)
            seg_b.append(n_j + n_s + i)
            seg_len.append(float(snap_d[i]))
            seg_road.append(-1)
            self._seg_span.append((0.0, float(snap_d[i])))
        self._seg_a = np.array(seg_a, dtype=np.int64)
        self._seg_b = np.array(seg_b, dtype=np.int64)
        self._seg_len = np.maximum(np.array(seg_len, dtype=np.float64), 0.0)
        self._seg_road = np.array(seg_road, dtype=np.int64)
        self._junction_xy = {idx: key for key, idx in junctions.items()}
        self._site_m = np.column_stack([sx, sy])
        self._foot_m = np.array(
            [[p.x, p.y] for p in (lines_m[nearest[i]].interpolate(along[i]) for i in range(n_s))]
        ).reshape(n_s, 2)

    # -- graphs --------------------------------------------------------------------------
    def _seg_weights(self, vc: VehicleClass) -> NDArray[np.float64]:
        """Lexicographic weight of every segment for one class (inf where it may not drive)."""
        cached = self._weights.get(vc.name)
        if cached is not None:
            return cached
        roads = self.network.roads
        speed = np.array([r.speed_kmh(vc) for r in roads], dtype=np.float64)
        seg_speed = np.where(self._seg_road >= 0, speed[self._seg_road], vc.offroad_kmh)
        ok = seg_speed > 0
        time_cs = np.rint(self._seg_len[ok] / (seg_speed[ok] / 3.6) * 100)
        len_dm = np.rint(self._seg_len[ok] * 10)
        w = np.full(len(self._seg_len), np.inf)
        w[ok] = time_cs * _K + len_dm
        self._weights[vc.name] = w
        return w

    def _graph(self, vc: VehicleClass) -> csr_matrix:
        """Directed sparse graph of lexicographic weights for one vehicle class."""
        g = self._graphs.get(vc.name)
        if g is not None:
            return g
        w_all = self._seg_weights(vc)
        ok = np.isfinite(w_all)
        # Zero-length arcs (a site on its road, a foot at a junction) weigh 0; csgraph keeps
        # explicitly stored zeros as edges, so no offset is needed (one would bias lengths).
        w = w_all[ok]
        a, b = self._seg_a[ok], self._seg_b[ok]
        rows = np.concatenate([a, b])
        cols = np.concatenate([b, a])
        ws = np.concatenate([w, w])
        # parallel roads between the same junctions: keep the lightest arc
        order = np.lexsort((ws, cols, rows))
        rows, cols, ws = rows[order], cols[order], ws[order]
        keep = np.ones(len(rows), dtype=bool)
        keep[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        g = csr_matrix((ws[keep], (rows[keep], cols[keep])), shape=(self.n_nodes, self.n_nodes))
        self._graphs[vc.name] = g
        return g

    # -- matrices ------------------------------------------------------------------------
    def matrix(self, site_ids: tuple[str, ...], vehicle_class: str) -> TravelMatrix:
        """Distance and time between ``site_ids`` for a vehicle class (cached)."""
        key = (vehicle_class, site_ids)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        vc = self.network.vehicle_class(vehicle_class)
        if self.network.roads:
            dist, time = self._road_matrix(site_ids, vc)
            method: Literal["roads", "circuity"] = "roads"
        else:
            dist, time = self._circuity_matrix(site_ids, vc)
            method = "circuity"
        dist.setflags(write=False)
        time.setflags(write=False)
        tm = TravelMatrix(site_ids, vehicle_class, dist, time, method)
        self._cache[key] = tm
        return tm

    def _road_matrix(
        self, site_ids: tuple[str, ...], vc: VehicleClass
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        g = self._graph(vc)
        nodes = np.array([self.site_node[s] for s in site_ids], dtype=np.int64)
        n = len(nodes)
        dist = np.full((n, n), UNREACHABLE, dtype=np.int64)
        time = np.full((n, n), UNREACHABLE, dtype=np.int64)
        # A local matrix (a station and its villages) need not search the whole county: bound
        # the search by a generous travel time over the sites' spread, then search again,
        # unbounded, from any source that missed a target (an exact result either way).
        idx = np.array([self.network.index[s] for s in site_ids])
        spread = np.ptp(self._site_m[idx], axis=0).sum() if n > 1 else 0.0
        town = max(vc.speed_kmh(RoadClass.TOWN, Terrain.MOUNTAINS), 5.0) / 3.6
        bound = (3 * spread / town + 1800) * 100 * _K
        for start in range(0, n, _BATCH):
            src = nodes[start : start + _BATCH]
            w = dijkstra(g, directed=True, indices=src, limit=bound)[:, nodes]
            missed = ~np.isfinite(w).all(axis=1)
            if missed.any():
                w[missed] = dijkstra(g, directed=True, indices=src[missed])[:, nodes]
            finite = np.isfinite(w)
            wf = np.where(finite, w, 0.0)
            t_cs = np.floor_divide(wf, _K)
            l_dm = wf - t_cs * _K
            block = slice(start, start + len(src))
            dist[block] = np.where(finite, np.rint(l_dm / 10), UNREACHABLE)
            time[block] = np.where(finite, np.rint(t_cs / 100), UNREACHABLE)
        np.fill_diagonal(dist, 0)
        np.fill_diagonal(time, 0)
        return dist, time

    def _circuity_matrix(
        self, site_ids: tuple[str, ...], vc: VehicleClass
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        net = self.network
        sites = [net.site(s) for s in site_ids]
        xs = np.array([s.x for s in sites], dtype=np.float64)
        ys = np.array([s.y for s in sites], dtype=np.float64)
        if net.crs is Crs.PLANAR:
            straight = np.hypot(xs[:, None] - xs[None, :], ys[:, None] - ys[None, :])
        else:
            straight = haversine_m(xs[:, None], ys[:, None], xs[None, :], ys[None, :])
        circ = dict(net.circuity)
        c = np.array([circ.get(s.terrain, 1.3) for s in sites])
        speed = np.array([vc.speed_kmh(RoadClass.TOWN, s.terrain) for s in sites]) / 3.6
        dist = straight * (c[:, None] + c[None, :]) / 2
        time = dist / ((speed[:, None] + speed[None, :]) / 2)
        return np.rint(dist).astype(np.int64), np.rint(time).astype(np.int64)

    def components(self, vehicle_class: str) -> dict[str, int]:
        """A label per site: two sites with the same label are connected, both ways, on roads
        open to the class (all sites share label 0 when the network has no roads)."""
        if not self.network.roads:
            return {s.id: 0 for s in self.network.sites}
        g = self._graph(self.network.vehicle_class(vehicle_class))
        _, labels = connected_components(g, directed=True, connection="strong")
        return {sid: int(labels[node]) for sid, node in self.site_node.items()}

    # -- geometry --------------------------------------------------------------------------
    def path_coords(self, a: str, b: str, vehicle_class: str) -> list[tuple[float, float]]:
        """Coordinates of the fastest path from site ``a`` to site ``b`` (network CRS).

        Without roads it is the straight segment. Raises ``UnreachableSite`` when no allowed
        road connects them.
        """
        net = self.network
        sa, sb = net.site(a), net.site(b)
        if not net.roads or a == b:
            return [(sa.x, sa.y), (sb.x, sb.y)]
        vc = net.vehicle_class(vehicle_class)
        src, dst = self.site_node[a], self.site_node[b]
        pred = self._pred.get((vc.name, src))
        if pred is None:  # a plan's legs leave the same sites again and again
            _, pred = dijkstra(
                self._graph(vc), directed=True, indices=src, return_predecessors=True
            )
            if len(self._pred) >= _PRED_KEPT:  # bounded: a row per node each
                del self._pred[next(iter(self._pred))]
            self._pred[(vc.name, src)] = pred
        if pred[dst] < 0:
            raise UnreachableSite(
                f"no road open to {vehicle_class} leads from {a!r} to {b!r}",
                location=f"site {b!r}",
            )
        nodes = [dst]
        while nodes[-1] != src:
            nodes.append(int(pred[nodes[-1]]))
        nodes.reverse()
        return self._nodes_to_coords(nodes, vc)

    def _segments(self, vc: VehicleClass) -> dict[tuple[int, int], tuple[int, bool]]:
        """(node, node) → (segment, reversed) of the lightest segment this class may drive
        between them (there may be parallel roads: an old bridge and a detour)."""
        seg_of = self._seg_of.get(vc.name)
        if seg_of is not None:
            return seg_of
        weights = self._seg_weights(vc)
        seg_of = {}
        for k, (sa, sb) in enumerate(zip(self._seg_a.tolist(), self._seg_b.tolist(), strict=True)):
            for key, rev in (((sa, sb), False), ((sb, sa), True)):
                best = seg_of.get(key)
                if best is None or weights[k] < weights[best[0]]:
                    seg_of[key] = (k, rev)
        self._seg_of[vc.name] = seg_of
        return seg_of

    def _nodes_to_coords(self, nodes: list[int], vc: VehicleClass) -> list[tuple[float, float]]:
        # draw the segment the graph kept between two nodes, i.e. the lightest one
        seg_of = self._segments(vc)
        out: list[tuple[float, float]] = []
        for u, v in itertools.pairwise(nodes):
            k, rev = seg_of[(u, v)]
            road = int(self._seg_road[k])
            if road < 0:
                pts = [self._node_xy_m(u), self._node_xy_m(v)]
            else:
                start, end = self._seg_span[k]
                piece = shapely.ops.substring(self._lines_m[road], start, end)
                pts = [tuple(c) for c in np.asarray(piece.coords)]
                if rev:
                    pts.reverse()
            arr = np.asarray(pts, dtype=np.float64)
            xs, ys = self.network.projection.from_metres(arr[:, 0], arr[:, 1])
            seg = list(zip(xs.tolist(), ys.tolist(), strict=True))
            out.extend(seg if not out else seg[1:])
        return out

    def _node_xy_m(self, node: int) -> tuple[float, float]:
        n_s = len(self.network.sites)
        n_j = self.n_nodes - 2 * n_s
        if node < n_j:
            x, y = self._junction_xy[node]
            e, n = self.network.projection.to_metres(np.array([x]), np.array([y]))
            return float(e[0]), float(n[0])
        if node < n_j + n_s:  # the foot of a site on its road
            return float(self._foot_m[node - n_j, 0]), float(self._foot_m[node - n_j, 1])
        i = node - n_j - n_s
        return float(self._site_m[i, 0]), float(self._site_m[i, 1])
