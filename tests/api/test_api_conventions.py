"""API conventions (issue 12): the /v1 prefix with the old paths as aliases, cursor
pagination on lists, gzip, HEAD, idempotency keys on POST plans and repairs, problem details
documented on every operation, a real schema for the courier route, and the live feed
(server-sent events) scoped by role and network, resumable with Last-Event-ID."""

from __future__ import annotations

import gzip
import json
from typing import Any

from conftest import DATE, Keys, auth, import_tiny_orders
from fastapi.testclient import TestClient

from dispatch_api.schemas import CourierRoute


def _events(text: str) -> list[dict[str, Any]]:
    """The events of an SSE body: id, event, data (parsed)."""
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            out.append(
                {"id": int(fields["id"]), "event": fields["event"], **json.loads(fields["data"])}
            )
    return out


def test_every_path_is_under_v1_and_the_old_paths_are_aliases(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    assert all(p.startswith("/v1/") for p in paths if p not in ("/health", "/ready"))
    new = client.get(f"/v1/plans/{tiny_plan}", headers=auth(keys.dispatcher))
    old = client.get(f"/plans/{tiny_plan}", headers=auth(keys.dispatcher))
    assert new.status_code == old.status_code == 200 and new.json() == old.json()


def test_every_operation_documents_its_problem_responses(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    for path, ops in paths.items():
        if path in ("/health", "/ready"):
            continue
        for method, op in ops.items():
            for code in ("401", "403", "404", "409", "413", "415", "422", "429"):
                content = op["responses"].get(code, {}).get("content", {})
                assert "application/problem+json" in content, (method, path, code)


def test_the_courier_route_has_a_real_schema(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    op = client.app.openapi()["paths"]["/v1/courier/route"]["get"]  # type: ignore[attr-defined]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/CourierRoute"}
    doc = client.get(f"/v1/courier/route?date={DATE}", headers=auth(keys.courier)).json()
    route = CourierRoute.model_validate(doc)
    assert route.vehicle.id == "tri1" and route.routes[0].stops


def _walk(client: TestClient, url: str, key: str) -> tuple[list[Any], int]:
    """Every item of a list, page by page through Link: rel="next"; and the page count."""
    items: list[Any] = []
    pages = 0
    while url:
        r = client.get(url, headers=auth(key))
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"] if isinstance(body, dict) else body
        pages += 1
        link = r.headers.get("Link", "")
        url = link[1 : link.index(">")] if link else ""
    return items, pages


def test_lists_are_paged_with_cursors(client: TestClient, keys: Keys, tiny_plan: int) -> None:
    for _ in range(2):
        client.post(
            "/v1/networks/tiny/plans",
            json={"date": DATE, "time_limit_s": 1, "solution_limit": 50},
            headers=auth(keys.dispatcher),
        )
    everything = client.get("/v1/plans", headers=auth(keys.dispatcher)).json()
    paged, pages = _walk(client, "/v1/plans?limit=1", keys.dispatcher)
    assert [p["id"] for p in paged] == [p["id"] for p in everything] and pages == len(everything)
    audit = client.get("/v1/audit?limit=1000", headers=auth(keys.admin)).json()
    paged, pages = _walk(client, "/v1/audit?limit=2", keys.admin)
    assert [a["id"] for a in paged] == [a["id"] for a in audit] and pages > 1  # newest first
    orders, pages = _walk(client, f"/v1/networks/tiny/orders?date={DATE}&limit=3", keys.planner)
    assert (
        len({o["id"] for o in orders})
        == client.get(f"/v1/networks/tiny/orders?date={DATE}", headers=auth(keys.planner)).json()[
            "total"
        ]
    )
    keys_paged, _ = _walk(client, "/v1/keys?limit=2", keys.admin)
    assert len(keys_paged) == len(client.get("/v1/keys", headers=auth(keys.admin)).json())
    assert client.get("/v1/plans?cursor=bm9wZQ", headers=auth(keys.admin)).status_code == 422


def test_large_answers_are_gzipped(client: TestClient, keys: Keys, tiny_plan: int) -> None:
    r = client.get(
        f"/v1/plans/{tiny_plan}", headers={**auth(keys.admin), "Accept-Encoding": "gzip"}
    )
    assert r.headers.get("content-encoding") == "gzip"
    assert r.json()["id"] == tiny_plan  # httpx decodes it
    raw = client.get(
        f"/v1/plans/{tiny_plan}", headers={**auth(keys.admin), "Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in raw.headers and gzip.compress(raw.content)


def test_head_answers_the_gets_headers_without_a_body(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    get = client.get(f"/v1/courier/route?date={DATE}", headers=auth(keys.courier))
    head = client.head(f"/v1/courier/route?date={DATE}", headers=auth(keys.courier))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert client.head("/v1/networks/nowhere", headers=auth(keys.admin)).status_code == 404


def test_a_retried_post_with_an_idempotency_key_answers_the_first_job(
    client: TestClient, keys: Keys
) -> None:
    import_tiny_orders(client, keys.dispatcher)
    body = {"date": DATE, "time_limit_s": 1, "solution_limit": 50}
    h = {**auth(keys.dispatcher), "Idempotency-Key": "plan-2026-12-01-a"}
    first = client.post("/v1/networks/tiny/plans", json=body, headers=h)
    again = client.post("/v1/networks/tiny/plans", json=body, headers=h)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert len(client.get("/v1/plans", headers=auth(keys.dispatcher)).json()) == 1
    other = client.post("/v1/networks/tiny/plans", json={**body, "time_limit_s": 2}, headers=h)
    assert other.status_code == 409 and other.json()["field"] == "Idempotency-Key"
    # another key's Idempotency-Key space is its own
    mine = client.post(
        "/v1/networks/tiny/plans",
        json=body,
        headers={**auth(keys.admin), "Idempotency-Key": "plan-2026-12-01-a"},
    )
    assert mine.status_code == 202 and mine.json()["id"] != first.json()["id"]


def test_the_feed_streams_published_plans_events_and_jobs_with_resume(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    staff = _events(client.get("/v1/feed?wait_s=0", headers=auth(keys.dispatcher)).text)
    kinds = [e["event"] for e in staff]
    assert "job" in kinds and "plan.published" in kinds
    mine = {"route": "last_mile:tri1", "stop": 1, "type": "arrived", "at": f"{DATE}T09:00:00"}
    theirs = {"route": "trunk_down:truck1", "stop": 1, "type": "arrived", "at": f"{DATE}T07:30:00"}
    assert (
        client.put(
            f"/v1/plans/{tiny_plan}/events/a", json=mine, headers=auth(keys.courier)
        ).status_code
        == 201
    )
    assert (
        client.put(
            f"/v1/plans/{tiny_plan}/events/b", json=theirs, headers=auth(keys.other_courier)
        ).status_code
        == 201
    )
    last = staff[-1]["id"]
    resumed = _events(
        client.get(
            "/v1/feed?wait_s=0", headers={**auth(keys.dispatcher), "Last-Event-ID": str(last)}
        ).text
    )
    assert [e["event"] for e in resumed] == ["stop.event", "stop.event"]
    assert all(e["id"] > last for e in resumed)
    seen = _events(client.get("/v1/feed?wait_s=0", headers=auth(keys.courier)).text)
    vehicles = {e["vehicle"] for e in seen if e["event"] == "stop.event"}
    assert vehicles == {"tri1"}  # the courier sees their own stop events only
    assert not [e for e in seen if e["event"] == "job"]  # and no jobs
    assert (
        client.get("/v1/feed?wait_s=0&network=elsewhere", headers=auth(keys.courier)).status_code
        == 404
    )
