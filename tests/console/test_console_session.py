"""Console sessions and the console's API endpoints, without a browser: the cookie, CSRF,
sign-out, expiry, refusals; local docs; GeoJSON, events and the edit dry run on the tiny
network (jobs inline)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from dispatch_api.app import create_app
from dispatch_api.console import SessionStore
from dispatch_api.console.router import COOKIE, STATIC
from dispatch_api.db import sessions
from dispatch_api.security import Principal, Role, create_key
from dispatch_api.settings import Settings
from routing.plan import HINTS, hint_fields

TINY = Path(__file__).parents[1] / "data" / "tiny"
DATE = "2026-12-01"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    application = create_app(
        Settings(database_url=f"sqlite:///{tmp_path / 'c.db'}", job_runner="inline")
    )
    yield application
    application.state.ctx.engine.dispose()


def key(app: FastAPI, role: Role, **kw: str) -> str:
    with sessions(app.state.ctx.engine)() as s:
        _, plain = create_key(s, f"{role.value}-test", role, pepper=app.state.ctx.pepper, **kw)
        s.commit()
    return plain


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def tiny_plan(app: FastAPI, client: TestClient) -> tuple[int, str]:
    """The tiny network with its orders and a draft plan; answers (plan id, admin key)."""
    admin = key(app, Role.ADMIN)
    h = {"Authorization": f"Bearer {admin}"}
    files = {
        name: (f"{name}.x", (TINY / f).read_bytes())
        for name, f in (
            ("network", "network.geojson"),
            ("fleet", "fleet.csv"),
            ("policy", "policy.toml"),
        )
    }
    assert client.post("/networks/upload", data={"name": "tiny"}, files=files, headers=h).is_success
    r = client.post(
        f"/networks/tiny/orders?date={DATE}",
        content=(TINY / "orders.csv").read_bytes(),
        headers={**h, "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    job = client.post(
        "/networks/tiny/plans", json={"date": DATE, "solution_limit": 20}, headers=h
    ).json()
    assert job["status"] == "succeeded", job
    return int(job["plan"]), admin


def sign_in(client: TestClient, plain: str) -> str:
    r = client.post("/console/session", json={"key": plain})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf"])


# ------------------------------------------------------------------------------ sessions
def test_root_offers_the_console(client: TestClient) -> None:
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/console/"
    page = client.get("/console/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http-equiv", "")  # no outside address at all


def test_sign_in_sets_an_httponly_samesite_cookie(app: FastAPI, client: TestClient) -> None:
    r = client.post("/console/session", json={"key": key(app, Role.DISPATCHER)})
    assert r.status_code == 200
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert r.json()["role"] == "dispatcher" and len(r.json()["csrf"]) > 30
    assert client.get("/networks").status_code == 200  # the cookie stands in for the key


def test_without_a_session_the_api_wants_a_key(client: TestClient) -> None:
    assert client.get("/networks").status_code == 401
    assert client.get("/console/session").status_code == 401


def test_state_changes_need_the_csrf_token(app: FastAPI, client: TestClient) -> None:
    csrf = sign_in(client, key(app, Role.DISPATCHER))
    body = {"builtin": "yanshi"}
    assert client.post("/networks", json=body).status_code == 403
    assert (
        client.post("/networks", json=body, headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    )
    assert client.post("/networks", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_a_bearer_key_is_not_affected_by_a_session_cookie(app: FastAPI, client: TestClient) -> None:
    sign_in(client, key(app, Role.DISPATCHER))
    admin = key(app, Role.ADMIN)
    r = client.post(
        "/networks", json={"builtin": "yanshi"}, headers={"Authorization": f"Bearer {admin}"}
    )
    assert r.status_code == 201  # scripts send their key; no CSRF token involved


def test_sign_out_ends_the_session(app: FastAPI, client: TestClient) -> None:
    csrf = sign_in(client, key(app, Role.DISPATCHER))
    assert client.delete("/console/session").status_code == 403  # CSRF-checked too
    r = client.delete("/console/session", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204 and f"{COOKIE}=" in r.headers["set-cookie"]
    assert client.get("/networks").status_code == 401


def test_a_stolen_cookie_is_useless_after_sign_out(app: FastAPI, client: TestClient) -> None:
    csrf = sign_in(client, key(app, Role.DISPATCHER))
    token = client.cookies[COOKIE]
    client.delete("/console/session", headers={"X-CSRF-Token": csrf})
    client.cookies.set(COOKIE, token)
    assert client.get("/networks").status_code == 401


def test_couriers_are_refused(app: FastAPI, client: TestClient, tiny_plan: tuple[int, str]) -> None:
    courier = key(app, Role.COURIER, network="tiny", courier="c-tri1")
    r = client.post("/console/session", json={"key": courier})
    assert r.status_code == 403
    assert r.json()["type"] == "/problems/courier-refused"
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    "body",
    [
        {"key": "cr_unknown"},  # no such key
        {"key": ""},  # empty
        {"key": "x", "role": "admin"},  # unknown field
    ],
)
def test_bad_sign_ins(client: TestClient, body: dict[str, str]) -> None:
    r = client.post("/console/session", json=body)
    assert r.status_code in (401, 422)
    assert "set-cookie" not in r.headers


def test_sign_in_from_another_site_is_refused(app: FastAPI, client: TestClient) -> None:
    r = client.post(
        "/console/session",
        json={"key": key(app, Role.DISPATCHER)},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403


def test_a_revoked_key_ends_its_sessions(app: FastAPI, client: TestClient) -> None:
    admin = key(app, Role.ADMIN)
    sign_in(client, key(app, Role.DISPATCHER))
    keys = client.get("/keys", headers={"Authorization": f"Bearer {admin}"}).json()
    victim = next(k for k in keys if k["role"] == "dispatcher")
    revoke = client.delete(f"/keys/{victim['id']}", headers={"Authorization": f"Bearer {admin}"})
    assert revoke.status_code == 204
    app.state.ctx.keys.clear()  # skip the 5 s key cache
    assert client.get("/networks").status_code == 401
    assert client.get("/console/session").status_code == 401


def test_sessions_expire_when_idle_and_at_the_latest() -> None:
    now = [0.0]
    store = SessionStore(idle_s=10, max_s=25, clock=lambda: now[0])
    who = Principal(1, "d", Role.DISPATCHER)
    s = store.create("cr_x", who)
    now[0] = 9
    assert store.get(s.token) is not None  # used: the idle clock starts again
    now[0] = 18
    assert store.get(s.token) is not None
    now[0] = 24
    assert store.get(s.token) is not None
    now[0] = 25  # the absolute limit, however busy
    assert store.get(s.token) is None
    idle = store.create("cr_y", who)
    now[0] = 35
    assert store.get(idle.token) is None


# ------------------------------------------------------------------------------ offline docs
def test_docs_are_served_from_local_assets(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/console/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    redoc = client.get("/redoc")
    assert "/console/static/vendor/redoc/redoc.standalone.js" in redoc.text
    for page in (docs.text, redoc.text):
        assert "cdn." not in page and "googleapis" not in page
    for asset in (
        "/console/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/console/static/vendor/swagger-ui/swagger-ui.css",
        "/console/static/vendor/redoc/redoc.standalone.js",
        "/console/static/vendor/leaflet/leaflet.js",
        "/console/static/js/app.js",
    ):
        assert client.get(asset).status_code == 200, asset


def test_vendored_assets_carry_their_licences() -> None:
    for folder in ("leaflet", "swagger-ui", "redoc"):
        assert (STATIC / "vendor" / folder / "LICENSE").is_file(), folder


def test_every_label_exists_in_both_languages() -> None:
    import re

    text = (STATIC / "js" / "i18n.js").read_text(encoding="utf-8")
    en, zh = text.split("\n  zh: {", 1)
    keys_en = set(re.findall(r"\b([a-z][a-z0-9_]*): \"", en.split("en: {", 1)[1]))
    keys_zh = set(re.findall(r"\b([a-z][a-z0-9_]*): \"", zh.split("\n};", 1)[0]))
    assert keys_en == keys_zh
    used: set[str] = set()
    prefixes: set[str] = set()
    for js in (STATIC / "js").glob("*.js"):
        source = js.read_text(encoding="utf-8")
        used |= set(re.findall(r"\bt\(\"([a-z0-9_]+)\"[,)]", source))
        prefixes |= set(re.findall(r"\bt\(\"([a-z0-9_]+_)\" \+", source))
    assert used <= keys_en, used - keys_en
    for prefix in prefixes:  # t("kind_" + stop.kind) and the like
        assert any(k.startswith(prefix) for k in keys_en), prefix
    for kind in ("depart", "visit", "reload", "return", "halt"):
        assert f"kind_{kind}" in keys_en
    # every suggestion the core can make is said in both languages, with the same values
    for code in HINTS:
        for part in (en, zh):
            said = re.search(rf'\bhint_{code}: "([^"]*)"', part)
            assert said, (code, part[:10])
            assert set(re.findall(r"\{(\w+)\}", said.group(1))) == hint_fields(code), code


def test_map_tooltips_say_names_as_text() -> None:
    """Leaflet sets a tooltip's string as HTML, and site names come from the network file:
    every tooltip of the page goes through escapeHtml (a name is text, never markup)."""
    import re

    for js in (STATIC / "js").glob("*.js"):
        source = js.read_text(encoding="utf-8")
        for call in re.findall(r"bind(?:Tooltip|Popup)\((.{0,40})", source):
            assert call.startswith(("escapeHtml(", "() => escapeHtml(")), (js.name, call)


# ------------------------------------------------------------------------------ console API
def test_network_geojson_has_sites_and_roads_without_phones(
    client: TestClient, tiny_plan: tuple[int, str]
) -> None:
    _, admin = tiny_plan
    h = {"Authorization": f"Bearer {admin}"}
    doc = client.get("/networks/tiny/geojson", headers=h).json()
    kinds = {f["properties"].get("kind") for f in doc["features"]}
    assert {"hub", "station", "road"} <= kinds
    assert not any("phone" in f["properties"] for f in doc["features"])
    shifted = client.get("/networks/tiny/geojson?crs=gcj02", headers=h).json()
    if doc["crs_name"] == "wgs84":
        a = next(f for f in doc["features"] if f["geometry"]["type"] == "Point")
        b = next(f for f in shifted["features"] if f["id"] == a["id"])
        assert a["geometry"]["coordinates"] != b["geometry"]["coordinates"]


def test_plan_geojson_has_one_line_per_route(
    client: TestClient, tiny_plan: tuple[int, str]
) -> None:
    plan_id, admin = tiny_plan
    h = {"Authorization": f"Bearer {admin}"}
    plan = client.get(f"/plans/{plan_id}", headers=h).json()["plan"]
    doc = client.get(f"/plans/{plan_id}/geojson", headers=h).json()
    assert [f["id"] for f in doc["features"]] == [
        f"{r['tier']}:{r['vehicle']}" for r in plan["routes"]
    ]
    assert all(len(f["geometry"]["coordinates"]) >= 2 for f in doc["features"])


def test_couriers_cannot_read_the_console_views(
    app: FastAPI, client: TestClient, tiny_plan: tuple[int, str]
) -> None:
    plan_id, _ = tiny_plan
    h = {"Authorization": f"Bearer {key(app, Role.COURIER, network='tiny', courier='c-tri1')}"}
    for path in (f"/plans/{plan_id}/geojson", f"/plans/{plan_id}/events", "/networks/tiny/geojson"):
        assert client.get(path, headers=h).status_code == 403, path


def test_events_are_listed_in_order_received(
    client: TestClient, tiny_plan: tuple[int, str]
) -> None:
    plan_id, admin = tiny_plan
    h = {"Authorization": f"Bearer {admin}"}
    assert client.post(f"/plans/{plan_id}/publish", headers=h).status_code == 200
    plan = client.get(f"/plans/{plan_id}", headers=h).json()["plan"]
    route = next(r for r in plan["routes"] if r["tier"] == "last_mile")
    stop = next(i for i, s in enumerate(route["stops"]) if s["kind"] == "visit")
    body = {
        "route": f"last_mile:{route['vehicle']}",
        "stop": stop,
        "site": route["stops"][stop]["site"],
        "type": "arrived",
        "at": f"{DATE}T10:00:00+08:00",
    }
    assert client.put(f"/plans/{plan_id}/events/ev-1", json=body, headers=h).status_code == 201
    events = client.get(f"/plans/{plan_id}/events", headers=h).json()
    assert [e["id"] for e in events] == ["ev-1"]
    assert events[0]["at_s"] == 36000
    later = client.get(
        f"/plans/{plan_id}/events", params={"since": events[0]["received_at"]}, headers=h
    )
    assert later.json() == []


def _visits(route: dict[str, object]) -> list[int]:
    stops = route["stops"]
    assert isinstance(stops, list)
    return [i for i, s in enumerate(stops) if s["kind"] == "visit"]


def test_edit_check_retimes_without_saving(client: TestClient, tiny_plan: tuple[int, str]) -> None:
    plan_id, admin = tiny_plan
    h = {"Authorization": f"Bearer {admin}"}
    before = client.get(f"/plans/{plan_id}", headers=h).json()
    run = next(r for r in before["plan"]["routes"] if r["tier"] == "last_mile")
    visits = _visits(run)
    assert len(visits) >= 2, "the tiny plan's village run visits several villages"
    label = f"last_mile:{run['vehicle']}"
    edit = {"op": "move_stop", "route": label, "stop": visits[0], "position": visits[-1]}
    r = client.post(f"/plans/{plan_id}/edits/check", json={"edits": [edit]}, headers=h)
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["revision"] == before["revision"]
    moved = next(x for x in res["routes"] if x["route"] == label)
    sites = [s["site"] for s in moved["stops"]]
    assert sites.index(run["stops"][visits[0]]["site"]) == visits[-1]
    if res["ok"]:
        assert res["violations"] == [] and res["applied"] == 1
    else:  # a rejected move still comes back re-timed, with the checker's findings
        assert res["failed_edit"] == 0 and res["violations"]
    after = client.get(f"/plans/{plan_id}", headers=h).json()
    assert after["revision"] == before["revision"]
    assert after["plan"] == before["plan"]  # nothing saved


def test_edit_check_agrees_with_the_edit_endpoint(
    client: TestClient, tiny_plan: tuple[int, str]
) -> None:
    """The dry run accepts exactly what ``POST /edits`` accepts, with the same times."""
    plan_id, admin = tiny_plan
    h = {"Authorization": f"Bearer {admin}"}
    plan = client.get(f"/plans/{plan_id}", headers=h).json()
    run = next(r for r in plan["plan"]["routes"] if r["tier"] == "last_mile")
    label = f"last_mile:{run['vehicle']}"
    visits = _visits(run)
    for stop in visits:
        for position in range(1, len(run["stops"]) - 1):
            edit = {"op": "move_stop", "route": label, "stop": stop, "position": position}
            dry = client.post(f"/plans/{plan_id}/edits/check", json={"edits": [edit]}, headers=h)
            if not dry.json()["ok"]:
                continue
            real = client.post(f"/plans/{plan_id}/edits", json={"edit": edit}, headers=h)
            assert real.status_code == 200, real.text
            saved = client.get(f"/plans/{plan_id}", headers=h).json()["plan"]
            got = next(r for r in saved["routes"] if f"{r['tier']}:{r['vehicle']}" == label)
            want = next(r for r in dry.json()["routes"] if r["route"] == label)
            assert [(s["site"], s["arrival_s"]) for s in got["stops"]] == [
                (s["site"], s["arrival_s"]) for s in want["stops"]
            ]
            return
    pytest.skip("no accepted move in the tiny plan")


def test_edit_check_names_the_bad_edit(client: TestClient, tiny_plan: tuple[int, str]) -> None:
    plan_id, admin = tiny_plan
    h = {"Authorization": f"Bearer {admin}"}
    plan = client.get(f"/plans/{plan_id}", headers=h).json()["plan"]
    run = next(r for r in plan["routes"] if r["tier"] == "last_mile")
    label = f"last_mile:{run['vehicle']}"
    bad = {"op": "move_stop", "route": label, "stop": 0}  # the depart stop is not a visit
    r = client.post(f"/plans/{plan_id}/edits/check", json={"edits": [bad]}, headers=h)
    assert r.status_code == 422
    assert r.json()["field"] == "edits.0.stop"
    stale = client.post(
        f"/plans/{plan_id}/edits/check", json={"edits": [], "revision": 99}, headers=h
    )
    assert stale.status_code == 409


def test_cancel_a_queued_job(app: FastAPI, client: TestClient, tiny_plan: tuple[int, str]) -> None:
    from sqlalchemy import update

    from dispatch_api.db import Job

    _, admin = tiny_plan
    h = {"Authorization": f"Bearer {admin}"}
    with sessions(app.state.ctx.engine)() as s:
        job_id = s.scalars(Job.__table__.select().with_only_columns(Job.id)).first()
    assert client.post(f"/jobs/{job_id}/cancel", headers=h).status_code == 409  # it ended
    with app.state.ctx.engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job_id).values(status="queued", error=None))
    planner = {"Authorization": f"Bearer {key(app, Role.PLANNER)}"}
    r = client.post(f"/jobs/{job_id}/cancel", headers=planner)
    assert r.status_code == 200, r.text  # a plan job: any staff key
    assert r.json()["status"] == "cancelled" and r.json()["error"].startswith("cancelled by")
    assert r.json()["error_code"] == "cancelled" and r.json()["error_params"]["by"]
    assert client.get(f"/jobs/{job_id}", headers=h).json()["status"] == "cancelled"
    assert client.post(f"/jobs/{job_id}/cancel", headers=h).status_code == 409  # ended
    assert client.post("/jobs/nope/cancel", headers=h).status_code == 404


def test_the_dry_run_reads_the_same_day_as_the_edit_endpoint(
    app: FastAPI, tiny_plan: tuple[int, str]
) -> None:
    from dispatch_api.db import PlanRow
    from dispatch_api.routers.console_api import plan_day
    from dispatch_api.store import plan_day_input, plan_of

    plan_id, _ = tiny_plan
    ctx = app.state.ctx
    with ctx.sessions() as s:
        row = s.get(PlanRow, plan_id)
        plan = plan_of(row)
        assert plan_day(s, ctx, row, plan) == plan_day_input(s, ctx.scenarios, row, plan)


def test_edit_check_answers_the_same_from_its_cache(
    client: TestClient, tiny_plan: tuple[int, str]
) -> None:
    """Undo (a shorter list of edits) and redo answer exactly what a first check answers."""
    plan_id, admin = tiny_plan
    h = {"Authorization": f"Bearer {admin}"}
    plan = client.get(f"/plans/{plan_id}", headers=h).json()["plan"]
    run = next(r for r in plan["routes"] if r["tier"] == "last_mile")
    label = f"last_mile:{run['vehicle']}"
    visits = _visits(run)
    e1 = {"op": "move_stop", "route": label, "stop": visits[0], "position": visits[-1]}
    e2 = {"op": "move_stop", "route": label, "stop": visits[-1], "position": visits[0]}

    def check(edits: list[dict[str, object]]) -> dict[str, object]:
        r = client.post(f"/plans/{plan_id}/edits/check", json={"edits": edits}, headers=h)
        assert r.status_code == 200, r.text
        return dict(r.json())

    first = check([e1])
    both = check([e1, e2])
    assert check([e1]) == first  # undo
    assert check([e1, e2]) == both  # redo
    assert both["applied"] in (0, 1, 2)


def test_plan_geojson_straight_lines_and_one_route(
    client: TestClient, tiny_plan: tuple[int, str]
) -> None:
    plan_id, admin = tiny_plan
    h = {"Authorization": f"Bearer {admin}"}
    plan = client.get(f"/plans/{plan_id}", headers=h).json()["plan"]
    stops = client.get(f"/plans/{plan_id}/geojson?geometry=stops", headers=h).json()
    for f, r in zip(stops["features"], plan["routes"], strict=True):
        assert len(f["geometry"]["coordinates"]) == max(2, len(r["stops"]))
    label = stops["features"][0]["id"]
    one = client.get(f"/plans/{plan_id}/geojson", params={"route": label}, headers=h).json()
    assert [f["id"] for f in one["features"]] == [label]
    missing = client.get(f"/plans/{plan_id}/geojson?route=last_mile:nobody", headers=h)
    assert missing.status_code == 404


def test_plan_view_counts_what_the_plan_lists(
    client: TestClient, tiny_plan: tuple[int, str]
) -> None:
    plan_id, admin = tiny_plan
    h = {"Authorization": f"Bearer {admin}"}
    full = client.get(f"/plans/{plan_id}", headers=h).json()
    view = client.get(f"/plans/{plan_id}/view", headers=h).json()
    assert {k: v for k, v in view.items() if k != "plan"} == {
        k: v for k, v in full.items() if k != "plan"
    }
    for a, b in zip(full["plan"]["routes"], view["plan"]["routes"], strict=True):
        assert [
            (s["site"], s["arrival_s"], len(s["drop"]), len(s["collect"])) for s in a["stops"]
        ] == [(s["site"], s["arrival_s"], s["drops"], s["collects"]) for s in b["stops"]]
    assert sum(d["orders"] for d in view["plan"]["deferred"]) == len(full["plan"]["deferred"])


def test_events_stream_as_server_sent_events(
    client: TestClient, tiny_plan: tuple[int, str]
) -> None:
    import json

    plan_id, admin = tiny_plan
    h = {"Authorization": f"Bearer {admin}"}
    assert client.post(f"/plans/{plan_id}/publish", headers=h).status_code == 200
    plan = client.get(f"/plans/{plan_id}", headers=h).json()["plan"]
    route = next(r for r in plan["routes"] if r["tier"] == "last_mile")
    stop = next(i for i, s in enumerate(route["stops"]) if s["kind"] == "visit")
    body = {
        "route": f"last_mile:{route['vehicle']}",
        "stop": stop,
        "site": route["stops"][stop]["site"],
        "type": "arrived",
        "at": f"{DATE}T10:00:00+08:00",
    }
    assert client.put(f"/plans/{plan_id}/events/sse-1", json=body, headers=h).status_code == 201
    with client.stream("GET", f"/plans/{plan_id}/events/stream?max_s=1", headers=h) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    data = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]
    assert [e["id"] for e in data] == ["sse-1"]
    last = next(line[3:].strip() for line in text.splitlines() if line.startswith("id:"))
    again = {**h, "Last-Event-ID": last}
    with client.stream("GET", f"/plans/{plan_id}/events/stream?max_s=1", headers=again) as r:
        assert "data:" not in "".join(r.iter_text())  # nothing missed since


def test_the_server_caps_how_long_an_events_stream_stays_open(
    app: FastAPI, client: TestClient, tiny_plan: tuple[int, str]
) -> None:
    import dataclasses
    import time

    plan_id, admin = tiny_plan
    ctx = app.state.ctx
    ctx.settings = dataclasses.replace(ctx.settings, feed_max_wait_s=0.3)
    started = time.monotonic()
    url = f"/plans/{plan_id}/events/stream?max_s=300"
    with client.stream("GET", url, headers={"Authorization": f"Bearer {admin}"}) as r:
        assert r.status_code == 200
        assert "retry:" in "".join(r.iter_text())
    # ended by COUNTYROUTE_FEED_MAX_WAIT_S (0.3 s), not by the 300 s the client asked for
    assert time.monotonic() - started < 60
