"""The resources in-process (jobs inline): networks, orders, plans, edits, publish, events,
progress, trace, problem details and limits."""

from __future__ import annotations

import json

import pytest
from conftest import DATE, TINY, Keys, auth, import_tiny_orders, upload_tiny
from fastapi import FastAPI
from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"


# ------------------------------------------------------------------------------ networks
def test_import_builtin_network_is_idempotent(client: TestClient, keys: Keys) -> None:
    first = client.post("/networks", json={"builtin": "yanshi"}, headers=auth(keys.admin))
    assert first.status_code == 201, first.text
    assert first.json()["summary"]["stations"] == 9
    again = client.post("/networks", json={"builtin": "yanshi"}, headers=auth(keys.admin))
    assert again.json()["changed"] is False


def test_import_unknown_builtin_names_the_field(client: TestClient, keys: Keys) -> None:
    r = client.post("/networks", json={"builtin": "atlantis"}, headers=auth(keys.admin))
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["field"] == "builtin"


def test_upload_broken_bundle_reports_file_and_field(client: TestClient, keys: Keys) -> None:
    fleet = (TINY / "fleet.csv").read_text().replace("van1,van,s1,800", "van1,van,s1,-800")
    files = {
        "network": ("network.geojson", (TINY / "network.geojson").read_bytes()),
        "fleet": ("fleet.csv", fleet.encode()),
        "policy": ("policy.toml", (TINY / "policy.toml").read_bytes()),
    }
    r = client.post("/networks/upload", data={"name": "bad"}, files=files, headers=auth(keys.admin))
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "capacity_kg"
    assert body["errors"][0]["source"] == "fleet.csv"
    assert "row 2" in body["errors"][0]["location"]


def test_read_sites_vehicles_and_couriers_with_masked_phones(
    client: TestClient, keys: Keys
) -> None:
    h = auth(keys.dispatcher)
    assert len(client.get("/networks/tiny/stations", headers=h).json()) == 2
    vehicles = client.get("/networks/tiny/vehicles", headers=h).json()
    assert {v["id"]: v["courier"] for v in vehicles}["tri1"] == "c-tri1"
    couriers = {c["id"]: c for c in client.get("/networks/tiny/couriers", headers=h).json()}
    assert couriers["c-truck1"]["phone"] == "138****0001"


def test_read_network_not_found(client: TestClient, keys: Keys) -> None:
    r = client.get("/networks/nowhere", headers=auth(keys.admin))
    assert r.status_code == 404
    assert r.json()["field"] == "network"


# ------------------------------------------------------------------------------ orders
def test_import_orders_twice_is_idempotent(client: TestClient, keys: Keys) -> None:
    first = import_tiny_orders(client, keys.dispatcher).json()
    assert first["created"] == first["rows"] > 0
    second = import_tiny_orders(client, keys.dispatcher).json()
    assert second["created"] == 0 and second["unchanged"] == first["rows"]


def test_import_orders_json_updates_changed_orders(client: TestClient, keys: Keys) -> None:
    import_tiny_orders(client, keys.dispatcher)
    items = [
        {
            "id": "o01",
            "carrier": "yto",
            "direction": "down",
            "site": "v1",
            "weight_kg": 3,
            "volume_m3": 0.01,
        }
    ]
    r = client.post(f"/networks/tiny/orders?date={DATE}", json=items, headers=auth(keys.dispatcher))
    assert r.json()["updated"] == 1


def test_import_orders_reads_the_mandatory_flag(client: TestClient, keys: Keys) -> None:
    h = auth(keys.dispatcher)
    import_tiny_orders(client, keys.dispatcher)
    item = {"id": "o05", "carrier": "ems", "direction": "down", "site": "v4"}
    item |= {"weight_kg": 0.8, "volume_m3": 0.003, "mandatory": True}
    r = client.post(f"/networks/tiny/orders?date={DATE}", json=[item], headers=h)
    assert r.json()["updated"] == 1, r.text
    csv = "id,carrier,direction,site,weight_kg,volume_m3,mandatory\no07,yto,down,v6,6.5,0.03,true\n"
    r = client.post(
        f"/networks/tiny/orders?date={DATE}",
        content=csv.encode(),
        headers={**h, "Content-Type": "text/csv"},
    )
    assert r.json()["updated"] == 1, r.text
    listed = client.get(f"/networks/tiny/orders?date={DATE}", headers=h).json()["items"]
    assert sorted(o["id"] for o in listed if o["mandatory"]) == ["o05", "o07"]
    bad = client.post(
        f"/networks/tiny/orders?date={DATE}", json=[item | {"mandatory": 3}], headers=h
    )
    assert bad.status_code == 422 and bad.json()["field"] == "body[0].mandatory"


