"""The product's default solver: PyVRP searches, OR-Tools checks and polishes its routes.

:func:`solve_hybrid` gives PyVRP most of a problem's budget and hands its routes to the
OR-Tools model, which models every constraint, as a warm start for the rest. The shares below
divide *one problem's* budget between the two backends; how a day's budget is divided among
its problems is :mod:`routing.budget`'s business.
"""

from __future__ import annotations

import time
from dataclasses import replace

from routing.evaluate import evaluate_solution
from routing.problem import SolveStatus, TierProblem, TierSolution
from routing.solvers.ortools_model import solve_ortools
from routing.solvers.parallel import parallel_search
from routing.solvers.pyvrp_search import (
    START_RESTARTS,
    approximation_gap,
    empty_solution,
    initial_routes,
    pyvrp_from_start,
    pyvrp_start,
    unsupported_feature,
)
from routing.solvers.settings import Solver, SolveSettings

__all__ = [
    "ALONE_PER",
    "HYBRID_PYVRP_SHARE",
    "MAX_POLISH_S",
    "MIN_POLISH_S",
    "POLISH_SOLUTIONS_PER",
    "START_MIN_S",
    "START_POLISH_PER",
    "START_SHARE",
    "solve_hybrid",
]

HYBRID_PYVRP_SHARE = 0.95
"""Share of the hybrid's budget given to PyVRP; OR-Tools checks and polishes in the rest.
Measured on the X, Solomon and Gehring–Homberger instances at 5 s: every second moved from
PyVRP to OR-Tools costs more than OR-Tools' polish gains (mean gap on X 1.05 % at 0.95,
1.12 % at 0.9, 1.22–1.28 % at 0.7, 1.45 % at 0.5; see benchmarks/RESULTS.md)."""

START_SHARE = 0.7
"""Share of the budget :func:`solve_hybrid` gives :func:`pyvrp_start` on problems PyVRP only
approximates. Measured on the built-in county's nine village-run problems: with 0.4 s each,
the OR-Tools answer from PyVRP's start is 7.3 % cheaper than OR-Tools alone (7.3 % at a 0.5
share, 7.3 % at 0.8); with 1 s, 6.7–6.8 %."""

START_MIN_S = 0.1
"""PyVRP's least time on an approximated problem: with less its start is poor, and a tight
station budget is better overrun a little than spent on OR-Tools alone (nine station problems
at 0.1 s each: 0.16 s per station and 3.7 % cheaper than the 0.25 s polish floor, which took
0.28 s; equal at 0.4 s)."""

POLISH_SOLUTIONS_PER = 100
"""Under a solution limit (deterministic work) PyVRP runs that many iterations and OR-Tools
then stops after one solution per this many (at least one: its check of PyVRP's routes)."""

START_POLISH_PER = 20
"""Under a work budget, OR-Tools' solutions per unit of work when it polishes a start PyVRP
found on an approximation (the village runs): there OR-Tools, which models every constraint,
does much of the search; measured on the built-in county's stations, PyVRP runs about 30
iterations in the time OR-Tools takes for one solution."""

ALONE_PER = 4
"""Under a work budget, OR-Tools' solutions per unit of work when it searches alone (soft
windows: the trunk's down wave; repairs under way): one solution there costs it about as much
time as four PyVRP iterations on a village run."""

MIN_POLISH_S = 0.25
"""OR-Tools' least share: loading the warm start into a model of 400 stops takes ~0.1 s, and
with less time it may stop before it has accepted it."""

MAX_POLISH_S = 0.5
"""OR-Tools' largest share at long budgets: its part is the check of PyVRP's routes under
every constraint and a short polish, which 0.5 s covers at 400 stops; more is taken from
PyVRP's search."""


def _polish_s(budget_s: float, share: float) -> float:
    return min(MAX_POLISH_S, max(MIN_POLISH_S, (1 - share) * budget_s))


