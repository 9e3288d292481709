"""Request and response shapes (pydantic). They parse shapes only; the rules of the business
(sites exist, plans check) are the core's. One family per resource: ``*Create`` / ``*Update``
for input, ``*Public`` for output."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from fastapi import Path as PathParam
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from dispatch_api.security import Role

Ident = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\s/?#%\\\x00-\x1f\x7f]+$")
]
"""An id as the bundles write them: no whitespace, slashes, URL delimiters or control
characters, so it can always be named in a URL again."""


def _real_date(value: str) -> str:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a date of the calendar (YYYY-MM-DD)") from None
    return value


DateText = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"),
    AfterValidator(_real_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}),
]
"""A calendar date, YYYY-MM-DD (``2026-13-45`` is refused)."""

NetworkName = Annotated[
    str,
    PathParam(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="A network's name",
    ),
]


class _NotANumber:
    """Stands in for a boolean sent where a number goes."""

    def __repr__(self) -> str:
        return "a boolean"


def _numeric(annotation: Any) -> bool:
    """Whether a field's type is (or includes) int or float."""
    if annotation in (int, float):
        return True
    return any(_numeric(a) for a in get_args(annotation))


class _In(BaseModel):
    """Request bodies: unknown keys are refused, and so are booleans where a number goes
    (pydantic would read ``false`` as ``0``)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, field in cls.model_fields.items():
            key = field.alias or name
            if isinstance(out.get(key), bool) and _numeric(field.annotation):
                out[key] = _NotANumber()  # fails the field's own validation, which names it
        return out


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 date-time as text")
    return value


IsoDateTime = Annotated[dt.datetime, BeforeValidator(_iso_text)]
"""A date-time written as ISO 8601 text (not a number of seconds)."""


# ------------------------------------------------------------------------------ keys
class KeyCreate(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
    role: Role
    network: Ident | None = None
    """For couriers: the network their courier id belongs to. For dispatchers and planners:
    the one network the key is limited to (same as ``networks: [network]``)."""
    courier: Ident | None = None
    """For couriers: their courier id (``GET /networks/{n}/couriers``)."""
    networks: Annotated[list[Ident], Field(min_length=1, max_length=1000)] | None = None
    """Dispatchers and planners: the networks the key may see (default: every network)."""
    expires_in_days: Annotated[float, Field(gt=0, le=3650, allow_inf_nan=False)] | None = None
    """The key stops working this many days from now (default: never)."""


class KeyRotate(_In):
    expires_in_days: Annotated[float, Field(gt=0, le=3650, allow_inf_nan=False)] | None = None
    """Expiry of the new key (default: the old key's remaining time, else never)."""
    grace_s: Annotated[int, Field(ge=0, le=7 * 86400)] = 0
    """The old key keeps working this many seconds (default: it stops at once)."""


class KeyPublic(BaseModel):
    id: int
    name: str
    role: Role
    prefix: str
    network: str | None
    courier: str | None
    networks: list[str] | None
    """The networks the key may see (None: every network)."""
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    """Updated at most once a minute."""
    revoked: bool
    replaced_by: int | None
    """A rotated key: the key that replaced it."""


class KeyCreated(KeyPublic):
    key: str
    """The bearer key; shown once, stored only as a hash."""


# ------------------------------------------------------------------------------ networks
class NetworkImport(_In):
    builtin: Ident
    """A built-in bundle name (``countyroute scenario list``), e.g. ``yanshi``."""
    name: Ident | None = None
    """Name to import it under (default: the bundle's own name)."""


class NetworkPublic(BaseModel):
    name: str
    version: str
    source: str
    imported_at: str
    summary: dict[str, Any]


class NetworkImported(NetworkPublic):
    changed: bool
    """False when the same bundle was imported before (idempotent)."""


class SitePublic(BaseModel):
    id: str
    name: str
    kind: str
    x: float
    y: float
    parent: str | None
    poor: bool
    population: int
    opens: str
    closes: str
    keeper: str
    phone: str
    """Masked (``138****1234``)."""


class VehiclePublic(BaseModel):
    id: str
    vehicle_class: str
    home: str
    name: str
    capacity_kg: float
    capacity_m3: float
    capacity_parcels: int
    driver: str
    courier: str | None


class CourierPublic(BaseModel):
    id: str
    name: str
    phone: str
    """Masked."""
    vehicle: str | None


class CourierUpdate(_In):
    vehicle: Ident | None
    """The vehicle this courier drives from now on (None: none)."""


# ------------------------------------------------------------------------------ orders
class OrderImported(BaseModel):
    network: str
    date: str
    rows: int
    created: int
    updated: int
    unchanged: int


class OrderPublic(BaseModel):
    id: str
    carrier: str
    direction: str
    site: str
    weight_kg: float
    volume_m3: float
    parcels: int
    bulky: bool
    priority: int
    sector: str
    lot: str
    mandatory: bool = False
    """Never deferred: a plan that cannot serve it is infeasible, naming it."""


class OrderPage(BaseModel):
    total: int
    items: list[OrderPublic]
    next: str | None = None
    """The cursor of the next page (None: this is the last)."""


# ------------------------------------------------------------------------------ jobs, plans
class PlanCreate(_In):
    date: DateText
    time_limit_s: Annotated[float, Field(gt=0, le=3600)] | None = None
    """Solver budget for the day (default: the server's)."""
    solution_limit: Annotated[int, Field(ge=1, le=100_000)] | None = None
    """Stop each search after this many solutions: the same plan on every run."""
    pins: Annotated[dict[Ident, Ident], Field(max_length=10_000)] | None = None
    """Village point → the vehicle that must serve it (``{"v-goushi-05": "van-goushi-2"}``);
    added to the pins of ``previous_plan``, replacing those of the same village point."""
    previous_plan: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    """A plan of this network (usually yesterday's): its village-to-vehicle assignment is kept
    unless re-planning freely saves more than the policy's stability threshold, and its pins
    (``pin_village`` edits) hold."""


class RegionJobCreate(_In):
    networks: Annotated[
        list[
            Annotated[
                str,
                StringConstraints(
                    min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
                ),
            ]
        ],
        Field(min_length=1, max_length=200),
    ]
    """The networks (counties) to plan, each with its orders for ``date`` imported."""
    date: DateText
    time_limit_s: Annotated[float, Field(gt=0, le=3600)] | None = None
    """Solver budget of each network's day (default: the server's)."""
    solution_limit: Annotated[int, Field(ge=1, le=100_000)] | None = None
    """Stop each search after this many solutions: the same plans on every run."""
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    """Networks planned at once (at most the server's ``planner_max_workers``)."""


class JobKind(StrEnum):
    PLAN = "plan"
    """Plan a day (``POST /networks/{n}/plans``): ends in a plan."""
    REPAIR = "repair"
    """Repair a plan (``POST /plans/{id}/repair``): ends in a new plan version."""
    PLACEMENT = "placement"
    """Place village points or stations (``POST /networks/{n}/placements``): ends in a result."""
    SIMULATION = "simulation"
    """Simulate a change (``POST /networks/{n}/simulations``): ends in a result."""
    REGION = "region"
    """Plan a day of several networks (``POST /region-jobs``): ends in one plan per network
    and a result listing them."""


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class CountyState(BaseModel):
    """One network of a region job."""

    network: str
    state: str
    """``queued``, ``running``, ``planned`` or ``failed``."""
    plan: int | None = None
    plan_url: str | None = None
    error: str | None = None
    cost: float | None = None
    """Route cost of the plan (yuan)."""
    vehicles: int | None = None
    parcels: int | None = None
    """Parcels served today."""
    deferred: dict[str, int] | None = None
    """Deferred orders by reason."""
    check_ok: bool | None = None
    """The independent checker's verdict on the plan."""
    seconds: float | None = None


class JobPublic(BaseModel):
    id: str
    kind: JobKind
    network: str
    date: str | None
    """The planned day (plan, repair), the first simulated day (simulation), else None."""
    status: JobStatus
    stage: str
    progress: float
    """0 … 1: queued 0; running: plan jobs by elapsed share of the budget, planner jobs as
    their worker reports it; done 1."""
    attempt: int
    error: str | None
    error_code: str | None = None
    """What kind of error (``cancelled``, ``no_orders``, ``input``, ``inputs_unreadable``,
    ``solver_error``, ``time_limit``, ``worker_died``, ``interrupted``, ``other``), for a
    client to say in its own words; ``error`` is the English sentence."""
    error_params: dict[str, str] = {}
    """The values the error names (``cancelled``: ``by``)."""
    plan: int | None
    plan_url: str | None
    result_url: str | None = None
    """Planner jobs that succeeded: where their result document is
    (``GET /jobs/{id}/result``)."""
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    networks: list[str] | None = None
    """Region jobs: every network the job plans (``network`` is then a label)."""
    counties: list[CountyState] | None = None
    """Region jobs: each network's state as the job goes (queued, running, planned, failed)
    with its plan once there."""


class PlanSummary(BaseModel):
    id: int
    network: str
    date: str
    status: str
    revision: int
    parent: int | None
    created_at: str
    published_at: str | None
    kpis: dict[str, Any]


class PlanPublic(PlanSummary):
    network_version: str
    plan: dict[str, Any]
    """``plan.json`` (docs/plan-format.md): routes, stops and deferred orders with reasons."""


class MoveStop(_In):
    op: Literal["move_stop"]
    route: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    """``tier:vehicle``, e.g. ``last_mile:van-s03-1``."""
    stop: Annotated[int, Field(ge=0, le=10_000)]
    to_route: Annotated[str, StringConstraints(min_length=1, max_length=120)] | None = None
    position: Annotated[int, Field(ge=1, le=10_000)] | None = None
    """Index in the target route the stop takes (default: last visit before returning)."""


class PinVillage(_In):
    op: Literal["pin_village"]
    site: Ident
    route: Annotated[str, StringConstraints(min_length=1, max_length=120)]


class PlanEdit(_In):
    edit: Annotated[MoveStop | PinVillage, Field(discriminator="op")]
    revision: Annotated[int, Field(ge=1)] | None = None
    """When given, the edit applies only to this revision (else 409)."""


class Violation(BaseModel):
    route: str
    stop: int
    site: str
    code: str
    message: str


class RepairCreate(_In):
    at: Annotated[str, StringConstraints(pattern=r"^\d{1,2}:\d{2}$")] | None = None
    """The repair moment (HH:MM, plan's local time): stops started by then are finished.
    Default: the latest ``at`` among the events, else now."""
    events: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=200)]
    """Disruptions as ``routing.repair`` reads them: ``{"type": "vehicle_down", "vehicle":
    "van-s03-1", "at": "11:20"}``, ``{"type": "road_closed", "road": "r12"}``,
    ``{"type": "trunk_late", "vehicle": "truck-02", "delay_min": 40}``,
    ``{"type": "urgent_pickup", "order": {"id", "carrier", "site", "weight_kg", "volume_m3"}}``."""
    time_limit_s: Annotated[float, Field(gt=0, le=3600)] | None = None


