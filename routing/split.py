"""Oversize orders split into parts: a consignment larger than any vehicle that could carry
it (a bulk shipper's 5,000 parcels, a village's tractor tyres) goes on several vehicles or
trips instead of being deferred.

An order is split by its parcels: each part holds whole parcels, the order's weight and
volume shared in proportion, and fits the biggest vehicle of every tier it travels on (the
last-mile vehicles of its station that may carry it, the trucks of its hub). A single parcel
larger than that cannot be split and is deferred as before. Parts are orders of their own
(id ``<order>.part<k>of<n>``, :attr:`~routing.model.Order.part_of` and ``part`` set); the
plan lists them (:class:`~routing.plan.Part`) so that the checker, the manifests and a
repair can follow the parts back to the order. Units as in :mod:`routing.model`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from networks import Network, SiteKind
from routing.build import capacity, hub_of, resources, station_of
from routing.inputs import DayInput
from routing.model import Order, Vehicle
from routing.plan import Load, Part, with_parts
from routing.problem import Resources

__all__ = ["part_id", "split_oversize", "with_parts"]


def part_id(order: str, k: int, n: int) -> str:
    """The id of part ``k`` (1-based) of ``n`` of an order.

    >>> part_id("b1-0007", 2, 3)
    'b1-0007.part2of3'
    """
    return f"{order}.part{k}of{n}"


def _biggest(vehicles: Sequence[Vehicle]) -> Resources | None:
    """The capacity the planner cuts by (its biggest vehicle by weight), or None."""
    if not vehicles:
        return None
    return capacity(max(vehicles, key=lambda v: v.capacity_kg))


class _Limits:
    """The capacities a part must fit, one per tier it travels on, per destination site and
    bulkiness (a day has thousands of orders over a few hundred sites)."""

    def __init__(self, network: Network, fleet: Sequence[Vehicle]) -> None:
        self._network = network
        self._fleet = fleet
        self._station = station_of(network)
        self._known: dict[tuple[str, bool], list[Resources]] = {}

    def of(self, o: Order) -> list[Resources]:
        key = (o.site, o.bulky)
        if key not in self._known:
            self._known[key] = self._compute(o.site, o.bulky)
        return self._known[key]

    def _compute(self, site_id: str, bulky: bool) -> list[Resources]:
        out: list[Resources] = []
        hub = hub_of(self._network, site_id)
        trucks = _biggest([v for v in self._fleet if v.home == hub])
        if trucks is not None:
            out.append(trucks)
        if self._network.site(site_id).kind is SiteKind.VILLAGE_POINT:
            station = self._station.get(site_id, "")
            vans = _biggest(
                [v for v in self._fleet if v.home == station and (v.bulky_ok or not bulky)]
            )
            if vans is not None:
                out.append(vans)
        return out


def _parcels_per_part(o: Order, limits: Sequence[Resources]) -> int:
    """Whole parcels of ``o`` that fit every limit (0: not even one)."""
    g, cm3, _ = resources(Load(o.weight_kg, o.volume_m3, o.parcels))
    per_g, per_cm3 = g / o.parcels, cm3 / o.parcels
    k = o.parcels
    for cap_g, cap_cm3, cap_parcels in limits:
        k = min(k, cap_parcels)
        if per_g > 0:
            k = min(k, math.floor(cap_g / per_g))
        if per_cm3 > 0:
            k = min(k, math.floor(cap_cm3 / per_cm3))
    return max(k, 0)


def _parts(o: Order, k: int) -> list[Order]:
    """``o`` in parts of at most ``k`` parcels, as even as whole parcels allow; weights and
    volumes in proportion, rounded so that the parts add up to the order exactly."""
    n = math.ceil(o.parcels / k)
    base, extra = divmod(o.parcels, n)
    sizes = [base + (1 if i < extra else 0) for i in range(n)]
    out: list[Order] = []
    kg_left, m3_left = o.weight_kg, o.volume_m3
    for i, size in enumerate(sizes, start=1):
        if i < n:
            kg = round(o.weight_kg * size / o.parcels, 3)
            m3 = round(o.volume_m3 * size / o.parcels, 6)
            kg_left, m3_left = kg_left - kg, m3_left - m3
        else:
            kg, m3 = round(kg_left, 6) + 0.0, round(m3_left, 9) + 0.0
        out.append(
            replace(
                o,
                id=part_id(o.id, i, n),
                weight_kg=kg,
                volume_m3=m3,
                parcels=size,
                part_of=o.id,
                part=i,
            )
        )
    return out


def _fits(o: Order, limits: Sequence[Resources]) -> bool:
    need = resources(Load(o.weight_kg, o.volume_m3, o.parcels))
    return all(all(a <= c for a, c in zip(need, cap, strict=True)) for cap in limits)


def split_oversize(day: DayInput) -> tuple[DayInput, tuple[Part, ...]]:
    """The day with every oversize order replaced by its parts, and the parts.

    An order is oversize when it does not fit the biggest vehicle of a tier it travels on;
    it is split when one of its parcels does (else it stays whole, and is deferred for
    capacity as before). The same object and no parts when nothing is oversize.
    """
    orders: list[Order] = []
    parts: list[Part] = []
    known = _Limits(day.network, day.fleet)
    for o in day.orders:
        limits = known.of(o)
        if not limits or _fits(o, limits) or o.part_of:
            orders.append(o)
            continue
        k = _parcels_per_part(o, limits)
        pieces = _parts(o, k) if k >= 1 else []
        while pieces and not all(_fits(p, limits) for p in pieces) and k > 1:
            k -= 1  # rounding put a part a gram over: one parcel fewer a part
            pieces = _parts(o, k)
        if not pieces or not all(_fits(p, limits) for p in pieces):
            orders.append(o)
            continue
        orders.extend(pieces)
        parts.extend(
            Part(p.id, o.id, p.part, len(pieces), p.weight_kg, p.volume_m3, p.parcels)
            for p in pieces
        )
    if not parts:
        return day, ()
    return replace(day, orders=tuple(orders)), tuple(parts)
