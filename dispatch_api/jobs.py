"""Jobs that survive: persisted, run outside the request path, never half-written.

A job row goes ``queued → running → succeeded | failed | cancelled``. :func:`execute_job` does
the work of one attempt: it reads its inputs, calls the core and writes its outcome and the
job's end state in **one transaction** that only commits while the job is still ``running`` at
the same ``attempt`` — so a worker left over from a killed server can never overwrite a newer attempt,
and a result is either wholly there or not at all.

Kinds (:data:`PLANNER_KINDS` are the planner's):

``plan``
    ``routing.day.plan_day`` (with pins and the previous plan's assignment) → a plan row.
``repair``
    ``routing.repair.replan`` (keeping the plan's pins) → a
    new plan row whose parent is the repaired one.
``placement``
    ``scenarios.placement.run_placement`` → ``PlacementResult.to_dict()`` in ``jobs.result``.
``simulation``
    ``scenarios.whatif.run_simulation`` → ``SimulationResult.to_dict()`` in ``jobs.result``.
``region``
    Several networks' days (a prefecture's counties), each planned and checked on its own
    (a local pool of ``workers``) → one plan row per network; ``jobs.result`` lists the
    networks with their state as they go (``counties`` of ``GET /jobs/{id}``). A network that
    cannot be read or planned is reported and the others go on; the job fails when any did.

Planner jobs report their progress (``jobs.progress``, ``jobs.stage``) as their tasks finish
and may use a small pool of local processes of their own (``workers``); it dies with them.

Runners:

:class:`ProcessJobRunner`
    The server's: a dispatcher thread claims queued jobs and runs each in its own worker
    process (at most ``settings.job_workers`` at once, ``spawn``ed, killed with the server via
    ``PR_SET_PDEATHSIG``), kills those past their hard time limit and fails them with the
    reason, and kills at once the worker of a job that is no longer its running attempt
    (:func:`cancel`led, or failed by another process). On start it recovers jobs a dead
    server left ``running``: re-queued while they have attempts left, else failed with the
    reason. Several API processes (and hosts) may share one PostgreSQL database: each
    claims jobs with ``FOR UPDATE SKIP LOCKED`` (:func:`claim_next`), keeps a heartbeat on
    the jobs it runs, and recovers only jobs whose owner died (a gone process of its own
    host, or a stale heartbeat).
:class:`InlineJobRunner`
    Runs a job synchronously inside ``submit`` — for tests, no sleeping and polling.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import importlib
import json
import logging
import math
import multiprocessing
import os
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import case, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from dispatch_api.db import (
    FeedItem,
    Job,
    OrderRow,
    PlanRow,
    make_engine,
    normalise_url,
    now_iso,
)
from dispatch_api.edits import pins_of, unmet_pins, with_pins
from dispatch_api.settings import Settings
from dispatch_api.store import (
    ScenarioCache,
    bump_orders,
    closed_roads,
    day_input,
    kpis_of,
    network_row,
    order_to_row,
    plan_document,
    plan_of,
)
from networks import CountyrouteError
from routing import DayInput, plan_day
from routing.plan import Plan
from scenarios.scaleout import Executor, LocalExecutor, SerialExecutor

if TYPE_CHECKING:
    from scenarios.bundle import Scenario
    from scenarios.placement import PlacementParams
    from scenarios.whatif import Change, SimulationSettings

__all__ = [
    "PLANNER_KINDS",
    "RESULT_KINDS",
    "InlineJobRunner",
    "JobRunner",
    "ProcessJobRunner",
    "cancel",
    "change_of",
    "error_code",
    "execute_job",
    "job_budget_s",
    "job_networks",
    "placement_params",
    "recover_jobs",
    "repair_function",
    "simulation_settings",
]

PLANNER_KINDS = frozenset({"placement", "simulation"})
"""Job kinds that end in a result document rather than a plan."""
REGION = "region"
RESULT_KINDS = PLANNER_KINDS | {REGION}
"""Job kinds with a result document and progress reported by their worker."""

log = logging.getLogger("countyroute.jobs")


class JobRunner(Protocol):
    """Where the API hands jobs to."""

    def submit(self, job_id: str) -> None: ...

    def cancelled(self, job_id: str) -> None:
        """The job was :func:`cancel`led: stop its worker now (if this runner runs it)."""
        ...

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


def process_owner() -> str:
    """``host:pid`` of this process: who runs a claimed job."""
    return f"{socket.gethostname()}:{os.getpid()}"


def job_networks(job: Job) -> list[str]:
    """The networks a job touches: a key must see every one of them to see the job."""
    if job.kind == REGION:
        return [str(n) for n in json.loads(job.params)["networks"]]
    return [job.network]


def claim(engine: Engine, job_id: str, owner: str | None = None) -> int | None:
    """Mark a queued job running (next attempt); returns the attempt or None if taken."""
    with engine.begin() as conn:
        row = conn.execute(select(Job.attempt).where(Job.id == job_id, Job.status == "queued"))
        current = row.scalar_one_or_none()
        if current is None:
            return None
        now = now_iso()
        res = conn.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued", Job.attempt == current)
            .values(
                status="running",
                attempt=current + 1,
                started_at=now,
                stage="loading",
                owner=owner or process_owner(),
                heartbeat_at=now,
            )
        )
        return current + 1 if res.rowcount else None


def claim_next(engine: Engine, limit: int, owner: str) -> list[tuple[str, int]]:
    """Claim up to ``limit`` queued jobs for ``owner``: (job id, attempt) each.

    On PostgreSQL the rows are locked with ``SELECT … FOR UPDATE SKIP LOCKED``, so API
    processes on one database each take different jobs without waiting for one another;
    SQLite (one process) ignores the clause and the status guard of the update suffices.
    """
    with engine.begin() as conn:
        rows = conn.execute(
            select(Job.id, Job.attempt)
            .where(Job.status == "queued")
            # the day's plans and repairs go before the planners' long runs
            .order_by(case((Job.kind.in_(RESULT_KINDS), 1), else_=0), Job.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = []
        now = now_iso()
        for job_id, attempt in rows:
            res = conn.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "queued", Job.attempt == attempt)
                .values(
                    status="running",
                    attempt=attempt + 1,
                    started_at=now,
                    stage="loading",
                    owner=owner,
                    heartbeat_at=now,
                )
            )
            if res.rowcount:
                claimed.append((str(job_id), int(attempt) + 1))
    return claimed


def heartbeat(engine: Engine, owner: str, jobs: Mapping[str, int]) -> None:
    """Refresh the heartbeat of the jobs ``owner`` runs (job id → attempt)."""
    if not jobs:
        return
    now = now_iso()
    with engine.begin() as conn:
        for job_id, attempt in jobs.items():
            conn.execute(
                update(Job)
                .where(Job.id == job_id, Job.attempt == attempt, Job.status == "running")
                .values(heartbeat_at=now, owner=owner)
            )


def _owner_dead(owner: str | None, host: str) -> bool:
    """Whether ``host:pid`` names a process of this host that is gone."""
    if not owner or ":" not in owner:
        return True
    owner_host, _, pid = owner.rpartition(":")
    if owner_host != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def job_ended(conn: Any, job_id: str) -> None:
    """Put the job's end on the live feed (in the caller's transaction)."""
    row = conn.execute(
        select(Job.network, Job.kind, Job.status, Job.plan, Job.error, Job.date, Job.params).where(
            Job.id == job_id
        )
    ).first()
    if row is None:
        return
    payload = {
        "job": job_id,
        "kind": row.kind,
        "status": row.status,
        "plan": row.plan,
        "date": row.date or None,
        "error": row.error,
    }
    # a region job's end reaches the feed of each of its networks
    networks = json.loads(row.params)["networks"] if row.kind == REGION else [row.network]
    for network in networks:
        conn.execute(
            insert(FeedItem).values(
                network=network,
                kind="job",
                vehicle=None,
                payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                at=now_iso(),
            )
        )


def fail(engine: Engine, job_id: str, attempt: int | None, reason: str) -> None:
    """Fail a running job with a reason (only the given attempt, when one is given)."""
    with engine.begin() as conn:
        stmt = update(Job).where(Job.id == job_id, Job.status.in_(("running", "queued")))
        if attempt is not None:
            stmt = stmt.where(Job.attempt == attempt)
        if conn.execute(stmt.values(status="failed", error=reason, finished_at=now_iso())).rowcount:
            job_ended(conn, job_id)


_ERRORS: tuple[tuple[str, str], ...] = (
    ("cancelled by ", "cancelled"),
    ("input: no orders imported", "no_orders"),
    ("input: ", "input"),
    ("cannot read the inputs: ", "inputs_unreadable"),
    ("solver error: ", "solver_error"),
    ("time limit exceeded", "time_limit"),
    ("worker process died", "worker_died"),
    ("interrupted: ", "interrupted"),
)
"""How each ``jobs.error`` this module writes begins, and its code."""


def error_code(error: str | None) -> tuple[str | None, dict[str, str]]:
    """The code of a job's ``error`` and the values it names (``cancelled``: ``by``, the key's
    name), so that a client can say it in its own words; ("other", {}) for an error this
    module did not write, (None, {}) for no error."""
    if not error:
        return None, {}
    for prefix, code in _ERRORS:
        if error.startswith(prefix):
            return code, ({"by": error.removeprefix(prefix)} if code == "cancelled" else {})
    return "other", {}


def cancel(engine: Engine, job_id: str, reason: str) -> bool:
    """End a queued or running job as ``cancelled`` with the reason (whatever attempt runs);
    False when it had already ended. Its worker's result can no longer be written (a result
    commits only while its attempt is running); the runner that owns the worker kills it."""
    with engine.begin() as conn:
        res = conn.execute(
            update(Job)
            .where(Job.id == job_id, Job.status.in_(("running", "queued")))
            .values(status="cancelled", stage="cancelled", error=reason, finished_at=now_iso())
        )
        if not res.rowcount:
            return False
        job_ended(conn, job_id)
    return True


def execute_job(engine: Engine, cache: ScenarioCache, job_id: str, attempt: int) -> None:
    """Run one attempt of a claimed job and write its outcome atomically."""
    with Session(engine) as s:
        job = s.get(Job, job_id)
        if job is None or job.status != "running" or job.attempt != attempt:
            return
        kind, network, date, params = job.kind, job.network, job.date, json.loads(job.params)
    if kind == REGION:
        _execute_region(engine, job_id, attempt, date, params)
    elif kind in PLANNER_KINDS:
        _execute_planner(engine, cache, job_id, attempt, kind, network, params)
    else:
        _execute_solve(engine, cache, job_id, attempt, kind, network, date, params)


def _execute_solve(
    engine: Engine,
    cache: ScenarioCache,
    job_id: str,
    attempt: int,
    kind: str,
    network: str,
    date: str,
    params: Mapping[str, Any],
) -> None:
    """A plan or repair job: plan (or re-plan) the day and write the plan row."""
    with Session(engine) as s:
        try:
            day = day_input(s, cache, network, date)
            base: PlanRow | None = s.get(PlanRow, params["plan"]) if kind == "repair" else None
            previous: Plan | None = None
            if params.get("previous_plan"):
                row = s.get(PlanRow, params["previous_plan"])
                if row is None:
                    raise CountyrouteError(f"plan {params['previous_plan']} is gone")
                previous = plan_of(row)
        except Exception as exc:
            fail(engine, job_id, attempt, f"cannot read the inputs: {exc}")
            return
    _set(engine, job_id, attempt, stage="solving")
    pins: dict[str, str] = {}
    try:
        if kind == "plan":
            if not day.orders:
                raise CountyrouteError(f"no orders imported for {day.name} on {day.date}")
            pins = dict(params.get("pins") or {})
            limit = params.get("solution_limit")
            plan = plan_day(
                day,
                time_limit_s=float(params["time_limit_s"]),
                workers=1,
                work=int(limit) if limit else None,
                previous=previous,
                pins=pins,
            )
            new_day = day
        else:
            replan = repair_function()
            if replan is None or base is None:
                raise CountyrouteError("repair is not available in this build")
            from routing.repair import RoadClosed, close_roads, parse_event

            events = tuple(parse_event(e, f"event {n}") for n, e in enumerate(params["events"]))
            base_plan = plan_of(base)
            pins = pins_of(base_plan)
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
                pins=pins,
            )
            if closed:
                settings = dict(plan.settings)
                settings["closed_roads"] = ",".join(dict.fromkeys(closed))
                plan = replace(plan, settings=tuple(settings.items()))
        plan = with_pins(plan, pins)  # the pins hold for the next repair or the next day too
    except CountyrouteError as exc:
        fail(engine, job_id, attempt, f"input: {exc}")
        return
    except Exception as exc:
        log.exception("job %s failed", job_id)
        fail(engine, job_id, attempt, f"solver error: {type(exc).__name__}: {exc}")
        return
    _set(engine, job_id, attempt, stage="writing")
    _write_result(engine, job_id, attempt, network, plan, new_day, base, pins)


# ------------------------------------------------------------------------------ pins
# ------------------------------------------------------------------------------ planner jobs
class _Superseded(Exception):
    """This attempt no longer owns its job (failed by the runner, or a newer attempt runs)."""


class _Reporter:
    """Writes a planner job's progress (share done, stage text) when ``every_s`` has passed
    or the share grew by ``step`` since the last write; stops the work (:class:`_Superseded`)
    once the attempt no longer owns the job."""

    def __init__(
        self, engine: Engine, job_id: str, attempt: int, every_s: float = 0.5, step: float = 0.1
    ) -> None:
        self.engine = engine
        self.job_id = job_id
        self.attempt = attempt
        self.every_s = every_s
        self.step = step
        self._last = -math.inf
        self._share = -math.inf

    def __call__(self, share: float, stage: str) -> None:
        now = time.monotonic()
        done = round(min(max(share, 0.0), 1.0), 4)
        if now - self._last < self.every_s and done - self._share < self.step:
            return
        self._last, self._share = now, done
        if not _set(self.engine, self.job_id, self.attempt, progress=done, stage=stage[:40]):
            raise _Superseded


def _die_with_parent() -> None:
    try:  # Linux: the kernel kills this process when its parent dies
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class _JobPool(LocalExecutor):
    """Local worker processes of one planner job; they die with the job's worker (killed at
    its time limit, or with the server)."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._pool = self._new_pool(self.workers)

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        # also the pools that replace a broken one and run a suspect task alone
        return ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent)


