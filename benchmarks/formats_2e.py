"""Two-echelon CVRP instances (Perboli, Tadei & Vigo 2011, Set 2): reader and evaluator.

The format and the model are described in ``benchmarks/instances/2e/README.md``. In short: one
depot; trucks carry freight depot → satellites → depot, a satellite may be served by several
trucks (split deliveries); city freighters carry it satellite → customers → the same
satellite, each customer served once by one freighter from any satellite; at most
``freighters_per_satellite`` freighter routes start at one satellite and at most
``freighters`` in all. What the trucks drop at a satellite equals the demand served from it.

Cost = total Euclidean length of both echelons, **not rounded** (double precision): costs per
distance are 1 and fixed costs 0 in every Set 2 file. :func:`evaluate_2e` is independent of
any solver: it recomputes loads, fleet counts, the flow balance and the cost from the
routes alone.

Indices: satellites and customers are numbered from 0 in file order (``satellite 0`` is the
first store after the depot).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from networks import InvalidScenario

__all__ = [
    "Evaluation2E",
    "FreighterRoute",
    "TruckRoute",
    "TwoEchelonInstance",
    "TwoEchelonSolution",
    "evaluate_2e",
    "parse_2e",
    "read_2e",
]

Point = tuple[float, float]


@dataclass(frozen=True)
class TwoEchelonInstance:
    """One Set 2 instance, in the file's units (coordinates and demands as given)."""

    name: str
    trucks: int
    truck_capacity: int
    freighters_per_satellite: int
    freighters: int
    freighter_capacity: int
    depot: Point
    satellites: tuple[Point, ...]
    customers: tuple[Point, ...]
    demand: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.customers) != len(self.demand):
            raise InvalidScenario("one demand per customer", source=self.name, field="demand")
        if not self.satellites:
            raise InvalidScenario("no satellite", source=self.name, field="Stores")
        if min(self.trucks, self.truck_capacity, self.freighters, self.freighter_capacity) < 1:
            raise InvalidScenario("fleet sizes and capacities must be >= 1", source=self.name)
        if any(d < 0 for d in self.demand):
            raise InvalidScenario("demand must be >= 0", source=self.name, field="demand")

    @property
    def total_demand(self) -> int:
        return sum(self.demand)


@dataclass(frozen=True)
class TruckRoute:
    """A first-echelon route: depot → the satellites in order → depot, dropping ``amount``
    at each (``(satellite, amount)`` pairs)."""

    drops: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class FreighterRoute:
    """A second-echelon route: ``satellite`` → the customers in order → ``satellite``."""

    satellite: int
    customers: tuple[int, ...]


@dataclass(frozen=True)
class TwoEchelonSolution:
    trucks: tuple[TruckRoute, ...]
    freighters: tuple[FreighterRoute, ...]


@dataclass(frozen=True)
class Evaluation2E:
    """What :func:`evaluate_2e` found. Costs are unrounded Euclidean lengths."""

    first_echelon: float
    second_echelon: float
    violations: tuple[str, ...]
    trucks: int
    freighters: int
    freighters_at: tuple[int, ...]
    """Freighter routes starting at each satellite."""

    @property
    def cost(self) -> float:
        return self.first_echelon + self.second_echelon

    @property
    def feasible(self) -> bool:
        return not self.violations


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.split(r"[,\s]+", text.strip()) if x]


def parse_2e(text: str, name: str = "2e") -> TwoEchelonInstance:
    """An instance from the text of a Set 2 ``.dat`` file.

    >>> inst = parse_2e('''!Trucks
    ... 1,100,1,0
    ... !CityFreighters
    ... 2,3,50,1,0
    ... !Stores
    ... 0,0   3,4
    ... !Customers
    ... 3,8,20   6,4,30
    ... ''')
    >>> inst.satellites, inst.demand, inst.freighters_per_satellite, inst.freighters
    (((3.0, 4.0),), (20, 30), 2, 3)
    """
    sections: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.lstrip().startswith("!"):
            if current is not None and "".join(current).strip():
                sections.append(" ".join(current))
            current = []
            continue
        if current is None:
            current = []
        current.append(line)
    if current is not None and "".join(current).strip():
        sections.append(" ".join(current))
    if len(sections) != 4:
        raise InvalidScenario(
            f"expected 4 sections (trucks, freighters, stores, customers), got {len(sections)}",
            source=name,
        )
    trucks, freighters, stores, customers = (_numbers(s) for s in sections)
    if len(trucks) < 2 or len(freighters) < 3:
        raise InvalidScenario("truck or freighter line too short", source=name)
    if len(stores) < 4 or len(stores) % 2:
        raise InvalidScenario("stores: a depot and at least one satellite (x, y)", source=name)
    if not customers or len(customers) % 3:
        raise InvalidScenario("customers: (x, y, demand) triples", source=name)
    pts = [(stores[i], stores[i + 1]) for i in range(0, len(stores), 2)]
    return TwoEchelonInstance(
        name=name,
        trucks=int(trucks[0]),
        truck_capacity=int(trucks[1]),
        freighters_per_satellite=int(freighters[0]),
        freighters=int(freighters[1]),
        freighter_capacity=int(freighters[2]),
        depot=pts[0],
        satellites=tuple(pts[1:]),
        customers=tuple((customers[i], customers[i + 1]) for i in range(0, len(customers), 3)),
        demand=tuple(int(customers[i + 2]) for i in range(0, len(customers), 3)),
    )


