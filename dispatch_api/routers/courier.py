"""Courier endpoints, built for weak networks: a compact route with an ETag (an unchanged
route costs a 304), stop events that are idempotent on the client's event id, and batches of
events queued offline, in any order, with one result per event."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Annotated, Any, Literal, NamedTuple

from fastapi import APIRouter, Header, Path, Query, Response
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dispatch_api.cachebus import WARM
from dispatch_api.db import Courier, NetworkRow, OrderDay, PlanRow, RouteDoc, now_iso
from dispatch_api.deps import AppContext, Ctx, DbSession, EventKey, RouteReader, visible_plan
from dispatch_api.events import courier_vehicle, ingest
from dispatch_api.problems import Problem
from dispatch_api.schemas import (
    CourierRoute,
    DateText,
    EventBatch,
    EventBatchResult,
    EventCreate,
    EventResult,
    PlanId,
)
from dispatch_api.security import Principal, Role
from dispatch_api.store import closed_roads, network_row, orders_by_id, plan_day_input, plan_of
from dispatch_api.views import courier_route
from routing.plan import Plan, plan_from_dict
from routing.present import mask_phone

router = APIRouter(tags=["courier"])
log = logging.getLogger("countyroute.api")

Crs = Annotated[
    Literal["wgs84", "gcj02"],
    Query(description="Coordinates: WGS-84 (default) or GCJ-02 for Chinese map apps"),
]

_ROUTE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": CourierRoute,
        "headers": {"ETag": {"description": "A digest of the body", "schema": {"type": "string"}}},
    },
    304: {"description": "Not modified (If-None-Match matched the ETag)"},
}


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if if_none_match is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _doc_key(
    session: DbSession,
    plan: Any,
    vehicle: str,
    crs: str,
    who: Courier | None,
    seen: tuple[Any, Any] | None = None,
) -> tuple[str, str]:
    """The digest of everything a route document shows (so a cached one is never stale):
    the plan version, the network's import, the day's orders version, who drives.
    ``seen``: the network's import time and the orders version when the caller read them."""
    if seen is not None:
        imported, orders = seen
    else:
        imported = session.scalar(
            select(NetworkRow.imported_at).where(NetworkRow.name == plan.network)
        )
        orders = session.scalar(
            select(OrderDay.version).where(
                OrderDay.network == plan.network, OrderDay.date == plan.date
            )
        )
    parts = [
        plan.id,
        plan.revision,
        plan.network,
        imported,
        orders or 0,
        vehicle,
        crs,
        [who.id, who.name, who.phone] if who else None,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest(), str(imported)


def _render(
    session: DbSession, ctx: Ctx, plan_id: int, vehicle: str, crs: str, who: Courier | None
) -> bytes:
    row = session.get(PlanRow, plan_id)
    assert row is not None
    sc = ctx.scenarios.get(network_row(session, row.network))
    plan = plan_of(row)
    network = sc.network
    if closed_roads(plan):  # a repair closed roads: draw the roads the plan drives
        network = plan_day_input(session, ctx.scenarios, row, plan).network
    if not any(r.vehicle == vehicle for r in plan.routes):
        raise Problem(404, f"vehicle {vehicle!r} has no route in plan {row.id}", field="vehicle")
    ids = [
        oid
        for r in plan.routes
        if r.vehicle == vehicle
        for stop in r.stops
        for oid in (*stop.drop, *stop.collect)
    ]
    orders = orders_by_id(session, row.network, row.date, ids)
    if plan.parts:  # parts of a split order: the order's row, cut as the plan cut it
        from routing.split import with_parts

        named = set(ids)
        split = {p.order for p in plan.parts if p.id in named}
        whole = orders_by_id(session, row.network, row.date, split)
        orders |= {o.id: o for o in with_parts(tuple(whole.values()), plan.parts)}
    doc = courier_route(
        row.id,
        row.revision,
        plan,
        network,
        sc.fleet,
        orders,
        vehicle,
        crs,
        {"id": who.id, "name": who.name, "phone": mask_phone(who.phone)} if who else None,
    )
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _document(
    session: Session,
    ctx: AppContext,
    plan: Any,
    vehicle: str,
    crs: str,
    driver: Courier | bool | None = False,
    seen: tuple[Any, Any] | None = None,
) -> tuple[str, bytes]:
    """The route document and its ETag: from this process's cache, else the shared table,
    else rendered (and shared). The ETag is a digest of the body itself. ``seen``: see
    :func:`_doc_key`."""
    who: Courier | None
    if driver is False:
        who = session.scalars(
            select(Courier)
            .where(Courier.network == plan.network, Courier.vehicle == vehicle)
            .order_by(Courier.id)
            .limit(1)
        ).first()
    else:
        who = driver if isinstance(driver, Courier) else None
    key, _ = _doc_key(session, plan, vehicle, crs, who, seen)
    hit: tuple[str, bytes] | None = ctx.routes.get(key)
    if hit is None:
        found = session.execute(
            select(RouteDoc.etag, RouteDoc.body).where(RouteDoc.key == key)
        ).first()
        if found is not None:
            hit = (found[0], bytes(found[1]))
        else:
            body = _render(session, ctx, plan.id, vehicle, crs, who)
            hit = ('"' + hashlib.sha256(body).hexdigest()[:32] + '"', body)
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            session.execute(
                insert(RouteDoc)
                .values(key=key, plan=plan.id, etag=hit[0], body=body, created_at=now_iso())
                .on_conflict_do_nothing(index_elements=["key"])
            )
            session.commit()
        ctx.routes.put(key, hit)
    return hit


def prerender(ctx: AppContext, plan_id: int) -> int:
    """Render (and share) every route document of a published plan, both coordinate systems,
    so that the first fetch of the morning reads a stored document; returns how many."""
    done = 0
    with ctx.sessions() as session:
        head = _plan_head(session, PlanRow.id == plan_id)
        if head is None or head.status != "published":
            return 0
        row = session.get(PlanRow, plan_id)
        assert row is not None
        vehicles = sorted({r.vehicle for r in plan_of(row).routes})
        for vehicle in vehicles:
            for crs in ("gcj02", "wgs84"):
                try:
                    _document(session, ctx, head, vehicle, crs)
                    done += 1
                except Exception:  # a document that cannot be rendered now is rendered on demand
                    log.exception("pre-rendering %s of plan %s", vehicle, plan_id)
    if done:  # every process remembers them before the couriers ask (dispatch_api.warm)
        try:
            ctx.bus.broadcast(WARM)
        except Exception:  # they are looked up on the first fetch instead
            log.warning("could not ask the processes to warm", exc_info=True)
    return done


def prerender_in_background(ctx: AppContext, plan_id: int) -> threading.Thread:
    thread = threading.Thread(
        target=prerender, args=(ctx, plan_id), name=f"prerender-{plan_id}", daemon=True
    )
    thread.start()
    return thread


def _answer(hit: tuple[str, bytes], if_none_match: str | None) -> Response:
    etag, body = hit
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if _etag_matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)