def _executor(workers: int) -> Executor:
    return _JobPool(workers) if workers > 1 else SerialExecutor()


def placement_params(doc: Mapping[str, Any]) -> PlacementParams:
    """``PlacementParams`` from a placement request (``PlacementCreate`` as JSON); raises
    InvalidScenario (its field as the core names it: ``radius_m``, ``points`` …)."""
    from scenarios.placement import (
        DEFAULT_POINT_COST,
        DEFAULT_STATION_COST,
        CoverageBasis,
        Level,
        Model,
        Objective,
        PlacementParams,
    )

    def cost(key: str, default: float) -> float:
        value = doc.get(key)
        return default if value is None else float(value)

    return PlacementParams(
        radius_m=round(float(doc.get("radius_km", 3.0)) * 1000),
        min_coverage=float(doc.get("min_coverage", 0.6)),
        coverage_of=CoverageBasis(doc.get("coverage_of", "villages")),
        model=Model(doc["model"]) if doc.get("model") else None,
        points=None if doc.get("points") is None else int(doc["points"]),
        level=Level(doc.get("level", "point")),
        point_cost=cost("point_cost", DEFAULT_POINT_COST),
        station_cost=cost("station_cost", DEFAULT_STATION_COST),
        keep_existing=bool(doc.get("keep_existing", False)),
        objective=Objective(doc.get("objective", "cost")),
        poor_must_be_covered=bool(doc.get("poor_must_be_covered", True)),
        vehicle_class=doc.get("vehicle_class"),
        time_limit_s=float(doc.get("time_limit_s", 10.0)),
    )