def read_2e(path: str | Path) -> TwoEchelonInstance:
    """Read a Set 2 ``.dat`` file (the instance is named after the file)."""
    path = Path(path)
    return parse_2e(path.read_text(), name=path.stem)


def _dist(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def _path_length(points: list[Point]) -> float:
    return sum(_dist(points[k], points[k + 1]) for k in range(len(points) - 1))


def evaluate_2e(instance: TwoEchelonInstance, solution: TwoEchelonSolution) -> Evaluation2E:
    """Check ``solution`` against ``instance`` and price it, from the routes alone.

    Violations (each a sentence): a customer served twice or never; a route over capacity;
    more freighter routes at a satellite than ``freighters_per_satellite`` or in all than
    ``freighters``; more truck routes than ``trucks``; a negative drop; what the trucks drop
    at a satellite differing from the demand served from it; unknown indices. Empty routes
    are not counted.

    >>> inst = parse_2e("!T\\n1,100,1,0\\n!F\\n2,3,50,1,0\\n!S\\n0,0 3,4\\n!C\\n3,8,20 6,4,30")
    >>> sol = TwoEchelonSolution(
    ...     (TruckRoute(((0, 50),)),),
    ...     (FreighterRoute(0, (0, 1)),),
    ... )
    >>> ev = evaluate_2e(inst, sol)
    >>> ev.feasible, ev.first_echelon, ev.second_echelon
    (True, 10.0, 12.0)
    """
    inst = instance
    n_sat, n_cust = len(inst.satellites), len(inst.customers)
    bad: list[str] = []
    served: Counter[int] = Counter()
    at = [0] * n_sat
    served_from = [0] * n_sat
    second = 0.0
    for r, f in enumerate(solution.freighters):
        if not f.customers:
            continue
        if not 0 <= f.satellite < n_sat:
            bad.append(f"freighter route {r}: no satellite {f.satellite}")
            continue
        if any(not 0 <= c < n_cust for c in f.customers):
            bad.append(f"freighter route {r}: unknown customer")
            continue
        at[f.satellite] += 1
        served.update(f.customers)
        load = sum(inst.demand[c] for c in f.customers)
        served_from[f.satellite] += load
        if load > inst.freighter_capacity:
            bad.append(f"freighter route {r}: load {load} > {inst.freighter_capacity}")
        sat = inst.satellites[f.satellite]
        second += _path_length([sat, *(inst.customers[c] for c in f.customers), sat])
    for c in range(n_cust):
        if served[c] != 1:
            bad.append(f"customer {c} served {served[c]} times")
    for s, k in enumerate(at):
        if k > inst.freighters_per_satellite:
            bad.append(f"satellite {s}: {k} freighter routes > {inst.freighters_per_satellite}")
    if sum(at) > inst.freighters:
        bad.append(f"{sum(at)} freighter routes > {inst.freighters}")
    dropped = [0] * n_sat
    first = 0.0
    trucks = 0
    for r, t in enumerate(solution.trucks):
        if not t.drops:
            continue
        if any(not 0 <= s < n_sat for s, _ in t.drops):
            bad.append(f"truck route {r}: unknown satellite")
            continue
        trucks += 1
        if any(a < 0 for _, a in t.drops):
            bad.append(f"truck route {r}: negative drop")
        load = sum(a for _, a in t.drops)
        if load > inst.truck_capacity:
            bad.append(f"truck route {r}: load {load} > {inst.truck_capacity}")
        for s, a in t.drops:
            dropped[s] += a
        first += _path_length([inst.depot, *(inst.satellites[s] for s, _ in t.drops), inst.depot])
    if trucks > inst.trucks:
        bad.append(f"{trucks} truck routes > {inst.trucks}")
    for s in range(n_sat):
        if dropped[s] != served_from[s]:
            bad.append(f"satellite {s}: trucks drop {dropped[s]}, freighters take {served_from[s]}")
    return Evaluation2E(first, second, tuple(bad), trucks, sum(at), tuple(at))
