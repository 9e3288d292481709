"""The dispatch API at county scale, with a real server: ``countyroute serve --processes N``
on PostgreSQL (or one process on SQLite), the built-in county planned and published, a
courier key per vehicle with a route; the load comes from ``benchmarks/api_load.py`` in a
process of its own. ``benchmarks/bench_api.py`` drives it; ``python benchmarks/api_scale.py
[--processes 4] [--database-url URL]`` runs every workload once and prints the results.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from scenarios.bundle import load_bundle, orders_to_csv
from scenarios.demand import generate_demand

DAY = "2026-12-01"
HERE = Path(__file__).parent


def _api_test_support() -> ModuleType:
    path = HERE.parent / "tests" / "api" / "conftest.py"
    name = "api_test_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    import psycopg

    admin = admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"countyroute_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def county_day(database_url: str, processes: int, folder: Path) -> Iterator[dict[str, Any]]:
    """A server with yanshi planned (3 s) and published for DAY; yields the load config."""
    api = _api_test_support()
    if database_url.startswith("postgresql"):
        from dispatch_api.db import make_engine, migrate

        engine = make_engine(database_url)
        migrate(engine)
        engine.dispose()
    admin = api.admin_key_for(database_url)
    server = api.start_server(database_url, folder / "server.log", processes=processes)
    try:
        h = {"Authorization": f"Bearer {admin}"}
        with httpx.Client(base_url=server.url, headers=h, timeout=300) as c:
            c.post("/v1/networks", json={"builtin": "yanshi"}).raise_for_status()
            orders = generate_demand(load_bundle("yanshi"), DAY, 7)
            c.post(
                f"/v1/networks/yanshi/orders?date={DAY}",
                content=orders_to_csv(orders).encode(),
                headers={"Content-Type": "text/csv"},
            ).raise_for_status()
            job = c.post("/v1/networks/yanshi/plans", json={"date": DAY, "time_limit_s": 3}).json()
            done = c.get(f"/v1/jobs/{job['id']}?wait=60").json()
            while done["status"] in ("queued", "running"):
                done = c.get(f"/v1/jobs/{job['id']}?wait=60").json()
            assert done["status"] == "succeeded", done
            plan_id = done["plan"]
            c.post(f"/v1/plans/{plan_id}/publish").raise_for_status()
            plan = c.get(f"/v1/plans/{plan_id}").json()["plan"]
            vehicles = len({r["vehicle"] for r in plan["routes"]})
            drivers = {x["vehicle"]: x["id"] for x in c.get("/v1/networks/yanshi/couriers").json()}
            couriers = []
            for r in plan["routes"]:
                visits = [i for i, s in enumerate(r["stops"]) if s["kind"] == "visit"]
                if r["vehicle"] not in drivers or not visits:
                    continue
                if any(x["route"].endswith(":" + r["vehicle"]) for x in couriers):
                    continue
                key = c.post(
                    "/v1/keys",
                    json={
                        "name": f"bench {r['vehicle']}",
                        "role": "courier",
                        "network": "yanshi",
                        "courier": drivers[r["vehicle"]],
                    },
                ).json()["key"]
                label = f"{r['tier']}:{r['vehicle']}"
                couriers.append({"key": key, "route": label, "stops": visits, "plan": plan_id})
        yield {
            "url": server.url,
            "date": DAY,
            "couriers": couriers,
            "database_url": database_url,
            "processes": processes,
            "admin": admin,
            "vehicles": vehicles,
            "server_pid": server.process.pid,
        }
    finally:
        server.stop()


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server process and its descendants
    (Linux ``/proc``; PostgreSQL's own processes are not among them). On a shared machine
    the server's CPU per request says more than its latency, which waits for other work."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stats.get(p, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == p]
    return total


def run_load(cfg: dict[str, Any], mode: str, **params: Any) -> dict[str, Any]:
    """``api_load.py`` in its own process; its JSON result, with the CPU per request (or per
    event: ingest) of the server and of the load generator, and the load average when it
    ended."""
    cpu0 = server_cpu_s(cfg["server_pid"])
    gen0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({**cfg, **params}, f)
    out = subprocess.run(
        [sys.executable, str(HERE / "api_load.py"), f.name, mode],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    Path(f.name).unlink()
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    cpu_ms = (server_cpu_s(cfg["server_pid"]) - cpu0) * 1000
    done = result.get("events") or result.get("requests")
    if done is None:  # mixed: PUTs and fetches
        done = result["put"]["requests"] + result["get"]["requests"]
    gen1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    gen_ms = (gen1.ru_utime + gen1.ru_stime - gen0.ru_utime - gen0.ru_stime) * 1000
    result["server_cpu_ms_per_item"] = round(cpu_ms / max(1, int(done)), 3)
    result["load_generator_cpu_ms_per_item"] = round(gen_ms / max(1, int(done)), 3)
    result["load_average_1min"] = os.getloadavg()[0]
    return result


def prerendered(cfg: dict[str, Any]) -> tuple[int, float]:
    """Wait (at most 2 minutes) until the publishing process has pre-rendered every route
    document into the shared table; the documents stored and the seconds waited."""
    from sqlalchemy import func, select

    from dispatch_api.db import RouteDoc, make_engine

    engine = make_engine(cfg["database_url"])
    expected = 2 * cfg["vehicles"]
    waited = time.perf_counter()
    count = 0
    while time.perf_counter() - waited < 120:
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(RouteDoc)).scalar_one()
        if count >= expected:
            break
        time.sleep(0.5)
    engine.dispose()
    return count, time.perf_counter() - waited


def cold_fetch_ms(cfg: dict[str, Any]) -> dict[str, Any]:
    """Every courier's first route fetch after the plan was published (pre-rendered into the
    shared table by the publishing process; the answering process has seen none of it),
    one request at a time, after the pre-rendering is done (ms)."""
    count, waited_s = prerendered(cfg)
    first: list[float] = []
    with httpx.Client(base_url=cfg["url"], timeout=60) as c:
        for courier in cfg["couriers"]:
            h = {"Authorization": f"Bearer {courier['key']}"}
            t0 = time.perf_counter()
            c.get(f"/v1/courier/route?date={cfg['date']}&crs=gcj02", headers=h).raise_for_status()
            first.append(time.perf_counter() - t0)
    first.sort()
    return {
        "documents_prerendered": count,
        "prerender_wait_s": round(waited_s, 1),
        "first_fetch_p50_ms": round(first[len(first) // 2] * 1000, 1),
        "first_fetch_p95_ms": round(first[int(0.95 * (len(first) - 1))] * 1000, 1),
        "first_fetch_max_ms": round(first[-1] * 1000, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True, help="postgresql://… (a server to use)")
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--only", nargs="*", default=["cold", "burst", "steady", "mixed", "ingest"])
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="countyroute-scale-"))
    with (
        postgres_database(args.database_url) as url,
        county_day(url, args.processes, folder) as cfg,
    ):
        print(f"{len(cfg['couriers'])} couriers; server log {folder / 'server.log'}", flush=True)
        if "cold" in args.only:
            print("cold", json.dumps(cold_fetch_ms(cfg)), flush=True)
        if "burst" in args.only:
            if "cold" not in args.only:  # the 07:00 start comes after the pre-rendering
                prerendered(cfg)
            print(
                "burst", json.dumps(run_load(cfg, "burst", n=10_000, concurrency=2_000)), flush=True
            )
        # every courier once, so that the timed runs below measure the steady state
        run_load(cfg, "steady", rate=100, seconds=2, conns=16)
        if "steady" in args.only:
            print(
                "steady",
                json.dumps(run_load(cfg, "steady", rate=500, seconds=20, conns=64)),
                flush=True,
            )
        if "mixed" in args.only:
            print(
                "mixed",
                json.dumps(
                    run_load(cfg, "mixed", put_rate=200, get_rate=200, seconds=20, conns=32)
                ),
                flush=True,
            )
        if "ingest" in args.only:
            print(
                "ingest",
                json.dumps(run_load(cfg, "ingest", events=50_000, batch=500, conns=8)),
                flush=True,
            )


if __name__ == "__main__":
    main()
