"""The planner's jobs (placement, what-if simulation) and the dispatcher's pins, in-process
with jobs run inline: results, progress, restarts, roles, bad bodies, and plans that keep
pinned villages with their vehicles (every plan through the independent checker)."""

from __future__ import annotations

import json
import time
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import (
    DATE,
    TINY,
    Keys,
    admin_key_for,
    auth,
    import_tiny_orders,
    start_server,
    upload_tiny,
)
from fastapi import FastAPI
from sqlalchemy import event

with warnings.catch_warnings():  # as in conftest: starlette's nudge towards httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from dispatch_api.app import create_app
from dispatch_api.schemas import CoverageOf, PlacementLevel, PlacementModel, PlacementObjective
from dispatch_api.settings import Settings
from networks import parse_clock
from routing.check import check_plan
from routing.plan import Plan, StopKind, Tier, plan_from_dict
from scenarios.bundle import load_bundle, load_orders
from scenarios.placement import CoverageBasis, Level, Model, Objective

PROBLEM = "application/problem+json"


# ------------------------------------------------------------------------------ helpers
def _job(client: TestClient, key: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """Start a job (202 + Location) and read it back (inline: it is done)."""
    r = client.post(url, json=body, headers=auth(key))
    assert r.status_code == 202, r.text
    job = client.get(r.headers["Location"], headers=auth(key)).json()
    assert job["status"] == "succeeded", job
    return dict(job)


def _result(client: TestClient, key: str, job: dict[str, Any]) -> dict[str, Any]:
    r = client.get(job["result_url"], headers=auth(key))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _import_yanshi(client: TestClient, keys: Keys) -> None:
    r = client.post("/networks", json={"builtin": "yanshi"}, headers=auth(keys.admin))
    assert r.status_code == 201, r.text


@pytest.fixture
def progress_writes(app: FastAPI) -> Iterator[list[str]]:
    """The statements that write a job's ``progress`` column, as the worker issues them."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("UPDATE jobs") and "progress" in statement:
            seen.append(f"{statement} {params}")

    engine = app.state.ctx.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _tiny_check(plan: Plan, at_s: int | None = None) -> None:
    """The independent checker on the tiny network and its orders (what the API stored)."""
    sc = load_bundle(TINY)
    orders = load_orders(TINY / "orders.csv", sc.network)
    earlier = (at_s, sc.network) if at_s is not None else None
    report = check_plan(plan, sc.network, sc.fleet, sc.policy, orders, earlier=earlier)
    assert report.ok, report.violations[:5]


def _plan(client: TestClient, key: str, plan_id: int) -> Plan:
    doc = client.get(f"/plans/{plan_id}", headers=auth(key)).json()
    return plan_from_dict(doc["plan"])


def _runs_visiting(plan: Plan, site: str) -> set[str]:
    return {
        r.vehicle
        for r in plan.routes_of(Tier.LAST_MILE)
        for s in r.stops
        if s.kind is StopKind.VISIT and s.site == site
    }


# ------------------------------------------------------------------------------ placement
def test_placement_on_yanshi_covers_every_poor_village_and_reports_setup_cost(
    client: TestClient, keys: Keys
) -> None:
    _import_yanshi(client, keys)
    job = _job(
        client,
        keys.planner,
        "/networks/yanshi/placements",
        {"radius_km": 3, "min_coverage": 0.6},
    )
    assert (job["kind"], job["progress"], job["plan"]) == ("placement", 1.0, None)
    result = _result(client, keys.planner, job)
    solution = result["solution"]
    assert solution["status"] == "optimal"
    assert solution["all_poor_covered"] and solution["poor_covered"] == solution["poor"] > 0
    assert solution["village_coverage"] >= 0.6
    assert solution["setup_cost"] > 0
    assert solution["setup_cost"] == pytest.approx(sum(solution["opened_costs"]))
    assert result["params"]["radius_m"] == 3000 and result["curve"]


def test_placement_request_values_match_the_core_enums() -> None:
    """The API spells the placement enums out (no CP-SAT import to parse a body)."""
    pairs = [
        (PlacementModel, Model),
        (PlacementLevel, Level),
        (CoverageOf, CoverageBasis),
        (PlacementObjective, Objective),
    ]
    for literal, enum in pairs:
        assert set(typing.get_args(literal)) == {e.value for e in enum}


# ------------------------------------------------------------------------------ simulation
def test_simulation_of_a_builtin_change_on_yanshi_reports_kpi_spread(
    client: TestClient, keys: Keys, progress_writes: list[str]
) -> None:
    _import_yanshi(client, keys)
    body = {"change": "growth30", "days": 2, "solution_limit": 1, "time_limit_s": 1}
    job = _job(client, keys.planner, "/networks/yanshi/simulations", body)
    assert (job["kind"], job["date"]) == ("simulation", "2026-04-06")
    result = _result(client, keys.planner, job)
    assert result["change"]["demand_factor"] == pytest.approx(1.3)
    assert len(result["base_days"]) == len(result["change_days"]) == 2
    cost = next(c for c in result["comparison"] if c["kpi"] == "cost")
    for side in ("base", "change", "difference"):
        assert cost[side]["n"] == 2 and cost[side]["min"] <= cost[side]["mean"] <= cost[side]["max"]
    assert cost["change"]["mean"] > cost["base"]["mean"]  # 30 % more parcels cost more
    assert any("planned" in w for w in progress_writes)  # progress as days were planned


def test_simulation_of_a_change_object_reports_progress_as_days_are_planned(
    client: TestClient, keys: Keys, progress_writes: list[str]
) -> None:
    change = {"name": "fewer-visits", "policy": {"daily_min_parcels": 40}}
    body = {"change": change, "baseline": "growth30", "days": 2, "solution_limit": 3}
    job = _job(client, keys.admin, "/networks/tiny/simulations", body)
    result = _result(client, keys.admin, job)
    assert (result["change"]["name"], result["baseline"]["name"]) == ("fewer-visits", "growth30")
    planned = [w for w in progress_writes if "planned" in w]
    assert len(planned) >= 2  # 2 days × 2 sides, reported as they finish


def test_planner_results_survive_a_restart(
    client: TestClient, keys: Keys, settings: Settings
) -> None:
    job = _job(client, keys.planner, "/networks/tiny/placements", {"points": 1, "curve": False})
    before = _result(client, keys.planner, job)
    restarted = create_app(settings)
    try:
        with TestClient(restarted, raise_server_exceptions=False) as again:
            seen = again.get(f"/jobs/{job['id']}", headers=auth(keys.planner)).json()
            assert seen["status"] == "succeeded" and seen["result_url"] == job["result_url"]
            assert _result(again, keys.planner, seen) == before
    finally:
        restarted.state.ctx.engine.dispose()


def test_result_of_a_plan_job_or_an_unknown_job_is_404(client: TestClient, keys: Keys) -> None:
    import_tiny_orders(client, keys.dispatcher)
    job = _job(client, keys.dispatcher, "/networks/tiny/plans", {"date": DATE, "time_limit_s": 1})
    assert job["result_url"] is None
    r = client.get(f"/jobs/{job['id']}/result", headers=auth(keys.dispatcher))
    assert r.status_code == 404 and f"/plans/{job['plan']}" in r.json()["detail"]
    assert client.get("/jobs/nope/result", headers=auth(keys.admin)).status_code == 404


def test_a_simulation_on_a_live_server_runs_its_days_on_its_own_pool(
    settings: Settings, tmp_path: Path
) -> None:
    """The server's real runner: a worker process per job, and a planner job's own pool
    (``workers: 2``) inside it; progress is polled over HTTP (a separate process solves)."""
    server = start_server(settings.database_url, tmp_path / "server.log")
    try:
        admin = admin_key_for(server.database_url)
        http = httpx.Client(base_url=server.url, timeout=60)
        assert http.post("/networks", json={"builtin": "yanshi"}, headers=auth(admin)).is_success
        body = {"change": "growth30", "days": 1, "solution_limit": 1, "workers": 2}
        r = http.post("/networks/yanshi/simulations", json=body, headers=auth(admin))
        assert r.status_code == 202, r.text
        seen = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = http.get(r.headers["Location"], headers=auth(admin)).json()
            seen.append(job["progress"])
            if job["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.2)  # a real server solves elsewhere: nothing to wait on but time
        assert job["status"] == "succeeded", job
        assert seen == sorted(seen)  # progress never goes back
        result = http.get(job["result_url"], headers=auth(admin)).json()
        assert (result["backend"], result["workers"]) == ("local", 2)
    finally:
        server.stop()


# ------------------------------------------------------------------------------ roles
@pytest.mark.parametrize("path", ["/networks/tiny/placements", "/networks/tiny/simulations"])
def test_only_planners_and_admins_start_planner_jobs(
    client: TestClient, keys: Keys, path: str
) -> None:
    body = {"change": "growth30"} if path.endswith("simulations") else {}
    for role in ("courier", "other_courier", "dispatcher"):
        r = client.post(path, json=body, headers=auth(keys.of(role)))
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, (role, r.text)


# ------------------------------------------------------------------------------ bad bodies
PLACE = "/networks/tiny/placements"
SIM = "/networks/tiny/simulations"
PLAN = "/networks/tiny/plans"

BAD: list[tuple[str, Any, int, str]] = [
    # (path, body, status, field named in the problem details)
    (PLACE, {"radius_km": "far"}, 422, "body.radius_km"),  # not a number
    (PLACE, {"radius_km": 0}, 422, "radius_km"),  # the core: must be > 0
    (PLACE, {"min_coverage": 1.5}, 422, "min_coverage"),  # the core: a share
    (PLACE, {"model": "p-median"}, 422, "points"),  # the core: p-median needs a count
    (PLACE, {"model": "centre"}, 422, "body.model"),  # no such model
    (PLACE, {"vehicle_class": "rocket"}, 422, "vehicle_class"),  # not the network's
    (PLACE, {"level": "station", "simulate": {"days": 2}}, 422, "simulate"),  # points only
    (PLACE, {"simulate": {"days": 2, "start": "2026-02-30"}}, 422, "body.simulate.start"),
    (PLACE, {"time_limit_s": 3600, "curve_samples": 100}, 422, "time_limit_s"),  # too long
    (PLACE, {"surprise": 1}, 422, "body.surprise"),  # unknown keys are refused
    (PLACE, [1, 2], 422, "body"),  # not an object
    ("/networks/atlantis/placements", {}, 404, "network"),  # no such network
    (SIM, {}, 422, "body.change"),  # the change is required
    (SIM, {"change": "growth99"}, 422, "change"),  # no such built-in change
    (SIM, {"change": "../policy"}, 422, "body.change"),  # a name, not a path
    (SIM, {"change": 30}, 422, "body.change"),  # neither a name nor an object
    (
        SIM,
        {"change": {"demand": {"growth_per_year": "lots"}}},
        422,
        "change.demand.growth_per_year",
    ),
    (SIM, {"change": {"points": {"add": [{"site": "mars"}]}}}, 422, "change.points.add[0].site"),
    (SIM, {"change": {"weather": {}}}, 422, "change.weather"),  # unknown table
    (SIM, {"change": {"policy": {"cross_dock_min": 1e308}}}, 422, "change.policy.cross_dock_min"),
    (SIM, {"change": "growth30", "baseline": {"fleet": {"remove": [{"ids": ["x"]}]}}}, 422, ""),
    (SIM, {"change": "growth30", "days": 0}, 422, "body.days"),
    (
        SIM,
        {"change": "growth30", "start": "2026-02-30"},
        422,
        "body.start",
    ),  # no such day (DateText)
    (SIM, {"change": "growth30", "days": 366, "time_limit_s": 60}, 422, "time_limit_s"),
    (PLAN, {"date": DATE, "pins": {"v9": "tri1"}}, 422, "pins.v9"),  # no such village point
    (PLAN, {"date": DATE, "pins": {"s1": "tri1"}}, 422, "pins.s1"),  # a station, not a point
    (PLAN, {"date": DATE, "pins": {"v1": "ghost"}}, 422, "pins.v1"),  # no such vehicle
    (PLAN, {"date": DATE, "pins": {"v1": "truck1"}}, 422, "pins.v1"),  # a trunk truck
    (PLAN, {"date": DATE, "pins": {"v 1": "tri1"}}, 422, "body.pins.v 1.[key]"),  # not an id
    (PLAN, {"date": DATE, "previous_plan": 999}, 422, "previous_plan"),  # no such plan
]


def test_bad_bodies_are_problem_details_naming_the_field(client: TestClient, keys: Keys) -> None:
    import_tiny_orders(client, keys.dispatcher)
    for path, body, status, field in BAD:
        r = client.post(path, json=body, headers=auth(keys.admin))
        assert (r.status_code, r.headers["content-type"]) == (status, PROBLEM), (body, r.text)
        named = r.json().get("field", "")
        assert named == field if field else named.startswith("baseline"), (body, r.json())


def test_non_finite_numbers_are_refused(client: TestClient, keys: Keys) -> None:
    content = b'{"change": "growth30", "time_limit_s": NaN}'
    headers = {**auth(keys.admin), "Content-Type": "application/json"}
    r = client.post(SIM, content=content, headers=headers)
    assert r.status_code == 422 and r.json()["field"] == "body.time_limit_s"
    r = client.post(PLACE, content=b'{"radius_km": Infinity}', headers=headers)
    assert r.status_code == 422 and r.json()["field"] == "body.radius_km"


# ------------------------------------------------------------------------------ pins
def test_plan_job_with_pins_serves_the_pinned_village_with_the_pinned_vehicle(
    client: TestClient, keys: Keys
) -> None:
    import_tiny_orders(client, keys.dispatcher)
    # left alone, the cheaper tricycle serves v1; the dispatcher wants the van there
    body = {"date": DATE, "solution_limit": 5, "pins": {"v1": "van1"}}
    job = _job(client, keys.dispatcher, PLAN, body)
    plan = _plan(client, keys.dispatcher, job["plan"])
    assert _runs_visiting(plan, "v1") == {"van1"}
    assert dict(plan.settings)["pin:v1"] == "van1"
    kpis = client.get(f"/plans/{job['plan']}", headers=auth(keys.dispatcher)).json()["kpis"]
    assert kpis["pins_unmet"] == {}
    _tiny_check(plan)


def test_pins_hold_in_the_next_plan_and_in_a_repair(client: TestClient, keys: Keys) -> None:
    import_tiny_orders(client, keys.dispatcher)
    h = keys.dispatcher
    first = _job(client, h, PLAN, {"date": DATE, "solution_limit": 5, "pins": {"v1": "van1"}})
    # a pin_village edit adds a pin: v2 joins v1 on the van (recorded in the plan's settings)
    edit = {"op": "pin_village", "site": "v2", "route": "last_mile:van1"}
    r = client.post(f"/plans/{first['plan']}/edits", json={"edit": edit}, headers=auth(h))
    assert r.status_code == 200, r.text
    # the next plan made with it as the previous plan keeps both pins, without naming them
    body = {"date": DATE, "solution_limit": 5, "previous_plan": first["plan"]}
    second = _job(client, h, PLAN, body)
    plan = _plan(client, h, second["plan"])
    assert _runs_visiting(plan, "v1") == _runs_visiting(plan, "v2") == {"van1"}
    _tiny_check(plan)
    # a repair re-plans the village runs; without the pins the tricycle would take them
    events = [{"type": "trunk_late", "vehicle": "truck1", "delay_min": 10}]
    repair = client.post(
        f"/plans/{second['plan']}/repair", json={"at": "07:00", "events": events}, headers=auth(h)
    )
    assert repair.status_code == 202, repair.text
    job = client.get(repair.headers["Location"], headers=auth(h)).json()
    assert job["status"] == "succeeded", job
    repaired = _plan(client, h, job["plan"])
    assert _runs_visiting(repaired, "v1") == _runs_visiting(repaired, "v2") == {"van1"}
    assert {k: v for k, v in repaired.settings if k.startswith("pin:")} == {
        "pin:v1": "van1",
        "pin:v2": "van1",
    }
    _tiny_check(repaired, at_s=parse_clock("07:00"))


def test_previous_plan_of_another_network_is_refused(client: TestClient, keys: Keys) -> None:
    import_tiny_orders(client, keys.dispatcher)
    first = _job(client, keys.dispatcher, PLAN, {"date": DATE, "time_limit_s": 1})

    assert upload_tiny(client, keys.admin, "tiny2").status_code == 201
    r = client.post(
        "/networks/tiny2/orders?date=" + DATE,
        content=(TINY / "orders.csv").read_bytes(),
        headers={**auth(keys.admin), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200
    body = {"date": DATE, "previous_plan": first["plan"]}
    r = client.post("/networks/tiny2/plans", json=body, headers=auth(keys.dispatcher))
    assert r.status_code == 422 and r.json()["field"] == "previous_plan"
    assert json.loads(r.text)["status"] == 422
