"""The courier's fast path (:mod:`dispatch_api.fastpath`) answers exactly as the app does,
and hands everything it does not know on to the app untouched. The fast path is driven here
on its own, in front of an inner app that only says "handed on", with the context of a real
app (whose requests filled the process's memory)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from conftest import DATE, Keys, auth
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from dispatch_api import deps
from dispatch_api.fastpath import CourierFastPath
from dispatch_api.routers import courier

HANDED_ON = 299


def _alone(app: FastAPI) -> TestClient:
    """The fast path with the app's context, in front of an app that echoes the body."""

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": HANDED_ON, "headers": []})
        await send({"type": "http.response.body", "body": body})

    return TestClient(CourierFastPath(inner, app.state.ctx))


ROUTE = f"/v1/courier/route?date={DATE}&crs=gcj02"


def test_a_remembered_route_is_answered_as_the_app_answers_it(
    app: FastAPI, client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    full = client.get(ROUTE, headers=auth(keys.courier))
    assert full.status_code == 200
    fast = _alone(app)
    r = fast.get(ROUTE, headers={**auth(keys.courier), "Accept-Encoding": "identity"})
    assert r.status_code == 200
    assert r.content == full.content and r.headers["etag"] == full.headers["etag"]
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == full.headers["cache-control"]
    same = fast.get(ROUTE, headers={**auth(keys.courier), "If-None-Match": full.headers["etag"]})
    assert same.status_code == 304 and same.content == b""
    packed = fast.get(ROUTE, headers={**auth(keys.courier), "Accept-Encoding": "gzip"})
    assert len(full.content) >= 1024 and packed.headers["content-encoding"] == "gzip"
    assert packed.content == full.content  # unpacked by the client
    head = fast.head(ROUTE, headers={**auth(keys.courier), "Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(full.content))


def test_a_forgotten_key_and_route_are_looked_up_once_for_fetches_at_the_same_moment(
    app: FastAPI,
    client: TestClient,
    keys: Keys,
    tiny_plan: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """07:00: this process has forgotten every key and route (a few seconds without fetches,
    or a change announced on the bus), and a courier's fetches arrive together. The fast
    path answers all of them after one key look-up and one route look-up; none goes on to
    the app (the framework's path, many times the cost, was the burst's tail)."""
    full = client.get(ROUTE, headers={**auth(keys.courier), "Accept-Encoding": "identity"})
    assert full.status_code == 200
    ctx = app.state.ctx
    ctx.warmer.stop()  # nothing remembered ahead of the requests (dispatch_api.warm)
    ctx.bus.changed()  # every process forgets: the cache bus heard a change
    ctx.keys.clear()
    calls: list[str] = []

    def counted(name: str, fn: Any) -> Any:
        def wrapper(*args: Any) -> Any:
            calls.append(name)
            return fn(*args)

        return wrapper

    monkeypatch.setattr(deps, "_lookup", counted("key", deps._lookup))
    monkeypatch.setattr(courier, "_resolve_mine", counted("route", courier._resolve_mine))

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": HANDED_ON, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def together() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=CourierFastPath(inner, ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            headers = {**auth(keys.courier), "Accept-Encoding": "identity"}
            return list(await asyncio.gather(*(c.get(ROUTE, headers=headers) for _ in range(20))))

    answers = asyncio.run(together())
    assert [r.status_code for r in answers] == [200] * 20
    assert {r.content for r in answers} == {full.content}
    assert {r.headers["etag"] for r in answers} == {full.headers["etag"]}
    assert sorted(calls) == ["key", "route"]


def test_what_the_fast_path_does_not_know_goes_to_the_app(
    app: FastAPI, client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    assert client.get(ROUTE, headers=auth(keys.courier)).status_code == 200
    fast = _alone(app)
    handed_on = [
        (ROUTE, auth("cr_unknown")),  # a key this process has not checked
        (ROUTE, auth(keys.dispatcher)),  # not a courier: the app explains
        (f"/v1/courier/route?date={DATE}&crs=gcj02&x=1", auth(keys.courier)),  # unknown query
        ("/v1/courier/route?date=2026-13-45", auth(keys.courier)),  # not a date
        (f"/v1/courier/route?date={DATE}&date={DATE}", auth(keys.courier)),  # repeated
        ("/v1/courier/route?date=2026-12-02", auth(keys.courier)),  # no plan: a problem
        (ROUTE, {}),  # no key
    ]
    for path, headers in handed_on:
        assert fast.get(path, headers=headers).status_code == HANDED_ON, (path, headers)


def test_a_stop_event_is_stored_once_through_the_fast_path(
    app: FastAPI, client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    assert client.get(ROUTE, headers=auth(keys.courier)).status_code == 200  # key checked
    fast = _alone(app)
    event = {"route": "last_mile:tri1", "stop": 1, "type": "arrived", "at": f"{DATE}T09:00:00"}
    path = f"/v1/plans/{tiny_plan}/events/f1"
    first = fast.put(path, json=event, headers=auth(keys.courier))
    assert first.status_code == 201, first.text
    assert first.json() == {
        "id": "f1",
        "status": "stored",
        "http_status": 201,
        "field": None,
        "detail": None,
    }
    again = fast.put(path, json=event, headers=auth(keys.courier))
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    other = fast.put(path, json={**event, "type": "delivered"}, headers=auth(keys.courier))
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    theirs = {**event, "route": "trunk_down:truck1"}
    forbidden = fast.put(
        f"/v1/plans/{tiny_plan}/events/f2", json=theirs, headers=auth(keys.courier)
    )
    assert forbidden.status_code == 403 and forbidden.json()["detail"] == "not your route"
    missing = fast.put("/v1/plans/999999/events/f3", json=event, headers=auth(keys.courier))
    assert missing.status_code == 404 and missing.json()["field"] == "plan_id"
    # the full app sees what the fast path stored, once
    listed = client.get(f"/v1/plans/{tiny_plan}/events", headers=auth(keys.dispatcher)).json()
    rows = listed["events"] if isinstance(listed, dict) else listed
    assert [e["id"] for e in rows if e["id"] in ("f1", "f2", "f3")] == ["f1"]


def test_a_body_the_fast_path_cannot_read_reaches_the_app_whole(
    app: FastAPI, client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    assert client.get(ROUTE, headers=auth(keys.courier)).status_code == 200
    fast = _alone(app)
    path = f"/v1/plans/{tiny_plan}/events/bad"
    for body in (b'{"route": "last_mile:tri1", "stop": "x"}', b"not json", b"[]"):
        r = fast.put(
            path, content=body, headers={**auth(keys.courier), "Content-Type": "application/json"}
        )
        assert (r.status_code, r.content) == (HANDED_ON, body)
    plain = fast.put(
        path, content=b"{}", headers={**auth(keys.courier), "Content-Type": "text/plain"}
    )
    assert plain.status_code == HANDED_ON
