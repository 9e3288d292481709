"""Outgoing webhooks (admins and dispatchers, on the networks their key sees): the live feed
of a network POSTed to another system, signed and retried (:mod:`dispatch_api.webhooks`)."""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import func, select

from dispatch_api.db import FeedItem, Webhook, now_iso
from dispatch_api.deps import DbSession, DispatchKey, visible_network
from dispatch_api.pages import Cursor, Limit, page_of, set_next
from dispatch_api.problems import Problem
from dispatch_api.schemas import Ident, _In
from dispatch_api.store import audit, network_row

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

FeedKind = Literal["plan.published", "stop.event", "job"]
WebhookId = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="A webhook's id")]


class WebhookCreate(_In):
    network: Ident
    url: Annotated[
        str, StringConstraints(min_length=10, max_length=500, pattern=r"^https?://[^\s\x00]+$")
    ]
    """Where to POST (http or https)."""
    kinds: Annotated[list[FeedKind], Field(min_length=1, max_length=3)] | None = None
    """The feed kinds to send (default: all)."""


class WebhookPublic(BaseModel):
    id: int
    network: str
    url: str
    kinds: list[str] | None
    cursor: int
    """The last feed item delivered."""
    failures: int
    next_at: str | None
    last_error: str | None
    active: bool
    created_by: str
    created_at: str


class WebhookCreated(WebhookPublic):
    secret: str
    """The signing secret; shown once."""


def _public(row: Webhook) -> WebhookPublic:
    return WebhookPublic(
        id=row.id,
        network=row.network,
        url=row.url,
        kinds=json.loads(row.kinds) if row.kinds else None,
        cursor=row.cursor,
        failures=row.failures,
        next_at=row.next_at,
        last_error=row.last_error,
        active=row.active,
        created_by=row.created_by,
        created_at=row.created_at,
    )


@router.post("", status_code=201, response_model=WebhookCreated)
def create_webhook(body: WebhookCreate, session: DbSession, who: DispatchKey) -> WebhookCreated:
    """Send a network's feed items from now on to ``url``, signed with the returned secret."""
    visible_network(who, body.network)
    network_row(session, body.network)
    latest = session.scalar(select(func.max(FeedItem.seq)).where(FeedItem.network == body.network))
    row = Webhook(
        network=body.network,
        url=body.url,
        secret="whsec_" + secrets.token_urlsafe(24),
        kinds=json.dumps(body.kinds) if body.kinds else None,
        cursor=latest or 0,
        failures=0,
        active=True,
        created_by=who.name,
        created_at=now_iso(),
    )
    session.add(row)
    session.flush()
    audit(
        session, who, "webhook.create", f"webhook/{row.id}", {"url": body.url}, network=body.network
    )
    session.commit()
    return WebhookCreated(**_public(row).model_dump(), secret=row.secret)


@router.get("", response_model=list[WebhookPublic])
def list_webhooks(
    request: Request,
    response: Response,
    session: DbSession,
    who: DispatchKey,
    cursor: Cursor = None,
    limit: Limit = 1000,
) -> list[WebhookPublic]:
    """Webhooks of the networks this key sees, with their delivery state."""
    stmt = select(Webhook)
    if who.scope is not None:
        stmt = stmt.where(Webhook.network.in_(sorted(who.scope)))
    rows, after = page_of(session, stmt, Webhook.id, cursor, limit)
    set_next(request, response, after)
    return [_public(r) for r in rows]


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: WebhookId, session: DbSession, who: DispatchKey) -> None:
    row = session.get(Webhook, webhook_id)
    if row is None or not who.sees(row.network):
        raise Problem(404, f"no webhook {webhook_id}", field="webhook_id")
    network = row.network
    session.delete(row)
    audit(session, who, "webhook.delete", f"webhook/{webhook_id}", network=network)
    session.commit()
