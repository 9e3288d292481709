"""What changed between two plans of one day: vehicles, stops moved, parcels re-assigned.

``replan`` prints this so a dispatcher sees what to tell drivers; it works on any two plans
(a repair, a re-plan with pins, a hand edit). Orders are followed to the stop where they are
served (:func:`routing.plan.final_stops`); handovers at stations are not counted as moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from routing.model import Order
from routing.plan import Plan, Route, StopKind, final_stops

__all__ = ["PlanChanges", "plan_changes"]


@dataclass(frozen=True, slots=True)
class PlanChanges:
    """Differences from the old plan to the new one (ids sorted; parcels summed)."""

    vehicles_added: tuple[str, ...]
    """Vehicles with a route now that had none before."""
    vehicles_dropped: tuple[str, ...]
    """Vehicles with a route before and none now."""
    vehicles_changed: tuple[str, ...]
    """Vehicles on both plans whose visits (sites, in order) differ."""
    stops_moved: tuple[tuple[str, str, str], ...]
    """(site, vehicle before, vehicle now) for each visited site served by another vehicle."""
    orders_reassigned: int
    parcels_reassigned: int
    """Orders (parcels) served by another vehicle than before."""
    orders_newly_deferred: int
    parcels_newly_deferred: int
    orders_newly_served: int
    parcels_newly_served: int
    """Orders served now that were deferred or unknown before (an urgent pickup)."""

    @property
    def unchanged(self) -> bool:
        return not (
            self.vehicles_added
            or self.vehicles_dropped
            or self.vehicles_changed
            or self.stops_moved
            or self.orders_reassigned
            or self.orders_newly_deferred
            or self.orders_newly_served
        )

    def lines(self) -> list[str]:
        """Human-readable lines, one fact per line (the CLI prints them)."""
        if self.unchanged:
            return ["no change to any route"]
        out: list[str] = []
        if self.vehicles_added:
            out.append(f"vehicles added: {', '.join(self.vehicles_added)}")
        if self.vehicles_dropped:
            out.append(f"vehicles with no route now: {', '.join(self.vehicles_dropped)}")
        if self.vehicles_changed:
            out.append(
                f"routes changed ({len(self.vehicles_changed)}): {', '.join(self.vehicles_changed)}"
            )
        if self.stops_moved:
            out.append(f"stops moved to another vehicle: {len(self.stops_moved)}")
            out.extend(f"  {site}: {a} -> {b}" for site, a, b in self.stops_moved)
        out.append(
            f"parcels re-assigned: {self.parcels_reassigned} ({self.orders_reassigned} orders); "
            f"newly deferred: {self.parcels_newly_deferred} ({self.orders_newly_deferred}); "
            f"newly served: {self.parcels_newly_served} ({self.orders_newly_served})"
        )
        return out


def _visits(route: Route) -> tuple[str, ...]:
    return tuple(s.site for s in route.stops if s.kind is StopKind.VISIT)


def _served_by(plan: Plan, site_of: Mapping[str, str]) -> dict[str, str]:
    return {oid: r.vehicle for oid, r, _ in final_stops(plan.routes, site_of)}


def plan_changes(old: Plan, new: Plan, orders: Mapping[str, Order]) -> PlanChanges:
    """Compare two plans of the same day.

    Parameters
    ----------
    old, new
        The plan before and after (a repair, an edit).
    orders
        Order id → order for both plans (the new plan's orders include urgent ones).

    Returns
    -------
    PlanChanges

    Examples
    --------
    >>> from routing.plan import PlanStatus
    >>> p = Plan("s", "v1", "2026-12-01", PlanStatus.COMPLETE, (), ())
    >>> plan_changes(p, p, {}).lines()
    ['no change to any route']
    """
    before = {r.vehicle: r for r in old.routes}
    after = {r.vehicle: r for r in new.routes}
    visits_before: dict[str, list[str]] = {}
    visits_after: dict[str, list[str]] = {}
    for routes, visits in ((old.routes, visits_before), (new.routes, visits_after)):
        for r in routes:
            visits.setdefault(r.vehicle, []).extend(_visits(r))
    changed = sorted(
        v for v in set(before) & set(after) if visits_before.get(v) != visits_after.get(v)
    )
    site_vehicle_before = {
        s.site: r.vehicle for r in old.routes for s in r.stops if s.kind is StopKind.VISIT
    }
    site_vehicle_after = {
        s.site: r.vehicle for r in new.routes for s in r.stops if s.kind is StopKind.VISIT
    }
    moved = tuple(
        (site, site_vehicle_before[site], v)
        for site, v in sorted(site_vehicle_after.items())
        if site in site_vehicle_before and site_vehicle_before[site] != v
    )
    site_of = {k: o.site for k, o in orders.items()}
    served_before = _served_by(old, site_of)
    served_after = _served_by(new, site_of)

    def parcels(ids: set[str]) -> int:
        return sum(orders[i].parcels if i in orders else 1 for i in ids)

    reassigned = {
        o for o, v in served_after.items() if o in served_before and served_before[o] != v
    }
    deferred_before = {d.order for d in old.deferred}
    newly_deferred = {d.order for d in new.deferred} - deferred_before
    newly_served = set(served_after) - set(served_before)
    return PlanChanges(
        vehicles_added=tuple(sorted(set(after) - set(before))),
        vehicles_dropped=tuple(sorted(set(before) - set(after))),
        vehicles_changed=tuple(changed),
        stops_moved=moved,
        orders_reassigned=len(reassigned),
        parcels_reassigned=parcels(reassigned),
        orders_newly_deferred=len(newly_deferred),
        parcels_newly_deferred=parcels(newly_deferred),
        orders_newly_served=len(newly_served),
        parcels_newly_served=parcels(newly_served),
    )
