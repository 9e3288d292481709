"""The PyVRP backend, and the hybrid that hands PyVRP's routes to OR-Tools to polish.

PyVRP (an optional dependency, the ``peers`` extra; imported only inside functions) models
exactly the tier problems whose OR-Tools model needs no depot copies:

* one depot; vehicles grouped into vehicle types, with capacity in up to three resources,
  fixed cost, departure window, shift end and maximum duration;
* pure deliveries or pure pickups, the load checked at every point;
* time windows on the start of service, service times, waiting allowed;
* optional stops: a left-out stop costs its penalty (PyVRP's prize on an optional client);
* cost as the OR-Tools model prices it: each vehicle's distance matrix is pre-multiplied by its
  ``cost_per_m`` and rounded per arc (one PyVRP routing profile per vehicle class and rate),
  ``round(cost_per_s)`` per second of the route's duration, the fixed cost of a used vehicle.

Refused by :func:`solve_pyvrp` with :class:`NotImplementedError` naming the feature (see
:func:`unsupported_feature`): deliveries and pickups in one problem, reloads, vehicles under
way, release times and parcels on board (the OR-Tools model adds load-dependent handling
time at the depot for these), several depots, range limits, vehicle–stop compatibility and
soft windows. :func:`pyvrp_start` approximates the first ones — mixed loads, reloads, range,
compatibility: the village runs — closely enough for a warm start (see its docstring). A
warm start given to PyVRP (``initial_routes``) is a hint and is ignored here. Matrices are
assumed to have a zero diagonal (stops at one site share a PyVRP location).

:func:`solve_hybrid` is what the quality benchmarks measure as the product default: PyVRP
for most of the budget, then its routes are loaded into the OR-Tools model, which models
every constraint, as a warm start for the rest; the better solution OR-Tools accepts is
returned. On the village runs PyVRP searches the approximation and OR-Tools polishes from
its routes; repairs under way, or machines without PyVRP, get plain OR-Tools.
"""

from __future__ import annotations

import importlib.util
import math
import random
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from routing.problem import (
    HANDLING_S_PER_PARCEL,
    SolveStatus,
    TierProblem,
    TierSolution,
    TierVisit,
)
from routing.route_cost import depot_handling_feature, evaluate_solution

__all__ = [
    "HYBRID_PYVRP_SHARE",
    "MAX_POLISH_S",
    "MIN_POLISH_S",
    "POLISH_SOLUTIONS_PER",
    "START_MIN_S",
    "START_SHARE",
    "approximation_gap",
    "pyvrp_available",
    "pyvrp_start",
    "solve_hybrid",
    "solve_pyvrp",
    "unsupported_feature",
]

HYBRID_PYVRP_SHARE = 0.95
"""Share of the hybrid's budget given to PyVRP; OR-Tools checks and polishes in the rest.
Measured on the X, Solomon and Gehring–Homberger instances at 5 s: every second moved from
PyVRP to OR-Tools costs more than OR-Tools' polish gains (mean gap on X 1.05 % at 0.95,
1.12 % at 0.9, 1.22–1.28 % at 0.7, 1.45 % at 0.5; see benchmarks/RESULTS.md)."""

START_SHARE = 0.7
"""Share of the budget :func:`solve_hybrid` gives :func:`pyvrp_start` on problems PyVRP only
approximates. Measured on the built-in county's nine village-run problems: with 0.4 s each,
the OR-Tools answer from PyVRP's start is 7.3 % cheaper than OR-Tools alone (7.3 % at a 0.5
share, 7.3 % at 0.8); with 1 s, 6.7–6.8 %."""

START_MIN_S = 0.1
"""PyVRP's least time on an approximated problem: with less its start is poor, and a tight
station budget is better overrun a little than spent on OR-Tools alone (nine station problems
at 0.1 s each: 0.16 s per station and 3.7 % cheaper than the 0.25 s polish floor, which took
0.28 s; equal at 0.4 s)."""

POLISH_SOLUTIONS_PER = 100
"""Under a solution limit (deterministic work) PyVRP runs that many iterations and OR-Tools
then stops after one solution per this many (at least one: its check of PyVRP's routes)."""

MIN_POLISH_S = 0.25
"""OR-Tools' least share: loading the warm start into a model of 400 stops takes ~0.1 s, and
with less time it may stop before it has accepted it."""

