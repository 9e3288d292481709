"""The OR-Tools backend: the only module that imports ``ortools``.

It turns a :class:`~routing.problem.TierProblem` into a RoutingModel and back:

* matrices and per-node vectors are registered in C++ (``RegisterTransitMatrix``,
  ``RegisterUnaryTransitVector``); no Python callback runs on a hot path;
* simultaneous pickup and delivery with capacity at every point: per resource, a ``load``
  dimension (transit = pickup − delivery, free start) and a ``picked`` dimension (transit =
  pickup, start 0) with ``load(end) == picked(end)``, which forces the start load to equal the
  trip's deliveries; ``0 ≤ load ≤ capacity`` then holds after every stop;
* multi-trip vehicles (reloads at the depot) are chains of virtual vehicles: trip k+1 leaves
  no earlier than trip k's return plus the reload time, is used only if trip k is, shares the
  shift, the duration limit and the range, and pays no second fixed cost;
* optional stops are disjunctions whose penalty is the deferral cost;
* search: a first solution by parallel cheapest insertion, then guided local search within the
  time limit (or a solution limit, which makes it deterministic).
"""

from __future__ import annotations

import time

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.problem import SolveStatus, TierProblem, TierSolution, TierVisit

__all__ = ["solve_ortools"]

_HORIZON_S = 48 * 3600
_BIG = 10**12


