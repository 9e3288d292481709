"""Read models and a dry run the dispatcher console needs, as ordinary API endpoints.

Everything here is public API (Bearer key or console session), so a script can do what the
console does:

- ``GET /networks/{n}/geojson`` — the network's own GeoJSON (boundary, sites, roads);
- ``GET /plans/{id}/geojson`` — one LineString per route on the roads, with its tier;
- ``GET /plans/{id}/view`` — the plan for display: stops with their times and loads, order
  lists replaced by counts, deferred orders grouped by site (a 5,000-point plan.json is 20 MB);
- ``GET /plans/{id}/events`` — the day's courier events; ``GET /plans/{id}/events/stream``
  the same as server-sent events as they arrive (the console's live view; it polls the list
  when the stream fails);
- ``POST /plans/{id}/edits/check`` — apply a sequence of edits to a draft, re-time and check
  it, and answer the re-timed routes or the checker's violations, *without saving*;
- ``POST /jobs/{id}/cancel`` — give up a queued or running job: it ends ``cancelled`` and its
  worker is stopped (nothing of it is written).

Coordinates: ``crs=wgs84`` (the network's own) or ``gcj02`` (for Amap-style tiles); planar
networks are returned in metres. Times: seconds after midnight of the plan's date.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch_api.db import Event, NetworkRow, OrderRow, PlanRow
from dispatch_api.deps import (
    Ctx,
    DbSession,
    LruCache,
    StaffKey,
    visible_network,
    visible_plan,
)
from dispatch_api.edits import _insert_at, _rebuild, _without, apply_edit
from dispatch_api.jobs import PLANNER_KINDS, cancel
from dispatch_api.problems import Problem
from dispatch_api.routers.plans import _summary, job_public, job_row
from dispatch_api.schemas import JobKind, JobPublic, MoveStop, PinVillage, PlanId, Violation
from dispatch_api.security import Principal, Role
from dispatch_api.store import audit, closed_roads, network_row, order_from_row, plan_of
from dispatch_api.views import _geometry, convert_xy, find_route, route_label
from networks import Crs
from routing import DayInput
from routing.plan import Plan, Route

__all__ = ["router"]

router = APIRouter(tags=["console"])


def _cached_json(
    request: Request, ctx: Any, key: tuple[Any, ...], build: Callable[[], Any]
) -> Response:
    """A read model's JSON, built and serialised once per key (which names the versions it
    depends on) and gzipped once: a large county's network is 10 MB of JSON, and compressing
    it again on every request (the app's gzip middleware) took longer than sending it."""
    cached: tuple[bytes, bytes] | None = ctx.routes.get(key)
    if cached is None:
        body = json.dumps(build(), ensure_ascii=False, separators=(",", ":")).encode()
        cached = (body, gzip.compress(body, compresslevel=5))
        ctx.routes.put(key, cached)
    body, packed = cached
    if "gzip" in request.headers.get("accept-encoding", "") and len(body) > 1024:
        # already encoded: the middleware passes it on as it is
        return Response(
            packed,
            media_type="application/json",
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    return Response(body, media_type="application/json")


CrsParam = Annotated[Literal["wgs84", "gcj02"], Query(description="coordinates of the answer")]


def _plan_row(session: DbSession, plan_id: int, who: Principal) -> PlanRow:
    return visible_plan(who, session.get(PlanRow, plan_id), plan_id)


@router.get("/networks/{network}/geojson", response_model=dict[str, Any])
def network_geojson(
    network: str,
    request: Request,
    session: DbSession,
    ctx: Ctx,
    who: StaffKey,
    crs: CrsParam = "wgs84",
) -> Response:
    """The network as GeoJSON: its boundary, every site (kind, Chinese name, parent, poor)
    and every road (class, closures). Keepers' phones are left out."""
    visible_network(who, network)
    # the version alone (the row holds the bundle's files: megabytes on a large county)
    version = session.scalar(select(NetworkRow.version).where(NetworkRow.name == network))
    if version is None:
        raise Problem(404, f"no network {network!r}", field="network")

    def build() -> dict[str, Any]:
        row = network_row(session, network)
        net = ctx.scenarios.get(row).network
        doc: dict[str, Any] = json.loads(json.loads(row.files)["network.geojson"])
        if net.crs is not Crs.WGS84 or crs == "wgs84":
            out_crs = "planar" if net.crs is Crs.PLANAR else "wgs84"
        else:
            out_crs = "gcj02"
        features = []
        for f in doc.get("features", []):
            props = {k: v for k, v in f.get("properties", {}).items() if k != "phone"}
            geom = f["geometry"]
            if out_crs == "gcj02":
                geom = _shift(geom, net)
            features.append(
                {"type": "Feature", "id": f.get("id"), "geometry": geom, "properties": props}
            )
        return {"type": "FeatureCollection", "crs_name": out_crs, "features": features}

    return _cached_json(request, ctx, ("network-geojson", network, version, crs), build)


def _shift(geom: dict[str, Any], net: Any) -> dict[str, Any]:
    def pt(p: list[float]) -> list[float]:
        return convert_xy(net, p[0], p[1], "gcj02")

    kind = geom["type"]
    c = geom["coordinates"]
    if kind == "Point":
        return {"type": kind, "coordinates": pt(c)}
    if kind == "LineString":
        return {"type": kind, "coordinates": [pt(p) for p in c]}
    if kind == "Polygon":
        return {"type": kind, "coordinates": [[pt(p) for p in ring] for ring in c]}
    return geom


GeometryParam = Annotated[
    Literal["roads", "stops"],
    Query(
        description="`roads`: each route along the roads it drives (shortest paths: seconds "
        "per route on a large county); `stops`: straight lines from stop to stop (instant)"
    ),
]


@router.get("/plans/{plan_id}/geojson", response_model=dict[str, Any])
def plan_geojson(
    plan_id: PlanId,
    request: Request,
    session: DbSession,
    ctx: Ctx,
    who: StaffKey,
    crs: CrsParam = "wgs84",
    geometry: GeometryParam = "roads",
    route: Annotated[
        str | None, Query(max_length=120, description="only this route (`tier:vehicle`)")
    ] = None,
) -> Response:
    """Every route of the plan (or one, ``route``) as a LineString (``route`` is
    ``tier:vehicle``), with its tier, wave, vehicle and visited sites in order."""
    row = _plan_row(session, plan_id, who)
    cache_key = ("plan-geojson", plan_id, row.revision, row.network_version, crs, geometry, route)
    # the roads a route follows are the slow part (shortest paths); a plan's revision and its
    # network's version fix them, so the answer is kept with the courier routes' cache
    return _cached_json(
        request, ctx, cache_key, lambda: _plan_lines(session, ctx, row, crs, geometry, route)
    )


def _plan_lines(
    session: Session, ctx: Any, row: PlanRow, crs: str, geometry: str, route: str | None
) -> dict[str, Any]:
    plan_id = row.id
    net = ctx.scenarios.get(network_row(session, row.network)).network
    plan = plan_of(row)
    routes = [r for r in plan.routes if route is None or route_label(r) == route]
    if route is not None and not routes:
        raise Problem(404, f"plan {plan_id} has no route {route!r}", field="route")

    def line(r: Route) -> list[list[float]]:
        if geometry == "roads":
            return _geometry(net, r, crs)
        xy = [convert_xy(net, net.site(s.site).x, net.site(s.site).y, crs) for s in r.stops]
        return xy if len(xy) > 1 else xy * 2

    return {
        "type": "FeatureCollection",
        "plan": plan_id,
        "revision": row.revision,
        "geometry": geometry,
        "features": [
            {
                "type": "Feature",
                "id": route_label(r),
                "geometry": {"type": "LineString", "coordinates": line(r)},
                "properties": {
                    "route": route_label(r),
                    "vehicle": r.vehicle,
                    "tier": r.tier.value,
                    "wave": r.wave,
                    "home": r.home,
                    "sites": [s.site for s in r.stops],
                },
            }
            for r in routes
        ],
    }


@router.get("/plans/{plan_id}/view", response_model=dict[str, Any])
def plan_view(
    plan_id: PlanId, request: Request, session: DbSession, ctx: Ctx, who: StaffKey
) -> Response:
    """``GET /plans/{id}`` made small for display: each stop keeps its site, kind, trip,
    times and load after, its ``drop``/``collect`` order lists become ``drops``/``collects``
    counts; ``deferred`` becomes one entry per site, reason and day (``orders``: how many,
    ``suggestion`` and ``hint`` of the first). Summary fields and ``kpis`` as in ``GET /plans/{id}``."""
    row = _plan_row(session, plan_id, who)
    return _cached_json(
        request, ctx, ("plan-view", plan_id, row.revision, row.status), lambda: _view(row)
    )


def _view(row: PlanRow) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(row.document)
    for route in doc.get("routes", []):
        for stop in route.get("stops", []):
            stop["drops"] = len(stop.pop("drop", []) or [])
            stop["collects"] = len(stop.pop("collect", []) or [])
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for d in doc.get("deferred", []):
        key = (d.get("site", ""), d.get("reason", ""), d.get("until") or "")
        g = groups.setdefault(
            key,
            {
                "site": key[0],
                "reason": key[1],
                "until": d.get("until"),
                "suggestion": d.get("suggestion", ""),
                "hint": d.get("hint"),
                "orders": 0,
            },
        )
        g["orders"] += 1
    doc["deferred"] = list(groups.values())
    return {**_summary(row).model_dump(), "network_version": row.network_version, "plan": doc}


class EventPublic(BaseModel):
    id: str
    route: str
    vehicle: str
    stop: int
    site: str
    type: str
    reason: str
    at: str
    at_s: int
    received_at: str


@router.get("/plans/{plan_id}/events", response_model=list[EventPublic])
def list_events(
    plan_id: PlanId,
    session: DbSession,
    who: StaffKey,
    since: Annotated[
        str | None, Query(max_length=40, description="only events received after this time")
    ] = None,
) -> list[EventPublic]:
    """Courier stop events of the plan's network and day (every version of the plan), in the
    order they were received."""
    row = _plan_row(session, plan_id, who)
    stmt = select(Event).where(Event.network == row.network, Event.date == row.date)
    if since:
        stmt = stmt.where(Event.received_at > since)
    return [_event(e) for e in session.scalars(stmt.order_by(Event.received_at, Event.id))]


def _event(e: Event) -> EventPublic:
    return EventPublic(
        id=e.id,
        route=e.route,
        vehicle=e.vehicle,
        stop=e.stop,
        site=e.site,
        type=e.type,
        reason=e.reason,
        at=e.at,
        at_s=e.at_s,
        received_at=e.received_at,
    )


def _events_after(ctx: Any, network: str, date: str, after: str) -> list[EventPublic]:
    with ctx.sessions() as s:
        stmt = select(Event).where(Event.network == network, Event.date == date)
        if after:
            stmt = stmt.where(Event.received_at > after)
        return [_event(e) for e in s.scalars(stmt.order_by(Event.received_at, Event.id))]


@router.get(
    "/plans/{plan_id}/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    plan_id: PlanId,
    request: Request,
    ctx: Ctx,
    who: StaffKey,
    max_s: Annotated[
        float, Query(ge=1, le=300, description="the stream ends after this; reconnect")
    ] = 25,
) -> StreamingResponse:
    """The plan's day's courier events as server-sent events (``data``: one event as in
    ``GET /plans/{id}/events``; ``id``: its ``received_at``), oldest first, read every 0.5 s.
    A reconnecting ``EventSource`` sends ``Last-Event-ID`` and gets only what it missed. The
    stream ends after ``max_s`` (a browser reconnects by itself), so a server can stop; the
    server's ``COUNTYROUTE_FEED_MAX_WAIT_S`` caps it, as it caps every live stream."""
    with ctx.sessions() as s:
        row = visible_plan(who, s.get(PlanRow, plan_id), plan_id)
        network, date = row.network, row.date
    start_after = request.headers.get("last-event-id", "")

    async def events() -> AsyncIterator[str]:
        last = start_after
        yield "retry: 500\n\n"
        end = time.monotonic() + min(max_s, ctx.settings.feed_max_wait_s)
        while time.monotonic() < end and not await request.is_disconnected():
            for e in await run_in_threadpool(_events_after, ctx, network, date, last):
                last = e.received_at
                yield f"id: {last}\ndata: {e.model_dump_json()}\n\n"
            await asyncio.sleep(0.5)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


class EditCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    edits: Annotated[
        list[Annotated[MoveStop | PinVillage, Field(discriminator="op")]],
        Field(max_length=200),
    ]
    """Applied in order to the plan as stored (a move's stop index counts in the routes as
    the edits before it left them)."""
    revision: Annotated[int, Field(ge=1)] | None = None


class StopTimes(BaseModel):
    site: str
    kind: str
    trip: int
    arrival_s: int
    start_s: int
    departure_s: int
    load_after: dict[str, float]


class RouteTimes(BaseModel):
    route: str
    vehicle: str
    tier: str
    distance_m: float
    duration_s: float
    cost: float
    stops: list[StopTimes]


class EditCheckResult(BaseModel):
    ok: bool
    revision: int
    """The stored revision the edits were applied to."""
    applied: int
    """How many edits passed the checker (all of them when ``ok``)."""
    failed_edit: int | None
    violations: list[Violation]
    """The checker's findings for the first failing edit (its ``stop`` indexes the routes as
    that edit left them)."""
    routes: list[RouteTimes]
    """Every route the edits touched, re-timed — including a rejected move, so the page can
    show the late arrival the checker objects to."""


def plan_day(session: Session, ctx: Any, row: PlanRow, plan: Plan) -> DayInput:
    """``store.plan_day_input`` with the day's orders read as plain rows rather than ORM
    objects — the same input, three times faster on the built-in county's 9,000 orders, which
    is most of an edit check's time."""
    sc = ctx.scenarios.get(network_row(session, row.network))
    rows = session.execute(
        select(OrderRow.__table__)
        .where(OrderRow.network == row.network, OrderRow.date == row.date)
        .order_by(OrderRow.id)
    ).all()
    # a Core row has the attributes order_from_row reads
    orders = tuple(order_from_row(cast(OrderRow, r)) for r in rows)
    day = DayInput(sc.name, sc.network, sc.fleet, sc.policy, orders, row.date)
    roads = closed_roads(plan)
    if roads:
        from routing.repair import close_roads

        day = replace(day, network=close_roads(day.network, roads))
    return day


def _moved(plan: Plan, day: DayInput, edit: MoveStop) -> Plan:
    """The plan with a move the checker rejected, re-timed (as ``apply_edit`` builds it before
    its check); the arguments were already validated by that call."""
    i, src = find_route(plan, edit.route) or (-1, None)
    j, dst = find_route(plan, edit.to_route or edit.route) or (-1, None)
    if src is None or dst is None:
        return plan
    stop = src.stops[edit.stop]
    if i == j:
        changed = {i: _insert_at(_without(src, edit.stop), stop, edit.position, "edit.position")}
    else:
        changed = {i: _without(src, edit.stop), j: _insert_at(dst, stop, edit.position, "")}
    return _rebuild(plan, changed, day)


def _times(r: Route) -> RouteTimes:
    return RouteTimes(
        route=route_label(r),
        vehicle=r.vehicle,
        tier=r.tier.value,
        distance_m=r.distance_m,
        duration_s=r.duration_s,
        cost=r.cost,
        stops=[
            StopTimes(
                site=s.site,
                kind=s.kind.value,
                trip=s.trip,
                arrival_s=int(s.arrival_s),
                start_s=int(s.start_s),
                departure_s=int(s.departure_s),
                load_after={
                    "kg": s.load_after.kg,
                    "m3": s.load_after.m3,
                    "parcels": s.load_after.parcels,
                },
            )
            for s in r.stops
        ],
    )


DAY_REUSE_S = 60.0
"""The dry run reuses a plan's day input (its orders) read at most this long ago."""


def _edit_key(edits: list[MoveStop | PinVillage]) -> str:
    return json.dumps([e.model_dump(exclude_none=True) for e in edits], sort_keys=True)


@router.post("/plans/{plan_id}/edits/check", response_model=EditCheckResult)
def check_edits(
    plan_id: PlanId, body: EditCheck, request: Request, session: DbSession, ctx: Ctx, who: StaffKey
) -> EditCheckResult:
    """Dry run of ``POST /plans/{id}/edits``: apply the edits in order, re-time the touched
    routes and run the independent checker after each, and answer the re-timed routes — or,
    at the first edit the checker rejects, its violations. Nothing is saved; the console
    calls this on every move, undo and redo, and saves with ``/edits`` afterwards.

    The plans after each accepted prefix of edits are remembered (a small LRU per app), so a
    new edit, an undo or a redo costs at most one edit and one check; the day's orders are
    read again after :data:`DAY_REUSE_S` (saving checks against the stored orders anyway)."""
    row = _plan_row(session, plan_id, who)
    if body.revision is not None and body.revision != row.revision:
        raise Problem(409, f"plan {plan_id} is at revision {row.revision}", field="revision")
    cache: LruCache | None = getattr(request.app.state, "edit_checks", None)
    base = (plan_id, row.revision)
    hit = cache.get(base) if cache else None
    if hit is None or time.monotonic() - hit[2] > DAY_REUSE_S:
        stored = plan_of(row)
        hit = (stored, plan_day(session, ctx, row, stored), time.monotonic())
        if cache:
            cache.put(base, hit)
    original, day = hit[0], hit[1]
    start, plan = 0, original
    for k in range(len(body.edits), 0, -1):
        done = cache.get((*base, hit[2], _edit_key(body.edits[:k]))) if cache else None
        if done is not None:
            start, plan = k, done
            break
    before = {route_label(r): r for r in original.routes}
    touched: set[str] = set()
    violations: list[Violation] = []
    failed: int | None = None
    for n, edit in enumerate(body.edits):
        for label in (getattr(edit, "route", None), getattr(edit, "to_route", None)):
            if label:
                touched.add(label)
        if n < start:
            continue
        try:
            new, _report = apply_edit(plan, day, edit)
        except Problem as exc:
            if exc.code != "edit-rejected":
                exc.field = f"edits.{n}.{exc.field.removeprefix('edit.')}".rstrip(".")
                raise
            failed = n
            violations = [Violation(**v) for v in exc.extra.get("violations", [])]
            if isinstance(edit, MoveStop):
                plan = _moved(plan, day, edit)
            break
        plan = new
        if cache:
            cache.put((*base, hit[2], _edit_key(body.edits[: n + 1])), plan)
    after = {route_label(r): r for r in plan.routes}
    touched |= {label for label, r in after.items() if before.get(label) != r}
    return EditCheckResult(
        ok=failed is None,
        revision=row.revision,
        applied=len(body.edits) if failed is None else failed,
        failed_edit=failed,
        violations=violations,
        routes=[_times(after[label]) for label in sorted(touched) if label in after],
    )


@router.post("/jobs/{job_id}/cancel", response_model=JobPublic)
def cancel_job(job_id: str, session: DbSession, ctx: Ctx, who: StaffKey) -> JobPublic:
    """Give up a queued or running job: it ends ``cancelled`` at once (``error``: "cancelled
    by …"), and the runner that owns its worker process kills it within a moment (its search
    stops; a result is written only while its job is running, so nothing of it is kept). Who
    may start a kind of job may cancel it; 409 when it has already ended. Audited."""
    job = job_row(session, job_id, who)
    may = {
        JobKind.REPAIR.value: {Role.ADMIN, Role.DISPATCHER},
        **{k: {Role.ADMIN, Role.PLANNER} for k in PLANNER_KINDS},
    }.get(job.kind, {Role.ADMIN, Role.DISPATCHER, Role.PLANNER})
    if who.role not in may:
        raise Problem(403, f"a {who.role.value} key may not cancel a {job.kind} job")
    if job.status not in ("queued", "running"):
        raise Problem(409, f"job {job_id} has already {job.status}", field="job_id")
    if not cancel(ctx.engine, job_id, f"cancelled by {who.name}"):
        raise Problem(409, f"job {job_id} has already ended", field="job_id")
    ctx.runner.cancelled(job_id)
    audit(session, who, "job.cancel", f"job/{job_id}", {"kind": job.kind})
    session.commit()
    session.refresh(job)
    return job_public(job)
