"""More than one API process on one database: jobs claimed with ``FOR UPDATE SKIP LOCKED``,
recovery that leaves live processes' jobs alone, and ``serve --processes 2`` on PostgreSQL
serving every route fresh whichever process answers."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import DATE, TINY, admin_key_for, start_server
from sqlalchemy import select, text, update

from dispatch_api.db import Job, make_engine, migrate, now_iso, sessions
from dispatch_api.jobs import claim_next, recover_jobs

PG = os.environ.get("COUNTYROUTE_TEST_DATABASE_URL", "")


def _queue(database_url: str, n: int) -> list[str]:
    engine = make_engine(database_url)
    ids = [f"{k:02d}-{uuid.uuid4().hex[:8]}" for k in range(n)]
    with sessions(engine)() as s:
        for k, job_id in enumerate(ids):
            s.add(
                Job(
                    id=job_id,
                    kind="plan",
                    network="tiny",
                    date=DATE,
                    params="{}",
                    status="queued",
                    stage="queued",
                    attempt=0,
                    created_by="test",
                    created_at=f"2026-12-01T00:00:0{k}",
                )
            )
        s.commit()
    engine.dispose()
    return ids


@pytest.mark.skipif(not PG, reason="needs COUNTYROUTE_TEST_DATABASE_URL (PostgreSQL)")
def test_a_locked_job_is_skipped_not_waited_for(database_url: str, settings: object) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED is PostgreSQL's")
    first, second = _queue(database_url, 2)
    engine = make_engine(database_url)
    holder = engine.connect()
    tx = holder.begin()
    holder.execute(  # another process is claiming the first job right now
        select(Job.id).where(Job.id == first).with_for_update()
    )
    got: list[list[tuple[str, int]]] = []
    t = threading.Thread(target=lambda: got.append(claim_next(engine, 1, "b:1")))
    t.start()
    t.join(timeout=10)
    assert not t.is_alive(), "claim_next waited for the lock"
    assert got == [[(second, 1)]]
    tx.rollback()
    holder.close()
    assert claim_next(engine, 5, "c:1") == [(first, 1)]
    engine.dispose()


def test_recovery_leaves_live_owners_jobs_alone(database_url: str, settings: object) -> None:
    ids = _queue(database_url, 4)
    engine = make_engine(database_url)
    host = socket.gethostname()
    fresh = now_iso()
    owners = {
        ids[0]: (f"{host}:{os.getpid()}", fresh),  # this process, alive: kept
        ids[1]: (f"{host}:999999999", fresh),  # a process of this host that is gone
        ids[2]: ("elsewhere:1", "2000-01-01T00:00:00+00:00"),  # another host, stale heartbeat
        ids[3]: ("elsewhere:2", fresh),  # another host, beating: kept
    }
    with engine.begin() as conn:
        for job_id, (owner, beat) in owners.items():
            conn.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status="running", attempt=1, owner=owner, heartbeat_at=beat)
            )
    assert recover_jobs(engine, 2, stale_s=60) == (2, 0)
    with engine.connect() as conn:
        status = dict(conn.execute(select(Job.id, Job.status)).all())
    assert [status[i] for i in ids] == ["running", "queued", "queued", "running"]
    engine.dispose()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database (created and dropped here)."""
    if not PG:
        pytest.skip("needs COUNTYROUTE_TEST_DATABASE_URL (PostgreSQL)")
    import psycopg

    admin = PG.replace("postgresql+psycopg://", "postgresql://")
    name = f"countyroute_mp_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{admin.rpartition('/')[0]}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_two_processes_share_jobs_and_never_serve_a_stale_route(
    pg_database: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_database)
    migrate(engine)
    engine.dispose()
    key = admin_key_for(pg_database)
    server = start_server(pg_database, tmp_path / "server.log", processes=2)
    try:
        h = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=h, timeout=120) as c:
            files = {
                "network": ("network.geojson", (TINY / "network.geojson").read_bytes()),
                "fleet": ("fleet.csv", (TINY / "fleet.csv").read_bytes()),
                "policy": ("policy.toml", (TINY / "policy.toml").read_bytes()),
            }
            c.post("/v1/networks/upload", data={"name": "tiny"}, files=files).raise_for_status()
            c.post(
                f"/v1/networks/tiny/orders?date={DATE}",
                content=(TINY / "orders.csv").read_bytes(),
                headers={"Content-Type": "text/csv"},
            ).raise_for_status()
            body = {"date": DATE, "time_limit_s": 1, "solution_limit": 50}
            jobs = [c.post("/v1/networks/tiny/plans", json=body).json()["id"] for _ in range(4)]
            done = [c.get(f"/v1/jobs/{j}?wait=60").json() for j in jobs]
            assert [d["status"] for d in done] == ["succeeded"] * 4, done
            assert [d["attempt"] for d in done] == [1] * 4  # each claimed exactly once
            plans = c.get("/v1/plans").json()
            assert sorted(p["id"] for p in plans) == sorted(d["plan"] for d in done)
            plan = done[0]["plan"]
            c.post(f"/v1/plans/{plan}/publish").raise_for_status()
            courier = c.post(
                "/v1/keys",
                json={"name": "tri", "role": "courier", "network": "tiny", "courier": "c-tri1"},
            ).json()["key"]
            route = f"/v1/courier/route?date={DATE}"
            ch = {"Authorization": f"Bearer {courier}"}
            before = {c.get(route, headers=ch).headers["ETag"] for _ in range(12)}
            assert len(before) == 1  # every process renders the same document
            # reassign on whichever process; then no process may answer the old document
            c.put("/v1/networks/tiny/couriers/c-van2", json={"vehicle": "tri1"}).raise_for_status()
            c.put("/v1/networks/tiny/couriers/c-tri1", json={"vehicle": "tri1"}).raise_for_status()
            c.put("/v1/networks/tiny/couriers/c-van2", json={"vehicle": "van2"}).raise_for_status()
            c.put("/v1/networks/tiny/couriers/c-tri1", json={"vehicle": None}).raise_for_status()
            c.put("/v1/networks/tiny/couriers/c-tri1", json={"vehicle": "tri1"}).raise_for_status()
            after = [
                c.get(route, headers={**ch, "If-None-Match": next(iter(before))}).status_code
                for _ in range(12)
            ]
            assert set(after) == {304}  # the same courier drives again: the same document
            lines = (
                (TINY / "orders.csv")
                .read_text()
                .replace("o01,yto,down,v1,2.5,0.01,1", "o01,yto,down,v1,2.5,0.01,4")
            )
            c.post(
                f"/v1/networks/tiny/orders?date={DATE}",
                content=lines.encode(),
                headers={"Content-Type": "text/csv"},
            ).raise_for_status()
            fresh = [
                c.get(route, headers={**ch, "If-None-Match": next(iter(before))}).status_code
                for _ in range(12)
            ]
            assert set(fresh) == {200}  # re-imported orders: no process answers 304 any more
        owners = make_engine(pg_database)
        with owners.connect() as conn:
            seen = conn.execute(text("SELECT DISTINCT owner FROM jobs")).scalars().all()
        owners.dispose()
        assert all(o and ":" in o for o in seen)
    finally:
        server.stop()


