"""Plans are data: routes of stops with times and loads, and the deferred orders.

A village order appears at exactly one stop whose site is its own site (dropped there when it
goes down, collected there when it goes up) or in :attr:`Plan.deferred`, never both, never
twice. Trunk routes also list the orders they carry to and from stations (handover stops),
so the courier sheets and the settlement can follow an order along all three tiers.
:func:`share_routes` is that settlement's one method: who carried whose parcels, and each
route's km and cost shared by the parcels it carried for each party (carriers, stations).

Units: times in seconds after midnight, loads in kilograms, cubic metres and parcels,
distances in metres, costs in yuan. ``plan.json`` is the versioned serialisation
(docs/plan-format.md).
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from routing.model import Order

__all__ = [
    "HINTS",
    "PLAN_SCHEMA_VERSION",
    "DeferralReason",
    "Deferred",
    "Hint",
    "Load",
    "Part",
    "Plan",
    "PlanStatus",
    "Route",
    "RouteShare",
    "Stop",
    "StopKind",
    "Tier",
    "final_stops",
    "hint_fields",
    "infeasibilities",
    "plan_from_dict",
    "plan_to_dict",
    "share_routes",
    "with_parts",
]

PLAN_SCHEMA_VERSION = 1


class Tier(StrEnum):
    TRUNK_DOWN = "trunk_down"
    LAST_MILE = "last_mile"
    TRUNK_UP = "trunk_up"


class StopKind(StrEnum):
    DEPART = "depart"
    VISIT = "visit"
    RELOAD = "reload"
    """Back at the home station between trips: unload collections, load the next trip."""
    RETURN = "return"
    HALT = "halt"
    """The vehicle stopped here (broke down); its route ends without coming home."""


class DeferralReason(StrEnum):
    CAPACITY = "capacity"
    TIME = "time"
    UNREACHABLE = "unreachable"
    FREQUENCY = "frequency"


class PlanStatus(StrEnum):
    COMPLETE = "complete"
    """Every order is on a route, or deferred only by the visit-frequency policy."""
    PARTIAL = "partial"
    """Some orders are deferred for capacity, time or reachability."""
    INFEASIBLE = "infeasible"
    """A mandatory order could not be served: its :class:`Deferred` entry (``mandatory``)
    names it, its site, the reason and the suggestion. The rest of the plan stands."""
    NO_SOLUTION = "no_solution"


@dataclass(frozen=True, slots=True)
class Load:
    kg: float = 0.0
    m3: float = 0.0
    parcels: int = 0

    def __add__(self, other: Load) -> Load:
        return Load(self.kg + other.kg, self.m3 + other.m3, self.parcels + other.parcels)

    def __sub__(self, other: Load) -> Load:
        return Load(self.kg - other.kg, self.m3 - other.m3, self.parcels - other.parcels)

    def rounded(self) -> Load:
        # + 0.0 turns the -0.0 that float subtraction leaves behind into 0.0
        return Load(round(self.kg, 3) + 0.0, round(self.m3, 6) + 0.0, self.parcels)


@dataclass(frozen=True, slots=True)
class Stop:
    """One stop of a route; ``arrival_s`` ≤ ``start_s`` (service start) ≤ ``departure_s``."""

    site: str
    kind: StopKind
    arrival_s: int
    start_s: int
    departure_s: int
    trip: int = 0
    drop: tuple[str, ...] = ()
    collect: tuple[str, ...] = ()
    load_after: Load = Load()


@dataclass(frozen=True, slots=True)
class Route:
    """One vehicle's run in one tier (with its reload trips)."""

    vehicle: str
    vehicle_class: str
    tier: Tier
    wave: str
    home: str
    stops: tuple[Stop, ...]
    distance_m: int
    cost: float

    @property
    def duration_s(self) -> int:
        return self.stops[-1].departure_s - self.stops[0].departure_s if self.stops else 0

    @property
    def trips(self) -> int:
        return 1 + sum(1 for s in self.stops if s.kind is StopKind.RELOAD)


