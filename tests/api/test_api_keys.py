"""Keys (issue 12, defect 9): expiry, rotation, last-used time, peppered HMAC hashes, the
last admin key, failed-authentication throttling, and CORS off unless configured."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import replace

import pytest
from conftest import Keys, auth
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from dispatch_api.app import create_app
from dispatch_api.db import ApiKey, sessions
from dispatch_api.security import Role, create_key, legacy_hash
from dispatch_api.settings import Settings


def _row(app: FastAPI, key: str) -> ApiKey:
    with sessions(app.state.ctx.engine)() as s:
        row = s.scalars(select(ApiKey).where(ApiKey.prefix == key[:8])).one()
        s.expunge(row)
        return row


def test_keys_are_stored_as_an_hmac_under_the_pepper(
    app: FastAPI, client: TestClient, keys: Keys
) -> None:
    row = _row(app, keys.planner)
    pepper = app.state.ctx.pepper
    assert pepper and row.hash_scheme == "hmac"
    assert row.hash == hmac.new(pepper, keys.planner.encode(), hashlib.sha256).hexdigest()
    assert row.hash != hashlib.sha256(keys.planner.encode()).hexdigest()


def test_a_key_stored_before_the_pepper_still_works_and_is_rehashed(
    app: FastAPI, client: TestClient, keys: Keys
) -> None:
    plain = "cr_" + "L" * 43
    with sessions(app.state.ctx.engine)() as s:
        row, _ = create_key(s, "old", Role.PLANNER, pepper=b"unused")
        row.hash, row.hash_scheme, row.prefix = legacy_hash(plain), "sha256", plain[:8]
        s.commit()
    assert client.get("/v1/networks", headers=auth(plain)).status_code == 200
    assert _row(app, plain).hash_scheme == "hmac"


def test_an_expired_key_is_401(app: FastAPI, client: TestClient, keys: Keys) -> None:
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()
    with sessions(app.state.ctx.engine)() as s:
        _, plain = create_key(s, "gone", Role.PLANNER, pepper=app.state.ctx.pepper, expires_at=past)
        s.commit()
    r = client.get("/v1/networks", headers=auth(plain))
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    made = client.post(
        "/v1/keys",
        json={"name": "a day", "role": "planner", "expires_in_days": 1},
        headers=auth(keys.admin),
    ).json()
    expires = dt.datetime.fromisoformat(made["expires_at"])
    assert dt.timedelta(hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=1)
    assert client.get("/v1/networks", headers=auth(made["key"])).status_code == 200


def test_rotation_replaces_the_key_at_once_or_after_a_grace(client: TestClient, keys: Keys) -> None:
    made = client.post(
        "/v1/keys",
        json={"name": "app", "role": "dispatcher", "networks": ["tiny"]},
        headers=auth(keys.admin),
    ).json()
    new = client.post(f"/v1/keys/{made['id']}/rotate", json={}, headers=auth(keys.admin)).json()
    assert new["networks"] == ["tiny"] and new["role"] == "dispatcher" and new["key"] != made["key"]
    assert client.get("/v1/networks", headers=auth(made["key"])).status_code == 401
    assert client.get("/v1/networks", headers=auth(new["key"])).status_code == 200
    listed = {k["id"]: k for k in client.get("/v1/keys", headers=auth(keys.admin)).json()}
    assert listed[made["id"]]["replaced_by"] == new["id"] and listed[made["id"]]["revoked"]
    graced = client.post(
        f"/v1/keys/{new['id']}/rotate", json={"grace_s": 600}, headers=auth(keys.admin)
    ).json()
    assert client.get("/v1/networks", headers=auth(new["key"])).status_code == 200
    assert client.get("/v1/networks", headers=auth(graced["key"])).status_code == 200


def test_last_used_time_is_recorded(client: TestClient, keys: Keys) -> None:
    assert client.get("/v1/networks", headers=auth(keys.planner)).status_code == 200
    client.app.state.ctx.touches_done()  # type: ignore[attr-defined]  # written after the answer
    listed = client.get("/v1/keys", headers=auth(keys.admin)).json()
    used = {k["name"]: k["last_used_at"] for k in listed}
    assert used["planner-test"] is not None
    assert used["courier-test"] is None  # never used


def test_the_last_working_admin_key_cannot_be_revoked(client: TestClient, keys: Keys) -> None:
    listed = client.get("/v1/keys", headers=auth(keys.admin)).json()
    me = next(k for k in listed if k["role"] == "admin")
    r = client.delete(f"/v1/keys/{me['id']}", headers=auth(keys.admin))
    assert r.status_code == 409 and r.json()["field"] == "key_id"
    other = client.post(
        "/v1/keys", json={"name": "second admin", "role": "admin"}, headers=auth(keys.admin)
    ).json()
    assert client.delete(f"/v1/keys/{me['id']}", headers=auth(other["key"])).status_code == 204
    assert client.get("/v1/keys", headers=auth(keys.admin)).status_code == 401


def test_admin_keys_cannot_be_scoped(client: TestClient, keys: Keys) -> None:
    r = client.post(
        "/v1/keys",
        json={"name": "x", "role": "admin", "networks": ["tiny"]},
        headers=auth(keys.admin),
    )
    assert r.status_code == 422 and r.json()["field"] == "networks"


def test_failed_authentication_is_throttled_per_address(client: TestClient, keys: Keys) -> None:
    limit = client.app.state.ctx.settings.auth_failures_per_minute  # type: ignore[attr-defined]
    for _ in range(limit):
        assert client.get("/v1/networks", headers=auth("cr_wrong")).status_code == 401
    r = client.get("/v1/networks", headers=auth("cr_wrong"))
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.headers["content-type"].startswith("application/problem+json")
    # the address is blocked, whatever key it sends now
    assert client.get("/v1/networks", headers=auth(keys.admin)).status_code == 429


def test_cors_is_off_by_default(client: TestClient) -> None:
    r = client.options(
        "/v1/networks",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


@pytest.fixture
def cors_client(settings: Settings) -> Iterator[TestClient]:
    application = create_app(replace(settings, cors_origins=("https://console.example",)))
    with TestClient(application) as c:
        yield c
    application.state.ctx.engine.dispose()


def test_cors_allows_the_configured_origins_only(cors_client: TestClient) -> None:
    pre = {
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    ok = cors_client.options("/v1/networks", headers={"Origin": "https://console.example", **pre})
    assert ok.headers["access-control-allow-origin"] == "https://console.example"
    bad = cors_client.options("/v1/networks", headers={"Origin": "https://evil.example", **pre})
    assert "access-control-allow-origin" not in bad.headers


def test_cors_origins_come_from_the_environment() -> None:
    s = Settings.from_env({"COUNTYROUTE_CORS_ORIGINS": "https://a.example, https://b.example"})
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert Settings.from_env({}).cors_origins == ()