def test_a_split_order_is_planned_in_parts_the_route_documents_follow(
    client: TestClient, keys: Keys
) -> None:
    h = auth(keys.dispatcher)
    import_tiny_orders(client, keys.dispatcher)
    big = {"id": "o99", "carrier": "ems", "direction": "down", "site": "v1", "parcels": 100}
    big |= {"weight_kg": 2000, "volume_m3": 4}  # East station's biggest van holds 800 kg
    assert client.post(f"/networks/tiny/orders?date={DATE}", json=[big], headers=h).json()[
        "created"
    ]
    r = client.post(
        "/networks/tiny/plans",
        json={"date": DATE, "time_limit_s": 5, "solution_limit": 300},
        headers=h,
    )
    job = client.get(r.headers["Location"], headers=h).json()
    assert job["status"] == "succeeded", job
    plan = client.get(f"/plans/{job['plan']}", headers=h).json()["plan"]
    assert [p["parcels"] for p in plan["parts"]] == [34, 33, 33]
    named = {oid for r in plan["routes"] for s in r["stops"] for oid in s["drop"]}
    assert {p["id"] for p in plan["parts"]} <= named | {d["order"] for d in plan["deferred"]}
    for vehicle in {r["vehicle"] for r in plan["routes"]}:
        doc = client.get(f"/plans/{job['plan']}/routes/{vehicle}", headers=h)
        assert doc.status_code == 200, doc.text


def test_import_orders_bad_row_imports_nothing(client: TestClient, keys: Keys) -> None:
    text = (TINY / "orders.csv").read_text().splitlines()
    text[3] = text[3].replace(",v1,", ",v1,").split(",")
    text[3][4] = "heavy"  # weight_kg of row 3
    body = "\n".join([*text[:3], ",".join(text[3]), *text[4:]]) + "\n"
    r = client.post(
        f"/networks/tiny/orders?date={DATE}",
        content=body.encode(),
        headers={**auth(keys.dispatcher), "Content-Type": "text/csv"},
    )
    assert r.status_code == 422
    err = r.json()["errors"][0]
    assert (err["field"], err["location"]) == ("weight_kg", "row 3 (line 4)")
    assert (err["code"], err["params"]) == ("bad_value", {"value": "heavy"})  # for a client's words
    listed = client.get(f"/networks/tiny/orders?date={DATE}", headers=auth(keys.dispatcher)).json()
    assert listed["total"] == 0


def test_import_orders_with_unknown_site_names_site(client: TestClient, keys: Keys) -> None:
    items = [
        {
            "id": "x",
            "carrier": "yto",
            "direction": "down",
            "site": "mars",
            "weight_kg": 1,
            "volume_m3": 0.01,
        }
    ]
    r = client.post(f"/networks/tiny/orders?date={DATE}", json=items, headers=auth(keys.dispatcher))
    assert r.status_code == 422 and r.json()["field"] == "site"
    err = r.json()["errors"][0]
    assert (err["code"], err["params"]) == ("unknown_site", {"value": "mars"})


def test_import_orders_wrong_media_type_is_415(client: TestClient, keys: Keys) -> None:
    r = client.post(
        f"/networks/tiny/orders?date={DATE}",
        content=b"x",
        headers={**auth(keys.admin), "Content-Type": "text/plain"},
    )
    assert r.status_code == 415