def _route_response(
    session: DbSession,
    ctx: Ctx,
    plan: Any,
    vehicle: str,
    crs: str,
    if_none_match: str | None,
    driver: Courier | bool | None = False,
) -> Response:
    return _answer(_document(session, ctx, plan, vehicle, crs, driver), if_none_match)


class _Head(NamedTuple):
    """A plan's head, as :func:`_plan_head` reads it."""

    id: int
    network: str
    date: str
    status: str
    revision: int


def _plan_head(session: DbSession, *where: Any) -> Any:
    """A plan's id, network, date, status and revision (not its document)."""
    return session.execute(
        select(PlanRow.id, PlanRow.network, PlanRow.date, PlanRow.status, PlanRow.revision).where(
            *where
        )
    ).first()


def _check_courier(session: DbSession, who: Principal, row: Any, vehicle: str) -> None:
    if who.role is not Role.COURIER:
        return
    if who.network != row.network or courier_vehicle(session, who) != vehicle:
        raise Problem(403, "couriers see only their own routes", field="vehicle")
    if row.status == "draft":
        raise Problem(403, "this plan is not published", field="plan_id")


@router.get("/plans/{plan_id}/routes/{vehicle}", responses=_ROUTE_RESPONSES)
def read_route(
    plan_id: PlanId,
    vehicle: Annotated[str, Path(max_length=100)],
    session: DbSession,
    ctx: Ctx,
    who: RouteReader,
    crs: Crs = "wgs84",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One vehicle's compact route in a plan (couriers: their own vehicle, published plans)."""
    row = visible_plan(who, _plan_head(session, PlanRow.id == plan_id), plan_id)
    _check_courier(session, who, row, vehicle)
    return _route_response(session, ctx, row, vehicle, crs, if_none_match)


_PDF_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"application/pdf": {}}, "description": "A4 PDF"},
}
Lang = Annotated[Literal["zh", "en"], Query(description="Language of the document")]


