"""State every API process shares: failed-authentication throttling is one count for every
process (an address that failed too often on one app instance gets 429 from another instance
on the same database; PostgreSQL's LISTEN/NOTIFY, or Redis when a URL is given, carries the
block), and a console session made by one instance is known to every other."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from conftest import auth
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from test_api_cachebus_redis import REDIS_URL, _redis_answers

from dispatch_api.app import create_app
from dispatch_api.console.router import COOKIE
from dispatch_api.security import Role, create_key
from dispatch_api.settings import Settings
from dispatch_api.throttle import AuthThrottle, database_counter


def test_a_window_counts_failures_and_blocks_until_it_ends() -> None:
    now = [1000.0]
    throttle = AuthThrottle(3, 60.0, clock=lambda: now[0])
    for _ in range(2):
        throttle.failed("a")
    assert throttle.retry_after("a") is None
    throttle.failed("a")
    assert throttle.retry_after("a") == 60
    assert throttle.retry_after("b") is None  # per address
    now[0] = 1059.5
    assert throttle.retry_after("a") == 1
    now[0] = 1060.0
    assert throttle.retry_after("a") is None
    throttle.failed("a")  # a new window starts
    assert throttle.retry_after("a") is None


def _two_apps(settings: Settings) -> Iterator[tuple[FastAPI, FastAPI, TestClient, TestClient]]:
    first, second = create_app(settings), create_app(settings)
    with TestClient(first) as a, TestClient(second) as b:
        yield first, second, a, b
    for app in (first, second):
        app.state.ctx.engine.dispose()


@pytest.fixture(params=["database", "redis"])
def two_instances(
    request: pytest.FixtureRequest, settings: Settings
) -> Iterator[tuple[FastAPI, FastAPI, TestClient, TestClient]]:
    """Two app instances on one database, telling each other through PostgreSQL or Redis."""
    if request.param == "redis":
        if not _redis_answers():
            pytest.skip(f"no Redis answers at {REDIS_URL}")
        import redis

        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter("countyroute:auth-failures:*"):  # an earlier test's count
            r.delete(key)
        settings = replace(settings, redis_url=REDIS_URL)
    elif not settings.database_url.startswith("postgresql"):
        pytest.skip("one SQLite database is served by one process (no bus between processes)")
    yield from _two_apps(replace(settings, auth_failures_per_minute=3))


def test_an_address_blocked_on_one_instance_is_blocked_on_the_other(
    two_instances: tuple[FastAPI, FastAPI, TestClient, TestClient],
) -> None:
    _first, second, a, b = two_instances
    heard = threading.Event()
    block = second.state.ctx.throttle.block

    def hear(client: str, until: float) -> None:
        block(client, until)
        heard.set()

    second.state.ctx.bus.on_block = hear
    for _ in range(3):
        assert a.get("/v1/networks", headers=auth("cr_wrong")).status_code == 401
    assert a.get("/v1/networks", headers=auth("cr_wrong")).status_code == 429
    assert heard.wait(5), "the other instance never heard of the block"
    r = b.get("/v1/networks", headers=auth("cr_wrong"))
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60


def test_failures_on_two_instances_add_up(
    two_instances: tuple[FastAPI, FastAPI, TestClient, TestClient],
) -> None:
    first, _second, a, b = two_instances
    heard = threading.Event()
    block = first.state.ctx.throttle.block

    def hear(client: str, until: float) -> None:
        block(client, until)
        heard.set()

    first.state.ctx.bus.on_block = hear
    assert a.get("/v1/networks", headers=auth("cr_wrong")).status_code == 401
    assert b.get("/v1/networks", headers=auth("cr_wrong")).status_code == 401
    assert a.get("/v1/networks", headers=auth("cr_wrong")).status_code == 401
    assert heard.wait(5)
    assert a.get("/v1/networks", headers=auth("cr_wrong")).status_code == 429


def test_a_failure_deletes_the_rows_of_windows_that_have_ended(app: FastAPI) -> None:
    engine = app.state.ctx.engine
    count = database_counter(engine)
    now = 1_800_000_000.0
    count("198.51.100.7", now - 3600, 60)  # an hour ago: its window has ended
    count("198.51.100.8", now - 61, 60)  # ended a second ago
    count("198.51.100.9", now - 30, 60)  # still open
    count("198.51.100.9", now - 20, 60)
    assert count("203.0.113.5", now, 60) == (1, now + 60)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT client, failures FROM auth_failures")).all())
    assert rows == {"198.51.100.9": 2, "203.0.113.5": 1}


def test_a_console_session_is_known_to_every_instance(settings: Settings) -> None:
    for first, _second, a, b in _two_apps(settings):
        ctx = first.state.ctx
        with ctx.sessions() as s:
            _, plain = create_key(s, "d", Role.DISPATCHER, pepper=ctx.pepper)
            s.commit()
        r = a.post("/console/session", json={"key": plain})
        assert r.status_code == 200, r.text
        b.cookies.set(COOKIE, a.cookies[COOKIE])
        assert b.get("/console/session").json()["role"] == "dispatcher"
        assert b.get("/v1/networks").status_code == 200  # the session stands in for the key
        csrf = r.json()["csrf"]
        assert b.delete("/console/session", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert a.get("/console/session").status_code == 401  # signed out everywhere
        assert a.get("/v1/networks").status_code == 401
