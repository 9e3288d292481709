"""The live feed: what happened, in order, for server-sent events.

Every change worth watching (a plan published, a stop event stored, a job ending) is written
as a :class:`~dispatch_api.db.FeedItem` in the transaction that makes it, so the feed is
exactly as durable as the change and every API process reads the same sequence. A stream
resumes after a reconnect from ``Last-Event-ID`` (the item's ``seq``).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from dispatch_api.db import FeedItem, now_iso

__all__ = ["publish_feed"]


def publish_feed(
    session: Session,
    network: str,
    kind: str,
    payload: dict[str, Any],
    *,
    vehicle: str | None = None,
) -> None:
    """Add one feed item (in the caller's transaction)."""
    session.add(
        FeedItem(
            network=network,
            kind=kind,
            vehicle=vehicle,
            payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            at=now_iso(),
        )
    )
