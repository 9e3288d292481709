"""How one day's search budget is divided among its problems — the only place that does.

A day is given a budget (:class:`DayBudget`): wall-clock seconds, optionally a fixed amount of
work per search, a seed, and worker processes. Its problems are solved in phases, and each
phase's searches get :class:`~routing.solvers.SolveSettings` from here:

=====================  ==============================================================
trunk wave (each)      :data:`TRUNK_SHARE` of the day's seconds (at least 0.2 s)
cross-boundary search  :data:`CROSS_BOUNDARY_SHARE` (at least 0.2 s); under a work
                       budget one search's work per :data:`JOINT_STOPS_PER_UNIT` stops
                       of the joint problem (PyVRP iterations), and one search's work
                       ÷ :data:`JOINT_FALLBACK_PER` OR-Tools solutions when PyVRP's
                       answer has to be replaced
village runs           :data:`LAST_MILE_SHARE` × workers, shared among the stations by
                       their number of nodes (at least 0.1 s each); when yesterday's
                       assignment is tried beside a free plan, each gets half
=====================  ==============================================================

The shares add up to more than one day: the trunk waves are small, the stations run in
parallel, and the cross-boundary search happens only when the policy asks for it. How one
search divides its budget between PyVRP and OR-Tools is the hybrid solver's business
(:mod:`routing.solvers.hybrid`).

**The pooled day** (cross-boundary service) plans the day more than once
(:func:`routing.day.plan_day`); :meth:`DayBudget.pooled_day` divides its seconds:

=====================  ==============================================================
tied day               :data:`TIED_DAY_SHARE` (every village at its own station)
pooled day             :data:`POOLED_DAY_SHARE`: the joint search (from the tied day's
                       village runs) and the final station searches, within it as in
                       the table above
trunk relief           no share of its own: the pooled day's budget again, spent only
                       on the trunk and the stations whose problem it changed (the
                       others keep their runs) — meant to fit in the 0.2 left, not
                       enforced
=====================  ==============================================================

The three get the same seconds for their searches, so that their trunk searches are given
the same work: a station keeps an earlier plan's runs only when its problem, which the
trunk's arrival times are part of, has not changed (:func:`routing.state.same_problem`).

**The village runs are searched in rounds** (under the policy's work rate,
:meth:`DayBudget.passes`): the day's first plan always has the policy's budget for its trunk
and joint searches, and each station's village-run search gets the shares of :data:`ROUNDS`
of the work the policy's budget gives it, one round after another, each round's search going
on from the cheapest runs so far and kept only when it is cheaper
(:func:`routing.day.search_in_rounds`). A budget buys the rounds that fit in it (at least the
first: a budget below a quarter of the policy's plans with a quarter), so the rounds it runs
are the first rounds of a larger budget's. A pooled day's joint search starts from the tied
day's first round, the same for every budget.

**More budget than the policy's** buys **improvement passes** after all the rounds: the day
is planned again once per :data:`PASS_SHARE` of the policy's budget that the extra buys, each
pass searching again from the runs of the best day so far — every station, or on a pooled
day every other pass the joint assignment (a new seed, the same work each) — the whole day
kept only when it is cheaper (:func:`routing.day.improvement_pass`). Neither the rounds nor
the passes depend on the budget, which only says how many run: under the policy's work rate,
more budget never returns a dearer plan.

**Work, not the clock, stops the searches by default** (the policy's ``work_per_s``): each
search gets ``work_per_s`` work units per second of its share, computed as if on one worker,
so the plan does not depend on the machine's speed or its number of cores; the clock is only
a safety net (``wall_cap`` times the share, plus :data:`CAP_SLACK_S`), and the searches it
stopped — as the solvers report it (``TierSolution.clock_stopped``), see
:meth:`DayBudget.capped` — are counted in the plan (``wall_capped``). An explicit ``work``
gives every search that same amount (the benchmarks' fixed work) under the time shares. This
module is the only place that does budget arithmetic (the joint search's work is
:meth:`DayBudget.joint`'s, the pooled day's split :meth:`DayBudget.pooled_day`'s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from routing.model import WALL_CAP, Policy
from routing.problem import TierSolution
from routing.solvers.settings import SolveSettings

__all__ = [
    "CAP_SLACK_S",
    "CROSS_BOUNDARY_SHARE",
    "JOINT_FALLBACK_PER",
    "JOINT_STOPS_PER_UNIT",
    "LAST_MILE_SHARE",
    "MIN_WORK",
    "PASS_SHARE",
    "POOLED_DAY_SHARE",
    "ROUNDS",
    "TIED_DAY_SHARE",
    "TRUNK_SHARE",
    "DayBudget",
]

TRUNK_SHARE = 0.15
CROSS_BOUNDARY_SHARE = 0.3
LAST_MILE_SHARE = 0.6
TIED_DAY_SHARE = 0.4
POOLED_DAY_SHARE = 0.4
JOINT_STOPS_PER_UNIT = 20
"""Under a work budget the joint search runs one search's work of PyVRP iterations per this
many stops of the joint problem, so that it costs about what the stations' own searches
cost (it replaces a second search of each station). Measured on plain-160 (262 stops, work
100, one core): 20 → 1,300 iterations, 5.9 s, against 6.3 s for the tied day's eight
station searches (10 → 13.7 s; the joint answer in PyVRP's model 0.3 % dearer at 10, 0.0 %
at 40, 1.0 % cheaper at 5: no trend worth the time)."""
JOINT_FALLBACK_PER = 5
"""OR-Tools' solutions per unit of one search's work when it replaces PyVRP's joint answer
(infeasible, stops left out that the start served, or nothing cheaper found from a start
that leaves stops out): a solution on the joint model of a few hundred stops costs
OR-Tools about a second (plain-160 at x2.5, 322 stops: 5 solutions 4.7 s and 0.01 %
cheaper than the start, 20 solutions 22.5 s and 3.5 % cheaper)."""
PASS_SHARE = 0.25
"""One improvement pass costs this share of the policy's budget (see the module docstring)."""
ROUNDS = (0.25, 0.25, 0.5)
"""Under the policy's work rate, each station's village runs are searched in rounds of these
shares of the work the policy's budget gives them, each round continuing from the best runs so
far (see the module docstring); a budget buys the rounds whose shares, added up, fit in it
(at least the first)."""
MIN_WORK = 50
"""The least work a search is given (a small station still gets a real search)."""
CAP_SLACK_S = 5.0
"""Added to every wall-clock cap: a small search's fixed costs (building the OR-Tools model,
starting PyVRP) do not shrink with its share, and on a loaded machine they alone can exceed
ten times a tenth of a second."""