def simulation_settings(doc: Mapping[str, Any]) -> SimulationSettings:
    """``SimulationSettings`` from a request's days (``SimulationDays`` as JSON); raises
    InvalidScenario, or ValueError for a date that does not exist."""
    from scenarios.whatif import SimulationSettings

    limit = doc.get("solution_limit")
    settings = SimulationSettings(
        days=int(doc.get("days", 30)),
        seed=int(doc.get("seed", 7)),
        time_limit_s=float(doc.get("time_limit_s", 1.0)),
        solutions=int(limit) if limit else None,
    )
    return replace(settings, start=str(doc["start"])) if doc.get("start") else settings


def change_of(spec: Mapping[str, Any]) -> Change:
    """A stored change (``{"source": name, "doc": the change file as JSON}``) parsed by
    ``scenarios.whatif.parse_change``; raises InvalidScenario naming table and key."""
    from scenarios.whatif import parse_change

    return parse_change(spec["doc"], source=str(spec["source"]))


def setup_costs(files: Mapping[str, str]) -> dict[str, float]:
    """Per-site set-up costs (yuan) of a stored bundle: its sites' ``setup_cost``."""
    from scenarios.placement import read_setup_costs

    with tempfile.TemporaryDirectory(prefix="countyroute-costs-") as tmp:
        (Path(tmp) / "network.geojson").write_text(files["network.geojson"], encoding="utf-8")
        return read_setup_costs(tmp)


