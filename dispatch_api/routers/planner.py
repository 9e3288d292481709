"""The planner's jobs: station and village-point placement, and what-if simulation.

``POST /networks/{n}/placements`` runs ``scenarios.placement.run_placement`` and
``POST /networks/{n}/simulations`` runs ``scenarios.whatif.run_simulation`` as jobs in the
worker pool (202 + ``Location: /jobs/{id}``, like plan jobs); ``GET /jobs/{id}/result`` is
the result document (``PlacementResult.to_dict`` / ``SimulationResult.to_dict``).

Bodies are parsed for shape by pydantic; the values are checked here by the core itself
(``PlacementParams``, ``SimulationSettings``, ``parse_change``, ``apply_change``) before the
job is queued, so a bad body is a 422 naming its field rather than a failed job.

Budgets: a planner job may take about ``budget_s`` seconds of solver time (from its time
limits, days or curve size and workers, see :func:`_simulation_budget_s` and
:func:`_placement_budget_s`); it is refused above ``settings.max_planner_job_s`` and killed
at ``job_hard_limit_factor × budget_s + job_grace_s`` like a plan job.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Response

from dispatch_api.deps import Ctx, DbSession, PlannerKey, StaffKey, visible_network
from dispatch_api.jobs import RESULT_KINDS, placement_params, simulation_settings
from dispatch_api.problems import Problem
from dispatch_api.routers.plans import JobId, job_public, job_row, new_job
from dispatch_api.schemas import (
    JobKind,
    JobPublic,
    NetworkName,
    PlacementCreate,
    SimulationCreate,
)
from dispatch_api.security import Principal
from dispatch_api.store import audit, network_row
from networks import InvalidScenario
from scenarios.bundle import BUILTIN_DIR

router = APIRouter(tags=["planner"])

CHANGES_DIR = BUILTIN_DIR / "changes"
"""The built-in change files a simulation may name (``scenarios/data/changes``)."""

_PLACEMENT_FIELDS = {"radius_m": "radius_km"}
"""``PlacementParams`` fields whose name differs in the request."""


def builtin_changes() -> dict[str, Path]:
    """Built-in change files by name (``growth30`` → ``…/changes/growth30.toml``)."""
    return {p.stem: p for p in sorted(CHANGES_DIR.glob("*.toml"))}


def _problem(exc: InvalidScenario, prefix: str, rename: dict[str, str] | None = None) -> Problem:
    """The core's input error as a 422 naming the request field: ``prefix`` + the table of a
    change (``[points] add[0]`` → ``points.add[0]``) + the key."""
    location = re.sub(r"\[([A-Za-z_]+)\]\s*", r"\1.", exc.location).strip().strip(".")
    key = (rename or {}).get(exc.field, exc.field)
    field = ".".join(p for p in (prefix, location, key) if p)
    error = {"field": field, "source": exc.source, "location": exc.location, "detail": exc.message}
    return Problem(422, str(exc), field=field, code="invalid-input", errors=[error])


def _change(spec: str | dict[str, Any], field: str) -> dict[str, Any]:
    """A change as the job stores it: ``{"source", "doc"}`` (a built-in file is read here, so
    the job is the same whatever happens to the file later)."""
    if isinstance(spec, dict):
        return {"source": field, "doc": spec}
    name = spec.removesuffix(".toml")
    known = builtin_changes()
    if name not in known:
        raise Problem(
            422,
            f"no built-in change {spec!r} (built-in: {', '.join(known)}); "
            "or give the change itself as an object",
            field=field,
        )
    try:
        doc = tomllib.loads(known[name].read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:  # a broken shipped file: say which
        raise Problem(422, f"{known[name].name}: not valid TOML: {exc}", field=field) from None
    return {"source": known[name].name, "doc": doc}


def _check_settings(doc: dict[str, Any], prefix: str) -> None:
    try:
        simulation_settings(doc)
    except InvalidScenario as exc:
        raise _problem(exc, prefix) from None
    except ValueError as exc:  # a date that matches the pattern but does not exist
        field = ".".join(filter(None, (prefix, "start")))
        raise Problem(422, f"not a date: {exc}", field=field) from None


def _side_s(days: int, time_limit_s: float, alone: bool) -> float:
    """Solver time of one side of a simulation: each day planned in its budget (each carrier
    on its own when ``alone``: at most as many plans as carriers are active)."""
    from scenarios.demand import DemandParams

    carriers = DemandParams().n_carriers[1] if alone else 1
    return days * time_limit_s * carriers


def _simulation_budget_s(
    days: int, time_limit_s: float, alone: tuple[bool, bool], workers: int
) -> float:
    """Both sides' days on ``workers`` processes, plus a few seconds to set up."""
    sides = sum(_side_s(days, time_limit_s, a) for a in alone)
    return round(sides / workers + 5.0, 1)


def _placement_budget_s(body: PlacementCreate, workers: int) -> float:
    """The placement's solves (two phases, and the infeasibility diagnosis: four solves at
    most), the curve's (two phases per count) on ``workers``, and a simulation's days."""
    budget = 4 * body.time_limit_s + 5.0
    if body.curve:
        budget += 2 * (body.curve_samples + 1) * body.time_limit_s / workers
    if body.simulate is not None:
        budget += _simulation_budget_s(
            body.simulate.days, body.simulate.time_limit_s, (False, False), workers
        )
    return round(budget, 1)


