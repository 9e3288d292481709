"""How one day's search budget is divided among its problems — the only place that does.

A day is given a budget (:class:`DayBudget`): wall-clock seconds, optionally a fixed amount of
work per search, a seed, and worker processes. Its problems are solved in phases, and each
phase's searches get :class:`~routing.solvers.SolveSettings` from here:

=====================  ==============================================================
trunk wave (each)      :data:`TRUNK_SHARE` of the day's seconds (at least 0.2 s)
cross-boundary search  :data:`CROSS_BOUNDARY_SHARE` (at least 0.2 s), after the
                       stations' own plans it starts from, which get half their
                       village-run share
village runs           :data:`LAST_MILE_SHARE` × workers, shared among the stations by
                       their number of nodes (at least 0.1 s each); when yesterday's
                       assignment is tried beside a free plan, each gets half
=====================  ==============================================================

The shares add up to more than one day: the trunk waves are small, the stations run in
parallel, and the cross-boundary search happens only when the policy asks for it. A work
budget, when given, is the same for every search (it is what makes a plan repeatable). How
one search divides its budget between PyVRP and OR-Tools is the hybrid solver's business
(:mod:`routing.solvers.hybrid`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from routing.solvers.settings import SolveSettings

__all__ = [
    "CROSS_BOUNDARY_SHARE",
    "LAST_MILE_SHARE",
    "TRUNK_SHARE",
    "DayBudget",
]

TRUNK_SHARE = 0.15
CROSS_BOUNDARY_SHARE = 0.3
LAST_MILE_SHARE = 0.6


@dataclass(frozen=True, slots=True)
class DayBudget:
    """The search budget of one day.

    >>> b = DayBudget(time_limit_s=10, workers=2)
    >>> b.trunk().time_limit_s
    1.5
    >>> [s.time_limit_s for s in b.last_mile([30, 10])]
    [9.0, 3.0]
    """

    time_limit_s: float
    work: int | None = None
    seed: int = 0
    workers: int = 1

    def _settings(self, seconds: float) -> SolveSettings:
        return SolveSettings(time_limit_s=seconds, work=self.work, seed=self.seed)

    def trunk(self) -> SolveSettings:
        """One trunk wave of one hub."""
        return self._settings(max(0.2, self.time_limit_s * TRUNK_SHARE))

    def cross_boundary(self) -> SolveSettings:
        """The joint search of a hub's stations (cross-boundary service)."""
        return self._settings(max(0.2, self.time_limit_s * CROSS_BOUNDARY_SHARE))

    def last_mile(self, sizes: Sequence[int]) -> list[SolveSettings]:
        """The stations' village runs, problems of ``sizes`` nodes, solved ``workers`` at a
        time: each gets its share of the phase by size."""
        total = sum(sizes) or 1
        share = self.time_limit_s * LAST_MILE_SHARE * self.workers
        return [self._settings(max(0.1, share * n / total)) for n in sizes]

    @staticmethod
    def halved(settings: SolveSettings) -> SolveSettings:
        """Half the time, for one of two searches of the same problem (yesterday's
        assignment beside a free plan; the stations' own plans before a joint search)."""
        return settings.scaled(0.5)
