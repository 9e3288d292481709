"""Re-timing a route whose stops were rearranged by hand (a dispatcher's edit).

Arithmetic on the core's own matrices, not search: arrival = previous departure + travel
time, service starts when the site opens (village runs) or at the planned start (trunk runs),
service = fixed + per parcel, loads recomputed per trip (a reload loads the next trip's
drops, and stands at least the policy's unloading and loading time), distance and cost from
the vehicle's rates. Whether the result is feasible is the checker's call (:func:`routing.check.check_plan`), not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from routing.assemble import route_cost
from routing.consolidate import load_of
from routing.inputs import DayInput
from routing.model import Order, Vehicle
from routing.plan import Load, Route, Stop, StopKind, Tier

__all__ = ["retime"]


def _load(ids: tuple[str, ...], orders: Mapping[str, Order]) -> Load:
    return load_of(orders[oid] for oid in ids if oid in orders)


def retime(route: Route, day: DayInput, vehicle: Vehicle) -> Route:
    """The route with times, trips, loads, distance and cost recomputed from its stop order."""
    net, policy = day.network, day.policy
    orders = {o.id: o for o in day.orders}
    sites = tuple(dict.fromkeys(s.site for s in route.stops))
    m = net.road_index.matrix(sites, route.vehicle_class)
    pos = {s: i for i, s in enumerate(sites)}
    out: list[Stop] = []
    trip = 0
    dist = 0
    # which visits belong to which trip: count reloads before each stop
    trip_of: list[int] = []
    k = 0
    for s in route.stops:
        if s.kind is StopKind.RELOAD:
            k += 1
        trip_of.append(k)
    trip_drops: dict[int, tuple[str, ...]] = {}
    for s, t in zip(route.stops, trip_of, strict=True):
        if s.kind is StopKind.VISIT:
            trip_drops[t] = trip_drops.get(t, ()) + s.drop
    load = Load()
    for i, s in enumerate(route.stops):
        trip = trip_of[i]
        if i == 0:
            load = _load(trip_drops.get(0, ()), orders)
            out.append(replace(s, trip=0, load_after=load.rounded()))
            continue
        prev = out[-1]
        a, b = pos[prev.site], pos[s.site]
        dist += int(m.distance_m[a, b])
        arrival = prev.departure_s + int(m.time_s[a, b])
        if s.kind is StopKind.VISIT:
            site = net.site(s.site)
            parcels = sum(orders[o].parcels for o in (*s.drop, *s.collect) if o in orders)
            if route.tier is Tier.LAST_MILE:
                service = round(site.service_fixed_s + site.service_per_parcel_s * parcels)
                start = max(arrival, site.opens_s)
            else:
                service = round(
                    policy.trunk_service_fixed_s + policy.trunk_service_per_parcel_s * parcels
                )
                start = max(arrival, s.start_s)
            load = load - _load(s.drop, orders) + _load(s.collect, orders)
            out.append(
                replace(
                    s,
                    arrival_s=arrival,
                    start_s=start,
                    departure_s=start + service,
                    trip=trip,
                    load_after=load.rounded(),
                )
            )
        elif s.kind is StopKind.RELOAD:
            load = _load(trip_drops.get(trip, ()), orders)
            # unload what the last trip collected, load the next trip (the policy's times)
            brought = sum(
                orders[o].parcels
                for st, t in zip(route.stops, trip_of, strict=True)
                if t == trip - 1
                for o in st.collect
                if o in orders
            )
            handling = (
                policy.unload_fixed_s
                + policy.unload_s_per_parcel * brought
                + policy.load_s_per_parcel * load.parcels
            )
            dwell = max(s.departure_s - s.start_s, handling)
            departure = max(s.departure_s, arrival + dwell)
            out.append(
                replace(
                    s,
                    arrival_s=arrival,
                    start_s=arrival,
                    departure_s=departure,
                    trip=trip,
                    load_after=load.rounded(),
                )
            )
        else:
            load = Load()
            out.append(
                replace(
                    s,
                    arrival_s=arrival,
                    start_s=arrival,
                    departure_s=arrival,
                    trip=trip,
                    load_after=Load(),
                )
            )
    duration = out[-1].departure_s - out[0].departure_s
    return replace(
        route, stops=tuple(out), distance_m=dist, cost=route_cost(vehicle, dist, duration)
    )
