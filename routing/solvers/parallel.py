"""The two-core PyVRP search: a seed per core, then parts of the solution searched at once.

Used by :func:`routing.solvers.hybrid.solve_hybrid` when its settings give it more than one
core (one big problem on an idle machine; the daily plan spends its cores on the stations).
"""

from __future__ import annotations

import copy
import random
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pyvrp import Route, Solution
from pyvrp.stop import MaxRuntime

from routing.evaluate import evaluate_solution
from routing.problem import SolveStatus, TierProblem, TierSolution
from routing.solvers.pyvrp_search import (
    answer,
    build,
    pyvrp_cost,
    refuse_unsupported,
    run_search,
    search_params,
    solve_pyvrp,
    stop_criterion,
)
from routing.solvers.settings import SolveSettings

__all__ = [
    "DECOMPOSE_MAX_S_PER_CLIENT",
    "DECOMPOSE_MIN_CLIENTS",
    "DETERMINISTIC_ROUNDS",
    "MIN_ROUND_S",
    "PARALLEL_FIRST_SHARE",
    "Part",
    "parallel_search",
    "search",
    "split",
]

PARALLEL_FIRST_SHARE = 0.4
"""Share of the work :func:`parallel_search` gives every process on the whole problem, each
with its own seed, before the decomposition rounds."""

DECOMPOSE_MIN_CLIENTS = 180
"""From this many clients :func:`parallel_search` may cut the solution into parts searched
at once; below, it keeps the best of its seeds. Measured at 5 s on X instances (three seeds
each): from 199 clients the parts gain 0.1–0.4 points over one search; at 148–157 clients
they lose up to 0.4 points against the best of two seeds."""

DECOMPOSE_MAX_S_PER_CLIENT = 0.05
"""…and only while the budget is short for the problem: below this many seconds per client.
Cutting buys search throughput when one search is far from done, and costs the moves across
the cut; at 30 s (75–150 ms per client on X and Gehring–Homberger 200) the best of two whole
searches was better (X-n303 0.87 % against 1.03 %, RC1_2_1 0.00 % against 0.30 %), at 5 s
(12–25 ms per client) the parts were (X 0.69 % against 0.92 % for one search)."""

DETERMINISTIC_ROUNDS = 4
"""Decomposition rounds under a solution limit."""

MIN_ROUND_S = 0.1
"""A decomposition round shorter than this is not started."""


def _round_s(budget_s: float) -> float:
    """Length of one decomposition round for a search of ``budget_s`` seconds."""
    return min(3.0, max(0.5, budget_s / 10))


Routes = list[tuple[int, list[int]]]
"""A PyVRP solution as plain data: (vehicle type, client indices) per route."""

_WORKER_DATA: Any = None
"""The problem's PyVRP data in a worker process of :func:`parallel_search` (sent once)."""


def _keep_data(data: Any) -> None:
    global _WORKER_DATA
    _WORKER_DATA = data


@dataclass(frozen=True)
class Part:
    """Some routes of a solution and their clients, searched as a problem of their own with
    ``counts[t]`` vehicles of each type ``t``."""

    clients: tuple[int, ...]
    routes: Routes
    counts: tuple[int, ...]


def _routes_of(solution: Any) -> Routes:
    return [
        (r.vehicle_type(), [a.idx for a in r.schedule() if a.is_client()])
        for r in solution.routes()
    ]


def _solution(data: Any, routes: Routes) -> Any:

    return Solution(data, [Route(data, visits, t) for t, visits in routes if visits])


def search(
    seed: int,
    stop: Any,
    part: Part | None = None,
    data: Any = None,
    settings: SolveSettings | None = None,
) -> Routes:
    """PyVRP's search of the whole problem (``part`` None, from scratch) or of one part (from
    its routes); the best routes found, in the whole problem's numbering. ``data`` defaults
    to the worker's copy; PyVRP's parameters follow ``settings`` (:func:`search_params`, as a
    search on one core does, so a seed searches alike on one core or several)."""

    data = _WORKER_DATA if data is None else data
    if part is None:
        params = search_params(settings or SolveSettings(), data)
        return _routes_of(run_search(data, stop, seed, params).best)
    types = [t for t, c in enumerate(part.counts) if c > 0]
    local = {t: k for k, t in enumerate(types)}
    every = data.vehicle_types()
    sub = data.replace(
        clients=[data.clients()[c] for c in part.clients],
        vehicle_types=[every[t].replace(num_available=part.counts[t]) for t in types],
    )
    pos = {c: i for i, c in enumerate(part.clients)}
    start = _solution(sub, [(local[t], [pos[c] for c in v]) for t, v in part.routes])
    params = search_params(settings or SolveSettings(), sub)
    best = run_search(sub, stop, seed, params, start).best
    return [(types[t], [part.clients[c] for c in v]) for t, v in _routes_of(best)]


