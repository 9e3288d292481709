"""Sites: every place of the three-tier network, and the times they keep.

Units: coordinates in the network's CRS (x = lon, y = lat for WGS-84; metres for planar),
times of day in seconds after midnight (``*_s``), service times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Site", "SiteKind", "Terrain", "format_clock", "parse_clock"]


class SiteKind(StrEnum):
    """What a site is in the network."""

    HUB = "hub"
    """County logistics centre: consolidates every carrier's parcels."""
    STATION = "station"
    """Town station: cross-docks trunk loads into village runs."""
    VILLAGE_POINT = "village_point"
    """Village service point (a shop or village office) where villagers collect parcels."""
    VILLAGE = "village"
    """Administrative village without a point; its parent is the point that serves it."""
    BULK_SHIPPER = "bulk_shipper"
    """A workshop shipping hundreds of parcels a day, picked up by trunk trucks."""
    CANDIDATE = "candidate"
    """A place where a new point or station could open (for planners)."""


class Terrain(StrEnum):
    """Terrain of a site or road; it sets hill speeds and straight-line circuity."""

    PLAIN = "plain"
    LOESS = "loess"
    HILLS = "hills"
    MOUNTAINS = "mountains"


def parse_clock(text: str) -> int:
    """``"07:30"`` → 27000 seconds after midnight. Accepts ``HH:MM`` or ``HH:MM:SS``.

    >>> parse_clock("07:30"), parse_clock("24:00")
    (27000, 86400)
    """
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        raise ValueError(f"expected a time of day as HH:MM, got {text!r}")
    h, m = int(parts[0]), int(parts[1])
    s = int(parts[2]) if len(parts) == 3 else 0
    if m >= 60 or s >= 60 or h * 3600 + m * 60 + s > 48 * 3600:
        raise ValueError(f"not a valid time of day: {text!r}")
    return h * 3600 + m * 60 + s


def format_clock(seconds: int) -> str:
    """27000 → ``"07:30"``; seconds are shown only when not zero.

    >>> format_clock(27000), format_clock(27005)
    ('07:30', '07:30:05')
    """
    h, rest = divmod(int(seconds), 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}" if s == 0 else f"{h:02d}:{m:02d}:{s:02d}"


@dataclass(frozen=True, slots=True)
class Site:
    """A place in the network.

    ``parent`` ties the tiers together: a station's parent is its hub, a village point's is
    its station, an administrative village without a point has the point that serves it,
    a bulk shipper has the station or hub whose trucks collect from it.
    """

    id: str
    name: str
    kind: SiteKind
    x: float
    y: float
    parent: str | None = None
    population: int = 0
    poor: bool = False
    terrain: Terrain = Terrain.PLAIN
    opens_s: int = 8 * 3600
    closes_s: int = 20 * 3600
    service_fixed_s: int = 180
    service_per_parcel_s: float = 6.0
    keeper: str = ""
    phone: str = ""
    mandatory: bool = False
    """Every order of this site must be served today (never deferred): a plan that cannot
    serve one is infeasible, naming it."""

    @property
    def is_village(self) -> bool:
        """True for administrative villages, with or without a point."""
        return self.kind in (SiteKind.VILLAGE_POINT, SiteKind.VILLAGE)
