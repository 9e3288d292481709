"""Repair: re-plan the unfinished part of a published plan after events.

Events (all at the repair moment ``at_s``):

* ``vehicle_down`` — a vehicle stops where it is. Its route ends there with a ``halt`` stop;
  the parcels it still carried are brought back to its station (they are there again after
  the drive back) and re-planned; what it had collected is delivered to the station the same
  way and waits there for the up wave.
* ``road_closed`` — the road is closed from now on: remaining travel is re-planned on the
  network without it (legs already driven keep the road they used).
* ``trunk_late`` — a trunk truck of the down wave is late by ``delay_min`` at every stop it
  has not reached; its stations' runs cannot carry those parcels before they arrive and are
  cross-docked.
* ``urgent_pickup`` — a new up order at a village point, collected today if possible.

Stops whose service has started by ``at_s`` are finished and kept as they are. A vehicle on
the road goes on from its last finished stop (its position, time, and the parcels on board,
which only it can drop); a vehicle at its station starts from there. Trunk-down routes are
kept (shifted where late); village runs are re-planned per station; the up wave is re-planned
if it has not left, else kept. The result is a new plan; the inputs it must be checked against
(network with closures, orders with urgent pickups) come back with it.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from networks import InvalidScenario, Network, SiteKind, parse_clock
from routing.assemble import Prefix, priced
from routing.budget import DayBudget
from routing.build import BuiltProblem, VehicleState, deadlines, station_problem
from routing.consolidate import load_of
from routing.day import finish, run_last_mile
from routing.inputs import DayInput, with_mandatory_sites
from routing.model import Direction, Order
from routing.plan import DeferralReason, Hint, Load, Plan, Route, Stop, StopKind, Tier
from routing.solvers import DEFAULT_SOLVER, Solver
from routing.split import with_parts
from routing.state import DayState

__all__ = [
    "RoadClosed",
    "TrunkLate",
    "UrgentPickup",
    "VehicleDown",
    "close_roads",
    "load_events",
    "replan",
]


@dataclass(frozen=True, slots=True)
class VehicleDown:
    vehicle: str


@dataclass(frozen=True, slots=True)
class RoadClosed:
    road: str


@dataclass(frozen=True, slots=True)
class TrunkLate:
    vehicle: str
    delay_s: int


@dataclass(frozen=True, slots=True)
class UrgentPickup:
    order: Order


Event = VehicleDown | RoadClosed | TrunkLate | UrgentPickup


def load_events(path: str | Path) -> tuple[int, tuple[Event, ...]]:
    """Read an events file: ``{"at": "11:30", "events": [{"type": ..., ...}, ...]}``.

    Raises
    ------
    InvalidScenario
        Naming the file, the event and the field.
    """
    src = Path(path).name
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidScenario("file not found", source=src) from None
    except json.JSONDecodeError as exc:
        raise InvalidScenario(
            f"not valid JSON: {exc.msg}", source=src, location=f"line {exc.lineno}"
        ) from None
    if not isinstance(doc, dict):
        raise InvalidScenario("expected an object with 'at' and 'events'", source=src)
    try:
        at_s = parse_clock(str(doc.get("at", "")))
    except ValueError as exc:
        raise InvalidScenario(str(exc), source=src, field="at") from None
    raw = doc.get("events")
    if not isinstance(raw, list):
        raise InvalidScenario("expected a list", source=src, field="events")
    return at_s, tuple(parse_event(e, f"event {n}", src) for n, e in enumerate(raw))


def parse_event(raw: Any, where: str = "event", src: str = "events") -> Event:
    """One event from its JSON form."""
    if not isinstance(raw, dict):
        raise InvalidScenario("expected an object", source=src, location=where)

    def need(key: str) -> Any:
        if key not in raw or raw[key] in (None, ""):
            raise InvalidScenario("missing", source=src, location=where, field=key)
        return raw[key]

    kind = need("type")
    if kind == "vehicle_down":
        return VehicleDown(str(need("vehicle")))
    if kind == "road_closed":
        return RoadClosed(str(need("road")))
    if kind == "trunk_late":
        delay = need("delay_min")
        if not isinstance(delay, int | float) or delay < 0:
            raise InvalidScenario(
                "must be a number >= 0", source=src, location=where, field="delay_min"
            )
        return TrunkLate(str(need("vehicle")), round(delay * 60))
    if kind == "urgent_pickup":
        o = need("order")
        if not isinstance(o, dict):
            raise InvalidScenario("expected an object", source=src, location=where, field="order")
        try:
            order = Order(
                id=str(o["id"]),
                carrier=str(o["carrier"]),
                direction=Direction.UP,
                site=str(o["site"]),
                weight_kg=float(o["weight_kg"]),
                volume_m3=float(o["volume_m3"]),
                parcels=int(o.get("parcels", 1)),
                bulky=bool(o.get("bulky", False)),
                priority=int(o.get("priority", 2)),
                sector=str(o.get("sector", "")),
                lot=str(o.get("lot", "")),
            )
        except KeyError as exc:
            raise InvalidScenario(
                "missing", source=src, location=where, field=f"order.{exc.args[0]}"
            ) from None
        except (TypeError, ValueError) as exc:
            field = getattr(exc, "field", "") or "order"
            raise InvalidScenario(str(exc), source=src, location=where, field=field) from None
        return UrgentPickup(order)
    raise InvalidScenario(f"unknown event type {kind!r}", source=src, location=where, field="type")


def close_roads(network: Network, roads: Sequence[str]) -> Network:
    """The network with these roads closed (an unknown road id is an error naming it)."""
    closed = set(roads)
    for road in sorted(closed - {r.id for r in network.roads}):
        raise InvalidScenario(f"unknown road {road!r}", source="events", field="road")
    if not closed:
        return network
    return replace(
        network,
        roads=tuple(replace(r, closed=True) if r.id in closed else r for r in network.roads),
    )


def _apply_inputs(day: DayInput, events: Sequence[Event]) -> DayInput:
    net = close_roads(day.network, [e.road for e in events if isinstance(e, RoadClosed)])
    known = {o.id for o in day.orders}
    urgent: list[Order] = []
    for e in events:
        if isinstance(e, UrgentPickup):
            if e.order.id in known:
                raise InvalidScenario(
                    f"order {e.order.id!r} already exists", source="events", field="order.id"
                )
            if (
                e.order.site not in net.index
                or net.site(e.order.site).kind is not SiteKind.VILLAGE_POINT
            ):
                raise InvalidScenario(
                    f"{e.order.site!r} is not a village point", source="events", field="order.site"
                )
            urgent.append(e.order)
            known.add(e.order.id)
    vehicles = {v.id for v in day.fleet}
    for e in events:
        if isinstance(e, VehicleDown | TrunkLate) and e.vehicle not in vehicles:
            raise InvalidScenario(
                f"unknown vehicle {e.vehicle!r}", source="events", field="vehicle"
            )
    return replace(day, network=net, orders=(*day.orders, *urgent))


def _shift(route: Route, at_s: int, delay_s: int) -> Route:
    stops = tuple(
        s
        if s.start_s <= at_s
        else replace(
            s,
            arrival_s=s.arrival_s + delay_s,
            start_s=s.start_s + delay_s,
            departure_s=s.departure_s + delay_s,
        )
        for s in route.stops
    )
    return replace(route, stops=stops)


def _priced(route: Route, day: DayInput) -> Route:
    return priced(route, next(v for v in day.fleet if v.id == route.vehicle))


def _legs_m(day: DayInput, route: Route, stops: Sequence[Stop]) -> int:
    """Distance of consecutive stops on the network they were driven on."""
    sites = tuple(dict.fromkeys(s.site for s in stops))
    m = day.network.road_index.matrix(sites, route.vehicle_class)
    pos = {s: i for i, s in enumerate(sites)}
    return sum(int(m.distance_m[pos[a.site], pos[b.site]]) for a, b in itertools.pairwise(stops))


def _warm_start(built: BuiltProblem, plan: Plan, at_s: int) -> BuiltProblem:
    """Start the search from the old plan: each vehicle's unfinished stops, in their order and
    trips (a vehicle under way first finishes the trip it is on)."""
    problem, node_orders = built.problem, built.node_orders
    key_of = {o.id: problem.nodes[i].key for i, chunk in enumerate(node_orders) for o in chunk}
    old = {r.vehicle: r for r in plan.routes_of(Tier.LAST_MILE)}
    initial = []
    for tv in problem.vehicles:
        r = old.get(tv.id)
        if r is None:
            continue
        trips: dict[int, list[str]] = {}
        for s in r.stops:
            if s.kind is not StopKind.VISIT or s.start_s <= at_s:
                continue
            keys = trips.setdefault(s.trip, [])
            for oid in (*s.drop, *s.collect):
                key = key_of.get(oid)
                if key is not None and key not in keys:
                    keys.append(key)
        seen: set[str] = set()
        ordered = []
        for k in sorted(trips):
            keys = [key for key in trips[k] if key not in seen]
            seen.update(keys)
            if keys:
                ordered.append(tuple(keys))
        if ordered:
            initial.append((tv.id, tuple(ordered)))
    return replace(built, problem=replace(problem, initial_routes=tuple(initial)))


def _hand_back_undelivered(
    routes: list[Route],
    states: dict[str, dict[str, VehicleState]],
    prefixes: dict[str, tuple[tuple[Stop, ...], int, bool]],
) -> None:
    """Parcels a vehicle under way carried but can no longer deliver (a road closed, say) go
    back with it: they are listed as dropped at its next station stop, where they wait."""
    onboard = {vid: st.onboard for by_vehicle in states.values() for vid, st in by_vehicle.items()}
    for k, r in enumerate(routes):
        if r.tier is not Tier.LAST_MILE or not onboard.get(r.vehicle):
            continue
        done = len(prefixes[r.vehicle][0]) if r.vehicle in prefixes else 0
        served = {o for s in r.stops[done:] if s.kind is StopKind.VISIT for o in s.drop}
        back = tuple(o for o in onboard[r.vehicle] if o not in served)
        if not back:
            continue
        at = next(
            i
            for i in range(done, len(r.stops))
            if r.stops[i].kind in (StopKind.RELOAD, StopKind.RETURN)
        )
        stops = list(r.stops)
        stops[at] = replace(stops[at], drop=back)
        routes[k] = replace(r, stops=tuple(stops))


def replan(
    plan: Plan,
    day: DayInput,
    events: Sequence[Event],
    *,
    at_s: int,
    time_limit_s: float | None = None,
    workers: int = 1,
    solve: Solver | None = None,
    work: int | None = None,
    pins: Mapping[str, str] | None = None,
) -> tuple[Plan, DayInput]:
    """Re-plan what is not finished at ``at_s`` after ``events``.

    ``pins`` (village point → vehicle) keep a dispatcher's pins through the repair where the
    pinned vehicle can still serve the village.

    Returns
    -------
    (Plan, DayInput)
        The repaired plan and the inputs it holds for (closed roads, added orders). Finished
        stops are unchanged; every order is on exactly one final stop or deferred.
    """
    started = time.perf_counter()
    given = with_mandatory_sites(_apply_inputs(day, events))
    # the plan's parts of split orders stand for them (the inputs keep the orders whole)
    new_day = replace(given, orders=with_parts(given.orders, plan.parts))
    p = new_day.policy
    b = DayState(
        new_day,
        DayBudget.of(p, time_limit_s=time_limit_s, work=work, workers=workers),
        solve or DEFAULT_SOLVER,
        pins=dict(pins or {}),
    )
    down = {e.vehicle for e in events if isinstance(e, VehicleDown)}
    late = {e.vehicle: e.delay_s for e in events if isinstance(e, TrunkLate)}
    orders = {o.id: o for o in new_day.orders}
    # earlier deferrals stand (frequency, capacity …)
    for d in plan.deferred:
        b.deferred[d.order] = d

    # --- trunk, down wave: kept; late trucks shifted; a truck that broke down stops ---------
    trunk_at: dict[str, list[str]] = {}
    arrival_of: dict[str, int] = {}  # order id -> when its trunk has unloaded it
    truck_free: dict[str, int] = {}
    for r in plan.routes_of(Tier.TRUNK_DOWN):
        if r.vehicle in late:
            r = _shift(r, at_s, late[r.vehicle])
            r = _priced(r, new_day)
        if r.vehicle in down and r.stops[-1].start_s > at_s:
            reached = [s for s in r.stops if s.start_s <= at_s]
            lost = [oid for s in r.stops if s.start_s > at_s for oid in s.drop]
            b.defer(
                [orders[o] for o in lost],
                DeferralReason.CAPACITY,
                reached[-1].site if reached else r.home,
                Hint.of(
                    "broke_down", vehicle=r.vehicle, site=reached[-1].site if reached else r.home
                ),
            )
            halt = replace(
                reached[-1],
                kind=StopKind.HALT,
                arrival_s=max(at_s, reached[-1].departure_s),
                start_s=max(at_s, reached[-1].departure_s),
                departure_s=max(at_s, reached[-1].departure_s),
                drop=(),
                collect=(),
            )
            kept = (*reached, halt)
            r = replace(r, stops=kept, distance_m=_legs_m(day, r, kept))
            r = _priced(r, new_day)
        b.routes.append(r)
        truck_free[r.vehicle] = r.stops[-1].arrival_s
        for s in r.stops:
            if s.kind is StopKind.VISIT:
                trunk_at.setdefault(s.site, []).append(r.vehicle)
                for oid in s.drop:
                    arrival_of[oid] = s.departure_s
    ready: dict[str, int] = {}
    for r in b.routes:
        for s in r.stops:
            if s.kind is StopKind.VISIT:
                ready[s.site] = max(ready.get(s.site, 0), s.departure_s + p.cross_dock_s)
    deadline = deadlines(new_day)

    # --- village runs: vehicle states and the work left, per station ------------------------
    states: dict[str, dict[str, VehicleState]] = {}
    prefixes: dict[str, Prefix] = {}
    pool: dict[str, list[Order]] = {}
    release: dict[str, int] = {}
    untouched: list[Route] = []
    for r in plan.routes_of(Tier.LAST_MILE):
        finished = [i for i, s in enumerate(r.stops) if s.start_s <= at_s]
        rest = r.stops[finished[-1] + 1 :] if finished else r.stops
        left = [orders[oid] for s in rest for oid in (*s.drop, *s.collect)]
        pool.setdefault(r.home, []).extend(left)
        if not finished:
            continue  # not started: the vehicle and all its work are re-planned
        j = finished[-1]
        last = r.stops[j]
        if last.kind is StopKind.RETURN:
            if r.vehicle in down:
                untouched.append(r)
                continue
            done = tuple(r.stops[:-1])
            prefixes[r.vehicle] = (done, _legs_m(day, r, done), False)
            states.setdefault(r.home, {})[r.vehicle] = VehicleState(
                r.home,
                max(at_s, last.arrival_s),
                False,
                trips_done=r.trips,
                worked_s=last.arrival_s - r.stops[0].departure_s,
                driven_m=r.distance_m,
            )
            untouched.append(r)  # used only if nothing new is given to it
            continue
        if last.kind is StopKind.RELOAD and last.departure_s > at_s:
            done = tuple(r.stops[:j])  # loading now: its next trip is re-planned from the station
            prefixes[r.vehicle] = (done, _legs_m(day, r, done), False)
            if r.vehicle not in down:
                states.setdefault(r.home, {})[r.vehicle] = VehicleState(
                    r.home,
                    max(at_s, last.arrival_s),
                    False,
                    trips_done=last.trip,
                    worked_s=last.arrival_s - r.stops[0].departure_s,
                    driven_m=_legs_m(day, r, r.stops[: j + 1]),
                )
            else:
                stop = replace(
                    last,
                    kind=StopKind.RETURN,
                    departure_s=last.arrival_s,
                    start_s=last.arrival_s,
                    load_after=Load(),
                    trip=done[-1].trip,
                )
                untouched.append(replace(r, stops=(*done, stop)))
            continue
        # under way
        done = tuple(r.stops[: j + 1])
        trip = last.trip
        onboard = tuple(oid for s in rest if s.trip == trip for oid in s.drop)
        collected = tuple(oid for s in done if s.trip == trip for oid in s.collect)
        if r.vehicle in down:
            halt_s = max(at_s, last.departure_s)
            # what it still carried is handed back for the station (the drop list of the halt)
            handed = load_of(orders[o] for o in onboard)
            halt = Stop(
                last.site,
                StopKind.HALT,
                halt_s,
                halt_s,
                halt_s,
                trip,
                onboard,
                (),
                (last.load_after - handed).rounded(),
            )
            stops = (*done, halt)
            route = replace(r, stops=stops, distance_m=_legs_m(day, r, stops))
            untouched.append(_priced(route, new_day))
            back = new_day.network.road_index.matrix((last.site, r.home), r.vehicle_class)
            comes_back = halt_s + int(min(back.time_s[0, 1], 6 * 3600))
            for oid in onboard:
                release[oid] = max(comes_back, arrival_of.get(oid, 0) + p.cross_dock_s)
            continue
        prefixes[r.vehicle] = (done, _legs_m(day, r, done), True)
        states.setdefault(r.home, {})[r.vehicle] = VehicleState(
            last.site,
            last.departure_s,
            True,
            onboard=onboard,
            collected=collected,
            trips_done=trip,
            worked_s=last.departure_s - r.stops[0].departure_s,
            driven_m=_legs_m(day, r, done),
        )
    # late trunk: parcels not yet at the station are released when they are cross-docked
    for station_orders in pool.values():
        for order in station_orders:
            if order.direction is Direction.DOWN and order.id not in release:
                reach = arrival_of.get(order.id)
                if reach is not None and reach > at_s:
                    release[order.id] = reach + p.cross_dock_s
    before_ids = {x.id for x in day.orders}
    for order in new_day.orders:
        if order.id not in before_ids:  # urgent pickups
            pool.setdefault(b.station_of[order.site], []).append(order)

    problems = []
    for station_id in sorted(pool):
        todo = [o for o in pool[station_id] if o.id not in b.deferred]
        fleet = [v for v in new_day.fleet if v.home == station_id and v.id not in down]
        station_states = states.get(station_id, {})
        # an onboard order keeps its vehicle; its release does not apply
        built = station_problem(
            new_day,
            station_id,
            todo,
            b.defer,
            start=max(ready.get(station_id, 0), at_s),
            end=deadline.get(station_id, 48 * 3600),
            states=station_states,
            release={
                o: t
                for o, t in release.items()
                if o not in {x for st in station_states.values() for x in st.onboard}
            },
            fleet=fleet,
        )
        if built is not None:
            problems.append(built)
    problems = [_warm_start(built, plan, at_s) for built in problems]
    run_end = run_last_mile(b, problems, trunk_at, prefixes)
    replanned = {r.vehicle for r in b.routes if r.tier is Tier.LAST_MILE}
    for r in untouched:
        if r.vehicle in replanned:
            continue
        if (
            r.vehicle in prefixes
            and r.stops[-1].kind is not StopKind.HALT
            and r.stops[-1].kind is not StopKind.RETURN
        ):
            continue
        b.routes.append(r)
        run_end[r.home] = max(run_end.get(r.home, 0), r.stops[-1].arrival_s)
    # vehicles under way that got nothing new: they finish by driving home
    for vid, (done, done_m, _under_way) in prefixes.items():
        if vid in replanned or any(r.vehicle == vid and r.tier is Tier.LAST_MILE for r in b.routes):
            continue
        v = next(v for v in new_day.fleet if v.id == vid)
        m = new_day.network.road_index.matrix((done[-1].site, v.home), v.vehicle_class)
        arrive = done[-1].departure_s + int(m.time_s[0, 1])
        stops = (
            *done,
            Stop(v.home, StopKind.RETURN, arrive, arrive, arrive, done[-1].trip, (), (), Load()),
        )
        route = Route(
            vid,
            v.vehicle_class,
            Tier.LAST_MILE,
            p.wave(Direction.DOWN).id,
            v.home,
            stops,
            done_m + int(m.distance_m[0, 1]),
            0.0,
        )
        b.routes.append(_priced(route, new_day))
        run_end[v.home] = max(run_end.get(v.home, 0), arrive)
    _hand_back_undelivered(b.routes, states, prefixes)
    up_wave = p.wave(Direction.UP)
    keep_up = None
    if at_s >= up_wave.departs_s:
        keep_up = list(plan.routes_of(Tier.TRUNK_UP))
    return replace(finish(b, run_end, truck_free, started, keep_up), parts=plan.parts), given
