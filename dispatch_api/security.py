"""API keys and roles.

A key is ``cr_`` + 43 URL-safe characters (32 random bytes). Only its SHA-256 is stored: the
key is high-entropy, so a fast hash is not guessable, and one indexed lookup authenticates.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from dispatch_api.db import ApiKey, now_iso

__all__ = ["Principal", "Role", "create_key", "hash_key"]


class Role(StrEnum):
    ADMIN = "admin"
    """Everything, including keys."""
    DISPATCHER = "dispatcher"
    """Imports, plans, edits, publishes, repairs, watches progress, records events."""
    PLANNER = "planner"
    """Imports and plans what-ifs, edits drafts; cannot publish or repair."""
    COURIER = "courier"
    """Reads and reports on their own routes only."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling."""

    key_id: int
    name: str
    role: Role
    network: str | None = None
    courier: str | None = None


def hash_key(key: str) -> str:
    """SHA-256 hex of a key."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_key(
    session: Session,
    name: str,
    role: Role,
    *,
    network: str | None = None,
    courier: str | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key and return it with its plain text (shown once, never stored)."""
    plain = "cr_" + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name,
        role=role.value,
        prefix=plain[:8],
        hash=hash_key(plain),
        network=network,
        courier=courier,
        created_at=now_iso(),
        revoked=False,
    )
    session.add(row)
    session.flush()
    return row, plain