# ------------------------------------------------------------------------------ planner jobs
Finite = Annotated[float, Field(allow_inf_nan=False)]

_CHANGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _change_spec(value: Any) -> str | dict[str, Any]:
    # one validator rather than a union, so an error names the field (``body.change``), not
    # the union's members
    if isinstance(value, dict) or (isinstance(value, str) and _CHANGE_NAME.fullmatch(value)):
        return value
    raise ValueError(
        "expected the name of a built-in change (letters, digits, '_', '.', '-') "
        "or a change as an object"
    )


ChangeSpec = Annotated[
    Any,
    PlainValidator(_change_spec),
    WithJsonSchema(
        {
            "oneOf": [
                {"type": "string", "pattern": f"^{_CHANGE_NAME.pattern}$"},
                {"type": "object"},
            ]
        }
    ),
]
"""A change: a built-in change file's name (``scenarios/data/changes/NAME.toml``, e.g.
``growth30``), or the change itself as a JSON object with the keys of a change file
(docs/planner.md), e.g. ``{"demand": {"growth_per_year": 0.3}}``."""


class SimulationDays(_In):
    """Which demand days, and how each is planned (``scenarios.whatif.SimulationSettings``)."""

    days: Annotated[int, Field(ge=1, le=366)] = 30
    start: DateText | None = None
    """First simulated date (default: the core's, a Monday in April 2026)."""
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 7
    """Demand seed: the county's shoppers; the days differ by date."""
    time_limit_s: Annotated[Finite, Field(gt=0, le=3600)] = 1.0
    """Search budget per planned day; with ``solution_limit``, the allowance per day the
    job's time limit is computed from."""
    solution_limit: Annotated[int, Field(ge=1, le=100_000)] | None = None
    """Stop every tier search after this many solutions: the same numbers on every run."""


