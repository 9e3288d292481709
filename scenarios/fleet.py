"""Fleet sizing: which vehicles to add so that no order is deferred for capacity or time.

The answer to "+30 % demand defers 627 parcels a day: what fleet would serve them?" is found
by searching the fleet with the real planner, on a few demand days:

1. Plan each day; take the orders deferred for **capacity or time** (frequency deferrals are
   policy, unreachable ones no vehicle fixes).
2. Attribute each to where a vehicle is short: the **hub's trucks** when it waits at a hub, is
   for a station or a bulk shipper (the trunk serves those), or is an upstream order left at
   its station; otherwise the **village runs of its station**.
3. Estimate the vehicles each short home needs — the deferred load (kg, m³ and parcels, the
   tightest) over one vehicle's capacity times the trips a vehicle of that home made that day
   (at least one) — take the largest over the days, add them (copies of the home's largest
   vehicle), and plan again. Stop when no day defers for capacity or time, or after
   ``max_rounds``.
4. Trim: try each added vehicle out again, last added first, and keep it out when every day
   still defers nothing for capacity or time (so the answer is not an over-estimate).

Cost per day is the planner's route cost (fixed, distance and time costs of vehicles used),
mean over the days; ``before`` is the fleet as given, ``after`` with the additions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from networks import Network, SiteKind
from routing import DayInput
from routing.model import Direction, Order, Vehicle
from routing.plan import DeferralReason, Plan

if TYPE_CHECKING:
    from scenarios.bundle import Scenario
    from scenarios.whatif import Change, SimulationSettings

__all__ = ["FleetSizing", "Shortfall", "fleet_for_change", "shortfalls", "size_fleet"]

_SHORT = (DeferralReason.CAPACITY, DeferralReason.TIME)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Load deferred for capacity or time at one home (a hub or a station) on one day."""

    home: str
    kg: float
    m3: float
    parcels: int
    bulky: bool = False
    """Some of it is bulky: only vehicles that take bulky parcels serve it."""


@dataclass(frozen=True, slots=True)
class FleetSizing:
    """The vehicles to add, and the days planned before and after."""

    added: tuple[tuple[str, str, int], ...]
    """(home, vehicle class, count), sorted by home."""
    cost_before: float
    cost_after: float
    """Mean route cost per day (yuan)."""
    short_before: float
    short_after: float
    """Mean parcels per day deferred for capacity or time."""
    days: int
    rounds: int
    met: bool
    """Whether no day defers for capacity or time with the additions."""

    def text(self, names: Mapping[str, str] | None = None, what: str = "") -> str:
        """One line: "+2 vans at st-goushi, +1 truck at hub; cost/day 100 -> 130 yuan …"
        (``names``: site id → name, shown with the id; ``what``: the demand served, e.g.
        the change's name)."""
        names = names or {}
        if not self.added:
            if self.short_before == 0:
                return "no parcels are deferred for capacity or time: the fleet is enough"
            return (
                f"no vehicle added serves the {self.short_before:.0f} parcels/day deferred for "
                "capacity or time (they wait for something a vehicle cannot fix)"
            )
        parts = [
            f"+{n} {cls}{'s' if n > 1 else ''} at "
            + (f"{names[home]} ({home})" if names.get(home, home) != home else home)
            for home, cls, n in self.added
        ]
        change = (self.cost_after - self.cost_before) / self.cost_before if self.cost_before else 0
        goal = "with no capacity deferral" if self.met else "as far as the search went"
        return (
            f"to serve {what + ' ' if what else ''}{goal} ({self.days} day{'s' if self.days > 1 else ''} planned): "
            f"{', '.join(parts)}; cost/day {self.cost_before:,.0f} -> {self.cost_after:,.0f} yuan "
            f"({change:+.1%}); parcels/day deferred for capacity or time "
            f"{self.short_before:.1f} -> {self.short_after:.1f}"
        )


def _station_of(network: Network, site_id: str) -> str:
    site = network.site(site_id)
    for _ in range(3):
        if site.kind in (SiteKind.STATION, SiteKind.HUB) or site.parent is None:
            return site.id
        site = network.site(site.parent)
    return site.id


def _hub_of(network: Network, site_id: str) -> str:
    site = network.site(site_id)
    for _ in range(4):
        if site.kind is SiteKind.HUB or site.parent is None:
            return site.id
        site = network.site(site.parent)
    return site.id


def shortfalls(plan: Plan, day: DayInput) -> dict[str, Shortfall]:
    """Home (hub or station) → the load deferred there for capacity or time (rules in the
    module docstring)."""
    net = day.network
    orders = {o.id: o for o in day.orders}
    acc: dict[str, list[Order]] = {}
    for d in plan.deferred:
        if d.reason not in _SHORT or d.order not in orders:
            continue
        o = orders[d.order]
        site = net.site(o.site)
        waits = net.site(d.waits_at) if d.waits_at in net.index else None
        trunk = (
            (waits is not None and waits.kind is SiteKind.HUB)
            or site.kind in (SiteKind.STATION, SiteKind.BULK_SHIPPER)
            or (
                o.direction is Direction.UP and waits is not None and waits.kind is SiteKind.STATION
            )
        )
        home = _hub_of(net, o.site) if trunk else _station_of(net, o.site)
        acc.setdefault(home, []).append(o)
    return {
        h: Shortfall(
            h,
            sum(o.weight_kg for o in os_),
            sum(o.volume_m3 for o in os_),
            sum(o.parcels for o in os_),
            any(o.bulky for o in os_),
        )
        for h, os_ in acc.items()
    }


