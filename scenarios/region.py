"""Regions: a prefecture or a province as several counties side by side, one bundle each.

A **region** is a folder (format in docs/region-format.md)::

    region.toml        name, date, seed, counties = [folders in order], the optional
                       prefecture tier with its night line-haul legs, a summary per county
    region.geojson     county outlines and hubs, inter-county roads, the prefecture hub and
                       its line-haul legs (WGS-84)
    county-01/ …       one ordinary scenario bundle per county (network.geojson, fleet.csv,
                       policy.toml, orders.csv): each plans alone with ``countyroute plan``

This module owns the region generator (:func:`generate_region`: seeded synthetic counties of
150–600 villages from :func:`scenarios.synthetic.generate_synthetic`, each with its own hub,
stations, roads, fleet and a day's orders from :func:`scenarios.demand.generate_demand`), the
reader (:func:`load_region`, one clear error naming file and field) and the names that are
generated on first use (:func:`resolve_region`: ``prefecture-10``, ``province-110``).

Why counties stay county-sized: a synthetic county of 5,000 villages with one hub defers a
third of its parcels for time (its far stations cannot be reached and back inside the trunk
shifts). A real prefecture is a dozen counties, each with a hub in its county town, fed
overnight from the prefecture's hub; that is what is generated here, and travel matrices stay
per county (a region never builds one matrix over all its sites).

Units: metres, seconds (times of day in seconds after midnight of the region's date; a
line-haul that leaves the evening before departs at a negative time), kg, m³, km/h for speeds.
Every number is a field of :class:`RegionParams`. Determinism: one seed gives byte-identical
files (every random draw in a fixed order from generators seeded by the region's seed).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import os
import re
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from networks import Crs, InvalidScenario, LocalProjection, SiteKind, format_clock
from routing.model import Direction, Order
from scenarios.bundle import Scenario, save_bundle
from scenarios.demand import DemandParams, generate_demand
from scenarios.synthetic import SyntheticParams, generate_synthetic, synthetic_outline

__all__ = [
    "REGIONS_ENV",
    "REGION_FILE",
    "REGION_GEOJSON",
    "REGION_SCHEMA",
    "CountySummary",
    "LineHaulLeg",
    "Prefecture",
    "Region",
    "RegionParams",
    "county_summary",
    "generate_region",
    "load_region",
    "regions_dir",
    "resolve_region",
    "trunk_reach_s",
]

REGION_FILE = "region.toml"
REGION_GEOJSON = "region.geojson"
REGION_SCHEMA = 1
GENERATOR_VERSION = 3
"""Bumped when the generator's output changes: a cached named region of another version is
generated again."""
REGIONS_ENV = "COUNTYROUTE_REGIONS"
"""Folder of the named regions generated on first use (default ``out/regions`` in the cwd)."""
TIER_KINDS = ("prefecture", "province")
_NAMED = re.compile(r"(prefecture|province)-([1-9][0-9]{0,3})")

COUNTY_HEADS = "新宜洛孟汝伊安平临永清宁长武泰兴嵩灵卢义巩登济修博温原封兰杞通尉鄢扶商夏虞鹿柘淮项沈舞叶鲁宝郏襄内淅唐桐息固潢光罗"
"""First characters of generated county names (as in 宜阳, 孟津, 汝州, 伊川)."""
COUNTY_TAILS = "阳安宁平川津城山水丰源陵台乡江河州丘邑口化乐昌"
"""Second characters of generated county names."""
RIVER_NAMES = (
    "清河",
    "洛河",
    "伊河",
    "涧河",
    "汝河",
    "沙河",
    "白河",
    "颍河",
    "丹河",
    "淇河",
    "卫河",
    "漳河",
    "唐河",
    "湍河",
    "澧河",
    "溱河",
)
"""Each county's river gets one of these names (it names the county's bridges)."""


# ------------------------------------------------------------------------------ parameters
@dataclass(frozen=True, slots=True)
class RegionParams:
    """Shape of a generated region; per-county numbers follow DOMAIN.md and the issue.

    Counties draw their village count uniformly from ``villages`` and get one station per
    ``villages_per_station`` villages, kept within ``stations`` (so counties above 500
    villages have more than 25 villages per station: the issue's 8–20 stations win).
    """

    counties: int = 10
    seed: int = 1
    name: str = ""
    """The region's name (default: the name of the folder it is written to)."""
    date: str = "2026-12-01"
    """The day of the counties' orders (ISO)."""
    villages: tuple[int, int] = (150, 600)
    """Fewest and most administrative villages per county (a county has 150–600)."""
    stations: tuple[int, int] = (8, 20)
    """Fewest and most town stations per county."""
    villages_per_station: float = 20.0
    """DOMAIN.md: one station per 15–25 villages."""
    prefecture_hub: bool = True
    """Whether a prefecture (or province) hub feeds the county hubs on a night line-haul."""
    kind: str = "prefecture"
    """``prefecture`` or ``province``: what the region and its top hub are called."""
    max_county_km2: float = 1100.0
    """Counties are at most this large (Henan's ~160 county-level units average ~1,060 km²
    [est]); bigger counties have denser villages, as on the North China plain."""
    max_trunk_s: int = 45 * 60
    """Every station and bulk shipper lies within this truck time of its hub (the reference
    county's farthest station is 41 min away). The up wave leaves the hub at 15:30 and must be
    back by 17:30; a station farther out cannot send its up parcels the same day, so a county
    that breaks this is generated again (another seed drawn from its own, and a little
    smaller: deterministic)."""
    max_reshapes: int = 8
    """Further attempts at a county whose trunk reach is too long; the last one is kept."""
    reshape_area: float = 0.92
    """Each new attempt at a county is this much smaller in area."""
    gap_m: float = 3000.0
    """Least gap between two counties' outlines on the layout grid."""
    road_circuity: float = 1.3
    """Inter-county road length ÷ straight line between county hubs (DOMAIN: plain 1.3)."""
    road_speed_kmh: float = 60.0
    """Truck speed on inter-county (provincial) roads [est; county roads are 45]."""
    hub_links: int = 3
    """The prefecture hub is joined by road to this many nearest county hubs."""
    arrive_by_s: int = 6 * 3600
    """Line-hauls reach county hubs by this time (DOMAIN: 04:00–06:30; ~06:00 [src])."""
    county: SyntheticParams = field(default_factory=SyntheticParams)
    """Shape of each county (its ``villages_per_station``, ``river_name`` and ``origin`` are
    set per county)."""
    demand: DemandParams = field(default_factory=DemandParams)

    def __post_init__(self) -> None:
        if self.counties < 1:
            raise ValueError("counties must be >= 1")
        lo, hi = self.villages
        if not 1 <= lo <= hi:
            raise ValueError(f"villages must be 1 <= MIN <= MAX, got {lo}-{hi}")
        if not 1 <= self.stations[0] <= self.stations[1]:
            raise ValueError(f"stations must be 1 <= MIN <= MAX, got {self.stations}")
        if self.kind not in TIER_KINDS:
            raise ValueError(f"kind must be one of {', '.join(TIER_KINDS)}, got {self.kind!r}")
        dt.date.fromisoformat(self.date)


# ------------------------------------------------------------------------------ the model
@dataclass(frozen=True, slots=True)
class LineHaulLeg:
    """The night line-haul from the prefecture hub to one county hub (and back in the
    evening with the county's up parcels)."""

    county: str
    """The county's folder."""
    hub: str
    """The county hub's site id in its bundle."""
    length_m: int
    time_s: int
    """Truck driving time along the inter-county roads."""
    depart_s: int
    """Leaves the prefecture hub (negative: the evening before the region's date)."""
    arrive_s: int
    roads: tuple[str, ...]
    """Inter-county road ids along the leg, in order (region.geojson)."""
    down_parcels: int
    down_kg: float
    down_m3: float
    up_parcels: int
    up_kg: float
    up_m3: float


@dataclass(frozen=True, slots=True)
class Prefecture:
    """The optional top tier: a prefecture's (or province's) hub and its line-haul legs."""

    kind: str
    """``prefecture`` or ``province``."""
    hub: str
    """The hub's id in region.geojson."""
    name: str
    lon: float
    lat: float
    legs: tuple[LineHaulLeg, ...]


@dataclass(frozen=True, slots=True)
class CountySummary:
    """What region.toml says of one county (counts as generated; the bundle is the truth)."""

    folder: str
    name: str
    villages: int
    stations: int
    village_points: int
    vehicles: int
    orders: int
    parcels_down: int
    parcels_up: int
    hub: str
    demand_seed: int | None = None
    """The county's demand seed: its orders for another day are
    ``generate_demand(bundle, day, demand_seed)``."""


@dataclass(frozen=True, slots=True)
class Region:
    """A region folder: its counties in order and its optional prefecture tier.

    ``date`` and ``seed`` are None for a folder of bundles without region.toml.
    """

    name: str
    path: Path
    date: str | None
    seed: int | None
    counties: tuple[str, ...]
    """Folder names of the counties, in order."""
    prefecture: Prefecture | None = None
    summaries: tuple[CountySummary, ...] = ()
    """One per county when region.toml has them (generated regions do)."""

    @property
    def county_paths(self) -> tuple[Path, ...]:
        """The counties' bundle folders, in order."""
        return tuple(self.path / c for c in self.counties)


# ------------------------------------------------------------------------------ generation
@dataclass(frozen=True, slots=True)
class _CountyDraft:
    folder: str
    name: str
    villages: int
    stations: int
    seed: int
    demand_seed: int
    river: str


def _county_names(n: int, rng: np.random.Generator, taken: set[str]) -> list[str]:
    """``n`` unique county names such as 宜阳县 (two characters and 县)."""
    out: list[str] = []
    while len(out) < n:
        head = COUNTY_HEADS[int(rng.integers(len(COUNTY_HEADS)))]
        tail = COUNTY_TAILS[int(rng.integers(len(COUNTY_TAILS)))]
        name = f"{head}{tail}县"
        if head != tail and name not in taken:
            taken.add(name)
            out.append(name)
    return out


def _drafts(p: RegionParams, rng: np.random.Generator) -> list[_CountyDraft]:
    lo, hi = p.villages
    villages = rng.integers(lo, hi + 1, size=p.counties)
    seeds = rng.integers(0, 2**31 - 1, size=p.counties)
    demand_seeds = rng.integers(0, 2**31 - 1, size=p.counties)
    rivers = rng.integers(len(RIVER_NAMES), size=p.counties)
    names = _county_names(p.counties, rng, set())
    width = max(2, len(str(p.counties)))
    out = []
    for i in range(p.counties):
        n = int(villages[i])
        stations = min(p.stations[1], max(p.stations[0], round(n / p.villages_per_station)))
        out.append(
            _CountyDraft(
                folder=f"county-{i + 1:0{width}d}",
                name=names[i],
                villages=n,
                stations=min(stations, n),
                seed=int(seeds[i]),
                demand_seed=int(demand_seeds[i]),
                river=RIVER_NAMES[int(rivers[i])],
            )
        )
    return out


def _layout(
    extents: Sequence[tuple[float, float, float, float]], gap_m: float, rng: np.random.Generator
) -> list[tuple[float, float]]:
    """Centres (metres, region origin at the middle) of counties on a grid, row by row from
    the north-west, each cell as wide as its widest county plus ``gap_m``; a county sits at a
    random place inside its cell, so outlines never overlap."""
    n = len(extents)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    col_w = [0.0] * cols
    row_h = [0.0] * rows
    for i, (x0, y0, x1, y1) in enumerate(extents):
        r, c = divmod(i, cols)
        col_w[c] = max(col_w[c], x1 - x0 + gap_m)
        row_h[r] = max(row_h[r], y1 - y0 + gap_m)
    left = np.concatenate([[0.0], np.cumsum(col_w)[:-1]])
    top = -np.concatenate([[0.0], np.cumsum(row_h)[:-1]])
    centres: list[tuple[float, float]] = []
    for i, (x0, y0, x1, y1) in enumerate(extents):
        r, c = divmod(i, cols)
        slack_x = col_w[c] - (x1 - x0) - gap_m
        slack_y = row_h[r] - (y1 - y0) - gap_m
        jx, jy = rng.uniform(0.0, 1.0, 2)
        cx = left[c] + gap_m / 2 + jx * slack_x - x0
        cy = top[r] - gap_m / 2 - jy * slack_y - y1
        centres.append((float(cx), float(cy)))
    mx = sum(col_w) / 2
    my = -sum(row_h) / 2
    return [(x - mx, y - my) for x, y in centres]


def _neighbours(n: int) -> list[tuple[int, int]]:
    """Grid neighbours (east and south) of the layout: the pairs joined by a road."""
    cols = math.ceil(math.sqrt(n))
    pairs = []
    for i in range(n):
        if (i + 1) % cols and i + 1 < n:
            pairs.append((i, i + 1))
        if i + cols < n:
            pairs.append((i, i + cols))
    return pairs


def county_summary(
    folder: str, scenario: Scenario, *, name: str | None = None, demand_seed: int | None = None
) -> CountySummary:
    """The counts of one county bundle, as region.toml's summary holds them."""
    net = scenario.network
    return CountySummary(
        folder=folder,
        name=name if name is not None else net.name,
        villages=sum(1 for s in net.sites if s.is_village),
        stations=len(net.stations),
        village_points=len(net.village_points),
        vehicles=len(scenario.fleet),
        orders=len(scenario.orders),
        parcels_down=_sums(scenario.orders, Direction.DOWN)[0],
        parcels_up=_sums(scenario.orders, Direction.UP)[0],
        hub=net.hubs[0].id if net.hubs else "",
        demand_seed=demand_seed,
    )


def _sums(orders: Sequence[Order], direction: Direction) -> tuple[int, float, float]:
    mine = [o for o in orders if o.direction is direction]
    return (
        sum(o.parcels for o in mine),
        round(sum(o.weight_kg for o in mine), 3),
        round(sum(o.volume_m3 for o in mine), 4),
    )


def _shape(draft: _CountyDraft, p: RegionParams) -> SyntheticParams:
    """A county's shape parameters: its stations, river and area (capped)."""
    km2 = min(p.county.km2_per_village, p.max_county_km2 / draft.villages)
    return replace(
        p.county,
        km2_per_village=km2,
        villages_per_station=draft.villages / draft.stations,
        river_name=draft.river,
    )


def _attempts(draft: _CountyDraft, p: RegionParams) -> list[tuple[int, SyntheticParams]]:
    """Seed and shape of each attempt at a county, in order (the layout makes room for the
    largest outline of them all)."""
    shape = _shape(draft, p)
    reseed = np.random.default_rng(draft.seed)
    out = [(draft.seed, shape)]
    for _ in range(p.max_reshapes):
        shape = replace(shape, km2_per_village=shape.km2_per_village * p.reshape_area)
        out.append((int(reseed.integers(0, 2**31 - 1)), shape))
    return out


def trunk_reach_s(scenario: Scenario, vehicle_class: str = "truck") -> int:
    """The longest truck time (either way) between a hub and a station or bulk shipper."""
    net = scenario.network
    far = tuple(s.id for s in (*net.stations, *net.of_kind(SiteKind.BULK_SHIPPER)))
    worst = 0
    for hub in net.hubs:
        m = net.road_index.matrix((hub.id, *far), vehicle_class)
        worst = max(worst, int(m.time_s[0, 1:].max(initial=0)), int(m.time_s[1:, 0].max(initial=0)))
    return worst


def _county(
    draft: _CountyDraft, origin: tuple[float, float], region: str, p: RegionParams
) -> tuple[Scenario, int, int, float]:
    """One county's bundle, its seed, its trunk reach (s) and its area (km²): a synthetic county around ``origin`` with its hub named after
    it, and the day's orders; shrunk and generated again while a station is out of the
    trunk's reach (:attr:`RegionParams.max_trunk_s`): its hub is then too far off-centre or
    behind the river's weak bridges, and another county of about its size is drawn."""
    truck = p.county.fleet.truck.vehicle_class
    for seed, shape in _attempts(draft, p):
        shape = replace(shape, origin=origin)
        sc = generate_synthetic(draft.villages, seed=seed, crs=Crs.WGS84, params=shape)
        reach = trunk_reach_s(sc, truck)
        if reach <= p.max_trunk_s:
            break
    orders = generate_demand(sc, p.date, draft.demand_seed, p.demand)
    hubs = sc.network.hubs
    sites = tuple(
        replace(s, name=f"{draft.name}物流配送中心" if len(hubs) == 1 else f"{draft.name}{s.name}")
        if s.kind is SiteKind.HUB
        else s
        for s in sc.network.sites
    )
    name = f"{region}-{draft.folder}"
    network = replace(sc.network, name=name, sites=sites)
    county = replace(
        sc,
        name=name,
        network=network,
        orders=orders,
        date=p.date,
        attribution="synthetic region (countyroute scenarios.region)",
    )
    return county, seed, reach, shape.km2_per_village * draft.villages


def _point(lon: float, lat: float) -> list[float]:
    return [round(lon, 7), round(lat, 7)]


def generate_region(
    params: RegionParams,
    out_dir: str | os.PathLike[str],
    *,
    progress: Callable[[str], object] | None = None,
) -> Path:
    """Generate a region: one county bundle per subfolder, region.toml and region.geojson.

    Parameters
    ----------
    params
        The region's shape and seed (the same params give byte-identical files).
    out_dir
        The folder to write. It is replaced atomically when it holds a region (or nothing);
        anything else there is an error, so no unrelated folder is overwritten.
    progress
        Called with a line of text as each county is written.

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    InvalidScenario
        When ``out_dir`` exists and is neither empty nor a region.
    """
    target = Path(out_dir)
    if target.exists() and not (
        (target / REGION_FILE).is_file() or (target.is_dir() and not any(target.iterdir()))
    ):
        raise InvalidScenario(
            "exists and is not a region (no region.toml): choose another folder",
            source=str(target),
        )
    p = params
    region_name = p.name or target.resolve().name
    rng = np.random.default_rng([p.seed, 15])
    drafts = _drafts(p, rng)
    extents = []
    for d in drafts:  # room for whichever attempt at the county is kept
        bounds = np.array(
            [synthetic_outline(d.villages, seed=s, params=a).bounds for s, a in _attempts(d, p)]
        )
        extents.append((*bounds[:, :2].min(axis=0).tolist(), *bounds[:, 2:].max(axis=0).tolist()))
    centres = _layout(extents, p.gap_m, rng)
    proj = LocalProjection(Crs.WGS84, *p.county.origin)
    cxs, cys = proj.from_metres(
        np.array([c[0] for c in centres]), np.array([c[1] for c in centres])
    )

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".region-", dir=target.parent))
    try:
        summaries: list[dict[str, Any]] = []
        loads: list[tuple[tuple[int, float, float], tuple[int, float, float]]] = []
        features: list[dict[str, Any]] = []
        hubs: list[tuple[str, float, float]] = []
        for d, lon, lat in zip(drafts, cxs.tolist(), cys.tolist(), strict=True):
            sc, seed, reach, km2 = _county(d, (round(lon, 7), round(lat, 7)), region_name, p)
            save_bundle(sc, tmp / d.folder, meta={"county": d.name, "region": region_name})
            if progress is not None:
                progress(f"  {d.folder} {d.name}: {d.villages} villages, {len(sc.orders)} orders")
            net = sc.network
            hub = net.hubs[0]
            hubs.append((hub.id, hub.x, hub.y))
            loads.append((_sums(sc.orders, Direction.DOWN), _sums(sc.orders, Direction.UP)))
            counts = county_summary(d.folder, sc, name=d.name, demand_seed=d.demand_seed)
            summaries.append(
                {
                    "name": d.name,
                    "seed": seed,
                    **{k: v for k, v in asdict(counts).items() if k not in {"folder", "name"}},
                    "poor_villages": sum(1 for s in net.sites if s.poor),
                    "bulk_shippers": len(net.of_kind(SiteKind.BULK_SHIPPER)),
                    "area_km2": round(km2, 1),
                    "trunk_reach_s": reach,
                    "hub_lon": hub.x,
                    "hub_lat": hub.y,
                }
            )
            features.append(
                {
                    "type": "Feature",
                    "id": d.folder,
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[list(q) for q in net.boundary]],
                    },
                    "properties": {"kind": "county", "county": d.folder, "name": d.name},
                }
            )
            features.append(
                {
                    "type": "Feature",
                    "id": f"{d.folder}/{hub.id}",
                    "geometry": {"type": "Point", "coordinates": _point(hub.x, hub.y)},
                    "properties": {
                        "kind": "county_hub",
                        "county": d.folder,
                        "site": hub.id,
                        "name": hub.name,
                    },
                }
            )
        top = _top_tier(p, drafts, hubs, loads, proj, rng, features)
        doc = _region_toml(p, region_name, drafts, summaries, top)
        (tmp / REGION_FILE).write_text(doc, encoding="utf-8")
        geo = {
            "type": "FeatureCollection",
            "countyroute": {
                "region_schema_version": REGION_SCHEMA,
                "name": region_name,
                "crs": Crs.WGS84.value,
            },
            "features": features,
        }
        (tmp / REGION_GEOJSON).write_text(
            json.dumps(geo, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _road_feature(
    rid: str, a: str, b: str, coords: list[list[float]], length_m: int, time_s: int, name: str
) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": rid,
        "geometry": {"type": "LineString", "coordinates": coords},
        "properties": {
            "kind": "road",
            "road_class": "provincial",
            "name": name,
            "from": a,
            "to": b,
            "length_m": length_m,
            "time_s": time_s,
        },
    }


def _top_tier(
    p: RegionParams,
    drafts: Sequence[_CountyDraft],
    hubs: Sequence[tuple[str, float, float]],
    loads: Sequence[tuple[tuple[int, float, float], tuple[int, float, float]]],
    proj: LocalProjection,
    rng: np.random.Generator,
    features: list[dict[str, Any]],
) -> dict[str, Any]:
    """Inter-county roads (appended to ``features``) and the prefecture tier's table."""
    n = len(drafts)
    lons = np.array([h[1] for h in hubs])
    lats = np.array([h[2] for h in hubs])
    xs, ys = proj.to_metres(lons, lats)
    nodes = [f"{d.folder}/{h[0]}" for d, h in zip(drafts, hubs, strict=True)]
    pairs = _neighbours(n)
    top_xy: tuple[float, float] | None = None
    cn = _county_names(1, rng, {d.name for d in drafts})[0][:2]
    suffix = "市" if p.kind == "prefecture" else "省"
    top_name = f"{cn}{suffix}物流枢纽"
    top_id = "ph"
    if p.prefecture_hub:
        # the prefecture's hub sits in its city, about the middle of the county hubs
        top_xy = (float(np.mean(xs)), float(np.mean(ys)))
        xs = np.append(xs, top_xy[0])
        ys = np.append(ys, top_xy[1])
        d2 = (xs[:n] - top_xy[0]) ** 2 + (ys[:n] - top_xy[1]) ** 2
        for j in np.argsort(d2, kind="stable")[: min(p.hub_links, n)].tolist():
            pairs.append((n, int(j)))
        nodes.append(top_id)
    all_lon, all_lat = proj.from_metres(xs, ys)
    lengths: list[int] = []
    times: list[int] = []
    speed = p.road_speed_kmh / 3.6
    width = max(3, len(str(len(pairs))))
    for k, (a, b) in enumerate(pairs):
        chord = math.hypot(float(xs[a] - xs[b]), float(ys[a] - ys[b]))
        length = round(chord * p.road_circuity)
        lengths.append(length)
        times.append(round(length / speed))
        coords = [
            _point(float(all_lon[a]), float(all_lat[a])),
            _point(float(all_lon[b]), float(all_lat[b])),
        ]
        features.append(
            _road_feature(
                f"ic{k + 1:0{width}d}",
                nodes[a],
                nodes[b],
                coords,
                length,
                times[-1],
                f"省道S{201 + k}",
            )
        )
    if top_xy is None:
        return {"enabled": False}
    m = len(nodes)
    rows = [a for a, _ in pairs] + [b for _, b in pairs]
    cols = [b for _, b in pairs] + [a for a, _ in pairs]
    graph = csr_matrix((np.array(times * 2, dtype=np.float64), (rows, cols)), shape=(m, m))
    _, pred = dijkstra(graph, directed=False, indices=n, return_predecessors=True)
    edge_of = {frozenset(pq): k for k, pq in enumerate(pairs)}
    top_lon, top_lat = _point(float(all_lon[n]), float(all_lat[n]))
    features.append(
        {
            "type": "Feature",
            "id": top_id,
            "geometry": {"type": "Point", "coordinates": [top_lon, top_lat]},
            "properties": {"kind": f"{p.kind}_hub", "name": top_name},
        }
    )
    legs: list[dict[str, Any]] = []
    for i, d in enumerate(drafts):
        path = [i]
        while path[-1] != n:
            path.append(int(pred[path[-1]]))
        path.reverse()
        road_ix = [edge_of[frozenset((a, b))] for a, b in itertools.pairwise(path)]
        length = sum(lengths[k] for k in road_ix)
        time_s = sum(times[k] for k in road_ix)
        (dp, dkg, dm3), (up, ukg, um3) = loads[i]
        legs.append(
            {
                "county": d.folder,
                "hub": hubs[i][0],
                "length_m": length,
                "time_s": time_s,
                "depart_s": p.arrive_by_s - time_s,
                "arrive_s": p.arrive_by_s,
                "roads": [f"ic{k + 1:0{width}d}" for k in road_ix],
                "down_parcels": dp,
                "down_kg": dkg,
                "down_m3": dm3,
                "up_parcels": up,
                "up_kg": ukg,
                "up_m3": um3,
            }
        )
        features.append(
            {
                "type": "Feature",
                "id": f"linehaul-{d.folder}",
                "geometry": {
                    "type": "LineString",
                    "coordinates": [_point(float(all_lon[j]), float(all_lat[j])) for j in path],
                },
                "properties": {
                    "kind": "line_haul",
                    "county": d.folder,
                    "from": top_id,
                    "to": nodes[i],
                    "length_m": length,
                    "time_s": time_s,
                    "depart": _clock(p.arrive_by_s - time_s),
                    "arrive": _clock(p.arrive_by_s),
                },
            }
        )
    return {
        "enabled": True,
        "kind": p.kind,
        "hub": top_id,
        "name": top_name,
        "lon": top_lon,
        "lat": top_lat,
        "road_speed_kmh": p.road_speed_kmh,
        "arrive_by": format_clock(p.arrive_by_s),
        "legs": legs,
    }


def _clock(seconds: int) -> str:
    """A time of day; the evening before shows as ``22:10 (-1d)``."""
    days, rest = divmod(seconds, 86400)
    return format_clock(rest) + (f" ({days:+d}d)" if days else "")


def _region_toml(
    p: RegionParams,
    name: str,
    drafts: Sequence[_CountyDraft],
    summaries: Sequence[Mapping[str, Any]],
    top: Mapping[str, Any],
) -> str:
    villages = sum(int(s["villages"]) for s in summaries)
    tier = f"a {p.kind} hub feeding them overnight" if top["enabled"] else "no prefecture hub"
    doc: dict[str, Any] = {
        "schema_version": REGION_SCHEMA,
        "generator": GENERATOR_VERSION,
        "name": name,
        "description": (
            f"{len(drafts)} synthetic counties, {villages} villages, side by side and joined "
            f"by inter-county roads; {tier}"
        ),
        "date": p.date,
        "seed": p.seed,
        "counties": [d.folder for d in drafts],
        "villages": list(p.villages),
        "prefecture": dict(top),
        "county": {d.folder: dict(s) for d, s in zip(drafts, summaries, strict=True)},
    }
    return tomli_w.dumps(doc)


# ------------------------------------------------------------------------------ reading
def _bad(path: Path, message: str, fld: str, location: str = "") -> InvalidScenario:
    return InvalidScenario(message, source=str(path), location=location, field=fld)


def _get(
    table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: Path, where: str
) -> Any:
    fld = f"{where}.{key}" if where else key
    if key not in table:
        raise _bad(path, "missing", fld)
    value = table[key]
    if isinstance(value, bool) and kind is not bool:
        raise _bad(path, f"expected {_kind_name(kind)}, got {value!r}", fld)
    if not isinstance(value, kind):
        raise _bad(path, f"expected {_kind_name(kind)}, got {value!r}", fld)
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _leg(raw: Any, i: int, counties: Sequence[str], path: Path) -> LineHaulLeg:
    where = f"prefecture.legs[{i}]"
    if not isinstance(raw, dict):
        raise _bad(path, "expected a table", where)
    county = _get(raw, "county", str, path, where)
    if county not in counties:
        raise _bad(path, f"{county!r} is not one of the region's counties", f"{where}.county")
    num = (int, float)
    ints = {k: _get(raw, k, int, path, where) for k in ("time_s", "depart_s", "arrive_s")}
    length = _get(raw, "length_m", num, path, where)
    if length < 0 or ints["time_s"] < 0:
        raise _bad(path, "must be >= 0", f"{where}.{'length_m' if length < 0 else 'time_s'}")
    roads = raw.get("roads", [])
    if not isinstance(roads, list) or not all(isinstance(r, str) for r in roads):
        raise _bad(path, "expected a list of road ids", f"{where}.roads")
    return LineHaulLeg(
        county=county,
        hub=_get(raw, "hub", str, path, where),
        length_m=int(length),
        roads=tuple(roads),
        down_parcels=int(raw.get("down_parcels", 0)),
        down_kg=float(raw.get("down_kg", 0.0)),
        down_m3=float(raw.get("down_m3", 0.0)),
        up_parcels=int(raw.get("up_parcels", 0)),
        up_kg=float(raw.get("up_kg", 0.0)),
        up_m3=float(raw.get("up_m3", 0.0)),
        **ints,
    )


def _prefecture(raw: Any, counties: Sequence[str], path: Path) -> Prefecture | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _bad(path, "expected a table", "prefecture")
    if not _get(raw, "enabled", bool, path, "prefecture"):
        return None
    kind = _get(raw, "kind", str, path, "prefecture")
    if kind not in TIER_KINDS:
        raise _bad(
            path, f"expected one of {', '.join(TIER_KINDS)}, got {kind!r}", "prefecture.kind"
        )
    legs_raw = _get(raw, "legs", list, path, "prefecture")
    legs = tuple(_leg(leg, i, counties, path) for i, leg in enumerate(legs_raw))
    return Prefecture(
        kind=kind,
        hub=_get(raw, "hub", str, path, "prefecture"),
        name=str(raw.get("name", "")),
        lon=float(_get(raw, "lon", (int, float), path, "prefecture")),
        lat=float(_get(raw, "lat", (int, float), path, "prefecture")),
        legs=legs,
    )


def _summaries(raw: Any, counties: Sequence[str], path: Path) -> tuple[CountySummary, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise _bad(path, "expected a table of counties", "county")
    out = []
    for folder in counties:
        t = raw.get(folder)
        where = f"county.{folder}"
        if not isinstance(t, dict):
            raise _bad(path, "missing (every county listed needs its table)", where)
        counts = {
            k: _get(t, k, int, path, where)
            for k in (
                "villages",
                "stations",
                "village_points",
                "vehicles",
                "orders",
                "parcels_down",
                "parcels_up",
            )
        }
        out.append(
            CountySummary(
                folder=folder,
                name=_get(t, "name", str, path, where),
                hub=_get(t, "hub", str, path, where),
                demand_seed=_get(t, "demand_seed", int, path, where)
                if "demand_seed" in t
                else None,
                **counts,
            )
        )
    return tuple(out)


def load_region(path: str | os.PathLike[str]) -> Region:
    """Read a region folder (region.toml, or every subfolder holding a bundle without it).

    Parameters
    ----------
    path
        The region's folder (or its region.toml).

    Returns
    -------
    Region
        The counties in order (each a folder with network.geojson), the date, the seed and
        the prefecture tier as region.toml gives them.

    Raises
    ------
    InvalidScenario
        Naming the file and the field at fault: TOML that does not parse, a missing or
        ill-typed field, a county folder listed twice or holding no bundle, a line-haul leg
        for a county that is not in the region; or a folder with neither region.toml nor
        any bundle.
    """
    folder = Path(path)
    if folder.name == REGION_FILE and folder.is_file():
        folder = folder.parent
    toml_path = folder / REGION_FILE
    if not toml_path.is_file():
        if not folder.is_dir():
            raise InvalidScenario("no such folder", source=str(folder))
        found = sorted(
            p.name for p in folder.iterdir() if p.is_dir() and (p / "network.geojson").is_file()
        )
        if not found:
            raise InvalidScenario(
                "not a region: no region.toml and no subfolder with a network.geojson",
                source=str(folder),
            )
        return Region(folder.resolve().name, folder, None, None, tuple(found))
    try:
        doc = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidScenario(f"not valid TOML: {exc}", source=str(toml_path)) from None
    except UnicodeDecodeError:
        raise InvalidScenario("not UTF-8 text", source=str(toml_path)) from None
    version = doc.get("schema_version", REGION_SCHEMA)
    if version != REGION_SCHEMA:
        raise _bad(
            toml_path,
            f"schema_version {version!r} is not supported (this build reads {REGION_SCHEMA})",
            "schema_version",
        )
    name = _get(doc, "name", str, toml_path, "")
    if not name.strip():
        raise _bad(toml_path, "must not be empty", "name")
    date = _get(doc, "date", (str, dt.date), toml_path, "")
    if isinstance(date, dt.date):
        date = date.isoformat()
    else:
        try:
            date = dt.date.fromisoformat(date).isoformat()
        except ValueError:
            raise _bad(toml_path, f"expected YYYY-MM-DD, got {date!r}", "date") from None
    seed = _get(doc, "seed", int, toml_path, "")
    counties = _get(doc, "counties", list, toml_path, "")
    if not counties:
        raise _bad(toml_path, "must name at least one county folder", "counties")
    seen: set[str] = set()
    for i, c in enumerate(counties):
        where = f"counties[{i}]"
        if not isinstance(c, str) or not c or "/" in c or "\\" in c or c in {".", ".."}:
            raise _bad(toml_path, f"expected a subfolder name, got {c!r}", where)
        if c in seen:
            raise _bad(toml_path, f"{c!r} is listed twice", where)
        seen.add(c)
        if not (folder / c / "network.geojson").is_file():
            raise _bad(toml_path, f"{c!r} has no network.geojson in {folder}", where)
    return Region(
        name=name,
        path=folder,
        date=date,
        seed=seed,
        counties=tuple(counties),
        prefecture=_prefecture(doc.get("prefecture"), counties, toml_path),
        summaries=_summaries(doc.get("county"), counties, toml_path),
    )


# ------------------------------------------------------------------------------ names
def regions_dir() -> Path:
    """Where named regions are generated: ``$COUNTYROUTE_REGIONS`` or ``out/regions``."""
    env = os.environ.get(REGIONS_ENV)
    return Path(env) if env else Path.cwd() / "out" / "regions"


def resolve_region(
    name_or_path: str | os.PathLike[str], *, progress: Callable[[str], object] | None = None
) -> Path:
    """A region folder given by path or by a generated name.

    A path is returned as is when it holds region.toml or bundle subfolders. A name
    ``prefecture-<N>`` or ``province-<N>`` is generated with seed 1 (a prefecture or province
    hub, N counties) into :func:`regions_dir` on first use and reused afterwards (generated
    again when the generator has changed since). ``progress`` hears of a generation.

    Raises
    ------
    InvalidScenario
        For anything else.
    """
    text = str(name_or_path)
    path = Path(name_or_path)
    if path.is_dir() and (
        (path / REGION_FILE).is_file()
        or any((p / "network.geojson").is_file() for p in path.iterdir() if p.is_dir())
    ):
        return path
    named = _NAMED.fullmatch(text)
    if named is None:
        raise InvalidScenario(
            f"no region at {text!r} (a folder with region.toml, or a generated name: "
            "prefecture-<N> or province-<N>, e.g. prefecture-10)",
            source=text,
        )
    cache = regions_dir() / text
    if _current(cache / REGION_FILE):
        return cache
    params = RegionParams(counties=int(named[2]), seed=1, name=text, kind=named[1])
    cache.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{text}-", dir=cache.parent))
    try:
        if progress is not None:
            progress(f"generating {text} into {cache} (first use)")
        built = generate_region(params, scratch / text, progress=progress)
        try:
            if cache.exists():
                shutil.rmtree(cache)
            built.rename(cache)
        except OSError:
            if not _current(cache / REGION_FILE):  # not another process's copy either
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return cache


def _current(toml_path: Path) -> bool:
    """Whether a cached region was made by this generator version."""
    try:
        doc = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False
    return doc.get("generator") == GENERATOR_VERSION
