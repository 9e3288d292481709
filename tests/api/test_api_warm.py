"""Each process remembers the couriers' keys and published routes before they are asked for
(:mod:`dispatch_api.warm`): a process that has just started, or has just heard that a plan
was published and rendered, answers a courier's first fetch without asking the database —
at 07:00 those first look-ups, made while every courier asked at once, were the burst's
tail. What it remembers stays scoped to each key's network and courier, a revoked key is
not brought back, and a remembered key still has its last use recorded."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from conftest import DATE, Keys, _key, auth, upload_tiny
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from dispatch_api.app import create_app
from dispatch_api.cachebus import WARM
from dispatch_api.db import ApiKey, sessions
from dispatch_api.routers import courier, plans
from dispatch_api.security import Role, hash_key
from dispatch_api.settings import Settings

ROUTE = f"/v1/courier/route?date={DATE}&crs=gcj02"
_BACKGROUND = ("countyroute-touch", "countyroute-warm")
"""Threads whose statements are not a request's (a key's last use written after the
answer; the warmer itself)."""


@contextmanager
def counted(app: FastAPI) -> Iterator[list[str]]:
    """The statements run for requests while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not threading.current_thread().name.startswith(_BACKGROUND):
            seen.append(statement)

    engine = app.state.ctx.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def settled(app: FastAPI) -> bool:
    """The publications' pre-rendering is done, every change announced so far has been heard by this process (on PostgreSQL the
    notifications arrive on the bus's listener thread, in commit order: a ``warm`` sent now
    is heard after them) and every warm-up it asked for has run."""
    ctx = app.state.ctx
    for thread in threading.enumerate():  # a publication's pre-rendering in the background
        if thread.name.startswith("prerender-"):
            thread.join()
    with warm_heard(ctx) as heard:
        ctx.bus.broadcast(WARM)
        assert heard.wait(30), "the cache bus did not hear its own message"
    return bool(ctx.warmer.wait())


@contextmanager
def warm_heard(ctx: Any) -> Iterator[threading.Event]:
    """An event set when this process's cache bus hears a ``warm`` message (and warms as it
    would), while the block runs."""
    heard = threading.Event()
    asked = ctx.bus.on_warm

    def on_warm() -> None:
        asked()
        heard.set()

    ctx.bus.on_warm = on_warm
    try:
        yield heard
    finally:
        ctx.bus.on_warm = asked


@contextmanager
def another_process(settings: Settings) -> Iterator[tuple[FastAPI, TestClient]]:
    """A second app on the same database: a process that has seen no request yet."""
    other = create_app(settings)
    try:
        with TestClient(other, raise_server_exceptions=False) as c:
            yield other, c
    finally:
        other.state.ctx.engine.dispose()


def test_a_process_that_just_started_answers_a_first_fetch_without_the_database(
    app: FastAPI, client: TestClient, settings: Settings, keys: Keys, tiny_plan: int
) -> None:
    courier.prerender(app.state.ctx, tiny_plan)  # what publishing starts in the background
    here = client.get(ROUTE, headers=auth(keys.courier))
    assert here.status_code == 200
    with another_process(settings) as (other, c):
        assert settled(other)
        with counted(other) as statements:
            there = c.get(ROUTE, headers=auth(keys.courier))
            assert c.get(ROUTE, headers=auth(keys.other_courier)).status_code == 200
        assert there.status_code == 200
        assert there.content == here.content and there.headers["etag"] == here.headers["etag"]
        assert statements == []


