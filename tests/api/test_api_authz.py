"""The authorisation matrix: every operation × every role × own or other network (and no
key at all).

Two networks hold a published plan each: ``tiny`` (own) and ``tiny2`` (other). The dispatcher,
planner and courier keys are limited to ``tiny``; the admin key sees every network. Each row is
an operation with the roles that may use it; every other role must get 403 and a request
without a key 401. On its own network an allowed role is "not 401/403" (the request may still
be a 404 or 422 for its content); on the other network a key limited to ``tiny`` must get 404
(the same answer as for something that does not exist: nothing is revealed), and the admin
key is let through. Couriers are allowed on route and event endpoints only for their own
vehicle: those rows ask about tri1 (theirs); ``test_courier_cannot_*`` cover other vehicles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from conftest import DATE, Keys, auth, import_tiny_orders, upload_tiny
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dispatch_api.db import sessions
from dispatch_api.security import Role, create_key

ROLES = ("admin", "dispatcher", "planner", "courier")
STAFF = {"admin", "dispatcher", "planner"}
PLANNERS = {"admin", "planner"}
DISPATCH = {"admin", "dispatcher"}
EDIT = {"op": "pin_village", "site": "v1", "route": "last_mile:tri1"}
EVENT = {"route": "last_mile:tri1", "stop": 1, "type": "arrived", "at": f"{DATE}T09:00:00"}

# (method, path, json body, roles allowed); {net}, {plan}, {job} and {draft} are the target
# network's, {role} the caller's role (event ids)
MATRIX: list[tuple[str, str, Any, set[str]]] = [
    ("POST", "/v1/keys", {"name": "k", "role": "planner"}, {"admin"}),
    ("GET", "/v1/keys", None, {"admin"}),
    ("DELETE", "/v1/keys/999999", None, {"admin"}),
    ("POST", "/v1/keys/999999/rotate", {}, {"admin"}),
    ("POST", "/v1/networks", {"builtin": "nowhere", "name": "{net}"}, STAFF),
    ("GET", "/v1/networks", None, STAFF),
    ("GET", "/v1/networks/{net}", None, STAFF),
    ("GET", "/v1/networks/{net}/sites", None, STAFF),
    ("GET", "/v1/networks/{net}/stations", None, STAFF),
    ("GET", "/v1/networks/{net}/vehicles", None, STAFF),
    ("GET", "/v1/networks/{net}/couriers", None, STAFF),
    ("PUT", "/v1/networks/{net}/couriers/c-van2", {"vehicle": "van2"}, DISPATCH),
    ("POST", f"/v1/networks/{{net}}/orders?date={DATE}", [], STAFF),
    ("GET", f"/v1/networks/{{net}}/orders?date={DATE}", None, STAFF),
    ("POST", "/v1/networks/{net}/plans", {"date": "2031-01-01"}, STAFF),
    ("GET", "/v1/jobs/{job}", None, STAFF),
    ("POST", "/v1/region-jobs", {"networks": ["{net}"], "date": "2031-01-01"}, STAFF),
    ("GET", "/v1/jobs/{job}/result", None, STAFF),
    ("POST", "/v1/networks/{net}/placements", {"points": 1, "curve": False}, PLANNERS),
    (
        "POST",
        "/v1/networks/{net}/simulations",
        {"change": "growth30", "days": 1, "solution_limit": 1},
        PLANNERS,
    ),
    ("GET", "/v1/plans", None, STAFF),
    ("GET", "/v1/plans/{plan}", None, STAFF),
    ("POST", "/v1/plans/{draft}/edits", {"edit": EDIT}, STAFF),
    ("POST", "/v1/plans/{plan}/publish", None, DISPATCH),
    ("POST", "/v1/plans/{plan}/repair", {"events": [{"type": "vehicle_down"}]}, DISPATCH),
    ("GET", "/v1/plans/{plan}/progress", None, STAFF),
    ("GET", "/v1/audit", None, DISPATCH),
    ("GET", "/v1/plans/{plan}/routes/tri1", None, {*STAFF, "courier"}),
    ("GET", "/v1/plans/{plan}/routes/tri1/sheet.pdf", None, {*STAFF, "courier"}),
    ("GET", "/v1/plans/{plan}/routes/tri1/manifest.pdf", None, {*STAFF, "courier"}),
    ("GET", f"/v1/courier/route?date={DATE}", None, {"courier"}),
    ("PUT", "/v1/plans/{plan}/events/authz-{role}", EVENT, {*DISPATCH, "courier"}),
    (
        "POST",
        "/v1/plans/{plan}/events",
        {"events": [{"id": "authz-b-{role}", **EVENT}]},
        {*DISPATCH, "courier"},
    ),
    ("GET", "/v1/trace/lot-{net}", None, STAFF),
    ("GET", "/v1/feed?wait_s=0&network={net}", None, {*STAFF, "courier"}),
    # the console's read models and edit dry run (dispatch_api/routers/console_api.py)
    ("GET", "/v1/networks/{net}/geojson", None, STAFF),
    ("GET", "/v1/plans/{plan}/geojson", None, STAFF),
    ("GET", "/v1/plans/{plan}/view", None, STAFF),
    ("GET", "/v1/plans/{plan}/events", None, STAFF),
    ("GET", "/v1/plans/{plan}/events/stream?max_s=1", None, STAFF),
    ("POST", "/v1/plans/{plan}/edits/check", {"edits": []}, STAFF),
    ("POST", "/v1/jobs/{job}/cancel", None, STAFF),
    ("POST", "/v1/webhooks", {"network": "{net}", "url": "http://127.0.0.1:9/hook"}, DISPATCH),
    ("GET", "/v1/webhooks", None, DISPATCH),
    ("DELETE", "/v1/webhooks/999999", None, DISPATCH),
]

NETWORK_FREE = {
    "/v1/keys",
    "/v1/networks",
    "/v1/plans",
    "/v1/audit",
    "/v1/courier/route",
    "/v1/webhooks",
    "/v1/webhooks/999999",
}
"""Operations that name no network: lists (their contents are checked by
``test_lists_show_only_the_keys_networks``), keys, and the courier's own route."""


