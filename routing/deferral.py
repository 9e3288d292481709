"""Why an order is deferred, and what would serve it: the reasons and suggestions a plan gives
for the orders it leaves for another day."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from networks import UNREACHABLE, Network, SiteKind, format_clock
from routing.build import capacity, chunks
from routing.model import Order, Policy, Vehicle
from routing.plan import DeferralReason, Deferred, Hint
from routing.problem import TierProblem

__all__ = ["capacity_suggestions", "why_dropped"]


def why_dropped(
    network: Network, problem: TierProblem, i: int
) -> tuple[DeferralReason, Hint | None]:
    """Why the solver left node ``i`` of ``problem`` out, and what would fit it.

    Unreachable when no vehicle that may serve it can get there and back on open roads; time
    when no such vehicle could serve it inside its window and shift (with how much longer the
    point would have to stay open, or how much earlier it would have to open); otherwise
    capacity (the suggestion is added later, per home, by :func:`capacity_suggestions`).
    """
    node = problem.nodes[i]
    pos = problem.site_index
    site = network.site(node.site)
    candidates = [
        v for k, v in enumerate(problem.vehicles) if node.allowed is None or k in node.allowed
    ]
    reachable = [
        v
        for v in candidates
        if problem.distance_m[v.vehicle_class][pos[v.depot], pos[node.site]] < UNREACHABLE
        and problem.distance_m[v.vehicle_class][pos[node.site], pos[v.depot]] < UNREACHABLE
    ]
    if not reachable:
        if not candidates:
            return DeferralReason.UNREACHABLE, Hint.of("no_vehicle_may_go", site=site.name)
        classes = ", ".join(sorted({v.vehicle_class for v in candidates}))
        return DeferralReason.UNREACHABLE, Hint.of("no_open_road", classes=classes, site=site.name)
    best_late = None
    fits_time = False
    latest_open = None  # the latest service start some vehicle could still make
    for v in reachable:
        t_out = int(problem.time_s[v.vehicle_class][pos[v.depot], pos[node.site]])
        t_back = int(problem.time_s[v.vehicle_class][pos[node.site], pos[v.depot]])
        arrive = v.earliest_start_s + t_out
        start = max(arrive, node.window[0])
        if start <= node.window[1] and start + node.service_s + t_back <= v.latest_end_s:
            fits_time = True
            break
        late = start - node.window[1]
        best_late = late if best_late is None else min(best_late, late)
        last = v.latest_end_s - node.service_s - t_back
        if arrive <= last:
            latest_open = last if latest_open is None else max(latest_open, last)
    if not fits_time:
        if latest_open is not None and node.window[0] > latest_open:
            # the point opens after the runs must be back: staying open longer or leaving
            # earlier cannot help, opening earlier can
            opens_by = latest_open - latest_open % 600
            return DeferralReason.TIME, Hint.of(
                "open_earlier",
                site=site.name,
                opens=format_clock(node.window[0]),
                by=format_clock(opens_by),
            )
        if best_late is not None and best_late > 0:
            minutes = math.ceil(best_late / 600) * 10
            return DeferralReason.TIME, Hint.of(
                "open_longer",
                site=site.name,
                minutes=minutes,
                until=format_clock(node.window[1] + minutes * 60),
            )
        return DeferralReason.TIME, Hint.of("depart_earlier", site=site.name)
    return DeferralReason.CAPACITY, None


def capacity_suggestions(
    deferred: Mapping[str, Deferred],
    *,
    network: Network,
    fleet: tuple[Vehicle, ...],
    policy: Policy,
    orders: Mapping[str, Order],
    station_of: Mapping[str, str],
    short_of: Mapping[str, str],
) -> dict[str, Deferred]:
    """The capacity deferrals without a suggestion, each given one actionable line per home
    site ("one more van at X would carry N of these M parcels"); ``short_of`` names the hub
    whose full trunk wave left an order behind (short of trucks, not of vans)."""
    by_home: dict[str, list[Deferred]] = {}
    for d in deferred.values():
        if d.reason is DeferralReason.CAPACITY and not d.suggestion:
            home = station_of.get(d.site) or next((h.id for h in network.hubs), d.site)
            if network.site(d.site).kind is SiteKind.BULK_SHIPPER:
                home = network.site(d.site).parent or home
            home = short_of.get(d.order, home)
            by_home.setdefault(home, []).append(d)
    out: dict[str, Deferred] = {}
    for home, items in by_home.items():
        vehicles = [v for v in fleet if v.home == home]
        parcels = sum(orders[d.order].parcels for d in items)
        if vehicles:
            ref = max(vehicles, key=lambda v: v.capacity_parcels)
            trips = (
                policy.max_trips
                if policy.reloads and network.site(home).kind is SiteKind.STATION
                else 1
            )
            # what its trips hold by weight, volume and parcels, not by parcels alone
            packed, _ = chunks([orders[d.order] for d in items], capacity(ref))
            carry = sum(o.parcels for chunk in packed[:trips] for o in chunk)
            hint = Hint.of(
                "one_more_vehicle",
                vehicle_class=ref.vehicle_class,
                home=network.site(home).name,
                carry=carry,
                parcels=parcels,
            )
        else:
            hint = Hint.of("home_without_vehicles", home=network.site(home).name, parcels=parcels)
        for d in items:
            out[d.order] = replace(d, suggestion=hint.text(), hint=hint)
    return out
