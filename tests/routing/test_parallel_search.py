"""PyVRP's search on two cores: seeds first, then the solution cut into parts searched at once.

Under a solution limit the work is a fixed number of iterations and the answer is
deterministic, so the tests compare exact outcomes. The problems are synthetic (random
points), with two vehicle types in limited numbers and optional stops, so every rule of the
cut is exercised: each client in exactly one part, the fleet shared without exceeding it.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

import routing.solvers.parallel as adapter
from benchmarks.formats import Instance, instance_to_problem, rounded_distances
from routing.evaluate import evaluate_solution
from routing.problem import SolveStatus, TierProblem
from routing.solvers import SolveSettings, solve_pyvrp
from routing.solvers.pyvrp_search import (
    PyvrpData,
    build,
    initial_penalties,
    precise_penalty,
    search_params,
)


def _settings(solutions: int = 400) -> SolveSettings:
    return SolveSettings(time_limit_s=60.0, work=solutions, cores=2)


def _problem(n: int, *, seed: int = 3) -> TierProblem:
    """``n`` clients on a 1000 × 1000 square, demand 1–20, a fleet of two types (capacity 60
    and 100, four of the small ones); every fifth client optional (penalty 400)."""
    rng = np.random.default_rng(seed)
    coords = rng.integers(0, 1000, size=(n + 1, 2)).astype(np.float64)
    demand = np.concatenate([[0], rng.integers(1, 21, size=n)]).astype(np.int64)
    inst = Instance(
        name=f"synthetic-{n}",
        kind="cvrp",
        rounding="round",
        scale=1,
        coords=coords,
        demand=demand,
        capacity=100,
        num_vehicles=n,
        distance=rounded_distances(coords, "round"),
        time_windows=None,
        service=np.zeros(n + 1, dtype=np.int64),
    )
    problem = instance_to_problem(inst)
    vehicles = tuple(
        replace(v, capacity=(0, 0, 60)) if k < 4 else v for k, v in enumerate(problem.vehicles)
    )
    nodes = tuple(
        replace(node, penalty=400) if i % 5 == 0 else node for i, node in enumerate(problem.nodes)
    )
    return replace(problem, vehicles=vehicles, nodes=nodes)


def _built(problem: TierProblem) -> PyvrpData:
    built = build(problem, approximate=False)
    assert isinstance(built, PyvrpData)
    return built


def test_the_cut_shares_clients_and_fleet_without_loss() -> None:
    from pyvrp.stop import MaxIterations

    problem = _problem(60)
    data = _built(problem).data
    routes = adapter.search(0, MaxIterations(50), None, data)
    # one client taken off its route: clients on no route must land in a part too
    routes = [(t, v[1:]) if k == 0 else (t, v) for k, (t, v) in enumerate(routes)]
    available = [vt.num_available for vt in data.vehicle_types()]
    assert len(available) == 2
    for k in (2, 3):
        parts = adapter.split(data, routes, k, random.Random(7))
        assert len(parts) == k
        clients = Counter(c for p in parts for c in p.clients)
        assert sorted(clients) == list(range(data.num_clients))
        assert set(clients.values()) == {1}
        kept = sorted(sorted(v) for p in parts for _, v in p.routes)
        assert kept == sorted(sorted(v) for _, v in routes if v)
        for p in parts:
            assert {c for _, v in p.routes for c in v} <= set(p.clients)
            for t in range(len(available)):
                assert p.counts[t] >= sum(1 for u, _ in p.routes if u == t)
        for t in range(len(available)):
            assert sum(p.counts[t] for p in parts) <= available[t]


def test_parts_searched_on_two_cores_improve_on_the_seeds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The decomposition rounds start from the better seed's routes and can only keep or
    improve them; on this problem they improve them. Same limit, same answer."""
    monkeypatch.setattr(adapter, "DECOMPOSE_MIN_CLIENTS", 20)
    monkeypatch.setattr(adapter, "DECOMPOSE_MAX_S_PER_CLIENT", 1.0)
    problem, settings = _problem(80), _settings()
    first = round(400 * adapter.PARALLEL_FIRST_SHARE)
    seeds = [solve_pyvrp(problem, replace(settings, work=first, seed=s)) for s in (0, 1)]
    assert all(s.status is SolveStatus.FEASIBLE for s in seeds)
    both = adapter.parallel_search(problem, settings)
    assert both.status is SolveStatus.FEASIBLE
    ev = evaluate_solution(problem, both)
    assert ev.feasible, ev.violations
    assert both.objective == ev.cost
    assert both.objective < min(s.objective for s in seeds)
    # every required client is on a route; only optional ones may be left out
    assert all(problem.nodes[i].penalty is not None for i in both.dropped)
    again = adapter.parallel_search(problem, settings)
    assert again.routes == both.routes