def _finite(value: Any) -> Any:
    """JSON-safe: NaN and infinities (never expected in a result) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _placement_progress(
    report: _Reporter, curve: bool, simulate: bool
) -> Callable[[str, int, int], None]:
    # shares of the work: the solve is quick; the curve and the simulated days are the bulk
    w_curve = (0.4 if simulate else 0.9) if curve else 0.0
    w_sim = 0.9 - w_curve if simulate else 0.0

    def progress(stage: str, done: int, total: int) -> None:
        part = done / max(total, 1)
        if stage == "solve":
            report(0.1 * part, "placing")
        elif stage == "curve":
            report(0.1 + w_curve * part, f"coverage curve {done}/{total}")
        else:
            report(0.1 + w_curve + w_sim * part, f"simulating {done}/{total} days")

    return progress


def _run_planner(
    kind: str,
    params: Mapping[str, Any],
    scenario: Scenario,
    files: Mapping[str, str],
    report: _Reporter,
) -> dict[str, Any]:
    with _executor(int(params.get("workers", 1))) as executor:
        if kind == "placement":
            from scenarios.placement import run_placement

            simulate = params.get("simulate")
            placed = run_placement(
                scenario,
                placement_params(params),
                setup_costs=setup_costs(files),
                curve=bool(params.get("curve", True)),
                curve_samples=int(params.get("curve_samples", 24)),
                executor=executor,
                progress=_placement_progress(
                    report, bool(params.get("curve", True)), simulate is not None
                ),
                simulate=simulation_settings(simulate) if simulate else None,
            )
            return placed.to_dict()
        from scenarios.whatif import run_simulation

        baseline = params.get("baseline")
        simulated = run_simulation(
            scenario,
            change_of(params["change"]),
            simulation_settings(params),
            baseline=change_of(baseline) if baseline else None,
            executor=executor,
            progress=lambda done, total: report(
                done / max(total, 1), f"planned {done}/{total} days"
            ),
        )
        return simulated.to_dict()


def _execute_planner(
    engine: Engine,
    cache: ScenarioCache,
    job_id: str,
    attempt: int,
    kind: str,
    network: str,
    params: Mapping[str, Any],
) -> None:
    """A placement or simulation job: run it, reporting progress, and write its result."""
    with Session(engine) as s:
        try:
            row = network_row(s, network)
            scenario = cache.get(row)
            files: dict[str, str] = json.loads(row.files)
        except Exception as exc:
            fail(engine, job_id, attempt, f"cannot read the inputs: {exc}")
            return
    report = _Reporter(engine, job_id, attempt)
    try:
        report(0.0, "placing" if kind == "placement" else "simulating")
        doc = _run_planner(kind, params, scenario, files, report)
        text = json.dumps(_finite(doc), ensure_ascii=False, separators=(",", ":"), default=str)
    except _Superseded:
        return
    except (CountyrouteError, ValueError) as exc:
        fail(engine, job_id, attempt, f"input: {exc}")
        return
    except Exception as exc:
        log.exception("job %s failed", job_id)
        fail(engine, job_id, attempt, f"solver error: {type(exc).__name__}: {exc}")
        return
    if _set(
        engine,
        job_id,
        attempt,
        status="succeeded",
        result=text,
        progress=1.0,
        stage="done",
        finished_at=now_iso(),
    ):
        with engine.begin() as conn:
            job_ended(conn, job_id)


# ------------------------------------------------------------------------------ region jobs
def _region_task(params: Mapping[str, Any], day: DayInput) -> tuple[Plan | None, dict[str, Any]]:
    """Plan and check one network's day (in a worker): the plan and its figures, or None and
    the error — a network's failure must not end the others'."""
    from routing.check import check_plan
    from scenarios.batch import plan_figures

    started = time.perf_counter()
    try:
        limit = params.get("solution_limit")
        plan = plan_day(
            day,
            time_limit_s=float(params["time_limit_s"]),
            workers=1,
            work=int(limit) if limit else None,
        )
        report = check_plan(plan, day.network, day.fleet, day.policy, day.orders)
    except CountyrouteError as exc:
        return None, {"error": f"input: {exc}"}
    except Exception as exc:
        return None, {"error": f"solver error: {type(exc).__name__}: {exc}"}
    figures = plan_figures(plan, day.orders)
    figures["check_ok"] = report.ok
    figures["seconds"] = round(time.perf_counter() - started, 2)
    return plan, figures


def _region_lost(_: int, exc: BaseException) -> tuple[Plan | None, dict[str, Any]]:
    return None, {"error": str(exc)}


def _write_county_plan(
    engine: Engine, job_id: str, attempt: int, network: str, plan: Plan, day: DayInput
) -> int:
    """A region job's plan row for one network, written only while the attempt owns the job."""
    with Session(engine) as s, s.begin():
        owns = s.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "running", Job.attempt == attempt)
            .values(heartbeat_at=now_iso())
        )
        if not getattr(owns, "rowcount", 0):
            raise _Superseded
        row = PlanRow(
            network=network,
            network_version=plan.network_version,
            date=day.date,
            status="draft",
            revision=1,
            parent=None,
            job=job_id,
            document=plan_document(plan),
            kpis=json.dumps(_kpis(plan, day, {})),
            created_at=now_iso(),
        )
        s.add(row)
        s.flush()
        return int(row.id)