HINTS: dict[str, str] = {
    "no_open_road": "no open road lets {classes} reach {site}; reopen the road or send a vehicle "
    "class that may use it",
    "no_vehicle_may_go": "no vehicle may reach {site}; reopen the road or send a vehicle class "
    "that may use it",
    "open_earlier": "{site} opens at {opens}, after the last run could serve it; opening by {by} "
    "would fit it",
    "open_longer": "keeping {site} open {minutes} min longer (until {until}) would fit it",
    "depart_earlier": "the round trip to {site} does not fit the vehicles' shifts; an earlier "
    "departure would fit it",
    "one_more_vehicle": "one more {vehicle_class} at {home} would carry {carry} of these "
    "{parcels} parcels",
    "home_without_vehicles": "{home} has no vehicles; add one to carry these {parcels} parcels",
    "every_other_day": "{site} is visited every other day (under {parcels} parcels a day)",
    "no_vehicles": "no vehicles at {home}",
    "larger_than_vehicles": "larger than the largest vehicle at {home} ({vehicle})",
    "no_bulky_vehicle": "no vehicle at {home} may carry bulky parcels",
    "no_trunk_plan": "the trunk wave has no feasible plan",
    "no_station_plan": "the station's runs have no feasible plan",
    "up_wave_left": "the up wave had already left",
    "not_placed": "not placed by the planner",
    "broke_down": "{vehicle} broke down at {site}; send another truck",
}
"""What a deferral's suggestion says, by code, in English (``{name}``: the hint's values).
A reader in another language (the console's zh screens) says the same from the code and
values; the English text is also stored whole in ``suggestion``."""


def hint_fields(code: str) -> set[str]:
    """The values a hint of ``code`` names (the ``{fields}`` of its English text)."""
    return {name for _, name, _, _ in string.Formatter().parse(HINTS[code]) if name}


@dataclass(frozen=True, slots=True)
class Hint:
    """A suggestion as a code of :data:`HINTS` and its values (site names, times, counts as
    text), so that any reader can say it in its own language."""

    code: str
    values: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, code: str, **values: object) -> Hint:
        """``Hint.of("open_longer", site="岳滩", minutes=30, until="18:30")``; the code must be
        one of :data:`HINTS` and the values exactly its fields.

        >>> Hint.of("no_vehicles", home="山化站").text()
        'no vehicles at 山化站'
        """
        if code not in HINTS:
            raise ValueError(f"unknown hint code {code!r}")
        if set(values) != hint_fields(code):
            raise ValueError(
                f"hint {code!r} takes {sorted(hint_fields(code))}, not {sorted(values)}"
            )
        return cls(code, tuple((k, str(v)) for k, v in sorted(values.items())))

    def text(self) -> str:
        """The suggestion in English."""
        return HINTS[self.code].format(**dict(self.values))


@dataclass(frozen=True, slots=True)
class Deferred:
    """An order not served today, why, until when, and what would fit it."""

    order: str
    site: str
    reason: DeferralReason
    until: str
    """The date it is planned for (ISO); for frequency, the village's next visit day."""
    waits_at: str = ""
    """Where it waits (the station for held down parcels, the village point for pickups)."""
    suggestion: str = ""
    """What would serve it, in English (``hint``'s text)."""
    mandatory: bool = False
    """The order (or its site) is mandatory: this entry makes the plan infeasible."""
    hint: Hint | None = None
    """The suggestion as a code and values (``None`` for no suggestion)."""


@dataclass(frozen=True, slots=True)
class Part:
    """Part ``part`` of ``parts`` of an oversize order (:mod:`routing.split`): routes and
    deferrals name it by ``id``; the parts of an order add up to it."""

    id: str
    order: str
    part: int
    parts: int
    weight_kg: float
    volume_m3: float
    parcels: int


@dataclass(frozen=True, slots=True)
class Crossing:
    """A village point served across a boundary: by ``served_by``'s vehicle ``vehicle``
    instead of its own station ``own`` (the plan's ``settings`` say what pooling saved)."""

    site: str
    own: str
    served_by: str
    vehicle: str


@dataclass(frozen=True)
class Plan:
    """The day's plan across the three tiers."""

    scenario: str
    network_version: str
    date: str
    status: PlanStatus
    routes: tuple[Route, ...]
    deferred: tuple[Deferred, ...]
    feeds: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = ()
    """(wave id, station, trunk vehicles of the wave there, village-run vehicles it feeds
    (down) or that feed it (up))."""
    solve_s: float = 0.0
    settings: tuple[tuple[str, str], ...] = field(default=())
    schema_version: int = PLAN_SCHEMA_VERSION
    crossings: tuple[Crossing, ...] = ()
    """Village points served from another station than their own (cross-boundary service)."""
    parts: tuple[Part, ...] = ()
    """Oversize orders split across vehicles or trips: the parts routes and deferrals name."""

    def routes_of(self, tier: Tier) -> tuple[Route, ...]:
        return tuple(r for r in self.routes if r.tier is tier)