def _polish_settings(
    settings: SolveSettings, left_s: float, per: int = POLISH_SOLUTIONS_PER
) -> SolveSettings:
    """OR-Tools' part: the time left (or, under a work budget, one solution per ``per``
    units of work)."""
    return replace(
        settings,
        time_limit_s=left_s,
        work=None if settings.work is None else max(1, settings.work // per),
    )


def _warm(problem: TierProblem, first: TierSolution) -> TierProblem:
    """``problem`` with PyVRP's routes as its warm start."""
    return replace(problem, initial_routes=initial_routes(problem, first))


def _keep_callers_start(
    problem: TierProblem,
    settings: SolveSettings,
    polish: Solver,
    found: TierSolution,
    started: float,
    per: int,
) -> TierSolution:
    """``found``, or OR-Tools' polish of the caller's own warm start
    (``problem.initial_routes``, e.g. the routes a joint search ended with) when that is
    cheaper: a search handed a start never returns worse than the start polished. When the
    search went on from the start (``settings.go_on``: an earlier round's answer, polished
    already), the start is only checked (OR-Tools' first solution from it).

    Both answers are OR-Tools' on the same model, so their objectives compare. Without a
    caller's start, ``found`` as it is."""
    if not problem.initial_routes:
        return found
    least = max(0.05, MIN_POLISH_S * min(1.0, len(problem.nodes) / 200))
    left = max(least, settings.time_limit_s - (time.perf_counter() - started))
    if settings.go_on:
        kept = polish(problem, replace(settings, time_limit_s=left, work=1))
    else:
        kept = polish(problem, _polish_settings(settings, left, per))
    wall = time.perf_counter() - started
    if kept.status is SolveStatus.FEASIBLE and (
        found.status is not SolveStatus.FEASIBLE or kept.objective < found.objective
    ):
        return replace(
            kept,
            wall_s=wall,
            backend="start+ortools",
            clock_stopped=kept.clock_stopped or found.clock_stopped,
        )
    return replace(found, wall_s=wall, clock_stopped=kept.clock_stopped or found.clock_stopped)


def _start_then_polish(
    problem: TierProblem, settings: SolveSettings, polish: Solver
) -> TierSolution:
    started = time.perf_counter()
    budget = settings.time_limit_s
    own = settings.with_time(max(START_MIN_S, START_SHARE * budget))
    moved_on = True  # PyVRP's answer, not the caller's start, is what OR-Tools polishes
    try:
        if settings.go_on and problem.initial_routes:
            # PyVRP goes on from the earlier answer, with all its starts' work
            work = None if own.work is None else own.work * START_RESTARTS
            first, start_cost, start_ok = pyvrp_from_start(problem, replace(own, work=work))
            # an answer PyVRP does not improve on, or cannot take as it is (its
            # approximation's shifted loading times), is polished itself
            moved_on = (
                start_ok
                and start_cost is not None
                and first.status is SolveStatus.FEASIBLE
                and first.objective < start_cost
            )
        else:
            first = pyvrp_start(problem, own)
    except ValueError:  # PyVRP refuses the approximation (data out of its ranges): no start
        first = empty_solution(problem, SolveStatus.NO_SOLUTION, 0.0, "pyvrp")
    # loading the start takes OR-Tools ~0.1 s at 400 stops, a few ms at a station's 40
    least = max(0.05, MIN_POLISH_S * min(1.0, len(problem.nodes) / 200))
    left = max(least, budget - (time.perf_counter() - started))
    if first.status is not SolveStatus.FEASIBLE:
        found = replace(polish(problem, settings.with_time(left)), backend="ortools")
    elif not moved_on:  # the earlier answer polished again
        second = polish(problem, _polish_settings(settings, left, START_POLISH_PER))
        return replace(second, wall_s=time.perf_counter() - started, backend="start+ortools")
    else:
        second = polish(_warm(problem, first), _polish_settings(settings, left, START_POLISH_PER))
        found = replace(second, wall_s=time.perf_counter() - started, backend="pyvrp-start+ortools")
    return _keep_callers_start(problem, settings, polish, found, started, START_POLISH_PER)


def solve_hybrid(
    problem: TierProblem,
    settings: SolveSettings,
    *,
    share: float = HYBRID_PYVRP_SHARE,
    polish: Solver = solve_ortools,
) -> TierSolution:
    """PyVRP for ``share`` of the budget, then OR-Tools from its routes for the rest (at least
    :data:`MIN_POLISH_S`, at most :data:`MAX_POLISH_S`).

    ``settings.cores`` > 1 runs PyVRP on that many processes
    (:func:`~routing.solvers.parallel.parallel_search`: a seed each, then, for a large problem
    on a short budget, parts of the solution searched at once) and polishes the answer.

    OR-Tools models every constraint: PyVRP's routes are its warm start, so its answer is
    either at least as good (it accepted and polished them) or, if it rejected them, a
    solution of its own. Both are priced by :func:`~routing.evaluate.evaluate_solution`
    and the cheaper feasible one that OR-Tools accepted is returned. With a work budget
    (``settings.work``) the search is deterministic: PyVRP runs that many iterations,
    OR-Tools stops after ``work // POLISH_SOLUTIONS_PER`` solutions.

    Problems PyVRP does not model exactly but
    :func:`~routing.solvers.pyvrp_search.pyvrp_start` approximates (the village runs:
    deliveries and pickups, reloads, range, compatibility) get its routes as OR-Tools' warm
    start after :data:`START_SHARE` of the budget, and OR-Tools' answer is returned
    (``"pyvrp-start+ortools"``). Falls back to ``polish`` alone (plain OR-Tools) with the
    whole budget when the problem has a feature PyVRP cannot even approximate (repairs:
    vehicles under way, late releases; soft windows).

    Returns
    -------
    TierSolution
        ``backend`` says which path produced it: ``"pyvrp+ortools"`` (OR-Tools accepted
        PyVRP's routes and returned them or better ones), ``"ortools"`` (fallback, or
        OR-Tools rejected them) or ``"pyvrp (not confirmed by ortools)"`` (OR-Tools found no
        solution in its share; the routes passed :func:`~routing.evaluate.evaluate_solution`).
    """
    started = time.perf_counter()
    budget = settings.time_limit_s
    if unsupported_feature(problem) is not None:
        if approximation_gap(problem) is not None:
            return polish(problem, _polish_settings(settings, budget, ALONE_PER))
        return _start_then_polish(problem, settings, polish)
    first = parallel_search(
        problem, settings.with_time(max(0.01, budget - _polish_s(budget, share)))
    )
    left = max(MIN_POLISH_S, budget - (time.perf_counter() - started))
    if first.status is not SolveStatus.FEASIBLE:
        return replace(polish(problem, settings.with_time(left)), backend="ortools")
    second = polish(_warm(problem, first), _polish_settings(settings, left))
    wall = time.perf_counter() - started
    ev_first = evaluate_solution(problem, first)
    ev_second = evaluate_solution(problem, second)
    if ev_second.feasible and ev_second.cost <= ev_first.cost:
        return replace(second, objective=ev_second.cost, wall_s=wall, backend="pyvrp+ortools")
    if ev_second.feasible:
        # OR-Tools' answer is worse than its warm start: it did not accept PyVRP's routes, so
        # they break a constraint only OR-Tools models. Trust OR-Tools.
        return replace(second, objective=ev_second.cost, wall_s=wall, backend="ortools")
    # OR-Tools found nothing in its share (a rejected warm start, or time out before it took
    # it): PyVRP's routes, exact for this problem and checked by the evaluator, say so.
    if ev_first.feasible:
        return replace(
            first,
            wall_s=wall,
            backend="pyvrp (not confirmed by ortools)",
            clock_stopped=first.clock_stopped or second.clock_stopped,
        )
    return replace(second, wall_s=wall, backend="ortools")
