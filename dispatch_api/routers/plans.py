"""Plans: start a solve job (202 + job URL), follow it, read the plan with its KPIs and
deferred orders, edit (checked), publish, repair, and watch progress; the audit log.

Jobs of every kind (plan, repair, and the planner's placement and simulation) are read at
``GET /jobs/{id}``; :func:`new_job` and :func:`job_public` serve every router that starts one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
import uuid
import zoneinfo
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi import Path as PathParam
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from dispatch_api.cachebus import announce
from dispatch_api.db import Audit, Courier, Event, Job, OrderRow, PlanRow, now_iso
from dispatch_api.deps import Ctx, DbSession, DispatchKey, StaffKey, visible_network, visible_plan
from dispatch_api.edits import apply_edit, pins_of
from dispatch_api.events import local_seconds
from dispatch_api.jobs import (
    REGION,
    RESULT_KINDS,
    error_code,
    job_budget_s,
    job_networks,
    repair_function,
)
from dispatch_api.live import publish_feed
from dispatch_api.pages import Cursor, Limit, page_of, set_next
from dispatch_api.problems import Problem
from dispatch_api.routers.courier import prerender_in_background
from dispatch_api.schemas import (
    AuditPublic,
    CountyState,
    DateText,
    JobKind,
    JobPublic,
    JobStatus,
    NetworkName,
    PlanCreate,
    PlanEdit,
    PlanId,
    PlanProgress,
    PlanPublic,
    PlanSummary,
    RepairCreate,
    RouteProgress,
)
from dispatch_api.security import Principal
from dispatch_api.store import (
    audit,
    day_input,
    kpis_of,
    network_row,
    plan_day_input,
    plan_document,
    plan_of,
)
from dispatch_api.views import route_progress
from networks import InvalidScenario, SiteKind, parse_clock
from scenarios.bundle import Scenario

router = APIRouter(tags=["plans"])


def job_public(job: Job) -> JobPublic:
    """A job as clients see it (plan, repair and planner jobs alike)."""
    progress = {"queued": 0.0, "succeeded": 1.0, "failed": 1.0, "cancelled": 1.0}.get(job.status)
    if progress is None and job.kind in RESULT_KINDS:  # planner and region jobs report theirs
        progress = round(min(0.99, job.progress or 0.0), 3)
    if progress is None:
        budget = job_budget_s(json.loads(job.params))
        started = dt.datetime.fromisoformat(job.started_at) if job.started_at else None
        elapsed = (dt.datetime.now(dt.UTC) - started).total_seconds() if started else 0.0
        progress = round(min(0.95, 0.05 + 0.9 * elapsed / max(budget, 0.1)), 3)
    done = job.status == "succeeded" and job.result is not None
    networks = counties = None
    if job.kind == REGION:  # the networks' states, as the worker last wrote them
        networks = job_networks(job)
        states = json.loads(job.result)["counties"] if job.result else []
        counties = [CountyState(**c) for c in states] or [
            CountyState(network=n, state="queued") for n in networks
        ]
    code, params = error_code(job.error)
    return JobPublic(
        id=job.id,
        kind=JobKind(job.kind),
        network=job.network,
        date=job.date or None,
        status=JobStatus(job.status),
        stage=job.stage,
        progress=progress,
        attempt=job.attempt,
        error=job.error,
        error_code=code,
        error_params=params,
        plan=job.plan,
        plan_url=f"/plans/{job.plan}" if job.plan is not None else None,
        result_url=f"/jobs/{job.id}/result" if done else None,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        networks=networks,
        counties=counties,
    )


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="A client-made key: a retried POST with it answers the job of the first "
        "(409 if the body differs)",
    ),
]


def idempotent_job(
    session: DbSession, who: Principal, key: str | None, params: dict[str, object]
) -> Job | None:
    """The job an earlier request with this ``Idempotency-Key`` started (same key and body),
    else None; 409 when the key was used for another request."""
    if key is None:
        return None
    job = session.scalars(
        select(Job).where(Job.idempotency_key == f"{who.key_id}:{key}")
    ).one_or_none()
    if job is None:
        return None
    if json.loads(job.params).get("request") != request_digest(params):
        raise Problem(
            409, "this Idempotency-Key was used for another request", field="Idempotency-Key"
        )
    return job


def request_digest(params: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def new_job(
    ctx: Ctx,
    who: Principal,
    kind: JobKind,
    network: str,
    date: str,
    params: dict[str, object],
    idempotency_key: str | None = None,
) -> Job:
    """Store a queued job and hand it to the runner (an inline runner runs it right here)."""
    job = Job(
        id=uuid.uuid4().hex,
        kind=kind.value,
        network=network,
        date=date,
        params=json.dumps(params),
        status="queued",
        stage="queued",
        attempt=0,
        created_by=who.name,
        created_at=now_iso(),
        idempotency_key=None if idempotency_key is None else f"{who.key_id}:{idempotency_key}",
    )
    with ctx.sessions() as s:
        s.add(job)
        try:
            s.commit()
        except IntegrityError:  # the same key raced in from a retry: answer its job
            s.rollback()
            return s.scalars(select(Job).where(Job.idempotency_key == job.idempotency_key)).one()
    ctx.runner.submit(job.id)
    with ctx.sessions() as s:
        fresh = s.get(Job, job.id)
        assert fresh is not None
        return fresh


def time_limit(ctx: Ctx, requested: float | None) -> float:
    limit = requested or ctx.settings.default_time_limit_s
    if limit > ctx.settings.max_time_limit_s:
        raise Problem(
            422, f"time_limit_s is at most {ctx.settings.max_time_limit_s:g}", field="time_limit_s"
        )
    return limit


def _pins(
    session: DbSession, ctx: Ctx, network: str, body: PlanCreate
) -> tuple[dict[str, str], int | None]:
    """The plan job's pins (the previous plan's, then the request's) and previous plan; 422
    naming ``previous_plan`` or ``pins.<village point>`` for ids the network does not have."""
    if not body.pins and body.previous_plan is None:
        return {}, None
    sc = ctx.scenarios.get(network_row(session, network))
    vehicles = {v.id: v for v in sc.fleet}
    stations = {s.id for s in sc.network.stations}

    def fault(site: str, vehicle: str) -> str | None:
        if site not in sc.network.index or sc.network.site(site).kind is not SiteKind.VILLAGE_POINT:
            return f"{site!r} is not a village point of {network}"
        if vehicle not in vehicles:
            return f"{network} has no vehicle {vehicle!r}"
        if vehicles[vehicle].home not in stations:
            return f"{vehicle!r} is not a station's vehicle (village runs leave from stations)"
        return None

    pins: dict[str, str] = {}
    if body.previous_plan is not None:
        previous = session.get(PlanRow, body.previous_plan)
        if previous is None or previous.network != network:
            raise Problem(422, f"{network} has no plan {body.previous_plan}", field="previous_plan")
        # the previous plan's pins hold while their village and vehicle still exist
        pins = {s: v for s, v in pins_of(plan_of(previous)).items() if fault(s, v) is None}
    for site, vehicle in (body.pins or {}).items():
        reason = fault(site, vehicle)
        if reason is not None:
            raise Problem(422, reason, field=f"pins.{site}")
        pins[site] = vehicle
    return pins, body.previous_plan


@router.post("/networks/{network}/plans", status_code=202, response_model=JobPublic)
def start_plan(
    network: NetworkName,
    body: PlanCreate,
    response: Response,
    session: DbSession,
    ctx: Ctx,
    who: StaffKey,
    idempotency_key: IdempotencyKey = None,
) -> JobPublic:
    """Start planning a day; answers 202 with the job (``Location: /jobs/{id}``).

    ``pins`` tie village points to vehicles; ``previous_plan`` (yesterday's) keeps its
    assignment unless re-planning saves more than the stability threshold, and its pins.
    With ``Idempotency-Key``, a retry answers the first request's job."""
    visible_network(who, network)
    network_row(session, network)
    request = {"network": network, **body.model_dump(mode="json")}
    earlier = idempotent_job(session, who, idempotency_key, request)
    if earlier is not None:
        response.headers["Location"] = f"/jobs/{earlier.id}"
        return job_public(earlier)
    count = session.scalar(
        select(func.count())
        .select_from(OrderRow)
        .where(OrderRow.network == network, OrderRow.date == body.date)
    )
    if not count:
        raise Problem(422, f"no orders imported for {network} on {body.date}", field="date")
    pins, previous = _pins(session, ctx, network, body)
    params: dict[str, object] = {"time_limit_s": time_limit(ctx, body.time_limit_s)}
    if body.solution_limit is not None:
        params["solution_limit"] = body.solution_limit
    if pins:
        params["pins"] = pins
    if previous is not None:
        params["previous_plan"] = previous
    if idempotency_key is not None:
        params["request"] = request_digest(request)
    job = new_job(
        ctx, who, JobKind.PLAN, network, body.date, params, idempotency_key=idempotency_key
    )
    response.headers["Location"] = f"/jobs/{job.id}"
    return job_public(job)


def job_row(session: DbSession, job_id: str, who: Principal) -> Job:
    """A job of a network the key sees, else 404."""
    job = session.get(Job, job_id)
    if job is None or not all(who.sees(n) for n in job_networks(job)):
        raise Problem(404, f"no job {job_id!r}", field="job_id")
    return job


JobId = Annotated[str, PathParam(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


@router.get("/jobs/{job_id}", response_model=JobPublic)
def read_job(
    job_id: JobId,
    session: DbSession,
    who: StaffKey,
    wait: Annotated[
        float,
        Query(ge=0, le=60, description="Wait up to this many seconds for the job to end"),
    ] = 0,
) -> JobPublic:
    """A job; with ``wait``, answers when the job has ended (or the wait is over), so a
    client need not poll."""
    job = job_row(session, job_id, who)
    deadline = time.monotonic() + wait
    while job.status in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)  # the job runs in another process: its row is all there is to watch
        session.expire_all()
        job = job_row(session, job_id, who)
    return job_public(job)


def _summary(row: PlanRow) -> PlanSummary:
    return PlanSummary(
        id=row.id,
        network=row.network,
        date=row.date,
        status=row.status,
        revision=row.revision,
        parent=row.parent,
        created_at=row.created_at,
        published_at=row.published_at,
        kpis=json.loads(row.kpis),
    )


def _plan_row(session: DbSession, plan_id: int, who: Principal) -> PlanRow:
    """A plan of a network the key sees, else 404 (as if there were none)."""
    return visible_plan(who, session.get(PlanRow, plan_id), plan_id)


@router.get("/plans", response_model=list[PlanSummary])
def list_plans(
    request: Request,
    response: Response,
    session: DbSession,
    who: StaffKey,
    network: Annotated[str | None, Query(max_length=100)] = None,
    date: Annotated[DateText | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 1000,
) -> list[PlanSummary]:
    """Plans of the networks this key sees, oldest first; paged (``Link: rel="next"``)."""
    stmt = select(PlanRow)
    if network:
        stmt = stmt.where(PlanRow.network == network)
    if who.scope is not None:
        stmt = stmt.where(PlanRow.network.in_(sorted(who.scope)))
    if date:
        stmt = stmt.where(PlanRow.date == date)
    rows, after = page_of(session, stmt, PlanRow.id, cursor, limit)
    set_next(request, response, after)
    return [_summary(r) for r in rows]


@router.get("/plans/{plan_id}", response_model=PlanPublic)
def read_plan(plan_id: PlanId, session: DbSession, who: StaffKey) -> PlanPublic:
    """The plan (plan.json), its KPIs and its deferred orders with reasons."""
    row = _plan_row(session, plan_id, who)
    return PlanPublic(
        **_summary(row).model_dump(),
        network_version=row.network_version,
        plan=json.loads(row.document),
    )


@router.post("/plans/{plan_id}/edits", response_model=PlanSummary)
def edit_plan(
    plan_id: PlanId, body: PlanEdit, session: DbSession, ctx: Ctx, who: StaffKey
) -> PlanSummary:
    """Move a stop or pin a village to a route. The edited plan must pass the independent
    checker (``routing.check``), else 422 with its violations; drafts only (repair a
    published plan instead)."""
    row = _plan_row(session, plan_id, who)
    if row.status != "draft":
        raise Problem(
            409, f"plan {plan_id} is {row.status}; only drafts are edited", field="plan_id"
        )
    if body.revision is not None and body.revision != row.revision:
        raise Problem(409, f"plan {plan_id} is at revision {row.revision}", field="revision")
    current = plan_of(row)
    day = plan_day_input(session, ctx.scenarios, row, current)
    plan, _report = apply_edit(current, day, body.edit)
    res = session.execute(
        update(PlanRow)
        .where(PlanRow.id == plan_id, PlanRow.revision == row.revision, PlanRow.status == "draft")
        .values(
            document=plan_document(plan),
            kpis=json.dumps(kpis_of(plan, day)),
            revision=row.revision + 1,
        )
    )
    if not getattr(res, "rowcount", 0):
        raise Problem(409, "the plan changed meanwhile; read it again", field="revision")
    audit(
        session,
        who,
        "plan.edit",
        f"plan/{plan_id}",
        {"revision": row.revision + 1, **body.edit.model_dump()},
        network=row.network,
    )
    announce(session, f"plan {plan_id}")
    session.commit()
    ctx.bus.changed()
    session.refresh(row)
    return _summary(row)


@router.post("/plans/{plan_id}/publish", response_model=PlanSummary)
def publish_plan(plan_id: PlanId, session: DbSession, ctx: Ctx, who: DispatchKey) -> PlanSummary:
    """Make the plan the one couriers see for its day (the previous one is superseded)."""
    row = _plan_row(session, plan_id, who)
    if row.status == "published":
        return _summary(row)
    if row.status == "superseded":
        raise Problem(409, f"plan {plan_id} was superseded", field="plan_id")
    session.execute(
        update(PlanRow)
        .where(
            PlanRow.network == row.network, PlanRow.date == row.date, PlanRow.status == "published"
        )
        .values(status="superseded")
    )
    row.status = "published"
    row.published_at = now_iso()
    audit(
        session,
        who,
        "plan.publish",
        f"plan/{plan_id}",
        {"network": row.network, "date": row.date, "revision": row.revision},
        network=row.network,
    )
    publish_feed(
        session,
        row.network,
        "plan.published",
        {"plan": row.id, "date": row.date, "revision": row.revision},
    )
    announce(session, f"plans {row.network} {row.date}")
    session.commit()
    ctx.bus.changed()
    # the morning's first fetches then read stored documents instead of rendering them
    prerender_in_background(ctx, row.id)
    return _summary(row)


def check_repair_event(event: object, n: int, sc: Scenario) -> None:
    """422 naming the field for an event the network cannot have: an unknown vehicle, road or
    site, a delay over a day, an urgent pickup no vehicle could carry."""
    from routing.repair import RoadClosed, TrunkLate, UrgentPickup, VehicleDown

    field = f"events.{n}"
    if isinstance(event, VehicleDown | TrunkLate):
        if event.vehicle not in {v.id for v in sc.fleet}:
            raise Problem(422, f"event {n}: no vehicle {event.vehicle!r}", field=f"{field}.vehicle")
        if isinstance(event, TrunkLate) and event.delay_s > 86_400:
            raise Problem(422, f"event {n}: a delay is at most a day", field=f"{field}.delay_min")
    elif isinstance(event, RoadClosed):
        if event.road not in {r.id for r in sc.network.roads}:
            raise Problem(422, f"event {n}: no road {event.road!r}", field=f"{field}.road")
    elif isinstance(event, UrgentPickup):
        o = event.order
        if o.site not in sc.network.index:
            raise Problem(422, f"event {n}: no site {o.site!r}", field=f"{field}.order.site")
        limits = {"weight_kg": 50_000.0, "volume_m3": 500.0, "parcels": 100_000.0}
        for name, high in limits.items():
            value = float(getattr(o, name))
            if not math.isfinite(value) or value > high:
                raise Problem(
                    422, f"event {n}: {name} is at most {high:g}", field=f"{field}.order.{name}"
                )
        if abs(o.priority) > 1_000_000:
            raise Problem(
                422, f"event {n}: priority is out of range", field=f"{field}.order.priority"
            )
        for name, longest in (("id", 100), ("carrier", 40), ("sector", 40), ("lot", 100)):
            text = str(getattr(o, name))
            if len(text) > longest or "\x00" in text or (name == "id" and "/" in text):
                raise Problem(
                    422,
                    f"event {n}: {name} must be at most {longest} characters, no '/' or NUL",
                    field=f"{field}.order.{name}",
                )


def _clock_or_zero(text: str) -> int:
    try:
        return parse_clock(text)
    except ValueError:
        return 0


@router.post("/plans/{plan_id}/repair", status_code=202, response_model=JobPublic)
def repair_plan(
    plan_id: PlanId,
    body: RepairCreate,
    response: Response,
    session: DbSession,
    ctx: Ctx,
    who: DispatchKey,
    idempotency_key: IdempotencyKey = None,
) -> JobPublic:
    """Re-plan the unfinished part of a plan after disruptions (``routing.repair.replan``);
    answers 202 with the job; its result is a new draft plan whose parent is this one.
    Events naming a vehicle, road or site the plan's network does not have are refused
    here (422 naming the field), not left to fail in the job. With ``Idempotency-Key``, a
    retry answers the first request's job."""
    row = _plan_row(session, plan_id, who)
    request = {"plan": plan_id, **body.model_dump(mode="json")}
    earlier = idempotent_job(session, who, idempotency_key, request)
    if earlier is not None:
        response.headers["Location"] = f"/jobs/{earlier.id}"
        return job_public(earlier)
    if repair_function() is None:
        raise Problem(
            501,
            "repair is not available yet: the core function routing.repair.replan is missing",
            code="not-implemented",
        )
    from routing.repair import parse_event

    at_texts = [str(e["at"]) for e in body.events if isinstance(e.get("at"), str)]
    sc = ctx.scenarios.get(network_row(session, row.network))
    for n, raw in enumerate(body.events):
        try:
            event = parse_event({k: v for k, v in raw.items() if k != "at"}, f"event {n}")
        except InvalidScenario as exc:
            raise Problem(422, str(exc), field=f"events.{n}.{exc.field}".rstrip(".")) from None
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise Problem(422, f"event {n}: {exc}", field=f"events.{n}") from None
        check_repair_event(event, n, sc)
    at = body.at or (max(at_texts, key=_clock_or_zero) if at_texts else None)
    if at is None:
        tz = zoneinfo.ZoneInfo(ctx.settings.timezone)
        at_s = max(0, local_seconds(dt.datetime.now(tz), row.date, ctx.settings.timezone))
    else:
        try:
            at_s = parse_clock(at)
        except ValueError as exc:
            raise Problem(422, str(exc), field="at") from None
    params: dict[str, object] = {
        "plan": plan_id,
        "events": body.events,
        "at_s": at_s,
        "time_limit_s": time_limit(ctx, body.time_limit_s),
    }
    if idempotency_key is not None:
        params["request"] = request_digest(request)
    job = new_job(
        ctx, who, JobKind.REPAIR, row.network, row.date, params, idempotency_key=idempotency_key
    )
    with ctx.sessions() as s:
        audit(
            s,
            who,
            "plan.repair",
            f"plan/{plan_id}",
            {"job": job.id, "events": body.events},
            network=row.network,
        )
        s.commit()
    response.headers["Location"] = f"/jobs/{job.id}"
    return job_public(job)


@router.get("/plans/{plan_id}/progress", response_model=PlanProgress)
def plan_progress(plan_id: PlanId, session: DbSession, ctx: Ctx, who: StaffKey) -> PlanProgress:
    """Per route: stops done and left, parcels delivered and collected, late stops."""
    row = _plan_row(session, plan_id, who)
    day = day_input(session, ctx.scenarios, row.network, row.date)
    events = [
        {
            "plan": e.plan,
            "stop": e.stop,
            "vehicle": e.vehicle,
            "site": e.site,
            "type": e.type,
            "at": e.at,
            "at_s": e.at_s,
            "orders": e.orders,
        }
        for e in session.scalars(
            select(Event).where(Event.network == row.network, Event.date == row.date)
        )
    ]
    couriers = {
        c.vehicle: c.id
        for c in session.scalars(select(Courier).where(Courier.network == row.network))
        if c.vehicle
    }
    tz = zoneinfo.ZoneInfo(ctx.settings.timezone)
    seconds = local_seconds(dt.datetime.now(tz), row.date, ctx.settings.timezone)
    now_s = seconds if seconds >= 0 else None
    routes = route_progress(
        plan_id,
        plan_of(row),
        {o.id: o for o in day.orders},
        events,
        couriers,
        now_s=now_s,
        grace_s=ctx.settings.late_grace_s,
    )
    return PlanProgress(plan=plan_id, date=row.date, routes=[RouteProgress(**r) for r in routes])


@router.get("/audit", response_model=list[AuditPublic], tags=["audit"])
def read_audit(
    request: Request,
    response: Response,
    session: DbSession,
    who: DispatchKey,
    target: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> list[AuditPublic]:
    """Who imported, edited, published, repaired — newest first; paged (``Link:
    rel="next"``). A key limited to networks reads only their lines."""
    stmt = select(Audit)
    if target:
        stmt = stmt.where(Audit.target == target)
    if who.scope is not None:
        stmt = stmt.where(Audit.network.in_(sorted(who.scope)))
    rows, after = page_of(session, stmt, Audit.id, cursor, limit, descending=True)
    set_next(request, response, after)
    return [
        AuditPublic(
            id=a.id,
            at=a.at,
            actor=a.actor,
            role=a.role,
            action=a.action,
            target=a.target,
            detail=json.loads(a.detail),
        )
        for a in rows
    ]
