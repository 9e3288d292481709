"""From a tier solution to routes: stops with times, loads and trips, distance and cost.

:func:`route_cost` is the one price of a route in the planner, repairs and re-timing (the
checker keeps its own arithmetic, on purpose).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from routing.consolidate import load_of
from routing.model import Direction, Order, Vehicle
from routing.plan import Load, Route, Stop, StopKind, Tier
from routing.problem import TierProblem, TierSolution

__all__ = ["Prefix", "priced", "route_cost", "routes_from_solution", "uncollect"]

Prefix = tuple[tuple[Stop, ...], int, bool]
"""What a vehicle has done when a plan is repaired: its stops, their distance (m), and
whether its current trip goes on (under way) or it waits at its station."""


def route_cost(vehicle: Vehicle, distance_m: int, duration_s: int) -> float:
    """Yuan: the vehicle's fixed cost, per kilometre and per hour on duty (2 decimals).

    >>> from routing.model import Vehicle
    >>> van = Vehicle("van-1", "van", "st-1", 800, 6, 300, fixed_cost=100,
    ...               cost_per_km=1.5, cost_per_hour=30)
    >>> route_cost(van, 12_000, 5400)
    163.0
    """
    hours = duration_s / 3600
    cost = (
        vehicle.fixed_cost + vehicle.cost_per_km * distance_m / 1000 + vehicle.cost_per_hour * hours
    )
    return round(cost, 2)


def priced(route: Route, vehicle: Vehicle) -> Route:
    """``route`` with its cost recomputed from its distance and its first and last stop."""
    duration = route.stops[-1].departure_s - route.stops[0].departure_s
    return replace(route, cost=route_cost(vehicle, route.distance_m, duration))


def routes_from_solution(
    problem: TierProblem,
    solution: TierSolution,
    *,
    tier: Tier,
    wave: str,
    fleet: Sequence[Vehicle],
    node_orders: Sequence[Sequence[Order]],
    orders: Mapping[str, Order],
    prefixes: Mapping[str, Prefix] | None = None,
) -> list[Route]:
    """Turn a tier solution into routes.

    ``prefixes`` (a repair) maps a vehicle to the stops it has done, their distance, and
    whether its current trip goes on (under way) or it waits at its station.
    """
    pos = problem.site_index
    prefixes = prefixes or {}
    out: list[Route] = []
    for vi, trips in enumerate(solution.routes):
        if not trips:
            continue
        tv = problem.vehicles[vi]
        cls = tv.vehicle_class
        dist, tim = problem.distance_m[cls], problem.time_s[cls]
        home = tv.depot
        done, done_m, under_way = prefixes.get(tv.id, ((), 0, False))
        stops: list[Stop] = list(done)
        total_m = done_m
        prev_site = done[-1].site if done else home
        prev_dep = done[-1].departure_s if done else 0
        trip0 = done[-1].trip + (0 if under_way else 1) if done else 0
        for k, (leave, visits, _back) in enumerate(trips):
            trip_orders = [o for v in visits for o in node_orders[v.node]]
            load = load_of([o for o in trip_orders if o.direction is Direction.DOWN])
            if k == 0 and under_way:
                load = done[-1].load_after
            elif k == 0 and not done:
                stops.append(
                    Stop(home, StopKind.DEPART, leave, leave, leave, 0, (), (), load.rounded())
                )
            else:
                travel = int(tim[pos[prev_site], pos[home]])
                total_m += int(dist[pos[prev_site], pos[home]])
                arrive = prev_dep + travel
                stops.append(
                    Stop(
                        home,
                        StopKind.RELOAD,
                        arrive,
                        arrive,
                        max(leave, arrive),
                        trip0 + k,
                        (),
                        (),
                        load.rounded(),
                    )
                )
            if not (k == 0 and under_way):
                prev_site, prev_dep = home, max(leave, stops[-1].arrival_s)
            for v in visits:
                node = problem.nodes[v.node]
                travel = int(tim[pos[prev_site], pos[node.site]])
                total_m += int(dist[pos[prev_site], pos[node.site]])
                arrive = prev_dep + travel
                start = max(arrive, v.start_s)
                last = stops[-1] if len(stops) > len(done) else None
                # straight on at the same site (same trip): one stop for the courier, and its
                # setup was paid already (TierNode.setup_s)
                into = (
                    last
                    if last is not None
                    and last.kind is StopKind.VISIT
                    and last.site == node.site
                    and last.trip == trip0 + k
                    else None
                )
                dep = start + node.service_s - (node.setup_s if into is not None else 0)
                here_orders = node_orders[v.node]
                drop = tuple(o.id for o in here_orders if o.direction is Direction.DOWN)
                collect = tuple(o.id for o in here_orders if o.direction is Direction.UP)
                load = load - load_of(orders[i] for i in drop) + load_of(orders[i] for i in collect)
                here = Stop(
                    node.site,
                    StopKind.VISIT,
                    arrive,
                    start,
                    dep,
                    trip0 + k,
                    drop,
                    collect,
                    load.rounded(),
                )
                if into is not None:
                    # two loads at one village (its parcels and its bulky ones, or drops and
                    # collections) are one stop for the courier
                    here = replace(
                        into,
                        departure_s=dep,
                        drop=into.drop + drop,
                        collect=into.collect + collect,
                        load_after=here.load_after,
                    )
                    stops[-1] = here
                else:
                    stops.append(here)
                prev_site, prev_dep = node.site, dep
        travel = int(tim[pos[prev_site], pos[home]])
        total_m += int(dist[pos[prev_site], pos[home]])
        arrive = prev_dep + travel
        stops.append(
            Stop(home, StopKind.RETURN, arrive, arrive, arrive, stops[-1].trip, (), (), Load())
        )
        vehicle = next(v for v in fleet if v.id == tv.id)
        route = Route(tv.id, cls, tier, wave, home, tuple(stops), total_m, 0.0)
        out.append(priced(route, vehicle))
    return out


def uncollect(
    routes: Sequence[Route], order_ids: set[str], orders: Mapping[str, Order]
) -> list[Route]:
    """The routes with ``order_ids`` taken off the village runs that collected them (they wait
    at their village point); the loads after the later stops of the same trip drop by theirs."""
    out = list(routes)
    if not order_ids:
        return out
    for k, r in enumerate(out):
        if r.tier is not Tier.LAST_MILE:
            continue
        stops: list[Stop] = []
        off = Load()
        for s in r.stops:
            if s.kind is not StopKind.VISIT:
                off = Load()  # a trip starts (or ends) at the station
                stops.append(s)
                continue
            gone = [oid for oid in s.collect if oid in order_ids]
            off = off + load_of(orders[oid] for oid in gone)
            if gone or off != Load():
                s = replace(
                    s,
                    collect=tuple(oid for oid in s.collect if oid not in order_ids),
                    load_after=(s.load_after - off).rounded(),
                )
            stops.append(s)
        out[k] = replace(r, stops=tuple(stops))
    return out