def _within(ctx: Ctx, budget_s: float, hint: str) -> None:
    if budget_s > ctx.settings.max_planner_job_s:
        raise Problem(
            422,
            f"the job could take {budget_s:.0f} s of solver time, over this server's "
            f"{ctx.settings.max_planner_job_s:.0f} s: {hint}",
            field="time_limit_s",
        )


def _started(
    ctx: Ctx,
    session: DbSession,
    who: Principal,
    kind: JobKind,
    network: str,
    date: str,
    params: dict[str, object],
    response: Response,
) -> JobPublic:
    job = new_job(ctx, who, kind, network, date, params)
    with ctx.sessions() as s:
        audit(
            s, who, f"planner.{kind.value}", f"network/{network}", {"job": job.id}, network=network
        )
        s.commit()
    response.headers["Location"] = f"/jobs/{job.id}"
    return job_public(job)


@router.post("/networks/{network}/placements", status_code=202, response_model=JobPublic)
def start_placement(
    network: NetworkName,
    body: PlacementCreate,
    response: Response,
    session: DbSession,
    ctx: Ctx,
    who: PlannerKey,
) -> JobPublic:
    """Place village points (``level: point``) or town stations (``level: station``):
    set covering, maximal covering or p-median on the network's road distances, with the
    coverage curve; answers 202 with the job, whose result is ``PlacementResult.to_dict()``
    (chosen sites, coverage, poor villages covered, set-up cost, infeasibilities)."""
    visible_network(who, network)
    sc = ctx.scenarios.get(network_row(session, network))
    try:
        placement_params(body.model_dump())
    except InvalidScenario as exc:
        raise _problem(exc, "", _PLACEMENT_FIELDS) from None
    except (ArithmeticError, ValueError):  # a value too large to convert (radius_km: -1e308)
        raise Problem(
            422, "radius_km is too large in magnitude", field="radius_km", code="invalid-input"
        ) from None
    classes = [vc.name for vc in sc.network.vehicle_classes]
    if body.vehicle_class is not None and body.vehicle_class not in classes:
        raise Problem(
            422,
            f"{network} has no vehicle class {body.vehicle_class!r} ({', '.join(classes)})",
            field="vehicle_class",
        )
    if body.simulate is not None:
        # the core's rule (scenarios.placement.placement_change), checked before the solve
        if body.level != "point":
            raise Problem(422, "only village-point placements can be simulated", field="simulate")
        _check_settings(body.simulate.model_dump(), "simulate")
    workers = min(body.workers, ctx.settings.planner_max_workers)
    budget = _placement_budget_s(body, workers)
    _within(ctx, budget, "lower time_limit_s or curve_samples, or simulate fewer days")
    params = {**body.model_dump(mode="json"), "workers": workers, "budget_s": budget}
    return _started(ctx, session, who, JobKind.PLACEMENT, network, "", params, response)


@router.post("/networks/{network}/simulations", status_code=202, response_model=JobPublic)
def start_simulation(
    network: NetworkName,
    body: SimulationCreate,
    response: Response,
    session: DbSession,
    ctx: Ctx,
    who: PlannerKey,
) -> JobPublic:
    """Simulate a change against a baseline (default: the network as it is) on the same
    seeded demand days with the real daily planner; answers 202 with the job, whose result
    is ``SimulationResult.to_dict()`` (each KPI per day, its spread, and the differences)."""
    from scenarios.whatif import apply_change, parse_change

    visible_network(who, network)
    sc = ctx.scenarios.get(network_row(session, network))
    sides: dict[str, dict[str, Any] | None] = {
        "change": _change(body.change, "change"),
        "baseline": _change(body.baseline, "baseline") if body.baseline is not None else None,
    }
    alone = []
    for field, spec in sides.items():
        if spec is None:
            alone.append(False)
            continue
        try:
            change = parse_change(spec["doc"], source=spec["source"])
            apply_change(sc, change)
        except InvalidScenario as exc:
            raise _problem(exc, field) from None
        except (ArithmeticError, TypeError, ValueError) as exc:  # a value the reader missed
            raise Problem(422, f"{field}: {exc}", field=field, code="invalid-input") from None
        alone.append(change.carriers_alone)
    _check_settings(body.model_dump(), "")
    workers = min(body.workers, ctx.settings.planner_max_workers)
    budget = _simulation_budget_s(body.days, body.time_limit_s, (alone[0], alone[1]), workers)
    _within(ctx, budget, "simulate fewer days, lower time_limit_s, or use more workers")
    params = {
        **body.model_dump(mode="json"),
        **sides,
        "workers": workers,
        "budget_s": budget,
    }
    date = simulation_settings(body.model_dump()).start
    return _started(ctx, session, who, JobKind.SIMULATION, network, date, params, response)


@router.get("/jobs/{job_id}/result", response_model=dict[str, Any])
def read_job_result(job_id: JobId, session: DbSession, who: StaffKey) -> Response:
    """A planner job's result document: ``PlacementResult.to_dict()`` or
    ``SimulationResult.to_dict()`` (docs/planner.md); a region job's networks with their
    plans (docs/region.md). 409 while the job is not done."""
    job = job_row(session, job_id, who)
    if job.kind not in RESULT_KINDS:
        where = f" (its result is /plans/{job.plan})" if job.plan is not None else ""
        raise Problem(404, f"a {job.kind} job ends in a plan, not a result{where}", field="job_id")
    if job.status != "succeeded" or job.result is None:
        reason = f": {job.error}" if job.error else ""
        raise Problem(409, f"job {job_id} is {job.status}{reason}", field="job_id")
    return Response(content=job.result, media_type="application/json")
