"""Standard benchmark formats: VRPLIB CVRP and Solomon VRPTW instances, CVRPLIB solutions.

It reads the public instances in ``benchmarks/instances/`` into an
:class:`Instance` (the file's data, in integer units) and turns one into the same
:class:`~routing.problem.TierProblem` the daily plan solves, so the core is measured on them.

Units and rounding conventions (a gap only means something under the instance's convention):

* **CVRP X** (``rounding="round"``): d_ij = Euclidean distance rounded to the nearest integer
  (CVRPLIB ``nint``); ``scale = 1``. No time: the travel-time matrix is all zeros.
* **VRPTW Solomon / Gehring–Homberger** (``rounding="dimacs"``): the DIMACS convention,
  Euclidean distance truncated to one decimal. We work in tenths (``scale = 10``):
  d_ij = floor(10 · euclid) as an integer; travel time = distance; ready and due times and
  service durations are multiplied by 10. The objective is the integer total divided by 10.

Inside a :class:`TierProblem` one instance unit (times ``scale``) becomes one metre and one
second, and the cost is the distance (``cost_per_m = 1``, no time cost, no fixed cost), so the
solver's objective is the instance's total distance in its integer units.

Parsing uses the ``vrplib`` package; the rounding above is applied here, not by ``vrplib``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import vrplib
from numpy.typing import NDArray

from networks import InvalidScenario
from routing.evaluate import Evaluation
from routing.problem import TierNode, TierProblem, TierSolution, TierVehicle

__all__ = [
    "Instance",
    "Solution",
    "evaluate_routes",
    "instance_to_problem",
    "read_instance",
    "read_solomon",
    "read_solution",
    "read_vrplib",
    "rounded_distances",
    "solution_routes",
]

_CVRP_OPEN_S = 24 * 3600
"""CVRP has no time: windows and shifts are this wide and every travel time is zero."""

_VEHICLE_CLASS = "bench"


@dataclass(frozen=True, eq=False)
class Instance:
    """One benchmark instance, node 0 the depot and nodes 1..n the clients.

    Every quantity is an integer in the instance's internal unit: the file's unit times
    ``scale`` for distances and times (tenths for DIMACS), the file's unit for demands.

    Attributes
    ----------
    name
        The instance name (``X-n101-k25``, ``RC208``).
    kind
        ``"cvrp"`` or ``"vrptw"``.
    rounding
        ``"round"`` (nearest integer) or ``"dimacs"`` (truncated to one decimal).
    scale
        Internal units per file unit of distance and time: 1 (round) or 10 (dimacs).
    coords
        (n+1, 2) coordinates as in the file.
    demand
        (n+1,) demands, 0 at the depot.
    capacity
        Vehicle capacity.
    num_vehicles
        Vehicles in the file (VRPTW); for CVRP, where the fleet is unlimited, one per client
        (no solution can use more), as PyVRP's reader offers. A smaller fleet, such as 1.3 ×
        the route lower bound offered before, made PyVRP's search 0.2–0.3 points worse on X
        instances at 5 s.
    distance
        (n+1, n+1) read-only integer distances under the rounding convention, scaled.
    time_windows
        (n+1, 2) ready and due times, scaled (VRPTW), or ``None`` (CVRP).
    service
        (n+1,) service durations, scaled (zeros for CVRP).
    """

    name: str
    kind: str
    rounding: str
    scale: int
    coords: NDArray[np.float64]
    demand: NDArray[np.int64]
    capacity: int
    num_vehicles: int
    distance: NDArray[np.int64]
    time_windows: NDArray[np.int64] | None
    service: NDArray[np.int64]

    @property
    def n_clients(self) -> int:
        return len(self.demand) - 1

    def objective(self, cost: int) -> float:
        """An integer total in internal units as the instance's objective (tenths → units)."""
        return cost / self.scale


@dataclass(frozen=True)
class Solution:
    """A CVRPLIB-style solution: routes of client numbers (1..n, depot 0 left out)."""

    routes: tuple[tuple[int, ...], ...]
    cost: float | None


def _readonly(a: NDArray[np.int64]) -> NDArray[np.int64]:
    a = np.ascontiguousarray(a, dtype=np.int64)
    a.setflags(write=False)
    return a


def rounded_distances(coords: NDArray[np.float64], rounding: str) -> NDArray[np.int64]:
    """The integer distance matrix of ``coords`` under a rounding convention.

    Parameters
    ----------
    coords
        (m, 2) coordinates.
    rounding
        ``"round"``: nint(euclid) (CVRPLIB). ``"dimacs"``: floor(10 · euclid), i.e. tenths.

    Returns
    -------
    NDArray[np.int64]
        (m, m) distances.

    Raises
    ------
    ValueError
        On an unknown convention.

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 4.0]])
    >>> rounded_distances(xy, "round").tolist()
    [[0, 1, 5], [1, 0, 4], [5, 4, 0]]
    >>> rounded_distances(xy, "dimacs").tolist()
    [[0, 14, 50], [14, 0, 36], [50, 36, 0]]
    """
    diff = coords[:, None, :] - coords[None, :, :]
    squared = (diff**2).sum(axis=-1)
    if rounding == "round":
        # nint: half-integers cannot occur with integer coordinates, floor(x + 0.5) is exact
        out = np.floor(np.sqrt(squared) + 0.5)
    elif rounding == "dimacs":
        # floor(10·sqrt(s)) = floor(sqrt(100·s)); sqrt is correctly rounded, so exact squares
        # stay exact and no other value can round up across an integer at these magnitudes
        out = np.floor(np.sqrt(100.0 * squared))
    else:
        raise ValueError(f"unknown rounding convention {rounding!r} (expected round or dimacs)")
    result: NDArray[np.int64] = out.astype(np.int64)
    return result


