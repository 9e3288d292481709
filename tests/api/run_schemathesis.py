"""Schemathesis over the whole schema against a real server (``.ci/run`` calls this).

``python tests/api/run_schemathesis.py [--postgresql URL] [--max-examples N]``: starts
``countyroute serve`` on a free loopback port with a fresh database (a new SQLite file, or a
new PostgreSQL database created and dropped here), imports the tiny network with a day's
orders and a published plan, and runs ``st run --checks all`` (but
``positive_data_acceptance``, see below) with an admin key. The key
operations that revoke or rotate keys run in a second pass, after everything else, so the
first pass keeps its key. Failed-authentication throttling is raised for the run (the
fuzzer sends many bad keys on purpose), live-feed streams end after 0.2 s, and webhooks are
not delivered (the fuzzer makes up their URLs). Exits with schemathesis's status.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from conftest import DATE, TINY, admin_key_for, start_server  # noqa: E402

KEY_OPS = r"^/v1/keys/\{key_id\}"


def _setup(url: str, key: str) -> None:
    h = {"Authorization": f"Bearer {key}"}
    files = {
        "network": ("network.geojson", (TINY / "network.geojson").read_bytes()),
        "fleet": ("fleet.csv", (TINY / "fleet.csv").read_bytes()),
        "policy": ("policy.toml", (TINY / "policy.toml").read_bytes()),
    }
    with httpx.Client(base_url=url, headers=h, timeout=120) as c:
        c.post("/v1/networks/upload", data={"name": "tiny"}, files=files).raise_for_status()
        c.post(
            f"/v1/networks/tiny/orders?date={DATE}",
            content=(TINY / "orders.csv").read_bytes(),
            headers={"Content-Type": "text/csv"},
        ).raise_for_status()
        job = c.post(
            "/v1/networks/tiny/plans", json={"date": DATE, "time_limit_s": 1, "solution_limit": 50}
        ).json()
        done = c.get(f"/v1/jobs/{job['id']}?wait=60").json()
        assert done["status"] == "succeeded", done
        c.post(f"/v1/plans/{done['plan']}/publish").raise_for_status()


def _st(url: str, key: str, examples: int, extra: list[str], report: Path) -> int:
    exe = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    cmd = [
        exe,
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        # positive_data_acceptance expects every schema-valid request to succeed; requests that
        # are valid in shape but not in fact (a built-in bundle that does not exist, an upload
        # that is not a bundle, a cursor this API did not make, a date the core refuses) are
        # 422 by design. Every other check runs.
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-response-time",
        "70",  # GET /jobs/{id}?wait= waits up to 60 s on purpose
        "--max-examples",
        str(examples),
        "--seed",
        "12",
        "--header",
        f"Authorization: Bearer {key}",
        "--generation-with-security-parameters",
        "false",
        "--request-timeout",
        "60",
        "--workers",
        "1",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        *extra,
    ]
    print("+", " ".join(c if "Bearer" not in c else "Authorization: Bearer …" for c in cmd))
    return subprocess.call(cmd, cwd=report.parent)  # its cache (.schemathesis/) goes there


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--postgresql", help="a server URL (postgresql://user@host:port/db)")
    ap.add_argument("--max-examples", type=int, default=10)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="countyroute-st-"))
    dropped = None
    if args.postgresql:
        import psycopg

        name = f"countyroute_st_{uuid.uuid4().hex[:12]}"
        admin = args.postgresql.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = admin.rpartition("/")
        database_url = f"{base}/{name}"
        dropped = (admin, name)
    else:
        database_url = f"sqlite:///{tmp / 'st.db'}"
    os.environ["COUNTYROUTE_AUTH_FAILURES_PER_MINUTE"] = "1000000"
    os.environ["COUNTYROUTE_DEFAULT_TIME_LIMIT_S"] = "1"
    os.environ["COUNTYROUTE_FEED_MAX_WAIT_S"] = "0.2"  # feed streams end at once here
    os.environ["COUNTYROUTE_WEBHOOKS"] = "0"  # no POSTs to the URLs the fuzzer makes up
    key = admin_key_for(database_url)
    server = start_server(database_url, tmp / "server.log")
    try:
        _setup(server.url, key)
        first = _st(
            server.url,
            key,
            args.max_examples,
            ["--exclude-path-regex", KEY_OPS],
            tmp / "st-main.xml",
        )
        second = _st(
            server.url,
            key,
            args.max_examples,
            ["--include-path-regex", KEY_OPS],
            tmp / "st-keys.xml",
        )
    finally:
        server.stop()
        if dropped:
            import psycopg

            with psycopg.connect(dropped[0], autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dropped[1]}" WITH (FORCE)')
    errors = (tmp / "server.log").read_text(errors="replace").count("unhandled error")
    print(f"server log: {tmp / 'server.log'} ({errors} unhandled errors)")
    return first or second or (1 if errors else 0)


if __name__ == "__main__":
    raise SystemExit(main())
