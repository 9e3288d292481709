"""API keys (admins only). The first admin key comes from ``countyroute apikey create``.

Keys may expire (``expires_in_days``), are rotated (``POST /keys/{id}/rotate``: a new key
with the same name, role and scope; the old one stops at once or after a grace period), show
when they were last used, and the last working admin key cannot be revoked (nobody could
administer the server any more).
"""

from __future__ import annotations

import datetime as dt
import json

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from dispatch_api.cachebus import announce
from dispatch_api.db import ApiKey, Courier
from dispatch_api.deps import AdminKey, Ctx, DbSession
from dispatch_api.pages import Cursor, Limit, page_of, set_next
from dispatch_api.problems import Problem
from dispatch_api.schemas import KeyCreate, KeyCreated, KeyId, KeyPublic, KeyRotate
from dispatch_api.security import Role, active_admins, create_key, expiry_of
from dispatch_api.store import audit

router = APIRouter(prefix="/keys", tags=["keys"])


def _public(row: ApiKey) -> KeyPublic:
    return KeyPublic(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        network=row.network,
        courier=row.courier,
        networks=None if row.networks is None else json.loads(row.networks),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked=row.revoked,
        replaced_by=row.replaced_by,
    )


@router.post("", status_code=201, response_model=KeyCreated)
def create_api_key(body: KeyCreate, session: DbSession, ctx: Ctx, who: AdminKey) -> KeyCreated:
    """Create a key. A courier key names the network and courier it belongs to; a dispatcher
    or planner key may be limited to ``networks``; admin keys see every network."""
    networks: list[str] | None = body.networks
    network = body.network
    if body.role is Role.COURIER:
        if body.network is None or body.courier is None:
            raise Problem(422, "a courier key needs network and courier", field="courier")
        if body.networks is not None:
            raise Problem(422, "a courier key belongs to its one network", field="networks")
        if session.get(Courier, (body.network, body.courier)) is None:
            raise Problem(422, f"no courier {body.courier!r} in {body.network!r}", field="courier")
    else:
        if body.courier is not None:
            raise Problem(422, "only courier keys name a courier", field="courier")
        if body.role is Role.ADMIN and (body.network or body.networks):
            raise Problem(422, "admin keys see every network; scope a dispatcher", field="networks")
        if body.network is not None:
            networks = sorted({*(networks or []), body.network})
            network = None
    row, plain = create_key(
        session,
        body.name,
        body.role,
        pepper=ctx.pepper,
        network=network,
        courier=body.courier,
        networks=networks,
        expires_at=expiry_of(body.expires_in_days),
    )
    audit(
        session,
        who,
        "key.create",
        f"key/{row.id}",
        {"role": body.role.value, "name": body.name, "networks": networks},
    )
    session.commit()
    return KeyCreated(**_public(row).model_dump(), key=plain)


@router.get("", response_model=list[KeyPublic])
def list_api_keys(
    request: Request,
    response: Response,
    session: DbSession,
    _: AdminKey,
    cursor: Cursor = None,
    limit: Limit = 1000,
) -> list[KeyPublic]:
    """Every key (never the key itself), oldest first; paged (``Link: rel="next"``)."""
    rows, after = page_of(session, select(ApiKey), ApiKey.id, cursor, limit)
    set_next(request, response, after)
    return [_public(r) for r in rows]


def _key_row(session: DbSession, key_id: int) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise Problem(404, f"no key {key_id}", field="key_id")
    return row


@router.delete("/{key_id}", status_code=204)
def revoke_api_key(key_id: KeyId, session: DbSession, who: AdminKey, ctx: Ctx) -> None:
    """Revoke a key. The last working admin key cannot be revoked (409)."""
    row = _key_row(session, key_id)
    if row.role == Role.ADMIN.value and not row.revoked:
        others = [k for k in active_admins(session) if k.id != row.id]
        if not others:
            raise Problem(
                409,
                "this is the last working admin key; create another admin key first",
                field="key_id",
            )
    row.revoked = True
    audit(session, who, "key.revoke", f"key/{key_id}")
    announce(session, "keys")
    session.commit()
    ctx.bus.changed()


@router.post("/{key_id}/rotate", status_code=201, response_model=KeyCreated)
def rotate_api_key(
    key_id: KeyId, body: KeyRotate, session: DbSession, who: AdminKey, ctx: Ctx
) -> KeyCreated:
    """A new key with the same name, role and scope; the old key stops working at once (or
    after ``grace_s``) and points to its replacement."""
    row = _key_row(session, key_id)
    if row.revoked:
        raise Problem(409, f"key {key_id} is revoked", field="key_id")
    expires = expiry_of(body.expires_in_days) if body.expires_in_days else row.expires_at
    new, plain = create_key(
        session,
        row.name,
        Role(row.role),
        pepper=ctx.pepper,
        network=row.network,
        courier=row.courier,
        networks=None if row.networks is None else json.loads(row.networks),
        expires_at=expires,
    )
    row.replaced_by = new.id
    if body.grace_s:
        end = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=body.grace_s)
        row.expires_at = min(row.expires_at or "9999", end.isoformat(timespec="microseconds"))
    else:
        row.revoked = True
    audit(session, who, "key.rotate", f"key/{key_id}", {"new": new.id})
    announce(session, "keys")
    session.commit()
    ctx.bus.changed()
    return KeyCreated(**_public(new).model_dump(), key=plain)