def _execute_region(
    engine: Engine,
    job_id: str,
    attempt: int,
    date: str,
    params: Mapping[str, Any],
) -> None:
    """A region job: the networks' days planned ``workers`` at a time (so only that many
    networks are in memory), each written as it finishes; the job's result lists them."""
    networks = [str(n) for n in params["networks"]]
    counties: list[dict[str, Any]] = [{"network": n, "state": "queued"} for n in networks]

    def publish(**end: Any) -> None:
        ended = sum(c["state"] in ("planned", "failed") for c in counties)
        doc = json.dumps({"date": date, "counties": counties}, ensure_ascii=False)
        values = {"result": doc, "progress": ended / len(counties), **end}
        values.setdefault("stage", f"planned {ended}/{len(counties)} networks")
        if not _set(engine, job_id, attempt, **values):
            raise _Superseded

    days: dict[int, DayInput] = {}  # the networks of the current round, by position
    order: list[int] = []

    def each(i: int, outcome: tuple[Plan | None, dict[str, Any]]) -> None:
        k = order[i]
        plan, figures = outcome
        if plan is None:
            counties[k].update(state="failed", **figures)
        else:
            plan_id = _write_county_plan(engine, job_id, attempt, networks[k], plan, days[k])
            if not figures["check_ok"]:
                figures["error"] = "the checker found violations"
            state = "planned" if figures["check_ok"] else "failed"
            counties[k].update(state=state, plan=plan_id, plan_url=f"/plans/{plan_id}", **figures)
        publish()

    try:
        with _executor(int(params.get("workers", 1))) as executor:
            for first in range(0, len(networks), executor.workers):
                days.clear()
                for k in range(first, min(first + executor.workers, len(networks))):
                    try:
                        with Session(engine) as s:  # a cache of its own: one round in memory
                            day = day_input(s, ScenarioCache(), networks[k], date)
                        if not day.orders:
                            raise CountyrouteError(
                                f"no orders imported for {networks[k]} on {date}"
                            )
                    except Exception as exc:
                        counties[k].update(state="failed", error=f"cannot read the inputs: {exc}")
                        continue
                    days[k] = day
                    counties[k]["state"] = "running"
                publish()
                order[:] = list(days)
                executor.map(
                    _region_task,
                    dict(params),
                    [days[k] for k in order],
                    each=each,
                    lost=_region_lost,  # a worker that died fails its network only
                )
    except _Superseded:
        return
    failed = [c for c in counties if c["state"] == "failed"]
    end: dict[str, Any] = {"finished_at": now_iso(), "stage": "done"}
    if failed:
        listed = "; ".join(f"{c['network']}: {c.get('error', '')}" for c in failed)
        end.update(
            status="failed", error=f"{len(failed)} of {len(counties)} networks failed: {listed}"
        )
    else:
        end.update(status="succeeded", progress=1.0)
    try:
        publish(**end)
    except _Superseded:
        return
    with engine.begin() as conn:
        job_ended(conn, job_id)