PARALLEL_FIRST_SHARE = 0.4
"""Share of the work :func:`_parallel_search` gives every process on the whole problem, each
with its own seed, before the decomposition rounds."""

DECOMPOSE_MIN_CLIENTS = 180
"""From this many clients :func:`_parallel_search` may cut the solution into parts searched
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


MAX_POLISH_S = 0.5
"""OR-Tools' largest share at long budgets: its part is the check of PyVRP's routes under
every constraint and a short polish, which 0.5 s covers at 400 stops; more is taken from
PyVRP's search."""


def _polish_s(budget_s: float, share: float) -> float:
    return min(MAX_POLISH_S, max(MIN_POLISH_S, (1 - share) * budget_s))


_PYVRP_MAX_VALUE = 1 << 44  # pyvrp.constants.MAX_VALUE: larger distances lose precision


def pyvrp_available() -> bool:
    """Whether PyVRP (the ``peers`` extra) is installed."""
    try:
        return importlib.util.find_spec("pyvrp") is not None
    except (ImportError, ValueError):
        return False


def unsupported_feature(problem: TierProblem) -> str | None:
    """The first feature of ``problem`` PyVRP does not model as the OR-Tools model does, or
    ``None``."""
    if (feature := depot_handling_feature(problem)) is not None:
        return feature
    if len({v.depot for v in problem.vehicles}) > 1:
        return "several depots"
    if any(v.range_m is not None for v in problem.vehicles):
        return "vehicle range limits"
    if any(n.allowed is not None for n in problem.nodes):
        return "vehicle-stop compatibility (allowed)"
    if any(n.soft_latest is not None for n in problem.nodes):
        return "soft time windows (soft_latest)"
    return None


def _empty(problem: TierProblem, status: SolveStatus, wall: float, backend: str) -> TierSolution:
    dropped = tuple(range(len(problem.nodes))) if status is SolveStatus.EMPTY else ()
    return TierSolution(status, tuple(() for _ in problem.vehicles), dropped, 0, wall, backend)


def approximation_gap(problem: TierProblem) -> str | None:
    """The first feature of ``problem`` that even :func:`pyvrp_start` cannot approximate, or
    ``None``: vehicles under way and parcels released late or already on board (repairs),
    several depots, soft windows."""
    if any(v.start_site is not None or any(v.initial_load) for v in problem.vehicles):
        return "vehicles under way"
    if any(n.release_s is not None or n.onboard for n in problem.nodes):
        return "release times or parcels on board"
    if len({v.depot for v in problem.vehicles}) > 1:
        return "several depots"
    if any(n.soft_latest is not None for n in problem.nodes):
        return "soft time windows (soft_latest)"
    return None


def _refuse_unsupported(problem: TierProblem) -> None:
    if (reason := unsupported_feature(problem)) is not None:
        raise NotImplementedError(f"PyVRP backend does not model {reason} ({problem.name})")


def solve_pyvrp(problem: TierProblem) -> TierSolution:
    """Solve one tier problem with PyVRP's iterated local search (default parameters).

    Runs for ``problem.time_limit_s`` seconds, or ``problem.solution_limit`` iterations when
    that is set (deterministic), with ``problem.seed``.

    Returns
    -------
    TierSolution
        ``FEASIBLE`` with PyVRP's best routes, or ``NO_SOLUTION`` when its best solution breaks
        a constraint. ``objective`` is the cost as :func:`~routing.route_cost.evaluate_solution`
        prices it.

    Raises
    ------
    NotImplementedError
        When the problem has a feature PyVRP does not model (see :func:`unsupported_feature`).
    ModuleNotFoundError
        When PyVRP is not installed (``pip install countyroute[peers]``).
    """
    _refuse_unsupported(problem)
    solution = _run_pyvrp(problem, approximate=False)
    if solution.status is not SolveStatus.FEASIBLE:
        return solution
    return replace(solution, objective=evaluate_solution(problem, solution).cost)


