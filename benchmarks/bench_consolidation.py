"""Benchmarks of consolidation: every carrier's orders for a site and direction become one
stop's load, keeping the per-carrier breakdown (``routing.consolidate.consolidate``).

The orders are generated outside the timed part; the work is fixed (seeded demand).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.ladder import Instance
from routing.consolidate import SiteLoad, consolidate
from routing.model import Direction


def assert_consolidated(loads: Mapping[tuple[str, Direction], SiteLoad], inst: Instance) -> None:
    """Every order in exactly one load; parcels kept, in total and per carrier."""
    ids = [oid for sl in loads.values() for oid in sl.orders]
    assert sorted(ids) == sorted(o.id for o in inst.orders)
    assert sum(sl.load.parcels for sl in loads.values()) == inst.parcels
    for sl in loads.values():
        assert sum(n for _, n, _ in sl.by_carrier) == sl.load.parcels


def test_consolidate_yanshi_day(benchmark: Any, yanshi: Instance) -> None:
    """The reference day's ~9,000 orders."""
    loads = benchmark(consolidate, yanshi.orders)
    assert_consolidated(loads, yanshi)


def test_consolidate_ladder_day(benchmark: Any, ladder: Instance) -> None:
    """A ladder step's day (70,000 orders at 1,000 points, 350,000 at 5,000)."""
    loads = benchmark.pedantic(consolidate, args=(ladder.orders,), rounds=3, iterations=1)
    assert_consolidated(loads, ladder)
