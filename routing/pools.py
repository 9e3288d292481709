"""Shared fleets: vehicles that belong to a pool rather than to one station.

A :class:`Pool` is a group of stations (or the hub's satellites) sharing a fleet: at most
``total`` of its vehicles work in a day, at most ``per_station`` of them from any one
station. Its ``vehicles`` live at the hub (their ``home``); the plan assigns each to the
station it starts its day at (:func:`assign_pools`), and its runs leave from there, the trip
from its home and back costed (:func:`reposition`). The independent checker
(:func:`routing.check.check_plan` with ``pools``) recomputes the counts and the costs.

Units: metres and seconds from the road matrices; money in yuan, as on :class:`Vehicle`.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from networks import InvalidScenario, Network
from routing.model import Order, Vehicle

__all__ = ["Pool", "assign_pools", "reposition"]


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
    vehicles: tuple[str, ...] = ()
    """Ids of the fleet's vehicles in the pool (none for a pool stated only by its counts,
    as the two-echelon benchmarks' freighters)."""

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


def reposition(network: Network, v: Vehicle, station: str) -> Vehicle:
    """``v`` as it works from ``station`` for the day: it starts there after driving from its
    home and ends there before driving back, the two drives paid as part of its fixed cost
    (``2 × (km × cost_per_km + hours × cost_per_hour)``) and taken from its shift."""
    m = network.road_index.matrix((v.home, station), v.vehicle_class)
    d_m, t_s = int(m.distance_m[0, 1]), int(m.time_s[0, 1])
    drive = 2 * (d_m / 1000 * v.cost_per_km + t_s / 3600 * v.cost_per_hour)
    return replace(
        v,
        home=station,
        fixed_cost=round(v.fixed_cost + drive, 2),
        shift_start_s=v.shift_start_s + t_s,
        shift_end_s=max(v.shift_start_s + t_s + 1, v.shift_end_s - t_s),
        max_duration_s=max(1, v.max_duration_s - 2 * t_s),
    )


def assign_pools(
    network: Network,
    fleet: Sequence[Vehicle],
    pools: Sequence[Pool],
    orders: Sequence[Order],
    station_of: Mapping[str, str],
) -> tuple[tuple[Vehicle, ...], dict[str, str]]:
    """The day's fleet with every pool vehicle either repositioned at a station
    (:func:`reposition`) or left out, and the assignment (vehicle → station).

    Greedy by need: a station's need is the parcels of its orders (both directions) over
    the parcels its vehicles can carry in a day (capacity × 3 trips, :data:`TRIPS`); the
    next pool vehicle goes to the station with the largest uncovered need that still has
    room under ``per_station``, until none is uncovered or the pool's ``total`` is reached.
    The pool vehicles are taken in the order the pool lists them.
    """
    parcels: dict[str, int] = {}
    for o in orders:
        st = station_of.get(o.site)
        if st is not None:
            parcels[st] = parcels.get(st, 0) + o.parcels
    pooled = {vid for p in pools for vid in p.vehicles}
    by_id = {v.id: v for v in fleet}
    carry: dict[str, int] = {}
    for v in fleet:
        if v.id not in pooled:
            carry[v.home] = carry.get(v.home, 0) + v.capacity_parcels * TRIPS
    out = [v for v in fleet if v.id not in pooled]
    assigned: dict[str, str] = {}
    for pool in pools:
        used = dict.fromkeys(pool.stations, 0)
        for vid in pool.vehicles[: pool.total]:
            v = by_id[vid]
            open_ = [
                st
                for st in pool.stations
                if used[st] < pool.per_station and parcels.get(st, 0) > carry.get(st, 0)
            ]
            if not open_:
                break
            st = max(open_, key=lambda s: (parcels.get(s, 0) - carry.get(s, 0), s))
            used[st] += 1
            carry[st] = carry.get(st, 0) + v.capacity_parcels * TRIPS
            assigned[vid] = st
            out.append(reposition(network, v, st))
    return tuple(out), assigned


TRIPS = 3
"""Trips a day a vehicle is assumed to make when a pool's vehicles are shared out by need."""
