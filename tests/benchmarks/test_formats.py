"""Benchmark formats and the route evaluator: readers, rounding, and broken solutions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks.formats import (
    Instance,
    evaluate_routes,
    instance_to_problem,
    read_instance,
    read_solution,
    rounded_distances,
)
from networks import InvalidScenario
from routing.evaluate import evaluate_solution
from routing.problem import SolveStatus, TierSolution, TierVisit

INSTANCES = Path(__file__).resolve().parents[2] / "benchmarks" / "instances"


@pytest.fixture(scope="module")
def x101() -> Instance:
    """X-n101-k25: the smallest CVRP X instance; its BKS uses 26 routes (k + 1)."""
    return read_instance(INSTANCES / "X-n101-k25.vrp")


@pytest.fixture(scope="module")
def rc208() -> Instance:
    """RC208: Solomon VRPTW with wide windows; the BKS (776.1, DIMACS tenths) has 4 routes."""
    return read_instance(INSTANCES / "RC208.txt")


@pytest.mark.parametrize(
    ("name", "file", "bks"),
    [
        ("X-n101-k25", "X-n101-k25.vrp", 27591),
        ("X-n148-k46", "X-n148-k46.vrp", 43448),
        ("X-n157-k13", "X-n157-k13.vrp", 16876),
        ("X-n200-k36", "X-n200-k36.vrp", 58578),
        ("X-n251-k28", "X-n251-k28.vrp", 38684),
        ("X-n303-k21", "X-n303-k21.vrp", 21736),
        ("X-n351-k40", "X-n351-k40.vrp", 25896),
        ("X-n401-k29", "X-n401-k29.vrp", 66154),
        ("RC208", "RC208.txt", 776.1),
    ],
)
def test_best_known_solution_reproduces_its_cost(name: str, file: str, bks: float) -> None:
    inst = read_instance(INSTANCES / file)
    sol = read_solution(INSTANCES / f"{name}.sol")
    ev = evaluate_routes(inst, sol.routes)
    assert ev.feasible, ev.violations
    assert inst.objective(ev.cost) == pytest.approx(bks, abs=1e-9)
    assert sol.cost == pytest.approx(bks)
    # the matrix handed to solvers agrees with the evaluator's own arithmetic
    legs = sum(
        int(inst.distance[a, b]) for r in sol.routes for a, b in zip((0, *r), (*r, 0), strict=True)
    )
    assert legs == ev.cost


def test_dimacs_works_in_tenths(rc208: Instance) -> None:
    assert rc208.scale == 10
    assert rc208.time_windows is not None
    assert rc208.time_windows[0].tolist() == [0, 9600]  # depot 0..960
    assert rc208.service[1] == 100  # service 10
    # client 1 at (25, 85) from the depot (40, 50): sqrt(1450) = 38.078… → 380 tenths
    assert rc208.distance[0, 1] == 380


def test_rounding_conventions_differ() -> None:
    xy = np.array([[0.0, 0.0], [1.0, 1.0]])  # sqrt 2 = 1.414…
    assert rounded_distances(xy, "round")[0, 1] == 1
    assert rounded_distances(xy, "dimacs")[0, 1] == 14
    with pytest.raises(ValueError, match="unknown rounding"):
        rounded_distances(xy, "ceil")


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(InvalidScenario, match="unknown instance format"):
        read_instance(path)


def test_cvrp_fleet_is_unlimited_one_vehicle_per_client(x101: Instance) -> None:
    assert x101.num_vehicles == 100  # unlimited: one per client, as PyVRP's reader offers


def test_evaluator_rejects_a_missing_client(x101: Instance) -> None:
    routes = [list(r) for r in read_solution(INSTANCES / "X-n101-k25.sol").routes]
    lost = routes[0].pop()
    ev = evaluate_routes(x101, routes)
    assert not ev.feasible
    assert ev.violations == (f"1 clients not visited: {lost}",)


def test_evaluator_rejects_a_client_served_twice(x101: Instance) -> None:
    routes = [list(r) for r in read_solution(INSTANCES / "X-n101-k25.sol").routes]
    routes.append([routes[0][0]])
    assert f"client {routes[0][0]} visited 2 times" in evaluate_routes(x101, routes).violations


def test_evaluator_rejects_exceeded_capacity(x101: Instance) -> None:
    routes = [list(r) for r in read_solution(INSTANCES / "X-n101-k25.sol").routes]
    merged = [routes[0] + routes[1], *routes[2:]]
    ev = evaluate_routes(x101, merged)
    load = sum(int(x101.demand[c]) for c in merged[0])
    assert ev.violations == (f"route 1: load {load} > capacity 206",)


def test_evaluator_rejects_a_late_arrival(rc208: Instance) -> None:
    routes = [list(r) for r in read_solution(INSTANCES / "RC208.sol").routes]
    routes[0].reverse()  # the route's early-window clients now come last
    ev = evaluate_routes(rc208, routes)
    assert not ev.feasible
    assert any("service starts at" in v and "> due" in v for v in ev.violations)


def test_evaluator_rejects_more_routes_than_vehicles(rc208: Instance) -> None:
    singletons = [[c] for c in range(1, rc208.n_clients + 1)]
    assert "100 routes > 25 vehicles" in evaluate_routes(rc208, singletons).violations


def test_problem_keeps_the_instance_units(rc208: Instance) -> None:
    problem = instance_to_problem(rc208)
    assert problem.sites[0] == "0"
    assert [n.key for n in problem.nodes] == [str(c) for c in range(1, 101)]
    assert problem.nodes[0].window == (3880, 9110)
    assert problem.nodes[0].delivery == (0, 0, 20)
    assert len(problem.vehicles) == 25
    assert problem.vehicles[0].capacity == (0, 0, 1000)
    assert problem.vehicles[0].latest_end_s == 9600


def test_problem_evaluator_prices_the_bks_like_the_instance(rc208: Instance) -> None:
    """The tier-level evaluator (what the hybrid compares by) agrees with the instance one,
    and sees a vehicle that leaves too late for its first stop."""
    problem = instance_to_problem(rc208)
    sol = read_solution(INSTANCES / "RC208.sol")
    trips = [((0, tuple(TierVisit(c - 1, 0) for c in r), 0),) for r in sol.routes]
    unused: list[tuple[tuple[int, tuple[TierVisit, ...], int], ...]] = [()] * (
        len(problem.vehicles) - len(trips)
    )
    solution = TierSolution(SolveStatus.FEASIBLE, (*trips, *unused), (), 0, 0.0, "hand")
    ev = evaluate_solution(problem, solution)
    assert ev.feasible, ev.violations
    assert ev.cost == 7761

    late = replace(solution, routes=(((9000, trips[0][0][1], 0),), *trips[1:], *unused))
    assert any("starts at" in v for v in evaluate_solution(problem, late).violations)
