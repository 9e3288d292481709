"""Consolidation: every carrier's orders for a site and direction become one stop's load.

The per-carrier breakdown (parcels, kg) is kept for courier sheets and settlement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from routing.model import Direction, Order
from routing.plan import Load

__all__ = ["SiteLoad", "consolidate", "load_of"]


@dataclass(frozen=True, slots=True)
class SiteLoad:
    """All orders of one site and direction."""

    site: str
    direction: Direction
    load: Load
    by_carrier: tuple[tuple[str, int, float], ...]
    """(carrier, parcels, kg), sorted by carrier."""
    orders: tuple[str, ...]


def load_of(orders: Iterable[Order]) -> Load:
    """Total kg, m³ and parcels of some orders."""
    kg = m3 = 0.0
    parcels = 0
    for o in orders:
        kg += o.weight_kg
        m3 += o.volume_m3
        parcels += o.parcels
    return Load(kg, m3, parcels)


def consolidate(orders: Iterable[Order]) -> Mapping[tuple[str, Direction], SiteLoad]:
    """Group orders by (site, direction) into consolidated loads.

    >>> from routing.model import Order, Direction
    >>> a = Order("1", "zto", Direction.DOWN, "v1", 1.0, 0.01)
    >>> b = Order("2", "ems", Direction.DOWN, "v1", 2.0, 0.02)
    >>> sl = consolidate([a, b])[("v1", Direction.DOWN)]
    >>> sl.load.parcels, sl.by_carrier
    (2, (('ems', 1, 2.0), ('zto', 1, 1.0)))
    """
    groups: dict[tuple[str, Direction], list[Order]] = {}
    for o in orders:
        groups.setdefault((o.site, o.direction), []).append(o)
    out: dict[tuple[str, Direction], SiteLoad] = {}
    for key, group in groups.items():
        carriers: dict[str, tuple[int, float]] = {}
        for o in group:
            n, kg = carriers.get(o.carrier, (0, 0.0))
            carriers[o.carrier] = (n + o.parcels, kg + o.weight_kg)
        out[key] = SiteLoad(
            site=key[0],
            direction=key[1],
            load=load_of(group),
            by_carrier=tuple((c, n, round(kg, 3)) for c, (n, kg) in sorted(carriers.items())),
            orders=tuple(o.id for o in group),
        )
    return out
