"""Scenario bundles: a folder with the network, the fleet, the policy and optionally a day's orders.

Layout (schema version 1, documented in docs/scenario-format.md)::

    network.geojson   sites (Points), roads (LineStrings), outline (Polygon); RFC 7946
    fleet.csv         one vehicle per row (or fleet.json: a list of the same objects)
    policy.toml       waves, cut-offs, cross-dock, visit frequency, costs, solver budget
    orders.csv        optional: one day's orders

:func:`load_bundle` validates everything once and returns a :class:`Scenario` or raises one
:class:`~networks.InvalidScenario` naming the file, the row or feature and the field; nothing
is half-loaded. :func:`save_bundle` writes a folder that loads back to an equal scenario.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import tomli_w

from networks import (
    DEFAULT_CIRCUITY,
    DEFAULT_VEHICLE_CLASSES,
    Crs,
    InvalidScenario,
    Network,
    Road,
    RoadClass,
    Site,
    SiteKind,
    Terrain,
    UnreachableSite,
    VehicleClass,
    check_network,
    format_clock,
    parse_clock,
)
from networks.osm import roads_from_osm
from routing.inputs import DayInput, check_fleet, check_orders, check_reachability
from routing.model import Direction, Order, Policy, Vehicle, Wave

__all__ = [
    "BUILTIN_DIR",
    "SCHEMA_VERSION",
    "Scenario",
    "builtin_names",
    "load_bundle",
    "load_orders",
    "orders_to_csv",
    "override_policy",
    "resolve_bundle",
    "save_bundle",
]

SCHEMA_VERSION = 1
BUILTIN_DIR = Path(__file__).parent / "data"

T = TypeVar("T")


@dataclass(frozen=True)
class Scenario:
    """A validated bundle: network, fleet, policy and (optionally) one day's orders."""

    name: str
    network: Network
    fleet: tuple[Vehicle, ...]
    policy: Policy
    orders: tuple[Order, ...] = ()
    date: str | None = None
    attribution: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # the same rules as the day's input (routing.inputs), checked where the bundle loads
        check_fleet(self.network, self.fleet)
        check_orders(self.network, self.orders)
        check_reachability(self.network, self.fleet)

    def day(
        self,
        date: str | None = None,
        *,
        orders: tuple[Order, ...] | None = None,
        policy: Policy | None = None,
    ) -> DayInput:
        """One day of this bundle as the planner's input (its own orders and date unless
        others are given).

        Raises
        ------
        InvalidScenario
            When neither ``date`` nor the bundle gives a date, or ``date`` is not ISO.
        """
        when = date or self.date
        if when is None:
            raise InvalidScenario("no date given and the bundle has none", field="date")
        return DayInput(
            self.name,
            self.network,
            self.fleet,
            policy or self.policy,
            self.orders if orders is None else orders,
            when,
        )


# ------------------------------------------------------------------------------ discovery
def builtin_names() -> list[str]:
    """Names of the bundles shipped with the package."""
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / "network.geojson").is_file())


def resolve_bundle(name_or_path: str | os.PathLike[str]) -> Path:
    """A folder path for a bundle given by path or by built-in name."""
    path = Path(name_or_path)
    if (path / "network.geojson").is_file():
        return path
    builtin = BUILTIN_DIR / str(name_or_path)
    if (builtin / "network.geojson").is_file():
        return builtin
    raise InvalidScenario(
        f"no scenario bundle at {str(name_or_path)!r} (built-in: {', '.join(builtin_names())})",
        source=str(name_or_path),
    )


