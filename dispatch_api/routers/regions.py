"""Region jobs: several networks (a prefecture's counties) planned for one day in one job.

``POST /region-jobs`` starts a ``region`` job (202 + ``Location: /jobs/{id}``, like a plan
job); ``GET /jobs/{id}`` shows each network's state as the job goes (``counties``: queued,
running, planned or failed, with its plan and figures), and ``GET /jobs/{id}/result`` the
same list once every network is planned. Each network's plan is an ordinary draft plan of
that network (``GET /plans/{id}``), checked by the independent checker.

A key sees and starts region jobs only over networks it sees: a network outside its scope
answers 404 as if it did not exist, and so does a region job touching one.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Response
from sqlalchemy import func, select

from dispatch_api.db import OrderRow
from dispatch_api.deps import Ctx, DbSession, StaffKey, visible_network
from dispatch_api.problems import Problem
from dispatch_api.routers.plans import (
    IdempotencyKey,
    idempotent_job,
    job_public,
    new_job,
    request_digest,
    time_limit,
)
from dispatch_api.schemas import JobKind, JobPublic, RegionJobCreate
from dispatch_api.store import audit, network_row

router = APIRouter(tags=["plans"])

SETUP_S = 5.0
"""Reading, checking and writing one network's day, besides its solver budget."""


@router.post("/region-jobs", status_code=202, response_model=JobPublic)
def start_region_job(
    body: RegionJobCreate,
    response: Response,
    session: DbSession,
    ctx: Ctx,
    who: StaffKey,
    idempotency_key: IdempotencyKey = None,
) -> JobPublic:
    """Plan a day of several networks; answers 202 with the job (``Location: /jobs/{id}``),
    whose ``counties`` list every network's state and, once planned, its plan.

    Every network must be one this key sees (else 404) with orders imported for the date
    (else 422 naming ``networks[i]``). A network that fails while planning is reported in
    the job and the others are planned; the job then ends ``failed`` and lists which."""
    seen: set[str] = set()
    for k, network in enumerate(body.networks):
        if network in seen:
            raise Problem(422, f"{network} is named twice", field=f"networks[{k}]")
        seen.add(network)
        visible_network(who, network)
        network_row(session, network)
    request = body.model_dump(mode="json")
    earlier = idempotent_job(session, who, idempotency_key, request)
    if earlier is not None:
        response.headers["Location"] = f"/jobs/{earlier.id}"
        return job_public(earlier)
    for k, network in enumerate(body.networks):
        count = session.scalar(
            select(func.count())
            .select_from(OrderRow)
            .where(OrderRow.network == network, OrderRow.date == body.date)
        )
        if not count:
            raise Problem(
                422, f"no orders imported for {network} on {body.date}", field=f"networks[{k}]"
            )
    limit = time_limit(ctx, body.time_limit_s)
    workers = min(body.workers, ctx.settings.planner_max_workers)
    rounds = math.ceil(len(body.networks) / workers)
    budget = round(rounds * (limit + SETUP_S), 1)
    if budget > ctx.settings.max_planner_job_s:
        raise Problem(
            422,
            f"the job could take {budget:.0f} s, over this server's "
            f"{ctx.settings.max_planner_job_s:.0f} s: plan fewer networks, lower "
            "time_limit_s, or use more workers",
            field="networks",
        )
    params: dict[str, object] = {
        "networks": list(body.networks),
        "time_limit_s": limit,
        "workers": workers,
        "budget_s": budget,
    }
    if body.solution_limit is not None:
        params["solution_limit"] = body.solution_limit
    if idempotency_key is not None:
        params["request"] = request_digest(request)
    label = ",".join(body.networks)
    label = label if len(label) <= 100 else label[:99] + "…"
    job = new_job(
        ctx, who, JobKind.REGION, label, body.date, params, idempotency_key=idempotency_key
    )
    with ctx.sessions() as s:
        for network in body.networks:
            audit(s, who, "region.plan", f"job/{job.id}", {"date": body.date}, network=network)
        s.commit()
    response.headers["Location"] = f"/jobs/{job.id}"
    return job_public(job)