def pyvrp_start(problem: TierProblem) -> TierSolution:
    """Routes for a warm start of the OR-Tools model, from PyVRP on an approximation of
    ``problem`` — for problems PyVRP cannot model exactly but close enough to search well:

    * deliveries and pickups in one problem: PyVRP checks the load at every point of a
      route exactly (simultaneous pickup and delivery); the loading and unloading time at the
      depot (:data:`~routing.problem.HANDLING_S_PER_PARCEL` per parcel) is added to the stop's
      service instead, so times shift by up to a trip's loading time;
    * reloads: PyVRP's reload depots, ``max_trips − 1`` reloads, the reload time as the
      depot's service duration, and the shift shortened by it for the final unloading;
    * range limits: PyVRP's maximum distance (on the per-arc cost, exact for whole rates);
    * vehicle–stop compatibility: one location per stop, and arcs into a stop a vehicle may
      not serve cost that vehicle's profile a prohibitive amount (such visits are removed
      from the answer should any remain).

    The answer is a **start, not a plan**: OR-Tools, which models all of it, accepts and
    improves it or rejects it. ``objective`` is PyVRP's own cost of the approximation.

    Raises
    ------
    NotImplementedError
        For the features of :func:`approximation_gap`.
    """
    reason = approximation_gap(problem)
    if reason is not None:
        raise NotImplementedError(f"PyVRP start does not approximate {reason} ({problem.name})")
    return _run_pyvrp(problem, approximate=True)


_BANNED = 10**9
"""Cost of an arc into a stop the vehicle may not serve (approximate model): 100,000 yuan."""


@dataclass(frozen=True)
class _Built:
    """A tier problem as PyVRP data: ``data`` (a ``pyvrp.ProblemData``), the problem's
    vehicles behind each PyVRP vehicle type, each vehicle's banned stops, and when building
    started (the budget counts it)."""

    data: Any
    type_members: list[list[int]]
    bans: list[frozenset[int]]
    started: float


def _stop(problem: TierProblem, started: float, share: float = 1.0) -> Any:
    """PyVRP's stopping criterion for ``share`` of the problem's work: iterations under a
    solution limit (deterministic), else the time left."""
    from pyvrp.stop import (  # type: ignore[import-not-found,unused-ignore]
        MaxIterations,
        MaxRuntime,
    )

    if problem.solution_limit is not None:
        return MaxIterations(max(1, round(problem.solution_limit * share)))
    left = problem.time_limit_s * share - (time.perf_counter() - started)
    return MaxRuntime(max(0.01, left))


def _run_pyvrp(problem: TierProblem, *, approximate: bool) -> TierSolution:
    built = _build(problem, approximate=approximate)
    if isinstance(built, TierSolution):
        return built
    from pyvrp import solve as pyvrp_solve  # type: ignore[import-not-found,unused-ignore]

    result = pyvrp_solve(
        built.data,
        stop=_stop(problem, built.started),
        seed=problem.seed,
        collect_stats=False,
        display=False,
    )
    return _answer(problem, built, result.best, approximate=approximate)


