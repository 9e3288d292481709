"""API keys, roles and scopes.

A key is ``cr_`` + 43 URL-safe characters (32 random bytes). Only an HMAC-SHA256 of it is
stored, keyed with the server's pepper (``COUNTYROUTE_KEY_PEPPER``, else a random secret kept
in the database's ``secrets`` table): a leaked table alone does not let anyone test guesses,
and one indexed lookup still authenticates. Keys made before the pepper (plain SHA-256) are
found once more by their old hash and re-hashed on first use.

Scopes: a courier key belongs to one network and courier; a dispatcher or planner key may be
limited to a set of networks (``networks``), and then sees nothing of the others; admin keys
see every network.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dispatch_api.db import ApiKey, Secret, now_iso

__all__ = [
    "Principal",
    "Role",
    "create_key",
    "hash_key",
    "key_pepper",
    "legacy_hash",
]

PEPPER_ENV = "COUNTYROUTE_KEY_PEPPER"


class Role(StrEnum):
    ADMIN = "admin"
    """Everything, including keys."""
    DISPATCHER = "dispatcher"
    """Imports, plans, edits, publishes, repairs, reassigns couriers, records events."""
    PLANNER = "planner"
    """Imports and plans what-ifs, edits drafts; cannot publish, repair or reassign."""
    COURIER = "courier"
    """Reads and reports on their own routes only."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling."""

    key_id: int
    name: str
    role: Role
    network: str | None = None
    """Courier keys: their network."""
    courier: str | None = None
    networks: frozenset[str] | None = None
    """Staff keys limited to these networks (None: every network)."""
    expires_at: str | None = None

    @property
    def scope(self) -> frozenset[str] | None:
        """The networks this key may see (None: all)."""
        if self.role is Role.COURIER:
            return frozenset({self.network}) if self.network else frozenset()
        return self.networks

    def sees(self, network: str) -> bool:
        """Whether this key may see anything of ``network``."""
        scope = self.scope
        return scope is None or network in scope

    @property
    def author(self) -> str:
        """Whose id space client-made ids (event ids) live in."""
        if self.role is Role.COURIER:
            return f"courier:{self.network}/{self.courier}"
        return f"key:{self.key_id}"


def key_pepper(engine: Engine) -> bytes:
    """The pepper of key hashes: ``COUNTYROUTE_KEY_PEPPER``, else the database's own random
    secret (made on first use)."""
    env = os.environ.get(PEPPER_ENV)
    if env:
        return env.encode("utf-8")
    with Session(engine) as s:
        row = s.get(Secret, "key_pepper")
        if row is None:
            s.add(Secret(name="key_pepper", value=secrets.token_urlsafe(32)))
            try:
                s.commit()
            except Exception:  # another process made it first
                s.rollback()
            row = s.get(Secret, "key_pepper")
        assert row is not None
        return row.value.encode("utf-8")


def hash_key(key: str, pepper: bytes) -> str:
    """HMAC-SHA256 hex of a key under the pepper."""
    return hmac.new(pepper, key.encode("utf-8"), hashlib.sha256).hexdigest()


def legacy_hash(key: str) -> str:
    """SHA-256 hex of a key (how keys were stored before the pepper)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def expiry_of(days: float | None) -> str | None:
    """An expiry time ``days`` from now (None: never)."""
    if days is None:
        return None
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat(timespec="microseconds")


def create_key(
    session: Session,
    name: str,
    role: Role,
    *,
    pepper: bytes,
    network: str | None = None,
    courier: str | None = None,
    networks: Iterable[str] | None = None,
    expires_at: str | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key and return it with its plain text (shown once, never stored)."""
    plain = "cr_" + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        role=role.value,
        prefix=plain[:8],
        hash=hash_key(plain, pepper),
        hash_scheme="hmac",
        network=network,
        courier=courier,
        networks=None if networks is None else json.dumps(sorted(set(networks))),
        created_at=now_iso(),
        expires_at=expires_at,
        revoked=False,
    )
    session.add(row)
    session.flush()
    return row, plain


def principal_of(row: ApiKey) -> Principal:
    """The caller a stored key stands for."""
    return Principal(
        row.id,
        row.name,
        Role(row.role),
        row.network,
        row.courier,
        None if row.networks is None else frozenset(json.loads(row.networks)),
        row.expires_at,
    )


def active_admins(session: Session) -> list[ApiKey]:
    """Admin keys that still open the door (not revoked, not expired)."""
    now = now_iso()
    return [
        k
        for k in session.scalars(
            select(ApiKey).where(ApiKey.role == Role.ADMIN.value, ApiKey.revoked.is_(False))
        )
        if k.expires_at is None or k.expires_at > now
    ]
