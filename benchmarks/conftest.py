"""Shared inputs of the stage benchmarks, built once per session outside the timed part.

* ``yanshi`` — the built-in county (130 village points) and its demand for one day;
* ``ladder`` — a seeded synthetic county per step of the size ladder (village points):
  1,000 and 5,000 under ``make bench``; one small step (200) when the benchmarks are disabled
  (``--benchmark-disable``: CI runs every suite once), so the smoke run stays short.
  ``COUNTYROUTE_BENCH_LADDER="300 1000"`` sets the steps either way;
* ``*_captured`` — a checked day of each, planned under a solution limit, with every tier
  problem it solved: the trunk, village-run and checker suites time exactly that work again.

Helpers shared with ``python -m benchmarks.ladder`` live in :mod:`benchmarks.ladder`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks.ladder import (
    CapturedDay,
    Instance,
    capture_day,
    synthetic_instance,
    yanshi_instance,
)
from scenarios.bundle import orders_to_csv

LADDER_ENV = "COUNTYROUTE_BENCH_LADDER"
FULL_LADDER = (1000, 5000)
SMOKE_LADDER = (200,)


def ladder_steps(config: pytest.Config) -> tuple[int, ...]:
    """Village points of each ladder step: the env variable, else full or smoke."""
    raw = os.environ.get(LADDER_ENV, "").replace(",", " ").split()
    if raw:
        return tuple(int(x) for x in raw)
    return SMOKE_LADDER if config.getoption("benchmark_disable", False) else FULL_LADDER


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ladder_points" in metafunc.fixturenames:
        steps = ladder_steps(metafunc.config)
        metafunc.parametrize(
            "ladder_points", steps, ids=[f"{n}pts" for n in steps], scope="session"
        )


@pytest.fixture(scope="session")
def yanshi() -> Instance:
    """The built-in county and one day's orders: the product's reference day."""
    return yanshi_instance()


@pytest.fixture(scope="session")
def yanshi_orders_csv(yanshi: Instance, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference day's orders as the CSV a dispatcher would load."""
    path = tmp_path_factory.mktemp("bench-orders") / "orders.csv"
    path.write_text(orders_to_csv(yanshi.orders), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def ladder(ladder_points: int) -> Instance:
    """A synthetic county of ``ladder_points`` village points (proportional stations, fleet
    and demand), so growth with size is visible."""
    return synthetic_instance(ladder_points)


@pytest.fixture(scope="session")
def yanshi_captured(yanshi: Instance) -> CapturedDay:
    """The reference day under a solution limit: checked plan plus its tier problems."""
    return capture_day(yanshi)


@pytest.fixture(scope="session")
def ladder_captured(ladder: Instance) -> CapturedDay:
    """A ladder step's day under a solution limit: checked plan plus its tier problems."""
    return capture_day(ladder)
