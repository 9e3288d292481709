"""Loading and unloading at the station as policy fields (``[times] load_s_per_parcel``,
``unload_fixed_s``, ``unload_s_per_parcel``): they reach the built problem, the solver spends
them between trips, and re-timing a dispatcher's edit honours them.

Solves are bounded by a solution count, never the clock.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from networks import InvalidScenario
from routing.build import station_problem
from routing.model import Policy
from routing.plan import Load, Route, Stop, StopKind, Tier
from routing.problem import TierNode, TierProblem, TierVehicle
from routing.retime import retime
from routing.solvers import SolveSettings, solve_ortools
from scenarios.bundle import Scenario, override_policy

DATE = "2026-12-01"


def _two_trips(load_s: int, unload_fixed_s: int) -> TierProblem:
    """One van that holds 10 parcels and two villages of 10 parcels each, 1 km apart from
    the depot: it must come back between them (a reload)."""
    d = np.array([[0, 1000, 1000], [1000, 0, 2000], [1000, 2000, 0]], dtype=np.int64)
    t = d // 10
    van = TierVehicle(
        "van", "van", "D", (1000, 1000, 10), 0, 1.0, 0.0, 0, 36_000, 36_000, max_trips=2,
        reload_s=unload_fixed_s,
    )  # fmt: skip
    nodes = tuple(
        TierNode(s, s, (100, 100, 10), (0, 0, 0), 60, (0, 36_000), None) for s in ("A", "B")
    )
    return TierProblem(
        "hand", ("D", "A", "B"), nodes, (van,), {"van": d}, {"van": t},
        load_s_per_parcel=load_s, unload_s_per_parcel=load_s,
    )  # fmt: skip


@pytest.mark.parametrize(("load_s", "unload_fixed_s"), [(2, 600), (20, 600), (2, 60)])
def test_reload_takes_the_handling_time(load_s: int, unload_fixed_s: int) -> None:
    sol = solve_ortools(_two_trips(load_s, unload_fixed_s), SolveSettings(1.0, work=1, seed=1))
    (first_leave, _, back), (leave, _, _) = sol.routes[0]
    # back at the depot, then the fixed time and 10 parcels loaded before the second trip
    assert leave - back >= unload_fixed_s + 10 * load_s
    # and the first trip's 10 parcels are loaded before it leaves
    assert first_leave >= 10 * load_s


def test_policy_handling_reaches_the_station_problem(tiny: Scenario) -> None:
    policy = override_policy(
        tiny.policy,
        ["times.load_s_per_parcel=5", "times.unload_fixed_s=300", "times.unload_s_per_parcel=7"],
    )
    day = replace(tiny.day(DATE), policy=policy)
    built = station_problem(
        day, "s1", [o for o in day.orders if o.site in ("v1", "v2")], lambda *_: None,
        start=0, end=48 * 3600,
    )  # fmt: skip
    assert built is not None
    assert (built.problem.load_s_per_parcel, built.problem.unload_s_per_parcel) == (5, 7)
    assert {v.reload_s for v in built.problem.vehicles} == {300}


def test_defaults_are_unchanged() -> None:
    p = Policy()
    assert (p.load_s_per_parcel, p.unload_fixed_s, p.unload_s_per_parcel) == (2, 600, 2)


def test_negative_handling_is_refused() -> None:
    with pytest.raises(InvalidScenario, match="unload_fixed_s"):
        override_policy(Policy(), ["times.unload_fixed_s=-1"])


def _reload_route(dwell_s: int) -> Route:
    """East van: o01 to v1 on its first trip, back at s1, o03 to v2 on its second."""
    one = Load(2.5, 0.01, 1)
    stops = (
        Stop("s1", StopKind.DEPART, 36_000, 36_000, 36_000, 0, (), (), one),
        Stop("v1", StopKind.VISIT, 36_500, 36_500, 37_000, 0, ("o01",), (), Load()),
        Stop("s1", StopKind.RELOAD, 37_500, 37_500, 37_500 + dwell_s, 1, (), (), Load(1.2, 0.004, 1)),
        Stop("v2", StopKind.VISIT, 39_000, 39_000, 39_500, 1, ("o03",), (), Load()),
        Stop("s1", StopKind.RETURN, 40_500, 40_500, 40_500, 1, (), (), Load()),
    )  # fmt: skip
    return Route("van1", "van", Tier.LAST_MILE, "down-1", "s1", stops, 0, 0.0)


def test_retime_stretches_a_reload_to_the_policy(tiny: Scenario) -> None:
    day = tiny.day(DATE)
    day = replace(day, policy=replace(day.policy, unload_fixed_s=900, load_s_per_parcel=10))
    van1 = next(v for v in day.fleet if v.id == "van1")
    out = retime(_reload_route(60), day, van1)
    reload = out.stops[2]
    assert reload.departure_s - reload.arrival_s == 900 + 10 * 1
