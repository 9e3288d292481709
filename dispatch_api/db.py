"""Persistence: SQLAlchemy 2 tables, the engine, and Alembic migrations applied on start.

SQLite (a file, WAL mode) by default, PostgreSQL (psycopg 3) when the URL names one. Times
are stored as UTC ISO-8601 text (``*_at``) so both engines sort and compare them alike; plan
documents as JSON text exactly as ``routing.plan.plan_to_dict`` writes them.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    false,
    text,
)
from sqlalchemy import exc as exc_module
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

__all__ = [
    "ApiKey",
    "Audit",
    "AuthFailure",
    "Base",
    "ConsoleSessionRow",
    "Courier",
    "Event",
    "FeedItem",
    "Job",
    "NetworkRow",
    "OrderDay",
    "OrderRow",
    "PlanRow",
    "RouteDoc",
    "Secret",
    "Webhook",
    "make_engine",
    "migrate",
    "normalise_url",
    "now_iso",
    "sessions",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def now_iso() -> str:
    """The current UTC time as ISO-8601 text with microseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """A bearer key; only its SHA-256 is stored (keys are 32 random bytes, so a fast hash
    cannot be brute-forced and lookups stay one indexed query)."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(20))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    network: Mapped[str | None] = mapped_column(String(100), nullable=True)
    """Courier keys: the courier's network."""
    courier: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[str] = mapped_column(String(40))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    networks: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Staff keys: JSON list of the networks the key may see (None: every network)."""
    expires_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_used_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    hash_scheme: Mapped[str] = mapped_column(String(10), default="hmac")
    """``hmac`` (HMAC-SHA256 with the server's pepper) or ``sha256`` (keys made before it)."""
    replaced_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """A rotated key: the id of the key that replaced it."""


class NetworkRow(Base):
    """An imported scenario bundle: its files as text, so workers can rebuild it exactly."""

    __tablename__ = "networks"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(200))
    files: Mapped[str] = mapped_column(Text)
    """JSON object: file name → text (network.geojson, fleet.csv or fleet.json, policy.toml)."""
    summary: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[str] = mapped_column(String(40))


class Courier(Base):
    """A driver of the fleet; ``vehicle`` is the vehicle they drive (from fleet.csv's
    ``driver`` column on import, changed by dispatchers)."""

    __tablename__ = "couriers"
    network: Mapped[str] = mapped_column(
        String(100), ForeignKey("networks.name", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40))
    vehicle: Mapped[str | None] = mapped_column(String(100), nullable=True)


class OrderRow(Base):
    """One order of one day (idempotent on ``(network, date, id)``)."""

    __tablename__ = "orders"
    network: Mapped[str] = mapped_column(String(100), primary_key=True)
    date: Mapped[str] = mapped_column(String(10), primary_key=True)
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    carrier: Mapped[str] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(4))
    site: Mapped[str] = mapped_column(String(100))
    weight_kg: Mapped[float] = mapped_column(Float)
    volume_m3: Mapped[float] = mapped_column(Float)
    parcels: Mapped[int] = mapped_column(Integer)
    bulky: Mapped[bool] = mapped_column(Boolean)
    priority: Mapped[int] = mapped_column(Integer)
    sector: Mapped[str] = mapped_column(String(40))
    lot: Mapped[str] = mapped_column(String(100))
    mandatory: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    __table_args__ = (Index("ix_orders_lot", "lot"),)


class PlanRow(Base):
    """A plan version. Edits bump ``revision`` of a draft; repair makes a new row whose
    ``parent`` is the repaired plan. At most one plan per (network, date) is published."""

    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(String(100))
    network_version: Mapped[str] = mapped_column(String(40))
    date: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    """draft, published, superseded."""
    revision: Mapped[int] = mapped_column(Integer, default=1)
    parent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    job: Mapped[str | None] = mapped_column(String(40), nullable=True)
    document: Mapped[str] = mapped_column(Text)
    kpis: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(40))
    published_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    __table_args__ = (Index("ix_plans_network_date", "network", "date", "status"),)


class Job(Base):
    """An asynchronous job: a solve (plan, repair) or a planner run (placement, simulation).
    ``attempt`` guards the result write: a worker of an older attempt (a server killed
    mid-solve) can never overwrite a newer one. Plan and repair jobs end in a plan row
    (``plan``); planner jobs in a result document (``result``)."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    network: Mapped[str] = mapped_column(String(100))
    date: Mapped[str] = mapped_column(String(10))
    params: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    """queued, running, succeeded, failed, cancelled."""
    stage: Mapped[str] = mapped_column(String(40), default="")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    plan: Mapped[int | None] = mapped_column(Integer, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)
    """Planner jobs: the result as JSON (``PlacementResult.to_dict`` /
    ``SimulationResult.to_dict``), written with the job's end state."""
    progress: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Planner jobs: share of the work done (0 … 1) as the worker reports it."""
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    finished_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    """``host:pid`` of the API process whose worker runs the job."""
    heartbeat_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    """Refreshed by the owner while the job runs; a stale one means the owner died."""
    idempotency_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    """``<key id>:<Idempotency-Key header>``: a retried POST returns the same job."""
    __table_args__ = (
        Index("ix_jobs_status", "status"),
        Index("ix_jobs_idempotency", "idempotency_key", unique=True),
    )


class Event(Base):
    """A stop event, stored once per (plan, author, client event id): one courier's ids
    never collide with another's. ``seq`` orders events for the live feed."""

    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(100))
    author: Mapped[str] = mapped_column(String(200))
    """Whose id space the event id is in: ``courier:<network>/<courier>`` or ``key:<id>``."""
    network: Mapped[str] = mapped_column(String(100))
    date: Mapped[str] = mapped_column(String(10))
    plan: Mapped[int] = mapped_column(Integer)
    route: Mapped[str] = mapped_column(String(120))
    vehicle: Mapped[str] = mapped_column(String(100))
    stop: Mapped[int] = mapped_column(Integer)
    site: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(500))
    orders: Mapped[str] = mapped_column(Text)
    """JSON list of the order ids the event is about."""
    at: Mapped[str] = mapped_column(String(40))
    at_s: Mapped[int] = mapped_column(Integer)
    """``at`` as seconds after midnight of ``date`` in the plan's time zone."""
    courier: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the event's content: a retry with other content is a conflict."""
    received_at: Mapped[str] = mapped_column(String(40))
    __table_args__ = (
        Index("ix_events_network_date_vehicle", "network", "date", "vehicle"),
        UniqueConstraint("plan", "author", "id", name="uq_events_plan_author_id"),
    )


