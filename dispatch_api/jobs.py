"""Solve jobs that survive: persisted, run outside the request path, never half-written.

A job row goes ``queued → running → succeeded | failed``. :func:`execute_job` does the work
of one attempt: it reads its inputs, calls the core (``routing.day.plan_day``, or
``routing.repair.replan``) and writes the plan and the job's end state in **one transaction**
that only commits while the job is still ``running`` at the same ``attempt`` — so a worker
left over from a killed server can never overwrite a newer attempt, and a plan is either
wholly there or not at all.

Runners:

:class:`ProcessJobRunner`
    The server's: a dispatcher thread claims queued jobs and runs each in its own worker
    process (at most ``settings.job_workers`` at once, ``spawn``ed, killed with the server via
    ``PR_SET_PDEATHSIG``), kills those past their hard time limit and fails them with the
    reason. On start it recovers jobs a dead server left ``running``: re-queued while they
    have attempts left, else failed with the reason. Single server per database.
:class:`InlineJobRunner`
    Runs a job synchronously inside ``submit`` — for tests, no sleeping and polling.
"""

from __future__ import annotations

import ctypes
import importlib
import json
import logging
import multiprocessing
import signal
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from dispatch_api.db import Job, OrderRow, PlanRow, make_engine, normalise_url, now_iso
from dispatch_api.settings import Settings
from dispatch_api.store import (
    ScenarioCache,
    closed_roads,
    day_input,
    kpis_of,
    order_to_row,
    plan_document,
    plan_of,
)
from networks import CountyrouteError
from routing.day import DayInput, plan_day
from routing.plan import Plan

__all__ = [
    "InlineJobRunner",
    "JobRunner",
    "ProcessJobRunner",
    "execute_job",
    "recover_jobs",
    "repair_function",
]

log = logging.getLogger("countyroute.jobs")


class JobRunner(Protocol):
    """Where the API hands jobs to."""

    def submit(self, job_id: str) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def repair_function() -> Any | None:
    """``routing.repair.replan`` when the core has it, else None."""
    try:
        module = importlib.import_module("routing.repair")
    except ImportError:
        return None
    return getattr(module, "replan", None)


def _set(engine: Engine, job_id: str, attempt: int, **values: Any) -> bool:
    with engine.begin() as conn:
        res = conn.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "running", Job.attempt == attempt)
            .values(**values)
        )
        return bool(res.rowcount)


def claim(engine: Engine, job_id: str) -> int | None:
    """Mark a queued job running (next attempt); returns the attempt or None if taken."""
    with engine.begin() as conn:
        row = conn.execute(select(Job.attempt).where(Job.id == job_id, Job.status == "queued"))
        current = row.scalar_one_or_none()
        if current is None:
            return None
        res = conn.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued", Job.attempt == current)
            .values(status="running", attempt=current + 1, started_at=now_iso(), stage="loading")
        )
        return current + 1 if res.rowcount else None


def fail(engine: Engine, job_id: str, attempt: int | None, reason: str) -> None:
    """Fail a running job with a reason (only the given attempt, when one is given)."""
    with engine.begin() as conn:
        stmt = update(Job).where(Job.id == job_id, Job.status.in_(("running", "queued")))
        if attempt is not None:
            stmt = stmt.where(Job.attempt == attempt)
        conn.execute(stmt.values(status="failed", error=reason, finished_at=now_iso()))


def execute_job(engine: Engine, cache: ScenarioCache, job_id: str, attempt: int) -> None:
    """Run one attempt of a claimed job and write its outcome atomically."""
    with Session(engine) as s:
        job = s.get(Job, job_id)
        if job is None or job.status != "running" or job.attempt != attempt:
            return
        params = json.loads(job.params)
        try:
            day = day_input(s, cache, job.network, job.date)
            base: PlanRow | None = s.get(PlanRow, params["plan"]) if job.kind == "repair" else None
        except Exception as exc:
            fail(engine, job_id, attempt, f"cannot read the inputs: {exc}")
            return
        kind = job.kind
    _set(engine, job_id, attempt, stage="solving")
    try:
        if kind == "plan":
            if not day.orders:
                raise CountyrouteError(f"no orders imported for {day.name} on {day.date}")
            plan = plan_day(day, time_limit_s=float(params["time_limit_s"]), workers=1)
            new_day = day
        else:
            replan = repair_function()
            if replan is None or base is None:
                raise CountyrouteError("repair is not available in this build")
            from routing.repair import RoadClosed, close_roads, parse_event

            events = tuple(parse_event(e, f"event {n}") for n, e in enumerate(params["events"]))
            base_plan = plan_of(base)
            closed = [
                *closed_roads(base_plan),
                *(e.road for e in events if isinstance(e, RoadClosed)),
            ]
            if closed:  # roads closed by an earlier repair stay closed
                day = replace(day, network=close_roads(day.network, closed))
            plan, new_day = replan(
                base_plan,
                day,
                events,
                at_s=int(params["at_s"]),
                time_limit_s=float(params["time_limit_s"]),
            )
            if closed:
                settings = dict(plan.settings)
                settings["closed_roads"] = ",".join(dict.fromkeys(closed))
                plan = replace(plan, settings=tuple(settings.items()))
    except CountyrouteError as exc:
        fail(engine, job_id, attempt, f"input: {exc}")
        return
    except Exception as exc:
        log.exception("job %s failed", job_id)
        fail(engine, job_id, attempt, f"solver error: {type(exc).__name__}: {exc}")
        return
    _set(engine, job_id, attempt, stage="writing")
    _write_result(engine, job_id, attempt, plan, new_day, base)