# ------------------------------------------------------------------------------ plan results
def _write_result(
    engine: Engine,
    job_id: str,
    attempt: int,
    network: str,
    plan: Plan,
    day: DayInput,
    base: PlanRow | None,
    pins: Mapping[str, str],
) -> None:
    """The plan row (filed under the job's network, whatever the bundle calls itself) and the
    job's end state, in one transaction."""
    with Session(engine) as s, s.begin():
        known = set(
            s.scalars(
                select(OrderRow.id).where(OrderRow.network == network, OrderRow.date == day.date)
            )
        )
        new_orders = [order_to_row(network, day.date, o) for o in day.orders if o.id not in known]
        if new_orders:  # repair may bring orders (an urgent pickup)
            s.execute(insert(OrderRow), new_orders)
            bump_orders(s, network, day.date)
        row = PlanRow(
            network=network,
            network_version=plan.network_version,
            date=day.date,
            status="draft",
            revision=1,
            parent=base.id if base is not None else None,
            job=job_id,
            document=plan_document(plan),
            kpis=json.dumps(_kpis(plan, day, pins)),
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
        else:
            job_ended(s.connection(), job_id)


def _kpis(plan: Plan, day: DayInput, pins: Mapping[str, str]) -> dict[str, Any]:
    """The plan's KPIs; with pins, also ``pins_unmet``: pinned village points a run of another
    vehicle visits (the pinned vehicle was down, or could not serve them)."""
    kpis = kpis_of(plan, day)
    if pins:
        kpis["pins"] = len(pins)
        kpis["pins_unmet"] = unmet_pins(plan, pins)
    return kpis


def recover_jobs(
    engine: Engine, max_attempts: int, *, stale_s: float = 60.0, everything: bool = False
) -> tuple[int, int]:
    """Jobs whose process stopped: re-queue (attempts left) or fail with the reason.

    A running job is orphaned when its owner is a process of this host that no longer exists,
    or its heartbeat is older than ``stale_s`` (an owner on another host that died);
    ``everything`` takes every running job (one process per database). Jobs of live
    processes are left alone, so several API processes can share one database.

    Returns (re-queued, failed).
    """
    host = socket.gethostname()
    cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=stale_s)).isoformat(
        timespec="microseconds"
    )
    requeued = failed = 0
    with engine.begin() as conn:
        running = conn.execute(
            select(Job.id, Job.attempt, Job.owner, Job.heartbeat_at)
            .where(Job.status == "running")
            .with_for_update(skip_locked=True)
        ).all()
        for job_id, attempt, owner, beat in running:
            if not (everything or _owner_dead(owner, host) or (beat or "") < cutoff):
                continue
            guard = (Job.id == job_id, Job.status == "running", Job.attempt == attempt)
            if attempt < max_attempts:
                conn.execute(
                    update(Job)
                    .where(*guard)
                    .values(status="queued", stage="re-queued after a server stop", owner=None)
                )
                requeued += 1
            else:
                conn.execute(
                    update(Job)
                    .where(*guard)
                    .values(
                        status="failed",
                        error=f"interrupted: the server stopped during the solve {max_attempts} times",
                        finished_at=now_iso(),
                    )
                )
                failed += 1
    return requeued, failed


