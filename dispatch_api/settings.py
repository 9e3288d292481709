"""Settings of the dispatch API, read once and passed in (no import-time globals).

``Settings.from_env()`` reads ``COUNTYROUTE_*`` environment variables; tests build
``Settings(...)`` directly. Units: seconds, bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

__all__ = ["DEFAULT_DATABASE_URL", "Settings"]

DEFAULT_DATABASE_URL = "sqlite:///countyroute.db"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the app needs to know about its environment."""

    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL; ``postgresql://…`` is served with psycopg 3."""
    host: str = "127.0.0.1"
    port: int = 8000
    job_workers: int = 1
    """Worker processes solving plan jobs at the same time (each plan uses one core)."""
    default_time_limit_s: float = 3.0
    """Solver budget of a plan job when the request names none."""
    max_time_limit_s: float = 300.0
    job_hard_limit_factor: float = 4.0
    """A job still running after ``factor × time limit + job_grace_s`` is killed and failed."""
    job_grace_s: float = 60.0
    job_max_attempts: int = 2
    """A job interrupted by a server stop is re-queued until it has been tried this often."""
    planner_max_workers: int = 2
    """Local processes one planner job (placement, simulation) may use for its curve or its
    simulated days; a request's ``workers`` above this is lowered to it."""
    max_planner_job_s: float = 3600.0
    """A planner job whose budget (the solver time it may take, see docs/api.md) is above
    this is refused with 422."""
    max_body_bytes: int = 1 << 20
    """Request bodies above this size get 413 (JSON and single events)."""
    max_upload_bytes: int = 64 << 20
    """Order imports and bundle uploads may be this large."""
    timezone: str = "Asia/Shanghai"
    """Local time of the plans' seconds-after-midnight (ETAs, lateness of events)."""
    late_grace_s: int = 15 * 60
    """A stop whose first event comes this long after its planned start is late."""
    route_cache_size: int = 512
    warm_documents: int = 4096
    """Route documents each process remembers ahead of the couriers' fetches
    (:mod:`dispatch_api.warm`; ``COUNTYROUTE_WARM_DOCUMENTS``, 0: none)."""
    job_runner: str = "process"
    """``process`` (worker processes) or ``inline`` (jobs run inside the request: tests)."""
    processes: int = 1
    """API processes ``countyroute serve`` starts (more than one needs PostgreSQL)."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from a browser (``COUNTYROUTE_CORS_ORIGINS``, comma
    separated); none by default: CORS is off."""
    auth_failures_per_minute: int = 20
    """Failed authentications one client address may make in a minute before it gets 429."""
    job_heartbeat_s: float = 5.0
    """How often a process refreshes the heartbeat of the jobs it runs."""
    job_stale_s: float = 60.0
    """A running job whose heartbeat is older than this lost its process: it is recovered."""
    feed_max_wait_s: float = 300.0
    """The longest a live-feed stream stays open (a request's ``wait_s`` is lowered to it)."""
    db_pool_size: int = 8
    db_max_overflow: int = 4
    """Database connections one API process keeps (and may add under load), PostgreSQL."""
    webhooks: bool = True
    """Deliver outgoing webhooks from this process (a sender thread)."""
    redis_url: str = ""
    """``COUNTYROUTE_REDIS_URL``: when given (``redis://host:6379/0``), the processes tell
    each other about changes through Redis publish/subscribe instead of PostgreSQL's
    LISTEN/NOTIFY (:mod:`dispatch_api.cachebus`)."""
    migrate: bool = True
    """Run migrations on start (``serve --processes N`` migrates once, before the workers)."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Settings from ``COUNTYROUTE_*`` variables (unset ones keep their defaults)."""
        env = dict(os.environ if env is None else env)
        s = cls()
        ints = {
            "port",
            "job_workers",
            "job_max_attempts",
            "max_body_bytes",
            "max_upload_bytes",
            "planner_max_workers",
            "processes",
            "auth_failures_per_minute",
            "db_pool_size",
            "db_max_overflow",
            "warm_documents",
        }
        floats = {
            "default_time_limit_s",
            "max_time_limit_s",
            "job_grace_s",
            "max_planner_job_s",
            "feed_max_wait_s",
        }
        changes: dict[str, object] = {}
        for name in (
            "database_url",
            "host",
            "timezone",
            "redis_url",
            *sorted(ints),
            *sorted(floats),
        ):
            raw = env.get(f"COUNTYROUTE_{name.upper()}")
            if raw:
                changes[name] = int(raw) if name in ints else float(raw) if name in floats else raw
        cors = env.get("COUNTYROUTE_CORS_ORIGINS", "")
        if cors.strip():
            changes["cors_origins"] = tuple(o.strip() for o in cors.split(",") if o.strip())
        for flag in ("migrate", "webhooks"):
            if env.get(f"COUNTYROUTE_{flag.upper()}", "").strip().lower() in ("0", "false", "no"):
                changes[flag] = False
        return replace(s, **changes)  # type: ignore[arg-type]
