"""How long and how a solver searches: the settings every backend takes beside the problem.

A :class:`~routing.problem.TierProblem` says *what* to solve; :class:`SolveSettings` says *how
much* search to spend on it (wall-clock seconds, or a fixed amount of work), with which seed
and on how many cores. Keeping the two apart lets one problem be solved under several budgets
(the quality benchmarks, the day's stable-versus-free comparison) without copying it.

The budget of a whole day is divided among its problems in one place,
:mod:`routing.budget`; a solver spends what it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from networks import InvalidScenario
from routing.problem import TierProblem, TierSolution

__all__ = ["SolveSettings", "Solver"]


@dataclass(frozen=True, slots=True)
class SolveSettings:
    """The search budget of one solve.

    Parameters
    ----------
    time_limit_s
        Wall-clock seconds for the search. With ``work`` set it bounds the search as well:
        whichever comes first stops it.
    work
        A fixed amount of work instead of time — PyVRP iterations, OR-Tools solutions (see
        each backend). The same problem, seed and work give the same answer.
    seed
        Seed of the randomised searches.
    cores
        Processes one search may use (the two-core PyVRP search); the day uses its cores for
        independent problems instead and gives each search one.
    go_on
        The problem's warm start is an earlier search's answer (a round of the day's village
        runs, :func:`routing.day.search_in_rounds`): the search goes on from it instead of
        searching afresh beside it (:func:`routing.solvers.hybrid.solve_hybrid`).

    >>> SolveSettings(time_limit_s=2.0).scaled(0.5)
    SolveSettings(time_limit_s=1.0, work=None, seed=0, cores=1, go_on=False)
    """

    time_limit_s: float = 1.0
    work: int | None = None
    seed: int = 0
    cores: int = 1
    go_on: bool = False

    def __post_init__(self) -> None:
        if not self.time_limit_s > 0:
            raise InvalidScenario(
                f"time limit must be > 0 s, not {self.time_limit_s}", field="time_limit_s"
            )
        if self.work is not None and self.work < 1:
            raise InvalidScenario(f"work must be >= 1, not {self.work}", field="work")
        if self.cores < 1:
            raise InvalidScenario(f"cores must be >= 1, not {self.cores}", field="cores")

    def scaled(self, share: float) -> SolveSettings:
        """These settings with ``share`` of the time (the work is kept)."""
        return replace(self, time_limit_s=self.time_limit_s * share)

    def with_time(self, time_limit_s: float) -> SolveSettings:
        """These settings with another time limit."""
        return replace(self, time_limit_s=time_limit_s)


class Solver(Protocol):
    """A backend: ``solve(problem, settings) -> solution``.

    Infeasibility is the solution's status, never an exception; a problem a backend does
    not model raises :class:`NotImplementedError` naming the feature.
    """

    def __call__(self, problem: TierProblem, settings: SolveSettings, /) -> TierSolution: ...
