"""Consolidation savings and per-carrier settlement.

**Savings.** The same engine plans each carrier's orders alone — the same network, fleet,
policy and search budget, as if each carrier ran its own vehicles — and the sum of those
plans is set side by side with the joint plan: km, vehicle-hours, vehicles used, cost and cost
per parcel.

**Equal service.** Plans that serve different parcels are not comparable by cost alone:
carriers alone defer far more (each carrier's volume at a village falls under the daily
visit threshold, so villages are visited every other day). Two ways to compare at equal
service:

- ``same_service=True`` (the default): both sides visit every village with parcels every day
  (the policy's ``daily_min_parcels`` set to 0 for this comparison), so they serve the same
  orders; what either side still defers (capacity, time, reach) is priced as below.
- ``same_service=False``: the policy as it is; every deferred parcel, frequency included, is
  priced at the policy's ``deferral_cost_per_parcel`` (the price the planner itself puts on
  not serving a parcel today — high for a parcel that only waits a day).

Either way the saving is stated on *cost + priced deferrals*, per carrier (its settled share
of the joint plan against its plan alone) and in total; the plain cost saving is shown too,
flagged when the plans do not serve as many parcels.

**Settlement** of the joint plan. Method (:func:`routing.plan.share_routes`, which settles
stations under cross-boundary service too): each route's km and cost are shared among
carriers in proportion to the parcels the route carries for them (dropped plus collected at
its stops); a carrier's share is the sum over routes. Parcels served count each order once, at
its final stop. The shares add up to the plan's totals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from routing.day import plan_day
from routing.inputs import DayInput
from routing.plan import Plan, final_stops, share_routes, with_parts

__all__ = [
    "CarrierShare",
    "Kpis",
    "Savings",
    "SettlementLine",
    "consolidation_savings",
    "daily_service",
    "plan_kpis",
    "savings_chart",
    "settle",
]


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
    """km, vehicle-hours, distinct vehicles used, cost, parcels served and deferred (an
    order split into parts counted by its parts)."""
    orders = {o.id: o for o in with_parts(day.orders, plan.parts)}
    served = {
        oid for oid, _, _ in final_stops(plan.routes, {o.id: o.site for o in orders.values()})
    }
    return Kpis(
        km=round(sum(r.distance_m for r in plan.routes) / 1000, 3),
        vehicle_hours=round(sum(r.duration_s for r in plan.routes) / 3600, 3),
        vehicles=len({r.vehicle for r in plan.routes}),
        cost=round(sum(r.cost for r in plan.routes), 2),
        parcels=sum(orders[o].parcels for o in served),
        deferred_parcels=sum(orders[d.order].parcels for d in plan.deferred),
    )


@dataclass(frozen=True, slots=True)
class CarrierShare:
    """One carrier's part of the joint plan: its settled cost, parcels served and deferred."""

    cost: float
    parcels: int
    deferred_parcels: int


@dataclass(frozen=True)
class Savings:
    """The joint plan against each carrier alone.

    ``deferral_price`` (yuan per deferred parcel) puts the plans on equal service; ``by_carrier``
    is each carrier's settled share of the joint plan (empty: no per-carrier table).
    """

    joint: Kpis
    alone: Mapping[str, Kpis]
    deferral_price: float = 0.0
    by_carrier: Mapping[str, CarrierShare] = field(default_factory=dict)
    same_service: bool = False
    """Both sides were planned visiting every village daily (same orders served)."""

    def at_equal_service(self, cost: float, deferred_parcels: int) -> float:
        """Cost plus every deferred parcel at ``deferral_price``."""
        return cost + deferred_parcels * self.deferral_price

    @property
    def equal_service(self) -> bool:
        """Whether both sides serve (and defer) the same number of parcels."""
        return self.joint.deferred_parcels == self.alone_total.deferred_parcels

    @property
    def equal_service_saving_share(self) -> float:
        """(alone − joint) ÷ alone, each at cost + priced deferrals."""
        a, j = self.alone_total, self.joint
        alone = self.at_equal_service(a.cost, a.deferred_parcels)
        joint = self.at_equal_service(j.cost, j.deferred_parcels)
        return (alone - joint) / alone if alone else 0.0

    def carrier_rows(self) -> list[tuple[str, float, float, float]]:
        """(carrier, alone, joint share, saving share), each at equal service."""
        out = []
        for c, k in sorted(self.alone.items()):
            share = self.by_carrier.get(c)
            if share is None:
                continue
            alone = self.at_equal_service(k.cost, k.deferred_parcels)
            joint = self.at_equal_service(share.cost, share.deferred_parcels)
            out.append((c, alone, joint, (alone - joint) / alone if alone else 0.0))
        return out

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
        a, j = self.alone_total, self.joint
        price = f"{self.deferral_price:g}"
        how = (
            "every village with parcels visited daily on both sides, so the same orders are "
            f"served; what is still deferred priced at {price} yuan a parcel"
            if self.same_service
            else f"every deferred parcel priced at {price} yuan, the policy's deferral cost"
        )
        rows.append(
            f"\nAt equal service ({how}): {self.at_equal_service(a.cost, a.deferred_parcels):.0f} yuan "
            f"alone, {self.at_equal_service(j.cost, j.deferred_parcels):.0f} joint; joint "
            f"distribution saves {self.equal_service_saving_share:.1%}."
        )
        if self.equal_service:
            rows.append(
                f"Both serve as many parcels; the plain cost saving is {self.cost_saving_share:.1%}."
            )
        else:
            rows.append(
                f"Not at equal service by cost alone: the joint plan defers {j.deferred_parcels} "
                f"parcels, the carriers alone {a.deferred_parcels}; the plain cost saving "
                f"({self.cost_saving_share:.1%}) compares unequal service."
            )
        carriers = self.carrier_rows()
        if carriers:
            rows.append("\nPer carrier, at equal service (alone: its own plan; joint: its settled")
            rows.append("share of the joint plan's cost, plus its deferred parcels priced):\n")
            rows.append(
                "| carrier | deferred alone | deferred joint | alone (yuan) | joint (yuan) | saving |"
            )
            rows.append("|---|---:|---:|---:|---:|---:|")
            for c, alone, joint, share in carriers:
                rows.append(
                    f"| {c} | {self.alone[c].deferred_parcels} | "
                    f"{self.by_carrier[c].deferred_parcels} | {alone:.0f} | {joint:.0f} | "
                    f"{share:.1%} |"
                )
        return "\n".join(rows)