def _pdf(
    session: DbSession, ctx: Ctx, who: Principal, plan_id: int, vehicle: str, kind: str, lang: str
) -> Response:
    from routing.present.documents import manifest_pdf, route_sheet_pdf

    row = visible_plan(who, session.get(PlanRow, plan_id), plan_id)
    _check_courier(session, who, row, vehicle)
    plan = plan_of(row)
    if not any(r.vehicle == vehicle for r in plan.routes):
        raise Problem(404, f"vehicle {vehicle!r} has no route in plan {row.id}", field="vehicle")
    day = plan_day_input(session, ctx.scenarios, row, plan)
    make = route_sheet_pdf if kind == "sheet" else manifest_pdf
    return Response(
        content=make(vehicle, plan, day, lang),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{kind}-{row.id}-{vehicle}-{lang}.pdf"',
            "Cache-Control": "private, no-cache",
        },
    )


@router.get(
    "/plans/{plan_id}/routes/{vehicle}/sheet.pdf",
    response_class=Response,
    responses=_PDF_RESPONSES,
)
def read_route_sheet_pdf(
    plan_id: PlanId,
    vehicle: Annotated[str, Path(max_length=100)],
    session: DbSession,
    ctx: Ctx,
    who: RouteReader,
    lang: Lang = "zh",
) -> Response:
    """The vehicle's printable route sheet (A4 PDF; keepers' full phones, loading order)."""
    return _pdf(session, ctx, who, plan_id, vehicle, "sheet", lang)


@router.get(
    "/plans/{plan_id}/routes/{vehicle}/manifest.pdf",
    response_class=Response,
    responses=_PDF_RESPONSES,
)
def read_manifest_pdf(
    plan_id: PlanId,
    vehicle: Annotated[str, Path(max_length=100)],
    session: DbSession,
    ctx: Ctx,
    who: RouteReader,
    lang: Lang = "zh",
) -> Response:
    """The vehicle's printable manifest (A4 PDF; bags per stop, a QR code per lot)."""
    return _pdf(session, ctx, who, plan_id, vehicle, "manifest", lang)


def _resolve_mine(ctx: AppContext, who: Principal, date: str, crs: str) -> Any:
    """A courier's route for a date: (ETag, body), or the problem to answer. One query
    finds the courier, the day's published plan and what the document's key digests (the
    network's import, the day's orders version); a second reads the stored document (the
    first fetch after publication finds it pre-rendered)."""
    with ctx.sessions() as session:
        if ctx.engine.dialect.name == "postgresql":  # reads only: no transaction round trips
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        found = session.execute(
            select(
                Courier,
                PlanRow.id,
                PlanRow.network,
                PlanRow.date,
                PlanRow.status,
                PlanRow.revision,
                NetworkRow.imported_at,
                OrderDay.version,
            )
            .join(NetworkRow, NetworkRow.name == Courier.network)
            .outerjoin(
                PlanRow,
                (PlanRow.network == Courier.network)
                & (PlanRow.date == date)
                & (PlanRow.status == "published"),
            )
            .outerjoin(OrderDay, (OrderDay.network == Courier.network) & (OrderDay.date == date))
            .where(Courier.network == who.network, Courier.id == who.courier)
            .limit(1)
        ).first()
        me = found[0] if found is not None else None
        if found is None or me is None or me.vehicle is None:
            return (404, "no vehicle is assigned to you", "courier")
        _, plan_id, network, day, status, revision, imported, orders = found
        vehicle: str = me.vehicle
        if plan_id is None:
            return (404, f"no published plan for {date}", "date")
        head = _Head(plan_id, network, day, status, revision)
        try:
            return _document(session, ctx, head, vehicle, crs, driver=me, seen=(imported, orders))
        except Problem as exc:
            return (exc.status, exc.detail, exc.field)


