"""Solver-free evaluation of routes: recomputed distances, loads, times and costs.

:func:`evaluate_solution` judges a :class:`~routing.problem.TierSolution` against its
  :class:`~routing.problem.TierProblem` and prices it the way the OR-Tools model does (cost
  units: per-arc ``rint(distance · cost_per_m)``, ``round(cost_per_s)`` per second on duty,
  the fixed cost of a used vehicle, soft-window lateness, the penalty of each left-out stop).
  It compares two backends' solutions of one problem, for the single-trip problems without
  depot handling time that both backends model alike (:func:`depot_handling_feature`).

It returns an :class:`Evaluation`; infeasibility is its content, never an exception (a problem
outside its scope raises :class:`NotImplementedError`). The benchmark instances' own
evaluator, :func:`benchmarks.formats.evaluate_routes`, returns the same type.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from routing.problem import SolveStatus, TierProblem, TierSolution

__all__ = ["Evaluation", "depot_handling_feature", "evaluate_solution"]


@dataclass(frozen=True)
class Evaluation:
    """What an evaluator found: feasibility, recomputed cost and each violation."""

    cost: int
    violations: tuple[str, ...]
    routes: int

    @property
    def feasible(self) -> bool:
        return not self.violations


def depot_handling_feature(problem: TierProblem) -> str | None:
    """The first feature for which the OR-Tools model routes parcels through depot copies,
    adding loading and unloading time there (see :mod:`routing.solvers.ortools_model`), or ``None``.

    Such problems are outside :func:`evaluate_solution` and the PyVRP backend: their times
    depend on each trip's load.
    """
    if any(any(n.delivery) and any(n.pickup) for n in problem.nodes) or (
        any(any(n.delivery) for n in problem.nodes) and any(any(n.pickup) for n in problem.nodes)
    ):
        return "deliveries and pickups in one problem (depot handling time)"
    if any(v.max_trips > 1 for v in problem.vehicles):
        return "multi-trip vehicles (reloads at the depot)"
    if any(v.start_site is not None for v in problem.vehicles):
        return "vehicles under way (start_site)"
    if any(any(v.initial_load) for v in problem.vehicles):
        return "parcels on board at the start (initial_load)"
    if any(n.release_s is not None for n in problem.nodes):
        return "release times (release_s)"
    if any(n.onboard for n in problem.nodes):
        return "deliveries already on board (onboard)"
    return None


def evaluate_solution(problem: TierProblem, solution: TierSolution) -> Evaluation:
    """Check a tier solution against its problem and price it as the OR-Tools model does.

    Recomputes each vehicle's run forward from its departure time (waiting allowed): windows
    at every stop, capacity in each resource at every point, departure window, shift end,
    duration, range, vehicle–stop compatibility, one trip per vehicle, and every stop served
    exactly once or, if optional, left out at its penalty. Cost: per-arc
    ``rint(distance · cost_per_m)``, ``round(cost_per_s)`` per second on duty, the fixed cost
    of a used vehicle, soft-window lateness, and the penalty of each stop left out.

    Returns
    -------
    Evaluation
        ``cost`` in cost units; ``routes`` = vehicles used.

    Raises
    ------
    NotImplementedError
        For problems with depot handling (see :func:`depot_handling_feature`).
    """
    if (feature := depot_handling_feature(problem)) is not None:
        raise NotImplementedError(f"evaluate_solution does not model {feature}")
    if solution.status is SolveStatus.NO_SOLUTION:
        return Evaluation(0, ("no solution",), 0)
    pos = problem.site_index
    violations: list[str] = []
    served = Counter(v.node for trips in solution.routes for _, visits, _ in trips for v in visits)
    dropped = set(solution.dropped)
    cost = 0
    for i, node in enumerate(problem.nodes):
        times = served.get(i, 0)
        if times > 1:
            violations.append(f"stop {node.key!r} served {times} times")
        if times and i in dropped:
            violations.append(f"stop {node.key!r} served and left out")
        if not times:
            if node.penalty is None:
                violations.append(f"mandatory stop {node.key!r} not served")
            else:
                cost += node.penalty
    if len(solution.routes) > len(problem.vehicles):
        violations.append(f"{len(solution.routes)} vehicles in the solution")
    used = 0
    for p, trips in enumerate(solution.routes[: len(problem.vehicles)]):
        if not trips:
            continue
        v = problem.vehicles[p]
        label = f"vehicle {v.id}"
        used += 1
        if len(trips) > 1:
            violations.append(f"{label}: {len(trips)} trips > 1")
        leave, visits, _ = trips[0]
        latest_leave = v.latest_end_s if v.latest_start_s is None else v.latest_start_s
        if not v.earliest_start_s <= leave <= max(v.earliest_start_s, latest_leave):
            violations.append(f"{label}: leaves at {leave}, outside its departure window")
        dist_m = problem.distance_m[v.vehicle_class]
        time_s = problem.time_s[v.vehicle_class]
        cap = np.array(v.capacity)
        # pure deliveries: the start load is the run's deliveries; pure pickups: it is zero
        load = np.sum([problem.nodes[x.node].delivery for x in visits], axis=0, dtype=np.int64)
        if (load > cap).any():
            violations.append(f"{label}: start load {load.tolist()} > {v.capacity}")
        t, at, driven_m = leave, pos[v.depot], 0
        cost += v.fixed_cost
        for s, x in enumerate(visits, start=1):
            node = problem.nodes[x.node]
            site = pos[node.site]
            if node.allowed is not None and p not in node.allowed:
                violations.append(f"{label}: stop {node.key!r} not allowed on this vehicle")
            driven_m += int(dist_m[at, site])
            cost += round(float(dist_m[at, site]) * v.cost_per_m)
            start = max(t + int(time_s[at, site]), node.window[0])
            if start > node.window[1]:
                violations.append(
                    f"{label} stop {s} ({node.key}): starts at {start} > {node.window[1]}"
                )
            if node.soft_latest is not None:
                cost += node.soft_latest[1] * max(0, start - node.soft_latest[0])
            load = load - np.array(node.delivery) + np.array(node.pickup)
            if (load > cap).any():
                violations.append(
                    f"{label} stop {s} ({node.key}): load {load.tolist()} > {v.capacity}"
                )
            t, at = start + node.service_s, site
        home = pos[v.depot]
        driven_m += int(dist_m[at, home])
        cost += round(float(dist_m[at, home]) * v.cost_per_m)
        back = t + int(time_s[at, home])
        if back > v.latest_end_s:
            violations.append(f"{label}: back at {back} > {v.latest_end_s}")
        if back - leave > v.max_duration_s:
            violations.append(f"{label}: on duty {back - leave} s > {v.max_duration_s} s")
        if v.range_m is not None and driven_m > v.range_m:
            violations.append(f"{label}: drives {driven_m} m > range {v.range_m} m")
        cost += max(0, round(v.cost_per_s)) * (back - leave)
    return Evaluation(cost, tuple(violations), used)