def consolidation_savings(
    day: DayInput,
    *,
    joint: Plan | None = None,
    planner: Callable[[DayInput], Plan] | None = None,
    deferral_price: float | None = None,
    same_service: bool = True,
) -> Savings:
    """Plan each carrier alone with the same engine and compare with the joint plan.

    ``deferral_price`` defaults to the policy's ``deferral_cost_per_parcel``. With
    ``same_service`` every village with parcels is visited daily on both sides
    (:func:`daily_service`); a ``joint`` plan given must have been planned that way.
    """
    if same_service:
        day = daily_service(day)
    run = planner or (lambda d: plan_day(d))
    joint_plan = joint or run(day)
    carriers = sorted({o.carrier for o in day.orders})
    alone = {}
    for c in carriers:
        sub = replace(day, orders=tuple(o for o in day.orders if o.carrier == c))
        alone[c] = plan_kpis(run(sub), sub)
    orders = {o.id: o for o in day.orders}
    deferred: dict[str, int] = {}
    for d in joint_plan.deferred:
        o = orders[d.order]
        deferred[o.carrier] = deferred.get(o.carrier, 0) + o.parcels
    settled = {line.carrier: line for line in settle(joint_plan, day)}
    by_carrier = {
        c: CarrierShare(
            settled[c].cost if c in settled else 0.0,
            settled[c].parcels if c in settled else 0,
            deferred.get(c, 0),
        )
        for c in carriers
    }
    price = day.policy.deferral_cost_per_parcel if deferral_price is None else deferral_price
    return Savings(plan_kpis(joint_plan, day), alone, price, by_carrier, same_service)


def daily_service(day: DayInput) -> DayInput:
    """The day with every village that has parcels visited daily (no every-other-day
    pattern): the service level at which joint and alone serve the same orders."""
    return replace(day, policy=replace(day.policy, daily_min_parcels=0))


def savings_chart(savings: Savings, path: Path, title: str = "") -> Path:
    """A grouped bar chart per carrier: alone vs joint share, each at equal service (PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = savings.carrier_rows()
    fig = Figure(figsize=(max(5.0, 1.1 * len(rows) + 2), 4.2), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r[1] for r in rows], 0.4, label="alone", color="#9e9e9e")
    ax.bar([x + 0.2 for x in xs], [r[2] for r in rows], 0.4, label="joint (share)", color="#1f77b4")
    for x, r in zip(xs, rows, strict=True):
        ax.annotate(f"-{r[3]:.0%}", (x + 0.2, r[2]), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), [r[0] for r in rows])
    ax.set_ylabel("yuan / day (cost + deferred parcels priced)")
    ax.set_title(
        title
        or f"Joint distribution at equal service: saves {savings.equal_service_saving_share:.1%}"
    )
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


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
    orders = {o.id: o for o in with_parts(day.orders, plan.parts)}
    shares = share_routes(plan.routes, orders, lambda r, s, o: o.carrier)
    parcels: dict[str, int] = {}
    for oid, _, _ in final_stops(plan.routes, {o.id: o.site for o in orders.values()}):
        o = orders[oid]
        parcels[o.carrier] = parcels.get(o.carrier, 0) + o.parcels
    return tuple(
        SettlementLine(
            c,
            parcels.get(c, 0),
            round(shares[c].km, 3) if c in shares else 0.0,
            round(shares[c].cost, 2) if c in shares else 0.0,
        )
        for c in sorted(set(shares) | set(parcels))
    )
