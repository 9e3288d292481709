"""Region jobs (``POST /v1/region-jobs``): several networks planned for one day in one job,
each network's state listed as the job goes, each plan an ordinary checked draft; a key
limited to some networks can neither start nor read a job over others."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest
from conftest import DATE, TINY, Keys, auth, upload_tiny
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dispatch_api import jobs
from dispatch_api.db import sessions
from dispatch_api.jobs import _region_task
from dispatch_api.security import Role, create_key

BODY = {"date": DATE, "time_limit_s": 1, "solution_limit": 20}


def _orders(client: TestClient, key: str, network: str) -> None:
    r = client.post(
        f"/v1/networks/{network}/orders?date={DATE}",
        content=(TINY / "orders.csv").read_bytes(),
        headers={**auth(key), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text


def test_region_job_plans_every_network_and_lists_them(client: TestClient, keys: Keys) -> None:
    assert upload_tiny(client, keys.admin, "tiny2").status_code == 201
    for net in ("tiny", "tiny2"):
        _orders(client, keys.admin, net)
    r = client.post(
        "/v1/region-jobs", json={**BODY, "networks": ["tiny", "tiny2"]}, headers=auth(keys.admin)
    )
    assert r.status_code == 202, r.text
    job = client.get(r.headers["Location"], headers=auth(keys.dispatcher)).json()
    assert job["kind"] == "region" and job["status"] == "succeeded", job
    assert job["networks"] == ["tiny", "tiny2"]
    counties = job["counties"]
    assert [c["network"] for c in counties] == ["tiny", "tiny2"]
    for c in counties:
        assert c["state"] == "planned" and c["check_ok"] and c["vehicles"] > 0
        plan = client.get(c["plan_url"], headers=auth(keys.dispatcher)).json()
        assert plan["network"] == c["network"] and plan["status"] == "draft"
    result = client.get(f"/v1/jobs/{job['id']}/result", headers=auth(keys.admin)).json()
    assert [c["plan"] for c in result["counties"]] == [c["plan"] for c in counties]
    # the same budget plans the same day the same way in either network
    assert counties[0]["cost"] == counties[1]["cost"]


def test_region_job_refuses_a_network_without_orders_or_twice(
    client: TestClient, keys: Keys
) -> None:
    _orders(client, keys.admin, "tiny")
    assert upload_tiny(client, keys.admin, "tiny2").status_code == 201
    key = auth(keys.dispatcher)
    r = client.post("/v1/region-jobs", json={**BODY, "networks": ["tiny", "tiny2"]}, headers=key)
    assert r.status_code == 422 and r.json()["field"] == "networks[1]"
    r = client.post("/v1/region-jobs", json={**BODY, "networks": ["tiny", "tiny"]}, headers=key)
    assert r.status_code == 422 and r.json()["field"] == "networks[1]"
    r = client.post("/v1/region-jobs", json={**BODY, "networks": ["nowhere"]}, headers=key)
    assert r.status_code == 404


def test_a_key_sees_region_jobs_only_over_its_networks(
    app: FastAPI, client: TestClient, keys: Keys
) -> None:
    assert upload_tiny(client, keys.admin, "tiny2").status_code == 201
    for net in ("tiny", "tiny2"):
        _orders(client, keys.admin, net)
    with sessions(app.state.ctx.engine)() as s:
        _, limited = create_key(
            s, "tiny only", Role.DISPATCHER, pepper=app.state.ctx.pepper, networks=["tiny"]
        )
        s.commit()
    both = {**BODY, "networks": ["tiny", "tiny2"]}
    assert client.post("/v1/region-jobs", json=both, headers=auth(limited)).status_code == 404
    job = client.post("/v1/region-jobs", json=both, headers=auth(keys.admin)).json()
    assert client.get(f"/v1/jobs/{job['id']}", headers=auth(limited)).status_code == 404
    assert client.post(f"/v1/jobs/{job['id']}/cancel", headers=auth(limited)).status_code == 404
    own = client.post("/v1/region-jobs", json={**BODY, "networks": ["tiny"]}, headers=auth(limited))
    assert own.status_code == 202
    assert client.get(f"/v1/jobs/{own.json()['id']}", headers=auth(limited)).status_code == 200
    feed = client.get("/v1/feed?wait_s=0", headers=auth(limited)).text
    assert '"kind":"region"' in feed and '"network":"tiny2"' not in feed


def _dies_on_tiny2(params: Any, day: Any) -> Any:
    """A region task whose worker process is killed outright on network ``tiny2`` (as the
    OOM killer or a crashing native solver would), and plans the others as usual."""
    if day.name == "tiny2":
        os.kill(os.getpid(), signal.SIGKILL)
    return _region_task(params, day)


def test_a_worker_that_dies_fails_only_its_network(
    client: TestClient, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert upload_tiny(client, keys.admin, "tiny2").status_code == 201
    for net in ("tiny", "tiny2"):
        _orders(client, keys.admin, net)
    monkeypatch.setattr(jobs, "_region_task", _dies_on_tiny2)  # the workers are forked after
    r = client.post(
        "/v1/region-jobs",
        json={**BODY, "networks": ["tiny", "tiny2"], "workers": 2},
        headers=auth(keys.admin),
    )
    assert r.status_code == 202, r.text
    job = client.get(r.headers["Location"], headers=auth(keys.admin)).json()
    assert job["status"] == "failed" and "1 of 2 networks failed" in job["error"], job
    tiny, tiny2 = job["counties"]
    assert tiny["state"] == "planned" and tiny["check_ok"]
    assert tiny2["state"] == "failed" and "worker process died" in tiny2["error"], tiny2
