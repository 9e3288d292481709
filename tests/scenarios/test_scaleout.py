"""scenarios.scaleout: serial, local-process and Ray executors return the same results in the
order of the inputs; several counties' days planned at once; simulations agree across
backends for the same seeds. The Ray tests start a local Ray instance and are skipped where
Ray is not installed (the default CI installs only the dev extra); the local-vs-serial tests
always run."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import replace

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
