"""Plans: start a solve job (202 + job URL), follow it, read the plan with its KPIs and
deferred orders, edit (checked), publish, repair, and watch progress; the audit log.

Jobs of every kind (plan, repair, and the planner's placement and simulation) are read at
``GET /jobs/{id}``; :func:`new_job` and :func:`job_public` serve every router that starts one.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zoneinfo
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import func, select, update

from dispatch_api.db import Audit, Courier, Event, Job, OrderRow, PlanRow, now_iso
from dispatch_api.deps import Ctx, DbSession, DispatchKey, StaffKey
from dispatch_api.edits import apply_edit, pins_of
from dispatch_api.events import local_seconds
from dispatch_api.jobs import PLANNER_KINDS, job_budget_s, repair_function
from dispatch_api.problems import Problem
from dispatch_api.schemas import (
    AuditPublic,
    DateText,
    JobKind,
    JobPublic,
    JobStatus,
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

router = APIRouter(tags=["plans"])


def job_public(job: Job) -> JobPublic:
    """A job as clients see it (plan, repair and planner jobs alike)."""
    progress = {"queued": 0.0, "succeeded": 1.0, "failed": 1.0}.get(job.status)
    if progress is None and job.kind in PLANNER_KINDS:  # planner jobs report theirs
        progress = round(min(0.99, job.progress or 0.0), 3)
    if progress is None:
        budget = job_budget_s(json.loads(job.params))
        started = dt.datetime.fromisoformat(job.started_at) if job.started_at else None
        elapsed = (dt.datetime.now(dt.UTC) - started).total_seconds() if started else 0.0
        progress = round(min(0.95, 0.05 + 0.9 * elapsed / max(budget, 0.1)), 3)
    done = job.status == "succeeded" and job.result is not None
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
        plan=job.plan,
        plan_url=f"/plans/{job.plan}" if job.plan is not None else None,
        result_url=f"/jobs/{job.id}/result" if done else None,
        created_by=job.created_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def new_job(
    ctx: Ctx, who: Principal, kind: JobKind, network: str, date: str, params: dict[str, object]
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
    )
    with ctx.sessions() as s:
        s.add(job)
        s.commit()
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
    network: str, body: PlanCreate, response: Response, session: DbSession, ctx: Ctx, who: StaffKey
) -> JobPublic:
    """Start planning a day; answers 202 with the job (``Location: /jobs/{id}``).

    ``pins`` tie village points to vehicles; ``previous_plan`` (yesterday's) keeps its
    assignment unless re-planning saves more than the stability threshold, and its pins."""
    network_row(session, network)
    try:
        dt.date.fromisoformat(body.date)
    except ValueError:
        raise Problem(422, f"not a date: {body.date!r}", field="date") from None
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
    job = new_job(ctx, who, JobKind.PLAN, network, body.date, params)
    response.headers["Location"] = f"/jobs/{job.id}"
    return job_public(job)


@router.get("/jobs/{job_id}", response_model=JobPublic)
def read_job(job_id: str, session: DbSession, _: StaffKey) -> JobPublic:
    job = session.get(Job, job_id)
    if job is None:
        raise Problem(404, f"no job {job_id!r}", field="job_id")
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


def _plan_row(session: DbSession, plan_id: int) -> PlanRow:
    row = session.get(PlanRow, plan_id)
    if row is None:
        raise Problem(404, f"no plan {plan_id}", field="plan_id")
    return row


@router.get("/plans", response_model=list[PlanSummary])
def list_plans(
    session: DbSession,
    _: StaffKey,
    network: Annotated[str | None, Query(max_length=100)] = None,
    date: Annotated[DateText | None, Query()] = None,
) -> list[PlanSummary]:
    stmt = select(PlanRow).order_by(PlanRow.id)
    if network:
        stmt = stmt.where(PlanRow.network == network)
    if date:
        stmt = stmt.where(PlanRow.date == date)
    return [_summary(r) for r in session.scalars(stmt)]


@router.get("/plans/{plan_id}", response_model=PlanPublic)
def read_plan(plan_id: PlanId, session: DbSession, _: StaffKey) -> PlanPublic:
    """The plan (plan.json), its KPIs and its deferred orders with reasons."""
    row = _plan_row(session, plan_id)
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
    row = _plan_row(session, plan_id)
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
    )
    session.commit()
    session.refresh(row)
    return _summary(row)


@router.post("/plans/{plan_id}/publish", response_model=PlanSummary)
def publish_plan(plan_id: PlanId, session: DbSession, ctx: Ctx, who: DispatchKey) -> PlanSummary:
    """Make the plan the one couriers see for its day (the previous one is superseded)."""
    row = _plan_row(session, plan_id)
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
    )
    session.commit()
    return _summary(row)


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
) -> JobPublic:
    """Re-plan the unfinished part of a plan after disruptions (``routing.repair.replan``);
    answers 202 with the job; its result is a new draft plan whose parent is this one."""
    row = _plan_row(session, plan_id)
    if repair_function() is None:
        raise Problem(
            501,
            "repair is not available yet: the core function routing.repair.replan is missing",
            code="not-implemented",
        )
    from routing.repair import parse_event

    at_texts = [str(e["at"]) for e in body.events if isinstance(e.get("at"), str)]
    for n, raw in enumerate(body.events):
        try:
            parse_event({k: v for k, v in raw.items() if k != "at"}, f"event {n}")
        except InvalidScenario as exc:
            raise Problem(422, str(exc), field=f"events.{n}.{exc.field}".rstrip(".")) from None
    at = body.at or (max(at_texts, key=_clock_or_zero) if at_texts else None)
    if at is None:
        tz = zoneinfo.ZoneInfo(ctx.settings.timezone)
        at_s = max(0, local_seconds(dt.datetime.now(tz), row.date, ctx.settings.timezone))
    else:
        try:
            at_s = parse_clock(at)
        except ValueError as exc:
            raise Problem(422, str(exc), field="at") from None
    job = new_job(
        ctx,
        who,
        JobKind.REPAIR,
        row.network,
        row.date,
        {
            "plan": plan_id,
            "events": body.events,
            "at_s": at_s,
            "time_limit_s": time_limit(ctx, body.time_limit_s),
        },
    )
    with ctx.sessions() as s:
        audit(s, who, "plan.repair", f"plan/{plan_id}", {"job": job.id, "events": body.events})
        s.commit()
    response.headers["Location"] = f"/jobs/{job.id}"
    return job_public(job)


@router.get("/plans/{plan_id}/progress", response_model=PlanProgress)
def plan_progress(plan_id: PlanId, session: DbSession, ctx: Ctx, _: StaffKey) -> PlanProgress:
    """Per route: stops done and left, parcels delivered and collected, late stops."""
    row = _plan_row(session, plan_id)
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
    session: DbSession,
    _: DispatchKey,
    target: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditPublic]:
    """Who imported, edited, published, repaired — newest first."""
    stmt = select(Audit).order_by(Audit.id.desc()).limit(limit)
    if target:
        stmt = stmt.where(Audit.target == target)
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
        for a in session.scalars(stmt)
    ]