def _build(problem: TierProblem, *, approximate: bool) -> _Built | TierSolution:
    """The PyVRP data of ``problem``, or the answer when there is nothing to search."""
    started = time.perf_counter()
    if not problem.nodes or not problem.vehicles:
        return _empty(problem, SolveStatus.EMPTY, 0.0, "pyvrp")

    from pyvrp import Model  # type: ignore[import-not-found,unused-ignore]

    model = Model()
    pos = problem.site_index
    vehicles, nodes = problem.vehicles, problem.nodes
    depot_site = vehicles[0].depot
    # the OR-Tools model adds load-dependent depot time here: approximated below
    handling = approximate and depot_handling_feature(problem) is not None
    if approximate:
        # one location per stop: a stop some vehicles may not serve is far for them only
        used_sites = [depot_site, *(n.site for n in nodes)]
        locs = [model.add_location(0.0, 0.0, name=s) for s in used_sites]
        loc_of = [locs[1 + i] for i in range(len(nodes))]
    else:
        used_sites = [depot_site, *dict.fromkeys(n.site for n in nodes if n.site != depot_site)]
        by_site = {s: model.add_location(0.0, 0.0, name=s) for s in used_sites}
        locs = list(by_site.values())
        loc_of = [by_site[n.site] for n in nodes]
    reload_s = max(v.reload_s for v in vehicles) if handling else 0
    depot = model.add_depot(locs[0], service_duration=reload_s, name=depot_site)
    idx = np.array([pos[s] for s in used_sites])

    # per vehicle, the stops it may not serve (always none in the exact model)
    bans = [
        frozenset(i for i, n in enumerate(nodes) if n.allowed is not None and p not in n.allowed)
        for p in range(len(vehicles))
    ]

    # one profile per (class, rate[, stops it may not serve]): distances priced per arc
    # exactly as the OR-Tools model does. Matrices go straight into the ProblemData (add_edge
    # per pair is slow in Python).
    profiles: dict[tuple[str, float, frozenset[int]], Any] = {}
    distances: list[Any] = []  # pyvrp's stubs type matrices as ndarray[int]
    durations: list[Any] = []
    for p, v in enumerate(vehicles):
        key = (v.vehicle_class, v.cost_per_m, bans[p])
        if key in profiles:
            continue
        profiles[key] = model.add_profile(name=f"{key[0]}@{key[1]:g}/{len(profiles)}")
        sub = np.ix_(idx, idx)
        cost = np.rint(problem.distance_m[key[0]][sub] * key[1]).astype(np.int64)
        dur = np.asarray(problem.time_s[key[0]][sub], dtype=np.int64)
        if max(int(cost.max()), int(dur.max())) >= _PYVRP_MAX_VALUE:
            raise ValueError(f"distances or times too large for PyVRP in {problem.name}")
        for i in key[2]:
            cost[:, 1 + i] += _BANNED
        np.fill_diagonal(cost, 0)
        np.fill_diagonal(dur, 0)
        distances.append(cost)
        durations.append(dur)

    dims = [r for r in range(3) if any(n.delivery[r] or n.pickup[r] for n in nodes)]
    groups: dict[tuple[object, ...], list[int]] = {}
    for p, v in enumerate(vehicles):
        if v.latest_end_s - reload_s < v.earliest_start_s:
            continue  # its shift is over before it can leave: no route (as in OR-Tools)
        sig = (
            v.vehicle_class,
            v.cost_per_m,
            round(v.cost_per_s),
            v.fixed_cost,
            v.capacity,
            v.earliest_start_s,
            v.latest_end_s,
            v.max_duration_s,
            v.latest_start_s,
            *((v.range_m, v.max_trips, bans[p]) if approximate else ()),
        )
        groups.setdefault(sig, []).append(p)
    if not groups:
        return _empty(problem, SolveStatus.NO_SOLUTION, time.perf_counter() - started, "pyvrp")
    type_members: list[list[int]] = []
    for members in groups.values():
        v = vehicles[members[0]]
        extra: dict[str, Any] = {}
        if approximate:
            if v.range_m is not None and v.cost_per_m > 0:
                extra["max_distance"] = math.floor(v.range_m * v.cost_per_m)
            if v.max_trips > 1:
                extra["reload_depots"] = [depot]
                extra["max_reloads"] = v.max_trips - 1
        model.add_vehicle_type(
            num_available=len(members),
            capacity=[v.capacity[r] for r in dims],
            start_depot=depot,
            end_depot=depot,
            fixed_cost=v.fixed_cost,
            tw_early=v.earliest_start_s,
            tw_late=v.latest_end_s - reload_s,
            shift_duration=v.max_duration_s - reload_s,
            # as in the OR-Tools adapter: a start window never reaches past the end of the shift
            start_late=None
            if v.latest_start_s is None
            else min(v.latest_end_s - reload_s, max(v.earliest_start_s, v.latest_start_s)),
            unit_distance_cost=1,
            unit_duration_cost=max(0, round(v.cost_per_s)),
            profile=profiles[(v.vehicle_class, v.cost_per_m, bans[members[0]])],
            name=",".join(vehicles[p].id for p in members),
            **extra,
        )
        type_members.append(members)

    for i, n in enumerate(nodes):
        depot_time = HANDLING_S_PER_PARCEL * (n.delivery[2] + n.pickup[2]) if handling else 0
        model.add_client(
            loc_of[i],
            delivery=[n.delivery[r] for r in dims],
            pickup=[n.pickup[r] for r in dims],
            service_duration=n.service_s + depot_time,
            tw_early=n.window[0],
            tw_late=n.window[1],
            prize=n.penalty or 0,
            required=n.penalty is None,
            name=n.key,
        )

    data = model.data().replace(distance_matrices=distances, duration_matrices=durations)
    return _Built(data, type_members, bans, started)


