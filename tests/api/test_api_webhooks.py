"""Outgoing webhooks: a network's feed POSTed in order, signed, retried with back-off, and
switched off after too many failures; delivered here synchronously (``deliver_due`` with a
recording transport) rather than by the sender thread."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from conftest import DATE, Keys, auth
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from dispatch_api.db import Webhook
from dispatch_api.webhooks import MAX_FAILURES, deliver_due

EVENT = {"route": "last_mile:tri1", "stop": 1, "type": "arrived", "at": f"{DATE}T09:00:00"}


class Receiver:
    """Records requests; answers the statuses it is given, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.seen: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.seen.append((url, body, headers))
        return self.statuses.pop(0) if self.statuses else 200


def _verify(secret: str, body: bytes, header: str) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(","))
    mac = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), parts["v1"])


def _hook(client: TestClient, key: str, **extra: Any) -> dict[str, Any]:
    r = client.post(
        "/v1/webhooks",
        json={"network": "tiny", "url": "https://carrier.example/hook", **extra},
        headers=auth(key),
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_feed_items_are_posted_in_order_and_signed(
    app: FastAPI, client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    hook = _hook(client, keys.dispatcher)
    assert hook["secret"].startswith("whsec_")
    listed = client.get("/v1/webhooks", headers=auth(keys.dispatcher)).json()
    assert "secret" not in listed[0]
    for n in range(3):
        body = {**EVENT, "stop": 1, "type": ["arrived", "delivered", "scanned"][n]}
        r = client.put(f"/v1/plans/{tiny_plan}/events/w{n}", json=body, headers=auth(keys.courier))
        assert r.status_code == 201
    receiver = Receiver()
    assert deliver_due(app.state.ctx.engine, receiver) == 3
    sent = [json.loads(b) for _, b, _ in receiver.seen]
    assert [s["data"]["type"] for s in sent] == ["arrived", "delivered", "scanned"]
    assert [s["id"] for s in sent] == sorted(s["id"] for s in sent)
    for _, body, headers in receiver.seen:
        assert _verify(hook["secret"], body, headers["X-Countyroute-Signature"])
        assert headers["X-Countyroute-Event"] == "stop.event"
    assert not _verify(
        "whsec_wrong", receiver.seen[0][1], receiver.seen[0][2]["X-Countyroute-Signature"]
    )
    assert deliver_due(app.state.ctx.engine, Receiver()) == 0  # nothing new


def test_a_failed_delivery_is_retried_after_a_wait_with_the_same_id(
    app: FastAPI, client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    _hook(client, keys.admin, kinds=["stop.event"])
    client.put(f"/v1/plans/{tiny_plan}/events/r1", json=EVENT, headers=auth(keys.courier))
    engine = app.state.ctx.engine
    down = Receiver([503])
    assert deliver_due(engine, down) == 0
    state = client.get("/v1/webhooks", headers=auth(keys.admin)).json()[0]
    assert state["failures"] == 1 and state["last_error"] == "HTTP 503" and state["next_at"]
    assert deliver_due(engine, down) == 0 and len(down.seen) == 1  # not due yet
    with engine.begin() as conn:  # the wait is over
        conn.execute(update(Webhook).values(next_at="2000-01-01T00:00:00+00:00"))
    up = Receiver()
    assert deliver_due(engine, up) == 1
    assert up.seen[0][2]["X-Countyroute-Delivery"] == down.seen[0][2]["X-Countyroute-Delivery"]
    state = client.get("/v1/webhooks", headers=auth(keys.admin)).json()[0]
    assert state["failures"] == 0 and state["cursor"] == json.loads(up.seen[0][1])["id"]


def test_a_webhook_that_keeps_failing_is_switched_off(
    app: FastAPI, client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    _hook(client, keys.admin)
    client.put(f"/v1/plans/{tiny_plan}/events/f1", json=EVENT, headers=auth(keys.courier))
    engine = app.state.ctx.engine

    def refused(url: str, body: bytes, headers: dict[str, str]) -> int:
        raise ConnectionRefusedError("nobody listens")

    for _ in range(MAX_FAILURES):
        with engine.begin() as conn:
            conn.execute(update(Webhook).values(next_at=None))
        deliver_due(engine, refused)
    state = client.get("/v1/webhooks", headers=auth(keys.admin)).json()[0]
    assert state["active"] is False and "nobody listens" in state["last_error"]


def test_webhooks_are_scoped_to_the_keys_networks(
    app: FastAPI, client: TestClient, keys: Keys
) -> None:
    from dispatch_api.db import sessions
    from dispatch_api.security import Role, create_key

    with sessions(app.state.ctx.engine)() as s:
        _, scoped = create_key(
            s, "d-other", Role.DISPATCHER, pepper=app.state.ctx.pepper, networks=["other"]
        )
        s.commit()
    hook = _hook(client, keys.admin)
    r = client.post(
        "/v1/webhooks",
        json={"network": "tiny", "url": "https://x.example/h"},
        headers=auth(scoped),
    )
    assert r.status_code == 404
    assert client.get("/v1/webhooks", headers=auth(scoped)).json() == []
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=auth(scoped)).status_code == 404
    assert client.delete(f"/v1/webhooks/{hook['id']}", headers=auth(keys.admin)).status_code == 204
    bad = client.post(
        "/v1/webhooks",
        json={"network": "tiny", "url": "ftp://x.example/h"},
        headers=auth(keys.admin),
    )
    assert bad.status_code == 422 and bad.json()["field"] == "body.url"
