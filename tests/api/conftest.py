"""Fixtures of the API tests: a database per session (SQLite always, PostgreSQL too when
``COUNTYROUTE_TEST_DATABASE_URL`` names a server), an app with jobs run inline, keys per role,
and the tiny network imported with its orders and a published plan."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from dispatch_api.app import create_app
from dispatch_api.db import Base, make_engine, migrate, sessions
from dispatch_api.security import Role, create_key
from dispatch_api.settings import Settings

DATA = Path(__file__).parents[1] / "data"
TINY = DATA / "tiny"
DATE = "2026-12-01"
_PG = os.environ.get("COUNTYROUTE_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", *(["postgresql"] if _PG else [])]


def _pg_admin_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh database for this test session: a SQLite file, or a new PostgreSQL database
    (created and dropped here, so runs never interfere)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'api.db'}"
        return
    import psycopg

    base = make_url(_pg_admin_url(_PG))
    name = f"countyroute_test_{uuid.uuid4().hex[:12]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _clean(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f"DELETE FROM {table.name}"))
    engine.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings of one test: an emptied database, jobs run inline, small body limits."""
    _clean(database_url)
    return Settings(
        database_url=database_url,
        job_runner="inline",
        max_upload_bytes=8 << 20,
        webhooks=False,  # tests deliver webhooks themselves (dispatch_api.webhooks.deliver_due)
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.ctx.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client without a key (tests add ``headers=auth(key)``)."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Keys:
    admin: str
    dispatcher: str
    planner: str
    courier: str
    """The courier of tri1 (c-tri1): the tiny plan's only village run."""
    other_courier: str
    """The courier of truck1 (c-truck1): for ``not your route`` checks."""

    def of(self, role: str) -> str:
        return str(getattr(self, role))


def _key(app: FastAPI, role: Role, **kw: Any) -> str:
    with sessions(app.state.ctx.engine)() as s:
        _, plain = create_key(s, f"{role.value}-test", role, pepper=app.state.ctx.pepper, **kw)
        s.commit()
    return plain


def upload_tiny(client: TestClient, key: str, name: str = "tiny") -> httpx.Response:
    files = {
        "network": ("network.geojson", (TINY / "network.geojson").read_bytes()),
        "fleet": ("fleet.csv", (TINY / "fleet.csv").read_bytes()),
        "policy": ("policy.toml", (TINY / "policy.toml").read_bytes()),
    }
    return client.post("/networks/upload", data={"name": name}, files=files, headers=auth(key))


def import_tiny_orders(client: TestClient, key: str, date: str = DATE) -> httpx.Response:
    return client.post(
        f"/networks/tiny/orders?date={date}",
        content=(TINY / "orders.csv").read_bytes(),
        headers={**auth(key), "Content-Type": "text/csv"},
    )


@pytest.fixture
def keys(app: FastAPI, client: TestClient) -> Keys:
    """A key per role; the courier keys belong to the tiny network (imported here)."""
    admin = _key(app, Role.ADMIN)
    assert upload_tiny(client, admin).status_code == 201
    return Keys(
        admin=admin,
        dispatcher=_key(app, Role.DISPATCHER),
        planner=_key(app, Role.PLANNER),
        courier=_key(app, Role.COURIER, network="tiny", courier="c-tri1"),
        other_courier=_key(app, Role.COURIER, network="tiny", courier="c-truck1"),
    )


@pytest.fixture
def tiny_plan(client: TestClient, keys: Keys) -> int:
    """The tiny network's orders for DATE, planned (inline job, 1 s) and published."""
    assert import_tiny_orders(client, keys.dispatcher).status_code == 200
    r = client.post(
        "/networks/tiny/plans",
        json={"date": DATE, "time_limit_s": 1},
        headers=auth(keys.dispatcher),
    )
    assert r.status_code == 202, r.text
    job = client.get(r.headers["Location"], headers=auth(keys.dispatcher)).json()
    assert job["status"] == "succeeded", job
    plan_id = int(job["plan"])
    assert (
        client.post(f"/plans/{plan_id}/publish", headers=auth(keys.dispatcher)).status_code == 200
    )
    return plan_id


# ------------------------------------------------------------------------------ live servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    database_url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    database_url: str, log: Path, *, workers: int = 1, processes: int = 1
) -> LiveServer:
    """``countyroute serve`` in a subprocess on a free loopback port; returns once /health
    answers."""
    port = free_port()
    exe = shutil.which("countyroute", path=str(Path(sys.executable).parent)) or "countyroute"
    env = {**os.environ, "COUNTYROUTE_DATABASE_URL": database_url}
    out = log.open("ab")
    extra = ["--processes", str(processes)] if processes > 1 else []
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port), "--workers", str(workers), *extra],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return LiveServer(url, proc, database_url, log)
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # waiting for a real process to listen: nothing to wait on but time
    proc.kill()
    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")


def admin_key_for(database_url: str) -> str:
    from dispatch_api.server import create_api_key

    return create_api_key("admin-live", "admin", database_url)


__all__ = [
    "DATE",
    "TINY",
    "Keys",
    "LiveServer",
    "admin_key_for",
    "auth",
    "free_port",
    "import_tiny_orders",
    "replace",
    "start_server",
    "upload_tiny",
]
