"""The authorisation matrix: every role × every endpoint (and no key at all).

Each row is an endpoint with the roles that may use it; every other role must get 403 and a
request without a key 401. "Allowed" means "not 401/403" (the request may still be a 404 or
422 for its content). Couriers are allowed on route and event endpoints only for their own
vehicle: those rows ask about tri1 (theirs); ``test_courier_cannot_*`` cover other vehicles.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import DATE, Keys, auth
from fastapi.testclient import TestClient

ROLES = ("admin", "dispatcher", "planner", "courier")
STAFF = {"admin", "dispatcher", "planner"}
PLANNERS = {"admin", "planner"}
EDIT = {"op": "pin_village", "site": "v1", "route": "last_mile:tri1"}
EVENT = {"route": "last_mile:tri1", "stop": 1, "type": "arrived", "at": f"{DATE}T09:00:00"}

# (method, path, json body, roles allowed); {plan} is the published tiny plan
MATRIX: list[tuple[str, str, Any, set[str]]] = [
    ("POST", "/keys", {"name": "k", "role": "planner"}, {"admin"}),
    ("GET", "/keys", None, {"admin"}),
    ("DELETE", "/keys/999999", None, {"admin"}),
    ("POST", "/networks", {"builtin": "nowhere"}, STAFF),
    ("GET", "/networks", None, STAFF),
    ("GET", "/networks/tiny", None, STAFF),
    ("GET", "/networks/tiny/sites", None, STAFF),
    ("GET", "/networks/tiny/stations", None, STAFF),
    ("GET", "/networks/tiny/vehicles", None, STAFF),
    ("GET", "/networks/tiny/couriers", None, STAFF),
    ("PUT", "/networks/tiny/couriers/c-nobody", {"vehicle": None}, STAFF),
    ("POST", f"/networks/tiny/orders?date={DATE}", [], STAFF),
    ("GET", f"/networks/tiny/orders?date={DATE}", None, STAFF),
    ("POST", "/networks/tiny/plans", {"date": "2031-01-01"}, STAFF),
    ("GET", "/jobs/none", None, STAFF),
    ("GET", "/jobs/none/result", None, STAFF),
    ("POST", "/networks/tiny/placements", {"points": 1, "curve": False}, PLANNERS),
    (
        "POST",
        "/networks/tiny/simulations",
        {"change": "growth30", "days": 1, "solution_limit": 1},
        PLANNERS,
    ),
    ("GET", "/plans", None, STAFF),
    ("GET", "/plans/{plan}", None, STAFF),
    ("POST", "/plans/{plan}/edits", {"edit": EDIT}, STAFF),
    ("POST", "/plans/{plan}/publish", None, {"admin", "dispatcher"}),
    (
        "POST",
        "/plans/{plan}/repair",
        {"events": [{"type": "vehicle_down"}]},
        {"admin", "dispatcher"},
    ),
    ("GET", "/plans/{plan}/progress", None, STAFF),
    ("GET", "/audit", None, {"admin", "dispatcher"}),
    ("GET", "/plans/{plan}/routes/tri1", None, {*STAFF, "courier"}),
    ("GET", f"/courier/route?date={DATE}", None, {"courier"}),
    ("PUT", "/plans/{plan}/events/authz-{role}", EVENT, {"admin", "dispatcher", "courier"}),
    (
        "POST",
        "/plans/{plan}/events",
        {"events": [{"id": "authz-b-{role}", **EVENT}]},
        {"admin", "dispatcher", "courier"},
    ),
    ("GET", "/trace/none", None, STAFF),
    # the console's read models and edit dry run (dispatch_api/routers/console_api.py)
    ("GET", "/networks/tiny/geojson", None, STAFF),
    ("GET", "/plans/{plan}/geojson", None, STAFF),
    ("GET", "/plans/{plan}/view", None, STAFF),
    ("GET", "/plans/{plan}/events", None, STAFF),
    ("GET", "/plans/{plan}/events/stream?max_s=1", None, STAFF),
    ("POST", "/plans/{plan}/edits/check", {"edits": []}, STAFF),
    ("POST", "/jobs/none/cancel", None, STAFF),
]


def test_matrix_covers_every_endpoint(client: TestClient) -> None:
    documented = {
        (method.upper(), path)
        for path, ops in client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for method in ops
        if path != "/health"
    }
    covered = set()
    for method, path, _, _ in MATRIX:
        bare = path.split("?")[0].replace("{plan}", "{plan_id}")
        for candidate, _ops in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
            parts, cparts = bare.split("/"), candidate.split("/")
            if len(parts) == len(cparts) and all(
                c.startswith("{") or c == p for p, c in zip(parts, cparts, strict=True)
            ):
                covered.add((method, candidate))
    # the upload endpoint takes multipart forms: its row lives in test_upload_roles
    assert documented - covered == {("POST", "/networks/upload")}


def _fill(value: Any, plan: int, role: str) -> Any:
    if isinstance(value, str):
        return value.replace("{plan}", str(plan)).replace("{role}", role)
    if isinstance(value, list):
        return [_fill(v, plan, role) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, plan, role) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _, _ in MATRIX]
)
def test_every_role_on_every_endpoint(
    client: TestClient,
    keys: Keys,
    tiny_plan: int,
    method: str,
    path: str,
    body: Any,
    allowed: set[str],
) -> None:
    for role in ROLES:
        url = _fill(path, tiny_plan, role)
        payload = _fill(body, tiny_plan, role)
        kwargs: dict[str, Any] = {"headers": auth(keys.of(role))}
        if payload is not None:
            kwargs["json"] = payload
        status = client.request(method, url, **kwargs).status_code
        if role in allowed:
            assert status not in (401, 403), (role, method, url, status)
        else:
            assert status == 403, (role, method, url, status)
    anonymous = client.request(
        method, _fill(path, tiny_plan, "anon"), json=_fill(body, tiny_plan, "anon")
    )
    assert anonymous.status_code == 401


def test_upload_roles(client: TestClient, keys: Keys) -> None:
    from conftest import upload_tiny

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