def _answer(problem: TierProblem, built: _Built, best: Any, *, approximate: bool) -> TierSolution:
    """PyVRP's solution ``best`` as the problem's routes (``NO_SOLUTION`` if infeasible)."""
    wall = time.perf_counter() - built.started
    if not best.is_feasible():
        return _empty(problem, SolveStatus.NO_SOLUTION, wall, "pyvrp")
    type_members, bans = built.type_members, built.bans
    free = [list(m) for m in type_members]
    routes_out: list[list[tuple[int, tuple[TierVisit, ...], int]]] = [[] for _ in problem.vehicles]
    served: set[int] = set()
    for route in best.routes():
        p = free[route.vehicle_type()].pop(0)
        no = bans[p]
        trips: dict[int, list[TierVisit]] = {}
        for a in route.schedule():
            if a.is_client() and a.idx not in no:
                trips.setdefault(a.trip, []).append(TierVisit(a.idx, a.start_time))
        for k in sorted(trips):
            visits = tuple(trips[k])
            served.update(v.node for v in visits)
            routes_out[p].append((route.start_time(), visits, route.end_time()))
    return TierSolution(
        status=SolveStatus.FEASIBLE,
        routes=tuple(tuple(r) for r in routes_out),
        dropped=tuple(i for i in range(len(problem.nodes)) if i not in served),
        objective=_cost(built.data, best) if approximate else 0,
        wall_s=wall,
        backend="pyvrp (approximate)" if approximate else "pyvrp",
    )


def _cost(data: Any, solution: Any) -> int:
    """PyVRP's cost of a solution (the largest integer when it is infeasible)."""
    from pyvrp import CostEvaluator  # type: ignore[import-not-found,unused-ignore]

    return int(CostEvaluator([0] * data.num_load_dimensions, 0, 0).cost(solution))


def _initial_routes(
    problem: TierProblem, solution: TierSolution
) -> tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]:
    return tuple(
        (
            problem.vehicles[p].id,
            tuple(tuple(problem.nodes[v.node].key for v in visits) for _, visits, _ in trips),
        )
        for p, trips in enumerate(solution.routes)
        if trips
    )


Routes = list[tuple[int, list[int]]]
"""A PyVRP solution as plain data: (vehicle type, client indices) per route."""

_WORKER_DATA: Any = None
"""The problem's PyVRP data in a worker process of :func:`_parallel_search` (sent once)."""


def _keep_data(data: Any) -> None:
    global _WORKER_DATA
    _WORKER_DATA = data


@dataclass(frozen=True)
class _Part:
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
    from pyvrp import Route, Solution  # type: ignore[import-not-found,unused-ignore]

    return Solution(data, [Route(data, visits, t) for t, visits in routes if visits])


def _search(seed: int, stop: Any, part: _Part | None = None, data: Any = None) -> Routes:
    """PyVRP's search of the whole problem (``part`` None, from scratch) or of one part (from
    its routes); the best routes found, in the whole problem's numbering. ``data`` defaults
    to the worker's copy."""
    from pyvrp import solve as pyvrp_solve  # type: ignore[import-not-found,unused-ignore]

    data = _WORKER_DATA if data is None else data
    if part is None:
        best = pyvrp_solve(data, stop=stop, seed=seed, collect_stats=False, display=False).best
        return _routes_of(best)
    types = [t for t, c in enumerate(part.counts) if c > 0]
    local = {t: k for k, t in enumerate(types)}
    every = data.vehicle_types()
    sub = data.replace(
        clients=[data.clients()[c] for c in part.clients],
        vehicle_types=[every[t].replace(num_available=part.counts[t]) for t in types],
    )
    pos = {c: i for i, c in enumerate(part.clients)}
    start = _solution(sub, [(local[t], [pos[c] for c in v]) for t, v in part.routes])
    best = pyvrp_solve(
        sub, stop=stop, seed=seed, collect_stats=False, display=False, initial_solution=start
    ).best
    return [(types[t], [part.clients[c] for c in v]) for t, v in _routes_of(best)]


def _split(data: Any, routes: Routes, k: int, rng: random.Random) -> list[_Part]:
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
        parts.append(_Part(clients, mine, counts))
    return parts


def _round_stop(problem: TierProblem, started: float, done: int) -> Any:
    """The stopping criterion of the next decomposition round, or ``None`` when the work is
    done: under a solution limit :data:`DETERMINISTIC_ROUNDS` rounds of an equal share of
    the iterations after phase one, else :func:`_round_s` of the budget (or what is left)."""
    if problem.solution_limit is not None:
        if done == DETERMINISTIC_ROUNDS:
            return None
        return _stop(problem, started, (1 - PARALLEL_FIRST_SHARE) / DETERMINISTIC_ROUNDS)
    left = problem.time_limit_s - (time.perf_counter() - started)
    if left < MIN_ROUND_S:
        return None
    from pyvrp.stop import MaxRuntime  # type: ignore[import-not-found,unused-ignore]

    return MaxRuntime(min(_round_s(problem.time_limit_s), left))


