"""Orders: bulk import of a day's carrier manifests (CSV or JSON), all or nothing, idempotent
on order id; and reading them back."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, insert, select, update
from starlette.concurrency import run_in_threadpool

from dispatch_api.db import OrderRow
from dispatch_api.deps import Ctx, DbSession, StaffKey
from dispatch_api.problems import Problem, invalid_scenario_problem
from dispatch_api.schemas import DateText, OrderImported, OrderPage, OrderPublic
from dispatch_api.store import audit, chunked, network_row, order_to_row
from networks import InvalidScenario
from scenarios.bundle import load_orders

router = APIRouter(prefix="/networks/{network}/orders", tags=["orders"])

_FIELDS = (
    "carrier",
    "direction",
    "site",
    "weight_kg",
    "volume_m3",
    "parcels",
    "bulky",
    "priority",
    "sector",
    "lot",
)


@router.post(
    "",
    status_code=200,
    response_model=OrderImported,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            },
        }
    },
)
async def import_orders(
    network: str,
    request: Request,
    ctx: Ctx,
    who: StaffKey,
    date: Annotated[DateText, Query(description="The day the orders are for (YYYY-MM-DD)")],
) -> OrderImported:
    """Import a day's orders (``orders.csv`` columns, or a JSON list of the same objects).

    Validated by the core's loader: the first bad row is reported with its row number and
    field (422) and nothing of the file is imported. Re-importing is idempotent: an order id
    already there with the same content is unchanged, with other content it is updated.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/csv", "application/json"):
        raise Problem(415, "send text/csv or application/json", field="content-type")
    body = await request.body()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "the body is not UTF-8 text", field="body") from None
    suffix = ".json" if kind == "application/json" else ".csv"

    def work() -> OrderImported:
        with ctx.sessions() as session:
            sc = ctx.scenarios.get(network_row(session, network))
            with tempfile.TemporaryDirectory(prefix="countyroute-orders-") as tmp:
                path = Path(tmp) / f"orders{suffix}"
                path.write_text(text, encoding="utf-8")
                try:
                    orders = load_orders(path, sc.network)
                except InvalidScenario as exc:
                    raise invalid_scenario_problem(exc) from None
            existing = {
                r.id: r
                for r in session.scalars(
                    select(OrderRow).where(OrderRow.network == network, OrderRow.date == date)
                )
            }
            new, changed = [], []
            for o in orders:
                row = order_to_row(network, date, o)
                old = existing.get(o.id)
                if old is None:
                    new.append(row)
                elif any(getattr(old, f) != row[f] for f in _FIELDS):
                    changed.append(row)
            for batch in chunked(new, 2000):
                session.execute(insert(OrderRow), batch)
            for row in changed:
                session.execute(
                    update(OrderRow)
                    .where(
                        OrderRow.network == network,
                        OrderRow.date == date,
                        OrderRow.id == row["id"],
                    )
                    .values(**{f: row[f] for f in _FIELDS})
                )
            audit(
                session,
                who,
                "orders.import",
                f"network/{network}/orders/{date}",
                {"rows": len(orders), "created": len(new), "updated": len(changed)},
            )
            session.commit()
            return OrderImported(
                network=network,
                date=date,
                rows=len(orders),
                created=len(new),
                updated=len(changed),
                unchanged=len(orders) - len(new) - len(changed),
            )

    return await run_in_threadpool(work)


@router.get("", response_model=OrderPage)
def list_orders(
    network: str,
    session: DbSession,
    _: StaffKey,
    date: Annotated[DateText, Query()],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    lot: Annotated[str | None, Query(max_length=100)] = None,
) -> OrderPage:
    network_row(session, network)
    where = [OrderRow.network == network, OrderRow.date == date]
    if lot:
        where.append(OrderRow.lot == lot)
    total = session.scalar(select(func.count()).select_from(OrderRow).where(*where)) or 0
    rows = session.scalars(
        select(OrderRow).where(*where).order_by(OrderRow.id).limit(limit).offset(offset)
    )
    return OrderPage(
        total=total,
        items=[OrderPublic(id=r.id, **{f: getattr(r, f) for f in _FIELDS}) for r in rows],
    )
