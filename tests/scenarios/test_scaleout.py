"""scenarios.scaleout: serial, local-process and Ray executors return the same results in the
order of the inputs; several counties' days planned at once; simulations agree across
backends for the same seeds; a task that kills its worker process is reported through
``lost`` while the others finish. The Ray tests start a local Ray instance and are skipped
where Ray is not installed (the default CI installs only the dev extra); the local-vs-serial
tests always run."""

from __future__ import annotations

import io
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

import pytest

from routing import DayInput
from scenarios.bundle import Scenario
from scenarios.demand import generate_demand
from scenarios.scaleout import (
    Executor,
    LocalExecutor,
    PlanSettings,
    ProgressLine,
    SerialExecutor,
    WorkerDied,
    make_executor,
    plan_many,
)
from scenarios.whatif import Change, SimulationSettings, run_simulation

SETTINGS = SimulationSettings(days=2, start="2026-04-06", seed=7, solutions=10)
"""Deterministic days (every search stopped after 10 solutions)."""


def square_plus(offset: int, x: int) -> int:
    """A task whose cost grows with x, so later items finish first in a pool."""
    total = 0
    for k in range((20 - x) * 20_000):
        total += k % 7
    return x * x + offset + total * 0


def crash_on(log: str, x: int) -> int:
    """A task that notes each run in the file ``log`` and kills its own worker process for
    some items: 3 by SIGKILL (as the OOM killer does), 5 by exiting with code 3, and 7 only on
    its first run (a crash that happens sometimes)."""
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"{x}\n")
    if x == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    if x == 5:
        os._exit(3)
    if x == 7 and not os.path.exists(f"{log}.7"):
        Path(f"{log}.7").touch()
        os._exit(1)
    return x * x


def runs(log: Path) -> Counter[int]:
    """How many times each item of :func:`crash_on` was run."""
    return Counter(int(line) for line in log.read_text().split())


def counties(tiny: Scenario) -> list[DayInput]:
    """Two "counties" planned at once: the tiny bundle, and the same network with one van
    less and 30 % more demand (a different day)."""
    a = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")
    orders = generate_demand(tiny, "2026-12-02", 3)
    fleet = (*(v for v in tiny.fleet if v.id != "van2"), replace(tiny.fleet[1], id="van9"))
    b = DayInput("tiny-2", tiny.network, fleet, tiny.policy, orders, "2026-12-02")
    return [a, b]


def test_serial_and_local_give_results_in_input_order() -> None:
    items = list(range(12))
    calls: list[tuple[int, int]] = []
    serial = SerialExecutor().map(square_plus, 1, items)
    with LocalExecutor(2) as local:
        pooled = local.map(square_plus, 1, items, progress=lambda d, t: calls.append((d, t)))
    assert serial == pooled == [x * x + 1 for x in items]
    assert calls[-1] == (12, 12) and len(calls) == 12


def test_a_task_that_kills_its_worker_is_lost_and_the_others_finish(tmp_path: Path) -> None:
    log = tmp_path / "runs"
    items = list(range(7))
    seen: list[int] = []
    why: dict[int, str] = {}

    def lost(k: int, exc: BaseException) -> int:
        assert isinstance(exc, WorkerDied)
        why[k] = str(exc)
        return -1

    with LocalExecutor(2) as ex:
        out = ex.map(crash_on, str(log), items, each=lambda k, r: seen.append(k), lost=lost)
        # 7 crashes its worker the first time, then succeeds when run again alone
        assert ex.map(crash_on, str(tmp_path / "again"), [6, 7, 8], lost=lost) == [36, 49, 64]
    assert out == [-1 if x in (3, 5) else x * x for x in items]
    assert why == {
        3: "worker process died (signal 9, SIGKILL)",
        5: "worker process died (exit code 3)",
    }
    assert sorted(seen) == items  # each result reported once
    count = runs(log)
    # a task in hand when a worker died runs once more, alone (each crash in the pool puts
    # at most two in hand); no other task runs twice
    assert set(count) == set(items) and max(count.values()) == 2
    assert sum(count.values()) <= len(items) + 2 * 2
    assert runs(tmp_path / "again")[7] == 2