# ------------------------------------------------------------------------------ plans
def test_plan_job_reports_result_with_kpis_and_deferred(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    plan = client.get(f"/plans/{tiny_plan}", headers=auth(keys.planner)).json()
    assert plan["status"] == "published"
    assert plan["kpis"]["parcels"] > 0
    assert {d["reason"] for d in plan["plan"]["deferred"]} >= {"unreachable", "frequency"}


def test_plan_without_orders_is_422(client: TestClient, keys: Keys) -> None:
    r = client.post(
        "/networks/tiny/plans", json={"date": "2030-01-01"}, headers=auth(keys.dispatcher)
    )
    assert r.status_code == 422 and r.json()["field"] == "date"


def test_read_job_not_found(client: TestClient, keys: Keys) -> None:
    assert client.get("/jobs/nope", headers=auth(keys.admin)).status_code == 404


def _draft(client: TestClient, keys: Keys) -> int:
    import_tiny_orders(client, keys.dispatcher)
    r = client.post(
        "/networks/tiny/plans", json={"date": DATE, "time_limit_s": 1}, headers=auth(keys.planner)
    )
    return int(r.json()["plan"])


def test_edit_moving_a_stop_within_its_route_is_checked_and_audited(
    client: TestClient, keys: Keys
) -> None:
    plan_id = _draft(client, keys)
    before = client.get(f"/plans/{plan_id}", headers=auth(keys.dispatcher)).json()
    # a village run with two visits or more: its last visit moves to the front
    route = next(
        r
        for r in before["plan"]["routes"]
        if r["tier"] == "last_mile" and sum(s["kind"] == "visit" for s in r["stops"]) >= 2
    )
    sites = [s["site"] for s in route["stops"]]
    last_visit = max(i for i, s in enumerate(route["stops"]) if s["kind"] == "visit")
    edit = {
        "op": "move_stop",
        "route": f"last_mile:{route['vehicle']}",
        "stop": last_visit,
        "position": 1,
    }
    r = client.post(f"/plans/{plan_id}/edits", json={"edit": edit}, headers=auth(keys.dispatcher))
    if r.status_code == 422:  # the checker may refuse (e.g. a window): then it names why
        assert r.json()["violations"]
        return
    assert r.status_code == 200, r.text
    assert r.json()["revision"] == 2
    after = client.get(f"/plans/{plan_id}", headers=auth(keys.dispatcher)).json()
    moved = next(
        r
        for r in after["plan"]["routes"]
        if r["vehicle"] == route["vehicle"] and r["tier"] == "last_mile"
    )
    assert [s["site"] for s in moved["stops"]][1] == sites[last_visit]
    log = client.get(f"/audit?target=plan/{plan_id}", headers=auth(keys.admin)).json()
    assert log[0]["action"] == "plan.edit" and log[0]["role"] == "dispatcher"


def test_edit_breaking_the_plan_is_rejected_with_violations(client: TestClient, keys: Keys) -> None:
    plan_id = _draft(client, keys)
    # a village stop cannot ride on a trunk route
    edit = {"op": "move_stop", "route": "trunk_down:truck1", "stop": 1, "position": 2}
    r = client.post(f"/plans/{plan_id}/edits", json={"edit": edit}, headers=auth(keys.dispatcher))
    assert r.status_code in (200, 422)
    edit = {"op": "move_stop", "route": "last_mile:tri1", "stop": 0}
    r = client.post(f"/plans/{plan_id}/edits", json={"edit": edit}, headers=auth(keys.dispatcher))
    assert r.status_code == 422 and r.json()["field"] == "edit.stop"


def test_edit_that_the_checker_refuses_lists_violations(client: TestClient, keys: Keys) -> None:
    plan_id = _draft(client, keys)
    # pinning v2 to the trunk's village run is fine; pinning to a route of another tier is not
    edit = {"op": "pin_village", "site": "v1", "route": "trunk_up:truck1"}
    r = client.post(f"/plans/{plan_id}/edits", json={"edit": edit}, headers=auth(keys.dispatcher))
    assert r.status_code == 422 and r.json()["field"] == "edit.route"


def test_edit_of_a_published_plan_is_409(client: TestClient, keys: Keys, tiny_plan: int) -> None:
    edit = {"op": "pin_village", "site": "v1", "route": "last_mile:tri1"}
    r = client.post(f"/plans/{tiny_plan}/edits", json={"edit": edit}, headers=auth(keys.dispatcher))
    assert r.status_code == 409


def test_publish_is_audited_and_supersedes(client: TestClient, keys: Keys, tiny_plan: int) -> None:
    second = _draft(client, keys)
    assert (
        client.post(f"/plans/{second}/publish", headers=auth(keys.dispatcher)).json()["status"]
        == "published"
    )
    assert (
        client.get(f"/plans/{tiny_plan}", headers=auth(keys.admin)).json()["status"] == "superseded"
    )
    log = client.get(f"/audit?target=plan/{second}", headers=auth(keys.admin)).json()
    assert [a["action"] for a in log] == ["plan.publish"]


def test_repair_without_the_core_function_is_501(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    from dispatch_api.jobs import repair_function

    events = [{"type": "vehicle_down", "vehicle": "tri1", "at": "11:20"}]
    r = client.post(
        f"/plans/{tiny_plan}/repair", json={"events": events}, headers=auth(keys.dispatcher)
    )
    if repair_function() is None:
        assert r.status_code == 501 and r.headers["content-type"] == PROBLEM
    else:
        assert r.status_code == 202


# ------------------------------------------------------------------------------ courier
def test_courier_route_has_stops_loading_geometry_and_masked_contacts(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    r = client.get(f"/courier/route?date={DATE}", headers=auth(keys.courier))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["vehicle"]["id"] == "tri1" and doc["courier"]["id"] == "c-tri1"
    route = doc["routes"][0]
    assert route["stops"][0]["kind"] == "depart" and route["stops"][1]["eta"]
    assert route["loading"] and route["loading"][0]["seq"] == 1
    assert len(route["geometry"]) >= 2
    again = client.get(
        f"/courier/route?date={DATE}",
        headers={**auth(keys.courier), "If-None-Match": r.headers["ETag"]},
    )
    assert again.status_code == 304 and again.content == b""


def test_courier_route_in_gcj02_is_shifted(client: TestClient, keys: Keys, tiny_plan: int) -> None:
    wgs = client.get(f"/plans/{tiny_plan}/routes/tri1", headers=auth(keys.courier)).json()
    gcj = client.get(f"/plans/{tiny_plan}/routes/tri1?crs=gcj02", headers=auth(keys.courier)).json()
    assert gcj["crs"] in ("gcj02", "planar")
    if gcj["crs"] == "gcj02":
        assert gcj["routes"][0]["stops"][0]["xy"] != wgs["routes"][0]["stops"][0]["xy"]


def test_courier_cannot_read_another_route(client: TestClient, keys: Keys, tiny_plan: int) -> None:
    r = client.get(f"/plans/{tiny_plan}/routes/tri1", headers=auth(keys.other_courier))
    assert r.status_code == 403


def _event(
    stop: int = 1, kind: str = "collected", at: str = f"{DATE}T09:30:00+08:00"
) -> dict[str, object]:
    return {"route": "last_mile:tri1", "stop": stop, "type": kind, "at": at}


def test_event_retry_is_stored_once(client: TestClient, keys: Keys, tiny_plan: int) -> None:
    url = f"/plans/{tiny_plan}/events/e-1"
    first = client.put(url, json=_event(), headers=auth(keys.courier))
    assert first.status_code == 201, first.text
    retry = client.put(url, json=_event(), headers=auth(keys.courier))
    assert (retry.status_code, retry.json()["status"]) == (200, "duplicate")
    other = client.put(url, json=_event(kind="arrived"), headers=auth(keys.courier))
    assert other.status_code == 409


def test_event_on_another_courier_route_is_403(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    r = client.put(f"/plans/{tiny_plan}/events/x", json=_event(), headers=auth(keys.other_courier))
    assert r.status_code == 403


def test_failed_event_needs_a_reason(client: TestClient, keys: Keys, tiny_plan: int) -> None:
    r = client.put(
        f"/plans/{tiny_plan}/events/f", json=_event(kind="failed"), headers=auth(keys.courier)
    )
    assert r.status_code == 422 and r.json()["field"] == "reason"


def test_event_batch_in_any_order_gets_per_event_results(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    events = [
        {"id": "b3", **_event(3, "delivered", f"{DATE}T11:00:00+08:00")},
        {"id": "b1", **_event(1, "arrived", f"{DATE}T09:00:00+08:00")},
        {"id": "b2", **_event(99)},
        {"id": "b1", **_event(1, "arrived", f"{DATE}T09:00:00+08:00")},
        {"id": "b4", **_event(1, "collected", f"{DATE}T09:10:00+08:00"), "orders": ["nope"]},
    ]
    r = client.post(
        f"/plans/{tiny_plan}/events", json={"events": events}, headers=auth(keys.courier)
    )
    assert r.status_code == 200, r.text
    results = [(x["id"], x["status"], x.get("field")) for x in r.json()["results"]]
    assert results == [
        ("b3", "stored", None),
        ("b1", "stored", None),
        ("b2", "rejected", "stop"),
        ("b1", "duplicate", None),
        ("b4", "rejected", "orders"),
    ]


def test_progress_counts_done_stops_and_parcels(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    plan = client.get(f"/plans/{tiny_plan}", headers=auth(keys.admin)).json()["plan"]
    tri = next(r for r in plan["routes"] if r["vehicle"] == "tri1")
    delivered_at = next(i for i, s in enumerate(tri["stops"]) if s["kind"] == "visit" and s["drop"])
    client.put(
        f"/plans/{tiny_plan}/events/p1",
        json=_event(delivered_at, "delivered", f"{DATE}T23:00:00+08:00"),
        headers=auth(keys.courier),
    )
    progress = client.get(f"/plans/{tiny_plan}/progress", headers=auth(keys.dispatcher)).json()
    row = next(r for r in progress["routes"] if r["route"] == "last_mile:tri1")
    assert row["stops_done"] == 1 and row["stops_left"] == row["stops_total"] - 1
    assert row["parcels_delivered"] > 0 and row["late_stops"] >= 1


def test_trace_follows_a_lot_from_village_to_hub(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    plan = client.get(f"/plans/{tiny_plan}", headers=auth(keys.admin)).json()["plan"]
    tri = next(r for r in plan["routes"] if r["vehicle"] == "tri1")
    k, stop = next((i, s) for i, s in enumerate(tri["stops"]) if s["collect"])
    oid = stop["collect"][0]
    order = {
        "id": oid,
        "carrier": "ems",
        "direction": "up",
        "site": stop["site"],
        "weight_kg": 3,
        "volume_m3": 0.01,
        "lot": "LOT-42",
    }
    orders = [json.loads(json.dumps(order))]
    client.post(f"/networks/tiny/orders?date={DATE}", json=orders, headers=auth(keys.admin))
    client.put(
        f"/plans/{tiny_plan}/events/t1", json=_event(k, "collected"), headers=auth(keys.courier)
    )
    trace = client.get("/trace/LOT-42", headers=auth(keys.planner)).json()
    legs = trace["orders"][0]["legs"]
    assert legs[0]["vehicle"] == "tri1" and legs[0]["events"][0]["type"] == "collected"
    assert legs[-1]["site"] == "h"  # unloaded at the hub by the up trunk


def test_trace_unknown_lot_is_404(client: TestClient, keys: Keys) -> None:
    assert client.get("/trace/none", headers=auth(keys.admin)).status_code == 404


# ------------------------------------------------------------------------------ errors, limits
def test_missing_key_is_401_problem(client: TestClient) -> None:
    r = client.get("/networks")
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM


def test_bad_json_names_the_field(client: TestClient, keys: Keys) -> None:
    r = client.post("/networks/tiny/plans", json={"date": "tomorrow"}, headers=auth(keys.admin))
    assert r.status_code == 422 and r.json()["field"] == "body.date"


def test_body_over_the_limit_is_413(client: TestClient, keys: Keys) -> None:
    r = client.post(
        "/networks",
        content=b"{" + b" " * (2 << 20) + b"}",
        headers={**auth(keys.admin), "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["field"] == "body"


def test_order_upload_over_its_limit_is_413(client: TestClient, keys: Keys, app: FastAPI) -> None:
    big = b"x" * (app.state.ctx.settings.max_upload_bytes + 1)
    r = client.post(
        f"/networks/tiny/orders?date={DATE}",
        content=big,
        headers={**auth(keys.admin), "Content-Type": "text/csv"},
    )
    assert r.status_code == 413


@pytest.mark.parametrize("name", ["../x", "a b"])
def test_upload_with_a_bad_name_is_422(client: TestClient, keys: Keys, name: str) -> None:
    assert upload_tiny(client, keys.admin, name).status_code == 422
