"""The PyVRP backend: PyVRP's iterated local search on the tier problems it models.

The only module besides :mod:`routing.solvers.parallel` that imports ``pyvrp``. PyVRP models
exactly the tier problems whose OR-Tools model needs no depot copies:

* one or several depots; vehicles grouped into vehicle types (per depot), with capacity in up to three resources,
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
time at the depot for these), range limits, vehicle–stop compatibility and soft windows.
Several depots are modelled (PyVRP's depots, each vehicle type starting, reloading and ending
at its vehicles' depot): a multi-depot problem such as the county's joint village runs. :func:`pyvrp_start` approximates the first ones — mixed loads, reloads, range,
compatibility: the village runs — closely enough for a warm start (see its docstring). A
warm start given to PyVRP (``initial_routes``) is ignored, except by
:func:`pyvrp_from_start`, which starts PyVRP's search of the approximation from it (the
cross-boundary search, from the tied day's village runs). Matrices are
assumed to have a zero diagonal (stops at one site share a PyVRP location).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pyvrp import (
    Activity,
    ActivityType,
    CostEvaluator,
    IteratedLocalSearch,
    IteratedLocalSearchParams,
    Model,
    PenaltyManager,
    PenaltyParams,
    RandomNumberGenerator,
    Route,
    Solution,
    SolveParams,
)
from pyvrp.search import LocalSearch, PerturbationManager, compute_neighbours
from pyvrp.stop import MaxIterations, MaxRuntime

from networks import UNREACHABLE
from routing.evaluate import depot_handling_feature, evaluate_solution
from routing.problem import (
    SolveStatus,
    TierProblem,
    TierSolution,
    TierVisit,
)
from routing.solvers.settings import SolveSettings

__all__ = [
    "HISTORY_PER_ITERATION",
    "MIN_HISTORY",
    "PENALTY_PER_PRIZE",
    "START_RESTARTS",
    "PyvrpData",
    "answer",
    "approximation_gap",
    "build",
    "empty_solution",
    "initial_penalties",
    "initial_routes",
    "overloaded",
    "penalty_params",
    "precise_penalty",
    "pyvrp_cost",
    "pyvrp_from_start",
    "pyvrp_start",
    "refuse_unsupported",
    "run_search",
    "search_params",
    "solve_pyvrp",
    "stop_criterion",
    "unsupported_feature",
]

_PYVRP_MAX_VALUE = 1 << 44  # pyvrp.constants.MAX_VALUE: larger distances lose precision


def unsupported_feature(problem: TierProblem) -> str | None:
    """The first feature of ``problem`` PyVRP does not model as the OR-Tools model does, or
    ``None``."""
    if (feature := depot_handling_feature(problem)) is not None:
        return feature
    if any(v.range_m is not None for v in problem.vehicles):
        return "vehicle range limits"
    if any(n.allowed is not None for n in problem.nodes):
        return "vehicle-stop compatibility (allowed)"
    if any(n.soft_latest is not None for n in problem.nodes):
        return "soft time windows (soft_latest)"
    return None


def empty_solution(
    problem: TierProblem, status: SolveStatus, wall: float, backend: str
) -> TierSolution:
    dropped = tuple(range(len(problem.nodes))) if status is SolveStatus.EMPTY else ()
    return TierSolution(status, tuple(() for _ in problem.vehicles), dropped, 0, wall, backend)


def approximation_gap(problem: TierProblem) -> str | None:
    """The first feature of ``problem`` that even :func:`pyvrp_start` cannot approximate, or
    ``None``: vehicles under way and parcels released late or already on board (repairs),
    soft windows."""
    if any(v.start_site is not None or any(v.initial_load) for v in problem.vehicles):
        return "vehicles under way"
    if any(n.release_s is not None or n.onboard for n in problem.nodes):
        return "release times or parcels on board"
    if any(n.soft_latest is not None for n in problem.nodes):
        return "soft time windows (soft_latest)"
    return None


def refuse_unsupported(problem: TierProblem) -> None:
    if (reason := unsupported_feature(problem)) is not None:
        raise NotImplementedError(f"PyVRP backend does not model {reason} ({problem.name})")


def solve_pyvrp(problem: TierProblem, settings: SolveSettings) -> TierSolution:
    """Solve one tier problem with PyVRP's iterated local search (default parameters; the
    penalties scaled to the prizes, :func:`initial_penalties`).

    Runs for ``settings.time_limit_s`` seconds, or ``settings.work`` iterations when that is
    set (deterministic), with ``settings.seed``.

    Returns
    -------
    TierSolution
        ``FEASIBLE`` with PyVRP's best routes, or ``NO_SOLUTION`` when its best solution breaks
        a constraint. ``objective`` is the cost as :func:`~routing.evaluate.evaluate_solution`
        prices it.

    Raises
    ------
    NotImplementedError
        When the problem has a feature PyVRP does not model (see :func:`unsupported_feature`).
    """
    refuse_unsupported(problem)
    solution = _run(problem, settings, approximate=False)
    if solution.status is not SolveStatus.FEASIBLE:
        return solution
    return replace(solution, objective=evaluate_solution(problem, solution).cost)


def pyvrp_start(problem: TierProblem, settings: SolveSettings) -> TierSolution:
    """Routes for a warm start of the OR-Tools model, from PyVRP on an approximation of
    ``problem`` — for problems PyVRP cannot model exactly but close enough to search well:

    * deliveries and pickups in one problem: PyVRP checks the load at every point of a
      route exactly (simultaneous pickup and delivery); the loading and unloading time at the
      depot (the problem's ``load_s_per_parcel`` and ``unload_s_per_parcel``) is added to the stop's
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
    _approximable(problem)
    return _run(problem, settings, approximate=True, starts=START_RESTARTS)


def pyvrp_from_start(
    problem: TierProblem, settings: SolveSettings
) -> tuple[TierSolution, int | None, bool]:
    """PyVRP's search of the approximation of ``problem`` (as :func:`pyvrp_start`), started
    from its warm start (``initial_routes``: vehicle id, trips of node keys) instead of a
    random solution, one search with the whole work and ``settings.seed``.

    PyVRP's search keeps the best solution it has seen, the start included, so a start
    feasible in the approximation is never returned worse. Keys the problem does not have,
    vehicles it does not have or that may not serve a stop, and a vehicle's trips beyond its
    ``max_trips`` are left out of the start (those stops start unserved).

    Returns
    -------
    tuple[TierSolution, int | None, bool]
        The answer (``objective``: PyVRP's cost of the approximation, as
        :func:`pyvrp_start`), PyVRP's cost of the start in the same model (its violations
        of the approximation not priced; ``None`` without a start), and whether the start
        is feasible there (only then is the answer never above it).

    Raises
    ------
    NotImplementedError
        For the features of :func:`approximation_gap`.
    """
    _approximable(problem)
    built = build(problem, approximate=True)
    if isinstance(built, TierSolution):
        return built, None, False
    start = _start_solution(problem, built)
    result = _search(built, settings, settings.seed, start)
    if start is None:
        return answer(problem, built, result.best, approximate=True), None, False
    raw = CostEvaluator([0] * built.data.num_load_dimensions, 0, 0).penalised_cost(start)
    found = answer(problem, built, result.best, approximate=True)
    return found, int(raw), bool(start.is_feasible())


def _start_solution(problem: TierProblem, built: PyvrpData) -> Any:
    """The problem's warm start as a PyVRP solution of ``built`` (the approximation: a
    client per node, reloads at the vehicle's depot between trips), or ``None``."""
    if not problem.initial_routes:
        return None
    node_of = {n.key: i for i, n in enumerate(problem.nodes)}
    vehicle_of = {v.id: p for p, v in enumerate(problem.vehicles)}
    type_of = {p: t for t, members in enumerate(built.type_members) for p in members}
    routes = []
    used: set[int] = set()
    for vid, trips in problem.initial_routes:
        p = vehicle_of.get(vid, -1)
        if p not in type_of:
            continue
        reload = Activity(ActivityType.DEPOT, built.depot_index[problem.vehicles[p].depot])
        activities: list[Any] = []
        mine: set[int] = set()
        for trip in trips[: problem.vehicles[p].max_trips]:
            clients = [
                i
                for k in trip
                if (i := node_of.get(k, -1)) >= 0
                and i not in used
                and i not in mine
                and i not in built.bans[p]
            ]
            if not clients:
                continue
            if activities:
                activities.append(reload)
            activities += [Activity(ActivityType.CLIENT, i) for i in clients]
            mine.update(clients)
        if not activities:
            continue
        try:
            routes.append(Route(built.data, activities, type_of[p]))
        except ValueError:  # PyVRP refuses the route (more trips than the type allows)
            continue
        used |= mine
    return Solution(built.data, routes) if routes else None


START_RESTARTS = 2
"""Under a work budget, :func:`pyvrp_start` searches this many times from different random
starts (each with the whole work; seeds ``seed · START_RESTARTS + k``) and keeps the cheapest
answer. A short search that starts badly stays in its fleet mix (two vans where a van and a
tricycle serve, +17 % on one station of the built-in county in 2 of 10 seeds): a second
start makes such a plan rare, which is what narrows the plan's spread over seeds
(benchmarks/RESULTS.md, "Reproducible daily plans")."""

HISTORY_PER_ITERATION = 10
"""Under a work budget, PyVRP's late-acceptance history holds one solution per this many
iterations (at least :data:`MIN_HISTORY`, at most PyVRP's default 300). With the default
300 and the few hundred iterations of a station's search, every candidate is compared with
the starting solution (the history never fills): the search wanders among anything better
than its start. A history scaled to the work makes it climb."""

MIN_HISTORY = 5


def search_params(settings: SolveSettings, data: Any) -> SolveParams:
    """PyVRP's parameters for ``settings`` on ``data`` (a ``pyvrp.ProblemData``): the
    defaults, with the late-acceptance history scaled to the work under a work budget
    (:data:`HISTORY_PER_ITERATION`) and the penalty bounds of :func:`penalty_params`."""
    penalty = penalty_params(data)
    if settings.work is None:
        return SolveParams(penalty=penalty)
    default = IteratedLocalSearchParams().history_length
    history = max(MIN_HISTORY, min(default, settings.work // HISTORY_PER_ITERATION))
    return SolveParams(ils=IteratedLocalSearchParams(history_length=history), penalty=penalty)


PENALTY_PER_PRIZE = 3.0
"""PyVRP's initial penalty for a unit of excess load (per load dimension) or a second of
time warp, in multiples of the median prize an optional client offers per unit of its own
load (or per second of its service): see :func:`initial_penalties`. An overloaded route
then sheds a typical client rather than pay for the overload, while a valuable one (a poor
village's, a priority order's) may still ride over capacity for a while: PyVRP keeps the
best *feasible* solution it meets, and a softer search finds cheaper ones. Measured on the
three generated counties' joint village runs at ×2.5 demand (322–387 stops, 1,600
iterations, three seeds each; benchmarks/RESULTS.md, "The peer at ×2.5"): 3 found a
feasible solution in all 9 runs, and in all 6 on plain-160 and dense-200 with every
parcel's prize equal; 1.5 ended infeasible in 4 runs of 9; 6 was 26 % dearer on dense-200
(±1 % elsewhere); a share of the *largest* prize per unit instead (0.25, 1) found nothing
feasible on plain-160 with equal prizes. PyVRP's own midpoint (50,000 a unit, a tenth of
one parcel's prize) ended infeasible in every run."""

_PRECISE = float(2**52)
"""PyVRP multiplies a penalty (a double) by the violation and rounds to an integer cost:
above 2^53 the products lose integer precision and its local search compares costs that no
longer add up (a 322-stop search at 1.5e9 a unit, loads in grams, never ended). Raised
penalties stay below this over the largest violation a solution can have."""


def initial_penalties(data: Any) -> tuple[list[float], float, float]:
    """PyVRP's initial penalties (per unit of excess load in each dimension, per second of
    time warp, per unit of excess distance) for ``data``: PyVRP's own midpoint, raised
    where optional clients' prizes make it too low.

    PyVRP starts every penalty at the midpoint of its bounds (50,000 by default), whatever
    the units. A left-out stop costs its prize here (the deferral price: 500,000 cost units
    a parcel and more), so with PyVRP's penalties a van loaded beyond its capacity collects
    more prize than it pays in penalty: every solution the search meets on a day with more
    parcels than vans carry is overloaded, and PyVRP ends with no feasible solution at all
    (the county's village runs at ×2.5 demand). Each load dimension starts at
    :data:`PENALTY_PER_PRIZE` times the median prize per unit of that load among the
    optional clients that carry it, time warp at that multiple of the median prize per
    second of service (never below PyVRP's midpoint, never above :func:`precise_penalty`);
    the distance penalty stays PyVRP's (a unit of excess distance is one cost unit of
    driving). Without optional clients with a prize, PyVRP's midpoint unchanged."""
    loads, tw, dist = PenaltyParams().midpoint_penalties(data)
    clients = data.clients()
    prize = np.array([0 if c.required else c.prize for c in clients], dtype=np.float64)
    if not clients or prize.max() <= 0:
        return loads, tw, dist
    cap = precise_penalty(data)
    demand = _demand(data)
    optional = prize > 0
    for r in range(demand.shape[1]):
        used = optional & (demand[:, r] > 0)
        if used.any():
            wanted = PENALTY_PER_PRIZE * float(np.median(prize[used] / demand[used, r]))
            loads[r] = max(loads[r], min(cap, wanted))
    service = np.array([max(1, c.service_duration) for c in clients], dtype=np.float64)
    per_s = float(np.median(prize[optional] / service[optional]))
    tw = max(tw, min(cap, PENALTY_PER_PRIZE * per_s))
    return loads, tw, dist


def _demand(data: Any) -> Any:
    """Each client's delivery plus pickup, a row per client, a column per load dimension."""
    rows = [np.add(c.delivery, c.pickup) for c in data.clients()]
    return np.array(rows, dtype=np.float64).reshape(len(rows), data.num_load_dimensions)


def precise_penalty(data: Any) -> float:
    """The largest penalty whose product with any violation stays precise in PyVRP
    (:data:`_PRECISE`): a route's excess load is at most all the clients' load, its time
    warp at most their service plus the longest road drive into each and back (arcs that
    no road joins, :data:`networks.UNREACHABLE`, left aside)."""
    drives = [np.asarray(m) for m in data.duration_matrices()]
    longest = max((float(m[m < UNREACHABLE].max(initial=0)) for m in drives), default=0.0)
    service = float(sum(c.service_duration for c in data.clients()))
    load = float(_demand(data).sum(axis=0).max(initial=0))
    return _PRECISE / max(1.0, load, service + 2 * longest * float(data.num_clients))


def penalty_params(data: Any) -> PenaltyParams:
    """PyVRP's penalty parameters for ``data``: the defaults, with room above the initial
    penalties of :func:`initial_penalties` (up to twice the largest, within
    :func:`precise_penalty`) so that PyVRP can still raise them."""
    default = PenaltyParams()
    loads, tw, dist = initial_penalties(data)
    if (loads, tw, dist) == default.midpoint_penalties(data):
        return default  # nothing raised: PyVRP's own search
    top = max(*loads, tw, dist)
    return PenaltyParams(max_penalty=max(default.max_penalty, min(2 * top, precise_penalty(data))))


def run_search(
    data: Any,
    stop: Any,
    seed: int,
    params: SolveParams,
    initial_solution: Any = None,
    *,
    raised: bool = True,
) -> Any:
    """PyVRP's ``solve`` (its iterated local search from ``initial_solution`` or a random
    solution improved by its local search) with the penalties of :func:`initial_penalties`
    instead of the midpoint of ``params.penalty``'s bounds (``raised``; else PyVRP's own
    penalties); PyVRP's result. On data without prizes the same search as ``pyvrp.solve``."""
    rng = RandomNumberGenerator(seed=seed)
    neighbours = compute_neighbours(data, params.neighbourhood)
    ls = LocalSearch(data, rng, neighbours, PerturbationManager(params.perturbation))
    for op in params.operators:
        if op.supports(data):
            ls.add_operator(op(data))
    if raised:
        pm = PenaltyManager(initial_penalties(data), params.penalty)
    else:
        own = PenaltyParams()
        pm = PenaltyManager(own.midpoint_penalties(data), own)
    init = initial_solution
    if init is None:
        init = ls(Solution.make_random(data, rng), pm.max_cost_evaluator(), exhaustive=True)
    return IteratedLocalSearch(data, pm, ls, init, params.ils).run(stop, False, False)


_BANNED = 10**9
"""Cost of an arc into a stop the vehicle may not serve (approximate model): 100,000 yuan."""


@dataclass(frozen=True)
class PyvrpData:
    """A tier problem as PyVRP data: ``data`` (a ``pyvrp.ProblemData``), the problem's
    vehicles behind each PyVRP vehicle type, each vehicle's banned stops, when building
    started (the budget counts it) and each depot's index."""

    data: Any
    type_members: list[list[int]]
    bans: list[frozenset[int]]
    started: float
    depot_index: dict[str, int]
    """Depot site → its PyVRP depot index."""


def stop_criterion(settings: SolveSettings, started: float, share: float = 1.0) -> Any:
    """PyVRP's stopping criterion for ``share`` of the problem's work: iterations under a
    solution limit (deterministic), else the time left."""

    if settings.work is not None:
        return MaxIterations(max(1, round(settings.work * share)))
    left = settings.time_limit_s * share - (time.perf_counter() - started)
    return MaxRuntime(max(0.01, left))


def _run(
    problem: TierProblem, settings: SolveSettings, *, approximate: bool, starts: int = 1
) -> TierSolution:
    """PyVRP's search of ``problem``; under a work budget ``starts`` searches (seeds
    ``seed · starts + k``), the cheapest answer kept (the first on a tie)."""
    built = build(problem, approximate=approximate)
    if isinstance(built, TierSolution):
        return built
    runs = starts if settings.work is not None else 1
    best: Any = None
    for k in range(runs):
        result = _search(built, settings, settings.seed * runs + k)
        if best is None or (result.is_feasible(), -result.cost()) > (
            best.is_feasible(),
            -best.cost(),
        ):
            best = result
    return answer(problem, built, best.best, approximate=approximate)


def _approximable(problem: TierProblem) -> None:
    """Raise NotImplementedError for a problem PyVRP's approximation does not model."""
    reason = approximation_gap(problem)
    if reason is not None:
        raise NotImplementedError(f"PyVRP start does not approximate {reason} ({problem.name})")


def _search(built: PyvrpData, settings: SolveSettings, seed: int, start: Any = None) -> Any:
    """One PyVRP search of ``built`` under ``settings``' budget, from ``start`` (a PyVRP
    solution) or a random one; PyVRP's result.

    A problem whose clients need more than its vehicles carry on every trip they may make
    (:func:`overloaded`) is searched from the raised penalties (:func:`initial_penalties`)
    at once. Any other runs with PyVRP's own penalties first; only when it ends with no
    feasible solution and the prizes would raise them does it search again, with the same
    work, from the raised ones; under a time budget (no work) the first search then has
    half the time, and the second the rest, going on from the first's answer when that is
    feasible. (Raised always, they made the built-in county's plan 0.66 % dearer: a search
    that may not cross infeasible ground finds less on a day its vans can carry.)"""
    params = search_params(settings, built.data)

    def search(init: Any = start, *, raised: bool = True, share: float = 1.0) -> Any:
        stop = stop_criterion(settings, built.started, share)
        return run_search(built.data, stop, seed, params, init, raised=raised)

    if initial_penalties(built.data) == PenaltyParams().midpoint_penalties(built.data):
        return search(raised=False)  # the prizes raise nothing: PyVRP's own penalties
    if overloaded(built.data):
        return search()
    # under a time budget the first search gets half the time, so that the second has some
    # (the rest: it goes on from a feasible answer, or searches from the raised penalties)
    timed = settings.work is None
    first = search(raised=False, share=0.5 if timed else 1.0)
    if not first.is_feasible():
        return search()
    return search(first.best, raised=False) if timed else first


def overloaded(data: Any) -> bool:
    """Whether the clients of ``data`` need more, in some load dimension, than its vehicles
    carry on all the trips they may make (their capacity × (reloads + 1), each vehicle
    full on every trip; deliveries and pickups apart, as a trip carries each up to its
    capacity): then some clients must be left out, whatever the routes.

    The stations' village runs at ×2.5 demand on the generated counties of
    ``benchmarks.pooling`` need 0.56–1.61 of it (most above 1); at ×1, 0.12–0.68."""
    demand = np.array([[c.delivery, c.pickup] for c in data.clients()], dtype=np.float64).reshape(
        -1, 2, data.num_load_dimensions
    )
    need = demand.sum(axis=0).max(axis=0)
    carry = np.zeros(data.num_load_dimensions)
    for vt in data.vehicle_types():
        trips = vt.max_reloads + 1 if vt.reload_depots else 1
        carry += np.array(vt.capacity, dtype=np.float64) * vt.num_available * trips
    return bool((need > carry).any())


def build(problem: TierProblem, *, approximate: bool) -> PyvrpData | TierSolution:
    """The PyVRP data of ``problem``, or the answer when there is nothing to search."""
    started = time.perf_counter()
    if not problem.nodes or not problem.vehicles:
        return empty_solution(problem, SolveStatus.EMPTY, 0.0, "pyvrp")

    model = Model()
    pos = problem.site_index
    vehicles, nodes = problem.vehicles, problem.nodes
    # every depot first (PyVRP numbers depots before clients), in the order of the sites
    depot_sites = sorted({v.depot for v in vehicles}, key=pos.__getitem__)
    # the OR-Tools model adds load-dependent depot time here: approximated below
    handling = approximate and depot_handling_feature(problem) is not None
    if approximate:
        # one location per stop: a stop some vehicles may not serve is far for them only
        used_sites = [*depot_sites, *(n.site for n in nodes)]
        locs = [model.add_location(0.0, 0.0, name=s) for s in used_sites]
        loc_of = [locs[len(depot_sites) + i] for i in range(len(nodes))]
    else:
        used_sites = list(dict.fromkeys([*depot_sites, *(n.site for n in nodes)]))
        by_site = {s: model.add_location(0.0, 0.0, name=s) for s in used_sites}
        locs = list(by_site.values())
        loc_of = [by_site[n.site] for n in nodes]
    reload_s = max(v.reload_s for v in vehicles) if handling else 0
    depot_of = {
        s: model.add_depot(locs[k], service_duration=reload_s, name=s)
        for k, s in enumerate(depot_sites)
    }
    first_client = len(depot_sites)
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
            cost[:, first_client + i] += _BANNED
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
            v.depot,
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
        return empty_solution(
            problem, SolveStatus.NO_SOLUTION, time.perf_counter() - started, "pyvrp"
        )
    type_members: list[list[int]] = []
    for members in groups.values():
        v = vehicles[members[0]]
        extra: dict[str, Any] = {}
        if approximate:
            if v.range_m is not None and v.cost_per_m > 0:
                extra["max_distance"] = math.floor(v.range_m * v.cost_per_m)
            if v.max_trips > 1:
                extra["reload_depots"] = [depot_of[v.depot]]
                extra["max_reloads"] = v.max_trips - 1
        model.add_vehicle_type(
            num_available=len(members),
            capacity=[v.capacity[r] for r in dims],
            start_depot=depot_of[v.depot],
            end_depot=depot_of[v.depot],
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
        depot_time = (
            problem.load_s_per_parcel * n.delivery[2] + problem.unload_s_per_parcel * n.pickup[2]
            if handling
            else 0
        )
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
    return PyvrpData(data, type_members, bans, started, {s: k for k, s in enumerate(depot_sites)})


def answer(problem: TierProblem, built: PyvrpData, best: Any, *, approximate: bool) -> TierSolution:
    """PyVRP's solution ``best`` as the problem's routes (``NO_SOLUTION`` if infeasible)."""
    wall = time.perf_counter() - built.started
    if not best.is_feasible():
        return empty_solution(problem, SolveStatus.NO_SOLUTION, wall, "pyvrp")
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
        objective=pyvrp_cost(built.data, best) if approximate else 0,
        wall_s=wall,
        backend="pyvrp (approximate)" if approximate else "pyvrp",
    )


def pyvrp_cost(data: Any, solution: Any) -> int:
    """PyVRP's cost of a solution (the largest integer when it is infeasible)."""

    return int(CostEvaluator([0] * data.num_load_dimensions, 0, 0).cost(solution))


def initial_routes(
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
