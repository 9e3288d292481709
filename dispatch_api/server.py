"""Running the API: ``countyroute serve`` (uvicorn) and ``countyroute apikey create``."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from uvicorn.config import STARTUP_FAILURE
from uvicorn.server import Server
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from dispatch_api.db import make_engine, migrate, normalise_url
from dispatch_api.settings import Settings
from networks import CountyrouteError

__all__ = ["app_from_env", "create_api_key", "serve", "settings_for"]


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
    processes: int | None = None,
) -> None:
    """Serve the dispatch API with uvicorn; solving runs in worker processes.

    ``processes`` > 1 (or ``COUNTYROUTE_PROCESSES``) starts that many API processes on one
    port (uvicorn's workers) sharing one PostgreSQL database: migrations run once here, then
    each process builds its app from the environment (:func:`app_from_env`). Every process
    also runs a job dispatcher; jobs are claimed with ``FOR UPDATE SKIP LOCKED``.
    """
    import uvicorn

    from dispatch_api.app import create_app

    settings = settings_for(database_url, host, port, workers)
    if processes:
        settings = replace(settings, processes=processes)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if settings.processes <= 1:
        app = create_app(settings)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False)
        return
    if normalise_url(settings.database_url).startswith("sqlite"):
        raise CountyrouteError(
            "more than one API process needs PostgreSQL (COUNTYROUTE_DATABASE_URL=postgresql://…)"
        )
    engine = make_engine(settings.database_url)
    migrate(engine)
    engine.dispose()
    os.environ.update(
        {
            "COUNTYROUTE_DATABASE_URL": settings.database_url,
            "COUNTYROUTE_JOB_WORKERS": str(settings.job_workers),
            "COUNTYROUTE_MIGRATE": "0",
        }
    )
    config = uvicorn.Config(
        "dispatch_api.server:app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.processes,
        log_level="info",
        access_log=False,
        # uvicorn kills a worker that does not answer its health check in time (5 s by
        # default); on a busy host a worker importing the app can take longer, and was
        # killed and restarted again and again, never serving
        timeout_worker_healthcheck=_WORKER_HEALTHCHECK_S,
    )
    sockets = [_listening_socket(settings.host, settings.port) for _ in range(settings.processes)]
    try:
        _OwnSockets(config, sockets).run()
    except KeyboardInterrupt:
        pass
    finally:
        for sock in sockets:
            sock.close()


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket of its own for one API process, on the port every process shares
    (``SO_REUSEPORT``: the kernel spreads new connections evenly over the processes' sockets;
    one socket shared by all, as uvicorn's workers have, goes to whichever process accepts
    first, and a busy process then takes more than its share — at 07:00 the processes took
    turns and the burst's tail waited for them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CountyrouteError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


DRAIN_S = 1.0
"""Seconds a retiring API process keeps serving the connections it has accepted after it
stops accepting, before it closes those that have not sent a request."""


class _DrainingServer(Server):
    """uvicorn's server, which on shutdown first stops accepting and gives the connections
    it has already accepted :data:`DRAIN_S` to send their request. uvicorn closes at once a
    connection whose request it has not begun: in a rolling restart, one accepted by the
    retiring process just before its SIGTERM was closed unanswered ("server disconnected
    without sending a response"), while its replacement was already serving the socket."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        # no connection, or a second Ctrl-C (force_exit): no wait
        deadline = asyncio.get_running_loop().time() + DRAIN_S
        while (
            self.server_state.connections
            and not self.force_exit
            and asyncio.get_running_loop().time() < deadline
        ):
            await asyncio.sleep(0.05)
        await super().shutdown(sockets)


class _Process(Process):
    """One API process, serving with :class:`_DrainingServer`."""

    @property
    def server(self) -> Server:
        if self._server is None:
            self._server = _DrainingServer(config=self.config)
        return self._server


class _OwnSockets(Multiprocess):
    """uvicorn's supervisor of worker processes (health checks, restarts, signals), each
    process serving its own socket: process ``k`` always gets ``sockets[k]``, also when it is
    restarted."""

    def init_processes(self) -> None:
        for sock in self.sockets:
            process = _Process(self.config, [sock])
            process.start()
            self.processes.append(process)

    def keep_subprocess_alive(self) -> None:
        self._replace_each(lambda k, p: not p.is_alive(self.config.timeout_worker_healthcheck))

    def restart_all(self) -> None:
        """Replace every process (SIGHUP), each replacement serving its predecessor's socket
        before the predecessor is retired, so the socket is never left without a process;
        a replacement not ready in time is killed, its predecessor kept and the restart
        abandoned."""
        for k, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = _Process(self.config, [self.sockets[k]])
            new.start()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    logging.getLogger("uvicorn.error").error(
                        "a new API process was not ready in time; the restart was abandoned"
                    )
                return
            old.terminate()
            old.join()
            self.processes[k] = new

    def _replace_each(self, dead: Callable[[int, Process], bool]) -> None:
        """Replace the processes found dead (killed first: there is nothing to hand over)."""
        for k, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if not dead(k, old):
                continue
            old.kill()
            old.join()
            if old.exitcode == STARTUP_FAILURE:  # the app cannot start: it never will
                logging.getLogger("uvicorn.error").error("an API process failed to start")
                self.should_exit.set()
                return
            new = _Process(self.config, [self.sockets[k]])
            new.start()
            self.processes[k] = new


_WORKER_HEALTHCHECK_S = 60
"""Seconds a worker process may take to answer uvicorn's health check."""


def app_from_env() -> Any:
    """The app of one of several API processes, from ``COUNTYROUTE_*`` variables."""
    from dispatch_api.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return create_app(Settings.from_env())


def create_api_key(
    name: str,
    role: str,
    database_url: str | None = None,
    network: str | None = None,
    courier: str | None = None,
) -> str:
    """Create a key directly in the database (migrating it first) and return the plain key.

    A courier key names its network and courier; for a dispatcher or planner, ``network``
    limits the key to that network."""
    from dispatch_api.db import Courier, sessions
    from dispatch_api.security import Role, create_key, key_pepper
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
        if r is Role.ADMIN and network:
            raise CountyrouteError("admin keys see every network; scope a dispatcher instead")
        if r is Role.COURIER:
            row, plain = create_key(
                session, name, r, pepper=key_pepper(engine), network=network, courier=courier
            )
        else:
            row, plain = create_key(
                session,
                name,
                r,
                pepper=key_pepper(engine),
                networks=[network] if network else None,
            )
        audit(
            session, None, "key.create", f"key/{row.id}", {"role": role, "name": name, "by": "cli"}
        )
        session.commit()
    engine.dispose()
    return plain
