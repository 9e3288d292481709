"""Seeded daily demand: the orders of one day for a scenario, and the season they fall in.

This module owns the demand model of DOMAIN.md ("Demand"): who ships what, how much, when.

- **Down** (hub → village point): one order per parcel. A village point's mean is
  ``down_per_1000`` parcels per 1,000 residents of the point's village and every village
  attached to it, times a per-village propensity (lognormal, fixed per seed), the season and
  the weekday; the day's count is negative binomial with coefficient of variation ``day_cv``.
  Town-seat parcels go to the station site, bagged per carrier into consignments of up to
  ``seat_bag_parcels`` (the hub sorts them into one cage per station and carrier).
- **Up** (village point or bulk shipper → hub): consignments of a few parcels from every
  village (farm produce mostly), batches from "e-commerce villages" and large consignments
  from bulk shippers (a workshop's daily output in cartons of 20–50 parcels).
- **Carriers**: seven brands with ASCII ids — ``ems`` 邮政EMS, ``zto`` 中通, ``yto`` 圆通,
  ``sto`` 申通, ``yunda`` 韵达, ``jt`` 极兔, ``jd`` 京东. Per seed, 5–7 of them are active
  (``ems`` always: the postal service's universal obligation) with Dirichlet(α = 2) shares.
- **Sectors** (upstream): ``farm``, ``shoes``, ``knitwear``, ``instruments``. Farm
  consignments may be perishable and may carry a traceability lot id.
- **Priority**: 2 for perishable farm produce, 1 for express carriers (``jd``), else 0.
- **Seasons** (:func:`season_factor`): Double-11 week ×2–3, 618 and Double-12 bumps, Spring
  Festival weeks ×0.4 then a surge (the lunar date comes from a table), farm harvest peaks
  ×5–10 upstream.

Units: kg, m³, parcels; dates are calendar days. Weights are rounded to grams, volumes to
cm³, so CSV round trips are exact. Given (scenario, date, seed) the result is fixed: draws
that belong to the scenario (carrier shares, village propensities, e-commerce villages, bulk
volumes) come from a generator seeded by ``seed`` alone, the day's draws from one seeded by
``(seed, date)``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from networks import Network, Site, SiteKind
from routing.model import Direction, Order
from scenarios.bundle import Scenario, orders_to_csv

__all__ = [
    "CARRIERS",
    "SECTORS",
    "Carrier",
    "DemandParams",
    "SeasonParams",
    "Sector",
    "active_carriers",
    "expected_daily",
    "generate_demand",
    "season_factor",
    "write_orders_csv",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Carrier:
    """An express brand. ``express`` carriers' parcels get priority 1."""

    id: str
    name: str
    express: bool = False


CARRIERS: tuple[Carrier, ...] = (
    Carrier("ems", "邮政EMS"),
    Carrier("zto", "中通"),
    Carrier("yto", "圆通"),
    Carrier("sto", "申通"),
    Carrier("yunda", "韵达"),
    Carrier("jt", "极兔"),
    Carrier("jd", "京东", express=True),
)


@dataclass(frozen=True, slots=True)
class Sector:
    """An upstream sector: per-parcel weight and volume (lognormal medians and spreads)."""

    id: str
    median_kg: float
    sigma_kg: float
    median_m3: float
    sigma_m3: float
    perishable_share: float = 0.0
    lot_share: float = 0.0
    """Share of consignments carrying a traceability lot id."""


SECTORS: tuple[Sector, ...] = (
    Sector("farm", 3.0, 0.5, 0.012, 0.5, perishable_share=0.6, lot_share=0.5),
    Sector("shoes", 1.0, 0.25, 0.008, 0.3),
    Sector("knitwear", 0.6, 0.4, 0.005, 0.4),
    Sector("instruments", 2.5, 0.6, 0.02, 0.8, lot_share=0.2),
)
"""Farm boxes (fruit, garlic, millet), shoe boxes, knitwear bags, folk instruments."""


