"""Benchmarks of the network stage: loading a bundle, building its matrices, one big matrix.

Inputs are built outside the timed part and the work is deterministic (seeded networks).
``make bench`` runs them for real; CI runs them once with ``--benchmark-disable`` (the big
matrix then takes ~10 s here). ``COUNTYROUTE_BENCH_SIZE`` sets the big network's villages.
"""

from __future__ import annotations

import os
import resource
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from networks import Crs, Network, Road, RoadClass, RoadIndex, Site, SiteKind, Terrain
from routing.model import Direction, Order, Policy, Vehicle
from scenarios.bundle import BUILTIN_DIR, Scenario, load_bundle, save_bundle

SIZE_ENV = "COUNTYROUTE_BENCH_SIZE"
BIG_SIZE = 5000  # villages in the big network


def grid_network(n_villages: int, seed: int = 0, spacing_m: float = 1500.0) -> Network:
    """A planar county of ``n_villages`` village points on a jittered road grid.

    Every 10th grid line is a county road, every 5th a town road, the rest are lanes; the
    northern half is loess; 3 % of the segments are 3 t bridges (trucks detour). A hub sits
    in the middle and a station in every 10 x 10 block; each village point hangs 20-200 m
    off its own grid segment and belongs to its block's station.
    """
    rng = np.random.default_rng(seed)
    g = int(np.ceil(np.sqrt(n_villages / 2))) + 1
    jitter = rng.uniform(-0.1, 0.1, size=(g, g, 2)) * spacing_m
    xy = np.stack(np.meshgrid(np.arange(g), np.arange(g), indexing="ij"), axis=-1) * spacing_m
    xy = np.round(xy + jitter, 1)

    def line_class(k: int) -> RoadClass:
        return RoadClass.COUNTY if k % 10 == 0 else RoadClass.TOWN if k % 5 == 0 else RoadClass.LANE

    edges: list[tuple[tuple[int, int], tuple[int, int], RoadClass]] = []
    for i in range(g):
        for j in range(g):
            if i + 1 < g:
                edges.append(((i, j), (i + 1, j), line_class(j)))
            if j + 1 < g:
                edges.append(((i, j), (i, j + 1), line_class(i)))
    bridges = rng.random(len(edges)) < 0.03
    roads = tuple(
        Road(
            f"r{k}",
            (tuple(xy[a]), tuple(xy[b])),
            road_class=cls,
            terrain=Terrain.LOESS if a[1] > g // 2 else Terrain.PLAIN,
            bridge=bool(bridges[k]),
            max_weight_t=3.0 if bridges[k] else None,
        )
        for k, (a, b, cls) in enumerate(edges)
    )
    blocks = {(i // 10, j // 10) for i in range(g) for j in range(g)}
    centre = xy[g // 2, g // 2]
    sites = [Site("hub", "County hub", SiteKind.HUB, float(centre[0]), float(centre[1] - 30))]
    for bi, bj in sorted(blocks):
        i, j = min(bi * 10 + 5, g - 2), min(bj * 10 + 5, g - 1)
        p = (xy[i, j] + xy[i + 1, j]) / 2
        sites.append(
            Site(
                f"s{bi}-{bj}",
                f"Station {bi}-{bj}",
                SiteKind.STATION,
                float(p[0]),
                float(p[1] + 25),
                parent="hub",
            )
        )
    for n, k in enumerate(rng.choice(len(edges), size=n_villages, replace=False)):
        a, b, _ = edges[int(k)]
        t = rng.uniform(0.1, 0.9)
        p = xy[a] + t * (xy[b] - xy[a])
        off = rng.uniform(20, 200) * rng.choice([-1, 1])
        p = p + (
            np.array([off, 0.0]) if a[0] == b[0] else np.array([0.0, off])
        )  # across the segment
        sites.append(
            Site(
                f"v{n:05d}",
                f"Village {n}",
                SiteKind.VILLAGE_POINT,
                float(p[0]),
                float(p[1]),
                parent=f"s{a[0] // 10}-{a[1] // 10}",
                population=int(rng.integers(200, 3000)),
            )
        )
    return Network(f"grid-{n_villages}", Crs.PLANAR, tuple(sites), roads, max_snap_m=500)


def grid_scenario(n_villages: int, seed: int = 0) -> Scenario:
    """The grid network with a truck at the hub, two vans per station and two orders per
    village point."""
    net = grid_network(n_villages, seed)
    fleet = [Vehicle("truck-1", "truck", "hub", 3000, 18, 600)]
    for s in net.stations:
        fleet += [Vehicle(f"van-{s.id}-{k}", "van", s.id, 800, 6, 250) for k in (1, 2)]
    orders = tuple(
        Order(f"o{v.id}-{k}", "yto", Direction.DOWN if k else Direction.UP, v.id, 2.0, 0.01)
        for v in net.village_points
        for k in (0, 1)
    )
    return Scenario(net.name, net, tuple(fleet), Policy(), orders, date="2026-12-01")


# ----------------------------------------------------------------------------- bundles
@pytest.fixture(scope="module", params=["yanshi", "grid-1000"])
def bundle_path(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle folder: the built-in reference county, or a seeded 1,000-village grid."""
    if request.param == "yanshi":
        path = BUILTIN_DIR / "yanshi"
        if not (path / "network.geojson").is_file():
            pytest.skip("built-in bundle 'yanshi' is not there yet (scenarios/data/yanshi)")
        return path
    return save_bundle(grid_scenario(1000), tmp_path_factory.mktemp("bench") / "grid-1000")


def test_load_and_validate_bundle(benchmark, bundle_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Parse, validate, snap and check reachability (the whole of load_bundle)."""
    scenario = benchmark(load_bundle, bundle_path)
    assert scenario.network.sites


def test_road_index_and_all_matrices_of_a_bundle(benchmark, bundle_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A fresh road index (snapping) plus all-sites matrices for every class in the fleet."""
    scenario = load_bundle(bundle_path)
    ids = tuple(s.id for s in scenario.network.sites)
    classes = sorted({v.vehicle_class for v in scenario.fleet})

    def build() -> int:
        index = RoadIndex(scenario.network)
        return sum(index.matrix(ids, cls).reachable().sum() for cls in classes)

    assert benchmark(build) > 0


# ----------------------------------------------------------------------------- big network
@pytest.mark.heavy
def test_all_pairs_matrix_of_a_big_network(benchmark, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """All-pairs van matrix of the big grid (5,000 villages by default); the road index is
    built (snapped) outside the timed part, the class graph and Dijkstra inside it."""
    net = grid_network(int(os.environ.get(SIZE_ENV, BIG_SIZE)))
    ids = tuple(s.id for s in net.sites)

    def fresh_index() -> tuple[tuple[RoadIndex], dict[str, object]]:
        return (RoadIndex(net),), {}

    m = benchmark.pedantic(lambda index: index.matrix(ids, "van"), setup=fresh_index, rounds=2)
    assert m.distance_m.shape == (len(ids), len(ids))
    assert m.reachable().all()

    if benchmark.disabled:  # CI's single smoke run: skip the extra measurement
        return
    # Not timed: peak memory of one more matrix (numpy reports its buffers to tracemalloc).
    index = RoadIndex(net)
    tracemalloc.start()
    start = time.perf_counter()
    index.matrix(ids, "van")
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    benchmark.extra_info.update(
        sites=len(ids), peak_traced_mib=round(peak / 2**20), max_rss_mib=round(rss_mib)
    )
    with capsys.disabled():
        print(
            f"\n[bench_network] {len(ids)} sites, {index.n_nodes} "
            f"nodes: all-pairs van matrix {seconds:.1f} s untimed rerun, peak traced "
            f"{peak / 2**20:.0f} MiB, process max RSS {rss_mib:.0f} MiB"
        )
