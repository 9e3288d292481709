"""scenarios.batch and ``countyroute plan-batch``: every county of a region planned and
checked, a broken county reported while the others finish (also one whose worker process
dies), resume after a kill, and the same plans locally and on Ray (a local Ray instance;
skipped where Ray is not installed)."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from dispatch_api.cli import main
from networks import InvalidScenario
from scenarios.batch import (
    COUNTY_FILE,
    BatchSettings,
    County,
    CountyResult,
    plan_batch,
    region_counties,
)
from scenarios.scaleout import Each, LocalExecutor, Lost, Progress, SerialExecutor

S = TypeVar("S")
R = TypeVar("R")

DATE = "2026-12-01"
SETTINGS = BatchSettings(DATE, work=20)
"""Every search stopped after 20 units of work: the same plans on every backend."""
ROOT = Path(__file__).parents[2]


def make_region(tiny_path: Path, folder: Path, names: list[str]) -> Path:
    """A region of copies of the tiny bundle, one per name, listed in region.toml."""
    folder.mkdir(parents=True)
    for n in names:
        shutil.copytree(tiny_path, folder / n)
    listed = ", ".join(f'"{n}"' for n in names)
    (folder / "region.toml").write_text(
        f'name = "test"\ndate = "{DATE}"\nseed = 1\ncounties = [{listed}]\n', encoding="utf-8"
    )
    return folder


@pytest.fixture
def region(tiny_path: Path, tmp_path: Path) -> Path:
    """Three counties (copies of tiny) and a fourth whose fleet.csv is cut short."""
    folder = make_region(tiny_path, tmp_path / "region", ["north", "east", "south", "broken"])
    fleet = folder / "broken" / "fleet.csv"
    fleet.write_text(fleet.read_text().splitlines()[0] + "\nvan1,van\n", encoding="utf-8")
    return folder


def test_counties_come_in_region_toml_order_else_sorted(tiny_path: Path, tmp_path: Path) -> None:
    folder = make_region(tiny_path, tmp_path / "r", ["b", "a"])
    assert [c.name for c in region_counties(folder)] == ["b", "a"]
    (folder / "region.toml").unlink()
    assert [c.name for c in region_counties(folder)] == ["a", "b"]
    (folder / "region.toml").write_text(
        f'name = "r"\ndate = "{DATE}"\nseed = 1\ncounties = ["a", "zz"]\n'
    )
    with pytest.raises(InvalidScenario, match="zz"):
        region_counties(folder)


def test_every_county_planned_and_checked_and_a_broken_one_reported(
    region: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["plan-batch", "--region", str(region), "--date", DATE, "--out", str(out)]
    code = main([*argv, "--solution-limit", "20", "--workers", "2"])
    assert code == 1  # one county failed
    printed = capsys.readouterr()
    assert "[4/4]" in printed.err  # progress as counties finish
    assert "failed: broken: input: fleet.csv, row 1" in printed.out
    summary = json.loads((out / "region-summary.json").read_text())
    by_name = {c["county"]: c for c in summary["counties"]}
    assert [c["county"] for c in summary["counties"]] == ["north", "east", "south", "broken"]
    assert by_name["broken"]["status"] == "failed" and not (out / "broken").exists()
    for name in ("north", "east", "south"):
        c = by_name[name]
        assert c["status"] == "planned" and c["check_ok"] and c["vehicles"] > 0
        assert json.loads((out / name / "check.json").read_text())["ok"]
        # the folder is a plan folder like `countyroute plan` writes: it checks on its own
        assert main(["check", str(out / name)]) == 0
    totals = summary["totals"]
    assert totals["failed"] == 1 and totals["planned"] == 3
    assert totals["cost"] == pytest.approx(sum(by_name[n]["cost"] for n in by_name))


def test_resume_plans_only_what_is_missing(region: Path, tmp_path: Path) -> None:
    counties = region_counties(region)[:3]
    out = tmp_path / "out"
    first = plan_batch(counties, SETTINGS, out)
    assert [c.status for c in first.counties] == ["planned"] * 3
    shutil.rmtree(out / "east")
    again = plan_batch(counties, SETTINGS, out)
    assert [c.status for c in again.counties] == ["resumed", "planned", "resumed"]
    assert again.counties[0].cost == first.counties[0].cost
    other_day = plan_batch(counties[:1], BatchSettings("2026-12-02", work=20), out)
    assert other_day.counties[0].status == "planned"  # another date is not "done"
    fresh = plan_batch(counties[:1], SETTINGS, out, resume=False)
    assert fresh.counties[0].status == "planned"


def test_a_killed_batch_leaves_whole_folders_and_resumes(tiny_path: Path, tmp_path: Path) -> None:
    names = [f"c{k}" for k in range(6)]
    folder = make_region(tiny_path, tmp_path / "region", names)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "dispatch_api.cli", "plan-batch", "--region", str(folder)]
    cmd += ["--date", DATE, "--out", str(out), "--workers", "1", "--solution-limit", "20"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
    assert proc.stderr is not None
    for line in proc.stderr:  # kill it as soon as the first county is done
        if line.startswith(b"[1/6]"):
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = [n for n in names if (out / n).exists()]
    # every folder named after a county is complete (half-written ones are .partial-*)
    assert all((out / n / COUNTY_FILE).is_file() for n in done)
    assert 1 <= len(done) < len(names)
    batch = plan_batch(region_counties(folder), SETTINGS, out)
    assert sum(c.status == "resumed" for c in batch.counties) == len(done)
    assert all(c.check_ok for c in batch.counties)
    assert not list(out.glob(".partial-*"))


def _poisoned(job: tuple[Callable[[S, tuple[County, str]], R], S], item: tuple[County, str]) -> R:
    """A batch task, except that the county named ``poison`` kills its worker process (as the
    OOM killer or a crash in native code would)."""
    if item[0].name == "poison":
        os.kill(os.getpid(), signal.SIGKILL)
    return job[0](job[1], item)


class PoisonedLocal(LocalExecutor):
    """Local processes whose task for the county named ``poison`` kills its worker: no
    bundle is known that crashes a worker, so the poison is put into the task itself."""

    def map(
        self,
        fn: Callable[[S, Any], R],
        shared: S,
        items: Sequence[Any],
        *,
        progress: Progress | None = None,
        each: Each | None = None,
        lost: Lost[R] | None = None,
    ) -> list[R]:
        return super().map(_poisoned, (fn, shared), items, progress=progress, each=each, lost=lost)


def test_a_county_that_kills_its_worker_fails_and_the_others_are_planned(
    tiny_path: Path, tmp_path: Path
) -> None:
    names = ["north", "poison", "east", "south"]
    counties = region_counties(make_region(tiny_path, tmp_path / "region", names))
    out = tmp_path / "out"
    with PoisonedLocal(2) as ex:
        batch = plan_batch(counties, SETTINGS, out, executor=ex)
    by_name = {c.county: c for c in batch.counties}
    assert [c.county for c in batch.counties] == names
    assert [c.county for c in batch.failed] == ["poison"]
    error = "worker process died (signal 9, SIGKILL) while planning poison"
    assert by_name["poison"].error == error and not (out / "poison").exists()
    assert all(
        by_name[n].status == "planned" and by_name[n].check_ok for n in names if n != "poison"
    )
    assert f"failed: poison: {error}" in (out / "region-summary.md").read_text()
    summary = json.loads((out / "region-summary.json").read_text())
    assert summary["totals"]["failed"] == 1 and summary["totals"]["planned"] == 3
    again = plan_batch(counties, SETTINGS, out)  # resume: only the lost county is planned
    assert [c.status for c in again.counties] == ["resumed", "planned", "resumed", "resumed"]


def test_a_worker_killed_mid_batch_costs_a_retry_not_the_batch(
    tiny_path: Path, tmp_path: Path
) -> None:
    """Every worker process is SIGKILLed as the first county finishes (a crash that does not
    come from any county): the counties in hand are planned again, alone, and all succeed."""
    names = [f"c{k}" for k in range(4)]
    counties = region_counties(make_region(tiny_path, tmp_path / "region", names))
    killed: set[int] = set()

    def progress(done: int, total: int, result: CountyResult) -> None:
        if not killed:
            for proc in multiprocessing.active_children():  # this executor's workers
                assert proc.pid is not None
                killed.add(proc.pid)
                os.kill(proc.pid, signal.SIGKILL)

    with LocalExecutor(2) as ex:
        batch = plan_batch(counties, SETTINGS, tmp_path / "out", executor=ex, progress=progress)
    assert killed and not batch.failed
    assert all(c.status == "planned" and c.check_ok for c in batch.counties)
    pids = [int(c.worker.rsplit(":", 1)[1]) for c in batch.counties]
    assert len(set(pids) & killed) <= 2  # only those done before the kill (at most two)


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of a county's plan folder, with the run's timings taken out."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if path.name in ("plan.json", COUNTY_FILE):
            doc = json.loads(data)
            for key in ("solve_s", "wall_s", "cpu_s", "peak_rss_mib", "worker"):
                doc.pop(key, None)
            data = json.dumps(doc, sort_keys=True).encode()
        if path.name == "summary.md":  # "solved in 0.1 s"
            data = re.sub(rb"solved in [0-9.]+ s", b"solved in - s", data)
        out[str(path.relative_to(folder))] = data
    return out


def test_local_processes_write_the_same_plans_as_serial(region: Path, tmp_path: Path) -> None:
    counties = region_counties(region)[:2]
    plan_batch(counties, SETTINGS, tmp_path / "serial", executor=SerialExecutor())
    with LocalExecutor(2) as ex:
        plan_batch(counties, SETTINGS, tmp_path / "local", executor=ex)
    for c in counties:
        assert _files(tmp_path / "serial" / c.name) == _files(tmp_path / "local" / c.name)


def test_ray_writes_the_same_plans_as_local(region: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    from scenarios.scaleout import RayExecutor

    counties: list[County] = region_counties(region)[:2]
    plan_batch(counties, SETTINGS, tmp_path / "serial")
    with RayExecutor("local", workers=2) as ex:
        batch = plan_batch(counties, SETTINGS, tmp_path / "ray", executor=ex)
    assert batch.backend == "ray" and not batch.failed
    for c in counties:
        assert _files(tmp_path / "serial" / c.name) == _files(tmp_path / "ray" / c.name)


# ------------------------------------------------------------------------------ a local cluster
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.is_file() and text in log.read_text(errors="replace"):
            return
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        time.sleep(0.5)
    pytest.fail(f"{log.name}: no {text!r} within {timeout_s:.0f} s")


@pytest.mark.slow
def test_plan_batch_runs_unchanged_on_a_two_node_local_ray_cluster(
    region: Path, tmp_path: Path
) -> None:
    """docs/region.md's recipe: a head and a second node on this machine (one CPU each),
    ``plan-batch --ray ADDRESS``, then both nodes stopped. Each ``ray start --block`` is
    stopped by its own pid (``ray stop`` would stop every Ray on a shared machine)."""
    pytest.importorskip("ray")
    ray_bin = Path(sys.executable).parent / "ray"
    port = _free_port()
    short = Path(tempfile.mkdtemp(prefix="cr-ray-", dir="/tmp"))  # Ray's socket paths are short
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
    }
    common = ["--num-cpus", "1", "--disable-usage-stats", "--block"]
    head_cmd = [str(ray_bin), "start", "--head", "--port", str(port), *common]
    head_cmd += ["--include-dashboard=false", "--temp-dir", str(short / "t")]
    head_cmd += ["--dashboard-agent-listen-port", str(_free_port())]
    node_cmd = [str(ray_bin), "start", "--address", f"127.0.0.1:{port}", *common]
    node_cmd += ["--dashboard-agent-listen-port", str(_free_port())]
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        for name, cmd in (("head", head_cmd), ("node", node_cmd)):
            log = tmp_path / f"{name}.log"
            with log.open("wb") as f:
                nodes.append(subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env))
            _wait_for(log, "block forever", nodes[-1], 120)
        out = tmp_path / "out"
        cmd = [sys.executable, "-m", "dispatch_api.cli", "plan-batch", "--region", str(region)]
        cmd += ["--date", DATE, "--out", str(out), "--solution-limit", "20"]
        cmd += ["--ray", f"127.0.0.1:{port}"]
        run = subprocess.run(cmd, env=env, capture_output=True, timeout=300)
        assert run.returncode == 1, run.stderr.decode()[-2000:]  # the broken county
        summary = json.loads((out / "region-summary.json").read_text())
        assert summary["backend"] == "ray" and summary["workers"] == 2  # both nodes' CPUs
        planned = [c for c in summary["counties"] if c["status"] == "planned"]
        assert len(planned) == 3 and all(c["check_ok"] for c in planned)
    finally:
        for proc in reversed(nodes):
            proc.send_signal(signal.SIGTERM)
        for proc in reversed(nodes):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(short, ignore_errors=True)


def test_a_county_folder_plans_again_the_same_with_its_wall_cap(
    region: Path, tmp_path: Path
) -> None:
    """A county's folder records its inputs and budget: ``plan --reproduce`` gives the same
    plan, with the batch's wall cap (the clock's safety net) recorded in its settings."""
    county = region_counties(region)[0]
    batch = plan_batch([county], BatchSettings(DATE, wall_cap=100), tmp_path / "out")
    assert float(batch.counties[0].settings["wall_cap"]) == 100
    assert main(["plan", "--reproduce", str(tmp_path / "out" / county.name)]) == 0