@dataclass(frozen=True, slots=True)
class SeasonParams:
    """The calendar of demand (DOMAIN.md "seasonality").

    ``peaks`` are (month, day, factors): the factors apply from that day on, one per day.
    ``spring_festival`` maps years to the lunar new year's day; years outside the table use
    ``spring_festival_fallback`` (month, day). ``harvests`` are (first month, first day,
    last month, last day, factor) windows for farm produce upstream, ramping up and down over
    ``harvest_ramp_days``.
    """

    peaks: tuple[tuple[int, int, tuple[float, ...]], ...] = (
        (6, 17, (1.2, 1.5, 1.6, 1.5, 1.3, 1.15)),  # 618
        (11, 10, (1.3, 1.8, 2.5, 3.0, 2.9, 2.6, 2.3, 2.0, 1.6, 1.3, 1.1)),  # Double-11
        (12, 12, (1.1, 1.3, 1.4, 1.3, 1.2, 1.1)),  # Double-12
    )
    spring_festival: tuple[tuple[int, int, int], ...] = (
        (2024, 2, 10),
        (2025, 1, 29),
        (2026, 2, 17),
        (2027, 2, 6),
        (2028, 1, 26),
        (2029, 2, 13),
        (2030, 2, 3),
        (2031, 1, 23),
        (2032, 2, 11),
        (2033, 1, 31),
        (2034, 2, 19),
        (2035, 2, 8),
    )
    spring_festival_fallback: tuple[int, int] = (2, 5)
    new_year_goods: tuple[int, int, float] = (-21, -8, 1.3)
    """(first day, last day, factor) relative to the festival: new-year shopping."""
    new_year_lull: tuple[int, int, float] = (-7, 7, 0.4)
    """Carriers and villagers on holiday: ×0.3–0.5."""
    new_year_surge: tuple[int, int, float] = (8, 15, 1.5)
    """The backlog after the holiday."""
    harvests: tuple[tuple[int, int, int, int, float], ...] = (
        (5, 20, 6, 20, 6.0),  # garlic, cherries, wheat-season produce
        (9, 15, 10, 31, 7.0),  # apples, pomegranates, persimmons, millet
    )
    harvest_ramp_days: int = 7
    weekday: tuple[float, float, float, float, float, float, float] = (
        1.08,
        1.05,
        1.0,
        1.0,
        0.98,
        0.94,
        0.95,
    )
    """Monday … Sunday: weekend orders arrive on Monday and Tuesday."""