def _template(
    fleet: Sequence[Vehicle], home: str, network: Network, bulky: bool = False
) -> Vehicle | None:
    """The vehicle to copy at a home: its largest (one that takes bulky parcels when some of
    the shortfall is bulky); else the fleet's largest of the class that works from that kind
    of site (trucks at hubs, vans at stations)."""
    here = [v for v in fleet if v.home == home and (v.bulky_ok or not bulky)]
    if here:
        return max(here, key=lambda v: (v.capacity_kg, v.id))
    cls = "truck" if network.site(home).kind is SiteKind.HUB else "van"
    same = [v for v in fleet if v.vehicle_class == cls and (v.bulky_ok or not bulky)]
    return replace(max(same, key=lambda v: (v.capacity_kg, v.id)), home=home) if same else None


def _needed(short: Shortfall, tpl: Vehicle, trips: float) -> int:
    ratio = max(
        short.kg / tpl.capacity_kg,
        short.m3 / tpl.capacity_m3,
        short.parcels / tpl.capacity_parcels,
    )
    return max(1, math.ceil(ratio / max(1.0, trips) - 1e-9))


def _trips(plan: Plan, home: str) -> float:
    routes = [r for r in plan.routes if r.home == home]
    return sum(r.trips for r in routes) / len(routes) if routes else 1.0


def size_fleet(
    days: Sequence[DayInput],
    planner: Callable[[DayInput], Plan],
    *,
    max_rounds: int = 4,
    trim: bool = True,
    progress: Callable[[str], None] | None = None,
) -> FleetSizing:
    """Search the vehicles to add so that no day defers orders for capacity or time.

    Parameters
    ----------
    days
        Demand days on the network and fleet to size (same network and fleet on each).
    planner
        Plans one day (e.g. ``lambda d: plan_day(d, time_limit_s=1)``).
    max_rounds
        Rounds of "plan, add what is short" before giving up (``met`` is then False).
    trim
        Try each added vehicle out again and keep it out when nothing is short without it.

    Returns
    -------
    FleetSizing
    """
    if not days:
        raise ValueError("size_fleet needs at least one day")
    say = progress or (lambda _: None)
    net = days[0].network
    base_fleet = days[0].fleet

    def run(extra: Sequence[Vehicle]) -> list[tuple[Plan, DayInput]]:
        out = []
        for d in days:
            dd = replace(d, fleet=(*base_fleet, *extra))
            out.append((planner(dd), dd))
        return out

    def measure(runs: Sequence[tuple[Plan, DayInput]]) -> tuple[float, float, bool]:
        cost = sum(sum(r.cost for r in p.routes) for p, _ in runs) / len(runs)
        shorts = [shortfalls(p, d) for p, d in runs]
        parcels = sum(s.parcels for sh in shorts for s in sh.values()) / len(runs)
        return cost, parcels, all(not sh for sh in shorts)

    runs = run(())
    cost_before, short_before, met = measure(runs)
    say(f"fleet as is: {cost_before:,.0f} yuan/day, {short_before:.0f} parcels/day short")
    extra: list[Vehicle] = []
    serial = Counter[str]()
    rounds = 0
    short_now = short_before
    while not met and rounds < max_rounds:
        rounds += 1
        want: dict[str, tuple[int, Vehicle]] = {}
        for plan, day in runs:
            for home, short in shortfalls(plan, day).items():
                tpl = _template((*base_fleet, *extra), home, net, short.bulky)
                if tpl is not None:
                    n = _needed(short, tpl, _trips(plan, home))
                    if n > want.get(home, (0, tpl))[0]:
                        want[home] = (n, tpl)
        if not want:
            break
        for home, (n, tpl) in sorted(want.items()):
            for _ in range(n):
                serial[home] += 1
                extra.append(
                    replace(
                        tpl,
                        id=f"{tpl.vehicle_class}-{home}-add{serial[home]}",
                        home=home,
                        name="",
                        driver="",
                        phone="",
                    )
                )
        runs = run(extra)
        short_last = short_now
        cost_after, short_now, met = measure(runs)
        say(
            f"round {rounds}: +{len(extra)} vehicles, {cost_after:,.0f} yuan/day, "
            f"{short_now:.1f} parcels/day short"
        )
        if not met and short_now >= short_last:  # more vehicles did not help: stop
            break
    if met and trim and extra:
        for v in list(reversed(extra)):
            trial = [x for x in extra if x is not v]
            trial_runs = run(trial)
            if measure(trial_runs)[2]:
                extra, runs = trial, trial_runs
                say(f"trim: {v.id} is not needed")
    cost_after, short_after, met_after = measure(runs)
    counts = Counter((v.home, v.vehicle_class) for v in extra)
    return FleetSizing(
        added=tuple((h, c, n) for (h, c), n in sorted(counts.items())),
        cost_before=round(cost_before, 2),
        cost_after=round(cost_after, 2),
        short_before=round(short_before, 2),
        short_after=round(short_after, 2),
        days=len(days),
        rounds=rounds,
        met=met_after,
    )


def fleet_for_change(
    scenario: Scenario,
    change: Change,
    settings: SimulationSettings,
    dates: Sequence[str],
    *,
    max_rounds: int = 4,
    progress: Callable[[str], None] | None = None,
) -> FleetSizing:
    """:func:`size_fleet` for a what-if change: its network, fleet and policy on its demand of
    ``dates`` (e.g. the simulated days that deferred most), planned as the simulation plans a
    day (``settings.plan``). Changes planned carrier by carrier are sized jointly."""
    from scenarios.whatif import apply_change, variant_day

    variant = apply_change(scenario, change)
    days = [variant_day(variant, d, settings)[0] for d in dates]
    return size_fleet(days, settings.plan.plan, max_rounds=max_rounds, progress=progress)