def test_below_the_size_threshold_two_cores_keep_the_better_seed() -> None:
    problem, settings = _problem(40), _settings(150)
    seeds = [solve_pyvrp(problem, replace(settings, seed=s, cores=1)) for s in (0, 1)]
    both = adapter.parallel_search(problem, settings)
    assert both.objective == min(s.objective for s in seeds)


def test_no_feasible_seed_gives_no_solution_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A required client heavier than every vehicle: no seed finds a feasible solution, the
    cut rounds run on infeasible routes, and the answer says so (the hybrid then falls back
    to OR-Tools, which reports the problem infeasible)."""
    monkeypatch.setattr(adapter, "DECOMPOSE_MIN_CLIENTS", 20)
    monkeypatch.setattr(adapter, "DECOMPOSE_MAX_S_PER_CLIENT", 1.0)
    problem, settings = _problem(60), _settings(200)
    heavy = replace(problem.nodes[1], delivery=(0, 0, 150))
    problem = replace(problem, nodes=(problem.nodes[0], heavy, *problem.nodes[2:]))
    assert heavy.penalty is None
    answer = adapter.parallel_search(problem, settings)
    assert answer.status is SolveStatus.NO_SOLUTION
    assert answer.routes == tuple(() for _ in problem.vehicles)


class _Later:
    """A stand-in for the process pool that runs each submitted search in this process, and
    only when its result is asked for — after the caller's own search, as a worker whose
    call the pool pickled late would."""

    def __init__(self, _workers: int, initializer: Any = None, initargs: tuple = ()) -> None:
        initializer(*initargs)

    def __enter__(self) -> _Later:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def submit(self, fn: Any, *args: Any) -> Any:
        class Deferred:
            def result(self) -> Any:
                return fn(*args)

        return Deferred()


def test_each_search_counts_its_own_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stopping criterion counts its calls. Every search, in this process or a worker,
    gets one of its own: one shared with the caller's search, and counted by it before the
    pool sent it, left the worker's search with no iterations (a race seen under load)."""
    stops: list[Any] = []
    real = adapter.search

    def spy(seed: int, stop: Any, *rest: Any) -> Any:
        stops.append(stop)
        return real(seed, stop, *rest)

    monkeypatch.setattr(adapter, "ProcessPoolExecutor", _Later)
    monkeypatch.setattr(adapter, "search", spy)
    # seeds only; seeds, then decomposition rounds (200 clients on a short budget)
    for n, settings in ((40, _settings(150)), (200, replace(_settings(100), time_limit_s=5.0))):
        stops.clear()
        problem = _problem(n)
        both = adapter.parallel_search(problem, settings)
        assert len({id(s) for s in stops}) == len(stops) >= (2 if n == 40 else 4)
        if n == 40:
            seeds = [solve_pyvrp(problem, replace(settings, seed=s, cores=1)) for s in (0, 1)]
            assert both.objective == min(s.objective for s in seeds)


def test_small_prizes_leave_pyvrps_search_as_it_is() -> None:
    """Every fifth client optional at 400, loads of 1–20: PyVRP's own penalties (its
    midpoint) already make an overload dearer than the prize, so the search is PyVRP's."""
    data = _built(_problem(60)).data
    penalty = search_params(_settings(), data).penalty
    assert penalty == type(penalty)()
    assert initial_penalties(data) == penalty.midpoint_penalties(data)


def test_raised_penalties_stay_within_pyvrps_precision() -> None:
    """Mandatory-sized prizes (10 million yuan) on loads in grams: the penalties rise
    above PyVRP's, but never so far that a penalty times a violation loses precision in
    PyVRP's doubles (there its search once never ended)."""
    problem = _problem(60)
    heavy = tuple(
        replace(node, delivery=(node.delivery[2] * 50_000, 0, node.delivery[2]), penalty=10**11)
        for node in problem.nodes
    )
    vehicles = tuple(
        replace(v, capacity=(v.capacity[2] * 50_000, 0, v.capacity[2])) for v in problem.vehicles
    )
    data = _built(replace(problem, nodes=heavy, vehicles=vehicles)).data
    loads, tw, _ = initial_penalties(data)
    penalty = search_params(_settings(), data).penalty
    cap = precise_penalty(data)
    assert max(loads) > type(penalty)().max_penalty  # raised above PyVRP's own bounds
    assert max(*loads, tw) <= penalty.max_penalty <= cap
    assert cap * sum(n.delivery[0] for n in heavy) <= 2**52