@dataclass(frozen=True, slots=True)
class DemandParams:
    """Every number of the demand model (DOMAIN.md "Demand"), as a parameter.

    Weights: a lognormal with median 1 kg and σ 0.8 puts ~8.5 % of parcels over 3 kg; with 1 %
    bulky parcels the mean is ~1.55 kg. (DOMAIN.md's "mean ~2 kg" and "5–10 % over 3 kg" cannot
    both hold for one lognormal with median 1 kg; the tail share is kept.) Volumes: median
    0.005 m³, σ 1.18 (mean 0.01 m³), correlated with weight.
    """

    carriers: tuple[Carrier, ...] = CARRIERS
    always_active: tuple[str, ...] = ("ems",)
    n_carriers: tuple[int, int] = (5, 7)
    carrier_alpha: float = 2.0
    down_per_1000: float = 16.0
    """Parcels per 1,000 residents per day (DOMAIN: 15–40): ~39 per village of 2,400, ~57 per
    village point of Yanshi (a point serves ~1.5 villages)."""
    propensity_sigma: float = 0.3
    """Spread of villages' online shopping (lognormal with mean 1, fixed per seed)."""
    day_cv: float = 0.4
    """Day-to-day coefficient of variation per village point (DOMAIN: 0.3–0.5)."""
    seat_per_1000: float = 8.0
    """Town-seat parcels per 1,000 residents of the station's villages."""
    seat_parcels: tuple[float, float] = (300.0, 1500.0)
    """Bounds of a town seat's mean parcels per day (DOMAIN)."""
    seat_cv: float = 0.2
    seat_bag_parcels: int = 30
    weight_median_kg: float = 1.0
    weight_sigma: float = 0.8
    volume_median_m3: float = 0.005
    volume_sigma: float = 1.18
    weight_volume_corr: float = 0.6
    min_kg: float = 0.05
    min_m3: float = 0.0005
    bulky_share: float = 0.01
    bulky_kg: float = 20.0
    """A parcel at or over this weight is bulky."""
    bulky_m3: float = 0.1
    """A parcel at or over this volume is bulky."""
    bulky_heavy_share: float = 0.5
    """Bulky parcels that are heavy (≥ 20 kg: rice, oil, appliances); the rest are large."""
    bulky_heavy_median_kg: float = 28.0
    bulky_heavy_sigma: float = 0.3
    bulky_heavy_m3: tuple[float, float] = (0.03, 0.09)
    bulky_large_median_m3: float = 0.16
    bulky_large_sigma: float = 0.35
    bulky_large_kg: tuple[float, float] = (3.0, 12.0)
    up_per_village: float = 3.0
    """Mean consignments per administrative village per day (DOMAIN: 0–10)."""
    up_cv: float = 0.6
    up_extra_parcels: float = 0.6
    """A village consignment holds 1 + Poisson(this) parcels."""
    village_sectors: tuple[tuple[str, float], ...] = (
        ("farm", 0.85),
        ("shoes", 0.05),
        ("knitwear", 0.05),
        ("instruments", 0.05),
    )
    ecommerce_share: float = 0.07
    """Share of village points that are e-commerce villages (DOMAIN: 5–10 %)."""
    ecommerce_median: float = 120.0
    ecommerce_sigma: float = 0.6
    ecommerce_bounds: tuple[float, float] = (50.0, 500.0)
    ecommerce_sectors: tuple[tuple[str, float], ...] = (
        ("farm", 0.4),
        ("shoes", 0.25),
        ("knitwear", 0.2),
        ("instruments", 0.15),
    )
    ecommerce_batch: int = 10
    """Parcels per upstream order from an e-commerce village (a seller's batch)."""
    bulk_median: float = 900.0
    bulk_sigma: float = 0.9
    bulk_bounds: tuple[float, float] = (200.0, 5000.0)
    bulk_carton: tuple[int, int] = (20, 50)
    """Parcels per consignment from a bulk shipper."""
    up_day_cv: float = 0.35
    sectors: tuple[Sector, ...] = SECTORS
    sector_words: tuple[tuple[str, str], ...] = (
        ("鞋", "shoes"),
        ("针织", "knitwear"),
        ("织", "knitwear"),
        ("乐器", "instruments"),
    )
    """A bulk shipper's sector is read from its name; shoes when nothing matches."""
    season: SeasonParams = field(default_factory=SeasonParams)

    @property
    def mean_down_kg(self) -> float:
        """Mean weight of a down parcel (kg)."""
        body = self.weight_median_kg * math.exp(self.weight_sigma**2 / 2)
        h = self.bulky_heavy_share
        bulky = h * self.bulky_heavy_median_kg + (1 - h) * sum(self.bulky_large_kg) / 2
        return (1 - self.bulky_share) * body + self.bulky_share * bulky

    @property
    def mean_down_m3(self) -> float:
        """Mean volume of a down parcel (m³)."""
        body = self.volume_median_m3 * math.exp(self.volume_sigma**2 / 2)
        h = self.bulky_heavy_share
        bulky = h * sum(self.bulky_heavy_m3) / 2 + (1 - h) * self.bulky_large_median_m3
        return (1 - self.bulky_share) * body + self.bulky_share * bulky

    def sector(self, sector_id: str) -> Sector:
        """The sector profile by id."""
        for s in self.sectors:
            if s.id == sector_id:
                return s
        raise KeyError(sector_id)


# ------------------------------------------------------------------------------ season
def _as_date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value)


def _spring_festival(year: int, p: SeasonParams) -> dt.date:
    for y, m, d in p.spring_festival:
        if y == year:
            return dt.date(y, m, d)
    return dt.date(year, *p.spring_festival_fallback)


def _new_year(day: dt.date, p: SeasonParams) -> float:
    factor = 1.0
    for year in (day.year - 1, day.year, day.year + 1):
        offset = (day - _spring_festival(year, p)).days
        for lo, hi, f in (p.new_year_goods, p.new_year_lull, p.new_year_surge):
            if lo <= offset <= hi:
                factor *= f
    return factor


def _harvest(day: dt.date, p: SeasonParams) -> float:
    factor = 1.0
    ramp = max(1, p.harvest_ramp_days)
    for m0, d0, m1, d1, f in p.harvests:
        start, end = dt.date(day.year, m0, d0), dt.date(day.year, m1, d1)
        if start <= day <= end:
            edge = min((day - start).days, (end - day).days) + 1
            factor = max(factor, 1 + (f - 1) * min(1.0, edge / ramp))
    return factor