@dataclass
class Target:
    net: str
    plan: int
    draft: int
    job: str


@dataclass
class World:
    keys: dict[str, str]
    """Role → key; dispatcher, planner and courier limited to tiny."""
    own: Target
    other: Target


def _plan_network(client: TestClient, admin: str, net: str) -> Target:
    orders = (import_tiny_orders.__globals__["TINY"] / "orders.csv").read_text()
    lot = orders.splitlines()
    body = "\n".join([lot[0] + ",lot", *(f"{line},lot-{net}" for line in lot[1:])]) + "\n"
    r = client.post(
        f"/v1/networks/{net}/orders?date={DATE}",
        content=body.encode(),
        headers={**auth(admin), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    jobs = []
    for _ in range(2):
        r = client.post(
            f"/v1/networks/{net}/plans",
            json={"date": DATE, "time_limit_s": 1, "solution_limit": 50},
            headers=auth(admin),
        )
        assert r.status_code == 202, r.text
        jobs.append(r.json())
    assert all(j["status"] == "succeeded" for j in jobs), jobs
    plan, draft = jobs[0]["plan"], jobs[1]["plan"]
    assert client.post(f"/v1/plans/{plan}/publish", headers=auth(admin)).status_code == 200
    return Target(net, plan, draft, jobs[0]["id"])


@pytest.fixture
def world(app: FastAPI, client: TestClient, keys: Keys) -> World:
    """tiny and tiny2, each with a published plan and a draft; keys limited to tiny."""
    assert upload_tiny(client, keys.admin, "tiny2").status_code == 201
    own = _plan_network(client, keys.admin, "tiny")
    other = _plan_network(client, keys.admin, "tiny2")
    made = {}
    with sessions(app.state.ctx.engine)() as s:
        for role in (Role.DISPATCHER, Role.PLANNER):
            _, made[role.value] = create_key(
                s, f"{role.value}-tiny", role, pepper=app.state.ctx.pepper, networks=["tiny"]
            )
        s.commit()
    return World(
        {"admin": keys.admin, **made, "courier": keys.courier},
        own,
        other,
    )


def test_matrix_covers_every_endpoint(client: TestClient) -> None:
    documented = {
        (method.upper(), path)
        for path, ops in client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for method in ops
        if path not in ("/health", "/ready")
    }
    covered = set()
    for method, path, _, _ in MATRIX:
        bare = path.split("?")[0]
        for candidate in client.app.openapi()["paths"]:  # type: ignore[attr-defined]
            parts, cparts = bare.split("/"), candidate.split("/")
            if len(parts) == len(cparts) and all(
                c.startswith("{") or c == p or p.startswith("{")
                for p, c in zip(parts, cparts, strict=True)
            ):
                covered.add((method, candidate))
    # the upload endpoint takes multipart forms: its row lives in test_upload_roles
    assert documented - covered == {("POST", "/v1/networks/upload")}


def _fill(value: Any, t: Target, role: str) -> Any:
    if isinstance(value, str):
        for name, sub in (
            ("{net}", t.net),
            ("{plan}", str(t.plan)),
            ("{draft}", str(t.draft)),
            ("{job}", t.job),
            ("{role}", role),
        ):
            value = value.replace(name, sub)
        return value
    if isinstance(value, list):
        return [_fill(v, t, role) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, t, role) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
def test_every_role_on_every_operation_on_own_and_other_network(
    client: TestClient,
    world: World,
    method: str,
    path: str,
    body: Any,
    allowed: set[str],
) -> None:
    for side, target in (("own", world.own), ("other", world.other)):
        for role in ROLES:
            url = _fill(path, target, role)
            kwargs: dict[str, Any] = {"headers": auth(world.keys[role])}
            if body is not None:
                kwargs["json"] = _fill(body, target, role)
            r = client.request(method, url, **kwargs)
            where = (side, role, method, url, r.status_code, r.text[:200])
            if role not in allowed:
                assert r.status_code == 403, where
            elif side == "own" or role == "admin" or path.split("?")[0] in NETWORK_FREE:
                assert r.status_code not in (401, 403), where
            elif path == "/v1/networks":
                assert r.status_code == 403, where  # may not import under another's name
            else:
                assert r.status_code == 404, where
                assert r.headers["content-type"].startswith("application/problem+json")
        anonymous = client.request(
            method, _fill(path, target, "anon"), json=_fill(body, target, "anon")
        )
        assert anonymous.status_code == 401


def test_lists_show_only_the_keys_networks(client: TestClient, world: World) -> None:
    """Lists, audit and the feed of a key limited to tiny hold nothing of tiny2; the admin
    key's hold both."""
    for role in ("dispatcher", "admin"):
        key = auth(world.keys[role])
        nets = {n["name"] for n in client.get("/v1/networks", headers=key).json()}
        plans = {p["network"] for p in client.get("/v1/plans", headers=key).json()}
        assert client.get("/v1/plans?network=tiny2", headers=key).json() == [] or role == "admin"
        lines = client.get("/v1/audit?limit=1000", headers=key).json()
        audit_nets = {a["target"] for a in lines if "tiny2" in a["target"]}
        feed = client.get("/v1/feed?wait_s=0", headers=key).text
        if role == "admin":
            assert nets >= {"tiny", "tiny2"} and plans >= {"tiny", "tiny2"}
            assert audit_nets and '"network":"tiny2"' in feed
        else:
            assert nets == {"tiny"} and plans == {"tiny"}
            assert not audit_nets
            assert '"network":"tiny2"' not in feed and '"network":"tiny"' in feed
    trace = client.get("/v1/trace/lot-tiny", headers=auth(world.keys["planner"]))
    assert trace.status_code == 200
    assert {o["network"] for o in trace.json()["orders"]} == {"tiny"}


def test_upload_roles(client: TestClient, keys: Keys) -> None:
    for role in ROLES:
        status = upload_tiny(client, keys.of(role)).status_code
        assert (status == 403) == (role == "courier"), (role, status)


def test_courier_cannot_report_on_another_vehicle(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    body = {**EVENT, "route": "trunk_down:truck1"}
    assert (
        client.put(
            f"/plans/{tiny_plan}/events/x1", json=body, headers=auth(keys.courier)
        ).status_code
        == 403
    )
    batch = client.post(
        f"/plans/{tiny_plan}/events",
        json={"events": [{"id": "x2", **body}]},
        headers=auth(keys.courier),
    ).json()
    assert batch["results"][0]["status"] == "forbidden"


def test_courier_cannot_read_a_draft(client: TestClient, keys: Keys, tiny_plan: int) -> None:
    r = client.post(
        "/networks/tiny/plans", json={"date": DATE, "time_limit_s": 1}, headers=auth(keys.admin)
    )
    draft = r.json()["plan"]
    assert client.get(f"/plans/{draft}/routes/tri1", headers=auth(keys.courier)).status_code == 403


def test_revoked_key_is_401(client: TestClient, keys: Keys) -> None:
    made = client.post(
        "/keys", json={"name": "temp", "role": "planner"}, headers=auth(keys.admin)
    ).json()
    assert client.get("/networks", headers=auth(made["key"])).status_code == 200
    assert client.delete(f"/keys/{made['id']}", headers=auth(keys.admin)).status_code == 204
    assert client.get("/networks", headers=auth(made["key"])).status_code == 401