def split(data: Any, routes: Routes, k: int, rng: random.Random) -> list[Part]:
    """``routes`` in ``k`` parts of about equal numbers of clients, each the routes closest
    to a route drawn at random (closeness: the mean distance from a route's clients to the
    drawn route's nearest one); clients on no route go with their nearest served client."""
    dist = np.asarray(data.distance_matrix(0))
    loc = np.array([c.location for c in data.clients()])
    left = [q for q, (_, v) in enumerate(routes) if v]
    total = sum(len(routes[q][1]) for q in left)
    groups: list[list[int]] = []
    while left and len(groups) < k - 1:
        pivot = loc[routes[left[rng.randrange(len(left))]][1]]
        near = {q: float(dist[np.ix_(loc[routes[q][1]], pivot)].min(axis=1).mean()) for q in left}
        group: list[int] = []
        size = 0
        for q in sorted(left, key=near.__getitem__):
            if size >= total / k:
                break
            group.append(q)
            size += len(routes[q][1])
        groups.append(group)
        taken = set(group)
        left = [q for q in left if q not in taken]
    if left:
        groups.append(left)
    owner = {c: g for g, group in enumerate(groups) for q in group for c in routes[q][1]}
    extra: list[list[int]] = [[] for _ in groups]
    if unserved := [c for c in range(data.num_clients) if c not in owner]:
        served = sorted(owner)
        for c in unserved:
            near_c = served[int(np.argmin(dist[loc[c], loc[served]]))]
            extra[owner[near_c]].append(c)
    available = [vt.num_available for vt in data.vehicle_types()]
    used = [sum(1 for t, v in routes if v and t == u) for u in range(len(available))]
    parts = []
    for g, group in enumerate(groups):
        mine = [routes[q] for q in group]
        counts = tuple(
            sum(1 for t, _ in mine if t == u)
            + (available[u] - used[u]) // len(groups)
            + (1 if g < (available[u] - used[u]) % len(groups) else 0)
            for u in range(len(available))
        )
        clients = tuple(sorted(c for _, v in mine for c in v) + sorted(extra[g]))
        parts.append(Part(clients, mine, counts))
    return parts


def _round_stop(settings: SolveSettings, started: float, done: int) -> Any:
    """The stopping criterion of the next decomposition round, or ``None`` when the work is
    done: under a solution limit :data:`DETERMINISTIC_ROUNDS` rounds of an equal share of
    the iterations after phase one, else :func:`_round_s` of the budget (or what is left)."""
    if settings.work is not None:
        if done == DETERMINISTIC_ROUNDS:
            return None
        return stop_criterion(settings, started, (1 - PARALLEL_FIRST_SHARE) / DETERMINISTIC_ROUNDS)
    left = settings.time_limit_s - (time.perf_counter() - started)
    if left < MIN_ROUND_S:
        return None

    return MaxRuntime(min(_round_s(settings.time_limit_s), left))


def parallel_search(problem: TierProblem, settings: SolveSettings) -> TierSolution:
    """PyVRP's search on ``cores`` processes (this one and ``cores - 1`` workers).

    First every process searches the whole problem with its own seed (``seed``, ``seed +
    1``, …) for :data:`PARALLEL_FIRST_SHARE` of the work; the cheapest answer is kept (the
    lowest seed on a tie). On problems of :data:`DECOMPOSE_MIN_CLIENTS` clients or more with
    a short budget (under :data:`DECOMPOSE_MAX_S_PER_CLIENT` a client) the rest is spent in
    rounds: the routes are cut into ``cores`` parts of neighbouring
    routes (:func:`split`, a new random cut each round), each process searches one part
    as a problem of its own from its routes, and the parts' best routes are put back
    together — never worse, since each part's search keeps its best. Under a solution limit
    the work is iterations (phase one ``PARALLEL_FIRST_SHARE`` of the limit, then
    :data:`DETERMINISTIC_ROUNDS` rounds) and the answer is deterministic."""
    cores = settings.cores
    if cores <= 1:
        return solve_pyvrp(problem, settings)
    refuse_unsupported(problem)
    built = build(problem, approximate=False)
    if isinstance(built, TierSolution):
        return built
    data, started = built.data, built.started
    n = data.num_clients
    decompose = (
        n >= DECOMPOSE_MIN_CLIENTS
        and settings.time_limit_s < DECOMPOSE_MAX_S_PER_CLIENT * n
        and data.num_groups == 0
    )
    with ProcessPoolExecutor(cores - 1, initializer=_keep_data, initargs=(data,)) as pool:
        # a stopping criterion counts its calls: each search gets its own, never one that
        # another search may have counted before it was sent to a worker (the pool pickles
        # a call in a thread of its own, after this process's search may have begun)
        share = PARALLEL_FIRST_SHARE if decompose else 1.0
        futures = [
            pool.submit(
                search,
                settings.seed + k,
                stop_criterion(settings, started, share),
                None,
                None,
                settings,
            )
            for k in range(1, cores)
        ]
        answers = [
            search(settings.seed, stop_criterion(settings, started, share), None, data, settings),
            *(f.result() for f in futures),
        ]
        costs = [pyvrp_cost(data, _solution(data, a)) for a in answers]
        routes = answers[costs.index(min(costs))]
        cost = min(costs)
        rng = random.Random(settings.seed)
        rounds = 0
        while decompose and (stop := _round_stop(settings, started, rounds)) is not None:
            rounds += 1
            parts = split(data, routes, cores, rng)
            if len(parts) < 2:
                break
            seeds = [rng.randrange(1 << 30) for _ in parts]
            futures = [
                pool.submit(search, s, copy.deepcopy(stop), p, None, settings)
                for s, p in zip(seeds[1:], parts[1:], strict=True)
            ]
            merged = search(seeds[0], stop, parts[0], data, settings)
            for f in futures:
                merged += f.result()
            if (c := pyvrp_cost(data, _solution(data, merged))) <= cost:
                routes, cost = merged, c
    solution = answer(problem, built, _solution(data, routes), approximate=False)
    if solution.status is not SolveStatus.FEASIBLE:
        return solution
    return replace(solution, objective=evaluate_solution(problem, solution).cost)
