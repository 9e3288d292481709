"""Orders: bulk import of a day's carrier manifests (CSV or JSON), all or nothing, idempotent
on order id; and reading them back."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func, insert, select, update
from starlette.concurrency import run_in_threadpool

from dispatch_api.db import OrderRow
from dispatch_api.deps import Ctx, DbSession, StaffKey, visible_network
from dispatch_api.pages import Cursor, page_of, set_next
from dispatch_api.problems import Problem, invalid_scenario_problem
from dispatch_api.schemas import DateText, NetworkName, OrderImported, OrderPage, OrderPublic
from dispatch_api.store import audit, bump_orders, chunked, network_row, order_to_row
from networks import InvalidScenario
from routing.model import Order
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
    "mandatory",
)
_KNOWN = ("id", *_FIELDS)
_TEXT = {"id": 100, "carrier": 40, "direction": 4, "site": 100, "sector": 40, "lot": 100}
"""Text fields and their longest value (the database's column lengths)."""
_FLAGS = ("bulky", "mandatory")
_NUMBERS = ("weight_kg", "volume_m3", "parcels", "priority")
_NAMEABLE = re.compile(r"^[^\s/?#%\\\x00-\x1f\x7f]*$")
"""Order ids and lots are named in URLs (``/trace/{lot}``): no spaces, '/', '?', '#' …"""
_BOUNDS: dict[str, tuple[float, float]] = {
    "weight_kg": (0, 50_000),
    "volume_m3": (0, 500),
    "parcels": (1, 100_000),
    "priority": (-1_000_000, 1_000_000),
}
"""What one order can be: at most a 50 t, 500 m³ consignment of 100,000 parcels."""


def _check_columns(text: str, kind: str) -> None:
    """Unknown CSV columns or JSON keys are refused, naming the first (never dropped
    silently); JSON values must be text, numbers or booleans of the right kind."""
    if kind == "text/csv":
        header = next(csv.reader(io.StringIO(text)), [])
        for name in header:
            if name.strip() not in _KNOWN:
                raise Problem(
                    422,
                    f"orders.csv has a column {name!r} that is not an order field "
                    f"(fields: {', '.join(_KNOWN)}); remove it or rename it",
                    field=f"orders.csv column {name}",
                    code="invalid-input",
                )
        return
    try:
        items = json.loads(text)
    except ValueError:
        return  # the core's loader reports the line
    if not isinstance(items, list):
        return
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            if key not in _KNOWN:
                raise Problem(
                    422,
                    f"item {n}: {key!r} is not an order field (fields: {', '.join(_KNOWN)})",
                    field=f"body[{n}].{key}",
                    code="invalid-input",
                )
            ok = (
                value is None
                or (key in _FLAGS and isinstance(value, bool | str))
                or (
                    key in _NUMBERS
                    and isinstance(value, int | float | str)
                    and not isinstance(value, bool)
                )
                or (key in _TEXT and isinstance(value, str))
            )
            if not ok:
                want = "a boolean" if key in _FLAGS else "a number" if key in _NUMBERS else "text"
                raise Problem(
                    422,
                    f"item {n}: {key} must be {want}, not {type(value).__name__}",
                    field=f"body[{n}].{key}",
                    code="invalid-input",
                )


def _check_values(orders: Sequence[Order], kind: str) -> None:
    """Values the core accepts but nothing downstream can hold: lengths, URL-unsafe ids,
    magnitudes (a 1e308 kg order, 2^63 parcels)."""
    for n, o in enumerate(orders):
        where = f"orders.csv row {n + 1}" if kind == "text/csv" else f"body[{n}]"
        row = order_to_row("", "", o)
        for name, longest in _TEXT.items():
            value = str(row[name])
            if len(value) > longest:
                raise Problem(
                    422,
                    f"{where}: {name} is {len(value)} characters (at most {longest})",
                    field=f"{where} {name}" if kind == "text/csv" else f"{where}.{name}",
                    code="invalid-input",
                )
            if "\x00" in value or (name in ("id", "lot") and not _NAMEABLE.match(value)):
                raise Problem(
                    422,
                    f"{where}: {name} {value!r} cannot be named in a URL (no spaces, '/', "
                    "'?', '#', '%', control characters)",
                    field=f"{where} {name}" if kind == "text/csv" else f"{where}.{name}",
                    code="invalid-input",
                )
        for name, (low, high) in _BOUNDS.items():
            value = row[name]
            if not (math.isfinite(value) and low <= value <= high):
                raise Problem(
                    422,
                    f"{where}: {name} must be between {low:g} and {high:g}, got {value:g}",
                    field=f"{where} {name}" if kind == "text/csv" else f"{where}.{name}",
                    code="invalid-input",
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
    network: NetworkName,
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
    visible_network(who, network)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("text/csv", "application/json"):
        raise Problem(415, "send text/csv or application/json", field="content-type")
    body = await request.body()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "the body is not UTF-8 text", field="body") from None
    suffix = ".json" if kind == "application/json" else ".csv"
    if "\x00" in text:
        raise Problem(422, "the body contains a NUL character", field="body")
    _check_columns(text, kind)

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
            _check_values(orders, kind)
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
            if new or changed:
                bump_orders(session, network, date)
            audit(
                session,
                who,
                "orders.import",
                f"network/{network}/orders/{date}",
                {"rows": len(orders), "created": len(new), "updated": len(changed)},
                network=network,
            )
            session.commit()
            if new or changed:
                ctx.bus.changed()
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
    network: NetworkName,
    request: Request,
    response: Response,
    session: DbSession,
    who: StaffKey,
    date: Annotated[DateText, Query()],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    lot: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
) -> OrderPage:
    """A day's orders by id: ``items`` of a page and ``next``, the cursor of the next page
    (also in ``Link: rel="next"``); ``offset`` still works without a cursor."""
    visible_network(who, network)
    network_row(session, network)
    where = [OrderRow.network == network, OrderRow.date == date]
    if lot:
        where.append(OrderRow.lot == lot)
    total = session.scalar(select(func.count()).select_from(OrderRow).where(*where)) or 0
    stmt = select(OrderRow).where(*where)
    if cursor is None and offset:
        stmt = stmt.order_by(OrderRow.id).offset(offset)
    rows, after = page_of(session, stmt, OrderRow.id, cursor, limit)
    set_next(request, response, after)
    return OrderPage(
        total=total,
        items=[OrderPublic(id=r.id, **{f: getattr(r, f) for f in _FIELDS}) for r in rows],
        next=after,
    )
