"""Roads from an OpenStreetMap extract: tags, splitting at junctions, and bundles using it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from networks import InvalidScenario, RoadClass
from networks.matrices import UNREACHABLE
from networks.osm import roads_from_osm
from scenarios.bundle import load_bundle, save_bundle

OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="34.700" lon="112.700"/>
  <node id="2" lat="34.700" lon="112.710"/>
  <node id="3" lat="34.700" lon="112.720"/>
  <node id="4" lat="34.710" lon="112.710"/>
  <node id="5" lat="34.690" lon="112.710"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="name" v="G310"/><tag k="maxspeed" v="40"/></way>
  <way id="11"><nd ref="2"/><nd ref="4"/>
    <tag k="highway" v="residential"/><tag k="motor_vehicle" v="no"/></way>
  <way id="12"><nd ref="2"/><nd ref="5"/><tag k="highway" v="footway"/></way>
  <way id="13"><nd ref="3"/><nd ref="4"/>
    <tag k="highway" v="tertiary"/><tag k="bridge" v="yes"/><tag k="maxweight" v="3"/></way>
</osm>
"""


def write(tmp_path: Path, text: str = OSM) -> Path:
    path = tmp_path / "roads.osm"
    path.write_text(text, encoding="utf-8")
    return path


def test_ways_become_roads_split_at_junctions(tmp_path: Path) -> None:
    roads = {r.id: r for r in roads_from_osm(write(tmp_path))}
    # way 10 meets way 11 at node 2: two roads; the footway is not a road
    assert sorted(roads) == ["osm10-0", "osm10-1", "osm11-0", "osm13-0"]
    assert roads["osm10-0"].coords == ((112.7, 34.7), (112.71, 34.7))
    assert roads["osm10-0"].road_class is RoadClass.NATIONAL
    assert roads["osm10-0"].name == "G310"
    # maxspeed 40 caps the truck and van, not the tricycle's own 25
    assert dict(roads["osm10-0"].speeds_kmh) == {"truck": 40, "van": 40, "tricycle": 25}
    assert roads["osm11-0"].access == frozenset({"tricycle"})
    assert roads["osm13-0"].bridge and roads["osm13-0"].max_weight_t == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # a way naming a node the extract does not hold
        (
            OSM.replace(
                '<nd ref="4"/>\n    <tag k="highway" v="tertiary"/>',
                '<nd ref="9"/><tag k="highway" v="tertiary"/>',
            ),
            "way 13",
        ),
        # not XML at all
        ("this is not xml", "not a readable OSM XML file"),
    ],
)
def test_bad_extracts_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidScenario, match=message):
        roads_from_osm(write(tmp_path, text))


def test_a_bundle_takes_its_roads_from_roads_osm(tmp_path: Path) -> None:
    folder = tmp_path / "osm-county"
    folder.mkdir()
    write(folder)

    def site(
        ident: str, kind: str, lon: float, lat: float, parent: str | None
    ) -> dict[str, object]:
        return {
            "type": "Feature",
            "id": ident,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"kind": kind, "name": ident, "parent": parent},
        }

    network = {
        "type": "FeatureCollection",
        "countyroute": {"schema_version": 1, "name": "osm-county", "crs": "EPSG:4326"},
        "features": [
            site("hub", "hub", 112.700, 34.700, None),
            site("st", "station", 112.720, 34.700, "hub"),
            site("vp", "village_point", 112.716, 34.705, "st"),
        ],
    }
    (folder / "network.geojson").write_text(json.dumps(network), encoding="utf-8")
    (folder / "fleet.csv").write_text(
        "id,class,home,capacity_kg,capacity_m3,capacity_parcels\n"
        "t1,truck,hub,1800,15,900\nv1,van,st,700,3,250\n",
        encoding="utf-8",
    )
    (folder / "policy.toml").write_text("schema_version = 1\n", encoding="utf-8")
    sc = load_bundle(folder)
    assert len(sc.network.roads) == 4
    van = sc.network.road_index.matrix(("st", "vp"), "van")
    truck = sc.network.road_index.matrix(("st", "vp"), "truck")
    assert 0 < van.distance_m[0, 1] < UNREACHABLE  # over the 3 t bridge
    assert truck.distance_m[0, 1] == UNREACHABLE  # 4.5 t: not over the bridge, not the lane
    # saved, the roads travel in network.geojson; loaded again they are the same
    again = load_bundle(save_bundle(sc, tmp_path / "saved"))
    assert again.network.roads == sc.network.roads
