"""Request and response shapes (pydantic). They parse shapes only; the rules of the business
(sites exist, plans check) are the core's. One family per resource: ``*Create`` / ``*Update``
for input, ``*Public`` for output."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dispatch_api.security import Role

Ident = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\s/?#]+$")]
"""An id as the bundles write them: no whitespace, slashes or URL delimiters."""
DateText = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------ keys
class KeyCreate(_In):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    role: Role
    network: Ident | None = None
    """For couriers: the network their courier id belongs to."""
    courier: Ident | None = None
    """For couriers: their courier id (``GET /networks/{n}/couriers``)."""


class KeyPublic(BaseModel):
    id: int
    name: str
    role: Role
    prefix: str
    network: str | None
    courier: str | None
    created_at: str
    revoked: bool


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


class OrderPage(BaseModel):
    total: int
    items: list[OrderPublic]


# ------------------------------------------------------------------------------ jobs, plans
class PlanCreate(_In):
    date: DateText
    time_limit_s: Annotated[float, Field(gt=0, le=3600)] | None = None
    """Solver budget for the day (default: the server's)."""


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobPublic(BaseModel):
    id: str
    kind: str
    network: str
    date: str
    status: JobStatus
    stage: str
    progress: float
    """0 … 1: queued 0, solving by elapsed share of the budget, done 1."""
    attempt: int
    error: str | None
    plan: int | None
    plan_url: str | None
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None


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
    at: dt.datetime
    """When it happened (ISO 8601; without an offset it is the plan's local time)."""
    orders: Annotated[list[Ident], Field(max_length=5000)] | None = None
    """Order ids (default: the stop's drops for delivered, collections for collected)."""
    reason: Annotated[str, StringConstraints(max_length=500)] = ""
    """Why it failed (required for ``failed``)."""


class EventBatchItem(EventCreate):
    id: Annotated[str, StringConstraints(min_length=1, max_length=100)]
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
