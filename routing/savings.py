"""Consolidation savings and per-carrier settlement.

**Savings.** The same engine plans each carrier's orders alone — the same network, fleet,
policy and search budget, as if each carrier ran its own vehicles — and the sum of those
plans is set side by side with the joint plan: km, vehicle-hours, vehicles used, cost and cost
per parcel.

**Settlement** of the joint plan. Method: each route's km and cost are shared among carriers
in proportion to the parcels the route carries for them (dropped plus collected at its
stops); a carrier's share is the sum over routes. Parcels served count each order once, at
its final stop. The shares add up to the plan's totals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from routing.day import plan_day
from routing.inputs import DayInput
from routing.plan import Plan, final_stops

__all__ = ["Kpis", "Savings", "SettlementLine", "consolidation_savings", "plan_kpis", "settle"]


@dataclass(frozen=True, slots=True)
class Kpis:
    """Headline numbers of a plan."""

    km: float
    vehicle_hours: float
    vehicles: int
    cost: float
    parcels: int
    deferred_parcels: int

    @property
    def cost_per_parcel(self) -> float:
        return self.cost / self.parcels if self.parcels else 0.0

    def __add__(self, other: Kpis) -> Kpis:
        return Kpis(
            self.km + other.km,
            self.vehicle_hours + other.vehicle_hours,
            self.vehicles + other.vehicles,
            self.cost + other.cost,
            self.parcels + other.parcels,
            self.deferred_parcels + other.deferred_parcels,
        )


def plan_kpis(plan: Plan, day: DayInput) -> Kpis:
    """km, vehicle-hours, distinct vehicles used, cost, parcels served and deferred."""
    orders = {o.id: o for o in day.orders}
    served = {oid for oid, _, _ in final_stops(plan.routes, {o.id: o.site for o in day.orders})}
    return Kpis(
        km=round(sum(r.distance_m for r in plan.routes) / 1000, 3),
        vehicle_hours=round(sum(r.duration_s for r in plan.routes) / 3600, 3),
        vehicles=len({r.vehicle for r in plan.routes}),
        cost=round(sum(r.cost for r in plan.routes), 2),
        parcels=sum(orders[o].parcels for o in served),
        deferred_parcels=sum(orders[d.order].parcels for d in plan.deferred),
    )


@dataclass(frozen=True)
class Savings:
    """The joint plan against each carrier alone."""

    joint: Kpis
    alone: Mapping[str, Kpis]

    @property
    def alone_total(self) -> Kpis:
        total = Kpis(0, 0, 0, 0, 0, 0)
        for k in self.alone.values():
            total = total + k
        return total

    @property
    def cost_saving_share(self) -> float:
        alone = self.alone_total.cost
        return (alone - self.joint.cost) / alone if alone else 0.0

    def table(self) -> str:
        """A markdown table, joint vs each carrier alone vs the sum."""
        head = "| plan | km | vehicle-hours | vehicles | cost (yuan) | parcels | yuan/parcel | deferred |"
        rows = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]

        def row(name: str, k: Kpis) -> str:
            return (
                f"| {name} | {k.km:.1f} | {k.vehicle_hours:.1f} | {k.vehicles} | {k.cost:.0f} | "
                f"{k.parcels} | {k.cost_per_parcel:.2f} | {k.deferred_parcels} |"
            )

        for carrier, k in sorted(self.alone.items()):
            rows.append(row(f"{carrier} alone", k))
        rows.append(row("**all carriers alone**", self.alone_total))
        rows.append(row("**joint**", self.joint))
        rows.append(f"\nJoint distribution saves {self.cost_saving_share:.1%} of the cost.")
        return "\n".join(rows)


def consolidation_savings(
    day: DayInput,
    *,
    joint: Plan | None = None,
    planner: Callable[[DayInput], Plan] | None = None,
) -> Savings:
    """Plan each carrier alone with the same engine and compare with the joint plan."""
    run = planner or (lambda d: plan_day(d))
    joint_plan = joint or run(day)
    carriers = sorted({o.carrier for o in day.orders})
    alone = {}
    for c in carriers:
        sub = replace(day, orders=tuple(o for o in day.orders if o.carrier == c))
        alone[c] = plan_kpis(run(sub), sub)
    return Savings(plan_kpis(joint_plan, day), alone)


@dataclass(frozen=True, slots=True)
class SettlementLine:
    carrier: str
    parcels: int
    km: float
    cost: float

    @property
    def cost_per_parcel(self) -> float:
        return self.cost / self.parcels if self.parcels else 0.0


def settle(plan: Plan, day: DayInput) -> tuple[SettlementLine, ...]:
    """Per-carrier parcels, km and cost shares of a plan (method in the module docstring)."""
    orders = {o.id: o for o in day.orders}
    km: dict[str, float] = {}
    cost: dict[str, float] = {}
    parcels: dict[str, int] = {}
    for r in plan.routes:
        carried: dict[str, int] = {}
        for s in r.stops:
            for oid in (*s.drop, *s.collect):
                o = orders[oid]
                carried[o.carrier] = carried.get(o.carrier, 0) + o.parcels

        total = sum(carried.values())
        if not total:
            continue
        for c, n in carried.items():
            km[c] = km.get(c, 0.0) + r.distance_m / 1000 * n / total
            cost[c] = cost.get(c, 0.0) + r.cost * n / total
    for oid, _, _ in final_stops(plan.routes, {o.id: o.site for o in day.orders}):
        o = orders[oid]
        parcels[o.carrier] = parcels.get(o.carrier, 0) + o.parcels
    carriers = sorted(set(km) | set(parcels))
    return tuple(
        SettlementLine(c, parcels.get(c, 0), round(km.get(c, 0.0), 3), round(cost.get(c, 0.0), 2))
        for c in carriers
    )