def test_without_lost_a_dying_worker_raises_and_the_pool_is_replaced(tmp_path: Path) -> None:
    with LocalExecutor(2) as ex:
        with pytest.raises(BrokenProcessPool):
            ex.map(crash_on, str(tmp_path / "runs"), [1, 3, 4])
        assert ex.map(crash_on, str(tmp_path / "runs"), [1, 2]) == [1, 4]  # a fresh pool


def test_make_executor_picks_the_backend() -> None:
    assert isinstance(make_executor(1), SerialExecutor)
    with make_executor(2) as ex:
        assert isinstance(ex, LocalExecutor) and ex.workers == 2


def test_several_counties_planned_at_once_match_one_by_one(tiny: Scenario) -> None:
    days = counties(tiny)
    settings = PlanSettings(solutions=10)
    one_by_one = [settings.plan(d) for d in days]
    with LocalExecutor(2) as ex:
        together = plan_many(days, settings, executor=ex)
    for a, b in zip(one_by_one, together, strict=True):
        assert a.routes == b.routes and a.deferred == b.deferred


@pytest.fixture(scope="module")
def county() -> Scenario:
    """A synthetic county of 20 villages whose fleet is sized for its demand."""
    from scenarios.synthetic import generate_synthetic

    return generate_synthetic(20, seed=3)


def test_local_processes_simulate_the_same_days_as_serial(county: Scenario) -> None:
    change = Change(name="growth", growth_per_year=0.3)
    serial = run_simulation(county, change, SETTINGS)
    with LocalExecutor(2) as ex:
        local = run_simulation(county, change, SETTINGS, executor=ex)
    assert local.backend == "local"
    assert serial.base_days == local.base_days
    assert serial.change_days == local.change_days


def test_progress_line_prints_every_tenth_off_a_terminal() -> None:
    out = io.StringIO()
    bar = ProgressLine("days", stream=out)
    for done in range(1, 21):
        bar(done, 20)
    lines = out.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].startswith("days [#####")  # 0 %, 10 %, … 100 %
    assert "20/20" in lines[-1]


# ------------------------------------------------------------------------------ Ray
@pytest.fixture(scope="module")
def ray_executor() -> Iterator[Executor]:
    """A local Ray instance with two CPUs, started once for this module's Ray tests."""
    pytest.importorskip("ray")
    from scenarios.scaleout import RayExecutor

    ex = RayExecutor("local", workers=2)
    yield ex
    ex.close()


def test_ray_returns_what_serial_returns(ray_executor: Executor) -> None:
    # a function Ray's workers can import (this test module is not on their path)
    names = [f"day{k}" for k in range(8)]
    assert ray_executor.map(os.path.join, "out", names) == [f"out/day{k}" for k in range(8)]


def test_ray_and_local_simulations_agree(county: Scenario, ray_executor: Executor) -> None:
    change = Change(name="growth", growth_per_year=0.3)
    with LocalExecutor(2) as ex:
        local = run_simulation(county, change, SETTINGS, executor=ex)
    on_ray = run_simulation(county, change, SETTINGS, executor=ray_executor)
    assert on_ray.backend == "ray"
    assert on_ray.base_days == local.base_days
    assert on_ray.change_days == local.change_days


def test_ray_plans_several_counties(tiny: Scenario, ray_executor: Executor) -> None:
    days = counties(tiny)
    settings = PlanSettings(solutions=10)
    plans = plan_many(days, settings, executor=ray_executor)
    assert [p.scenario for p in plans] == ["tiny", "tiny-2"]
    assert plans[0].routes == settings.plan(days[0]).routes


def test_ray_reports_a_task_whose_worker_died(ray_executor: Executor, tmp_path: Path) -> None:
    import ray  # type: ignore[import-not-found,unused-ignore]

    log = tmp_path / "runs"
    why: dict[int, str] = {}

    def lost(k: int, exc: BaseException) -> int:
        why[k] = str(exc)
        return -1

    # Ray's workers cannot import this test module: send crash_on by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        out = ray_executor.map(crash_on, str(log), [1, 3, 7], lost=lost)
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert out == [1, -1, 49]  # 7 crashed once and succeeded on its retry
    assert why == {1: "worker process died (Ray: WorkerCrashedError)"}
    assert runs(log) == {1: 1, 3: 2, 7: 2}  # one retry (max_retries=1), not Ray's default 3
