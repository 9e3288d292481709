"""Per-tier routing problems: the solver-neutral form every backend reads.

A :class:`TierProblem` is a rich VRP: several depots, simultaneous pickup and delivery with
three capacity resources (grams, cubic centimetres, parcels) checked at every point of a
route, time windows, service times, per-class travel matrices, vehicle–stop compatibility,
optional stops with a deferral penalty, multi-trip vehicles (reloads at their depot), range
and shift limits, and a fixed + per-metre + per-second cost per vehicle.

Everything inside is an integer in a stated unit; conversion happens in :mod:`routing.build`.
How long a problem is searched is not problem data: see :class:`routing.solvers.SolveSettings`.
Costs are in :data:`COST_UNIT` (1e-4 yuan) so that per-second and per-metre rates stay
integers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from networks import InvalidScenario

__all__ = [
    "COST_UNIT",
    "HANDLING_S_PER_PARCEL",
    "Resources",
    "SolveStatus",
    "TierNode",
    "TierProblem",
    "TierSolution",
    "TierVehicle",
    "TierVisit",
]

COST_UNIT = 1e-4
"""Yuan per internal cost unit."""

Resources = tuple[int, int, int]
"""(grams, cubic centimetres, parcels)."""

HANDLING_S_PER_PARCEL = 2
"""Loading or unloading one parcel at the depot (seconds) on reload-capable runs: the
default of :attr:`TierProblem.load_s_per_parcel` and :attr:`TierProblem.unload_s_per_parcel`
(the policy's ``load_s_per_parcel`` and ``unload_s_per_parcel``)."""


@dataclass(frozen=True, slots=True)
class TierNode:
    """A stop to serve: deliveries dropped and pickups collected at one site.

    ``penalty`` is the cost (cost units) of leaving it out; ``None`` makes it mandatory.
    ``allowed`` restricts the vehicles (indices into :attr:`TierProblem.vehicles`).
    ``window`` bounds the start of service.
    """

    key: str
    site: str
    delivery: Resources
    pickup: Resources
    service_s: int
    window: tuple[int, int]
    penalty: int | None = None
    allowed: tuple[int, ...] | None = None
    orders: tuple[str, ...] = ()
    soft_latest: tuple[int, int] | None = None
    """(time_s, cost units per second): starting service later than ``time_s`` costs that."""
    release_s: int | None = None
    """The node's deliveries are at the depot only from this time: the trip carrying them
    leaves its depot no earlier (a repair: parcels brought back from a broken vehicle)."""
    onboard: bool = False
    """The deliveries are already on board the single ``allowed`` vehicle: only its current
    (first) trip can drop them."""
    setup_s: int = 0
    """The fixed part of ``service_s`` (parking, finding the keeper), paid once per visit of a
    site: a vehicle going straight on to another stop at the same site (a village's drops
    and then its collections, or its bulky parcels) does not pay it again there."""


@dataclass(frozen=True, slots=True)
class TierVehicle:
    """A vehicle as the solver sees it (costs in cost units)."""

    id: str
    vehicle_class: str
    depot: str
    capacity: Resources
    fixed_cost: int
    cost_per_m: float
    cost_per_s: float
    earliest_start_s: int
    latest_end_s: int
    max_duration_s: int
    range_m: int | None = None
    max_trips: int = 1
    reload_s: int = 600
    """Coming back from the road to the depot to unload or reload takes this long, besides
    the per-parcel handling (the policy's ``unload_fixed_s``)."""
    latest_start_s: int | None = None
    """Leave the depot no later than this (a wave's window)."""
    start_site: str | None = None
    """Where the vehicle is now, when not at its depot (a repair of a route under way)."""
    initial_load: Resources = (0, 0, 0)
    """Collected parcels already on board at the start (unloaded at the depot)."""


@dataclass(frozen=True)
class TierProblem:
    """One tier's problem; valid by construction.

    ``sites`` indexes the rows and columns of every matrix in ``distance_m`` and ``time_s``
    (one pair per vehicle class).
    """

    name: str
    sites: tuple[str, ...]
    nodes: tuple[TierNode, ...]
    vehicles: tuple[TierVehicle, ...]
    distance_m: Mapping[str, NDArray[np.int64]]
    time_s: Mapping[str, NDArray[np.int64]]
    initial_routes: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...] = field(default=())
    """Warm start: (vehicle id, trips of node keys)."""
    load_s_per_parcel: int = HANDLING_S_PER_PARCEL
    """Loading one delivered parcel at the depot before its trip (seconds)."""
    unload_s_per_parcel: int = HANDLING_S_PER_PARCEL
    """Unloading one collected parcel at the depot after its trip (seconds)."""

    def __post_init__(self) -> None:
        pos = set(self.sites)
        if self.load_s_per_parcel < 0 or self.unload_s_per_parcel < 0:
            raise InvalidScenario("handling times must be >= 0", source=self.name)
        keys = [n.key for n in self.nodes]
        if len(set(keys)) != len(keys):
            raise InvalidScenario("node keys must be unique", source=self.name, field="key")
        for n in self.nodes:
            if n.site not in pos:
                raise InvalidScenario(f"node site {n.site!r} not in sites", source=self.name)
            if n.window[0] > n.window[1]:
                raise InvalidScenario(
                    f"empty window at {n.key!r}", source=self.name, field="window"
                )
        for v in self.vehicles:
            if v.depot not in pos or (v.start_site is not None and v.start_site not in pos):
                raise InvalidScenario(f"depot of {v.id!r} not in sites", source=self.name)
            if v.vehicle_class not in self.distance_m or v.vehicle_class not in self.time_s:
                raise InvalidScenario(f"no matrix for class {v.vehicle_class!r}", source=self.name)
        size = len(self.sites)
        for cls, m in (*self.distance_m.items(), *self.time_s.items()):
            if m.shape != (size, size):
                raise InvalidScenario(f"matrix for {cls!r} has shape {m.shape}", source=self.name)

    @property
    def site_index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.sites)}


class SolveStatus(StrEnum):
    """What came back from a solve."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    """A solution that meets every hard constraint (some optional stops may be left out)."""
    NO_SOLUTION = "no_solution"
    EMPTY = "empty"
    """Nothing to do."""


@dataclass(frozen=True, slots=True)
class TierVisit:
    """A node served at a time (start of service, seconds)."""

    node: int
    start_s: int


@dataclass(frozen=True)
class TierSolution:
    """Routes as node sequences with service start times, and the nodes left out.

    ``routes`` holds, per vehicle index, its trips; each trip is ``(leave_depot_s,
    visits, back_at_depot_s)``. Unused vehicles have no trips. ``clock_stopped`` says that
    a search given a fixed amount of work was stopped by its time limit first (the solver's
    own account, e.g. OR-Tools' search status), so the answer may differ between runs.
    """

    status: SolveStatus
    routes: tuple[tuple[tuple[int, tuple[TierVisit, ...], int], ...], ...]
    dropped: tuple[int, ...]
    objective: int
    wall_s: float
    backend: str
    clock_stopped: bool = False