class Audit(Base):
    """Who did what when: imports, plan edits, publishing, repairs, keys."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[str] = mapped_column(String(40))
    key_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    network: Mapped[str | None] = mapped_column(String(100), nullable=True)
    """The network the action was on (None: keys and other server-wide actions)."""
    __table_args__ = (Index("ix_audit_network", "network", "id"),)


class OrderDay(Base):
    """A version per (network, day) of orders, bumped by every import that changes them:
    route documents are keyed by it, so a re-import is seen at once by every process."""

    __tablename__ = "order_days"
    network: Mapped[str] = mapped_column(String(100), primary_key=True)
    date: Mapped[str] = mapped_column(String(10), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class RouteDoc(Base):
    """A rendered courier route, shared by every API process. ``key`` is a digest of
    everything the document shows (plan revision, network import, orders version, courier),
    so a stale document is never found: nothing needs invalidating."""

    __tablename__ = "route_docs"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan: Mapped[int] = mapped_column(Integer, index=True)
    etag: Mapped[str] = mapped_column(String(40))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[str] = mapped_column(String(40))


class FeedItem(Base):
    """The live feed (server-sent events): job progress, published plans, stop events."""

    __tablename__ = "feed"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    vehicle: Mapped[str | None] = mapped_column(String(100), nullable=True)
    """Stop events: the vehicle (couriers see only their own)."""
    payload: Mapped[str] = mapped_column(Text)
    at: Mapped[str] = mapped_column(String(40))
    __table_args__ = (Index("ix_feed_network", "network", "seq"),)


class Webhook(Base):
    """An outgoing webhook: the feed items of one network POSTed, in order, to ``url``,
    signed with ``secret``; ``cursor`` is the last feed item delivered."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    network: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    kinds: Mapped[str | None] = mapped_column(Text, nullable=True)
    """JSON list of the feed kinds it wants (None: all)."""
    cursor: Mapped[int] = mapped_column(Integer)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    """Failed attempts in a row at the next item; the wait before the next is 2^failures s."""
    next_at: Mapped[str | None] = mapped_column(String(40), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))


class AuthFailure(Base):
    """Failed authentications of one client address in its current window (shared by every
    API process: :mod:`dispatch_api.throttle`). ``window_start``: seconds since the epoch."""

    __tablename__ = "auth_failures"
    client: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[float] = mapped_column(Float)
    failures: Mapped[int] = mapped_column(Integer)


class ConsoleSessionRow(Base):
    """A signed-in console browser (:mod:`dispatch_api.console.sessions`): the SHA-256 of its
    token, its CSRF token and the digest of the key it signed in with (never the key).
    Expiry times: seconds since the epoch."""

    __tablename__ = "console_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    csrf: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float)
    hard_expires_at: Mapped[float] = mapped_column(Float)


class Secret(Base):
    """Server secrets kept in the database when the environment gives none (the key pepper)."""

    __tablename__ = "secrets"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` → the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, pool_size: int = 8, max_overflow: int = 4) -> Engine:
    """An engine; SQLite files get WAL, a busy timeout and foreign keys. On PostgreSQL each
    process holds at most ``pool_size + max_overflow`` connections (4 processes: 48, well
    under the server's default 100), waiting up to 10 s for one."""
    url = normalise_url(url)
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = max_overflow
        kwargs["pool_timeout"] = 10
    engine = create_engine(url, **kwargs)
    if not url.startswith("sqlite"):
        _ping_idle_connections(engine)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    return engine


_PING_IDLE_S = 10.0
"""A pooled PostgreSQL connection idle longer than this is pinged before use."""


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle for a while (a database
    restart is found then), not on every checkout: a ping is a round trip, as much as the
    single statement of a stop event. A connection that broke while in steady use fails its
    request with a 503 (clients retry) and the pool drops every older connection."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < _PING_IDLE_S:
            return
        try:
            cur = conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            conn.rollback()  # hand it on idle, not inside the ping's transaction
        except Exception as exc:  # the pool connects again (up to three times)
            raise exc_module.DisconnectionError() from exc


def sessions(engine: Engine) -> sessionmaker[Any]:
    """A session factory bound to ``engine`` (objects stay readable after commit)."""
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema with Alembic (idempotent)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # several processes may start at once
            conn.execute(text("SELECT pg_advisory_xact_lock(727274)"))
        cfg.attributes["connection"] = conn
        # "heads": migrations added on parallel branches all apply
        command.upgrade(cfg, "heads")
