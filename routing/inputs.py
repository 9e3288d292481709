"""One day's input: network, fleet, policy and orders — validated once, on construction.

Holding a :class:`DayInput` means its parts agree: the date is an ISO date, vehicle ids are
unique and their homes and classes exist, order ids are unique and their sites take orders.
The bundle loader (:mod:`scenarios.bundle`) and the API build one; edits go through
:func:`dataclasses.replace`, which validates the result again.

Reachability is a fact of the day, not a fault of its input: after a road closure, or in a
what-if without vehicles at a station, the planner defers what cannot be reached or carried,
with the reason. :func:`check_reachability` is the stricter rule the bundle loader applies to
a network as it is delivered (every point reachable by its station's vehicles).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

from networks import InvalidScenario, Network, SiteKind, UnreachableSite
from routing.model import Order, Policy, Vehicle
from routing.pools import Pool

__all__ = [
    "ORDER_SITES",
    "DayInput",
    "check_fleet",
    "check_orders",
    "check_pools",
    "check_reachability",
    "with_mandatory_sites",
]

ORDER_SITES = (SiteKind.VILLAGE_POINT, SiteKind.STATION, SiteKind.BULK_SHIPPER)
"""The kinds of site an order may go to or come from."""


@dataclass(frozen=True)
class DayInput:
    """Everything one day's plan is made from.

    Parameters
    ----------
    name
        The network's name (a bundle's, or the API's network id).
    network, fleet, policy, orders
        The day's parts; see :mod:`routing.model`.
    date
        ISO date of the day (``"2026-12-01"``).
    pools
        Shared fleets (:class:`~routing.pools.Pool`): vehicles the plan assigns to a station
        of their pool for the day, within its total and per-station maximum.

    Raises
    ------
    InvalidScenario
        On the first fault, naming the vehicle, order or field.
    """

    name: str
    network: Network
    fleet: tuple[Vehicle, ...]
    policy: Policy
    orders: tuple[Order, ...]
    date: str
    pools: tuple[Pool, ...] = ()

    def __post_init__(self) -> None:
        try:
            dt.date.fromisoformat(self.date)
        except (TypeError, ValueError):
            raise InvalidScenario(
                f"not an ISO date (YYYY-MM-DD): {self.date!r}", field="date"
            ) from None
        check_fleet(self.network, self.fleet)
        check_orders(self.network, self.orders)
        check_pools(self.network, self.fleet, self.pools)


def with_mandatory_sites(day: DayInput) -> DayInput:
    """The day with every order of a mandatory site marked mandatory (the same object when
    there is none): the planner then reads one flag, :attr:`Order.mandatory`."""
    sites = {s.id for s in day.network.sites if s.mandatory}
    if not any(o.site in sites and not o.mandatory for o in day.orders):
        return day
    orders = tuple(replace(o, mandatory=True) if o.site in sites else o for o in day.orders)
    return replace(day, orders=orders)


def check_pools(network: Network, fleet: tuple[Vehicle, ...], pools: tuple[Pool, ...]) -> None:
    """Pool rules: distinct names, stations that are stations, vehicles of the fleet, each
    vehicle in one pool at most."""
    ids = {v.id for v in fleet}
    seen: set[str] = set()
    names: set[str] = set()
    for pool in pools:
        where = f"pool {pool.name!r}"
        if pool.name in names:
            raise InvalidScenario("duplicate pool name", location=where, field="name")
        names.add(pool.name)
        for st in pool.stations:
            if st not in network.index or network.site(st).kind is not SiteKind.STATION:
                raise InvalidScenario(f"{st!r} is not a station", location=where, field="stations")
        for vid in pool.vehicles:
            if vid not in ids:
                raise InvalidScenario(f"unknown vehicle {vid!r}", location=where, field="vehicles")
            if vid in seen:
                raise InvalidScenario(
                    f"vehicle {vid!r} is in two pools", location=where, field="vehicles"
                )
            seen.add(vid)


def check_fleet(
    network: Network,
    fleet: tuple[Vehicle, ...],
    *,
    locate: Callable[[int], str] | None = None,
    source: str = "fleet",
) -> None:
    """Fleet rules that need the network: unique ids, known homes and classes."""
    seen: set[str] = set()
    classes = {vc.name for vc in network.vehicle_classes}
    for i, v in enumerate(fleet):
        where = locate(i) if locate else f"vehicle {v.id!r}"
        if v.id in seen:
            raise InvalidScenario(
                f"duplicate vehicle id {v.id!r}", source=source, location=where, field="id"
            )
        seen.add(v.id)
        if v.vehicle_class not in classes:
            raise InvalidScenario(
                f"unknown vehicle class {v.vehicle_class!r} "
                f"(network has {', '.join(sorted(classes))})",
                source=source,
                location=where,
                field="class",
            )
        if v.home not in network.index:
            raise InvalidScenario(
                f"unknown home site {v.home!r}", source=source, location=where, field="home"
            )
        if network.site(v.home).kind not in (SiteKind.HUB, SiteKind.STATION):
            raise InvalidScenario(
                f"home {v.home!r} is a {network.site(v.home).kind}; "
                "vehicles live at the hub or a station",
                source=source,
                location=where,
                field="home",
            )


def check_orders(
    network: Network,
    orders: tuple[Order, ...],
    *,
    locate: Callable[[int], str] | None = None,
    source: str = "orders",
) -> None:
    """Order rules that need the network: unique ids, sites that exist and take orders."""
    seen: set[str] = set()
    for i, o in enumerate(orders):
        where = locate(i) if locate else f"order {o.id!r}"
        if o.id in seen:
            raise InvalidScenario(
                f"duplicate order id {o.id!r}",
                source=source,
                location=where,
                field="id",
                code="duplicate_id",
                params={"value": o.id},
            )
        seen.add(o.id)
        if o.site not in network.index:
            raise InvalidScenario(
                f"unknown site {o.site!r}",
                source=source,
                location=where,
                field="site",
                code="unknown_site",
                params={"value": o.site},
            )
        kind = network.site(o.site).kind
        if kind not in ORDER_SITES:
            raise InvalidScenario(
                f"site {o.site!r} is a {kind}; "
                "orders go to village points, stations or bulk shippers",
                source=source,
                location=where,
                field="site",
            )


def check_reachability(
    network: Network, fleet: tuple[Vehicle, ...], *, source: str = "fleet"
) -> None:
    """Every village point reachable, both ways, by some vehicle class of its station; every
    station and bulk shipper by some hub class."""
    by_home: dict[str, set[str]] = {}
    for v in fleet:
        by_home.setdefault(v.home, set()).add(v.vehicle_class)
    checks: list[tuple[str, list[str]]] = []
    for station in network.stations:
        checks.append(
            (station.id, [p.id for p in network.children(station.id, SiteKind.VILLAGE_POINT)])
        )
    for hub in network.hubs:
        targets = [s.id for s in network.stations if s.parent == hub.id]
        targets += [b.id for b in network.of_kind(SiteKind.BULK_SHIPPER)]
        checks.append((hub.id, targets))
    for home, targets in checks:
        if not targets:
            continue
        classes = sorted(by_home.get(home, set()))
        if not classes:
            raise InvalidScenario(
                f"site {home!r} serves {len(targets)} sites but has no vehicles",
                source=source,
                field="home",
            )
        ok = [False] * len(targets)
        for cls in classes:
            label = network.road_index.components(cls)
            for k, target in enumerate(targets):
                if label[target] == label[home]:
                    ok[k] = True
        for k, reached in enumerate(ok):
            if not reached:
                raise UnreachableSite(
                    f"no vehicle of {home!r} ({', '.join(classes)}) can reach {targets[k]!r} "
                    "and come back on open roads",
                    source="network.geojson",
                    location=f"site {targets[k]!r}",
                    field="coordinates",
                )
