"""Helpers and fixtures of the console tests: a real ``countyroute serve`` on a free port with the
built-in county imported, keys per role, and Debian's Chromium driven by Playwright (never a
downloaded browser). Every browser test records the hosts its page asked for."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

ROOT = Path(__file__).parents[2]
SCREENSHOTS = ROOT / "out" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
DATE = "2026-12-01"
YESTERDAY = "2026-11-30"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    return 8010 if port == 8000 else port


@dataclass
class Server:
    url: str
    database_url: str
    keys: dict[str, str]
    workdir: Path

    def api(self, role: str = "admin") -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.keys[role]}"},
            timeout=60,
        )

    def wait_job(self, client: httpx.Client, job_id: str) -> dict[str, object]:
        for _ in range(600):
            job = client.get(f"/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "failed"):
                return dict(job)
            time.sleep(0.2)
        raise AssertionError(f"job {job_id} did not finish")


def countyroute(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the command line of this environment and return what it printed."""
    exe = Path(sys.executable).with_name("countyroute")
    return subprocess.run(
        [str(exe), *args], env=env or dict(os.environ), check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``countyroute serve`` on a free port (never 8000) with a fresh SQLite file; the built-in
    county imported, yesterday's demand planned and published (for the comparison), today's
    orders written to ``orders.csv`` but *not* imported (the browser uploads them)."""
    work = tmp_path_factory.mktemp("console")
    db = f"sqlite:///{work / 'console.db'}"
    port = _free_port()
    env = {**os.environ, "COUNTYROUTE_DATABASE_URL": db, "COUNTYROUTE_JOB_WORKERS": "1"}
    keys = {"admin": countyroute("apikey", "create", "--name", "admin", "--role", "admin", env=env)}
    exe = Path(sys.executable).with_name("countyroute")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--database-url", db],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=open(work / "server.log", "w"),  # noqa: SIM115 - closed with the process
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("the server did not start: " + (work / "server.log").read_text())
        srv = Server(url, db, keys, work)
        with srv.api() as c:
            assert c.post("/networks", json={"builtin": "yanshi"}).status_code == 201
            for role in ("dispatcher", "planner"):
                keys[role] = c.post("/keys", json={"name": role, "role": role}).json()["key"]
            keys["courier"] = countyroute(
                "apikey", "create", "--name", "van driver", "--role", "courier",
                "--network", "yanshi", "--courier", "c-van-mangling-1", env=env,
            )  # fmt: skip
            for day, name in ((YESTERDAY, "yesterday.csv"), (DATE, "orders.csv")):
                countyroute(
                    "demand", "yanshi", "--date", day, "--seed", "7", "--out", str(work / name),
                    env=env,
                )  # fmt: skip
            r = c.post(
                f"/networks/yanshi/orders?date={YESTERDAY}",
                content=(work / "yesterday.csv").read_bytes(),
                headers={"Content-Type": "text/csv"},
            )
            assert r.status_code == 200, r.text
            job = c.post(
                "/networks/yanshi/plans", json={"date": YESTERDAY, "time_limit_s": 1}
            ).json()
            done = srv.wait_job(c, job["id"])
            assert done["status"] == "succeeded", done
            assert c.post(f"/plans/{done['plan']}/publish").status_code == 200
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class Browser:
    """A page in a fresh Chromium profile, with every requested URL recorded."""

    page: object
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Uncaught script errors and console errors of the page (shown when a test fails)."""

    def foreign_hosts(self, own: str) -> set[str]:
        host = urlsplit(own).netloc
        return {
            urlsplit(u).netloc
            for u in self.requests
            if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).netloc != host
        }


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[object]:
    """Playwright for one test module: its sync API runs an event loop of its own, and a
    second one (``benchmarks/bench_console.py`` in the same pytest run) may only start once
    this one has stopped."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make setup does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


def open_browser(
    playwright_instance: object, tmp_path: Path, locale: str
) -> tuple[object, Browser]:
    user_data = tmp_path / f"profile-{locale}"
    shutil.rmtree(user_data, ignore_errors=True)
    context = playwright_instance.chromium.launch_persistent_context(  # type: ignore[attr-defined]
        str(user_data),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        headless=True,
        locale=locale,
        viewport={"width": 1600, "height": 1000},
        timezone_id="Asia/Shanghai",
    )
    page = context.pages[0] if context.pages else context.new_page()
    b = Browser(page)
    context.on("request", lambda req: b.requests.append(req.url))
    page.on("pageerror", lambda exc: b.errors.append(f"pageerror: {exc}"))  # type: ignore[attr-defined]
    page.on(  # type: ignore[attr-defined]
        "console", lambda m: b.errors.append(f"console: {m.text}") if m.type == "error" else None
    )
    return context, b


@pytest.fixture
def browser_en(playwright_instance: object, tmp_path: Path) -> Iterator[Browser]:
    """Chromium whose browser language is English."""
    context, b = open_browser(playwright_instance, tmp_path, "en-GB")
    yield b
    print("\n".join(b.errors))
    context.close()  # type: ignore[attr-defined]


@pytest.fixture
def browser_zh(playwright_instance: object, tmp_path: Path) -> Iterator[Browser]:
    """Chromium whose browser language is Chinese (zh-CN): the console must pick it."""
    context, b = open_browser(playwright_instance, tmp_path, "zh-CN")
    yield b
    print("\n".join(b.errors))
    context.close()  # type: ignore[attr-defined]


def shot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)  # type: ignore[attr-defined]
    return path
