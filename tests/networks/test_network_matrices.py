"""networks.matrices: travel matrices against an independent networkx oracle, per-class
access, read-only results, caching and the circuity fallback."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import networkx as nx
import numpy as np
import pytest

from networks import (
    UNREACHABLE,
    Crs,
    Network,
    Road,
    RoadClass,
    RoadIndex,
    Site,
    SiteKind,
    Terrain,
    VehicleClass,
)
from scenarios.bundle import Scenario

CLASSES = ("truck", "van", "tricycle")


# ----------------------------------------------------------------------------- generator
def random_network(seed: int, n_junctions: int = 25, n_villages: int = 20) -> Network:
    """A seeded planar road network (metres) with a hub, two stations and villages.

    Junctions are joined to their nearest neighbours; roads get random classes and terrain,
    some bend, some are closed, tricycle-only or behind a 3 t bridge, some have a per-class
    speed override, and two run parallel to another road between the same junctions.
    """
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 8000, size=(n_junctions, 2)).round(1)
    pairs: set[tuple[int, int]] = set()
    for i in range(n_junctions):
        d = np.hypot(*(pts - pts[i]).T)
        for j in np.argsort(d)[1 : 1 + int(rng.integers(1, 4))]:
            pairs.add((min(i, int(j)), max(i, int(j))))
    pair_list = sorted(pairs)
    parallel = [pair_list[int(k)] for k in rng.choice(len(pair_list), size=2, replace=False)]
    roads = []
    for n, (i, j) in enumerate([*pair_list, *parallel]):
        a, b = tuple(pts[i]), tuple(pts[j])
        bend = n >= len(pair_list) or rng.random() < 0.3
        if bend:  # a shape vertex off the chord; parallel roads always bend
            mid = (pts[i] + pts[j]) / 2 + rng.normal(0, 400, size=2)
            coords: tuple[tuple[float, float], ...] = (a, (float(mid[0]), float(mid[1])), b)
        else:
            coords = (a, b)
        u = rng.random()
        roads.append(
            Road(
                id=f"r{n}",
                coords=coords,
                road_class=RoadClass(rng.choice([c.value for c in RoadClass])),
                terrain=Terrain(rng.choice([t.value for t in Terrain])),
                closed=bool(u < 0.1),
                access=frozenset({"tricycle"}) if 0.1 <= u < 0.2 else frozenset(),
                bridge=bool(0.2 <= u < 0.3),
                max_weight_t=3.0 if 0.2 <= u < 0.3 else None,
                speeds_kmh=(("van", 15.0),) if 0.3 <= u < 0.35 else (),
            )
        )
    sites = []
    kinds = [
        ("h", SiteKind.HUB, None),
        ("s1", SiteKind.STATION, "h"),
        ("s2", SiteKind.STATION, "h"),
    ]
    kinds += [(f"v{k}", SiteKind.VILLAGE_POINT, f"s{1 + k % 2}") for k in range(n_villages)]
    for ident, kind, parent in kinds:
        road = roads[int(rng.integers(len(roads)))]
        line = np.asarray(road.coords)
        seg = int(rng.integers(len(line) - 1))
        p = line[seg] + rng.uniform(0.05, 0.95) * (line[seg + 1] - line[seg])
        p = p + rng.normal(0, 120, size=2)
        sites.append(Site(ident, ident.upper(), kind, float(p[0]), float(p[1]), parent=parent))
    return Network(f"random-{seed}", Crs.PLANAR, tuple(sites), tuple(roads), max_snap_m=5000)


# ----------------------------------------------------------------------------- oracle
def _speed_kmh(road: Road, vc: VehicleClass) -> float:
    """The access and speed rules, restated from the docs (not calling Road.speed_kmh)."""
    if road.closed or (road.access and vc.name not in road.access):
        return 0.0
    if road.max_weight_t is not None and vc.gross_weight_t > road.max_weight_t:
        return 0.0
    override = dict(road.speeds_kmh).get(vc.name)
    if override is not None:
        return override
    base = dict(vc.speeds_kmh).get(road.road_class, 0.0)
    return base * dict(vc.terrain_factor).get(road.terrain, 1.0)


def _project(p: np.ndarray, coords: tuple[tuple[float, float], ...]) -> tuple[float, float]:
    """Distance from p to a polyline and the distance along it of the nearest point."""
    best, best_along, walked = math.inf, 0.0, 0.0
    for a, b in itertools.pairwise(coords):
        a_, b_ = np.asarray(a), np.asarray(b)
        ab = b_ - a_
        seg_len = float(np.hypot(*ab))
        t = 0.0 if seg_len == 0 else float(np.clip(np.dot(p - a_, ab) / seg_len**2, 0, 1))
        d = float(np.hypot(*(a_ + t * ab - p)))
        if d < best:
            best, best_along = d, walked + t * seg_len
        walked += seg_len
    return best, best_along


def _polyline_length(coords: tuple[tuple[float, float], ...]) -> float:
    return float(sum(math.dist(a, b) for a, b in itertools.pairwise(coords)))


def snap_oracle(net: Network) -> dict[str, tuple[int, float, float]]:
    """Site id -> (road position, off-road distance, distance along the road)."""
    out = {}
    for s in net.sites:
        p = np.array([s.x, s.y])
        found = [(*_project(p, r.coords), k) for k, r in enumerate(net.roads)]
        d, along, k = min(found)
        out[s.id] = (k, d, along)
    return out


def oracle_graph(net: Network, vc: VehicleClass) -> nx.Graph:
    """The road graph built independently: sites hang off their foot on the nearest road;
    a foot at a road's end is that junction. Edges carry ``time`` (s) and ``length`` (m)."""
    snaps = snap_oracle(net)
    g = nx.Graph()

    def add(u: object, v: object, length: float, speed: float) -> None:
        if speed <= 0:
            return
        time = length / (speed / 3.6)
        old = g.get_edge_data(u, v)
        if old is None or (time, length) < (old["time"], old["length"]):
            g.add_edge(u, v, time=time, length=length)

    for k, road in enumerate(net.roads):
        total = _polyline_length(road.coords)
        start, end = ("j", road.coords[0]), ("j", road.coords[-1])
        feet = sorted((along, sid) for sid, (rk, _, along) in snaps.items() if rk == k)
        chain = [(0.0, start), *((a, ("f", sid)) for a, sid in feet), (total, end)]
        for (a0, n0), (a1, n1) in itertools.pairwise(chain):
            add(n0, n1, a1 - a0, _speed_kmh(road, vc))
        for along, sid in feet:
            if along <= 0:
                add(start, ("f", sid), 0.0, math.inf)
            elif along >= total:
                add(end, ("f", sid), 0.0, math.inf)
    for s in net.sites:
        g.add_node(("s", s.id))
        add(("f", s.id), ("s", s.id), snaps[s.id][1], vc.offroad_kmh)
    return g


