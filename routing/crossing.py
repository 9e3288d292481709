"""Cross-boundary service: let each village be served from a neighbouring station when that
is cheaper (the policy's ``cross_boundary``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from routing.build import OPEN_END_S, station_problem
from routing.model import Direction
from routing.state import DayState, solve_all

__all__ = ["NEIGHBOURS", "assign_across_boundaries"]

NEIGHBOURS = 2
"""Stations besides its own that may serve a village under cross-boundary service."""


def assign_across_boundaries(
    state: DayState, visited: set[str], deadline: Mapping[str, int]
) -> None:
    """Choose the station that serves each village's orders (``state.serving``).

    Per hub, one multi-depot problem holds every station's vehicles and every village due
    today; a village may be served by its own station or the :data:`NEIGHBOURS` nearest
    others (by van time). Runs are assumed to leave at the earliest the trunk could be there;
    the chosen station of each order is then kept, and the real runs are planned per station
    after the trunk, with its real arrival times."""
    day = state.day
    net, p = day.network, day.policy
    wave = p.wave(Direction.DOWN)
    for hub in net.hubs:
        stations = [s.id for s in net.stations if s.parent == hub.id]
        fleet = [v for v in day.fleet if v.home in stations]
        trucks = [v for v in day.fleet if v.home == hub.id]
        if not fleet or not trucks or len(stations) < 2:
            continue
        m = net.road_index.matrix((hub.id, *stations), trucks[0].vehicle_class)
        earliest = {
            st: wave.departs_s + int(m.time_s[0, k + 1]) + p.trunk_service_fixed_s + p.cross_dock_s
            for k, st in enumerate(stations)
        }
        points = [pt.id for pt in net.village_points if pt.id in visited and pt.parent in stations]
        orders = [o for o in day.orders if o.site in set(points) and o.id not in state.deferred]
        if not orders:
            continue
        built = station_problem(
            day, stations[0], orders, state.defer, start=0, end=OPEN_END_S, fleet=fleet
        )
        if built is None:
            continue
        problem, node_orders, fleet_all = built.problem, built.node_orders, built.fleet
        classes = {v.vehicle_class for v in fleet_all}
        tim = problem.time_s
        van = min(classes, key=lambda c: net.vehicle_class(c).gross_weight_t)
        pos = problem.site_index
        near: dict[str, set[str]] = {}
        for pt in points:
            own = net.site(pt).parent or ""
            others = sorted(
                (st for st in stations if st != own),
                key=lambda st: int(tim[van][pos[st], pos[pt]]),
            )
            near[pt] = {own, *others[:NEIGHBOURS]}
        nodes = []
        for n in problem.nodes:
            allowed = [
                i
                for i, v in enumerate(fleet_all)
                if v.home in near[n.site] and (n.allowed is None or i in n.allowed)
            ]
            nodes.append(replace(n, allowed=tuple(allowed)))
        vehicles = tuple(
            replace(
                tv,
                earliest_start_s=max(tv.earliest_start_s, earliest[tv.depot]),
                latest_end_s=min(tv.latest_end_s, deadline.get(tv.depot, OPEN_END_S)),
            )
            for tv in problem.vehicles
        )
        # the search starts from every station serving its own villages, so crossing a
        # boundary is kept only where it lowers the cost
        own_problems = []
        for st in stations:
            mine = [o for o in orders if state.station_of.get(o.site) == st]
            built_own = station_problem(
                day,
                st,
                mine,
                state.defer,
                start=earliest[st],
                end=deadline.get(st, OPEN_END_S),
            )
            if built_own is not None:
                own_problems.append(built_own)
        own_settings = state.budget.last_mile([len(b.problem.nodes) for b in own_problems])
        own_jobs = [
            (b, state.budget.halved(s)) for b, s in zip(own_problems, own_settings, strict=True)
        ]
        own_solutions = solve_all(state.solve, own_jobs, state.budget.workers)
        state.solved(own_jobs, own_solutions)
        initial = []
        for b, sol_own in zip(own_problems, own_solutions, strict=True):
            for vi, trips in enumerate(sol_own.routes):
                if trips:
                    keys = tuple(
                        tuple(b.problem.nodes[v.node].key for v in visits) for _, visits, _ in trips
                    )
                    initial.append((b.problem.vehicles[vi].id, keys))
        joint = replace(
            problem,
            name=f"cross-boundary-{hub.id}",
            nodes=tuple(nodes),
            vehicles=vehicles,
            initial_routes=tuple(initial),
        )
        joint_settings = state.budget.cross_boundary()
        sol = state.solve(joint, joint_settings)
        state.solved([(joint, joint_settings)], [sol])
        for vi, trips in enumerate(sol.routes):
            home = joint.vehicles[vi].depot
            for _, visits, _ in trips:
                for visit in visits:
                    for o in node_orders[visit.node]:
                        if home != state.station_of.get(o.site):
                            state.serving[o.id] = home
        state.say(f"  {hub.name}: {len(state.serving)} orders served across a boundary")
