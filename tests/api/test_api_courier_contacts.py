"""The courier route as its assigned courier and a dispatcher read it: a village point
keeper's full phone (to call ahead), while the API's site listing keeps phones masked."""

from __future__ import annotations

from conftest import Keys, auth
from fastapi.testclient import TestClient

KEEPER_PHONE = "13900000001"  # Liu Fang at v1 (tests/data/tiny/network.geojson)


def test_the_route_visiting_v1_shows_its_keepers_full_phone(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    shown = []
    for vehicle in ("tri1", "van1"):
        r = client.get(f"/plans/{tiny_plan}/routes/{vehicle}", headers=auth(keys.dispatcher))
        if r.status_code == 404:  # this vehicle has no route today
            continue
        assert r.status_code == 200, r.text
        for route in r.json()["routes"]:
            for stop in route["stops"]:
                if stop["site"] == "v1" and stop["kind"] == "visit":
                    shown.append(stop["contact"])
    assert shown, "no route visits v1"
    assert all(c == {"keeper": "Liu Fang", "phone": KEEPER_PHONE} for c in shown)