def oracle_matrices(net: Network, vehicle_class: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact (float) distance and time of the fastest path, and its number of arcs."""
    g = oracle_graph(net, net.vehicle_class(vehicle_class))
    ids = [s.id for s in net.sites]
    n = len(ids)
    dist, time, arcs = np.full((n, n), np.inf), np.full((n, n), np.inf), np.zeros((n, n))
    for i, a in enumerate(ids):
        times, paths = nx.single_source_dijkstra(g, ("s", a), weight="time")
        for j, b in enumerate(ids):
            path = paths.get(("s", b))
            if path is None:
                continue
            time[i, j] = times[("s", b)]
            dist[i, j] = sum(g.edges[u, v]["length"] for u, v in itertools.pairwise(path))
            arcs[i, j] = len(path) - 1
    return dist, time, arcs


# ----------------------------------------------------------------------------- oracle tests
@pytest.mark.parametrize("seed", range(30))
def test_matrices_equal_networkx_fastest_paths(seed: int) -> None:
    net = random_network(seed)
    ids = tuple(s.id for s in net.sites)
    for cls in CLASSES:
        m = net.road_index.matrix(ids, cls)
        dist, time, arcs = oracle_matrices(net, cls)
        reach = np.isfinite(time)
        assert np.array_equal(m.reachable(), reach), cls
        assert np.all(m.distance_m[~reach] == UNREACHABLE)
        assert np.all(m.time_s[~reach] == UNREACHABLE)
        # Documented rounding: 5 cm and 5 ms per arc, then to whole metres and seconds.
        assert np.all(np.abs(m.distance_m[reach] - dist[reach]) <= 0.5 + 0.05 * arcs[reach])
        assert np.all(np.abs(m.time_s[reach] - time[reach]) <= 0.5 + 0.005 * arcs[reach])


@pytest.mark.parametrize("seed", range(5))
def test_snaps_equal_the_nearest_road(seed: int) -> None:
    net = random_network(seed)
    expected = snap_oracle(net)
    for sid, snap in net.road_index.snaps.items():
        _, d, _ = expected[sid]
        assert snap.distance_m == pytest.approx(d, abs=1e-6)
        road = next(r for r in net.roads if r.id == snap.road_id)
        assert _project(np.array([net.site(sid).x, net.site(sid).y]), road.coords)[0] == (
            pytest.approx(d, abs=1e-6)
        )


@pytest.mark.parametrize("seed", range(5))
def test_fastest_times_obey_the_triangle_inequality(seed: int) -> None:
    net = random_network(seed)
    ids = tuple(s.id for s in net.sites)
    for cls in CLASSES:
        t = net.road_index.matrix(ids, cls).time_s
        via = (t[:, :, None] + t[None, :, :]).min(axis=1)  # i -> j -> k
        assert np.all(t <= via + 1)  # +1: each leg is rounded to whole seconds


@pytest.mark.parametrize("seed", range(5))
def test_sub_matrix_equals_the_block_of_the_full_matrix(seed: int) -> None:
    net = random_network(seed)
    ids = tuple(s.id for s in net.sites)
    full = net.road_index.matrix(ids, "van")
    some = ("v3", "h", "v0", "s2")
    sub = net.road_index.matrix(some, "van")
    pos = [ids.index(s) for s in some]
    assert np.array_equal(sub.distance_m, full.distance_m[np.ix_(pos, pos)])
    assert np.array_equal(sub.time_s, full.time_s[np.ix_(pos, pos)])


# ----------------------------------------------------------------------------- tiny, by hand
def _ids(s: Scenario) -> tuple[str, ...]:
    return tuple(site.id for site in s.network.sites)


def _at(s: Scenario, cls: str, a: str, b: str) -> tuple[int, int]:
    m = s.network.road_index.matrix(_ids(s), cls)
    i, j = m.position(a), m.position(b)
    return int(m.distance_m[i, j]), int(m.time_s[i, j])


def test_van_crosses_the_bridge(tiny: Scenario) -> None:
    # off-road 30 + 40 m at 10 km/h, 200 + 3000 + 2400 m county road at 40, bridge 400 m at 35
    expected_s = 70 / (10 / 3.6) + 5600 / (40 / 3.6) + 400 / (35 / 3.6)
    assert _at(tiny, "van", "h", "s2") == (6070, round(expected_s))


def test_truck_over_the_weight_limit_takes_the_dam_road(tiny: Scenario) -> None:
    dam = 2 * math.hypot(1500, 200)
    d, t = _at(tiny, "truck", "h", "s2")
    assert d == pytest.approx(30 + 200 + 3000 + dam + 2400 + 40, abs=0.6)
    assert t == pytest.approx(70 / (10 / 3.6) + 5600 / (45 / 3.6) + dam / (35 / 3.6), abs=0.6)


@pytest.mark.parametrize("cls", ["truck", "van"])
def test_lane_closed_to_vans_and_trucks_makes_its_village_unreachable(
    tiny: Scenario, cls: str
) -> None:
    assert _at(tiny, cls, "s1", "v3") == (UNREACHABLE, UNREACHABLE)
    assert _at(tiny, cls, "v3", "s1") == (UNREACHABLE, UNREACHABLE)


def test_tricycle_uses_the_narrow_lane(tiny: Scenario) -> None:
    # 40 off-road, 200 m county road to the junction, 2000 m lane, 50 off-road
    expected_s = 90 / (10 / 3.6) + 200 / (25 / 3.6) + 2000 / (20 / 3.6)
    assert _at(tiny, "tricycle", "s1", "v3") == (2290, round(expected_s))


def test_closed_road_forces_the_detour_by_the_hub(tiny: Scenario) -> None:
    assert _at(tiny, "van", "s1", "s2")[0] == 40 + 4800 + 3000 + 400 + 2400 + 40
    roads = tuple(replace(r, closed=False) if r.id == "c1" else r for r in tiny.network.roads)
    reopened = replace(tiny, network=replace(tiny.network, roads=roads))
    d, _ = _at(reopened, "van", "s1", "s2")
    assert d == round(40 + 200 + math.hypot(5000, 6000) + 200 + 40)
    assert _at(reopened, "van", "s1", "v1") == _at(tiny, "van", "s1", "v1")  # elsewhere unchanged


@pytest.mark.parametrize("cls", CLASSES)
def test_road_matrices_are_symmetric_with_zero_diagonal(tiny: Scenario, cls: str) -> None:
    m = tiny.network.road_index.matrix(_ids(tiny), cls)
    assert m.method == "roads"
    assert np.array_equal(m.distance_m, m.distance_m.T)
    assert np.array_equal(m.time_s, m.time_s.T)
    assert not np.diag(m.distance_m).any() and not np.diag(m.time_s).any()
    assert m.distance_m.dtype == np.int64 and m.time_s.dtype == np.int64


# ----------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("roads", [True, False], ids=["roads", "circuity"])
def test_matrices_are_read_only(tiny: Scenario, roads: bool) -> None:
    net = tiny.network if roads else replace(tiny.network, roads=())
    m = net.road_index.matrix(("h", "s1"), "van")
    with pytest.raises(ValueError, match="read-only"):
        m.distance_m[0, 1] = 1
    with pytest.raises(ValueError, match="read-only"):
        m.time_s[0, 1] = 1


def test_matrices_and_road_index_are_cached(tiny: Scenario) -> None:
    net = tiny.network
    assert net.road_index is net.road_index
    first = net.road_index.matrix(("h", "s1", "s2"), "van")
    assert net.road_index.matrix(("h", "s1", "s2"), "van") is first
    assert net.road_index.matrix(("h", "s1", "s2"), "truck") is not first
    assert net.road_index.matrix(("s1", "h", "s2"), "van") is not first


def test_unknown_vehicle_class_is_a_key_error(tiny: Scenario) -> None:
    with pytest.raises(KeyError, match="bicycle"):
        tiny.network.road_index.matrix(("h", "s1"), "bicycle")


def _circuity_expected(net: Network, ids: tuple[str, ...], cls: str) -> tuple[np.ndarray, ...]:
    circ = dict(net.circuity)
    vc = net.vehicle_class(cls)
    sites = [net.site(s) for s in ids]
    n = len(sites)
    dist, time = np.zeros((n, n)), np.zeros((n, n))
    for i, a in enumerate(sites):
        for j, b in enumerate(sites):
            if net.crs is Crs.PLANAR:
                straight = math.dist((a.x, a.y), (b.x, b.y))
            else:  # spherical law of cosines, independent of haversine_m
                p1, p2 = math.radians(a.y), math.radians(b.y)
                dl = math.radians(b.x - a.x)
                c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
                straight = 6_371_008.8 * math.acos(min(1.0, c))
            dist[i, j] = straight * (circ[a.terrain] + circ[b.terrain]) / 2
            speed = (
                vc.speed_kmh(RoadClass.TOWN, a.terrain) + vc.speed_kmh(RoadClass.TOWN, b.terrain)
            ) / 2
            time[i, j] = dist[i, j] / (speed / 3.6)
    return dist, time


def test_planar_network_without_roads_uses_euclid_times_circuity(tiny: Scenario) -> None:
    net = replace(tiny.network, roads=())
    ids = _ids(tiny)
    m = net.road_index.matrix(ids, "van")
    assert m.method == "circuity"
    dist, time = _circuity_expected(net, ids, "van")
    assert np.all(np.abs(m.distance_m - dist) <= 0.5 + 1e-6)
    assert np.all(np.abs(m.time_s - time) <= 0.5 + 1e-6)
    # v3 is in the hills (1.5), s1 on the plain (1.3): the mean of both ends
    i, j = m.position("s1"), m.position("v3")
    assert m.distance_m[i, j] == round(math.dist((4800, -40), (5050, 2000)) * 1.4)
    assert m.reachable().all()


def test_wgs84_network_without_roads_uses_great_circle_times_circuity() -> None:
    sites = (
        Site("h", "H", SiteKind.HUB, 112.79, 34.727),
        Site("s", "S", SiteKind.STATION, 112.70, 34.80, parent="h", terrain=Terrain.LOESS),
        Site(
            "v", "V", SiteKind.VILLAGE_POINT, 112.65, 34.66, parent="s", terrain=Terrain.MOUNTAINS
        ),
    )
    net = Network(
        "w",
        Crs.WGS84,
        sites,
        circuity=((Terrain.PLAIN, 1.2), (Terrain.LOESS, 1.5), (Terrain.MOUNTAINS, 1.7)),
    )
    ids = ("h", "s", "v")
    m = net.road_index.matrix(ids, "truck")
    assert m.method == "circuity"
    dist, time = _circuity_expected(net, ids, "truck")
    assert np.all(np.abs(m.distance_m - dist) <= 0.5 + 1e-6)
    assert np.all(np.abs(m.time_s - time) <= 0.5 + 1e-6)


def test_road_index_without_roads_has_no_snaps(tiny: Scenario) -> None:
    index = RoadIndex(replace(tiny.network, roads=()))
    assert index.snaps == {}
