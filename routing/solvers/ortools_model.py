"""The OR-Tools backend: the only module that imports ``ortools``.

It turns a :class:`~routing.problem.TierProblem` into a RoutingModel and back.

* Matrices and per-node vectors are registered in C++ (``RegisterTransitMatrix``,
  ``RegisterUnaryTransitVector``); no Python callback runs on a hot path.
* **Loads at every point, reloads, releases.** When a problem mixes deliveries and pickups
  (or allows reload trips, or starts vehicles under way), every stop's deliveries become a
  pickup-and-delivery pair from a *loading copy* of the depot, and its pickups a pair to an
  *unloading copy*: the load dimension then counts exactly what is on board after every stop
  and OR-Tools' filters and pair operators see it. A vehicle that comes back to the depot
  between stops to visit copies is making a reload trip; a "reloads" dimension counts those
  returns against ``max_trips``. A stop's release time is its loading copy's time window.
  Problems of pure deliveries or pure pickups without reloads use one cumulative dimension.
* Optional stops are disjunctions whose penalty is the deferral cost.
* Search: a first solution by parallel cheapest insertion, then guided local search within
  the time limit (or a solution limit, which makes it deterministic).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

from routing.problem import (
    SolveStatus,
    TierProblem,
    TierSolution,
    TierVisit,
)
from routing.solvers.settings import SolveSettings

__all__ = ["solve_ortools"]

_HORIZON_S = 48 * 3600
_BIG = 10**12

_INSERTION_LNS = (
    "use_global_cheapest_insertion_path_lns",
    "use_local_cheapest_insertion_path_lns",
    "use_relocate_path_global_cheapest_insertion_insert_unperformed",
    "use_global_cheapest_insertion_visit_types_lns",
    "use_local_cheapest_insertion_visit_types_lns",
)

_FALLBACK_STRATEGIES = (
    routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC,
    routing_enums_pb2.FirstSolutionStrategy.SAVINGS,
    routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION,
)


@dataclass(frozen=True, slots=True)
class _Copy:
    """A depot copy: where a stop's deliveries are loaded or its pickups unloaded."""

    stop: int
    depot: str
    loading: bool


def _needs_copies(problem: TierProblem) -> bool:
    mixed = any(any(n.delivery) and any(n.pickup) for n in problem.nodes)
    both = any(any(n.delivery) for n in problem.nodes) and any(any(n.pickup) for n in problem.nodes)
    return (
        mixed
        or both
        or any(v.max_trips > 1 for v in problem.vehicles)
        or any(v.start_site is not None or any(v.initial_load) for v in problem.vehicles)
        or any(n.release_s is not None or n.onboard for n in problem.nodes)
    )


def _none_performed(
    model: pywrapcp.RoutingModel, solution: pywrapcp.Assignment, problem: TierProblem
) -> bool:
    """True when no vehicle leaves its start although there are stops to serve."""
    return bool(problem.nodes) and all(
        model.IsEnd(solution.Value(model.NextVar(model.Start(p))))
        for p in range(len(problem.vehicles))
    )


def _timed_out(model: pywrapcp.RoutingModel, settings: SolveSettings) -> bool:
    """Whether OR-Tools' last search, given ``settings.work`` solutions, ended on its time
    limit instead: guided local search ends only at a limit, so fewer solutions than that
    (its own count, not a guess from the wall time) mean the clock stopped it."""
    return settings.work is not None and model.solver().Solutions() < settings.work


