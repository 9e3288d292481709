"""The console in a real browser (Debian's Chromium through Playwright) against a real server:
the dispatcher's day end to end in English and in Chinese, role checks, ``/docs`` offline.
Every test asserts that the page asked no host but the app's own. Screenshots go to
``out/screenshots/`` (gitignored) for a person to look at."""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_helpers import (  # the fixtures, here rather than in a conftest: a second
    DATE,
    SCREENSHOTS,
    Browser,
    Server,
    browser_en,  # module named ``conftest`` would shadow tests/api's (from conftest import …)
    browser_zh,
    countyroute,
    playwright_instance,
    server,
    shot,
)

pytestmark = pytest.mark.slow

MISSING_LABEL = re.compile(r"\[[a-z][a-z0-9_]+\]|\bnull\b|\bundefined\b|\[object ")
"""A label missing from the dictionary ([key]) or a value written as text by mistake."""
CJK = re.compile(r"[\u4e00-\u9fff]")

TEXT = {
    "en": {
        "rejected": "nothing was stored",
        "checked": "no violations",
        "sign_in": "Sign in",
        "row": "row 3",
    },
    "zh": {"rejected": "未保存任何数据", "checked": "无违规", "sign_in": "登录", "row": "第 3 行"},
}
LATIN_ALLOWED = {
    "countyroute",  # the product's name
    "English",  # the language switch
    "CSV",
    "PDF",
    "API",
    "EMS",
    "OSM",
    "km",
    "kg",
    "m",  # m³
    "Esc",
}
"""Latin-script words a Chinese screen may show besides ids: the product's name, file formats,
brand and unit abbreviations."""


def latin_leaks(text: str, names: set[str]) -> set[str]:
    """Words in Latin script on a Chinese screen that are neither ids (a vehicle, site, road,
    plan or order id holds a digit, a hyphen or an underscore, a file name a dot; a network's
    or key's name or a file's column is in ``names``) nor in :data:`LATIN_ALLOWED`: English
    that leaked into the page."""
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9_.&'-]*[A-Za-z0-9]|[A-Za-z]", text)
    return {
        w
        for w in words
        if re.search(r"[A-Za-z]", w)
        and not re.search(r"[0-9_.-]", w)
        and w not in LATIN_ALLOWED
        and w not in names
    }


def assert_no_english(page: Any, server: Server, where: str, names: tuple[str, ...] = ()) -> None:
    """The visible text of a Chinese page has no English words (ids, units and names aside)."""
    leaks = latin_leaks(page.inner_text("body"), {"yanshi", *server.keys, *names})
    assert not leaks, f"{where}: {sorted(leaks)}"


def sign_in(page: Any, server: Server, role: str) -> None:
    page.goto(f"{server.url}/")
    page.wait_for_selector("#sign-in")
    page.fill("#api-key", server.keys[role])
    page.click("#sign-in button[type=submit]")


def drop_file(page: Any, selector: str, name: str, text: str) -> None:
    """Drag and drop a file onto an element, as a person dragging it from their desktop."""
    page.evaluate(
        """([selector, name, text]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], name, { type: "text/csv" }));
            const el = document.querySelector(selector);
            for (const type of ["dragenter", "dragover", "drop"]) {
                el.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
            }
        }""",
        [selector, name, text],
    )


