"""Shared fleets: vehicles that belong to a pool rather than to one station.

A :class:`Pool` is a group of stations (or the hub's satellites) sharing a fleet: at most
``total`` of its vehicles work in a day, at most ``per_station`` of them from any one
station. The plan assigns each pool vehicle to the station it starts its day at; the
assignment is valid when :meth:`Pool.allows` says so, and the independent checker
(:func:`routing.check.check_pools`) recomputes the same counts from a plan's routes.

Nothing here solves: a search states the pool by giving each station ``at_most`` vehicles
and, where the total binds, a fixed cost per route or a split of the total
(:meth:`Pool.splits`) searched one by one.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from networks import InvalidScenario

__all__ = ["Pool"]


@dataclass(frozen=True, slots=True)
class Pool:
    """A shared fleet: ``total`` vehicles at most, ``per_station`` at most at one station.

    >>> pool = Pool("vans", ("s1", "s2"), total=3, per_station=2)
    >>> pool.at_most("s1"), pool.at_most("elsewhere")
    (2, 0)
    >>> pool.allows(["s1", "s1", "s2"]), pool.allows(["s1", "s1", "s1"])
    (True, False)
    >>> list(pool.splits())
    [(1, 2), (2, 1)]
    """

    name: str
    stations: tuple[str, ...]
    total: int
    per_station: int

    def __post_init__(self) -> None:
        if not self.stations:
            raise InvalidScenario("a pool needs at least one station", field="stations")
        if len(set(self.stations)) != len(self.stations):
            raise InvalidScenario("a pool's stations must be distinct", field="stations")
        if self.total < 1:
            raise InvalidScenario(f"must be >= 1, got {self.total}", field="total")
        if self.per_station < 1:
            raise InvalidScenario(f"must be >= 1, got {self.per_station}", field="per_station")

    def at_most(self, station: str) -> int:
        """The most pool vehicles that may start at ``station``."""
        return min(self.per_station, self.total) if station in self.stations else 0

    def violations(self, starts: Iterable[str]) -> list[str]:
        """What is wrong with pool vehicles starting at ``starts`` (one entry per vehicle
        used): a station outside the pool, a station over ``per_station``, over ``total``."""
        count = Counter(starts)
        out = [
            f"{st} is not a station of pool {self.name}" for st in count if st not in self.stations
        ]
        out += [
            f"{n} vehicles of pool {self.name} at {st} > {self.per_station}"
            for st, n in sorted(count.items())
            if st in self.stations and n > self.per_station
        ]
        if sum(count.values()) > self.total:
            out.append(f"{sum(count.values())} vehicles of pool {self.name} > {self.total}")
        return out

    def allows(self, starts: Iterable[str]) -> bool:
        """Whether pool vehicles may start at ``starts`` (one entry per vehicle used)."""
        return not self.violations(starts)

    def splits(self) -> Iterator[tuple[int, ...]]:
        """Every way to share ``total`` among the stations (each at most ``per_station``),
        using the whole pool where the stations can take it: a count per station, in the
        order of :attr:`stations`."""
        cap = min(self.per_station, self.total)
        want = min(self.total, cap * len(self.stations))
        for counts in itertools.product(range(cap + 1), repeat=len(self.stations)):
            if sum(counts) == want:
                yield counts