def solve_ortools(problem: TierProblem, settings: SolveSettings) -> TierSolution:
    """Solve one tier problem with OR-Tools' routing library.

    Searches for ``settings.time_limit_s`` seconds, or until ``settings.work`` solutions
    (deterministic) when that is set.

    Returns a :class:`TierSolution`; infeasibility is its status, never an exception.
    """
    started = time.perf_counter()
    n_stops = len(problem.nodes)
    n_veh = len(problem.vehicles)
    if not problem.nodes or not problem.vehicles:
        return TierSolution(
            SolveStatus.EMPTY,
            tuple(() for _ in range(n_veh)),
            tuple(range(n_stops)),
            0,
            0.0,
            "ortools",
        )
    site_pos = problem.site_index
    vehicles = problem.vehicles
    depots = sorted({v.depot for v in vehicles}, key=site_pos.__getitem__)
    # anchors: the depots, then one start node per vehicle under way (even when it stands at
    # its depot: it has left with its load, so coming back to a copy ends its current trip)
    under_way = [p for p, v in enumerate(vehicles) if v.start_site is not None]
    anchors = depots + [vehicles[p].start_site or "" for p in under_way]
    anchor = {s: i for i, s in enumerate(depots)}
    start_anchor = {p: len(depots) + k for k, p in enumerate(under_way)}
    n_anchor = len(anchors)
    copies: list[_Copy] = []
    use_copies = _needs_copies(problem)
    if use_copies:
        # one loading and one unloading copy per stop, standing wherever the vehicle that
        # carries the stop lives (each depot has its own transit matrices below), so moving a
        # stop to a vehicle of another depot is a plain pair relocation
        for i, node in enumerate(problem.nodes):
            if any(node.delivery) and not node.onboard:
                copies.append(_Copy(i, "", True))
            if any(node.pickup):
                copies.append(_Copy(i, "", False))
        for p, v in enumerate(vehicles):  # parcels collected before a repair, still on board
            if any(v.initial_load):
                copies.append(_Copy(-1 - p, v.depot, False))
    stop_node0 = n_anchor
    copy_node0 = n_anchor + n_stops
    n_nodes = copy_node0 + len(copies)

    def node_sites(depot: str) -> NDArray[np.int64]:
        """Matrix rows of every node, with the copies at ``depot``."""
        return np.array(
            [site_pos[s] for s in anchors]
            + [site_pos[n.site] for n in problem.nodes]
            + [site_pos[c.depot or depot] for c in copies],
            dtype=np.int64,
        )

    def copy_parcels(c: _Copy) -> int:
        if c.stop < 0:
            return vehicles[-1 - c.stop].initial_load[2]
        node = problem.nodes[c.stop]
        return node.delivery[2] if c.loading else node.pickup[2]

    service = np.array(
        [0] * n_anchor
        + [n.service_s for n in problem.nodes]
        + [
            (problem.load_s_per_parcel if c.loading else problem.unload_s_per_parcel)
            * copy_parcels(c)
            for c in copies
        ],
        dtype=np.int64,
    )
    # going straight from one stop to another at the same site skips the second one's setup
    same_site_setup = None
    if any(n.setup_s for n in problem.nodes):
        stop_sites = np.array([site_pos[n.site] for n in problem.nodes], dtype=np.int64)
        same_site_setup = np.where(
            (stop_sites[:, None] == stop_sites[None, :]) & ~np.eye(n_stops, dtype=bool),
            np.array([n.setup_s for n in problem.nodes], dtype=np.int64)[None, :],
            0,
        )
    starts = [start_anchor.get(p, anchor[v.depot]) for p, v in enumerate(vehicles)]
    ends = [anchor[v.depot] for v in vehicles]
    manager = pywrapcp.RoutingIndexManager(n_nodes, n_veh, starts, ends)
    model = pywrapcp.RoutingModel(manager)
    solver = model.solver()

    # --- matrices per class and depot, registered once ---------------------------------------
    time_cb: dict[tuple[str, str], int] = {}
    dist_cb: dict[tuple[str, str], int] = {}
    cost_cb: dict[tuple[str, str, float], int] = {}
    for p, v in enumerate(vehicles):
        key = (v.vehicle_class, v.depot)
        if key not in time_cb:
            idx = node_sites(v.depot)
            d = problem.distance_m[v.vehicle_class][np.ix_(idx, idx)]
            t = problem.time_s[v.vehicle_class][np.ix_(idx, idx)] + service[:, None]
            if same_site_setup is not None:  # one setup per visit of a site (TierNode.setup_s)
                t[stop_node0:copy_node0, stop_node0:copy_node0] -= same_site_setup
            if copies:  # coming back from the road to load or unload takes the reload time
                t[stop_node0:copy_node0, copy_node0:] += max(
                    w.reload_s for w in vehicles if w.vehicle_class == v.vehicle_class
                )
            time_cb[key] = model.RegisterTransitMatrix(t.tolist())
            dist_cb[key] = model.RegisterTransitMatrix(d.tolist())
        ckey = (v.vehicle_class, v.depot, v.cost_per_m)
        if ckey not in cost_cb:
            idx = node_sites(v.depot)
            d = problem.distance_m[v.vehicle_class][np.ix_(idx, idx)]
            cost_cb[ckey] = model.RegisterTransitMatrix(
                np.rint(d * v.cost_per_m).astype(np.int64).tolist()
            )
        model.SetArcCostEvaluatorOfVehicle(cost_cb[ckey], p)
        model.SetFixedCostOfVehicle(v.fixed_cost, p)

    # --- time ------------------------------------------------------------------------------
    model.AddDimensionWithVehicleTransits(
        [time_cb[(v.vehicle_class, v.depot)] for v in vehicles],
        _HORIZON_S,
        _HORIZON_S,
        False,
        "time",
    )
    tdim = model.GetDimensionOrDie("time")
    for i, node in enumerate(problem.nodes):
        index = manager.NodeToIndex(stop_node0 + i)
        tdim.CumulVar(index).SetRange(*node.window)
        if node.soft_latest is not None:
            tdim.SetCumulVarSoftUpperBound(index, *node.soft_latest)
    for k, c in enumerate(copies):
        if c.loading and c.stop >= 0 and problem.nodes[c.stop].release_s is not None:
            release = problem.nodes[c.stop].release_s
            assert release is not None
            tdim.CumulVar(manager.NodeToIndex(copy_node0 + k)).SetMin(release)
    for p, v in enumerate(vehicles):
        tdim.CumulVar(model.Start(p)).SetRange(
            v.earliest_start_s,
            v.latest_end_s
            if v.latest_start_s is None
            else min(v.latest_end_s, max(v.earliest_start_s, v.latest_start_s)),
        )
        tdim.CumulVar(model.End(p)).SetRange(v.earliest_start_s, v.latest_end_s)
        tdim.SetSpanUpperBoundForVehicle(v.max_duration_s, p)
        tdim.SetSpanCostCoefficientForVehicle(max(0, round(v.cost_per_s)), p)
        model.AddVariableMinimizedByFinalizer(tdim.CumulVar(model.End(p)))
        model.AddVariableMaximizedByFinalizer(tdim.CumulVar(model.Start(p)))

    # --- loads -------------------------------------------------------------------------------
    for r, label in enumerate(("g", "cm3", "parcels")):
        caps = [v.capacity[r] for v in vehicles]
        if use_copies:
            change = [0] * n_anchor + [n.pickup[r] - n.delivery[r] for n in problem.nodes]
            for c in copies:
                if c.stop < 0:
                    change.append(-vehicles[-1 - c.stop].initial_load[r])
                else:
                    node = problem.nodes[c.stop]
                    change.append(node.delivery[r] if c.loading else -node.pickup[r])
        else:
            change = [0] * n_anchor + [n.delivery[r] + n.pickup[r] for n in problem.nodes]
        if not any(change):
            continue
        cb = model.RegisterUnaryTransitVector(change)
        model.AddDimensionWithVehicleCapacity(cb, 0, caps, False, f"load_{label}")
        dim = model.GetDimensionOrDie(f"load_{label}")
        for p, v in enumerate(vehicles):
            onboard = sum(
                n.delivery[r] for n in problem.nodes if n.onboard and n.allowed and p in n.allowed
            )
            dim.CumulVar(model.Start(p)).SetValue(v.initial_load[r] + onboard if use_copies else 0)

    # --- optional stops and compatibility ------------------------------------------------------
    for i, node in enumerate(problem.nodes):
        index = manager.NodeToIndex(stop_node0 + i)
        if node.penalty is not None:
            model.AddDisjunction([index], node.penalty)
        if node.allowed is not None:
            # SetAllowedVehiclesForIndex does not accept a Python list in this wrapper;
            # removing the other vehicles from the node's vehicle variable is equivalent.
            banned = [p for p in range(n_veh) if p not in node.allowed]
            if banned:
                model.VehicleVar(index).RemoveValues(banned)

    # --- pairs: loading copy -> stop -> unloading copy ------------------------------------
    if use_copies:
        for k, c in enumerate(copies):
            idx = manager.NodeToIndex(copy_node0 + k)
            if c.stop < 0:  # what one vehicle still carries is unloaded by that vehicle
                model.VehicleVar(idx).RemoveValues([p for p in range(n_veh) if p != -1 - c.stop])
                continue
            stop_idx = manager.NodeToIndex(stop_node0 + c.stop)
            first, second = (idx, stop_idx) if c.loading else (stop_idx, idx)
            model.AddDisjunction([idx], 0)  # a copy lives and dies with its stop
            model.AddPickupAndDelivery(first, second)
            solver.Add(model.VehicleVar(first) == model.VehicleVar(second))
            solver.Add(model.ActiveVar(first) == model.ActiveVar(second))
        # trips: count returns from a stop to the depot against max_trips
        ret = np.zeros((n_nodes, n_nodes), dtype=np.int64)
        # every arrival at the depot from a stop ends a trip: at a copy or at the end
        ret[stop_node0:copy_node0, copy_node0:] = 1
        ret[stop_node0:copy_node0, :n_anchor] = 1
        ret[len(depots) : n_anchor, copy_node0:] = 1
        ret_cb = model.RegisterTransitMatrix(ret.tolist())
        model.AddDimensionWithVehicleCapacity(
            ret_cb, 0, [v.max_trips for v in vehicles], True, "trips"
        )
        trips_dim = model.GetDimensionOrDie("trips")
        for i, node in enumerate(problem.nodes):
            if node.onboard:  # dropped on the trip under way, before any return to the depot
                trips_dim.CumulVar(manager.NodeToIndex(stop_node0 + i)).SetMax(0)

    # --- range (battery) ------------------------------------------------------------------------
    if any(v.range_m is not None for v in vehicles):
        model.AddDimensionWithVehicleTransitAndCapacity(
            [dist_cb[(v.vehicle_class, v.depot)] for v in vehicles],
            0,
            [v.range_m or _BIG for v in vehicles],
            True,
            "distance",
        )

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(max(1, round(settings.time_limit_s * 1000)))
    if all(n.penalty is None for n in problem.nodes):
        # Nothing may be left out: the insertion LNS operators that re-insert unperformed or
        # typed visits only cost time here, and they overrun the time limit (measured on the
        # X instances: a 0.8 s limit took 1.5 s). On plans with optional stops they pay off.
        for op in _INSERTION_LNS:
            setattr(params.local_search_operators, op, optional_boolean_pb2.BOOL_FALSE)
    if settings.work is not None:
        params.solution_limit = settings.work

    warm = None
    if problem.initial_routes:
        key_stop = {n.key: i for i, n in enumerate(problem.nodes)}
        copy_of: dict[tuple[int, bool], int] = {}
        for k, c in enumerate(copies):
            copy_of[(c.stop, c.loading)] = copy_node0 + k
        veh_pos = {v.id: p for p, v in enumerate(vehicles)}
        routes: list[list[int]] = [[] for _ in vehicles]
        for vid, trips in problem.initial_routes:
            if vid not in veh_pos:
                continue
            seq: list[int] = []
            for trip in trips:
                stops = [key_stop[key] for key in trip if key in key_stop]
                seq += [copy_of[(i, True)] for i in stops if (i, True) in copy_of]
                seq += [stop_node0 + i for i in stops]
                seq += [copy_of[(i, False)] for i in stops if (i, False) in copy_of]
            routes[veh_pos[vid]] = [manager.NodeToIndex(n) for n in seq]
        model.CloseModelWithParameters(params)
        warm = model.ReadAssignmentFromRoutes(routes, True)
    solution = (
        model.SolveFromAssignmentWithParameters(warm, params)
        if warm is not None
        else model.SolveWithParameters(params)
    )
    clock = _timed_out(model, settings)
    for fallback in _FALLBACK_STRATEGIES:
        # Insertion can fail where a stop sits in two pairs (it both drops and collects);
        # building paths another way may not. Retry with the time that is left.
        left_s = settings.time_limit_s - (time.perf_counter() - started)
        if solution is not None or warm is not None or left_s <= 0.01:
            break
        params.first_solution_strategy = fallback
        params.time_limit.FromMilliseconds(max(1, round(left_s * 1000)))
        solution = model.SolveWithParameters(params)
        clock = clock or _timed_out(model, settings)
    if solution is None or _none_performed(model, solution, problem):
        # The time limit bounds the improvement, not the search for a first plan: under load a
        # tight budget can run out before insertion has placed anything (every stop dropped),
        # or before a warm start was accepted.
        params.first_solution_strategy = (
            routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
        )
        params.time_limit.FromMilliseconds(round(max(2.0, 5 * settings.time_limit_s) * 1000))
        retry = model.SolveWithParameters(params)
        clock = True  # the time limit ran out before a first plan: the clock decided
        if retry is not None:
            solution = retry
    wall = time.perf_counter() - started
    if solution is None:
        return TierSolution(
            SolveStatus.NO_SOLUTION,
            tuple(() for _ in vehicles),
            (),
            0,
            wall,
            "ortools",
            clock_stopped=clock and settings.work is not None,
        )

    routes_out: list[list[tuple[int, tuple[TierVisit, ...], int]]] = [[] for _ in vehicles]
    reload_s = [
        max(w.reload_s for w in vehicles if w.vehicle_class == v.vehicle_class) for v in vehicles
    ]
    served: set[int] = set()
    for p in range(n_veh):
        index = model.Start(p)
        leave = solution.Value(tdim.CumulVar(index))
        visits: list[TierVisit] = []
        # a vehicle under way reports its current trip first, even when it has no stop left
        at_depot = p not in start_anchor
        index = solution.Value(model.NextVar(index))
        while not model.IsEnd(index):
            node = manager.IndexToNode(index)
            if node >= copy_node0:  # at the depot: loading or unloading
                if not at_depot and (visits or not routes_out[p]):
                    back = solution.Value(tdim.CumulVar(index)) - reload_s[p]
                    routes_out[p].append((leave, tuple(visits), back))
                    visits = []
                at_depot = True
                leave = solution.Value(tdim.CumulVar(index)) + int(service[node])
            else:
                at_depot = False
                visits.append(TierVisit(node - stop_node0, solution.Value(tdim.CumulVar(index))))
                served.add(node - stop_node0)
            index = solution.Value(model.NextVar(index))
        if visits or (not at_depot and not routes_out[p]):
            routes_out[p].append((leave, tuple(visits), solution.Value(tdim.CumulVar(index))))
    dropped = tuple(i for i in range(n_stops) if i not in served)
    return TierSolution(
        status=SolveStatus.FEASIBLE,
        routes=tuple(tuple(r) for r in routes_out),
        dropped=dropped,
        objective=solution.ObjectiveValue(),
        wall_s=wall,
        backend="ortools",
        clock_stopped=clock and settings.work is not None,
    )