class SimulationCreate(SimulationDays):
    """``POST /networks/{n}/simulations``: a change against a baseline on the same days."""

    change: ChangeSpec
    baseline: ChangeSpec | None = None
    """What the change is compared with (default: the network as it is)."""
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    """Local processes for the days (at most the server's ``planner_max_workers``)."""


# the values of scenarios.placement's enums, spelt out so the API process does not import the
# placement solver (CP-SAT / HiGHS) to parse a body; tests/api/test_api_planner.py keeps them equal
PlacementModel = Literal["set-cover", "max-cover", "p-median"]
PlacementLevel = Literal["point", "station"]
CoverageOf = Literal["villages", "population"]
PlacementObjective = Literal["cost", "count"]


class PlacementCreate(_In):
    """``POST /networks/{n}/placements``: the fields of ``scenarios.placement.PlacementParams``
    (the core checks the values), plus the curve and an optional simulation."""

    radius_km: Annotated[Finite, Field(le=1000)] = 3.0
    """A village is covered when an open site is within this road distance."""
    min_coverage: Finite = 0.6
    """Set covering: share of villages (or population) to cover."""
    coverage_of: CoverageOf = "villages"
    model: PlacementModel | None = None
    """Default: maximal covering when ``points`` is given, else set covering."""
    points: Annotated[int, Field(le=100_000)] | None = None
    """New sites to open (maximal covering, p-median)."""
    level: PlacementLevel = "point"
    point_cost: Annotated[Finite, Field(le=1e9)] | None = None
    """Yuan per village point (default 10,000; a site's ``setup_cost`` wins)."""
    station_cost: Annotated[Finite, Field(le=1e9)] | None = None
    """Yuan per station (default 50,000)."""
    keep_existing: bool = False
    """True: today's sites stay open at no cost; False (greenfield): they are candidates."""
    objective: PlacementObjective = "cost"
    poor_must_be_covered: bool = True
    vehicle_class: Ident | None = None
    """Class whose road distances count (default ``van``, else the lightest)."""
    time_limit_s: Annotated[Finite, Field(gt=0, le=3600)] = 10.0
    """Solver budget per solve (a safety: the result's status says whether optimality was
    proven)."""
    curve: bool = True
    """Compute the coverage-versus-points curve."""
    curve_samples: Annotated[int, Field(ge=1, le=100)] = 24
    simulate: SimulationDays | None = None
    """Judge the answer by routing: plan these days on today's network and with the chosen
    points, side by side (village points only)."""
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    """Local processes for the curve and the simulated days."""