def season_factor(
    date: dt.date | str,
    *,
    direction: Direction = Direction.DOWN,
    sector: str = "",
    params: SeasonParams | None = None,
) -> float:
    """How much busier than an ordinary day a date is (1.0 = ordinary; weekdays excluded).

    Parameters
    ----------
    date
        The day (``datetime.date`` or ISO text).
    direction
        ``DOWN``: shopping festivals (618, Double-11, Double-12) and the Spring Festival.
        ``UP``: the same for manufactured goods (sellers ship what the festivals sell); farm
        produce follows the harvests instead, and the Spring Festival for everyone.
    sector
        Upstream sector id (only ``"farm"`` changes anything).

    >>> season_factor("2026-12-01"), season_factor("2026-11-13")
    (1.0, 3.0)
    >>> season_factor("2026-02-17") < 0.5 < season_factor("2026-02-25")
    True
    """
    p = params or SeasonParams()
    day = _as_date(date)
    ny = _new_year(day, p)
    if direction is Direction.UP and sector == "farm":
        return ny * _harvest(day, p)
    factor = ny
    for month, first, factors in p.peaks:
        offset = (day - dt.date(day.year, month, first)).days
        if 0 <= offset < len(factors):
            factor *= factors[offset]
    return factor


def _weekday(day: dt.date, p: SeasonParams) -> float:
    return p.weekday[day.weekday()]


# ------------------------------------------------------------------------------ helpers
def active_carriers(params: DemandParams, seed: int) -> tuple[tuple[Carrier, ...], FloatArray]:
    """The carriers active under ``seed`` and their shares (Dirichlet, fixed per seed)."""
    rng = np.random.default_rng([seed, 0, 1])
    lo, hi = params.n_carriers
    n = int(rng.integers(lo, hi + 1))
    fixed = [c for c in params.carriers if c.id in params.always_active]
    others = [c for c in params.carriers if c.id not in params.always_active]
    pick = rng.permutation(len(others))[: max(0, n - len(fixed))]
    chosen_ids = {c.id for c in fixed} | {others[int(i)].id for i in pick}
    chosen = tuple(c for c in params.carriers if c.id in chosen_ids)
    shares = rng.dirichlet(np.full(len(chosen), params.carrier_alpha))
    return chosen, np.asarray(shares, dtype=np.float64)


def _served_population(network: Network) -> dict[str, int]:
    """Residents behind each order site: a point's own village plus villages attached to it."""
    pop = {s.id: s.population for s in network.sites if s.kind is SiteKind.VILLAGE_POINT}
    for s in network.of_kind(SiteKind.VILLAGE):
        if s.parent in pop:
            pop[s.parent] += s.population
    return pop


def _villages_behind(network: Network) -> dict[str, int]:
    count = {s.id: 1 for s in network.village_points}
    for s in network.of_kind(SiteKind.VILLAGE):
        if s.parent in count:
            count[s.parent] += 1
    return count


def _town_population(network: Network) -> dict[str, int]:
    """Residents of each station's villages (points and the villages attached to them)."""
    served = _served_population(network)
    town = {s.id: s.population for s in network.stations}
    for p in network.village_points:
        if p.parent in town:
            town[p.parent] += served[p.id]
    for v in network.of_kind(SiteKind.VILLAGE):
        if v.parent in town:  # a village attached straight to its station
            town[v.parent] += v.population
    return town


def _seat_mean(params: DemandParams, town_pop: int) -> float:
    lo, hi = params.seat_parcels
    return min(hi, max(lo, params.seat_per_1000 * town_pop / 1000))


def _bulk_sector(site: Site, params: DemandParams) -> str:
    for word, sector in params.sector_words:
        if word in site.name:
            return sector
    return "shoes"