def a_rejected_move(client: httpx.Client, plan_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A move of a village stop to the front of another van's run that the checker rejects,
    found through the public dry-run endpoint: a van of the same station made late (a stop
    outside its opening hours, the shift or the hub's cut-off) if there is one, else any."""
    plan = client.get(f"/plans/{plan_id}").json()["plan"]
    runs = [r for r in plan["routes"] if r["tier"] == "last_mile"]
    late = ("window", "shift", "cutoff", "duration")
    fallback = None
    pairs = [(a, b) for a in runs for b in runs if a["vehicle"] != b["vehicle"]]
    pairs.sort(key=lambda p: p[0]["home"] != p[1]["home"])  # same station first
    for src, dst in pairs:
        for stop in [i for i, s in enumerate(src["stops"]) if s["kind"] == "visit"][-2:]:
            edit = {
                "op": "move_stop",
                "route": f"last_mile:{src['vehicle']}",
                "stop": stop,
                "to_route": f"last_mile:{dst['vehicle']}",
                "position": 1,
            }
            res = client.post(f"/plans/{plan_id}/edits/check", json={"edits": [edit]}).json()
            if res["ok"] or not any(v["stop"] >= 0 for v in res["violations"]):
                continue
            if any(v["code"] in late for v in res["violations"]):
                return edit, res
            fallback = fallback or (edit, res)
            if src["home"] != dst["home"]:
                break
    assert fallback is not None, "no rejected move found"
    return fallback


def move_in_page(page: Any, edit: dict[str, Any]) -> None:
    """Make a ``move_stop`` edit as a dispatcher does: the route, then the stop's row (its
    target route and position), then Move."""
    page.click(f'[data-route="{edit["route"]}"]')
    row = page.locator(f'#stops tr[data-stop="{edit["stop"]}"]')
    row.locator("select").select_option(edit["to_route"])
    row.locator("input[type=number]").fill(str(edit["position"]))
    row.locator("button.move").click()


def day_flow(b: Browser, server: Server, lang: str, date: str, csv: Path) -> None:
    page: Any = b.page
    text = TEXT[lang]
    sign_in(page, server, "dispatcher")
    page.wait_for_selector("#dropzone")
    assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
    page.fill("#date", date)
    page.dispatch_event("#date", "change")
    page.wait_for_selector("#orders-count:not(:empty)")
    shot(page, f"{lang}-1-day-board")

    # a CSV with one bad row, dropped on the board: the rows named, nothing stored
    lines = csv.read_text().splitlines()
    head, rows = lines[0], lines[1:]
    cols = head.split(",")
    bad = rows[2].split(",")
    bad[cols.index("site")] = "no-such-village"
    drop_file(
        page, "#dropzone", "orders-bad.csv", "\n".join([head, rows[0], rows[1], ",".join(bad)])
    )
    page.wait_for_selector("#rejected-rows")
    table = page.inner_text("#rejected-rows")
    assert "site" in table and text["row"] in table and "no-such-village" in table
    assert text["rejected"] in page.inner_text("#upload-result")
    if lang == "zh":
        assert_no_english(page, server, "rejected rows", tuple(cols))  # columns: ids
    with server.api("dispatcher") as c:
        assert c.get(f"/networks/yanshi/orders?date={date}&limit=1").json()["total"] == 0
    shot(page, f"{lang}-2-rejected-rows")

    # the good file, chosen with the file input
    page.set_input_files("#dropzone input[type=file]", str(csv))
    page.wait_for_selector("#upload-result .msg-ok")
    with server.api("dispatcher") as c:
        assert c.get(f"/networks/yanshi/orders?date={date}&limit=1").json()["total"] == len(rows)

    if lang == "zh":  # a job cancelled from the page: said so, in the page's language
        page.fill("#budget", "120")
        page.click("#start-plan")
        page.click("#cancel-job")
        page.wait_for_selector('#job .job-status[data-status="cancelled"]', timeout=60_000)
        assert "取消" in page.inner_text("#job")
        assert_no_english(page, server, "cancelled job")

    # plan with a small budget; the job's progress is shown until it ends
    page.fill("#budget", "2")
    page.click("#start-plan")
    page.wait_for_selector("#job .job-status")
    page.wait_for_selector("#open-new-plan", timeout=120_000)
    assert page.get_attribute("#job .job-status", "data-status") == "succeeded"
    page.click("#open-new-plan")
    page.wait_for_selector("body[data-plan-rendered]", timeout=30_000)
    plan_id = int(page.get_attribute("body", "data-plan-rendered"))
    page.wait_for_timeout(300)
    assert page.locator(".site-label").count() >= 10  # sites labelled
    assert page.locator(".legend-vehicle").count() >= 5  # one colour per vehicle, in the legend
    shot(page, f"{lang}-3-plan-view")
    if lang == "zh":
        assert_no_english(page, server, "plan view")
    page.locator("#timeline").screenshot(path=str(shot_path(f"{lang}-4-timeline")))

    # a move the checker rejects: the violation is shown at the stop, nothing saved
    with server.api("dispatcher") as c:
        edit, expected = a_rejected_move(c, plan_id)
        revision = c.get(f"/plans/{plan_id}").json()["revision"]
    move_in_page(page, edit)
    page.wait_for_selector("body[data-edit-state=rejected]")
    first = next(v for v in expected["violations"] if v["stop"] >= 0)
    flagged = page.locator(f'#stops tr.violation[data-stop="{first["stop"]}"]')
    assert flagged.count() == 1
    assert flagged.get_attribute("data-site") == first["site"]
    assert page.locator("#edit-state[role=alert]").count() == 1
    # bring the row into view as a reader scrolls: down, the table's left edge still shown
    # (scroll_into_view_if_needed also scrolled the wide table sideways, clipping the names)
    flagged.evaluate("el => el.scrollIntoView({block: 'center', inline: 'start'})")
    shot(page, f"{lang}-5-violation")
    if lang == "zh":
        assert_no_english(page, server, "violation")
    page.click("#undo")
    page.wait_for_selector("body[data-edit-state=checked]")
    assert page.locator("#stops tr.violation").count() == 0
    with server.api("dispatcher") as c:
        assert c.get(f"/plans/{plan_id}").json()["revision"] == revision

    page.click("#publish")
    page.wait_for_selector("#status-badge.status-published", timeout=20_000)
    page.wait_for_selector("#follow h2")

    # couriers report through the API; the page shows it within 2 s
    with server.api("dispatcher") as c:
        plan = c.get(f"/plans/{plan_id}").json()["plan"]
    run = next(r for r in plan["routes"] if r["tier"] == "last_mile")
    stop = next(i for i, s in enumerate(run["stops"]) if s["kind"] == "visit")
    site = run["stops"][stop]["site"]
    late_at = run["stops"][stop]["start_s"] + 3600
    at = f"{date}T{late_at // 3600:02d}:{late_at % 3600 // 60:02d}:00+08:00"
    event_id = f"e2e-{lang}-{int(time.time() * 1000)}"
    body = {
        "route": f"last_mile:{run['vehicle']}",
        "stop": stop,
        "site": site,
        "type": "delivered",
        "at": at,
    }
    with server.api("dispatcher") as c:
        sent = time.monotonic()
        assert c.put(f"/plans/{plan_id}/events/{event_id}", json=body).status_code == 201
    page.wait_for_selector(f'#events li[data-event="{event_id}"]', timeout=2000)
    assert time.monotonic() - sent <= 2.0
    assert any(f"/plans/{plan_id}/events/stream" in u for u in b.requests)  # pushed (SSE)
    page.wait_for_selector("#late-vehicles", timeout=5000)  # lateness: an hour after the plan
    assert run["vehicle"] in page.inner_text("#late-vehicles")
    assert page.locator("#route-list .late-badge").count() == 1
    shot(page, f"{lang}-6-following")

    # a van breaks down: the repaired plan beside the current one
    down = next(r["vehicle"] for r in plan["routes"] if r["tier"] == "last_mile")
    page.select_option("#repair-type", "vehicle_down")
    page.select_option("#repair-vehicle", down)
    page.fill("#repair-at", "11:00")
    page.click("#repair-start")
    page.wait_for_selector("#repair-result", timeout=120_000)
    assert page.locator("#repair-result tr.changed").count() >= 1
    page.locator("#repair").scroll_into_view_if_needed()
    shot(page, f"{lang}-7-repair")
    if lang == "zh":
        assert_no_english(page, server, "repair")

    text_all = page.inner_text("body")
    assert not MISSING_LABEL.search(text_all), MISSING_LABEL.findall(text_all)
    for section in ("#compare", "#follow", "#repair", "#deferred", "#kpis"):
        assert page.locator(section).count() == 1, section

    page.click("#sign-out")
    page.wait_for_selector("#sign-in")
    assert text["sign_in"] in page.inner_text("#sign-in")
    status = page.evaluate("fetch('/plans').then(r => r.status)")
    assert status == 401
    assert b.foreign_hosts(server.url) == set()


def shot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def test_dispatcher_day_in_english(server: Server, browser_en: Browser) -> None:
    day_flow(browser_en, server, "en", DATE, server.workdir / "orders.csv")


def test_dispatcher_day_in_chinese(server: Server, browser_zh: Browser) -> None:
    """The same day, the browser asking for Chinese: every label Chinese (site names are
    Chinese anyway), dates and numbers localised."""
    csv = server.workdir / "orders-zh.csv"
    countyroute("demand", "yanshi", "--date", "2026-12-02", "--seed", "8", "--out", str(csv))
    day_flow(browser_zh, server, "zh", "2026-12-02", csv)


def test_courier_is_refused(server: Server, browser_en: Browser) -> None:
    page: Any = browser_en.page
    sign_in(page, server, "courier")
    page.wait_for_selector("#courier-refused")
    assert not MISSING_LABEL.search(page.inner_text("body"))
    assert "courier" in page.inner_text("#courier-refused").lower()
    assert page.evaluate("fetch('/plans').then(r => r.status)") == 401  # no session was made
    shot(page, "en-courier-refused")
    assert browser_en.foreign_hosts(server.url) == set()


def test_planner_sees_planner_pages_and_cannot_publish(server: Server, browser_en: Browser) -> None:
    page: Any = browser_en.page
    sign_in(page, server, "planner")
    page.wait_for_selector("#placement-form")
    with server.api("admin") as c:
        drafts = [p for p in c.get("/plans?network=yanshi").json() if p["status"] == "draft"]
    plan_id = drafts[-1]["id"] if drafts else _draft(server)
    page.goto(f"{server.url}/console/#/plan/{plan_id}")
    page.wait_for_selector("body[data-plan-rendered]", timeout=30_000)
    assert page.locator("#publish").count() == 0
    assert page.locator("#no-publish").count() == 1
    # the session acts with the planner's key: the API itself refuses the publish
    status = page.evaluate(
        """async (id) => {
            const s = await (await fetch('/console/session')).json();
            const r = await fetch(`/plans/${id}/publish`, {method: 'POST', headers: {'X-CSRF-Token': s.csrf}});
            return r.status;
        }""",
        plan_id,
    )
    assert status == 403
    shot(page, "en-planner-plan")
    assert browser_en.foreign_hosts(server.url) == set()


def test_route_list_keyboard(server: Server, browser_en: Browser) -> None:
    """Arrow keys move through the routes, Enter opens one (its stops are listed)."""
    page: Any = browser_en.page
    sign_in(page, server, "dispatcher")
    page.wait_for_selector("#dropzone")
    with server.api("admin") as c:
        plans = c.get("/plans?network=yanshi").json()
    plan_id = plans[-1]["id"] if plans else _draft(server)
    page.goto(f"{server.url}/console/#/plan/{plan_id}")
    page.wait_for_selector("body[data-plan-rendered]", timeout=30_000)
    page.focus("#route-list [role=option][tabindex='0']")
    first = page.evaluate("document.activeElement.dataset.route")
    page.keyboard.press("ArrowDown")
    second = page.evaluate("document.activeElement.dataset.route")
    assert second != first
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#route-list [data-route="{second}"][aria-selected=true]')
    assert second.split(":")[1] in page.inner_text("#stops h2")
    for control in page.query_selector_all("input, select"):
        labelled = control.evaluate(
            "el => !!(el.labels && el.labels.length) || el.hasAttribute('aria-label') || "
            "el.type === 'radio' || el.type === 'checkbox' || el.type === 'file'"
        )
        assert labelled, control.evaluate("el => el.outerHTML")


def test_docs_offline(server: Server, browser_en: Browser) -> None:
    page: Any = browser_en.page
    page.goto(f"{server.url}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "countyroute" in page.inner_text(".swagger-ui .info .title")
    shot(page, "docs-swagger")
    page.goto(f"{server.url}/redoc")
    page.wait_for_selector("redoc .api-info, .api-content", timeout=20_000)
    assert browser_en.foreign_hosts(server.url) == set()


def _import_orders(server: Server) -> None:
    """DATE's orders, imported when the day has none."""
    with server.api("admin") as c:
        if not c.get(f"/networks/yanshi/orders?date={DATE}&limit=1").json()["total"]:
            r = c.post(
                f"/networks/yanshi/orders?date={DATE}",
                content=(server.workdir / "orders.csv").read_bytes(),
                headers={"Content-Type": "text/csv"},
            )
            assert r.status_code == 200, r.text


def _draft(server: Server) -> int:
    """A new draft plan of DATE (its orders imported first when the day has none)."""
    _import_orders(server)
    with server.api("admin") as c:
        job = c.post("/networks/yanshi/plans", json={"date": DATE, "time_limit_s": 1}).json()
        return int(server.wait_job(c, job["id"])["plan"])  # type: ignore[call-overload]


def _draft_in_page(page: Any, server: Server) -> int:
    """A new draft plan (:func:`_draft`) open in the page of a signed-in dispatcher."""
    plan_id = _draft(server)
    sign_in(page, server, "dispatcher")
    page.wait_for_selector("#dropzone")
    page.goto(f"{server.url}/console/#/plan/{plan_id}")
    page.wait_for_selector("body[data-plan-rendered]", timeout=30_000)
    return plan_id


def test_moves_by_drag_and_drop_and_on_the_map(server: Server, browser_en: Browser) -> None:
    """A stop dragged onto another route in the list, and a stop clicked on the map then
    moved by clicking another route: each is one edit checked by the server; undo takes
    both back; nothing is saved."""
    page: Any = browser_en.page
    plan_id = _draft_in_page(page, server)
    with server.api("admin") as c:
        doc = c.get(f"/plans/{plan_id}").json()
    runs = [r for r in doc["plan"]["routes"] if r["tier"] == "last_mile"]
    a, b = runs[0], runs[1]
    page.click(f'[data-route="last_mile:{a["vehicle"]}"]')
    visit = next(i for i, s in enumerate(a["stops"]) if s["kind"] == "visit")
    page.drag_and_drop(
        f'#stops tr[data-stop="{visit}"]', f'#route-list [data-route="last_mile:{b["vehicle"]}"]'
    )
    page.wait_for_selector("body[data-edit-state]")
    assert page.is_enabled("#undo")
    assert "1 edits not saved" in page.inner_text("#edits")

    site = a["stops"][
        next(i for i, s in enumerate(a["stops"]) if s["kind"] == "visit" and i != visit)
    ]["site"]
    page.evaluate("delete document.body.dataset.editState")
    page.dispatch_event(f"path.stop-{site}", "click")
    page.wait_for_selector("#map-note:not(:empty)")
    page.dispatch_event(f"path.route-{runs[2]['vehicle']}", "click")
    page.wait_for_selector("body[data-edit-state]")
    assert "2 edits not saved" in page.inner_text("#edits")
    page.click("#undo")
    page.click("#undo")
    page.wait_for_selector("#undo:disabled")
    with server.api("admin") as c:
        assert c.get(f"/plans/{plan_id}").json()["revision"] == doc["revision"]
    assert browser_en.foreign_hosts(server.url) == set()


def test_road_closed_is_picked_on_the_map(server: Server, browser_en: Browser) -> None:
    """The repair form's road is chosen by clicking it on the map (routes step aside)."""
    page: Any = browser_en.page
    plan_id = _draft(server)
    with server.api("admin") as c:
        roads = [
            f
            for f in c.get("/networks/yanshi/geojson").json()["features"]
            if f["properties"].get("kind") == "road"
        ]
    road = max(roads, key=lambda f: f["properties"].get("length_m", 0))
    sign_in(page, server, "dispatcher")
    page.wait_for_selector("#dropzone")
    page.goto(f"{server.url}/console/#/plan/{plan_id}")
    page.wait_for_selector("body[data-plan-rendered]", timeout=30_000)
    page.select_option("#repair-type", "road_closed")
    page.click("#pick-road")
    page.locator("#map").scroll_into_view_if_needed()
    point = page.evaluate(f"window.countyrouteMap.roadPoint({road['id']!r})")
    page.mouse.click(point["x"], point["y"])
    for _ in range(50):
        if page.input_value("#repair-road"):
            break
        page.wait_for_timeout(100)
    assert page.input_value("#repair-road") == road["id"]
    shot(page, "en-road-picked")


def test_planner_runs_placement_and_what_if(server: Server, browser_zh: Browser) -> None:
    """A planner (in Chinese) runs a placement and a one-day what-if with small budgets and
    sees their reports and pictures in the page."""
    page: Any = browser_zh.page
    sign_in(page, server, "planner")
    page.wait_for_selector("#placement-form")
    page.fill("#pl-limit", "1")
    page.click("#placement-form button[type=submit]")
    page.wait_for_selector("#placement-report", timeout=180_000)
    assert page.locator("#placement-report svg.chart circle").count() >= 2  # the curve
    page.select_option("#wi-change", "growth30")
    page.fill("#wi-days", "1")
    page.fill("#wi-limit", "1")
    page.click("#whatif-form button[type=submit]")
    page.wait_for_selector("#whatif-report", timeout=180_000)
    assert page.locator("#whatif-report tbody tr").count() >= 3
    assert page.locator("#whatif-report svg.chart rect.spread").count() >= 3
    text = page.inner_text("body")
    assert not MISSING_LABEL.search(text), MISSING_LABEL.findall(text)
    assert_no_english(page, server, "planner")
    shot(page, "zh-planner")
    assert browser_zh.foreign_hosts(server.url) == set()


HOLD_NETWORKS = """() => {
    // the page's GET /networks wait until the test lets each one go (window.__held[i]())
    const fetchNow = window.fetch;
    window.__held = [];
    window.fetch = (url, init) => url === "/networks"
        ? new Promise((answer) => window.__held.push(() => answer(fetchNow(url, init))))
        : fetchNow(url, init);
}"""
"""Hold the console's ``GET /networks`` (the first thing the day board and the planner's pages
ask for) until the test lets it go, so that two views can be made to load in either order."""


def test_a_view_is_drawn_once_and_never_by_a_view_left_while_loading(
    server: Server, browser_en: Browser
) -> None:
    """Signing in draws the view once. (It set the hash and drew the view as well, so the
    view was drawn twice; under load the copy that loaded second replaced the one a planner
    had already started a placement in, and the job's report went to a form no longer on
    the page.) A view left while it is still loading never replaces the view the reader went
    to, however late its answers come."""
    page: Any = browser_en.page
    sign_in(page, server, "admin")
    page.wait_for_selector("#plan-form")
    assert [u for u in browser_en.requests if u.endswith("/networks")] == [f"{server.url}/networks"]
    page.evaluate(HOLD_NETWORKS)
    page.evaluate("location.hash = '#/day?network=yanshi'")
    page.wait_for_function("window.__held.length === 1")
    page.evaluate("location.hash = '#/planner'")  # while the day board loads
    page.wait_for_function("window.__held.length === 2")
    page.evaluate("window.__held[1]()")  # the planner's pages load first
    page.wait_for_selector("#placement-form")
    with page.expect_request(lambda r: "/orders?" in r.url):  # the day board's next question
        page.evaluate("window.__held[0]()")  # then the day board that was left
    assert page.locator("#placement-form").count() == 1
    assert page.locator("#plan-form").count() == 0
    assert browser_en.foreign_hosts(server.url) == set()


def test_base_map_tiles_with_the_gcj02_shift(server: Server, browser_en: Browser) -> None:
    """A tile URL in the map settings adds a base map; with GCJ-02 tiles the network and the
    routes are asked for in GCJ-02. (The tiles here are the app's own image, so the test
    stays offline.)"""
    page: Any = browser_en.page
    plan_id = _draft_in_page(page, server)
    page.click(".map-settings summary")
    tile = f"{server.url}/console/static/vendor/leaflet/images/layers.png?z={{z}}&x={{x}}&y={{y}}"
    page.fill("#tile-url", tile)
    page.select_option("#tile-datum", "gcj02")
    page.click(".map-settings button[type=submit]")
    page.wait_for_selector("img.leaflet-tile", timeout=30_000)
    page.wait_for_selector("body[data-plan-rendered]", timeout=30_000)
    asked = " ".join(browser_en.requests)
    assert "/networks/yanshi/geojson?crs=gcj02" in asked
    assert "crs=gcj02" in asked.split(f"/plans/{plan_id}/geojson")[-1]
    assert "layers.png?z=" in asked
    assert browser_en.foreign_hosts(server.url) == set()


CLIPPED = """button => {
    // the button's box against the viewport and against the visible box of every ancestor
    // that clips (overflow other than visible): where a person cannot see all of it
    const b = button.getBoundingClientRect();
    const out = [];
    const vw = document.documentElement.clientWidth, vh = document.documentElement.clientHeight;
    if (b.left < 0 || b.top < 0 || b.right > vw || b.bottom > vh) out.push(`viewport ${vw}x${vh}`);
    for (let el = button.parentElement; el && el !== document.body; el = el.parentElement) {
        const css = getComputedStyle(el);
        if (css.overflowX === "visible" && css.overflowY === "visible") continue;
        const r = el.getBoundingClientRect();
        const left = r.left + el.clientLeft, top = r.top + el.clientTop;
        if (b.left < left - 0.5 || b.top < top - 0.5 || b.right > left + el.clientWidth + 0.5
            || b.bottom > top + el.clientHeight + 0.5) {
            out.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className}`);
        }
    }
    return out;
}"""
"""Where a stop action button is cut off (empty: it is seen whole)."""


def clipped_stop_actions(page: Any, sideways: str) -> dict[str, list[str]]:
    """Every action button of the stop table that is cut off once its row is brought into
    view as a reader scrolls (down, the table's left edge shown), and then again with every
    box that scrolls sideways scrolled ``sideways`` ("start" or "end")."""
    out = {}
    buttons = page.locator("#stops .stop-actions button")
    for i in range(buttons.count()):
        button = buttons.nth(i)
        button.evaluate(
            """(b, sideways) => {
                b.closest("tr").scrollIntoView({block: "center", inline: "start"});
                for (let el = b.parentElement; el; el = el.parentElement) {
                    if (el.scrollWidth > el.clientWidth) {
                        el.scrollLeft = sideways === "end" ? el.scrollWidth : 0;
                    }
                }
            }""",
            sideways,
        )
        if where := button.evaluate(CLIPPED):
            out[f"{i}: {button.inner_text()} ({sideways})"] = where
    return out


@pytest.mark.parametrize("width,height", [(1366, 768), (1920, 1080)])
def test_every_stop_action_is_seen_whole(
    server: Server, browser_en: Browser, width: int, height: int
) -> None:
    """At a laptop's 1366×768 and at 1920×1080, every action button of the stop table
    (Move, Pin), its row scrolled into view, lies whole inside the viewport and inside every
    box that clips it, with the table at its left edge and scrolled sideways to its end:
    on the longest village run, and with a rejected move's violations written at the stops
    (the widest rows)."""
    page: Any = browser_en.page
    page.set_viewport_size({"width": width, "height": height})
    plan_id = _draft_in_page(page, server)
    with server.api("dispatcher") as c:
        doc = c.get(f"/plans/{plan_id}").json()
        edit, _ = a_rejected_move(c, plan_id)
    runs = [r for r in doc["plan"]["routes"] if r["tier"] == "last_mile"]
    run = max(runs, key=lambda r: len(r["stops"]))
    page.click(f'[data-route="last_mile:{run["vehicle"]}"]')
    buttons = page.locator("#stops .stop-actions button")
    visits = sum(1 for s in run["stops"] if s["kind"] == "visit")
    assert buttons.count() == 2 * visits > 0  # Move and Pin at every village stop
    clipped = clipped_stop_actions(page, "start") | clipped_stop_actions(page, "end")
    page.locator("#stops tr[data-stop]").first.evaluate(
        "el => el.scrollIntoView({block: 'start', inline: 'start'})"
    )
    shot(page, f"stop-actions-{width}x{height}")

    move_in_page(page, edit)
    page.wait_for_selector("body[data-edit-state=rejected]")
    assert page.locator("#stops tr.violation").count() >= 1
    clipped |= clipped_stop_actions(page, "start") | clipped_stop_actions(page, "end")
    page.locator("#stops tr.violation").first.evaluate(
        "el => el.scrollIntoView({block: 'center', inline: 'start'})"
    )
    shot(page, f"stop-actions-violation-{width}x{height}")
    assert not clipped, clipped
    assert browser_en.foreign_hosts(server.url) == set()


JOB_STATUS = re.compile(r"/jobs/[^/?]+$")
"""A job's status (``GET /jobs/{id}``), which the page asks while it follows a job."""
UNAVAILABLE = json.dumps(
    {"type": "/problems/unavailable", "title": "Service Unavailable", "status": 503,
     "detail": "The server is restarting."}
)  # fmt: skip
PROXY_502 = "<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>"
"""What a reverse proxy answers while the process behind it restarts."""
RECONNECTING = {
    "en": "The server is not answering; reconnecting…",
    "zh": "服务器暂无响应，正在重新连接…",
}
"""What the job panel says while the page asks again."""


def _day_board_of_date(page: Any, server: Server) -> None:
    """A signed-in dispatcher's day board on DATE, its orders imported."""
    _import_orders(server)
    sign_in(page, server, "dispatcher")
    page.wait_for_selector("#dropzone")
    page.fill("#date", DATE)
    page.dispatch_event("#date", "change")


def _start_a_plan_on_the_day_board(page: Any, server: Server) -> None:
    """A dispatcher plans DATE (its orders imported) from the day board with a 1 s budget."""
    _day_board_of_date(page, server)
    page.fill("#budget", "1")
    page.click("#start-plan")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_job_is_followed_through_a_server_restart(
    server: Server, lang: str, request: pytest.FixtureRequest
) -> None:
    """The server restarts while the page follows a job: its status is answered by the proxy's
    502, then not at all (connection refused), then 503. The panel says, in the page's
    language, that it is reconnecting and asks again; once the server answers, the job is
    followed to its end and its plan offered."""
    b: Browser = request.getfixturevalue(f"browser_{lang}")
    page: Any = b.page
    asked: list[str] = []
    restarting = {"on": True}

    def server_restarting(route: Any) -> None:
        asked.append(route.request.url)
        failure = (len(asked) - 2) % 3  # the first status is answered: the job is running
        if len(asked) == 1 or not restarting["on"]:
            route.continue_()
        elif failure == 0:
            route.fulfill(status=502, content_type="text/html", body=PROXY_502)
        elif failure == 1:
            route.abort("connectionrefused")
        else:
            route.fulfill(status=503, content_type="application/problem+json", body=UNAVAILABLE)

    page.route(JOB_STATUS, server_restarting)
    _start_a_plan_on_the_day_board(page, server)
    page.wait_for_selector('#job .job-reconnecting[data-tries="3"]')
    assert page.get_attribute("#job .job-status", "data-status") in ("queued", "running")
    assert page.inner_text("#job .job-reconnecting") == RECONNECTING[lang]
    assert page.locator("#job .msg-error").count() == 0
    assert page.is_enabled("#cancel-job")
    shot(page, f"{lang}-job-reconnecting")
    if lang == "zh":
        assert_no_english(page, server, "reconnecting")

    restarting["on"] = False
    page.wait_for_selector("#open-new-plan", timeout=120_000)
    assert page.get_attribute("#job .job-status", "data-status") == "succeeded"
    assert page.locator("#job .job-reconnecting").count() == 0
    assert page.locator("#job .msg-error").count() == 0
    assert len(asked) >= 5  # the first answer, the three failures, the answer after them
    text = page.inner_text("body")
    assert not MISSING_LABEL.search(text), MISSING_LABEL.findall(text)
    assert b.foreign_hosts(server.url) == set()


def test_a_job_is_given_up_when_the_server_stays_away(server: Server, browser_zh: Browser) -> None:
    """A server that answers 503 for good: the page asks again after ever longer waits (the
    page's clock is moved on to each next try), then, once it has had no answer for two
    minutes, says so in the panel (in Chinese) and stops following the job."""
    page: Any = browser_zh.page
    page.clock.install()  # time flows as usual until the test moves it on
    asked: list[str] = []

    def unavailable(route: Any) -> None:
        asked.append(route.request.url)
        route.fulfill(status=503, content_type="application/problem+json", body=UNAVAILABLE)

    page.route(JOB_STATUS, unavailable)
    _start_a_plan_on_the_day_board(page, server)
    for tries in itertools.count(1):
        page.wait_for_selector(f'#job .job-reconnecting[data-tries="{tries}"], #job .msg-error')
        if page.locator("#job .msg-error").count():
            break
        assert tries < 20, "still reconnecting after 20 tries"
        page.clock.run_for(15_000)  # the longest wait between two tries
    assert tries >= 8, tries  # waits of 1, 2, 4, 8 then 15 s, the last try at 2 minutes
    assert len(asked) == tries
    error = page.inner_text("#job .msg-error")
    lost = re.search(r"与服务器失去联系已 (\d+) 秒（状态码 503）", error)
    assert lost and 120 <= int(lost.group(1)) < 150, error  # given up at the bound
    assert page.locator("#job .job-reconnecting").count() == 0
    assert page.locator("#cancel-job").count() == 0
    page.wait_for_selector('body[data-jobs-followed="0"]')
    shot(page, "zh-job-lost")
    assert_no_english(page, server, "job lost")
    assert browser_zh.foreign_hosts(server.url) == set()


def _problem(asked: list[str], status: int, kind: str, detail: str) -> Any:
    """A route handler answering every request with that problem (RFC 9457), noting its URL
    in ``asked``."""

    def answer(route: Any) -> None:
        asked.append(route.request.url)
        route.fulfill(
            status=status,
            content_type="application/problem+json",
            body=json.dumps({"type": f"/problems/{kind}", "status": status, "detail": detail}),
        )

    return answer


def test_a_job_refused_is_an_error_at_once(server: Server, browser_en: Browser) -> None:
    """A 4xx other than 401 (here: the job not found) is an answer about the request, which
    asking again does not change: the error is shown after the one request, no reconnecting."""
    page: Any = browser_en.page
    asked: list[str] = []
    page.route(JOB_STATUS, _problem(asked, 404, "not-found", "No such job."))
    _start_a_plan_on_the_day_board(page, server)
    page.wait_for_selector("#job .msg-error")
    assert page.inner_text("#job .msg-error") == "Error: No such job."
    assert len(asked) == 1
    assert page.locator("#job .job-reconnecting").count() == 0
    page.wait_for_selector('body[data-jobs-followed="0"]')


def test_a_session_ended_while_following_a_job_goes_back_to_sign_in(
    server: Server, browser_en: Browser
) -> None:
    """A 401 while following a job: back to sign-in, saying the session ended; not retried."""
    page: Any = browser_en.page
    asked: list[str] = []
    page.route(JOB_STATUS, _problem(asked, 401, "unauthorized", "Sign in."))
    _start_a_plan_on_the_day_board(page, server)
    page.wait_for_selector("#sign-in-message .msg-error")
    assert page.inner_text("#sign-in-message") == "Your session ended. Sign in again."
    page.wait_for_selector('body[data-jobs-followed="0"]')
    assert len(asked) == 1


LOG_JOB_POLLS = """() => {
    // every job status the page asks for, with the view it was asked from
    const fetchNow = window.fetch;
    window.__polls = [];
    window.fetch = (url, init) => {
        if (/^\\/jobs\\/[^/?]+$/.test(url)) window.__polls.push(location.hash);
        return fetchNow(url, init);
    };
}"""


def test_leaving_the_view_stops_the_retries(server: Server, browser_en: Browser) -> None:
    """The dispatcher leaves the day board while its job panel is reconnecting: following the
    job ends (no more tries, although the server still does not answer), and no job status
    is asked from the view gone to."""
    page: Any = browser_en.page
    page.route(JOB_STATUS, lambda route: route.abort("connectionrefused"))
    _day_board_of_date(page, server)
    page.evaluate(LOG_JOB_POLLS)
    page.fill("#budget", "1")
    page.click("#start-plan")
    page.wait_for_selector("#job .job-reconnecting")
    page.evaluate("location.hash = '#/planner'")
    page.wait_for_selector("#placement-form")
    page.wait_for_selector('body[data-jobs-followed="0"]')
    polls = page.evaluate("window.__polls")
    assert polls and all(p == "#/day" for p in polls), polls
    assert page.locator(".msg-error").count() == 0


JOB_CANCEL = re.compile(r"/jobs/[^/?]+/cancel$")
CANCEL_FAILED = {
    "en": "Cancel did not go through (no response); the job is still followed.",
    "zh": "取消未成功（状态码 503），仍在跟踪该任务。",
}
"""What the job panel says when Cancel got no answer (en) or a 503 (zh)."""


def _hold_running(held: dict[str, bool]) -> Any:
    """A job status handler that asks the server and, while ``held["on"]``, answers that the
    job is still running (so that the page follows it for as long as the test needs)."""

    def answer(route: Any) -> None:
        res = route.fetch()
        job = res.json()
        if held["on"] and job.get("status") in ("queued", "running", "succeeded"):
            job = {**job, "status": "running", "progress": 0.5, "plan": None}
        route.fulfill(response=res, json=job)

    return answer


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_cancel_lost_in_a_restart_keeps_the_job_followed(
    server: Server, lang: str, request: pytest.FixtureRequest
) -> None:
    """Cancel is pressed while the server restarts: the request gets no answer (en) or a 503
    (zh). The panel says so under the job, in the page's language, Cancel can be pressed again,
    and the job is still followed to its end."""
    b: Browser = request.getfixturevalue(f"browser_{lang}")
    page: Any = b.page
    held = {"on": True}
    cancels: list[str] = []

    def restarting(route: Any) -> None:
        cancels.append(route.request.url)
        if lang == "en":
            route.abort("connectionrefused")
        else:
            route.fulfill(status=503, content_type="application/problem+json", body=UNAVAILABLE)

    page.route(JOB_STATUS, _hold_running(held))
    page.route(JOB_CANCEL, restarting)
    _start_a_plan_on_the_day_board(page, server)
    page.wait_for_selector('#job .job-status[data-status="running"]')
    page.click("#cancel-job")
    page.wait_for_selector("#job .cancel-error")
    assert page.inner_text("#job .cancel-error") == CANCEL_FAILED[lang]
    assert page.is_enabled("#cancel-job")
    page.wait_for_timeout(1000)  # a few more polls: the job is still followed
    assert page.get_attribute("body", "data-jobs-followed") == "1"
    assert page.locator("#job .job-status").count() == 1
    shot(page, f"{lang}-job-cancel-failed")
    if lang == "zh":
        assert_no_english(page, server, "cancel failed")
    held["on"] = False
    page.wait_for_selector("#open-new-plan", timeout=120_000)
    assert page.get_attribute("#job .job-status", "data-status") == "succeeded"
    assert len(cancels) == 1
    assert b.foreign_hosts(server.url) == set()


def test_a_poll_without_an_answer_is_asked_again(server: Server, browser_en: Browser) -> None:
    """A job status request that hangs (the server took it and never answers) is given up
    after its timeout (the page's clock is moved on past it) and treated as no answer: the
    panel says it is reconnecting, asks again, and follows the job to its end."""
    page: Any = browser_en.page
    page.clock.install()  # time flows as usual until the test moves it on
    hung: list[Any] = []
    asked: list[str] = []

    def second_hangs(route: Any) -> None:
        asked.append(route.request.url)
        if len(asked) == 2:
            hung.append(route)  # never answered
        else:
            route.continue_()

    page.route(JOB_STATUS, second_hangs)
    _start_a_plan_on_the_day_board(page, server)
    for _ in range(100):
        if hung:
            break
        page.wait_for_timeout(100)
    assert hung, "the page did not ask a second time"
    assert page.locator("#job .job-reconnecting").count() == 0
    page.clock.run_for(21_000)  # past the poll's timeout
    page.wait_for_selector('#job .job-reconnecting[data-tries="1"]', timeout=10_000)
    assert page.locator("#job .msg-error").count() == 0
    page.clock.run_for(2_000)  # the wait before the next try
    page.wait_for_selector("#open-new-plan", timeout=120_000)
    assert page.locator("#job .job-reconnecting").count() == 0
    assert len(asked) >= 3


def test_switching_the_language_keeps_the_job_followed(server: Server, browser_en: Browser) -> None:
    """The dispatcher switches to Chinese while the day board follows a job: the job is still
    followed, its status drawn again in Chinese, and its plan offered at its end."""
    page: Any = browser_en.page
    held = {"on": True}
    page.route(JOB_STATUS, _hold_running(held))
    _start_a_plan_on_the_day_board(page, server)
    page.wait_for_selector('#job .job-status[data-status="running"]')
    assert "running" in page.inner_text("#job .job-status")
    page.click("#lang")
    page.wait_for_selector("html[lang=zh-CN] #job .job-status")
    page.wait_for_function(
        "document.querySelector('#job .job-status').textContent.includes('运行中')",
        timeout=10_000,
    )
    page.wait_for_timeout(1000)
    assert page.get_attribute("body", "data-jobs-followed") == "1"
    assert page.is_enabled("#cancel-job")
    assert_no_english(page, server, "job after the language switch")
    held["on"] = False
    page.wait_for_selector("#open-new-plan", timeout=120_000)
    assert "已完成" in page.inner_text("#job .job-status")
    assert page.locator("#job .msg-error").count() == 0
    page.wait_for_selector('body[data-jobs-followed="0"]')


def test_the_planner_module_exports_no_follow_job(server: Server, browser_en: Browser) -> None:
    """``planner.js`` does not re-export ``followJob`` (nothing imports it from there; the
    console follows jobs through ``day.js``'s job panel)."""
    page: Any = browser_en.page
    sign_in(page, server, "planner")
    page.wait_for_selector("#placement-form")
    names = page.evaluate(
        "async () => Object.keys(await import('/console/static/js/planner.js')).sort()"
    )
    assert names == ["plannerView"], names
