"""Benchmarks of the planner tools: placement solved to optimality, and what-if simulation of
the built-in county with the time per simulated day and how it falls with more workers.

Inputs are built outside the timed part; the work is fixed (seeded networks, and simulated
days planned with a solution count, not a clock). ``make bench`` runs them for real: 30 days
(``COUNTYROUTE_BENCH_DAYS``); CI runs each once with ``--benchmark-disable`` on 2 days so they
cannot rot. Numbers go to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from networks import Site, SiteKind
from scenarios.bundle import Scenario
from scenarios.placement import (
    Model,
    PlacementInstance,
    PlacementParams,
    PlacementStatus,
    placement_instance,
    solve_placement,
)
from scenarios.scaleout import LocalExecutor, SerialExecutor
from scenarios.synthetic import generate_synthetic
from scenarios.whatif import Change, SimulationSettings, run_simulation

DAYS_ENV = "COUNTYROUTE_BENCH_DAYS"


def county_with_candidates(n_villages: int = 200, n_extra: int = 100, seed: int = 1) -> Scenario:
    """A synthetic county of ``n_villages`` villages plus ``n_extra`` candidate sites at the
    middle of its longest roads: ~300 candidates (every village and the extra sites)."""
    sc = generate_synthetic(n_villages, seed=seed)
    net = sc.network
    roads = sorted(net.roads, key=lambda r: (-len(r.coords), r.id))[:n_extra]
    extra = tuple(
        Site(f"cand-{k:03d}", f"candidate {k}", SiteKind.CANDIDATE, *r.coords[len(r.coords) // 2])
        for k, r in enumerate(roads)
    )
    return replace(sc, network=replace(net, sites=net.sites + extra))


@pytest.fixture(scope="module")
def big_instance() -> PlacementInstance:
    sc = county_with_candidates()
    inst = placement_instance(sc.network, PlacementParams())
    assert len(inst.villages) == 200 and len(inst.candidates) == 300
    return inst


@pytest.mark.parametrize(
    "params",
    [
        PlacementParams(radius_m=3000, min_coverage=0.6),
        PlacementParams(radius_m=3000, min_coverage=0.9),
        PlacementParams(radius_m=3000, points=20),
        pytest.param(
            PlacementParams(radius_m=3000, points=20, model=Model.P_MEDIAN),
            marks=pytest.mark.heavy,
        ),
    ],
    ids=["set-cover-60", "set-cover-90", "max-cover-20", "p-median-20"],
)
def test_placement_200_villages_300_candidates(
    benchmark: pytest.FixtureRequest, big_instance: PlacementInstance, params: PlacementParams
) -> None:
    sol = benchmark(solve_placement, big_instance, params)  # type: ignore[operator]
    assert sol.status is PlacementStatus.OPTIMAL
    assert sol.all_poor_covered


def _days(benchmark: object) -> int:
    if getattr(benchmark, "disabled", False):
        return 2
    return int(os.environ.get(DAYS_ENV, "30"))


@pytest.mark.heavy
@pytest.mark.parametrize("workers", [1, 2])
def test_simulate_yanshi_growth30(benchmark: pytest.FixtureRequest, workers: int) -> None:
    """Days of the built-in county, as is and +30 %, every tier search stopped after 5
    solutions (fixed work); time per simulated day = wall time / days (both variants)."""
    from scenarios.bundle import load_bundle

    yanshi = load_bundle("yanshi")
    settings = SimulationSettings(days=_days(benchmark), solutions=5)
    change = Change(name="growth30", growth_per_year=0.3)

    def run() -> float:
        ex = LocalExecutor(workers) if workers > 1 else SerialExecutor()
        with ex:
            result = run_simulation(yanshi, change, settings, executor=ex)
        assert len(result.change_days) == settings.days
        return result.seconds_per_day

    per_day = benchmark.pedantic(run, rounds=1, iterations=1)  # type: ignore[attr-defined]
    benchmark.extra_info["days"] = settings.days  # type: ignore[attr-defined]
    benchmark.extra_info["seconds_per_day"] = round(per_day, 3)  # type: ignore[attr-defined]