def expected_daily(
    network: Network, params: DemandParams | None = None
) -> Mapping[str, tuple[float, float]]:
    """Mean (down, up) parcels per order site on an ordinary day, without noise or season.

    Used to size fleets. Up means exclude e-commerce villages (chosen per demand seed).
    """
    p = params or DemandParams()
    served = _served_population(network)
    behind = _villages_behind(network)
    town = _town_population(network)
    out: dict[str, tuple[float, float]] = {}
    up_per = p.up_per_village * (1 + p.up_extra_parcels)
    for s in network.sites:
        if s.kind is SiteKind.VILLAGE_POINT:
            out[s.id] = (p.down_per_1000 * served[s.id] / 1000, up_per * behind[s.id])
        elif s.kind is SiteKind.STATION:
            out[s.id] = (_seat_mean(p, town[s.id]), 0.0)
        elif s.kind is SiteKind.BULK_SHIPPER:
            out[s.id] = (0.0, p.bulk_median)
    return out


def _neg_binomial(mean: FloatArray, cv: float, rng: np.random.Generator) -> IntArray:
    """Counts with the given means and coefficient of variation (gamma–Poisson mixture)."""
    mean = np.maximum(np.asarray(mean, dtype=np.float64), 0.0)
    excess = cv * cv - 1.0 / np.maximum(mean, 1e-9)
    shape = np.where(excess > 1e-6, 1.0 / np.maximum(excess, 1e-6), 1e6)
    lam = mean * rng.gamma(shape, 1.0 / shape)
    return np.asarray(rng.poisson(lam), dtype=np.int64)