def _parallel_search(problem: TierProblem, cores: int) -> TierSolution:
    """PyVRP's search on ``cores`` processes (this one and ``cores - 1`` workers).

    First every process searches the whole problem with its own seed (``seed``, ``seed +
    1``, …) for :data:`PARALLEL_FIRST_SHARE` of the work; the cheapest answer is kept (the
    lowest seed on a tie). On problems of :data:`DECOMPOSE_MIN_CLIENTS` clients or more with
    a short budget (under :data:`DECOMPOSE_MAX_S_PER_CLIENT` a client) the rest is spent in
    rounds: the routes are cut into ``cores`` parts of neighbouring
    routes (:func:`_split`, a new random cut each round), each process searches one part
    as a problem of its own from its routes, and the parts' best routes are put back
    together — never worse, since each part's search keeps its best. Under a solution limit
    the work is iterations (phase one ``PARALLEL_FIRST_SHARE`` of the limit, then
    :data:`DETERMINISTIC_ROUNDS` rounds) and the answer is deterministic."""
    if cores <= 1:
        return solve_pyvrp(problem)
    _refuse_unsupported(problem)
    built = _build(problem, approximate=False)
    if isinstance(built, TierSolution):
        return built
    data, started = built.data, built.started
    n = data.num_clients
    decompose = (
        n >= DECOMPOSE_MIN_CLIENTS
        and problem.time_limit_s < DECOMPOSE_MAX_S_PER_CLIENT * n
        and data.num_groups == 0
    )
    with ProcessPoolExecutor(cores - 1, initializer=_keep_data, initargs=(data,)) as pool:
        first = _stop(problem, started, PARALLEL_FIRST_SHARE if decompose else 1.0)
        futures = [pool.submit(_search, problem.seed + k, first) for k in range(1, cores)]
        answers = [_search(problem.seed, first, None, data), *(f.result() for f in futures)]
        costs = [_cost(data, _solution(data, a)) for a in answers]
        routes = answers[costs.index(min(costs))]
        cost = min(costs)
        rng = random.Random(problem.seed)
        rounds = 0
        while decompose and (stop := _round_stop(problem, started, rounds)) is not None:
            rounds += 1
            parts = _split(data, routes, cores, rng)
            if len(parts) < 2:
                break
            seeds = [rng.randrange(1 << 30) for _ in parts]
            futures = [
                pool.submit(_search, s, stop, p) for s, p in zip(seeds[1:], parts[1:], strict=True)
            ]
            merged = _search(seeds[0], stop, parts[0], data)
            for f in futures:
                merged += f.result()
            if (c := _cost(data, _solution(data, merged))) <= cost:
                routes, cost = merged, c
    solution = _answer(problem, built, _solution(data, routes), approximate=False)
    if solution.status is not SolveStatus.FEASIBLE:
        return solution
    return replace(solution, objective=evaluate_solution(problem, solution).cost)


