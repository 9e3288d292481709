"""Regression tests of issue 12's defects 1–6: each fails on the code before its fix.

They use the unprefixed paths (aliases of ``/v1``) so that they run against the old API too.
"""

from __future__ import annotations

import hashlib
import json

from conftest import DATE, TINY, Keys, auth, upload_tiny
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


def _plan(client: TestClient, key: str, network: str) -> int:
    r = client.post(
        f"/networks/{network}/plans",
        json={"date": DATE, "time_limit_s": 1, "solution_limit": 50},
        headers=auth(key),
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "succeeded", job
    return int(job["plan"])


# ------------------------------------------------------------------------------ 1 network id
def test_a_plan_is_filed_under_its_own_network_not_the_bundles(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    """netb is the tiny bundle imported under another name: its plan, its job and its
    publication belong to netb, and tiny's live plan is untouched."""
    assert upload_tiny(client, keys.admin, "netb").status_code == 201
    r = client.post(
        f"/networks/netb/orders?date={DATE}",
        content=(TINY / "orders.csv").read_bytes(),
        headers={**auth(keys.admin), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    plan = _plan(client, keys.dispatcher, "netb")
    row = client.get(f"/plans/{plan}", headers=auth(keys.dispatcher)).json()
    assert row["network"] == "netb"
    listed = client.get("/plans?network=netb", headers=auth(keys.dispatcher)).json()
    assert [p["id"] for p in listed] == [plan]
    assert client.post(f"/plans/{plan}/publish", headers=auth(keys.dispatcher)).status_code == 200
    tiny = client.get(f"/plans/{tiny_plan}", headers=auth(keys.dispatcher)).json()
    assert tiny["status"] == "published"  # not superseded by netb's plan
    # tiny's courier still gets tiny's plan
    mine = client.get(f"/courier/route?date={DATE}", headers=auth(keys.courier)).json()
    assert mine["plan"] == tiny_plan


# ------------------------------------------------------------------------------ 3 event ids
def test_one_couriers_event_id_does_not_collide_with_anothers(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    mine = {"route": "last_mile:tri1", "stop": 1, "type": "arrived", "at": f"{DATE}T09:00:00"}
    theirs = {"route": "trunk_down:truck1", "stop": 1, "type": "arrived", "at": f"{DATE}T07:30:00"}
    a = client.put(f"/plans/{tiny_plan}/events/1", json=mine, headers=auth(keys.courier))
    assert a.status_code == 201, a.text
    b = client.put(f"/plans/{tiny_plan}/events/1", json=theirs, headers=auth(keys.other_courier))
    assert b.status_code == 201, b.text  # their own event 1, not a 409
    # and each courier's retry is still a duplicate of their own
    again = client.put(
        f"/plans/{tiny_plan}/events/1", json=theirs, headers=auth(keys.other_courier)
    )
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    batch = client.post(
        f"/plans/{tiny_plan}/events",
        json={"events": [{"id": "1", **mine}]},
        headers=auth(keys.courier),
    ).json()
    assert batch["results"][0]["status"] == "duplicate"


# ------------------------------------------------------------------------------ 4 ownership first
def test_errors_never_describe_another_couriers_route(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    plan = client.get(f"/plans/{tiny_plan}", headers=auth(keys.admin)).json()["plan"]
    truck = next(r for r in plan["routes"] if r["vehicle"] == "truck1")
    sites = {s["site"] for s in truck["stops"]}
    probes = [
        {"route": "trunk_down:truck1", "stop": 1, "site": "nowhere"},  # wrong site
        {"route": "trunk_down:truck1", "stop": 999},  # stop out of range
        {"route": "trunk_down:truck1", "stop": 1, "orders": ["o01"]},  # orders not there
        {"route": "last_mile:ghost", "stop": 1},  # a route that does not exist
    ]
    for n, probe in enumerate(probes):
        body = {"type": "arrived", "at": f"{DATE}T09:00:00", **probe}
        r = client.put(f"/plans/{tiny_plan}/events/p{n}", json=body, headers=auth(keys.courier))
        assert r.status_code == 403, (probe, r.text)
        assert r.json()["detail"] == "not your route", r.text
        assert not any(site in r.text for site in sites - {"h"}), r.text


# ------------------------------------------------------------------------------ 5 reassignment
def test_a_planner_cannot_reassign_a_courier(client: TestClient, keys: Keys) -> None:
    r = client.put(
        "/networks/tiny/couriers/c-van2", json={"vehicle": "van1"}, headers=auth(keys.planner)
    )
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    vans = client.get("/networks/tiny/couriers", headers=auth(keys.dispatcher)).json()
    assert {c["id"]: c["vehicle"] for c in vans}["c-van2"] == "van2"
    ok = client.put(
        "/networks/tiny/couriers/c-van2", json={"vehicle": "van1"}, headers=auth(keys.dispatcher)
    )
    assert ok.status_code == 200


# ------------------------------------------------------------------------------ 6 ETag
def _route(client: TestClient, key: str, etag: str | None = None) -> tuple[int, str, bytes]:
    headers = auth(key) | ({"If-None-Match": etag} if etag else {})
    r = client.get(f"/courier/route?date={DATE}", headers=headers)
    return r.status_code, r.headers.get("ETag", ""), r.content


def test_the_etag_is_a_digest_of_the_body(client: TestClient, keys: Keys, tiny_plan: int) -> None:
    status, etag, body = _route(client, keys.courier)
    assert status == 200
    assert etag == '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def test_reimported_orders_change_the_route_and_its_etag_at_once(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    _, etag, body = _route(client, keys.courier)
    stop_orders = [
        oid
        for s in json.loads(body)["routes"][0]["stops"]
        for ids in (s.get("drop") or {}).values()
        for oid in ids
    ]
    assert stop_orders, "tri1 drops orders"
    lines = (TINY / "orders.csv").read_text().splitlines()
    header = lines[0].split(",")
    changed = []
    for line in lines[1:]:
        cells = line.split(",")
        if cells[0] == stop_orders[0]:
            cells[header.index("parcels")] = str(int(cells[header.index("parcels")]) + 7)
        changed.append(",".join(cells))
    r = client.post(
        f"/networks/tiny/orders?date={DATE}",
        content=("\n".join([lines[0], *changed]) + "\n").encode(),
        headers={**auth(keys.dispatcher), "Content-Type": "text/csv"},
    )
    assert r.json()["updated"] == 1, r.text
    status, new_etag, new_body = _route(client, keys.courier, etag)
    assert status == 200 and new_etag != etag and new_body != body
    assert new_etag == '"' + hashlib.sha256(new_body).hexdigest()[:32] + '"'
    # and an unchanged route is a 304 again
    assert _route(client, keys.courier, new_etag)[0] == 304


def test_a_reassignment_changes_only_the_routes_it_touches(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    _, tri, _ = _route(client, keys.courier)
    _, truck, _ = _route(client, keys.other_courier)
    # c-van2 moves to van1: neither tri1's nor truck1's route shows anything of it
    r = client.put(
        "/networks/tiny/couriers/c-van2", json={"vehicle": "van1"}, headers=auth(keys.dispatcher)
    )
    assert r.status_code == 200
    assert _route(client, keys.courier, tri)[0] == 304
    assert _route(client, keys.other_courier, truck)[0] == 304
    # c-van2 moves to tri1: tri1's route now shows its new courier; truck1's is untouched
    admin_view = client.get(
        f"/plans/{tiny_plan}/routes/tri1", headers=auth(keys.dispatcher)
    ).headers["ETag"]
    r = client.put(
        "/networks/tiny/couriers/c-van2", json={"vehicle": "tri1"}, headers=auth(keys.dispatcher)
    )
    assert r.status_code == 200
    after = client.get(
        f"/plans/{tiny_plan}/routes/tri1",
        headers={**auth(keys.dispatcher), "If-None-Match": admin_view},
    )
    assert after.status_code == 200 and after.json()["courier"]["id"] == "c-van2"
    assert _route(client, keys.other_courier, truck)[0] == 304
