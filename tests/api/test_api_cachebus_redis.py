"""The cache bus over Redis (``COUNTYROUTE_REDIS_URL``): a change committed by one app
instance makes another instance on the same database forget what it remembered, and a
failed-authentication block reaches every instance. Skipped when no Redis answers."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dispatch_api.app import create_app
from dispatch_api.cachebus import RedisCacheBus, announce
from dispatch_api.settings import Settings

REDIS_URL = os.environ.get("COUNTYROUTE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_answers() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


pytestmark = pytest.mark.skipif(not _redis_answers(), reason=f"no Redis answers at {REDIS_URL}")


@pytest.fixture
def two_apps(settings: Settings) -> Iterator[tuple[FastAPI, FastAPI]]:
    """Two app instances on one database, both on the Redis bus (two processes' worth)."""
    s = replace(settings, redis_url=REDIS_URL)
    first, second = create_app(s), create_app(s)
    with TestClient(first), TestClient(second):
        yield first, second
    for app in (first, second):
        app.state.ctx.engine.dispose()


def _heard(app: FastAPI) -> threading.Event:
    event = threading.Event()
    app.state.ctx.bus.on_change(event.set)
    return event


def test_a_committed_change_reaches_the_other_instance(
    two_apps: tuple[FastAPI, FastAPI],
) -> None:
    first, second = two_apps
    assert isinstance(second.state.ctx.bus, RedisCacheBus)
    second.state.ctx.bus.put(("me", "n", "c"), ("etag", b"body"), second.state.ctx.bus.generation)
    heard = _heard(second)
    with first.state.ctx.sessions() as session:
        announce(session, "plans n 2026-12-01")
        assert not heard.wait(0.3), "published before the commit"
        session.commit()
    assert heard.wait(5), "the other instance never heard the change"
    assert second.state.ctx.bus.get(("me", "n", "c")) is None


def test_a_block_reaches_the_other_instance_and_drops_nothing(
    two_apps: tuple[FastAPI, FastAPI],
) -> None:
    first, second = two_apps
    bus = second.state.ctx.bus
    bus.put(("me", "n", "c"), ("etag", b"body"), bus.generation)
    blocked = threading.Event()
    seen: list[tuple[str, float]] = []
    bus.on_block = lambda client, until: (seen.append((client, until)), blocked.set())
    first.state.ctx.bus.broadcast("block 4102444800.0 203.0.113.9")
    assert blocked.wait(5)
    assert seen == [("203.0.113.9", 4102444800.0)]
    assert bus.get(("me", "n", "c")) == ("etag", b"body")