def _polish_problem(problem: TierProblem, first: TierSolution, left_s: float) -> TierProblem:
    """OR-Tools' part: PyVRP's routes as the warm start, the time left (or, under a solution
    limit, one solution per :data:`POLISH_SOLUTIONS_PER`)."""
    return replace(
        problem,
        initial_routes=_initial_routes(problem, first),
        time_limit_s=left_s,
        solution_limit=None
        if problem.solution_limit is None
        else max(1, problem.solution_limit // POLISH_SOLUTIONS_PER),
    )


def _start_then_polish(
    problem: TierProblem, polish: Callable[[TierProblem], TierSolution]
) -> TierSolution:
    started = time.perf_counter()
    budget = problem.time_limit_s
    try:
        first = pyvrp_start(replace(problem, time_limit_s=max(START_MIN_S, START_SHARE * budget)))
    except ValueError:  # PyVRP refuses the approximation (data out of its ranges): no start
        first = _empty(problem, SolveStatus.NO_SOLUTION, 0.0, "pyvrp")
    # loading the start takes OR-Tools ~0.1 s at 400 stops, a few ms at a station's 40
    least = max(0.05, MIN_POLISH_S * min(1.0, len(problem.nodes) / 200))
    left = max(least, budget - (time.perf_counter() - started))
    if first.status is not SolveStatus.FEASIBLE:
        return replace(polish(replace(problem, time_limit_s=left)), backend="ortools")
    second = polish(_polish_problem(problem, first, left))
    return replace(second, wall_s=time.perf_counter() - started, backend="pyvrp-start+ortools")


def _default_ortools(problem: TierProblem) -> TierSolution:
    from routing.ortools_adapter import solve_ortools

    return solve_ortools(problem)


def solve_hybrid(
    problem: TierProblem,
    *,
    share: float = HYBRID_PYVRP_SHARE,
    polish: Callable[[TierProblem], TierSolution] = _default_ortools,
    cores: int = 1,
) -> TierSolution:
    """PyVRP for ``share`` of the budget, then OR-Tools from its routes for the rest (at least
    :data:`MIN_POLISH_S`, at most :data:`MAX_POLISH_S`).

    ``cores`` > 1 runs PyVRP on that many processes (:func:`_parallel_search`: a seed each,
    then, for a large problem on a short budget, parts of the solution searched at once) and
    polishes the answer (for one big problem on an idle machine; the daily plan uses its
    cores for the stations instead).

    OR-Tools models every constraint: PyVRP's routes are its warm start, so its answer is
    either at least as good (it accepted and polished them) or, if it rejected them, a
    solution of its own. Both are priced by :func:`~routing.route_cost.evaluate_solution`
    and the cheaper feasible one that OR-Tools accepted is returned. With a
    ``solution_limit`` the work is fixed instead (deterministic): PyVRP runs that many
    iterations, OR-Tools stops after ``solution_limit // POLISH_SOLUTIONS_PER`` solutions.

    Problems PyVRP does not model exactly but :func:`pyvrp_start` approximates (the village
    runs: deliveries and pickups, reloads, range, compatibility) get its routes as OR-Tools'
    warm start after :data:`START_SHARE` of the budget, and OR-Tools' answer is returned
    (``"pyvrp-start+ortools"``). Falls back to ``polish`` alone (plain OR-Tools) with the
    whole budget when PyVRP is not installed or the problem has a feature it cannot even
    approximate (repairs: vehicles under way, late releases; several depots; soft windows).

    Returns
    -------
    TierSolution
        ``backend`` says which path produced it: ``"pyvrp+ortools"`` (OR-Tools accepted
        PyVRP's routes and returned them or better ones), ``"ortools"`` (fallback, or
        OR-Tools rejected them) or ``"pyvrp (not confirmed by ortools)"`` (OR-Tools found no
        solution in its share; the routes passed :func:`~routing.route_cost.evaluate_solution`).
    """
    started = time.perf_counter()
    if not pyvrp_available():
        return polish(problem)
    if unsupported_feature(problem) is not None:
        if approximation_gap(problem) is not None:
            return polish(problem)
        return _start_then_polish(problem, polish)
    budget = problem.time_limit_s
    first = _parallel_search(
        replace(problem, time_limit_s=max(0.01, budget - _polish_s(budget, share))),
        cores,
    )
    left = max(MIN_POLISH_S, budget - (time.perf_counter() - started))
    if first.status is not SolveStatus.FEASIBLE:
        return replace(polish(replace(problem, time_limit_s=left)), backend="ortools")
    second = polish(_polish_problem(problem, first, left))
    wall = time.perf_counter() - started
    ev_first = evaluate_solution(problem, first)
    ev_second = evaluate_solution(problem, second)
    if ev_second.feasible and ev_second.cost <= ev_first.cost:
        return replace(second, objective=ev_second.cost, wall_s=wall, backend="pyvrp+ortools")
    if ev_second.feasible:
        # OR-Tools' answer is worse than its warm start: it did not accept PyVRP's routes, so
        # they break a constraint only OR-Tools models. Trust OR-Tools.
        return replace(second, objective=ev_second.cost, wall_s=wall, backend="ortools")
    # OR-Tools found nothing in its share (a rejected warm start, or time out before it took
    # it): PyVRP's routes, exact for this problem and checked by the evaluator, say so.
    if ev_first.feasible:
        return replace(first, wall_s=wall, backend="pyvrp (not confirmed by ortools)")
    return replace(second, wall_s=wall, backend="ortools")
