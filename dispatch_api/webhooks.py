"""Outgoing webhooks: the live feed of a network POSTed to systems that integrate (carrier
systems, traceability platforms), in order, at least once, signed, with retries.

Each webhook keeps a cursor into the feed (:class:`~dispatch_api.db.FeedItem`). A sender
thread in every API process calls :func:`deliver_due` every second: it locks due webhooks with
``FOR UPDATE SKIP LOCKED`` (so two processes never deliver the same webhook at once, and its
items stay in order), POSTs the items after the cursor one by one and advances the cursor
after each 2xx. A failure (an error status, a timeout, a refused connection) leaves the
cursor where it is and waits ``2^failures`` seconds (at most an hour) before trying that item
again; after :data:`MAX_FAILURES` failures in a row the webhook is switched off (its
``last_error`` says why).

Every request carries ``X-Countyroute-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>" under the webhook's secret>`` (the secret is shown once, when the webhook is
made), ``X-Countyroute-Event`` (the kind) and ``X-Countyroute-Delivery`` (``<webhook>-<feed
id>``, the same on every retry: receivers deduplicate on it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable

import httpx
from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dispatch_api.db import FeedItem, Webhook, now_iso

__all__ = ["MAX_FAILURES", "WebhookSender", "deliver_due", "sign"]

MAX_FAILURES = 20
log = logging.getLogger("countyroute.webhooks")

Post = Callable[[str, bytes, dict[str, str]], int]
"""Sends one request: (url, body, headers) → HTTP status (raises on a transport error)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Countyroute-Signature`` value of a body."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def http_post(client: httpx.Client) -> Post:
    def post(url: str, body: bytes, headers: dict[str, str]) -> int:
        return client.post(url, content=body, headers=headers).status_code

    return post


def deliver_due(engine: Engine, post: Post, *, batch: int = 50) -> int:
    """Deliver what is due on every webhook this process can lock; returns items delivered."""
    delivered = 0
    now = now_iso()
    with Session(engine) as s, s.begin():
        hooks = list(
            s.scalars(
                select(Webhook)
                .where(
                    Webhook.active.is_(True), or_(Webhook.next_at.is_(None), Webhook.next_at <= now)
                )
                .order_by(Webhook.id)
                .limit(20)
                .with_for_update(skip_locked=True)
            )
        )
        for hook in hooks:
            kinds = json.loads(hook.kinds) if hook.kinds else None
            stmt = select(FeedItem).where(
                FeedItem.network == hook.network, FeedItem.seq > hook.cursor
            )
            if kinds:
                stmt = stmt.where(FeedItem.kind.in_(kinds))
            for item in s.scalars(stmt.order_by(FeedItem.seq).limit(batch)):
                body = json.dumps(
                    {
                        "id": item.seq,
                        "event": item.kind,
                        "network": item.network,
                        "at": item.at,
                        "vehicle": item.vehicle,
                        "data": json.loads(item.payload),
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                ).encode()
                stamp = int(time.time())
                headers = {
                    "Content-Type": "application/json",
                    "User-Agent": "countyroute-webhooks/1",
                    "X-Countyroute-Event": item.kind,
                    "X-Countyroute-Delivery": f"{hook.id}-{item.seq}",
                    "X-Countyroute-Signature": sign(hook.secret, stamp, body),
                }
                try:
                    status = post(hook.url, body, headers)
                    error = None if 200 <= status < 300 else f"HTTP {status}"
                except Exception as exc:  # the receiver is down or slow: try again later
                    error = f"{type(exc).__name__}: {exc}"[:500]
                if error is None:
                    hook.cursor, hook.failures, hook.next_at = item.seq, 0, None
                    delivered += 1
                    continue
                hook.failures += 1
                hook.last_error = error
                wait = min(2**hook.failures, 3600)
                hook.next_at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=wait)).isoformat(
                    timespec="microseconds"
                )
                if hook.failures >= MAX_FAILURES:
                    hook.active = False
                    log.warning("webhook %s switched off: %s", hook.id, error)
                break
    return delivered


class WebhookSender:
    """The thread that delivers webhooks from this process (see the module docstring)."""

    def __init__(self, engine: Engine, every_s: float = 1.0) -> None:
        self.engine = engine
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="countyroute-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        with httpx.Client(timeout=5.0, follow_redirects=False) as client:
            post = http_post(client)
            while not self._stop.wait(self.every_s):
                try:
                    deliver_due(self.engine, post)
                except Exception:  # the loop must outlive a database hiccup
                    log.exception("webhook sender")
