"""Against a real uvicorn process (``countyroute serve``) and a real database: the whole day
of the built-in county, idempotency under concurrent retries, and a server killed mid-solve.

These poll job status over HTTP because a separate server process runs the jobs; that is the
one place the suite waits on time."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import DATE, TINY, LiveServer, admin_key_for, auth, start_server

from dispatch_api.jobs import repair_function
from dispatch_api.settings import Settings
from scenarios.bundle import load_bundle, orders_to_csv
from scenarios.demand import generate_demand

DAY = "2026-12-01"


@pytest.fixture
def live(settings: Settings, tmp_path: Path) -> Iterator[LiveServer]:
    """``countyroute serve`` on an emptied database (SQLite file or PostgreSQL)."""
    server = start_server(settings.database_url, tmp_path / "server.log")
    yield server
    server.stop()


def wait_job(http: httpx.Client, url: str, key: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = http.get(url, headers=auth(key)).json()
        if job["status"] in ("succeeded", "failed"):
            return dict(job)
        time.sleep(0.2)
    raise AssertionError(f"job {url} still {job['status']} after {timeout_s} s")


def test_a_day_of_the_builtin_county_end_to_end(live: LiveServer) -> None:
    admin = admin_key_for(live.database_url)
    http = httpx.Client(base_url=live.url, timeout=60)
    h = auth(admin)
    assert http.post("/networks", json={"builtin": "yanshi"}, headers=h).status_code == 201
    sc = load_bundle("yanshi")
    orders = generate_demand(sc, DAY, 7)
    r = http.post(
        f"/networks/yanshi/orders?date={DAY}",
        content=orders_to_csv(orders).encode(),
        headers={**h, "Content-Type": "text/csv"},
    )
    assert r.status_code == 200 and r.json()["created"] == len(orders), r.text

    r = http.post("/networks/yanshi/plans", json={"date": DAY, "time_limit_s": 2}, headers=h)
    assert r.status_code == 202
    job = wait_job(http, r.headers["Location"], admin)
    assert job["status"] == "succeeded", job
    plan_id = job["plan"]
    plan = http.get(f"/plans/{plan_id}", headers=h).json()
    assert plan["kpis"]["parcels"] > 0
    assert http.post(f"/plans/{plan_id}/publish", headers=h).status_code == 200

    route = next(
        x for x in plan["plan"]["routes"] if x["tier"] == "last_mile" and len(x["stops"]) > 3
    )
    vehicle = route["vehicle"]
    courier_key = http.post(
        "/keys",
        json={"name": "courier", "role": "courier", "network": "yanshi", "courier": f"c-{vehicle}"},
        headers=h,
    ).json()["key"]
    ch = auth(courier_key)
    mine = http.get(f"/courier/route?date={DAY}&crs=gcj02", headers=ch)
    assert mine.status_code == 200 and mine.json()["vehicle"]["id"] == vehicle
    assert (
        http.get(
            f"/courier/route?date={DAY}&crs=gcj02",
            headers={**ch, "If-None-Match": mine.headers["ETag"]},
        ).status_code
        == 304
    )

    label = f"last_mile:{vehicle}"
    visits = [i for i, s in enumerate(route["stops"]) if s["kind"] == "visit"]
    events = [
        {
            "id": f"ev-{i}",
            "route": label,
            "stop": i,
            "type": "delivered" if route["stops"][i]["drop"] else "arrived",
            "at": f"{DAY}T{9 + k // 6:02d}:{(k * 10) % 60:02d}:00+08:00",
        }
        for k, i in enumerate(visits[:2])
    ]
    # a courier's phone retries the same batch from several threads at once
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda _: http.post(
                    f"/plans/{plan_id}/events", json={"events": events}, headers=ch
                ),
                range(8),
            )
        )
    assert all(a.status_code == 200 for a in answers)
    assert sum(a.json()["stored"] for a in answers) == len(events)
    progress = http.get(f"/plans/{plan_id}/progress", headers=h).json()
    row = next(x for x in progress["routes"] if x["route"] == label)
    assert row["stops_done"] >= 1

    down = [{"type": "vehicle_down", "vehicle": vehicle, "at": "11:20"}]
    r = http.post(f"/plans/{plan_id}/repair", json={"events": down, "time_limit_s": 2}, headers=h)
    if repair_function() is None:
        assert r.status_code == 501
        return
    assert r.status_code == 202
    job = wait_job(http, r.headers["Location"], admin)
    assert job["status"] == "succeeded", job
    assert http.post(f"/plans/{job['plan']}/publish", headers=h).status_code == 200
    again = http.get(
        f"/courier/route?date={DAY}", headers={**ch, "If-None-Match": mine.headers["ETag"]}
    )
    assert again.status_code in (200, 404)  # a new version (or no route left for a broken van)


def test_concurrent_retries_of_one_event_store_it_once(live: LiveServer) -> None:

    admin = admin_key_for(live.database_url)
    http = httpx.Client(base_url=live.url, timeout=60)
    h = auth(admin)
    files = {
        n: (f, (TINY / f).read_bytes())
        for n, f in (
            ("network", "network.geojson"),
            ("fleet", "fleet.csv"),
            ("policy", "policy.toml"),
        )
    }
    assert (
        http.post("/networks/upload", data={"name": "tiny"}, files=files, headers=h).status_code
        == 201
    )
    http.post(
        f"/networks/tiny/orders?date={DATE}",
        content=(TINY / "orders.csv").read_bytes(),
        headers={**h, "Content-Type": "text/csv"},
    )
    job = wait_job(
        http,
        http.post(
            "/networks/tiny/plans", json={"date": DATE, "time_limit_s": 1}, headers=h
        ).headers["Location"],
        admin,
    )
    plan_id = job["plan"]
    http.post(f"/plans/{plan_id}/publish", headers=h)
    body = {"route": "last_mile:tri1", "stop": 1, "type": "arrived", "at": f"{DATE}T09:00:00+08:00"}

    def put(_: int) -> int:
        with httpx.Client(base_url=live.url, timeout=60) as c:
            return c.put(f"/plans/{plan_id}/events/same-id", json=body, headers=h).status_code

    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(put, range(32)))
    assert sorted(set(codes)) == [200, 201] and codes.count(201) == 1


def test_a_server_killed_mid_solve_comes_back_with_the_job_done(
    settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    server = start_server(settings.database_url, log)
    admin = admin_key_for(settings.database_url)
    h = auth(admin)
    http = httpx.Client(base_url=server.url, timeout=60)
    http.post("/networks", json={"builtin": "yanshi"}, headers=h)
    orders = generate_demand(load_bundle("yanshi"), DAY, 3)
    http.post(
        f"/networks/yanshi/orders?date={DAY}",
        content=orders_to_csv(orders).encode(),
        headers={**h, "Content-Type": "text/csv"},
    )
    r = http.post("/networks/yanshi/plans", json={"date": DAY, "time_limit_s": 4}, headers=h)
    job_url = r.headers["Location"]
    deadline = time.monotonic() + 60
    while http.get(job_url, headers=h).json()["stage"] != "solving":
        assert time.monotonic() < deadline, "the job never started solving"
        time.sleep(0.1)
    os.kill(server.process.pid, signal.SIGKILL)  # no shutdown hooks: as if the power went
    server.process.wait()
    server = start_server(settings.database_url, log)
    try:
        http = httpx.Client(base_url=server.url, timeout=60)
        job = wait_job(http, job_url, admin)
        assert job["status"] == "succeeded", job
        assert job["attempt"] == 2  # re-queued once, then finished by a new worker
        plans = http.get("/plans?network=yanshi", headers=h).json()
        assert [p["id"] for p in plans] == [job["plan"]]  # exactly one plan, nothing half-written
    finally:
        server.stop()


def _job_workers(server_pid: int) -> set[int]:
    """Live job worker processes of a server: its children started by multiprocessing's
    ``spawn`` (a killed and reaped worker is no longer listed)."""
    workers = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == server_pid and state != "Z" and b"spawn_main" in cmdline:
            workers.add(int(proc.name))
    return workers


def test_cancelling_a_running_plan_job_stops_its_worker(live: LiveServer) -> None:
    admin = admin_key_for(live.database_url)
    h = auth(admin)
    http = httpx.Client(base_url=live.url, timeout=60)
    http.post("/networks", json={"builtin": "yanshi"}, headers=h)
    orders = generate_demand(load_bundle("yanshi"), DAY, 3)
    http.post(
        f"/networks/yanshi/orders?date={DAY}",
        content=orders_to_csv(orders).encode(),
        headers={**h, "Content-Type": "text/csv"},
    )
    # a search that would run for minutes: only a kill ends it within this test
    r = http.post("/networks/yanshi/plans", json={"date": DAY, "time_limit_s": 300}, headers=h)
    job_url = r.headers["Location"]
    deadline = time.monotonic() + 60
    while http.get(job_url, headers=h).json()["stage"] != "solving":
        assert time.monotonic() < deadline, "the job never started solving"
        time.sleep(0.1)
    workers = _job_workers(live.process.pid)
    assert len(workers) == 1, workers

    r = http.post(f"{job_url}/cancel", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    deadline = time.monotonic() + 30  # generous: the server checks twice a second
    while _job_workers(live.process.pid):
        assert time.monotonic() < deadline, "the cancelled job's worker still runs"
        time.sleep(0.1)
    job = http.get(job_url, headers=h).json()
    assert job["status"] == "cancelled" and job["error"].startswith("cancelled by"), job
    assert job["plan"] is None
    assert http.get("/plans?network=yanshi", headers=h).json() == []  # nothing written
    assert http.post(f"{job_url}/cancel", headers=h).status_code == 409
    # the worker's slot is free again (one worker in all): the next job is claimed at once
    r = http.post("/networks/yanshi/plans", json={"date": DAY, "time_limit_s": 300}, headers=h)
    deadline = time.monotonic() + 30
    while http.get(r.headers["Location"], headers=h).json()["status"] != "running":
        assert time.monotonic() < deadline, "the next job was never claimed"
        time.sleep(0.1)
    assert http.post(f"{r.headers['Location']}/cancel", headers=h).json()["status"] == "cancelled"
