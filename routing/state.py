"""The day's ledger while its tiers are planned, shared by the phases of :mod:`routing.day`,
the cross-boundary search (:mod:`routing.crossing`) and repairs (:mod:`routing.repair`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace

from routing.assemble import Prefix, routes_from_solution
from routing.budget import DayBudget
from routing.build import BuiltProblem, next_day, station_of
from routing.inputs import DayInput
from routing.model import Order
from routing.plan import DeferralReason, Deferred, Hint, Plan, Route, Tier
from routing.problem import TierSolution
from routing.solvers import DEFAULT_SOLVER, Solver, SolveSettings

__all__ = ["DayState", "Progress", "Stage", "no_stage", "same_problem", "solve_all"]

Progress = Callable[[str], None]
"""Called with a line of text as each phase starts."""

Stage = Callable[[str], AbstractContextManager[None]]
"""Wraps each phase of the day under a label (``with stage("trunk down"): ...``): how a
benchmark times the phases without reaching into them."""


@contextmanager
def no_stage(_label: str) -> Iterator[None]:
    """A stage that does nothing (the default)."""
    yield


@dataclass
class DayState:
    """The day's ledger while its tiers are planned: routes so far, deferred orders, and which
    station serves which order across a boundary. Phases read and extend it."""

    day: DayInput
    budget: DayBudget
    solve: Solver = DEFAULT_SOLVER
    say: Progress = field(default=lambda _: None)
    stage: Stage = field(default=no_stage)
    pins: Mapping[str, str] = field(default_factory=dict)
    previous: Plan | None = None
    routes: list[Route] = field(default_factory=list)
    deferred: dict[str, Deferred] = field(default_factory=dict)
    feeds: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=list)
    serving: dict[str, str] = field(default_factory=dict)
    """Order → the station whose runs serve it, where that is not its village's own
    (cross-boundary service)."""
    starts: dict[str, tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]] = field(
        default_factory=dict
    )
    """Station → a warm start of its village runs (vehicle id, trips of node keys): where the
    cross-boundary search ended, carried into the station's final search."""
    runs: dict[str, tuple[BuiltProblem, TierSolution]] = field(default_factory=dict)
    """Station → its village-run problem and the solution recorded for it (the day's final
    runs: where the cross-boundary search of a pooled day starts)."""
    reuse: Mapping[str, tuple[BuiltProblem, TierSolution]] = field(default_factory=dict)
    """Village runs of an earlier plan of the same day (its ``runs``): a station whose
    problem is the same, or differs only in that its vehicles may leave earlier
    (:func:`same_problem`), keeps that solution instead of a search."""
    first_runs: dict[str, tuple[BuiltProblem, TierSolution]] = field(default_factory=dict)
    """Station → its village-run problem and the answer of its first round of search
    (:attr:`~routing.budget.DayBudget.rounds`): what does not depend on how many rounds the
    budget buys (where a pooled day's joint search starts)."""
    short_of: dict[str, str] = field(default_factory=dict)
    """Order → the hub whose trucks had no room for it (trunk capacity deferrals)."""
    capped: int = 0
    """Searches the wall-clock safety net stopped before their work was done."""

    def __post_init__(self) -> None:
        self.orders = {o.id: o for o in self.day.orders}
        self.station_of = station_of(self.day.network)

    def defer(
        self,
        orders: Sequence[Order],
        reason: DeferralReason,
        waits_at: str,
        hint: Hint | None = None,
        until: str | None = None,
    ) -> None:
        """Defer ``orders`` (the first reason given for an order stands)."""
        for o in orders:
            self.deferred.setdefault(
                o.id,
                Deferred(
                    o.id,
                    o.site,
                    reason,
                    until or next_day(self.day.date),
                    waits_at,
                    hint.text() if hint else "",
                    o.mandatory,
                    hint,
                ),
            )

    def solved(
        self, jobs: Sequence[tuple[object, SolveSettings]], solutions: Sequence[TierSolution]
    ) -> None:
        """Note which searches the clock stopped (``jobs``: anything paired with the settings
        each search ran under)."""
        for (_, settings), sol in zip(jobs, solutions, strict=True):
            self.capped += self.budget.capped(settings, sol)

    def record(
        self,
        built: BuiltProblem,
        solution: TierSolution,
        tier: Tier,
        wave: str,
        prefixes: Mapping[str, Prefix] | None = None,
    ) -> list[Route]:
        """Add the routes of ``solution`` to the plan; returns them."""
        new = routes_from_solution(
            built.problem,
            solution,
            tier=tier,
            wave=wave,
            fleet=built.fleet,
            node_orders=built.node_orders,
            orders=self.orders,
            prefixes=prefixes,
        )
        self.routes.extend(new)
        return new


def same_problem(a: BuiltProblem, b: BuiltProblem) -> bool:
    """Whether a solution of the village-run problem ``a`` is one of ``b`` (both of the same
    day): the same sites, stops, orders behind them, warm start and vehicles, except that
    ``b``'s vehicles may leave earlier (the trunk is there sooner), never later. The
    matrices follow from the sites and the day's network."""
    pa, pb = a.problem, b.problem
    return (
        pa.name == pb.name
        and pa.sites == pb.sites
        and pa.nodes == pb.nodes
        and len(pa.vehicles) == len(pb.vehicles)
        and all(
            vb.earliest_start_s <= va.earliest_start_s
            and replace(va, earliest_start_s=0) == replace(vb, earliest_start_s=0)
            for va, vb in zip(pa.vehicles, pb.vehicles, strict=True)
        )
        and pa.initial_routes == pb.initial_routes
        and (pa.load_s_per_parcel, pa.unload_s_per_parcel)
        == (pb.load_s_per_parcel, pb.unload_s_per_parcel)
        and [[o.id for o in c] for c in a.node_orders] == [[o.id for o in c] for c in b.node_orders]
        and [v.id for v in a.fleet] == [v.id for v in b.fleet]
    )


def solve_all(
    solve: Solver, jobs: Sequence[tuple[BuiltProblem, SolveSettings]], workers: int
) -> list[TierSolution]:
    """Solve independent problems, on ``workers`` processes when there are several."""
    if workers <= 1 or len(jobs) <= 1:
        return [solve(b.problem, s) for b, s in jobs]
    order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0].problem.nodes))
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = {i: pool.submit(solve, jobs[i][0].problem, jobs[i][1]) for i in order}
        return [futures[i].result() for i in range(len(jobs))]