def _down_sizes(
    n: int, p: DemandParams, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Weights (kg), volumes (m³) and bulky flags of ``n`` down parcels."""
    z_w = rng.standard_normal(n)
    z_v = p.weight_volume_corr * z_w + math.sqrt(1 - p.weight_volume_corr**2) * rng.standard_normal(
        n
    )
    kg = p.weight_median_kg * np.exp(p.weight_sigma * z_w)
    m3 = p.volume_median_m3 * np.exp(p.volume_sigma * z_v)
    # ordinary parcels stay under the bulky limits; bulky ones are drawn on their own
    kg = np.clip(kg, p.min_kg, 0.95 * p.bulky_kg)
    m3 = np.clip(m3, p.min_m3, 0.95 * p.bulky_m3)
    bulky = rng.random(n) < p.bulky_share
    heavy = rng.random(n) < p.bulky_heavy_share
    nb = int(bulky.sum())
    heavy_kg = p.bulky_heavy_median_kg * np.exp(p.bulky_heavy_sigma * rng.standard_normal(nb))
    b_kg = np.where(
        heavy[bulky], np.maximum(p.bulky_kg, heavy_kg), rng.uniform(*p.bulky_large_kg, nb)
    )
    large_m3 = p.bulky_large_median_m3 * np.exp(p.bulky_large_sigma * rng.standard_normal(nb))
    b_m3 = np.where(
        heavy[bulky], rng.uniform(*p.bulky_heavy_m3, nb), np.maximum(p.bulky_m3, large_m3)
    )
    kg[bulky] = b_kg
    m3[bulky] = b_m3
    return (
        np.asarray(np.round(kg, 3), dtype=np.float64),
        np.asarray(np.round(m3, 6), dtype=np.float64),
        np.asarray(bulky, dtype=bool),
    )


def _piece_sizes(
    counts: IntArray, sector: Sector, p: DemandParams, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Total kg, m³ and a bulky flag of consignments of ``counts`` pieces each."""
    total = int(counts.sum())
    if total == 0:
        z = np.zeros(len(counts))
        return z, z.copy(), np.zeros(len(counts), dtype=bool)
    kg = sector.median_kg * np.exp(sector.sigma_kg * rng.standard_normal(total))
    m3 = sector.median_m3 * np.exp(sector.sigma_m3 * rng.standard_normal(total))
    kg = np.maximum(kg, p.min_kg)
    m3 = np.maximum(m3, p.min_m3)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    big = (kg >= p.bulky_kg) | (m3 >= p.bulky_m3)
    return (
        np.asarray(np.round(np.add.reduceat(kg, starts), 3), dtype=np.float64),
        np.asarray(np.round(np.add.reduceat(m3, starts), 6), dtype=np.float64),
        np.asarray(np.maximum.reduceat(big, starts), dtype=bool),
    )


def _split(total: int, size: int) -> list[int]:
    """``total`` parcels in consignments of ``size`` (the last one smaller)."""
    full, rest = divmod(total, size)
    return [size] * full + ([rest] if rest else [])


# ------------------------------------------------------------------------------ generation
def generate_demand(
    scenario: Scenario,
    date: dt.date | str,
    seed: int,
    params: DemandParams | None = None,
) -> tuple[Order, ...]:
    """One day's orders for a scenario.

    Parameters
    ----------
    scenario
        The network whose village points, stations and bulk shippers take orders.
    date
        The day (``datetime.date`` or ISO text); it sets the season and weekday and names
        the orders (``20261201-d-000123`` down, ``20261201-u-000045`` up).
    seed
        Demand seed: carrier shares, village propensities, e-commerce villages and bulk
        volumes depend on it alone; the day's counts and sizes on it and the date.
    params
        The demand model.

    Returns
    -------
    tuple of Order
        Down orders (points in network order, then town seats), then up orders (points, then
        bulk shippers). Deterministic given (scenario, date, seed).
    """
    p = params or DemandParams()
    day = _as_date(date)
    ymd = day.strftime("%Y%m%d")
    net = scenario.network
    carriers, shares = active_carriers(p, seed)
    express = np.array([c.express for c in carriers])
    fixed = np.random.default_rng([seed, 0, 2])
    rng = np.random.default_rng([seed, day.toordinal(), 3])

    points = net.village_points
    stations = net.stations
    bulks = net.of_kind(SiteKind.BULK_SHIPPER)
    served = _served_population(net)
    behind = _villages_behind(net)
    town = _town_population(net)

    # fixed per seed: propensity, village sector, e-commerce villages, bulk volumes
    sigma = p.propensity_sigma
    propensity = np.exp(sigma * fixed.standard_normal(len(points)) - sigma * sigma / 2)
    v_sec_ids = [s for s, _ in p.village_sectors]
    v_sec_w = np.array([w for _, w in p.village_sectors])
    village_sector = fixed.choice(len(v_sec_ids), size=len(points), p=v_sec_w / v_sec_w.sum())
    n_ecom = round(p.ecommerce_share * len(points))
    pop_w = np.array([served[s.id] for s in points], dtype=np.float64) + 1.0
    ecom = np.zeros(len(points), dtype=bool)
    if n_ecom:
        ecom[fixed.choice(len(points), size=n_ecom, replace=False, p=pop_w / pop_w.sum())] = True
    e_sec_ids = [s for s, _ in p.ecommerce_sectors]
    e_sec_w = np.array([w for _, w in p.ecommerce_sectors])
    ecom_sector = fixed.choice(len(e_sec_ids), size=len(points), p=e_sec_w / e_sec_w.sum())
    ecom_base = np.clip(
        p.ecommerce_median * np.exp(p.ecommerce_sigma * fixed.standard_normal(len(points))),
        *p.ecommerce_bounds,
    )
    bulk_base = np.clip(
        p.bulk_median * np.exp(p.bulk_sigma * fixed.standard_normal(len(bulks))), *p.bulk_bounds
    )

    week = _weekday(day, p.season)
    down_season = season_factor(day, params=p.season) * week

    # ---- down: village points (one order per parcel), then town seats (bags)
    mean = (
        np.array([served[s.id] for s in points], dtype=np.float64)
        / 1000
        * p.down_per_1000
        * propensity
        * down_season
    )
    n_down = _neg_binomial(mean, p.day_cv, rng)
    seat_mean = np.array([_seat_mean(p, town[s.id]) for s in stations]) * down_season
    n_seat = _neg_binomial(seat_mean, p.seat_cv, rng)

    orders: list[Order] = []
    total = int(n_down.sum())
    kg, m3, bulky = _down_sizes(total, p, rng)
    carrier = rng.choice(len(carriers), size=total, p=shares)
    site_of = np.repeat(np.arange(len(points)), n_down)
    k = 0
    for i in range(total):
        c = int(carrier[i])
        k += 1
        orders.append(
            Order(
                id=f"{ymd}-d-{k:06d}",
                carrier=carriers[c].id,
                direction=Direction.DOWN,
                site=points[int(site_of[i])].id,
                weight_kg=float(kg[i]),
                volume_m3=float(m3[i]),
                bulky=bool(bulky[i]),
                priority=1 if express[c] else 0,
            )
        )
    for st, n in zip(stations, n_seat.tolist(), strict=True):
        per_carrier = rng.multinomial(n, shares)
        for c, nc in enumerate(per_carrier.tolist()):
            bags = _split(nc, p.seat_bag_parcels)
            if not bags:
                continue
            counts = np.array(bags, dtype=np.int64)
            pk, pm, pb = _down_sizes(int(counts.sum()), p, rng)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            bag_kg = np.round(np.add.reduceat(pk, starts), 3)
            bag_m3 = np.round(np.add.reduceat(pm, starts), 6)
            bag_bulky = np.maximum.reduceat(pb, starts)
            for b, size in enumerate(bags):
                k += 1
                orders.append(
                    Order(
                        id=f"{ymd}-d-{k:06d}",
                        carrier=carriers[c].id,
                        direction=Direction.DOWN,
                        site=st.id,
                        weight_kg=float(bag_kg[b]),
                        volume_m3=float(bag_m3[b]),
                        parcels=size,
                        bulky=bool(bag_bulky[b]),
                        priority=1 if express[c] else 0,
                    )
                )

    # ---- up: village consignments, e-commerce batches, bulk cartons
    u = 0
    sector_factor = {
        s.id: season_factor(day, direction=Direction.UP, sector=s.id, params=p.season) * week
        for s in p.sectors
    }
    up_mean = np.array(
        [
            p.up_per_village * behind[s.id] * sector_factor[v_sec_ids[int(village_sector[i])]]
            for i, s in enumerate(points)
        ]
    )
    n_up = _neg_binomial(up_mean, p.up_cv, rng)
    ecom_mean = np.where(
        ecom,
        ecom_base * np.array([sector_factor[e_sec_ids[int(j)]] for j in ecom_sector]),
        0.0,
    )
    n_ecom_parcels = _neg_binomial(ecom_mean, p.up_day_cv, rng)

    def emit(site: str, sector_id: str, counts: list[int], lot_all: bool) -> None:
        nonlocal u
        if not counts:
            return
        sec = p.sector(sector_id)
        arr = np.array(counts, dtype=np.int64)
        skg, sm3, sbulky = _piece_sizes(arr, sec, p, rng)
        car = rng.choice(len(carriers), size=len(counts), p=shares)
        perishable = rng.random(len(counts)) < sec.perishable_share
        lot = rng.random(len(counts)) < (1.0 if lot_all and sec.lot_share > 0 else sec.lot_share)
        for j, n in enumerate(counts):
            u += 1
            c = int(car[j])
            priority = 2 if perishable[j] else 1 if express[c] else 0
            orders.append(
                Order(
                    id=f"{ymd}-u-{u:06d}",
                    carrier=carriers[c].id,
                    direction=Direction.UP,
                    site=site,
                    weight_kg=float(skg[j]),
                    volume_m3=float(sm3[j]),
                    parcels=n,
                    bulky=bool(sbulky[j]),
                    priority=priority,
                    sector=sector_id,
                    lot=f"L{ymd}-{site}-{u:06d}" if lot[j] else "",
                )
            )

    for i, s in enumerate(points):
        n = int(n_up[i])
        if n:
            sizes = (1 + rng.poisson(p.up_extra_parcels, n)).tolist()
            emit(s.id, v_sec_ids[int(village_sector[i])], sizes, False)
        if ecom[i] and n_ecom_parcels[i] > 0:
            emit(
                s.id,
                e_sec_ids[int(ecom_sector[i])],
                _split(int(n_ecom_parcels[i]), p.ecommerce_batch),
                True,
            )
    for b, s in enumerate(bulks):
        sector_id = _bulk_sector(s, p)
        n = int(
            _neg_binomial(np.array([bulk_base[b] * sector_factor[sector_id]]), p.up_day_cv, rng)[0]
        )
        cartons: list[int] = []
        lo, hi = p.bulk_carton
        while n > 0:
            size = min(n, int(rng.integers(lo, hi + 1)))
            cartons.append(size)
            n -= size
        emit(s.id, sector_id, cartons, False)
    return tuple(orders)


def write_orders_csv(orders: tuple[Order, ...], path: str | os.PathLike[str]) -> Path:
    """Write orders as an orders.csv file (the bundle format) and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(orders_to_csv(orders), encoding="utf-8")
    return target