@router.get("/courier/route", responses=_ROUTE_RESPONSES)
async def read_my_route(
    ctx: Ctx,
    who: RouteReader,
    date: Annotated[DateText, Query(description="YYYY-MM-DD")],
    crs: Crs = "wgs84",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """My route for a date in the published plan (courier keys only).

    The hot path of the morning start: the answer is remembered by this process until a
    publication, a reassignment, an import or a key change anywhere (the cache bus) makes it
    look again; the document itself comes from the content-keyed cache."""
    if who.role is not Role.COURIER:
        raise Problem(403, "only courier keys have a route of their own")
    ident = ("me", who.network, who.courier, date, crs)
    hit = ctx.bus.get(ident)
    if hit is None:
        hit = await ctx.bus.once(ident, _resolve_mine, ctx, who, date, crs)
    if len(hit) == 3:
        status, detail, field = hit
        raise Problem(status, detail, field=field)
    return _answer(hit, if_none_match)


def cached_plan(session: Session, ctx: AppContext, head: Any) -> Plan:
    """A plan version, parsed once per process (a version never changes)."""
    key = ("plan", head.id, head.revision)
    plan: Plan | None = ctx.routes.get(key)
    if plan is None:
        document = session.scalar(select(PlanRow.document).where(PlanRow.id == head.id))
        assert document is not None
        plan = plan_from_dict(json.loads(document))
        ctx.routes.put(key, plan)
    return plan


def _plan_head_cached(session: DbSession, ctx: AppContext, plan_id: int) -> Any:
    """A plan's head (:func:`_plan_head`), remembered by this process until the cache bus
    says something changed (publishing and edits announce it)."""
    ident = ("head", plan_id)
    generation = ctx.bus.generation
    head = ctx.bus.get(ident)
    if head is None:
        head = _plan_head(session, PlanRow.id == plan_id)
        if head is not None:  # a plan made later (a job) announces nothing: not remembered
            ctx.bus.put(ident, head, generation)
    return head


def _published_or_draft(session: DbSession, ctx: AppContext, plan_id: int, who: Principal) -> Any:
    row = visible_plan(who, _plan_head_cached(session, ctx, plan_id), plan_id)
    if who.role is Role.COURIER and row.status == "draft":
        raise Problem(403, "this plan is not published", field="plan_id")
    if row.status != "published":
        raise Problem(
            409,
            f"plan {plan_id} is {row.status}; stop events go to the published plan",
            field="plan_id",
        )
    return row


def _ingest(
    ctx: AppContext, plan_id: int, who: Principal, items: list[tuple[str, EventCreate]]
) -> list[EventResult]:
    """Events against a plan, in one session (one trip to the thread pool per request). On
    PostgreSQL the session runs in autocommit: the events and their feed items are one
    statement (atomic by itself), and with the plan's head, the plan and the courier's
    vehicle remembered by the process, a request costs one round trip to the database."""
    with ctx.sessions() as session:
        if ctx.engine.dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        row = _published_or_draft(session, ctx, plan_id, who)
        own = None
        if who.role is Role.COURIER:
            ident = ("vehicle", who.network, who.courier)
            generation = ctx.bus.generation
            own = ctx.bus.get(ident)
            if own is None:
                own = (courier_vehicle(session, who),)
                ctx.bus.put(ident, own, generation)
        plan = cached_plan(session, ctx, row)
        return ingest(
            session,
            row,
            plan,
            who,
            items,
            ctx.settings.timezone,
            own_vehicle=own[0] if own is not None else None,
        )


@router.put(
    "/plans/{plan_id}/events/{event_id}",
    response_model=EventResult,
    responses={201: {"model": EventResult}, 409: {"description": "id used for other content"}},
)
async def put_event(
    plan_id: PlanId,
    event_id: Annotated[
        str, Path(min_length=1, max_length=100, pattern=r"^[^\s/?#%\\\x00-\x1f\x7f]+$")
    ],
    body: EventCreate,
    response: Response,
    ctx: Ctx,
    who: EventKey,
) -> EventResult:
    """Report one stop event under a client-made id: 201 stored, 200 already stored (a retry),
    409 the id was used for other content (ids are yours alone: scoped to you and the plan),
    403 not your route, 409 the plan is not the published one."""
    (result,) = await run_in_threadpool(_ingest, ctx, plan_id, who, [(event_id, body)])
    if result.status in ("rejected", "forbidden", "conflict"):
        raise Problem(result.http_status, result.detail or result.status, field=result.field or "")
    response.status_code = result.http_status
    return result


@router.post("/plans/{plan_id}/events", response_model=EventBatchResult)
async def post_events(
    plan_id: PlanId, body: EventBatch, ctx: Ctx, who: EventKey
) -> EventBatchResult:
    """A batch of events queued offline, in any order; one result per event."""
    results = await run_in_threadpool(_ingest, ctx, plan_id, who, [(e.id, e) for e in body.events])
    return EventBatchResult(
        stored=sum(r.status == "stored" for r in results),
        duplicate=sum(r.status == "duplicate" for r in results),
        failed=sum(r.status not in ("stored", "duplicate") for r in results),
        results=results,
    )