@dataclass(frozen=True, slots=True)
class DayBudget:
    """The search budget of one day.

    :meth:`of` takes it from a policy; built directly (benchmarks, tests), a budget has the
    policy's default safety net (``wall_cap``: :data:`routing.model.WALL_CAP`), and the clock
    decides unless ``work`` or ``work_per_s`` is given.

    >>> b = DayBudget(time_limit_s=10, workers=2, work_per_s=0)   # the clock decides
    >>> b.trunk().time_limit_s
    1.5
    >>> [s.time_limit_s for s in b.last_mile([30, 10])]
    [9.0, 3.0]
    >>> w = DayBudget(time_limit_s=10, workers=2, work_per_s=100)  # work decides
    >>> [(s.work, s.time_limit_s) for s in w.last_mile([30, 10])]   # the clock: 3 × share + 5 s
    [(450, 32.0), (150, 14.0)]
    """

    time_limit_s: float
    work: int | None = None
    seed: int = 0
    workers: int = 1
    work_per_s: float = 0.0
    wall_cap: float = WALL_CAP
    base_s: float | None = None
    """The policy's budget (:meth:`of`): more than it buys improvement passes
    (:meth:`passes`); ``None``: none."""
    rounds: tuple[float, ...] = ()
    """The shares of their work the village runs' searches get in successive rounds
    (:meth:`passes`, :data:`ROUNDS`); empty: one search with all of it."""

    @classmethod
    def of(
        cls,
        policy: Policy,
        *,
        time_limit_s: float | None = None,
        work: int | None = None,
        workers: int = 1,
    ) -> DayBudget:
        """The budget a policy gives a day (its seconds, seed, work rate and wall cap),
        ``time_limit_s`` and ``work`` overriding it."""
        return cls(
            time_limit_s or policy.time_limit_s,
            work,
            policy.seed,
            max(1, workers),
            policy.work_per_s,
            policy.wall_cap,
            policy.time_limit_s,
        )

    def passes(self) -> tuple[float, tuple[float, ...], tuple[float, ...]]:
        """The seconds of the day's first plan, the rounds of its village runs
        (:attr:`rounds`) and the seconds of each improvement pass (see the module
        docstring). Under a work rate the first plan is always the policy's budget: its
        trunk and joint searches get the policy's work whatever the budget, and the budget
        buys rounds of the village runs — those of :data:`ROUNDS` that fit in it, at least
        the first — and, beyond the policy's budget, a pass per :data:`PASS_SHARE` of it (a
        remainder too small for one is not spent). Otherwise (the clock, or a fixed
        ``work``) the first plan gets it all, in one round.

        >>> DayBudget(time_limit_s=40, work_per_s=90, base_s=20).passes()
        (20, (0.25, 0.25, 0.5), (5.0, 5.0, 5.0, 5.0))
        >>> DayBudget(time_limit_s=29, work_per_s=90, base_s=20).passes()
        (20, (0.25, 0.25, 0.5), (5.0,))
        >>> DayBudget(time_limit_s=12, work_per_s=90, base_s=20).passes()
        (20, (0.25, 0.25), ())
        >>> DayBudget(time_limit_s=1, work_per_s=90, base_s=20).passes()
        (20, (0.25,), ())
        >>> DayBudget(time_limit_s=10, work_per_s=0, base_s=20).passes()
        (10, (), ())
        """
        if self.base_s is None or self.work is not None or self.work_per_s <= 0:
            return self.time_limit_s, (), ()
        fits = [
            sum(ROUNDS[: k + 1]) * self.base_s <= self.time_limit_s + 1e-9
            for k in range(len(ROUNDS))
        ]
        rounds = ROUNDS[: max(1, sum(fits))]
        if self.time_limit_s <= self.base_s:
            return self.base_s, rounds, ()
        one = self.base_s * PASS_SHARE
        n = int((self.time_limit_s - self.base_s) / one + 1e-9)
        return self.base_s, rounds, (one,) * n

    @property
    def pools(self) -> bool:
        """Whether a day with cross-boundary service searches its pooled day: always, but
        under a work rate with a budget below the policy's. The pooled day's joint search
        gets the policy's work whatever the budget (its start, the tied day's first round,
        is the same for every budget), so below the policy's budget it would take several
        times the budget (a pooled day at 2 s of a 20 s policy took 8–12 s); there the day
        is the tied day alone, which is the tied day of every larger budget too, so more
        budget still never gives a dearer plan.

        >>> DayBudget(time_limit_s=5, work_per_s=90, base_s=20).pools
        False
        >>> DayBudget(time_limit_s=20, work_per_s=90, base_s=20).pools
        True
        >>> DayBudget(time_limit_s=5, work_per_s=0, base_s=20).pools   # the clock decides
        True
        """
        if self.base_s is None or self.work is not None or self.work_per_s <= 0:
            return True
        return self.time_limit_s >= self.base_s - 1e-9

    def describe(self) -> tuple[tuple[str, str], ...]:
        """What a plan records of its budget (enough to plan it again)."""
        out = [("time_limit_s", str(self.time_limit_s)), ("workers", str(self.workers))]
        out.append(("seed", str(self.seed)))
        if self.work is not None:
            out.append(("work", str(self.work)))
        else:
            out.append(("work_per_s", str(self.work_per_s)))
            out.append(("wall_cap", str(self.wall_cap)))
        return tuple(out)

    @property
    def by_work(self) -> bool:
        """Whether work (not the clock) stops the searches."""
        return self.work is not None or self.work_per_s > 0

    def _settings(self, seconds: float, work_seconds: float | None = None) -> SolveSettings:
        """Settings for a share of ``seconds`` of the clock (``work_seconds``: the share on one
        worker, which sets the work)."""
        if self.work is not None or self.work_per_s <= 0:
            return SolveSettings(time_limit_s=seconds, work=self.work, seed=self.seed)
        work = max(MIN_WORK, round(self.work_per_s * (work_seconds or seconds)))
        return SolveSettings(
            time_limit_s=seconds * self.wall_cap + CAP_SLACK_S, work=work, seed=self.seed
        )

    def trunk(self) -> SolveSettings:
        """One trunk wave of one hub."""
        return self._settings(max(0.2, self.time_limit_s * TRUNK_SHARE))

    def pooled_day(self) -> tuple[float, float]:
        """The seconds of the tied and of the pooled day of a day with cross-boundary
        service; the trunk relief, if any, plans with the pooled day's budget again (see
        the module docstring).

        >>> DayBudget(time_limit_s=10).pooled_day()
        (4.0, 4.0)
        """
        return (self.time_limit_s * TIED_DAY_SHARE, self.time_limit_s * POOLED_DAY_SHARE)

    def joint(self, stops: int) -> SolveSettings:
        """The joint search of a hub's stations (cross-boundary service), a problem of
        ``stops`` nodes: the time share of the phase, and under a work budget one search's
        work per :data:`JOINT_STOPS_PER_UNIT` stops (at least one search's work).

        >>> DayBudget(time_limit_s=10, work=100).joint(260).work
        1300
        >>> DayBudget(time_limit_s=10, work=100).joint(4).work
        100
        """
        settings = self._settings(max(0.2, self.time_limit_s * CROSS_BOUNDARY_SHARE))
        if settings.work is None:
            return settings
        units = max(1.0, stops / JOINT_STOPS_PER_UNIT)
        return replace(settings, work=round(settings.work * units))

    def joint_fallback(self) -> SolveSettings:
        """OR-Tools on the joint problem when PyVRP's answer cannot be used: the phase's
        time share, and under a work budget one search's work ÷ :data:`JOINT_FALLBACK_PER`
        solutions (at least one).

        >>> DayBudget(time_limit_s=10, work=100).joint_fallback().work
        20
        """
        settings = self._settings(max(0.2, self.time_limit_s * CROSS_BOUNDARY_SHARE))
        if settings.work is None:
            return settings
        return replace(settings, work=max(1, settings.work // JOINT_FALLBACK_PER))

    def last_mile(self, sizes: Sequence[int]) -> list[SolveSettings]:
        """The stations' village runs, problems of ``sizes`` nodes, solved ``workers`` at a
        time: each gets its share of the phase by size (in rounds: :meth:`part`)."""
        total = sum(sizes) or 1
        share = self.time_limit_s * LAST_MILE_SHARE * self.workers
        one = self.time_limit_s * LAST_MILE_SHARE
        return [
            self._settings(max(0.1, share * n / total), max(0.1, one * n / total)) for n in sizes
        ]

    def part(self, settings: SolveSettings, part: float) -> SolveSettings:
        """``settings`` (a village-run search's) for a round with ``part`` of its work and
        time (:attr:`rounds`); with ``part`` 1, as they are."""
        if part == 1.0:
            return settings
        work = settings.work
        if work is not None and self.work is None:
            work = max(MIN_WORK, round(work * part))
        time_s = settings.time_limit_s
        if self.by_work and self.work is None:  # the wall cap: the share's, plus the slack
            time_s = (time_s - CAP_SLACK_S) * part + CAP_SLACK_S
        else:
            time_s *= part
        return replace(settings, time_limit_s=time_s, work=work)

    def halved(self, settings: SolveSettings) -> SolveSettings:
        """Half the budget, for one of two searches of the same problem (yesterday's
        assignment beside a free plan). An
        explicit ``work`` is kept as it is."""
        if self.work is None and settings.work is not None:
            return replace(settings, work=max(MIN_WORK, settings.work // 2))
        return settings.scaled(0.5)

    def capped(self, settings: SolveSettings, solution: TierSolution) -> bool:
        """Whether the clock, not the work, stopped this search (the safety net cut in), as
        the solver reports it (:attr:`~routing.problem.TierSolution.clock_stopped`). Under an
        explicit ``work`` the time shares are the benchmarks' limits, not a safety net."""
        return self.work is None and settings.work is not None and solution.clock_stopped