class InlineJobRunner:
    """Runs each job inside ``submit`` (tests, scripts)."""

    def __init__(self, engine: Engine, cache: ScenarioCache) -> None:
        self.engine = engine
        self.cache = cache

    def submit(self, job_id: str) -> None:
        attempt = claim(self.engine, job_id)
        if attempt is not None:
            execute_job(self.engine, self.cache, job_id, attempt)

    def cancelled(self, job_id: str) -> None:
        return None  # a job runs inside submit: never still running when cancelled

    def start(self) -> None:
        recover_jobs(self.engine, 1, everything=True)

    def stop(self) -> None:
        return None


def _worker_main(database_url: str, job_id: str, attempt: int) -> None:
    _die_with_parent()
    with contextlib.suppress(OSError):  # lead a process group: a kill takes a job's pool too
        os.setpgid(0, 0)
    engine = make_engine(database_url) if database_url.startswith("sqlite") else None
    if engine is None:
        from sqlalchemy import create_engine

        engine = create_engine(normalise_url(database_url), poolclass=NullPool)
    execute_job(engine, ScenarioCache(), job_id, attempt)
    engine.dispose()


def job_budget_s(params: Mapping[str, Any]) -> float:
    """The solver time a job may take (its hard limit is a multiple of it): ``budget_s`` of a
    planner job, else the plan's ``time_limit_s``."""
    return float(params.get("budget_s", params.get("time_limit_s", 3.0)))


