"""API keys (admins only). The first admin key comes from ``countyroute apikey create``."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from dispatch_api.db import ApiKey, Courier
from dispatch_api.deps import AdminKey, Ctx, DbSession
from dispatch_api.problems import Problem
from dispatch_api.schemas import KeyCreate, KeyCreated, KeyId, KeyPublic
from dispatch_api.security import Role, create_key
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
        created_at=row.created_at,
        revoked=row.revoked,
    )


@router.post("", status_code=201, response_model=KeyCreated)
def create_api_key(body: KeyCreate, session: DbSession, who: AdminKey) -> KeyCreated:
    """Create a key; a courier key names the network and courier it belongs to."""
    if body.role is Role.COURIER:
        if body.network is None or body.courier is None:
            raise Problem(422, "a courier key needs network and courier", field="courier")
        if session.get(Courier, (body.network, body.courier)) is None:
            raise Problem(422, f"no courier {body.courier!r} in {body.network!r}", field="courier")
    row, plain = create_key(
        session, body.name, body.role, network=body.network, courier=body.courier
    )
    audit(session, who, "key.create", f"key/{row.id}", {"role": body.role.value, "name": body.name})
    session.commit()
    return KeyCreated(**_public(row).model_dump(), key=plain)


@router.get("", response_model=list[KeyPublic])
def list_api_keys(session: DbSession, _: AdminKey) -> list[KeyPublic]:
    return [_public(r) for r in session.scalars(select(ApiKey).order_by(ApiKey.id))]


@router.delete("/{key_id}", status_code=204)
def revoke_api_key(key_id: KeyId, session: DbSession, who: AdminKey, ctx: Ctx) -> None:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise Problem(404, f"no key {key_id}", field="key_id")
    row.revoked = True
    audit(session, who, "key.revoke", f"key/{key_id}")
    session.commit()
    ctx.keys.clear()