# ------------------------------------------------------------------------------ events
class EventType(StrEnum):
    ARRIVED = "arrived"
    DELIVERED = "delivered"
    COLLECTED = "collected"
    FAILED = "failed"
    SCANNED = "scanned"


class EventCreate(_In):
    route: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    stop: Annotated[int, Field(ge=0, le=10_000)]
    site: Ident | None = None
    """When given, must be the stop's site (guards against a stale route)."""
    type: EventType
    at: IsoDateTime
    """When it happened (ISO 8601; without an offset it is the plan's local time)."""
    orders: Annotated[list[Ident], Field(max_length=5000)] | None = None
    """Order ids (default: the stop's drops for delivered, collections for collected)."""
    lots: Annotated[list[Ident], Field(max_length=500)] | None = None
    """Traceability lot codes scanned at the stop (the manifest's QR codes): the event is
    about their orders handed over at this stop (with ``orders``, about both)."""
    reason: Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")] = ""
    """Why it failed (required for ``failed``)."""


class EventBatchItem(EventCreate):
    id: Ident
    """The client-made event id; a retry with the same id is stored once."""


class EventBatch(_In):
    events: Annotated[list[EventBatchItem], Field(min_length=1, max_length=2000)]


class EventResult(BaseModel):
    id: str
    status: Literal["stored", "duplicate", "conflict", "rejected", "forbidden"]
    http_status: int
    field: str | None = None
    detail: str | None = None