def _kill(process: BaseProcess) -> None:
    """SIGKILL a worker and its process group (a planner job's pool)."""
    if process.pid is not None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
            return
        except OSError:  # not (yet) leading its own group
            pass
    process.kill()


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
        self._owner = process_owner()
        self._beat = 0.0

    def submit(self, job_id: str) -> None:
        self._wake.set()

    def cancelled(self, job_id: str) -> None:
        # the dispatcher thread owns the workers: it finds the job ended and kills the worker
        self._wake.set()

    def start(self) -> None:
        requeued, failed = recover_jobs(
            self.engine, self.settings.job_max_attempts, stale_s=self.settings.job_stale_s
        )
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
            _kill(run.process)
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
            budget = job_budget_s(json.loads(job.params)) if job else 3.0
        return budget * self.settings.job_hard_limit_factor + self.settings.job_grace_s

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._tick()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("job dispatcher")
            self._wake.wait(timeout=0.5)
            self._wake.clear()

    def _owned(self) -> set[str]:
        """The running jobs whose row still says this attempt runs (else: cancelled, or
        failed or re-queued by another process)."""
        if not self._running:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(Job.id, Job.status, Job.attempt).where(Job.id.in_(list(self._running)))
            ).all()
        return {
            str(job_id)
            for job_id, status, attempt in rows
            if status == "running" and attempt == self._running[str(job_id)].attempt
        }

    def _tick(self) -> None:
        now = time.monotonic()
        owned = self._owned()
        for job_id, run in list(self._running.items()):
            if not run.process.is_alive():
                run.process.join()
                code = run.process.exitcode
                if code != 0:
                    fail(
                        self.engine, job_id, run.attempt, f"worker process died (exit code {code})"
                    )
                del self._running[job_id]
            elif job_id not in owned:
                # the job ended without its worker (cancelled): stop the search now rather
                # than at its time limit; its result could not be written anyway
                _kill(run.process)
                run.process.join(timeout=5)
                log.info("job %s is no longer running here: its worker was stopped", job_id)
                del self._running[job_id]
            elif now > run.deadline:
                _kill(run.process)
                run.process.join(timeout=5)
                fail(
                    self.engine,
                    job_id,
                    run.attempt,
                    f"time limit exceeded: still solving after {self._limit_s(job_id):.0f} s",
                )
                del self._running[job_id]
        if now - self._beat >= self.settings.job_heartbeat_s:
            self._beat = now
            heartbeat(self.engine, self._owner, {j: r.attempt for j, r in self._running.items()})
            # jobs of a process (of any host) that died: back in the queue
            recover_jobs(
                self.engine, self.settings.job_max_attempts, stale_s=self.settings.job_stale_s
            )
        free = self.settings.job_workers - len(self._running)
        if free <= 0:
            return
        for job_id, attempt in claim_next(self.engine, free, self._owner):
            url = self.engine.url.render_as_string(hide_password=False)
            # not a daemon: a planner job may start its own pool (daemons may have no
            # children); stop() and PR_SET_PDEATHSIG still end every worker with the server
            proc = self._ctx.Process(
                target=_worker_main, args=(url, job_id, attempt), name=f"job-{job_id}", daemon=False
            )
            proc.start()
            self._running[job_id] = _Running(proc, attempt, now + self._limit_s(job_id))