# ------------------------------------------------------------------------------ loading
def load_bundle(
    name_or_path: str | os.PathLike[str], *, orders: str | os.PathLike[str] | None = None
) -> Scenario:
    """Load and validate a bundle.

    Parameters
    ----------
    name_or_path
        A bundle folder or the name of a built-in bundle (``"yanshi"``).
    orders
        An orders CSV/JSON to use instead of the bundle's own ``orders.csv``.

    Raises
    ------
    InvalidScenario
        On the first fault, naming the file, the row or feature and the field.
    """
    folder = resolve_bundle(name_or_path)
    network, meta = _load_network(folder / "network.geojson")
    fleet = _load_fleet(folder, network)
    policy = _load_policy(folder / "policy.toml")
    order_path = Path(orders) if orders is not None else folder / "orders.csv"
    day_orders: tuple[Order, ...] = ()
    if order_path.is_file():
        day_orders = load_orders(order_path, network)
    elif orders is not None:
        raise InvalidScenario("file not found", source=str(order_path))
    return Scenario(
        name=str(meta.get("name", folder.name)),
        network=network,
        fleet=fleet,
        policy=policy,
        orders=day_orders,
        date=meta.get("date"),
        attribution=str(meta.get("attribution", "")),
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InvalidScenario("file not found", source=path.name) from None
    except UnicodeDecodeError as exc:
        raise InvalidScenario(f"not UTF-8 text ({exc.reason})", source=path.name) from None


def _load_network(path: Path) -> tuple[Network, dict[str, Any]]:
    src = path.name
    try:
        doc = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise InvalidScenario(
            f"not valid JSON: {exc.msg}", source=src, location=f"line {exc.lineno}"
        ) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InvalidScenario("expected a GeoJSON FeatureCollection", source=src, field="type")
    meta = doc.get("countyroute")
    if not isinstance(meta, dict):
        raise InvalidScenario("missing the 'countyroute' member", source=src, field="countyroute")
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InvalidScenario(
            f"schema_version {version!r} is not supported (this build reads {SCHEMA_VERSION})",
            source=src,
            field="countyroute.schema_version",
        )
    try:
        crs = Crs(meta.get("crs", Crs.WGS84.value))
    except ValueError:
        raise InvalidScenario(
            f"unknown crs {meta.get('crs')!r} (use EPSG:4326 or planar)",
            source=src,
            field="countyroute.crs",
        ) from None
    classes = _vehicle_classes(meta.get("vehicle_classes"), src)
    circuity = _circuity(meta.get("circuity"), src)
    features = doc.get("features")
    if not isinstance(features, list):
        raise InvalidScenario("'features' must be a list", source=src, field="features")
    sites: list[Site] = []
    roads: list[Road] = []
    site_feature: list[int] = []
    road_feature: list[int] = []
    boundary: tuple[tuple[float, float], ...] = ()
    for n, feat in enumerate(features):
        kind = _feature_kind(feat, n, src)
        ident = feat.get("id") or feat["properties"].get("id")
        where = f"feature {n}" + (f" (id={ident})" if ident else "")
        if kind == "road":
            roads.append(_road(feat, str(ident or ""), where, src))
            road_feature.append(n)
        elif kind == "boundary":
            rings = feat["geometry"]["coordinates"]
            ring = rings[0] if isinstance(rings, list) and rings else None
            boundary = tuple(_coords({"type": "LineString", "coordinates": ring}, where, src))
        else:
            sites.append(_site(feat, str(ident or ""), kind, where, src))
            site_feature.append(n)

    osm = path.parent / "roads.osm"
    if osm.is_file():  # roads from an OpenStreetMap extract, beside any drawn in the GeoJSON
        if crs is not Crs.WGS84:
            raise InvalidScenario("roads.osm needs crs EPSG:4326", source=src, field="crs")
        extra = roads_from_osm(osm, vehicle_classes={vc.name: vc for vc in classes})
        road_feature.extend(-1 for _ in extra)
        roads.extend(extra)

    def locate_site(i: int, ident: str) -> str:
        return f"feature {site_feature[i]} (id={ident})"

    def locate_road(i: int, ident: str) -> str:
        n = road_feature[i]
        return f"feature {n} (id={ident})" if n >= 0 else f"roads.osm way (id={ident})"

    check_network(
        crs,
        tuple(sites),
        tuple(roads),
        locate_site=locate_site,
        locate_road=locate_road,
        source=src,
    )
    try:
        network = Network(
            name=str(meta.get("name", path.parent.name)),
            crs=crs,
            sites=tuple(sites),
            roads=tuple(roads),
            vehicle_classes=classes,
            max_snap_m=_field(meta, "max_snap_m", _finite, 1500.0, "", src),
            circuity=circuity,
            boundary=boundary,
        )
        network.road_index  # noqa: B018 - snapping happens here; errors name the site
    except UnreachableSite as exc:
        ident = exc.location.split("'")[1] if "'" in exc.location else ""
        n = site_feature[network.index[ident]] if ident in network.index else -1
        raise UnreachableSite(
            exc.message, source=src, location=f"feature {n} (id={ident})", field=exc.field
        ) from None
    except InvalidScenario as exc:
        raise InvalidScenario(
            exc.message, source=src, location=exc.location, field=exc.field
        ) from None
    return network, meta


def _feature_kind(feat: Any, n: int, src: str) -> str:
    where = f"feature {n}"
    if not isinstance(feat, dict) or feat.get("type") != "Feature":
        raise InvalidScenario("expected a GeoJSON Feature", source=src, location=where)
    props = feat.get("properties")
    geom = feat.get("geometry")
    if not isinstance(props, dict):
        raise InvalidScenario("missing properties", source=src, location=where, field="properties")
    if not isinstance(geom, dict) or "coordinates" not in geom:
        raise InvalidScenario("missing geometry", source=src, location=where, field="geometry")
    kind = props.get("kind")
    expected = {"road": "LineString", "boundary": "Polygon"}.get(str(kind), "Point")
    if kind not in {"road", "boundary", *(k.value for k in SiteKind)}:
        raise InvalidScenario(f"unknown kind {kind!r}", source=src, location=where, field="kind")
    if geom.get("type") != expected:
        raise InvalidScenario(
            f"a {kind} must be a {expected}, got {geom.get('type')}",
            source=src,
            location=where,
            field="geometry",
        )
    return str(kind)


def _field(
    props: Mapping[str, Any],
    name: str,
    convert: Callable[[Any], T],
    default: T,
    where: str,
    src: str,
) -> T:
    raw = props.get(name)
    if raw is None or raw == "":
        return default
    try:
        return convert(raw)
    except (TypeError, ValueError) as exc:
        reason = str(exc)
        if isinstance(convert, type) and issubclass(convert, Enum):
            reason = f"expected one of {', '.join(str(m.value) for m in convert)}"
        raise InvalidScenario(
            f"bad value {raw!r}: {reason}", source=src, location=where, field=name
        ) from None


def _finite(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number")
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"true", "1", "yes", "y"}:
        return True
    if text in {"false", "0", "no", "n"}:
        return False
    raise ValueError("expected true or false")


def _integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected an integer")
    value = float(raw)
    if not value.is_integer():
        raise ValueError("expected an integer")
    return int(value)


def _coords(geom: Mapping[str, Any], where: str, src: str) -> list[tuple[float, float]]:
    raw = geom["coordinates"]
    pts = [raw] if geom["type"] == "Point" else raw
    try:
        return [(_finite(p[0]), _finite(p[1])) for p in pts]
    except (TypeError, ValueError, IndexError):
        raise InvalidScenario(
            "coordinates must be [x, y] numbers", source=src, location=where, field="coordinates"
        ) from None


def _site(feat: Mapping[str, Any], ident: str, kind: str, where: str, src: str) -> Site:
    props = feat["properties"]
    if not ident:
        raise InvalidScenario("a site needs an id", source=src, location=where, field="id")
    (x, y), *_ = _coords(feat["geometry"], where, src)
    default = Site("-", "-", SiteKind.HUB, 0.0, 0.0)
    return Site(
        id=ident,
        name=str(props.get("name") or ident),
        kind=SiteKind(kind),
        x=x,
        y=y,
        parent=str(props["parent"]) if props.get("parent") else None,
        population=_field(props, "population", _integer, 0, where, src),
        poor=_field(props, "poor", _boolean, False, where, src),
        terrain=_field(props, "terrain", Terrain, Terrain.PLAIN, where, src),
        opens_s=_field(props, "opens", parse_clock, default.opens_s, where, src),
        closes_s=_field(props, "closes", parse_clock, default.closes_s, where, src),
        service_fixed_s=_field(
            props, "service_fixed_s", _integer, default.service_fixed_s, where, src
        ),
        service_per_parcel_s=_field(
            props, "service_per_parcel_s", _finite, default.service_per_parcel_s, where, src
        ),
        keeper=str(props.get("keeper") or ""),
        phone=str(props.get("phone") or ""),
        mandatory=_field(props, "mandatory", _boolean, False, where, src),
    )


def _road(feat: Mapping[str, Any], ident: str, where: str, src: str) -> Road:
    props = feat["properties"]
    coords = _coords(feat["geometry"], where, src)
    access = props.get("access") or []
    if not isinstance(access, list):
        raise InvalidScenario(
            "access must be a list of vehicle classes", source=src, location=where, field="access"
        )
    speeds = props.get("speeds_kmh") or {}
    if not isinstance(speeds, dict):
        raise InvalidScenario(
            "speeds_kmh must be an object", source=src, location=where, field="speeds_kmh"
        )
    length = _field(props, "length_m", _finite, 0.0, where, src)
    if length < 0:
        raise InvalidScenario("must be >= 0", source=src, location=where, field="length_m")
    return Road(
        id=ident,
        coords=tuple(coords),
        road_class=_field(props, "road_class", RoadClass, RoadClass.TOWN, where, src),
        terrain=_field(props, "terrain", Terrain, Terrain.PLAIN, where, src),
        name=str(props.get("name") or ""),
        bridge=_field(props, "bridge", _boolean, False, where, src),
        max_weight_t=_field(props, "max_weight_t", _finite, None, where, src),
        access=frozenset(str(a) for a in access),
        closed=_field(props, "closed", _boolean, False, where, src),
        speeds_kmh=tuple(
            (str(k), _field(speeds, k, _finite, 0.0, where, src)) for k in sorted(speeds)
        ),
        length_m=length,
    )


E = TypeVar("E", bound=Enum)


def _member(cls: type[E], raw: Any) -> E:
    """``cls(raw)``, failing with a message that lists the valid values."""
    try:
        return cls(raw)
    except ValueError:
        values = ", ".join(str(m.value) for m in cls)
        raise ValueError(f"{raw!r} is not a valid {cls.__name__} (one of {values})") from None


def _vehicle_classes(raw: Any, src: str) -> tuple[VehicleClass, ...]:
    if raw is None:
        return tuple(DEFAULT_VEHICLE_CLASSES.values())
    if not isinstance(raw, dict):
        raise InvalidScenario("must be an object", source=src, field="countyroute.vehicle_classes")
    out = []
    for name, spec in raw.items():
        where = f"vehicle class {name!r}"
        base = DEFAULT_VEHICLE_CLASSES.get(name)
        try:
            speeds = spec.get("speeds_kmh")
            terrain = spec.get("terrain_factor")
            out.append(
                VehicleClass(
                    name=name,
                    gross_weight_t=float(
                        spec.get("gross_weight_t", base.gross_weight_t if base else 2.0)
                    ),
                    speeds_kmh=tuple((_member(RoadClass, k), float(v)) for k, v in speeds.items())
                    if speeds
                    else (base.speeds_kmh if base else ()),
                    terrain_factor=tuple(
                        (_member(Terrain, k), float(v)) for k, v in terrain.items()
                    )
                    if terrain
                    else (base.terrain_factor if base else VehicleClass("-", 1, ()).terrain_factor),
                    offroad_kmh=float(spec.get("offroad_kmh", base.offroad_kmh if base else 10.0)),
                )
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidScenario(str(exc), source=src, location=where) from None
        if not out[-1].speeds_kmh:
            raise InvalidScenario(
                "needs speeds_kmh", source=src, location=where, field="speeds_kmh"
            )
    return tuple(out)


def _circuity(raw: Any, src: str) -> tuple[tuple[Terrain, float], ...]:
    if raw is None:
        return tuple(DEFAULT_CIRCUITY.items())
    try:
        out = tuple((_member(Terrain, k), float(v)) for k, v in dict(raw).items())
    except (TypeError, ValueError) as exc:
        raise InvalidScenario(str(exc), source=src, field="countyroute.circuity") from None
    if any(v < 1 for _, v in out):
        raise InvalidScenario(
            "circuity factors must be >= 1", source=src, field="countyroute.circuity"
        )
    return out


# ------------------------------------------------------------------------------ CSV rows
def _rows(text: str, src: str, required: tuple[str, ...]) -> Iterator[tuple[str, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    if missing:
        raise InvalidScenario(
            f"missing column(s) {', '.join(missing)}",
            source=src,
            location="line 1",
            field=missing[0],
            code="missing_columns",
            params={"columns": ", ".join(missing)},
        )
    for row in reader:
        where = f"row {reader.line_num - 1} (line {reader.line_num})"
        if None in row:
            raise InvalidScenario(
                f"{len(header) + len(row[None])} values for {len(header)} columns",
                source=src,
                location=where,
                code="row_width",
                params={"values": str(len(header) + len(row[None])), "columns": str(len(header))},
            )
        if any(v is None for v in row.values()):
            raise InvalidScenario(
                f"too few values for {len(header)} columns",
                source=src,
                location=where,
                code="row_width",
                params={
                    "values": str(sum(v is not None for v in row.values())),
                    "columns": str(len(header)),
                },
            )
        yield where, row


def _cell(
    row: Mapping[str, str],
    name: str,
    convert: Callable[[str], T],
    where: str,
    src: str,
    default: T | None = None,
) -> T:
    raw = (row.get(name) or "").strip()
    if raw == "":
        if default is not None:
            return default
        raise InvalidScenario(
            "value is missing", source=src, location=where, field=name, code="missing"
        )
    try:
        return convert(raw)
    except (TypeError, ValueError) as exc:
        reason = str(exc)
        if isinstance(convert, type) and issubclass(convert, Enum):
            reason = f"expected one of {', '.join(str(m.value) for m in convert)}"
        raise InvalidScenario(
            f"bad value {raw!r}: {reason}",
            source=src,
            location=where,
            field=name,
            code="bad_value",
            params={"value": raw},
        ) from None


_FLEET_COLUMNS = (
    "id",
    "class",
    "home",
    "capacity_kg",
    "capacity_m3",
    "capacity_parcels",
)
_FLEET_ALL = (
    *_FLEET_COLUMNS,
    "name",
    "fixed_cost",
    "cost_per_km",
    "cost_per_hour",
    "shift_start",
    "shift_end",
    "max_duration_h",
    "range_km",
    "bulky_ok",
    "driver",
    "phone",
)


def _vehicle(row: Mapping[str, str], where: str, src: str) -> Vehicle:
    def c(name: str, convert: Callable[[str], T], default: T | None = None) -> T:
        return _cell(row, name, convert, where, src, default)

    range_raw = (row.get("range_km") or "").strip()
    try:
        return Vehicle(
            id=c("id", str),
            vehicle_class=c("class", str),
            home=c("home", str),
            capacity_kg=c("capacity_kg", _finite),
            capacity_m3=c("capacity_m3", _finite),
            capacity_parcels=c("capacity_parcels", _integer),
            fixed_cost=c("fixed_cost", _finite, 0.0),
            cost_per_km=c("cost_per_km", _finite, 0.0),
            cost_per_hour=c("cost_per_hour", _finite, 0.0),
            shift_start_s=c("shift_start", parse_clock, 7 * 3600),
            shift_end_s=c("shift_end", parse_clock, 19 * 3600),
            max_duration_s=round(c("max_duration_h", _finite, 9.0) * 3600),
            range_km=c("range_km", _finite) if range_raw else None,
            bulky_ok=c("bulky_ok", _boolean, True),
            name=(row.get("name") or "").strip(),
            driver=(row.get("driver") or "").strip(),
            phone=(row.get("phone") or "").strip(),
        )
    except InvalidScenario as exc:
        if exc.source:
            raise
        raise InvalidScenario(exc.message, source=src, location=where, field=exc.field) from None


def _load_fleet(folder: Path, network: Network) -> tuple[Vehicle, ...]:
    csv_path, json_path = folder / "fleet.csv", folder / "fleet.json"
    vehicles: list[Vehicle] = []
    wheres: list[str] = []
    if csv_path.is_file():
        src = csv_path.name
        for where, row in _rows(_read_text(csv_path), src, _FLEET_COLUMNS):
            vehicles.append(_vehicle(row, where, src))
            wheres.append(where)
    elif json_path.is_file():
        src = json_path.name
        try:
            items = json.loads(_read_text(json_path))
        except json.JSONDecodeError as exc:
            raise InvalidScenario(
                f"not valid JSON: {exc.msg}", source=src, location=f"line {exc.lineno}"
            ) from None
        if not isinstance(items, list):
            raise InvalidScenario("expected a list of vehicles", source=src)
        for n, item in enumerate(items):
            where = f"item {n}"
            if not isinstance(item, dict):
                raise InvalidScenario("expected an object", source=src, location=where)
            row = {
                k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in item.items()
            }
            vehicles.append(_vehicle(row, where, src))
            wheres.append(where)
    else:
        raise InvalidScenario("file not found (fleet.csv or fleet.json)", source="fleet.csv")
    check_fleet(network, tuple(vehicles), locate=lambda i: wheres[i], source=src)
    return tuple(vehicles)


# ------------------------------------------------------------------------------ policy
_POLICY_KEYS: Mapping[str, tuple[str, ...]] = {
    "times": (
        "wave_window_min",
        "cross_dock_min",
        "village_cutoff",
        "hub_return",
        "hub_outbound_cutoff",
        "trunk_service_fixed_s",
        "trunk_service_per_parcel_s",
        "load_s_per_parcel",
        "unload_fixed_s",
        "unload_s_per_parcel",
    ),
    "frequency": ("daily_min_parcels", "poor_min_visits_per_week"),
    "runs": ("reloads", "max_trips", "cross_boundary"),
    "costs": ("deferral_cost_per_parcel", "poor_village_weight", "stability_threshold"),
    "solver": ("time_limit_s", "seed", "work_per_s", "wall_cap"),
}


def _load_policy(path: Path) -> Policy:
    src = path.name
    try:
        doc = tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidScenario(f"not valid TOML: {exc}", source=src) from None
    return _policy_from_doc(doc, src)


def override_policy(policy: Policy, assignments: Sequence[str]) -> Policy:
    """The policy with ``SECTION.KEY=VALUE`` assignments applied, validated like policy.toml.

    Values are read as TOML values (``true``, ``3``, ``0.05``, ``"16:00"``); a bare word that
    is not one (``16:00``) is taken as a string.

    Raises
    ------
    InvalidScenario
        Naming ``--set`` and the ``SECTION.KEY`` at fault (unknown section or key, bad value).

    Examples
    --------
    >>> p = override_policy(Policy(), ["runs.reloads=false", "times.village_cutoff=16:00"])
    >>> p.reloads, p.village_cutoff_s
    (False, 57600)
    """
    if not assignments:
        return policy
    doc = tomllib.loads(policy_to_toml(policy))
    for text in assignments:
        name, eq, raw = text.partition("=")
        section, dot, key = name.strip().partition(".")
        if not eq or not dot or not key:
            raise InvalidScenario(
                f"expected SECTION.KEY=VALUE (e.g. runs.reloads=false), got {text!r}",
                source="--set",
            )
        if section not in _POLICY_KEYS:
            raise InvalidScenario(
                f"unknown section {section!r} (sections: {', '.join(_POLICY_KEYS)})",
                source="--set",
                field=name.strip(),
            )
        if key not in _POLICY_KEYS[section]:
            raise InvalidScenario(
                f"unknown key {key!r} in [{section}] (keys: {', '.join(_POLICY_KEYS[section])})",
                source="--set",
                field=name.strip(),
            )
        try:
            value: Any = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        doc.setdefault(section, {})[key] = value
    return replace(_policy_from_doc(doc, "--set"), extra=policy.extra)


def _policy_from_doc(doc: dict[str, Any], src: str) -> Policy:
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise InvalidScenario(
            f"schema_version {doc.get('schema_version')!r} is not supported",
            source=src,
            field="schema_version",
        )
    for key, value in doc.items():
        if key in ("schema_version", "waves"):
            continue
        if key not in _POLICY_KEYS:
            raise InvalidScenario(f"unknown section [{key}]", source=src, field=key)
        if not isinstance(value, dict):
            raise InvalidScenario(f"expected a table [{key}]", source=src, field=key)
        for sub in value:
            if sub not in _POLICY_KEYS[key]:
                raise InvalidScenario("unknown key", source=src, location=f"[{key}]", field=sub)

    def get(section: str, key: str, convert: Callable[[Any], T], default: T) -> T:
        return _field(doc.get(section, {}), key, convert, default, f"[{section}]", src)

    waves = []
    raw_waves = doc.get("waves", [])
    if not isinstance(raw_waves, list):
        raise InvalidScenario("expected an array of tables [[waves]]", source=src, field="waves")
    for n, w in enumerate(raw_waves):
        where = f"[[waves]] {n}"
        if not isinstance(w, dict):
            raise InvalidScenario("expected a table", source=src, location=where, field="waves")
        for key in ("id", "direction", "departs"):
            if key not in w:
                raise InvalidScenario("missing key", source=src, location=where, field=key)
        try:
            direction = Direction(w["direction"])
        except ValueError:
            raise InvalidScenario(
                f"expected up or down, got {w['direction']!r}",
                source=src,
                location=where,
                field="direction",
            ) from None
        try:
            departs = parse_clock(str(w["departs"]))
        except ValueError as exc:
            raise InvalidScenario(str(exc), source=src, location=where, field="departs") from None
        waves.append(Wave(str(w["id"]), direction, departs))
    d = Policy()
    try:
        return Policy(
            waves=tuple(waves) or d.waves,
            wave_window_s=round(
                get("times", "wave_window_min", _finite, d.wave_window_s / 60) * 60
            ),
            cross_dock_s=round(get("times", "cross_dock_min", _finite, d.cross_dock_s / 60) * 60),
            village_cutoff_s=get("times", "village_cutoff", parse_clock, d.village_cutoff_s),
            hub_return_s=get("times", "hub_return", parse_clock, d.hub_return_s),
            hub_outbound_cutoff_s=get(
                "times", "hub_outbound_cutoff", parse_clock, d.hub_outbound_cutoff_s
            ),
            trunk_service_fixed_s=get(
                "times", "trunk_service_fixed_s", _integer, d.trunk_service_fixed_s
            ),
            trunk_service_per_parcel_s=get(
                "times", "trunk_service_per_parcel_s", _finite, d.trunk_service_per_parcel_s
            ),
            load_s_per_parcel=get("times", "load_s_per_parcel", _integer, d.load_s_per_parcel),
            unload_fixed_s=get("times", "unload_fixed_s", _integer, d.unload_fixed_s),
            unload_s_per_parcel=get(
                "times", "unload_s_per_parcel", _integer, d.unload_s_per_parcel
            ),
            daily_min_parcels=get("frequency", "daily_min_parcels", _integer, d.daily_min_parcels),
            poor_min_visits_per_week=get(
                "frequency", "poor_min_visits_per_week", _integer, d.poor_min_visits_per_week
            ),
            reloads=get("runs", "reloads", _boolean, d.reloads),
            max_trips=get("runs", "max_trips", _integer, d.max_trips),
            cross_boundary=get("runs", "cross_boundary", _boolean, d.cross_boundary),
            deferral_cost_per_parcel=get(
                "costs", "deferral_cost_per_parcel", _finite, d.deferral_cost_per_parcel
            ),
            poor_village_weight=get("costs", "poor_village_weight", _finite, d.poor_village_weight),
            stability_threshold=get("costs", "stability_threshold", _finite, d.stability_threshold),
            time_limit_s=get("solver", "time_limit_s", _finite, d.time_limit_s),
            seed=get("solver", "seed", _integer, d.seed),
            work_per_s=get("solver", "work_per_s", _finite, d.work_per_s),
            wall_cap=get("solver", "wall_cap", _finite, d.wall_cap),
        )
    except InvalidScenario as exc:
        if exc.source:
            raise
        raise InvalidScenario(exc.message, source=src, field=exc.field) from None


# ------------------------------------------------------------------------------ orders
_ORDER_COLUMNS = ("id", "carrier", "direction", "site", "weight_kg", "volume_m3")
_ORDER_ALL = (*_ORDER_COLUMNS, "parcels", "bulky", "priority", "sector", "lot")


def _order(row: Mapping[str, str], where: str, src: str) -> Order:
    def c(name: str, convert: Callable[[str], T], default: T | None = None) -> T:
        return _cell(row, name, convert, where, src, default)

    try:
        return Order(
            id=c("id", str),
            carrier=c("carrier", str),
            direction=c("direction", Direction),
            site=c("site", str),
            weight_kg=c("weight_kg", _finite),
            volume_m3=c("volume_m3", _finite),
            parcels=c("parcels", _integer, 1),
            bulky=c("bulky", _boolean, False),
            priority=c("priority", _integer, 0),
            sector=(row.get("sector") or "").strip(),
            lot=(row.get("lot") or "").strip(),
            mandatory=c("mandatory", _boolean, False),
        )
    except InvalidScenario as exc:
        if exc.source:
            raise
        raise InvalidScenario(exc.message, source=src, location=where, field=exc.field) from None


def load_orders(path: str | os.PathLike[str], network: Network) -> tuple[Order, ...]:
    """Read a day's orders (CSV, or JSON: a list of objects with the same keys)."""
    p = Path(path)
    src = p.name
    text = _read_text(p)
    orders: list[Order] = []
    wheres: list[str] = []
    if p.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidScenario(
                f"not valid JSON: {exc.msg}", source=src, location=f"line {exc.lineno}"
            ) from None
        if not isinstance(items, list):
            raise InvalidScenario("expected a list of orders", source=src)
        for n, item in enumerate(items):
            where = f"item {n}"
            if not isinstance(item, dict):
                raise InvalidScenario("expected an object", source=src, location=where)
            row = {
                k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in item.items()
            }
            orders.append(_order(row, where, src))
            wheres.append(where)
    else:
        for where, row in _rows(text, src, _ORDER_COLUMNS):
            orders.append(_order(row, where, src))
            wheres.append(where)
    check_orders(network, tuple(orders), locate=lambda i: wheres[i], source=src)
    return tuple(orders)


# ------------------------------------------------------------------------------ saving
def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def network_to_geojson(network: Network, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The network as a GeoJSON FeatureCollection (schema version 1)."""
    d = Site("-", "-", SiteKind.HUB, 0.0, 0.0)
    features: list[dict[str, Any]] = []
    if network.boundary:
        features.append(
            {
                "type": "Feature",
                "id": "boundary",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[list(p) for p in network.boundary]],
                },
                "properties": {"kind": "boundary", "name": network.name},
            }
        )
    for s in network.sites:
        props: dict[str, Any] = {"kind": s.kind.value, "name": s.name, "parent": s.parent}
        if s.population:
            props["population"] = s.population
        if s.poor:
            props["poor"] = True
        if s.terrain is not Terrain.PLAIN:
            props["terrain"] = s.terrain.value
        if (s.opens_s, s.closes_s) != (d.opens_s, d.closes_s):
            props["opens"] = format_clock(s.opens_s)
            props["closes"] = format_clock(s.closes_s)
        if s.service_fixed_s != d.service_fixed_s:
            props["service_fixed_s"] = s.service_fixed_s
        if s.service_per_parcel_s != d.service_per_parcel_s:
            props["service_per_parcel_s"] = _num(s.service_per_parcel_s)
        if s.keeper:
            props["keeper"] = s.keeper
        if s.phone:
            props["phone"] = s.phone
        if s.mandatory:
            props["mandatory"] = True
        features.append(
            {
                "type": "Feature",
                "id": s.id,
                "geometry": {"type": "Point", "coordinates": [s.x, s.y]},
                "properties": props,
            }
        )
    for r in network.roads:
        rp: dict[str, Any] = {"kind": "road", "road_class": r.road_class.value}
        if r.terrain is not Terrain.PLAIN:
            rp["terrain"] = r.terrain.value
        if r.name:
            rp["name"] = r.name
        if r.bridge:
            rp["bridge"] = True
        if r.max_weight_t is not None:
            rp["max_weight_t"] = _num(r.max_weight_t)
        if r.access:
            rp["access"] = sorted(r.access)
        if r.closed:
            rp["closed"] = True
        if r.speeds_kmh:
            rp["speeds_kmh"] = {k: _num(v) for k, v in r.speeds_kmh}
        if r.length_m:
            rp["length_m"] = _num(r.length_m)
        features.append(
            {
                "type": "Feature",
                "id": r.id,
                "geometry": {"type": "LineString", "coordinates": [list(p) for p in r.coords]},
                "properties": rp,
            }
        )
    header: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "name": network.name,
        "crs": network.crs.value,
        "max_snap_m": _num(network.max_snap_m),
        "circuity": {t.value: _num(c) for t, c in network.circuity},
        "vehicle_classes": {
            vc.name: {
                "gross_weight_t": _num(vc.gross_weight_t),
                "speeds_kmh": {rc.value: _num(v) for rc, v in vc.speeds_kmh},
                "terrain_factor": {t.value: _num(f) for t, f in vc.terrain_factor},
                "offroad_kmh": _num(vc.offroad_kmh),
            }
            for vc in network.vehicle_classes
        },
        **{k: v for k, v in meta.items() if k not in {"schema_version", "name", "crs"}},
    }
    return {"type": "FeatureCollection", "countyroute": header, "features": features}


def fleet_to_csv(fleet: tuple[Vehicle, ...]) -> str:
    """The fleet as fleet.csv text."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_FLEET_ALL)
    for v in fleet:
        w.writerow(
            [
                v.id,
                v.vehicle_class,
                v.home,
                _num(v.capacity_kg),
                _num(v.capacity_m3),
                v.capacity_parcels,
                v.name,
                _num(v.fixed_cost),
                _num(v.cost_per_km),
                _num(v.cost_per_hour),
                format_clock(v.shift_start_s),
                format_clock(v.shift_end_s),
                _num(round(v.max_duration_s / 3600, 6)),
                "" if v.range_km is None else _num(v.range_km),
                "true" if v.bulky_ok else "false",
                v.driver,
                v.phone,
            ]
        )
    return buf.getvalue()


def policy_to_toml(policy: Policy) -> str:
    """The policy as policy.toml text."""
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "waves": [
            {"id": w.id, "direction": w.direction.value, "departs": format_clock(w.departs_s)}
            for w in policy.waves
        ],
        "times": {
            "wave_window_min": _num(policy.wave_window_s / 60),
            "cross_dock_min": _num(policy.cross_dock_s / 60),
            "village_cutoff": format_clock(policy.village_cutoff_s),
            "hub_return": format_clock(policy.hub_return_s),
            "hub_outbound_cutoff": format_clock(policy.hub_outbound_cutoff_s),
            "trunk_service_fixed_s": policy.trunk_service_fixed_s,
            "trunk_service_per_parcel_s": _num(policy.trunk_service_per_parcel_s),
            "load_s_per_parcel": policy.load_s_per_parcel,
            "unload_fixed_s": policy.unload_fixed_s,
            "unload_s_per_parcel": policy.unload_s_per_parcel,
        },
        "frequency": {
            "daily_min_parcels": policy.daily_min_parcels,
            "poor_min_visits_per_week": policy.poor_min_visits_per_week,
        },
        "runs": {
            "reloads": policy.reloads,
            "max_trips": policy.max_trips,
            "cross_boundary": policy.cross_boundary,
        },
        "costs": {
            "deferral_cost_per_parcel": _num(policy.deferral_cost_per_parcel),
            "poor_village_weight": _num(policy.poor_village_weight),
            "stability_threshold": _num(policy.stability_threshold),
        },
        "solver": {
            "time_limit_s": _num(policy.time_limit_s),
            "seed": policy.seed,
            "work_per_s": _num(policy.work_per_s),
            "wall_cap": _num(policy.wall_cap),
        },
    }
    return tomli_w.dumps(doc)


def orders_to_csv(orders: tuple[Order, ...]) -> str:
    """Orders as orders.csv text (with a ``mandatory`` column when an order is)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    mandatory = any(o.mandatory for o in orders)
    w.writerow((*_ORDER_ALL, "mandatory") if mandatory else _ORDER_ALL)
    for o in orders:
        w.writerow(
            [
                o.id,
                o.carrier,
                o.direction.value,
                o.site,
                _num(o.weight_kg),
                _num(o.volume_m3),
                o.parcels,
                "true" if o.bulky else "false",
                o.priority,
                o.sector,
                o.lot,
                *(["true" if o.mandatory else "false"] if mandatory else []),
            ]
        )
    return buf.getvalue()


def save_bundle(
    scenario: Scenario, folder: str | os.PathLike[str], *, meta: Mapping[str, Any] | None = None
) -> Path:
    """Write the scenario as a bundle folder (replacing it atomically) and return its path."""
    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    header = dict(meta or {})
    if scenario.attribution:
        header.setdefault("attribution", scenario.attribution)
    if scenario.date:
        header.setdefault("date", scenario.date)
    tmp = Path(tempfile.mkdtemp(prefix=".bundle-", dir=target.parent))
    try:
        geo = network_to_geojson(scenario.network, header)
        (tmp / "network.geojson").write_text(
            json.dumps(geo, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        (tmp / "fleet.csv").write_text(fleet_to_csv(scenario.fleet), encoding="utf-8")
        (tmp / "policy.toml").write_text(policy_to_toml(scenario.policy), encoding="utf-8")
        if scenario.orders:
            (tmp / "orders.csv").write_text(orders_to_csv(scenario.orders), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
