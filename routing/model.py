"""Inputs of the daily plan: orders, vehicles and the operating policy.

All frozen. Units: kilograms and cubic metres as given by carriers (floats at the edge,
converted to integer grams and cubic centimetres where solver problems are built), times of
day in seconds after midnight, money in yuan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from networks import InvalidScenario

__all__ = [
    "WALL_CAP",
    "Direction",
    "Order",
    "Policy",
    "Vehicle",
    "Wave",
]


WALL_CAP = 3.0
"""The default of :attr:`Policy.wall_cap`, and so of a :class:`~routing.budget.DayBudget`
built without a policy (benchmarks, tests): one safety net for both."""


class Direction(StrEnum):
    """Which way an order travels."""

    DOWN = "down"
    """Hub → station → village point (consumer parcels)."""
    UP = "up"
    """Village point or bulk shipper → station → hub (farm products, local goods)."""


@dataclass(frozen=True, slots=True)
class Order:
    """One parcel or consignment of one carrier.

    ``site`` is where it is delivered (down) or collected (up): a village point, a station
    (town-seat parcels) or a bulk shipper. ``parcels`` > 1 is a consignment of several pieces.
    ``priority`` orders deferral: lower priority is deferred first. A ``mandatory`` order
    is never deferred: a plan that cannot serve it is infeasible, naming it and why.
    """

    id: str
    carrier: str
    direction: Direction
    site: str
    weight_kg: float
    volume_m3: float
    parcels: int = 1
    bulky: bool = False
    priority: int = 0
    sector: str = ""
    lot: str = ""
    mandatory: bool = False
    part_of: str = ""
    """For a part of an oversize order (:mod:`routing.split`): the order's id."""
    part: int = 0
    """For a part: its number (1-based)."""

    def __post_init__(self) -> None:
        if self.weight_kg < 0:
            raise InvalidScenario(f"must be >= 0, got {self.weight_kg}", field="weight_kg")
        if self.volume_m3 < 0:
            raise InvalidScenario(f"must be >= 0, got {self.volume_m3}", field="volume_m3")
        if self.parcels < 1:
            raise InvalidScenario(f"must be >= 1, got {self.parcels}", field="parcels")


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One vehicle and its crew for the day.

    ``home`` is the site it starts and ends at (the hub for trunk trucks, a station for vans
    and tricycles). Costs: ``fixed_cost`` per day used, ``cost_per_km``, ``cost_per_hour`` of
    route duration (driver). ``range_km`` limits a day's distance (tricycle battery).
    ``bulky_ok`` says whether bulky parcels may ride on it.
    """

    id: str
    vehicle_class: str
    home: str
    capacity_kg: float
    capacity_m3: float
    capacity_parcels: int
    fixed_cost: float = 0.0
    cost_per_km: float = 0.0
    cost_per_hour: float = 0.0
    shift_start_s: int = 7 * 3600
    shift_end_s: int = 19 * 3600
    max_duration_s: int = 9 * 3600
    range_km: float | None = None
    bulky_ok: bool = True
    name: str = ""
    driver: str = ""
    phone: str = ""

    def __post_init__(self) -> None:
        for fld in ("capacity_kg", "capacity_m3", "capacity_parcels"):
            if getattr(self, fld) <= 0:
                raise InvalidScenario(f"must be > 0, got {getattr(self, fld)}", field=fld)
        for fld in ("fixed_cost", "cost_per_km", "cost_per_hour"):
            if getattr(self, fld) < 0:
                raise InvalidScenario(f"must be >= 0, got {getattr(self, fld)}", field=fld)
        if not 0 <= self.shift_start_s < self.shift_end_s <= 48 * 3600:
            raise InvalidScenario("shift_start must be before shift_end", field="shift_end")
        if self.max_duration_s <= 0:
            raise InvalidScenario("must be > 0", field="max_duration_h")
        if self.range_km is not None and self.range_km <= 0:
            raise InvalidScenario(f"must be > 0, got {self.range_km}", field="range_km")


@dataclass(frozen=True, slots=True)
class Wave:
    """A trunk departure window.

    A ``down`` wave leaves the hub at ``departs_s`` with the stations' parcels. An ``up``
    wave's trucks leave the hub at ``departs_s``, collect at stations and bulk shippers and
    must be back by the policy's ``hub_return_s``.
    """

    id: str
    direction: Direction
    departs_s: int


@dataclass(frozen=True, slots=True)
class Policy:
    """How the network operates; every number a parameter (see docs/scenario-format.md)."""

    waves: tuple[Wave, ...] = (
        Wave("down-1", Direction.DOWN, 8 * 3600),
        Wave("up-1", Direction.UP, 15 * 3600 + 30 * 60),
    )
    wave_window_s: int = 60 * 60
    """Trucks of a wave leave the hub within this long after its departure time."""
    cross_dock_s: int = 45 * 60
    village_cutoff_s: int = 15 * 3600 + 30 * 60
    """Last time a village run may collect upstream parcels."""
    hub_return_s: int = 17 * 3600 + 30 * 60
    hub_outbound_cutoff_s: int = 18 * 3600 + 30 * 60
    trunk_service_fixed_s: int = 600
    trunk_service_per_parcel_s: float = 0.5
    load_s_per_parcel: int = 2
    """Loading one parcel into a van or tricycle at its station before a run (seconds)."""
    unload_fixed_s: int = 600
    """A run coming back to its station to unload what it collected or to reload for its next
    trip stands this long there (parking, opening up), besides the per-parcel handling."""
    unload_s_per_parcel: int = 2
    """Unloading one collected parcel at the station after a run (seconds)."""
    daily_min_parcels: int = 20
    """Villages below this many parcels (both directions) are visited every other day."""
    poor_min_visits_per_week: int = 3
    reloads: bool = True
    """Village runs may come back to the station to reload and go out again."""
    max_trips: int = 3
    cross_boundary: bool = False
    """A village may be served from another station when cheaper."""
    deferral_cost_per_parcel: float = 50.0
    """What the planner pays (yuan) to defer one parcel, × (1 + priority); a mandatory
    order's price is prohibitive instead (:data:`routing.build.MANDATORY_PENALTY`)."""
    poor_village_weight: float = 5.0
    """Deferring a poor village's order costs this many times more."""
    stability_threshold: float = 0.02
    """Keep yesterday's village-to-vehicle assignment unless the saving beats this share."""
    time_limit_s: float = 20.0
    """The day's search budget in seconds (divided among its problems by routing.budget)."""
    seed: int = 0
    work_per_s: float = 90.0
    """Work units (PyVRP iterations; OR-Tools solutions are derived) per second of the
    budget: the day's searches stop after a fixed amount of work, so the same inputs, seed and
    budget give the same plan. 0 lets the clock stop them instead (faster to the budget, not
    repeatable). Calibrated so that the built-in county's day (its default 20 s) is searched
    within its budget on one worker of a 2-vCPU AMD EPYC VM (benchmarks/RESULTS.md, "The day
    within its budget"); the work of the earlier default (3 s at 600), so the same plans."""
    wall_cap: float = WALL_CAP
    """With a work budget, a search is also stopped after this many times its share of the
    time budget (plus 5 s): a safety net for a slow machine, which the plan reports."""
    extra: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        ids = [w.id for w in self.waves]
        if len(ids) != len(set(ids)):
            raise InvalidScenario("wave ids must be distinct", field="waves")
        if not any(w.direction is Direction.DOWN for w in self.waves):
            raise InvalidScenario("a policy needs at least one down wave", field="waves")
        for name in (
            "cross_dock_s",
            "trunk_service_fixed_s",
            "daily_min_parcels",
            "load_s_per_parcel",
            "unload_fixed_s",
            "unload_s_per_parcel",
        ):
            if getattr(self, name) < 0:
                raise InvalidScenario("must be >= 0", field=name)
        if not 0 <= self.poor_min_visits_per_week <= 7:
            raise InvalidScenario("must be between 0 and 7", field="poor_min_visits_per_week")
        if self.max_trips < 1:
            raise InvalidScenario("must be >= 1", field="max_trips")
        if self.time_limit_s <= 0:
            raise InvalidScenario("must be > 0", field="time_limit_s")
        if self.work_per_s < 0:
            raise InvalidScenario("must be >= 0", field="work_per_s")
        if self.wall_cap < 1:
            raise InvalidScenario("must be >= 1", field="wall_cap")

    def wave(self, direction: Direction) -> Wave:
        """The first wave in a direction."""
        for w in self.waves:
            if w.direction is direction:
                return w
        raise KeyError(direction)