def solve_ortools(problem: TierProblem) -> TierSolution:
    """Solve one tier problem with OR-Tools' routing library.

    Returns a :class:`TierSolution`; infeasibility is its status, never an exception.
    """
    started = time.perf_counter()
    if not problem.nodes or not problem.vehicles:
        return TierSolution(
            SolveStatus.EMPTY,
            tuple(() for _ in problem.vehicles),
            tuple(range(len(problem.nodes))),
            0,
            0.0,
            "ortools",
        )
    site_pos = problem.site_index
    depots = sorted({v.depot for v in problem.vehicles}, key=site_pos.__getitem__)
    depot_node = {d: i for i, d in enumerate(depots)}
    n_depots = len(depots)
    node_sites = [site_pos[d] for d in depots] + [site_pos[n.site] for n in problem.nodes]
    n_nodes = len(node_sites)

    # virtual vehicles: one per trip
    virtual: list[tuple[int, int]] = []  # (physical vehicle, trip)
    for p, v in enumerate(problem.vehicles):
        for k in range(v.max_trips):
            virtual.append((p, k))
    starts = [depot_node[problem.vehicles[p].depot] for p, _ in virtual]
    manager = pywrapcp.RoutingIndexManager(n_nodes, len(virtual), starts, starts)
    model = pywrapcp.RoutingModel(manager)
    solver = model.solver()

    idx = np.asarray(node_sites)
    service = np.array([0] * n_depots + [n.service_s for n in problem.nodes], dtype=np.int64)

    # --- transit matrices per class, registered once per class -----------------------
    time_cb: dict[str, int] = {}
    dist_cb: dict[str, int] = {}
    dist_sub: dict[str, np.ndarray] = {}
    for cls in sorted({v.vehicle_class for v in problem.vehicles}):
        d = problem.distance_m[cls][np.ix_(idx, idx)]
        t = problem.time_s[cls][np.ix_(idx, idx)] + service[:, None]
        dist_sub[cls] = d
        time_cb[cls] = model.RegisterTransitMatrix(t.tolist())
        dist_cb[cls] = model.RegisterTransitMatrix(d.tolist())
    cost_cb: dict[tuple[str, float], int] = {}
    for vi, (p, _) in enumerate(virtual):
        v = problem.vehicles[p]
        key = (v.vehicle_class, v.cost_per_m)
        if key not in cost_cb:
            c = np.rint(dist_sub[v.vehicle_class] * v.cost_per_m).astype(np.int64)
            cost_cb[key] = model.RegisterTransitMatrix(c.tolist())
        model.SetArcCostEvaluatorOfVehicle(cost_cb[key], vi)

    # --- time --------------------------------------------------------------------------
    model.AddDimensionWithVehicleTransits(
        [time_cb[problem.vehicles[p].vehicle_class] for p, _ in virtual],
        _HORIZON_S,
        _HORIZON_S,
        False,
        "time",
    )
    tdim = model.GetDimensionOrDie("time")
    for i, node in enumerate(problem.nodes):
        index = manager.NodeToIndex(n_depots + i)
        tdim.CumulVar(index).SetRange(*node.window)
        if node.soft_latest is not None:
            tdim.SetCumulVarSoftUpperBound(index, *node.soft_latest)
    for vi, (p, k) in enumerate(virtual):
        v = problem.vehicles[p]
        tdim.CumulVar(model.Start(vi)).SetRange(v.earliest_start_s, v.latest_end_s)
        tdim.CumulVar(model.End(vi)).SetRange(v.earliest_start_s, v.latest_end_s)
        tdim.SetSpanUpperBoundForVehicle(v.max_duration_s, vi)
        tdim.SetSpanCostCoefficientForVehicle(max(0, round(v.cost_per_s)), vi)
        if k == 0:
            model.SetFixedCostOfVehicle(v.fixed_cost, vi)
        model.AddVariableMinimizedByFinalizer(tdim.CumulVar(model.End(vi)))
        model.AddVariableMaximizedByFinalizer(tdim.CumulVar(model.Start(vi)))
    first_of: dict[int, int] = {}
    last_of: dict[int, int] = {}
    for vi, (p, k) in enumerate(virtual):
        first_of.setdefault(p, vi)
        last_of[p] = vi
        if k > 0:
            prev = vi - 1
            v = problem.vehicles[p]
            solver.Add(
                tdim.CumulVar(model.End(prev)) + v.reload_s <= tdim.CumulVar(model.Start(vi))
            )
            solver.Add(model.ActiveVehicleVar(vi) <= model.ActiveVehicleVar(prev))
    for p, v in enumerate(problem.vehicles):
        if v.max_trips > 1:
            solver.Add(
                tdim.CumulVar(model.End(last_of[p])) - tdim.CumulVar(model.Start(first_of[p]))
                <= v.max_duration_s
            )

    # --- capacities: load at every point --------------------------------------------------
    for r, label in enumerate(("g", "cm3", "parcels")):
        deliv = [0] * n_depots + [n.delivery[r] for n in problem.nodes]
        pick = [0] * n_depots + [n.pickup[r] for n in problem.nodes]
        caps = [problem.vehicles[p].capacity[r] for p, _ in virtual]
        if not any(pick):
            cb = model.RegisterUnaryTransitVector(deliv)
            model.AddDimensionWithVehicleCapacity(cb, 0, caps, True, f"load_{label}")
            continue
        if not any(deliv):
            cb = model.RegisterUnaryTransitVector(pick)
            model.AddDimensionWithVehicleCapacity(cb, 0, caps, True, f"load_{label}")
            continue
        net = model.RegisterUnaryTransitVector(
            [pk - dl for pk, dl in zip(pick, deliv, strict=True)]
        )
        model.AddDimensionWithVehicleCapacity(net, 0, caps, False, f"load_{label}")
        picked = model.RegisterUnaryTransitVector(pick)
        model.AddDimensionWithVehicleCapacity(
            picked, 0, [sum(pick)] * len(virtual), True, f"picked_{label}"
        )
        load = model.GetDimensionOrDie(f"load_{label}")
        got = model.GetDimensionOrDie(f"picked_{label}")
        for vi in range(len(virtual)):
            solver.Add(load.CumulVar(model.End(vi)) == got.CumulVar(model.End(vi)))

    # --- range (battery) shared by a vehicle's trips ------------------------------------------
    if any(v.range_m is not None for v in problem.vehicles):
        model.AddDimensionWithVehicleTransitAndCapacity(
            [dist_cb[problem.vehicles[p].vehicle_class] for p, _ in virtual],
            0,
            [problem.vehicles[p].range_m or _BIG for p, _ in virtual],
            False,
            "distance",
        )
        ddim = model.GetDimensionOrDie("distance")
        for vi, (_, k) in enumerate(virtual):
            if k == 0:
                ddim.CumulVar(model.Start(vi)).SetValue(0)
            else:
                solver.Add(ddim.CumulVar(model.Start(vi)) == ddim.CumulVar(model.End(vi - 1)))

    # --- optional stops and compatibility ----------------------------------------------------
    trips_of: dict[int, list[int]] = {}
    for vi, (p, _) in enumerate(virtual):
        trips_of.setdefault(p, []).append(vi)
    for i, node in enumerate(problem.nodes):
        index = manager.NodeToIndex(n_depots + i)
        if node.penalty is not None:
            model.AddDisjunction([index], node.penalty)
        if node.allowed is not None:
            # SetAllowedVehiclesForIndex does not accept a Python list in this wrapper;
            # removing the other vehicles from the node's vehicle variable is equivalent.
            allowed = {vi for p in node.allowed for vi in trips_of[p]}
            banned = [vi for vi in range(len(virtual)) if vi not in allowed]
            if banned:
                model.VehicleVar(index).RemoveValues(banned)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(max(1, round(problem.time_limit_s * 1000)))
    if problem.solution_limit is not None:
        params.solution_limit = problem.solution_limit

    initial = None
    if problem.initial_routes:
        key_node = {n.key: n_depots + i for i, n in enumerate(problem.nodes)}
        veh_pos = {v.id: p for p, v in enumerate(problem.vehicles)}
        routes: list[list[int]] = [[] for _ in virtual]
        for vid, trips in problem.initial_routes:
            if vid not in veh_pos:
                continue
            for k, trip in enumerate(trips):
                vis = list(trips_of[veh_pos[vid]])[k : k + 1]
                if vis:
                    routes[vis[0]] = [
                        manager.NodeToIndex(key_node[key]) for key in trip if key in key_node
                    ]
        model.CloseModelWithParameters(params)
        initial = model.ReadAssignmentFromRoutes(routes, True)
    solution = (
        model.SolveFromAssignmentWithParameters(initial, params)
        if initial is not None
        else model.SolveWithParameters(params)
    )
    if solution is None and any(n.penalty is None for n in problem.nodes):
        # Insertion heuristics trust the dimensions' filters, which do not see the side
        # constraint load(end) == picked(end): with mandatory stops they can commit to a trip
        # whose start load breaks it and fail on a feasible problem (pick up 80 then deliver
        # 80 on a 100 van). Building paths arc by arc does not; retry with what time is left.
        params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
        left_s = problem.time_limit_s - (time.perf_counter() - started)
        params.time_limit.FromMilliseconds(max(1, round(left_s * 1000)))
        solution = model.SolveWithParameters(params)
    wall = time.perf_counter() - started
    if solution is None:
        return TierSolution(
            SolveStatus.NO_SOLUTION, tuple(() for _ in problem.vehicles), (), 0, wall, "ortools"
        )
    routes_out: list[list[tuple[int, tuple[TierVisit, ...], int]]] = [[] for _ in problem.vehicles]
    served: set[int] = set()
    for vi, (p, _) in enumerate(virtual):
        index = model.Start(vi)
        leave = solution.Value(tdim.CumulVar(index))
        visits: list[TierVisit] = []
        index = solution.Value(model.NextVar(index))
        while not model.IsEnd(index):
            node = manager.IndexToNode(index) - n_depots
            visits.append(TierVisit(node, solution.Value(tdim.CumulVar(index))))
            served.add(node)
            index = solution.Value(model.NextVar(index))
        if visits:
            routes_out[p].append((leave, tuple(visits), solution.Value(tdim.CumulVar(index))))
    dropped = tuple(i for i in range(len(problem.nodes)) if i not in served)
    return TierSolution(
        status=SolveStatus.FEASIBLE,
        routes=tuple(tuple(r) for r in routes_out),
        dropped=dropped,
        objective=solution.ObjectiveValue(),
        wall_s=wall,
        backend="ortools",
    )
