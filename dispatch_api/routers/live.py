"""Live updates: ``GET /v1/feed`` streams server-sent events (``text/event-stream``).

Events: ``plan.published``, ``stop.event`` and ``job`` (a job ended), each with ``id:`` its
feed sequence number. Staff keys see the networks they may see; courier keys see their own
network's published plans and only their own vehicle's stop events. A client that reconnects
sends ``Last-Event-ID`` (or ``?after=``) and receives what it missed, in order. A stream lasts
``wait_s`` seconds (default 25; the client reconnects, as EventSource does by itself).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import or_, select
from starlette.concurrency import run_in_threadpool

from dispatch_api.db import FeedItem
from dispatch_api.deps import Ctx, RouteReader, visible_network
from dispatch_api.events import courier_vehicle
from dispatch_api.problems import Problem
from dispatch_api.security import Principal, Role

router = APIRouter(tags=["live"])

_POLL_S = 0.5
_PING_S = 15.0


def _read(ctx: Ctx, who: Principal, network: str | None, after: int) -> list[FeedItem]:
    with ctx.sessions() as s:
        stmt = select(FeedItem).where(FeedItem.seq > after)
        if network is not None:
            stmt = stmt.where(FeedItem.network == network)
        if who.scope is not None:
            stmt = stmt.where(FeedItem.network.in_(sorted(who.scope)))
        if who.role is Role.COURIER:
            own = courier_vehicle(s, who)
            stmt = stmt.where(or_(FeedItem.kind == "plan.published", FeedItem.vehicle == own))
        return list(s.scalars(stmt.order_by(FeedItem.seq).limit(500)))


def _frame(item: FeedItem) -> bytes:
    data: dict[str, Any] = {"network": item.network, "at": item.at, **json.loads(item.payload)}
    if item.vehicle is not None:
        data["vehicle"] = item.vehicle
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {item.seq}\nevent: {item.kind}\ndata: {text}\n\n".encode()


@router.get(
    "/feed",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A stream of server-sent events",
            "content": {
                "text/event-stream": {
                    "schema": {
                        "type": "object",
                        "description": "One event; ``data`` is a JSON object: ``network``, "
                        "``at`` and the kind's fields",
                        "properties": {
                            "id": {"type": "string"},
                            "event": {
                                "type": "string",
                                "enum": ["plan.published", "stop.event", "job"],
                            },
                            "data": {"type": "string"},
                            "retry": {"type": "integer"},
                        },
                    }
                }
            },
        }
    },
)
async def feed(
    ctx: Ctx,
    who: RouteReader,
    network: Annotated[str | None, Query(max_length=100)] = None,
    after: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
    wait_s: Annotated[float, Query(ge=0, le=300)] = 25.0,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=20, pattern=r"^\d*$")
    ] = None,
) -> StreamingResponse:
    """Server-sent events of the networks this key sees (see the module docstring)."""
    if network is not None:
        visible_network(who, network)
    start = after if after is not None else int(last_event_id) if last_event_id else 0
    if start > 2**31 - 1:
        raise Problem(422, "Last-Event-ID is out of range", field="Last-Event-ID")

    async def stream() -> AsyncIterator[bytes]:
        cursor = start
        yield b"retry: 2000\n\n"
        end = time.monotonic() + min(wait_s, ctx.settings.feed_max_wait_s)
        ping = time.monotonic() + _PING_S
        while True:
            items = await run_in_threadpool(_read, ctx, who, network, cursor)
            for item in items:
                cursor = item.seq
                yield _frame(item)
            if len(items) == 500:
                continue
            now = time.monotonic()
            if now >= end:
                return
            if now >= ping:
                ping = now + _PING_S
                yield b": ping\n\n"
            await asyncio.sleep(min(_POLL_S, end - now))

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
