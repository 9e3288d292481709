"""countyroute's routing core: one day's input becomes a plan across the three tiers.

The public surface, in the order a day flows through it::

    >>> import routing
    >>> from scenarios.bundle import load_bundle
    >>> day = load_bundle("tests/data/tiny").day("2026-12-01")
    >>> plan = routing.plan_day(day, time_limit_s=1, work=20)
    >>> report = routing.check_plan(plan, day.network, day.fleet, day.policy, day.orders)
    >>> report.ok, plan.status.value in ("complete", "partial")
    (True, True)
    >>> sum(len(r.stops) for r in plan.routes) > 0
    True

* :class:`DayInput` — network, fleet, policy, orders and date, validated on construction.
* :func:`plan_day` — plan the day; :func:`replan` — repair it after events.
* :func:`check_plan` — the independent checker (no solver involved).
* :class:`Plan`, :class:`Route`, :class:`Stop`, :class:`Deferred` — the plan model.
* :class:`Solver`, :class:`SolveSettings` and the backends — one protocol,
  ``solve(problem, settings) -> solution``, for OR-Tools, PyVRP and the hybrid default.
"""

from routing.check import CheckReport, Violation, check_plan
from routing.day import plan_day
from routing.inputs import DayInput
from routing.model import Direction, Order, Policy, Vehicle, Wave
from routing.plan import (
    DeferralReason,
    Deferred,
    Load,
    Plan,
    PlanStatus,
    Route,
    Stop,
    StopKind,
    Tier,
)
from routing.problem import SolveStatus, TierNode, TierProblem, TierSolution, TierVehicle
from routing.repair import replan
from routing.solvers import (
    DEFAULT_SOLVER,
    Solver,
    SolveSettings,
    solve_hybrid,
    solve_ortools,
    solve_pyvrp,
)

__all__ = [
    "DEFAULT_SOLVER",
    "CheckReport",
    "DayInput",
    "DeferralReason",
    "Deferred",
    "Direction",
    "Load",
    "Order",
    "Plan",
    "PlanStatus",
    "Policy",
    "Route",
    "SolveSettings",
    "SolveStatus",
    "Solver",
    "Stop",
    "StopKind",
    "Tier",
    "TierNode",
    "TierProblem",
    "TierSolution",
    "TierVehicle",
    "Vehicle",
    "Violation",
    "Wave",
    "check_plan",
    "plan_day",
    "replan",
    "solve_hybrid",
    "solve_ortools",
    "solve_pyvrp",
]
