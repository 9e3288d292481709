"""Traceability: a lot's transport chain — site, vehicle, courier, time — from the planned
hand-overs of the published (else newest) plan and every event recorded on its orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select

from dispatch_api.db import Courier, Event, OrderRow, PlanRow
from dispatch_api.deps import Ctx, DbSession, StaffKey
from dispatch_api.problems import Problem
from dispatch_api.schemas import TraceLeg, TraceOrder, TracePublic
from dispatch_api.store import network_row, order_from_row, plan_of
from dispatch_api.views import order_legs
from networks import format_clock

router = APIRouter(tags=["trace"])


@router.get("/trace/{lot}", response_model=TracePublic)
def trace_lot(
    lot: Annotated[str, Path(min_length=1, max_length=100)],
    session: DbSession,
    ctx: Ctx,
    who: StaffKey,
) -> TracePublic:
    """A lot's chain in the networks this key sees."""
    stmt = select(OrderRow).where(OrderRow.lot == lot).order_by(OrderRow.id)
    if who.scope is not None:
        stmt = stmt.where(OrderRow.network.in_(sorted(who.scope)))
    rows = list(session.scalars(stmt.limit(1000)))
    if not rows:
        raise Problem(404, f"no order carries lot {lot!r}", field="lot")
    out = []
    for r in rows:
        order = order_from_row(r)
        plans = list(
            session.scalars(
                select(PlanRow)
                .where(PlanRow.network == r.network, PlanRow.date == r.date)
                .order_by(PlanRow.id.desc())
            )
        )
        chosen = next((p for p in plans if p.status == "published"), plans[0] if plans else None)
        events = [
            {
                "id": e.id,
                "type": e.type,
                "at": e.at,
                "site": e.site,
                "vehicle": e.vehicle,
                "courier": e.courier,
                "reason": e.reason,
            }
            for e in session.scalars(
                select(Event)
                .where(
                    Event.network == r.network,
                    Event.date == r.date,
                    Event.orders.contains(f'"{r.id}"'),
                )
                .order_by(Event.at_s)
            )
        ]
        couriers = {
            c.vehicle: c.name
            for c in session.scalars(select(Courier).where(Courier.network == r.network))
            if c.vehicle
        }
        legs: list[TraceLeg] = []
        deferred = None
        if chosen is not None:
            sc = ctx.scenarios.get(network_row(session, r.network))
            plan = plan_of(chosen)
            for step, route, i in order_legs(plan, order):
                stop = route.stops[i]
                site = sc.network.site(stop.site) if stop.site in sc.network.index else None
                legs.append(
                    TraceLeg(
                        step=step,
                        site=stop.site,
                        site_name=site.name if site else stop.site,
                        vehicle=route.vehicle,
                        courier=couriers.get(route.vehicle),
                        planned=format_clock(stop.start_s),
                        events=[
                            e
                            for e in events
                            if e["vehicle"] == route.vehicle and e["site"] == stop.site
                        ],
                    )
                )
            d = next((d for d in plan.deferred if d.order == r.id), None)
            if d is not None:
                deferred = {"reason": d.reason.value, "until": d.until, "waits_at": d.waits_at}
        seen = {e["id"] for leg in legs for e in leg.events}
        for e in events:  # scans away from the planned hand-overs are part of the chain too
            if e["id"] not in seen:
                legs.append(
                    TraceLeg(
                        step=f"{e['type']} at {e['site']}",
                        site=e["site"],
                        site_name=e["site"],
                        vehicle=e["vehicle"],
                        courier=couriers.get(e["vehicle"]),
                        planned=None,
                        events=[e],
                    )
                )
        out.append(
            TraceOrder(
                order=r.id,
                network=r.network,
                date=r.date,
                direction=r.direction,
                carrier=r.carrier,
                site=r.site,
                plan=chosen.id if chosen else None,
                legs=legs,
                deferred=deferred,
            )
        )
    return TracePublic(lot=lot, orders=out)