class EventBatchResult(BaseModel):
    stored: int
    duplicate: int
    failed: int
    results: list[EventResult]


# ------------------------------------------------------------------------------ courier route
class RouteVehicle(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    vehicle_class: str = Field(alias="class")
    name: str


class RouteCourier(BaseModel):
    id: str
    name: str
    phone: str
    """Masked (``138****1234``)."""


class StopContact(BaseModel):
    keeper: str
    phone: str
    """Masked."""


class RouteStop(BaseModel):
    i: int
    """Index of the stop in its route (what stop events name)."""
    site: str
    name: str
    kind: str
    """``depart``, ``visit``, ``reload``, ``return``, ``halt``."""
    trip: int
    eta: str
    """Arrival, HH:MM local time."""
    arrival_s: int
    start_s: int
    departure_s: int
    """Seconds after midnight of the plan's date (local time)."""
    xy: list[float] | None
    """[x, y]: longitude and latitude in the requested crs (metres on planar networks)."""
    drop: dict[str, list[str]] | None = None
    """Orders dropped here, by carrier."""
    drop_parcels: int | None = None
    collect: dict[str, list[str]] | None = None
    """Orders collected here, by carrier."""
    collect_parcels: int | None = None
    contact: StopContact | None = None


class LoadingBag(BaseModel):
    trip: int
    seq: int
    """Loading order within the trip: 1 is loaded first (deepest, dropped last)."""
    stop: int
    site: str
    carrier: str
    parcels: int


class RouteRun(BaseModel):
    route: str
    """``tier:vehicle``."""
    tier: str
    wave: str
    home: str
    distance_m: int
    leaves: str | None
    back: str | None
    stops: list[RouteStop]
    loading: list[LoadingBag]
    geometry: list[list[float]]
    """The roads driven, as [x, y] points."""


class CourierRoute(BaseModel):
    """One vehicle's compact route for the day (all its tiers)."""

    plan: int
    revision: int
    date: str
    crs: Literal["wgs84", "gcj02", "planar"]
    vehicle: RouteVehicle
    courier: RouteCourier | None
    routes: list[RouteRun]


# ------------------------------------------------------------------------------ progress, trace
class RouteProgress(BaseModel):
    route: str
    vehicle: str
    tier: str
    courier: str | None
    stops_total: int
    stops_done: int
    stops_left: int
    parcels_to_deliver: int
    parcels_delivered: int
    parcels_to_collect: int
    parcels_collected: int
    failed_stops: int
    late_stops: int
    """Stops whose first event came after the planned start + grace, or are overdue now."""
    last_event_at: str | None


class PlanProgress(BaseModel):
    plan: int
    date: str
    routes: list[RouteProgress]


class TraceLeg(BaseModel):
    step: str
    site: str
    site_name: str
    vehicle: str
    courier: str | None
    planned: str | None
    """Planned time HH:MM (the stop's service start)."""
    events: list[dict[str, Any]]


class TraceOrder(BaseModel):
    order: str
    network: str
    date: str
    direction: str
    carrier: str
    site: str
    plan: int | None
    legs: list[TraceLeg]
    deferred: dict[str, Any] | None


class TracePublic(BaseModel):
    lot: str
    orders: list[TraceOrder]


class AuditPublic(BaseModel):
    id: int
    at: str
    actor: str
    role: str
    action: str
    target: str
    detail: dict[str, Any]


PlanId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="A plan's id")]
KeyId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="A key's id")]