def _listening(port: int) -> set[str]:
    """Inodes of the sockets listening on ``port`` (``/proc/net/tcp``, state 0A)."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                out.add(f[9])
    return out


def _sockets_of(pid: int) -> set[str]:
    """Inodes of the sockets a process holds open."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            held.add(target[8:-1])
    return held


def _api_processes(parent: int, port: int) -> dict[int, set[str]]:
    """The server's child processes that serve ``port``, with the listening sockets each holds."""
    listening = _listening(port)
    out = {}
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        try:
            mine = _sockets_of(int(child)) & listening
        except OSError:  # gone meanwhile
            continue
        if mine:
            out[int(child)] = mine
    return out


def _both_up(parent: int, port: int) -> dict[int, set[str]]:
    """:func:`_api_processes` once both API processes listen (the first answered /health
    already), or as found after a minute."""
    import time

    owners: dict[int, set[str]] = {}
    for _ in range(300):
        owners = _api_processes(parent, port)
        if len(owners) == 2:
            break
        time.sleep(0.2)
    return owners


@pytest.mark.slow
def test_each_api_process_listens_on_its_own_socket_and_its_replacement_takes_it_over(
    pg_database: str, tmp_path: Path
) -> None:
    """``serve --processes N``: N sockets on one port (``SO_REUSEPORT``), so the kernel spreads
    the connections evenly; a process that dies is replaced on the same socket, and the
    connections the kernel queued there meanwhile are served."""
    import signal
    import time

    engine = make_engine(pg_database)
    migrate(engine)
    engine.dispose()
    server = start_server(pg_database, tmp_path / "server.log", processes=2)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        owners = _both_up(server.process.pid, port)
        socks = list(owners.values())
        assert len(socks) == 2 and all(len(s) == 1 for s in socks) and socks[0] != socks[1]
        victim, its_socket = next(iter(owners.items()))
        os.kill(victim, signal.SIGKILL)
        answers = [httpx.get(f"{server.url}/health", timeout=120).status_code for _ in range(16)]
        assert answers == [200] * 16  # new connections each, to either socket
        for _ in range(300):
            owners = _api_processes(server.process.pid, port)
            if len(owners) == 2 and victim not in owners:
                break
            time.sleep(0.2)
        assert victim not in owners and its_socket in owners.values()
    finally:
        server.stop()


@pytest.mark.slow
def test_a_restart_brings_each_replacement_up_before_retiring_its_predecessor(
    pg_database: str, tmp_path: Path
) -> None:
    """SIGHUP replaces every process, each on its predecessor's socket; at no moment is a
    socket left without a process (killed first, a socket's queue waits for the
    replacement's start), and the connections made meanwhile are all served."""
    import signal
    import threading
    import time

    engine = make_engine(pg_database)
    migrate(engine)
    engine.dispose()
    server = start_server(pg_database, tmp_path / "server.log", processes=2)
    port = int(server.url.rsplit(":", 1)[1])
    try:
        owners = _both_up(server.process.pid, port)
        sockets = set().union(*owners.values())
        first = set(owners)
        assert len(sockets) == 2
        answers: list[int] = []
        failures: list[str] = []
        stop = threading.Event()

        def call() -> None:
            while not stop.is_set():
                try:
                    answers.append(httpx.get(f"{server.url}/health", timeout=120).status_code)
                except httpx.HTTPError as exc:  # a connection dropped unanswered
                    failures.append(repr(exc))

        caller = threading.Thread(target=call)
        caller.start()
        os.kill(server.process.pid, signal.SIGHUP)
        orphaned = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            owners = _api_processes(server.process.pid, port)
            held = set().union(*owners.values()) if owners else set()
            orphaned += len(sockets - held)
            if owners and not (set(owners) & first) and held == sockets:
                break
            time.sleep(0.02)
        stop.set()
        caller.join()
        assert not (set(owners) & first), "the processes were not replaced"
        assert orphaned == 0  # every socket held by a process throughout
        assert not failures, failures  # every connection answered
        assert answers and set(answers) == {200}
    finally:
        server.stop()