def test_a_published_plan_is_remembered_once_its_documents_are_rendered(
    app: FastAPI,
    client: TestClient,
    keys: Keys,
    tiny_plan: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Publishing makes every process forget and warm at once, before the publishing process
    has rendered the new plan's documents; when it has, it says ``warm`` on the bus and every
    process remembers them."""
    ctx = app.state.ctx
    ident = ("me", "tiny", "c-tri1", DATE, "gcj02")
    assert settled(app)
    assert ctx.bus.resolved[ident][1] == client.get(ROUTE, headers=auth(keys.courier)).content
    rendering: list[int] = []  # the publication's pre-rendering, run below instead
    monkeypatch.setattr(plans, "prerender_in_background", lambda _ctx, pid: rendering.append(pid))
    r = client.post(
        "/v1/networks/tiny/plans", json={"date": DATE, "time_limit_s": 1}, headers=auth(keys.admin)
    )
    job = client.get(r.headers["Location"], headers=auth(keys.admin)).json()
    new_plan = int(job["plan"])
    assert client.post(f"/v1/plans/{new_plan}/publish", headers=auth(keys.admin)).status_code == 200
    assert rendering == [new_plan]
    assert settled(app)  # the publication heard, warmed: nothing rendered for it yet
    assert ident not in ctx.bus.resolved
    with warm_heard(ctx) as heard:
        assert courier.prerender(ctx, new_plan) > 0
        assert heard.wait(30), "pre-rendering did not ask the processes to warm"
    assert ctx.warmer.wait()
    assert ident in ctx.bus.resolved
    with counted(app) as statements:
        r = client.get(ROUTE, headers=auth(keys.courier))
    assert r.status_code == 200 and r.json()["plan"] == new_plan
    assert statements == []


def test_remembered_routes_stay_with_their_own_network(
    app: FastAPI, client: TestClient, settings: Settings, keys: Keys, tiny_plan: int
) -> None:
    """A second network with the same courier ids and no published plan: its courier gets
    the app's 404, never the first network's route remembered under the same courier id."""
    assert upload_tiny(client, keys.admin, name="tiny2").status_code == 201
    twin = _key(app, Role.COURIER, network="tiny2", courier="c-tri1")
    courier.prerender(app.state.ctx, tiny_plan)
    with another_process(settings) as (other, c):
        assert settled(other)
        warmed = dict(other.state.ctx.bus.resolved)  # before any request
        mine = c.get(ROUTE, headers=auth(keys.courier))
        theirs = c.get(ROUTE, headers=auth(twin))
    assert mine.status_code == 200 and mine.json()["plan"] == tiny_plan
    assert theirs.status_code == 404, theirs.text
    assert theirs.json()["field"] == "date"  # no published plan for tiny2 on that date
    assert ("me", "tiny", "c-tri1", DATE, "gcj02") in warmed
    assert not any(ident[1] == "tiny2" for ident in warmed if ident[0] == "me")


def test_a_revoked_key_is_not_remembered_again(
    app: FastAPI, client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    ctx = app.state.ctx
    courier.prerender(ctx, tiny_plan)
    assert settled(app)
    assert client.get(ROUTE, headers=auth(keys.courier)).status_code == 200
    with sessions(ctx.engine)() as s:
        key_id = s.scalar(
            select(ApiKey.id).where(ApiKey.hash == hash_key(keys.courier, ctx.pepper))
        )
    assert client.delete(f"/v1/keys/{key_id}", headers=auth(keys.admin)).status_code == 204
    assert settled(app)
    assert client.get(ROUTE, headers=auth(keys.courier)).status_code == 401
    ctx.warmer.ask()  # a refresh, as every 30 s
    assert settled(app)
    assert client.get(ROUTE, headers=auth(keys.courier)).status_code == 401
    assert client.get(ROUTE, headers=auth(keys.other_courier)).status_code == 200


def test_a_remembered_key_has_its_last_use_recorded(
    app: FastAPI, client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    ctx = app.state.ctx
    courier.prerender(ctx, tiny_plan)
    assert settled(app)
    digest = hash_key(keys.other_courier, ctx.pepper)
    assert digest in ctx.keys  # remembered before it was ever used

    def last_used() -> str | None:
        with sessions(ctx.engine)() as s:
            at: str | None = s.scalar(select(ApiKey.last_used_at).where(ApiKey.hash == digest))
            return at

    assert last_used() is None
    with counted(app) as statements:
        assert client.get(ROUTE, headers=auth(keys.other_courier)).status_code == 200
    assert statements == []  # answered from memory
    ctx.touches_done()
    assert last_used() is not None