def infeasibilities(plan: Plan) -> tuple[str, ...]:
    """One line per mandatory order the plan defers: the order, its site, the reason and
    what would fit it (empty when the plan is not infeasible)."""
    return tuple(
        f"mandatory order {d.order} at {d.site} cannot be served: {d.reason.value}"
        + (f" ({d.suggestion})" if d.suggestion else "")
        for d in plan.deferred
        if d.mandatory
    )


def with_parts(orders: Sequence[Order], parts: Sequence[Part]) -> tuple[Order, ...]:
    """``orders`` with each split order replaced by its ``parts`` (a plan's), in place.

    Orders that already are parts stay as given; the parts of an order ``orders`` does not
    hold are left out, and a part with fewer than one parcel or a negative weight or volume
    is taken at the least it can be (the checker reports both)."""
    if not parts:
        return tuple(orders)
    by_order: dict[str, list[Part]] = {}
    for p in parts:
        by_order.setdefault(p.order, []).append(p)
    out: list[Order] = []
    for o in orders:
        mine = by_order.get(o.id)
        if not mine or o.part_of:
            out.append(o)
            continue
        out.extend(
            replace(
                o,
                id=p.id,
                weight_kg=max(p.weight_kg, 0.0),
                volume_m3=max(p.volume_m3, 0.0),
                parcels=max(p.parcels, 1),
                part_of=o.id,
                part=p.part,
            )
            for p in sorted(mine, key=lambda p: p.part)
        )
    return tuple(out)


def final_stops(
    routes: Iterable[Route], site_of: Mapping[str, str]
) -> Iterator[tuple[str, Route, Stop]]:
    """(order id, route, stop) for every stop where an order is served: a visit at the
    order's own site (``site_of`` maps order ids to sites). Handovers at stations and parcels
    handed back at a halt are not."""
    for r in routes:
        for s in r.stops:
            if s.kind is not StopKind.VISIT:
                continue
            for oid in (*s.drop, *s.collect):
                if site_of.get(oid) == s.site:
                    yield oid, r, s


@dataclass(frozen=True, slots=True)
class RouteShare:
    """What routes carried for one party (a carrier, a pair of stations, …): the orders and
    parcels they dropped or collected for it, at which sites, and its share of the routes'
    km and cost (unrounded)."""

    parcels: int
    orders: frozenset[str]
    sites: frozenset[str]
    km: float
    cost: float


P = TypeVar("P", bound=Hashable)


