"""Running the API: ``countyroute serve`` (uvicorn) and ``countyroute apikey create``."""

from __future__ import annotations

import logging
from dataclasses import replace

from dispatch_api.settings import Settings
from networks import CountyrouteError

__all__ = ["create_api_key", "serve", "settings_for"]


def settings_for(
    database_url: str | None = None,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
) -> Settings:
    """Settings from the environment, overridden by command-line values that are given."""
    s = Settings.from_env()
    changes: dict[str, object] = {}
    if database_url:
        changes["database_url"] = database_url
    if host:
        changes["host"] = host
    if port:
        changes["port"] = port
    if workers:
        changes["job_workers"] = workers
    return replace(s, **changes)  # type: ignore[arg-type]


def serve(
    *,
    host: str | None = None,
    port: int | None = None,
    database_url: str | None = None,
    workers: int | None = None,
) -> None:
    """Serve the dispatch API with uvicorn (one process; solving runs in worker processes)."""
    import uvicorn

    from dispatch_api.app import create_app

    settings = settings_for(database_url, host, port, workers)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)


def create_api_key(
    name: str,
    role: str,
    database_url: str | None = None,
    network: str | None = None,
    courier: str | None = None,
) -> str:
    """Create a key directly in the database (migrating it first) and return the plain key."""
    from dispatch_api.db import Courier, make_engine, migrate, sessions
    from dispatch_api.security import Role, create_key
    from dispatch_api.store import audit

    settings = settings_for(database_url)
    engine = make_engine(settings.database_url)
    migrate(engine)
    with sessions(engine)() as session:
        r = Role(role)
        if r is Role.COURIER and (
            not network or not courier or session.get(Courier, (network, courier)) is None
        ):
            raise CountyrouteError(
                f"no courier {courier!r} in network {network!r} (import the network first)"
            )
        row, plain = create_key(session, name, r, network=network, courier=courier)
        audit(
            session, None, "key.create", f"key/{row.id}", {"role": role, "name": name, "by": "cli"}
        )
        session.commit()
    engine.dispose()
    return plain