def read_vrplib(path: str | Path) -> Instance:
    """Read a VRPLIB CVRP instance (``EUC_2D``, one depot) with CVRPLIB rounding.

    Raises
    ------
    InvalidScenario
        When the file is not a single-depot Euclidean CVRP.
    """
    path = Path(path)
    raw = vrplib.read_instance(path, compute_edge_weights=False)
    if str(raw.get("edge_weight_type", "")).upper() != "EUC_2D" or "node_coord" not in raw:
        raise InvalidScenario(
            "only EUC_2D instances with coordinates are supported",
            source=path.name,
            field="EDGE_WEIGHT_TYPE",
        )
    depots = np.asarray(raw.get("depot", [0])).ravel()
    if depots.tolist() != [0]:
        raise InvalidScenario(
            "exactly one depot, node 1, is supported", source=path.name, field="DEPOT_SECTION"
        )
    coords = np.asarray(raw["node_coord"], dtype=np.float64)
    demand = np.asarray(raw["demand"], dtype=np.int64)
    capacity = int(raw["capacity"])
    name = str(raw.get("name", path.stem))
    n = len(demand)
    coords.setflags(write=False)
    return Instance(
        name=name,
        kind="cvrp",
        rounding="round",
        scale=1,
        coords=coords,
        demand=_readonly(demand),
        capacity=capacity,
        num_vehicles=n - 1,
        distance=_readonly(rounded_distances(coords, "round")),
        time_windows=None,
        service=_readonly(np.zeros(n, dtype=np.int64)),
    )


def read_solomon(path: str | Path) -> Instance:
    """Read a Solomon / Gehring–Homberger VRPTW instance under the DIMACS convention."""
    path = Path(path)
    raw = vrplib.read_instance(path, instance_format="solomon", compute_edge_weights=False)
    scale = 10
    coords = np.asarray(raw["node_coord"], dtype=np.float64)
    coords.setflags(write=False)
    windows = np.asarray(raw["time_window"], dtype=np.int64) * scale
    return Instance(
        name=str(raw.get("name", path.stem)),
        kind="vrptw",
        rounding="dimacs",
        scale=scale,
        coords=coords,
        demand=_readonly(np.asarray(raw["demand"], dtype=np.int64)),
        capacity=int(raw["capacity"]),
        num_vehicles=int(raw["vehicles"]),
        distance=_readonly(rounded_distances(coords, "dimacs")),
        time_windows=_readonly(windows),
        service=_readonly(np.asarray(raw["service_time"], dtype=np.int64) * scale),
    )


def read_instance(path: str | Path) -> Instance:
    """Read ``.vrp`` (VRPLIB CVRP) or ``.txt`` (Solomon VRPTW) by the file's suffix.

    Raises
    ------
    InvalidScenario
        On any other suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".vrp":
        return read_vrplib(path)
    if suffix == ".txt":
        return read_solomon(path)
    raise InvalidScenario(
        f"unknown instance format {suffix!r} (expected .vrp or .txt)", source=path.name
    )


def read_solution(path: str | Path) -> Solution:
    """Read a CVRPLIB-style solution (``Route #k: ...`` lines and a ``Cost`` line)."""
    raw = vrplib.read_solution(Path(path))
    cost = raw.get("cost")
    return Solution(
        routes=tuple(tuple(int(c) for c in r) for r in raw["routes"]),
        cost=None if cost is None else float(cost),
    )


def instance_to_problem(instance: Instance) -> TierProblem:
    """The instance as the core's problem: depot site ``"0"``, clients ``"1"``..``"n"``.

    Demand goes into the parcels resource (grams and cm³ are zero); every client is
    mandatory; vehicles are identical (``v1``..``vK``, ``K = instance.num_vehicles``), cost
    one per unit of distance and nothing per second or per vehicle. Node ``i`` of the problem
    is client ``i + 1`` of the instance.
    """
    n = instance.n_clients
    sites = tuple(str(i) for i in range(n + 1))
    tw = instance.time_windows
    if tw is None:
        time = np.zeros_like(instance.distance)
        windows = [(0, _CVRP_OPEN_S)] * (n + 1)
    else:
        time = instance.distance
        windows = [(int(a), int(b)) for a, b in tw]
    time.setflags(write=False)
    start, end = windows[0]
    nodes = tuple(
        TierNode(
            key=str(i),
            site=str(i),
            delivery=(0, 0, int(instance.demand[i])),
            pickup=(0, 0, 0),
            service_s=int(instance.service[i]),
            window=windows[i],
        )
        for i in range(1, n + 1)
    )
    vehicles = tuple(
        TierVehicle(
            id=f"v{k + 1}",
            vehicle_class=_VEHICLE_CLASS,
            depot="0",
            capacity=(0, 0, instance.capacity),
            fixed_cost=0,
            cost_per_m=1.0,
            cost_per_s=0.0,
            earliest_start_s=start,
            latest_end_s=end,
            max_duration_s=end - start,
        )
        for k in range(instance.num_vehicles)
    )
    return TierProblem(
        name=instance.name,
        sites=sites,
        nodes=nodes,
        vehicles=vehicles,
        distance_m={_VEHICLE_CLASS: instance.distance},
        time_s={_VEHICLE_CLASS: time},
    )


def solution_routes(problem: TierProblem, solution: TierSolution) -> list[list[int]]:
    """The client numbers of every trip in ``solution`` (for problems built by
    :func:`instance_to_problem`, whose node keys are the client numbers)."""
    return [
        [int(problem.nodes[v.node].key) for v in visits]
        for trips in solution.routes
        for _, visits, _ in trips
    ]


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
    >>> from benchmarks.formats import Instance, rounded_distances
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
