"""Roads from an OpenStreetMap ``.osm`` XML extract, read offline (no network access).

Ways tagged ``highway=*`` become :class:`~networks.roads.Road` segments, split at every node
shared by two drivable ways (junctions) and at their ends, so a road runs between two junctions
as the rest of the project expects. Tags map as follows:

===============================  ==========================================================
OSM tag                          road
===============================  ==========================================================
``highway``                      road class: motorway/trunk/primary → national,
                                 secondary → county, tertiary → town,
                                 unclassified/residential/track/service/living_street → lane
``bridge=yes``                   ``bridge``
``maxweight=3`` (t, "3 t")       ``max_weight_t``
``motor_vehicle=no`` / ``motorcar=no``  only tricycles (``access``)
``hgv=no``                       no trucks (``access``: van, tricycle)
``access=no`` / ``private``      closed
``maxspeed``                     ``speeds_kmh``: per class, the lower of it and the class's own
``name``                         ``name``
===============================  ==========================================================

Footways, paths, cycleways and steps are ignored. Coordinates are WGS-84.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from networks.errors import InvalidScenario
from networks.roads import DEFAULT_VEHICLE_CLASSES, Road, RoadClass, VehicleClass
from networks.sites import Terrain

__all__ = ["roads_from_osm"]

_CLASS = {
    "motorway": RoadClass.NATIONAL,
    "trunk": RoadClass.NATIONAL,
    "primary": RoadClass.NATIONAL,
    "secondary": RoadClass.COUNTY,
    "tertiary": RoadClass.TOWN,
    "unclassified": RoadClass.LANE,
    "residential": RoadClass.LANE,
    "track": RoadClass.LANE,
    "service": RoadClass.LANE,
    "living_street": RoadClass.LANE,
}


def _class_of(highway: str) -> RoadClass | None:
    return _CLASS.get(highway.removesuffix("_link"))


def _number(text: str) -> float | None:
    head = text.strip().split()[0] if text.strip() else ""
    try:
        return float(head.rstrip("t"))
    except ValueError:
        return None


def roads_from_osm(
    path: str | Path, *, vehicle_classes: Mapping[str, VehicleClass] = DEFAULT_VEHICLE_CLASSES
) -> tuple[Road, ...]:
    """Read the drivable roads of an ``.osm`` XML file.

    Parameters
    ----------
    path
        The ``.osm`` file.
    vehicle_classes
        The network's vehicle classes (for access and speed tags).

    Raises
    ------
    InvalidScenario
        When the file is not OSM XML or a way refers to a node the file does not hold,
        naming the way.
    """
    src = Path(path).name
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InvalidScenario(f"not a readable OSM XML file ({exc})", source=src) from None
    if root.tag != "osm":
        raise InvalidScenario("the root element is not <osm>", source=src)
    nodes: dict[str, tuple[float, float]] = {}
    for n in root.iter("node"):
        try:
            nodes[n.attrib["id"]] = (
                round(float(n.attrib["lon"]), 7),
                round(float(n.attrib["lat"]), 7),
            )
        except (KeyError, ValueError):
            raise InvalidScenario(
                "a node needs id, lat and lon",
                source=src,
                location=f"node {n.attrib.get('id', '?')}",
            ) from None
    ways: list[tuple[str, list[str], dict[str, str], RoadClass]] = []
    for w in root.iter("way"):
        tags = {t.attrib["k"]: t.attrib.get("v", "") for t in w.iter("tag")}
        road_class = _class_of(tags.get("highway", ""))
        if road_class is None:
            continue
        refs = [nd.attrib["ref"] for nd in w.iter("nd")]
        for ref in refs:
            if ref not in nodes:
                raise InvalidScenario(
                    f"refers to node {ref}, which the file does not hold",
                    source=src,
                    location=f"way {w.attrib.get('id', '?')}",
                    field="nd",
                )
        if len(refs) >= 2:
            ways.append((w.attrib.get("id", str(len(ways))), refs, tags, road_class))
    use = Counter(ref for _, refs, _, _ in ways for ref in set(refs))
    classes = tuple(vehicle_classes)
    roads: list[Road] = []
    for way_id, refs, tags, road_class in ways:
        access: frozenset[str] = frozenset()
        if tags.get("motor_vehicle") == "no" or tags.get("motorcar") == "no":
            access = frozenset(c for c in classes if c == "tricycle")
        elif tags.get("hgv") == "no":
            access = frozenset(c for c in classes if c != "truck")
        closed = tags.get("access") in ("no", "private")
        weight = _number(tags.get("maxweight", ""))
        speed = _number(tags.get("maxspeed", ""))
        piece = [refs[0]]
        k = 0
        for ref in refs[1:]:
            piece.append(ref)
            if use[ref] > 1 or ref == refs[-1]:
                if piece[0] != piece[-1] or len(piece) > 2:
                    roads.append(
                        Road(
                            id=f"osm{way_id}-{k}",
                            coords=tuple(nodes[r] for r in piece),
                            road_class=road_class,
                            name=tags.get("name", ""),
                            bridge=tags.get("bridge", "no") not in ("no", ""),
                            max_weight_t=weight,
                            access=access,
                            closed=closed,
                            speeds_kmh=tuple(
                                sorted(
                                    (c, min(speed, vc.speed_kmh(road_class, Terrain.PLAIN)))
                                    for c, vc in vehicle_classes.items()
                                )
                            )
                            if speed
                            else (),
                        )
                    )
                    k += 1
                piece = [ref]
    return tuple(roads)