def share_routes(
    routes: Iterable[Route],
    orders: Mapping[str, Order],
    party: Callable[[Route, Stop, Order], P | None],
) -> dict[P, RouteShare]:
    """Who carried whose parcels, and each route's km and cost shared among the parties in
    proportion to the parcels it dropped or collected for them; a party's share is the sum
    over the routes.

    Parameters
    ----------
    routes
        The routes to share (a plan's, or one tier's).
    orders
        The orders by id (with a plan's parts, :func:`with_parts`); an order id a stop names
        that is not here counts for nobody.
    party
        Whose an order is at a stop of a route: ``None`` leaves it out of the route's
        parcels altogether (e.g. a station's handover of orders it does not settle).

    Returns
    -------
    dict
        One :class:`RouteShare` per party that any route carried for. The shares of a route
        add up to its km and cost unless it carried no parcel for any party (then nobody
        pays for it). An order is counted at every stop that names it (a trunk handover and
        its final stop alike).

    >>> s = Stop("v", StopKind.VISIT, 0, 0, 0, drop=("a", "b"))
    >>> r = Route("van", "van", Tier.LAST_MILE, "", "st", (s,), distance_m=3000, cost=30.0)
    >>> from routing.model import Direction, Order
    >>> orders = {
    ...     "a": Order("a", "zto", Direction.DOWN, "v", 1.0, 0.01, parcels=2),
    ...     "b": Order("b", "yto", Direction.DOWN, "v", 1.0, 0.01, parcels=1),
    ... }
    >>> shares = share_routes([r], orders, lambda route, stop, order: order.carrier)
    >>> shares["zto"].parcels, shares["zto"].km, shares["zto"].cost
    (2, 2.0, 20.0)
    """
    parcels: dict[P, int] = {}
    carried_orders: dict[P, set[str]] = {}
    sites: dict[P, set[str]] = {}
    km: dict[P, float] = {}
    cost: dict[P, float] = {}
    for r in routes:
        carried: dict[P, int] = {}
        for s in r.stops:
            for oid in (*s.drop, *s.collect):
                o = orders.get(oid)
                who = None if o is None else party(r, s, o)
                if o is None or who is None:
                    continue
                carried[who] = carried.get(who, 0) + o.parcels
                carried_orders.setdefault(who, set()).add(oid)
                sites.setdefault(who, set()).add(s.site)
        total = sum(carried.values())
        for who, n in carried.items():
            parcels[who] = parcels.get(who, 0) + n
            if total:
                km[who] = km.get(who, 0.0) + r.distance_m / 1000 * n / total
                cost[who] = cost.get(who, 0.0) + r.cost * n / total
    return {
        who: RouteShare(
            n,
            frozenset(carried_orders[who]),
            frozenset(sites[who]),
            km.get(who, 0.0),
            cost.get(who, 0.0),
        )
        for who, n in parcels.items()
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """A JSON-ready dict (``plan.json``)."""
    doc = asdict(plan)
    doc["feeds"] = [
        {"wave": w, "station": s, "trunk": list(t), "runs": list(r)} for w, s, t, r in plan.feeds
    ]
    doc["settings"] = dict(plan.settings)
    for d, entry in zip(plan.deferred, doc["deferred"], strict=True):
        entry["hint"] = {"code": d.hint.code, **dict(d.hint.values)} if d.hint else None
    return doc


def _hint(raw: Any) -> Hint | None:
    if raw is None:
        return None
    values = {k: v for k, v in raw.items() if k != "code"}
    return Hint.of(str(raw["code"]), **values)


def plan_from_dict(doc: dict[str, Any]) -> Plan:
    """Inverse of :func:`plan_to_dict`; raises KeyError/ValueError on malformed input."""
    if doc.get("schema_version") != PLAN_SCHEMA_VERSION:
        raise ValueError(f"plan schema_version {doc.get('schema_version')!r} is not supported")
    routes = tuple(
        Route(
            vehicle=r["vehicle"],
            vehicle_class=r["vehicle_class"],
            tier=Tier(r["tier"]),
            wave=r["wave"],
            home=r["home"],
            stops=tuple(
                Stop(
                    site=s["site"],
                    kind=StopKind(s["kind"]),
                    arrival_s=int(s["arrival_s"]),
                    start_s=int(s["start_s"]),
                    departure_s=int(s["departure_s"]),
                    trip=int(s.get("trip", 0)),
                    drop=tuple(s.get("drop", ())),
                    collect=tuple(s.get("collect", ())),
                    load_after=Load(**s.get("load_after", {})),
                )
                for s in r["stops"]
            ),
            distance_m=int(r["distance_m"]),
            cost=float(r["cost"]),
        )
        for r in doc["routes"]
    )
    deferred = tuple(
        Deferred(
            order=d["order"],
            site=d["site"],
            reason=DeferralReason(d["reason"]),
            until=d["until"],
            waits_at=d.get("waits_at", ""),
            suggestion=d.get("suggestion", ""),
            mandatory=bool(d.get("mandatory", False)),
            hint=_hint(d.get("hint")),
        )
        for d in doc["deferred"]
    )
    return Plan(
        scenario=doc["scenario"],
        network_version=doc["network_version"],
        date=doc["date"],
        status=PlanStatus(doc["status"]),
        routes=routes,
        deferred=deferred,
        feeds=tuple(
            (f["wave"], f["station"], tuple(f["trunk"]), tuple(f["runs"]))
            for f in doc.get("feeds", ())
        ),
        solve_s=float(doc.get("solve_s", 0.0)),
        settings=tuple((str(k), str(v)) for k, v in dict(doc.get("settings", {})).items()),
        crossings=tuple(
            Crossing(c["site"], c["own"], c["served_by"], c["vehicle"])
            for c in doc.get("crossings", ())
        ),
        parts=tuple(
            Part(
                str(p["id"]),
                str(p["order"]),
                int(p["part"]),
                int(p["parts"]),
                float(p["weight_kg"]),
                float(p["volume_m3"]),
                int(p["parcels"]),
            )
            for p in doc.get("parts", ())
        ),
    )


def dumps(plan: Plan) -> str:
    """``plan.json`` text."""
    return json.dumps(plan_to_dict(plan), ensure_ascii=False, indent=1)
