"""Solver-free evaluation of routes: recomputed distances, loads, times and costs.

Two evaluators, neither importing a solver:

* :func:`evaluate_routes` judges routes of client numbers against a benchmark
  :class:`~routing.formats.Instance`, recomputing every leg from the coordinates under the
  instance's rounding convention (its own arithmetic, not the instance's matrix). Its cost is
  the one the quality benchmarks report: total distance in the instance's integer units
  (tenths for DIMACS VRPTW; :meth:`Instance.objective` turns it into the file's unit).
* :func:`evaluate_solution` judges a :class:`~routing.problem.TierSolution` against its
  :class:`~routing.problem.TierProblem` and prices it the way the OR-Tools model does (cost
  units: per-arc ``rint(distance · cost_per_m)``, ``round(cost_per_s)`` per second on duty,
  the fixed cost of a used vehicle, soft-window lateness, the penalty of each left-out stop).
  It compares two backends' solutions of one problem, for the single-trip problems without
  depot handling time that both backends model alike (:func:`depot_handling_feature`).

Both return an :class:`Evaluation`; infeasibility is its content, never an exception (a
problem outside :func:`evaluate_solution`'s scope raises :class:`NotImplementedError`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from routing.formats import Instance
from routing.problem import SolveStatus, TierProblem, TierSolution

__all__ = ["Evaluation", "depot_handling_feature", "evaluate_routes", "evaluate_solution"]


@dataclass(frozen=True)
class Evaluation:
    """What an evaluator found: feasibility, recomputed cost and each violation."""

    cost: int
    violations: tuple[str, ...]
    routes: int

    @property
    def feasible(self) -> bool:
        return not self.violations


def _leg(instance: Instance, a: int, b: int) -> int:
    (xa, ya), (xb, yb) = instance.coords[a], instance.coords[b]
    dx, dy = float(xa - xb), float(ya - yb)
    squared = dx * dx + dy * dy
    integral = dx.is_integer() and dy.is_integer()
    if instance.rounding == "dimacs":
        # floor(10 · euclid) = isqrt(100 · s) exactly when s is an integer
        return math.isqrt(int(100 * squared)) if integral else math.floor(10 * math.sqrt(squared))
    if instance.rounding == "round":
        return math.floor(math.sqrt(squared) + 0.5)
    raise ValueError(f"unknown rounding convention {instance.rounding!r}")


def evaluate_routes(instance: Instance, routes: Sequence[Sequence[int]]) -> Evaluation:
    """Check and price routes of client numbers (1..n; the depot 0 is implied at both ends).

    Checks every client exactly once, capacity per route, and for VRPTW the Solomon time
    semantics — leave the depot no earlier than its ready time, service starts inside
    [ready, due] (waiting allowed), service time after the start, back by the depot's due
    time — and no more routes than the file's vehicles. Empty routes are ignored.

    Parameters
    ----------
    instance
        The instance the routes are for.
    routes
        Client numbers in visiting order, one sequence per route.

    Returns
    -------
    Evaluation
        ``cost`` is the total distance in the instance's integer units.

    Examples
    --------
    >>> import numpy as np
    >>> from routing.formats import Instance, rounded_distances
    >>> xy = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    >>> inst = Instance("tiny", "cvrp", "round", 1, xy, np.array([0, 5, 5]), 9, 2,
    ...                 rounded_distances(xy, "round"), None, np.zeros(3, dtype=np.int64))
    >>> evaluate_routes(inst, [[1], [2]])
    Evaluation(cost=12, violations=(), routes=2)
    >>> evaluate_routes(inst, [[1, 2]]).violations
    ('route 1: load 10 > capacity 9',)
    """
    n = instance.n_clients
    violations: list[str] = []
    used = [tuple(r) for r in routes if len(r) > 0]
    seen = Counter(c for r in used for c in r)
    for c, times in sorted(seen.items()):
        if not 1 <= c <= n:
            violations.append(f"unknown client {c}")
        elif times > 1:
            violations.append(f"client {c} visited {times} times")
    missing = [c for c in range(1, n + 1) if c not in seen]
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
        violations.append(f"{len(missing)} clients not visited: {shown}")
    if violations and any(v.startswith("unknown") for v in violations):
        return Evaluation(0, tuple(violations), len(used))

    tw = instance.time_windows
    if tw is not None and len(used) > instance.num_vehicles:
        violations.append(f"{len(used)} routes > {instance.num_vehicles} vehicles")
    scale = instance.scale
    cost = 0
    for r, route in enumerate(used, start=1):
        load = sum(int(instance.demand[c]) for c in route)
        if load > instance.capacity:
            violations.append(f"route {r}: load {load} > capacity {instance.capacity}")
        prev = 0
        t = int(tw[0][0]) if tw is not None else 0
        for s, c in enumerate(route, start=1):
            leg = _leg(instance, prev, c)
            cost += leg
            if tw is not None:
                ready, due = int(tw[c][0]), int(tw[c][1])
                start = max(t + leg, ready)
                if start > due:
                    violations.append(
                        f"route {r} stop {s} (client {c}): service starts at "
                        f"{start / scale:g} > due {due / scale:g}"
                    )
                t = start + int(instance.service[c])
            prev = c
        leg = _leg(instance, prev, 0)
        cost += leg
        if tw is not None and t + leg > int(tw[0][1]):
            violations.append(
                f"route {r}: back at the depot at {(t + leg) / scale:g} > "
                f"depot due {int(tw[0][1]) / scale:g}"
            )
    return Evaluation(cost, tuple(violations), len(used))


def depot_handling_feature(problem: TierProblem) -> str | None:
    """The first feature for which the OR-Tools model routes parcels through depot copies,
    adding loading and unloading time there (see :mod:`routing.ortools_adapter`), or ``None``.

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
