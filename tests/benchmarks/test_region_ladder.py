"""benchmarks.region_ladder's measuring parts, so the script cannot rot: the fitted exponent
and the memory of a process tree read from /proc."""

from __future__ import annotations

import os

import pytest

from benchmarks.region_ladder import _tree_rss_mib, exponent


def test_exponent_is_the_slope_of_log_time_against_log_counties() -> None:
    rows = [{"counties": 10, "wall_s": 60.0}, {"counties": 110, "wall_s": 660.0}]
    assert exponent(rows) == pytest.approx(1.0)
    rows[1]["wall_s"] = 60.0 * 11**1.2
    assert exponent(rows) == pytest.approx(1.2)
    assert exponent(rows[:1]) is None


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="Linux /proc")
def test_tree_memory_counts_this_process() -> None:
    assert 10 < _tree_rss_mib(os.getpid()) < 100_000
