"""Benchmarks of the scenario stage: loading and validating a day, generating scenarios.

``bench_network.py`` times a bundle's network load and its matrices; this suite adds what a
day brings on top — the orders CSV parsed and validated with the bundle, validation of a
whole scenario on its own — and the seeded generators (synthetic counties along the size
ladder, one day's demand). Inputs are built outside the timed part; the work is fixed (seeded
generators, fixed files).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.ladder import (
    DATE,
    DEMAND_SEED,
    SCENARIO_SEED,
    Instance,
    fresh_network,
    villages_for,
)
from scenarios.bundle import Scenario, load_bundle
from scenarios.demand import generate_demand
from scenarios.synthetic import generate_synthetic


def rounds_for(points: int) -> int:
    """Fewer rounds for the big steps of the ladder."""
    return 1 if points >= 5000 else 3


def test_load_yanshi_bundle_with_a_days_orders(
    benchmark: Any, yanshi: Instance, yanshi_orders_csv: Path
) -> None:
    """Network, fleet, policy and ~9,000 orders parsed and validated (``load_bundle``)."""
    scenario = benchmark(load_bundle, "yanshi", orders=yanshi_orders_csv)
    assert scenario.orders == yanshi.orders


def test_validate_yanshi_day(benchmark: Any, yanshi: Instance) -> None:
    """Validation alone: fleet, orders and reachability on a network with nothing cached
    (its road index is built inside the timed part, as a load would)."""
    sc = yanshi.scenario

    def fresh() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (fresh_network(sc.network),), {}

    def validate(network: Any) -> Scenario:
        return Scenario(sc.name, network, sc.fleet, sc.policy, yanshi.orders, DATE)

    scenario = benchmark.pedantic(validate, setup=fresh, rounds=5, iterations=1)
    assert scenario.network == sc.network


def test_generate_yanshi_demand(benchmark: Any, yanshi: Instance) -> None:
    """One day's orders of the built-in county (seeded: equal to the fixture's)."""
    orders = benchmark(generate_demand, yanshi.scenario, DATE, DEMAND_SEED)
    assert orders == yanshi.orders


def test_generate_synthetic_county(benchmark: Any, ladder_points: int) -> None:
    """A synthetic county along the ladder: outline, roads, sites, fleet, validation."""
    scenario = benchmark.pedantic(
        generate_synthetic,
        args=(villages_for(ladder_points),),
        kwargs={"seed": SCENARIO_SEED},
        rounds=rounds_for(ladder_points),
        iterations=1,
    )
    assert len(scenario.network.village_points) == ladder_points


def test_generate_ladder_demand(benchmark: Any, ladder: Instance, ladder_points: int) -> None:
    """One day's orders of a ladder step (seeded: equal to the fixture's)."""
    orders = benchmark.pedantic(
        generate_demand,
        args=(ladder.scenario, DATE, DEMAND_SEED),
        rounds=rounds_for(ladder_points),
        iterations=1,
    )
    assert orders == ladder.orders