def _write_result(
    engine: Engine, job_id: str, attempt: int, plan: Plan, day: DayInput, base: PlanRow | None
) -> None:
    with Session(engine) as s, s.begin():
        known = set(
            s.scalars(
                select(OrderRow.id).where(OrderRow.network == day.name, OrderRow.date == day.date)
            )
        )
        new_orders = [order_to_row(day.name, day.date, o) for o in day.orders if o.id not in known]
        if new_orders:  # repair may bring orders (an urgent pickup)
            s.execute(insert(OrderRow), new_orders)
        row = PlanRow(
            network=day.name,
            network_version=plan.network_version,
            date=day.date,
            status="draft",
            revision=1,
            parent=base.id if base is not None else None,
            job=job_id,
            document=plan_document(plan),
            kpis=json.dumps(kpis_of(plan, day)),
            created_at=now_iso(),
        )
        s.add(row)
        s.flush()
        res = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "running", Job.attempt == attempt)
            .values(status="succeeded", plan=row.id, stage="done", finished_at=now_iso())
        )
        if not getattr(res, "rowcount", 0):  # a newer attempt owns the job: leave no trace
            s.rollback()


def recover_jobs(engine: Engine, max_attempts: int) -> tuple[int, int]:
    """Jobs a stopped server left running: re-queue (attempts left) or fail with the reason.

    Returns (re-queued, failed).
    """
    with engine.begin() as conn:
        requeued = conn.execute(
            update(Job)
            .where(Job.status == "running", Job.attempt < max_attempts)
            .values(status="queued", stage="re-queued after a server stop")
        ).rowcount
        failed = conn.execute(
            update(Job)
            .where(Job.status == "running")
            .values(
                status="failed",
                error=f"interrupted: the server stopped during the solve {max_attempts} times",
                finished_at=now_iso(),
            )
        ).rowcount
    return int(requeued or 0), int(failed or 0)


class InlineJobRunner:
    """Runs each job inside ``submit`` (tests, scripts)."""

    def __init__(self, engine: Engine, cache: ScenarioCache) -> None:
        self.engine = engine
        self.cache = cache

    def submit(self, job_id: str) -> None:
        attempt = claim(self.engine, job_id)
        if attempt is not None:
            execute_job(self.engine, self.cache, job_id, attempt)

    def start(self) -> None:
        recover_jobs(self.engine, 1)

    def stop(self) -> None:
        return None


def _die_with_parent() -> None:
    try:  # Linux: the kernel kills this worker when the server process dies
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(database_url: str, job_id: str, attempt: int) -> None:
    _die_with_parent()
    engine = make_engine(database_url) if database_url.startswith("sqlite") else None
    if engine is None:
        from sqlalchemy import create_engine

        engine = create_engine(normalise_url(database_url), poolclass=NullPool)
    execute_job(engine, ScenarioCache(), job_id, attempt)
    engine.dispose()


@dataclass
class _Running:
    process: BaseProcess
    attempt: int
    deadline: float


class ProcessJobRunner:
    """Worker processes fed by a dispatcher thread; see the module docstring."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._ctx = multiprocessing.get_context("spawn")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._running: dict[str, _Running] = {}

    def submit(self, job_id: str) -> None:
        self._wake.set()

    def start(self) -> None:
        requeued, failed = recover_jobs(self.engine, self.settings.job_max_attempts)
        if requeued or failed:
            log.warning("recovered jobs after a stop: %d re-queued, %d failed", requeued, failed)
        self._thread = threading.Thread(target=self._loop, name="countyroute-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for job_id, run in list(self._running.items()):
            run.process.kill()
            run.process.join(timeout=5)
            # a clean shutdown hands the job to the next start
            with self.engine.begin() as conn:
                conn.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == "running", Job.attempt == run.attempt)
                    .values(status="queued", attempt=run.attempt - 1, stage="re-queued on shutdown")
                )
        self._running.clear()

    def _limit_s(self, job_id: str) -> float:
        with Session(self.engine) as s:
            job = s.get(Job, job_id)
            budget = float(json.loads(job.params).get("time_limit_s", 3.0)) if job else 3.0
        return budget * self.settings.job_hard_limit_factor + self.settings.job_grace_s

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._tick()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("job dispatcher")
            self._wake.wait(timeout=0.5)
            self._wake.clear()

    def _tick(self) -> None:
        now = time.monotonic()
        for job_id, run in list(self._running.items()):
            if not run.process.is_alive():
                run.process.join()
                code = run.process.exitcode
                if code != 0:
                    fail(
                        self.engine, job_id, run.attempt, f"worker process died (exit code {code})"
                    )
                del self._running[job_id]
            elif now > run.deadline:
                run.process.kill()
                run.process.join(timeout=5)
                fail(
                    self.engine,
                    job_id,
                    run.attempt,
                    f"time limit exceeded: still solving after {self._limit_s(job_id):.0f} s",
                )
                del self._running[job_id]
        free = self.settings.job_workers - len(self._running)
        if free <= 0:
            return
        with Session(self.engine) as s:
            queued = list(
                s.scalars(
                    select(Job.id)
                    .where(Job.status == "queued")
                    .order_by(Job.created_at)
                    .limit(free)
                )
            )
        for job_id in queued:
            attempt = claim(self.engine, job_id)
            if attempt is None:
                continue
            url = self.engine.url.render_as_string(hide_password=False)
            proc = self._ctx.Process(
                target=_worker_main, args=(url, job_id, attempt), name=f"job-{job_id}", daemon=True
            )
            proc.start()
            self._running[job_id] = _Running(proc, attempt, now + self._limit_s(job_id))
