"""routing.solvers.ortools_model on hand-solved tier problems: exact routes where the answer can be
worked out on paper, and an independent re-check of every solution (loads after every stop,
windows, shifts, range, compatibility, each node served once or dropped).

Every solve is bounded by a solution count (``SolveSettings.work``), never by the clock; the time
limit is only a safety net.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from networks import UNREACHABLE
from routing.problem import (
    Resources,
    SolveStatus,
    TierNode,
    TierProblem,
    TierSolution,
    TierVehicle,
)
from routing.solvers import Solver, SolveSettings, solve_hybrid, solve_ortools, solve_pyvrp
from routing.solvers.pyvrp_search import pyvrp_start

SPEED_M_PER_S = 10  # every hand-made matrix drives at 36 km/h: time_s = distance_m / 10
DAY = (0, 36_000)
BIG_PENALTY = 10**7
"""Dearer than any route here, so an optional node is only left out when it cannot fit."""


# ----------------------------------------------------------------------------- builders
def _frozen(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.int64)
    m.setflags(write=False)
    return m


def one_way_line(xs: Sequence[int], backtrack: int = 3) -> np.ndarray:
    """Distances along an eastbound one-way lane; ``xs[0]`` is the depot.

    Driving east costs the plain distance; going back west to an earlier stop means a detour
    of ``backtrack`` times the distance; the ring road home to the depot costs the plain
    distance. So visiting the stops from west to east is the unique cheapest order, which a
    symmetric line cannot give (its reverse tour always ties).
    """
    n = len(xs)
    d = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(n):
            dx = xs[j] - xs[i]
            d[i, j] = abs(dx) if dx >= 0 or j == 0 else backtrack * -dx
    return _frozen(d)


def euclid(points: Sequence[tuple[int, int]]) -> np.ndarray:
    """Rounded straight-line distances between points (metres)."""
    p = np.asarray(points, dtype=np.float64)
    return _frozen(np.rint(np.hypot(*(p[:, None, :] - p[None, :, :]).transpose(2, 0, 1))))


def times(d: np.ndarray) -> np.ndarray:
    """Travel seconds for a distance matrix; unreachable stays unreachable."""
    return _frozen(np.where(d >= UNREACHABLE, UNREACHABLE, d // SPEED_M_PER_S))


def vehicle(
    vid: str = "van",
    cls: str = "van",
    *,
    cap: Resources = (100, 100, 100),
    fixed: int = 1000,
    per_m: float = 1.0,
    **kw: object,
) -> TierVehicle:
    return TierVehicle(
        id=vid,
        vehicle_class=cls,
        depot="D",
        capacity=cap,
        fixed_cost=fixed,
        cost_per_m=per_m,
        cost_per_s=0.0,
        earliest_start_s=DAY[0],
        latest_end_s=DAY[1],
        max_duration_s=DAY[1],
        **kw,  # type: ignore[arg-type]
    )


def node(
    site: str,
    *,
    delivery: Resources = (10, 10, 1),
    pickup: Resources = (0, 0, 0),
    window: tuple[int, int] = DAY,
    penalty: int | None = None,
    allowed: tuple[int, ...] | None = None,
) -> TierNode:
    return TierNode(site, site, delivery, pickup, 60, window, penalty, allowed)


def problem(
    sites: tuple[str, ...],
    nodes: Sequence[TierNode],
    vehicles: Sequence[TierVehicle],
    distances: dict[str, np.ndarray],
) -> TierProblem:
    """A hand-made problem."""
    return TierProblem(
        name="hand",
        sites=sites,
        nodes=tuple(nodes),
        vehicles=tuple(vehicles),
        distance_m=distances,
        time_s={cls: times(d) for cls, d in distances.items()},
    )


def settings(work: int = 100) -> SolveSettings:
    """``work`` solutions bound the search (the clock is only a safety net). Where a single
    solution is feasible the search could never count to 100 and would run into the clock:
    such tests pass ``work=1``."""
    return SolveSettings(time_limit_s=1.0, work=work, seed=1)


# ----------------------------------------------------------------------------- the oracle
def verify(p: TierProblem, sol: TierSolution) -> None:
    """Re-check a solution from the problem alone (independent of the adapter's dimensions)."""
    assert sol.status in (SolveStatus.FEASIBLE, SolveStatus.OPTIMAL)
    assert len(sol.routes) == len(p.vehicles)
    pos = p.site_index
    served = [v.node for trips in sol.routes for _, visits, _ in trips for v in visits]
    assert len(served) == len(set(served)), "a node is served twice"
    assert set(served).isdisjoint(sol.dropped), "a node is both served and dropped"
    assert set(served) | set(sol.dropped) == set(range(len(p.nodes)))
    for i in sol.dropped:
        assert p.nodes[i].penalty is not None, f"mandatory node {p.nodes[i].key} dropped"
    for vi, trips in enumerate(sol.routes):
        veh = p.vehicles[vi]
        d, t = p.distance_m[veh.vehicle_class], p.time_s[veh.vehicle_class]
        depot = pos[veh.depot]
        assert len(trips) <= veh.max_trips
        driven = 0
        prev_back = None
        for leave, visits, back in trips:
            assert visits, "an empty trip is reported"
            if prev_back is not None:
                assert leave >= prev_back + veh.reload_s, "reload too short"
            # load: the trip's deliveries on board at the start, then stop by stop
            load = [sum(p.nodes[v.node].delivery[r] for v in visits) for r in range(3)]
            assert all(0 <= load[r] <= veh.capacity[r] for r in range(3)), (veh.id, load)
            here, clock = depot, leave
            prev_site = None
            for v in visits:
                n = p.nodes[v.node]
                # straight on at the same site: the setup was paid at the stop before
                setup = n.setup_s if n.site == prev_site else 0
                prev_site = n.site
                if n.allowed is not None:
                    assert vi in n.allowed, f"{n.key} on a vehicle it may not use"
                leg = int(d[here, pos[n.site]])
                assert leg < UNREACHABLE, f"{veh.id} drives an unreachable leg to {n.key}"
                driven += leg
                assert v.start_s >= clock + int(t[here, pos[n.site]]) - setup
                assert n.window[0] <= v.start_s <= n.window[1], f"{n.key} outside its window"
                load = [load[r] - n.delivery[r] + n.pickup[r] for r in range(3)]
                assert all(0 <= load[r] <= veh.capacity[r] for r in range(3)), (n.key, load)
                here, clock = pos[n.site], v.start_s + n.service_s
            leg = int(d[here, depot])
            assert leg < UNREACHABLE
            driven += leg
            assert back >= clock + int(t[here, depot])
            prev_back = back
        if trips:
            assert trips[0][0] >= veh.earliest_start_s
            assert trips[-1][2] <= veh.latest_end_s
            assert trips[-1][2] - trips[0][0] <= veh.max_duration_s
            if veh.range_m is not None:
                assert driven <= veh.range_m, f"{veh.id} drives {driven} m > {veh.range_m} m"


def solve(p: TierProblem, work: int = 100) -> TierSolution:
    sol = solve_ortools(p, settings(work))
    verify(p, sol)
    return sol


def trips_of(p: TierProblem, sol: TierSolution, vi: int = 0) -> list[list[str]]:
    """A vehicle's trips as lists of node keys."""
    return [[p.nodes[v.node].key for v in visits] for _, visits, _ in sol.routes[vi]]


def dropped(p: TierProblem, sol: TierSolution) -> set[str]:
    return {p.nodes[i].key for i in sol.dropped}


# ----------------------------------------------------------------------------- fixtures
LINE_SITES = ("D", "a", "b", "c", "e")
LINE = one_way_line([0, 1000, 2000, 3000, 4000])


@pytest.fixture
def line4() -> TierProblem:
    """Four deliveries on a one-way lane east of the depot, one van: the only cheapest tour
    visits them west to east (a, b, c, e) for 8000 m."""
    return problem(LINE_SITES, [node(s) for s in LINE_SITES[1:]], [vehicle()], {"van": LINE})


# ----------------------------------------------------------------------------- tests
def test_four_stops_on_a_line_are_visited_in_order(line4: TierProblem) -> None:
    sol = solve(line4)
    assert trips_of(line4, sol) == [["a", "b", "c", "e"]]
    assert sol.dropped == ()
    # objective: the fixed cost plus 1 per metre, nothing else
    assert sol.objective == 1000 + 8000
    ((_, visits, back),) = sol.routes[0]
    # service starts 100 s per km out, plus 60 s service at each stop before
    assert [v.start_s - sol.routes[0][0][0] for v in visits] == [100, 260, 420, 580]
    assert back - sol.routes[0][0][0] == 580 + 60 + 400


def test_the_same_problem_gives_the_same_solution(line4: TierProblem) -> None:
    a, b = solve_ortools(line4, settings()), solve_ortools(line4, settings())
    assert (a.routes, a.dropped, a.objective) == (b.routes, b.dropped, b.objective)


def test_no_nodes_is_an_empty_solution(line4: TierProblem) -> None:
    sol = solve_ortools(replace(line4, nodes=()), settings())
    assert sol.status is SolveStatus.EMPTY
    assert sol.routes == ((),)


def test_capacity_needs_a_reload_trip() -> None:
    """Two 60-unit deliveries, a 100-unit van: with two trips it serves both, one per trip."""
    sites = ("D", "a", "b")
    nodes = [node("a", delivery=(60, 0, 1)), node("b", delivery=(60, 0, 1))]
    p = problem(sites, nodes, [vehicle(max_trips=2)], {"van": LINE[:3, :3]})
    sol = solve(p)
    assert sorted(trips_of(p, sol)) == [["a"], ["b"]]
    # the second trip leaves after the first is back plus the reload time (checked in
    # verify); the fixed cost is paid once
    assert sol.objective == 1000 + 2 * 1000 + 2 * 2000


def test_capacity_without_reloads_drops_the_cheaper_stop() -> None:
    """Same load, one trip: only one stop fits; leaving out a (penalty 1e6) is cheaper than
    leaving out b (2e6), even though b is the longer drive."""
    sites = ("D", "a", "b")
    nodes = [
        node("a", delivery=(60, 0, 1), penalty=1_000_000),
        node("b", delivery=(60, 0, 1), penalty=2_000_000),
    ]
    p = problem(sites, nodes, [vehicle(max_trips=1)], {"van": LINE[:3, :3]})
    sol = solve(p)
    assert trips_of(p, sol) == [["b"]]
    assert dropped(p, sol) == {"a"}
    assert sol.objective == 1000 + 4000 + 1_000_000


def test_mandatory_stops_that_cannot_fit_give_no_solution() -> None:
    sites = ("D", "a", "b")
    nodes = [node("a", delivery=(60, 0, 1)), node("b", delivery=(60, 0, 1))]
    p = problem(sites, nodes, [vehicle(max_trips=1)], {"van": LINE[:3, :3]})
    sol = solve_ortools(p, settings())
    assert sol.status is SolveStatus.NO_SOLUTION


@pytest.mark.parametrize(
    ("capacity", "order"),
    [
        # a first would carry 80 delivered to b plus 80 picked up at a: 160 > 100 in the
        # middle of the trip, although the start load (80) and the end load (80) both fit
        ((100, 1000, 100), ["b", "a"]),
        # room for both: the cheap west-to-east order
        ((200, 1000, 100), ["a", "b"]),
    ],
)
def test_pickup_and_delivery_keep_the_load_within_capacity_at_every_stop(
    capacity: Resources, order: list[str]
) -> None:
    sites = ("D", "a", "b")
    nodes = [
        node("a", delivery=(0, 0, 0), pickup=(80, 5, 1)),
        node("b", delivery=(80, 5, 1), pickup=(0, 0, 0)),
    ]
    # with the tight capacity only one order is feasible: count to one solution
    limit = 1 if order == ["b", "a"] else 100
    p = problem(sites, nodes, [vehicle(cap=capacity)], {"van": LINE[:3, :3]})
    sol = solve(p, limit)
    assert trips_of(p, sol) == [order]


def test_pickup_and_delivery_on_the_parcel_count_alone() -> None:
    """Weight is delivery-only, parcels go both ways: the parcel count alone forces b first
    (exercises the per-resource dimensions separately)."""
    sites = ("D", "a", "b")
    nodes = [
        node("a", delivery=(1, 0, 0), pickup=(0, 0, 3)),
        node("b", delivery=(1, 0, 3), pickup=(0, 0, 0)),
    ]
    p = problem(sites, nodes, [vehicle(cap=(100, 100, 4))], {"van": LINE[:3, :3]})
    assert trips_of(p, solve(p, 1)) == [["b", "a"]]


@pytest.mark.parametrize(
    ("window_b", "order"),
    [
        # b must start by 250 s: going via a it would start at 100 + 60 + 100 = 260
        ((0, 250), ["b", "a"]),
        # b may not start before 1000 s: a first, then wait at b
        ((1000, 36_000), ["a", "b"]),
        ((0, 36_000), ["a", "b"]),
    ],
)
def test_time_windows_force_an_order(window_b: tuple[int, int], order: list[str]) -> None:
    sites = ("D", "a", "b")
    nodes = [node("a"), node("b", window=window_b)]
    van = replace(vehicle(), earliest_start_s=0, latest_end_s=36_000)
    limit = 1 if window_b == (0, 250) else 100  # b's deadline leaves one feasible order
    p = problem(sites, nodes, [van], {"van": LINE[:3, :3]})
    sol = solve(p, limit)
    assert trips_of(p, sol) == [order]
    leave = sol.routes[0][0][0]
    start_b = next(v.start_s for v in sol.routes[0][0][1] if p.nodes[v.node].key == "b")
    assert window_b[0] <= start_b <= window_b[1]
    assert leave == 0 or window_b[0] > 0


def test_a_window_that_cannot_be_met_drops_the_stop() -> None:
    sites = ("D", "a")
    p = problem(
        sites,
        [node("a", window=(0, 50), penalty=BIG_PENALTY)],
        [vehicle()],
        {"van": LINE[:2, :2]},
    )
    sol = solve(p, work=1)
    assert dropped(p, sol) == {"a"}
    assert sol.routes == ((),)


POINTS = {"D": (0, 0), "a": (1000, 0), "b": (2000, 0), "c": (0, 1000)}


@pytest.mark.parametrize(
    ("allowed", "van_nodes", "tri_nodes"),
    [
        # c is bulky: only the van (index 1) may carry it, although the tricycle is cheaper
        ((1,), {"c"}, {"a", "b"}),
        # without the restriction the cheap tricycle does everything and the van stays home
        (None, set(), {"a", "b", "c"}),
    ],
)
def test_allowed_vehicles_are_respected(
    allowed: tuple[int, ...] | None, van_nodes: set[str], tri_nodes: set[str]
) -> None:
    sites = tuple(POINTS)
    d = euclid(list(POINTS.values()))
    nodes = [node("a"), node("b"), node("c", allowed=allowed)]
    tri = vehicle("tri", "tricycle", fixed=100, per_m=0.1)
    van = vehicle("van", "van", fixed=1000, per_m=1.0)
    p = problem(sites, nodes, [tri, van], {"tricycle": d, "van": d})
    sol = solve(p)
    assert {k for trip in trips_of(p, sol, 1) for k in trip} == van_nodes
    assert {k for trip in trips_of(p, sol, 0) for k in trip} == tri_nodes


RANGE_SITES = ("D", "east", "west")
RANGE_D = euclid([(0, 0), (2000, 0), (-2000, 0)])


def _range_nodes() -> list[TierNode]:
    return [node("east", penalty=1_000_000), node("west", penalty=2_000_000)]


def test_range_limit_drops_a_stop() -> None:
    """A 5 km battery: each stop is a 4 km round trip, both take 8 km. One is left out,
    and the one worth less (east)."""
    p = problem(RANGE_SITES, _range_nodes(), [vehicle(range_m=5000)], {"van": RANGE_D})
    sol = solve(p)
    assert trips_of(p, sol) == [["west"]]
    assert dropped(p, sol) == {"east"}


def test_range_is_shared_by_reload_trips() -> None:
    """Two trips of 4 km each would fit a per-trip budget, but the battery is per day."""
    p = problem(RANGE_SITES, _range_nodes(), [vehicle(range_m=5000, max_trips=2)], {"van": RANGE_D})
    sol = solve(p)
    assert trips_of(p, sol) == [["west"]]
    assert dropped(p, sol) == {"east"}


def test_range_limit_calls_a_second_vehicle() -> None:
    vans = [vehicle("v1", range_m=5000), vehicle("v2", range_m=5000)]
    p = problem(RANGE_SITES, _range_nodes(), vans, {"van": RANGE_D})
    sol = solve(p)
    assert sol.dropped == ()
    assert sorted(trips_of(p, sol, 0) + trips_of(p, sol, 1)) == [["east"], ["west"]]


def test_without_a_range_limit_one_trip_serves_both() -> None:
    p = problem(RANGE_SITES, _range_nodes(), [vehicle()], {"van": RANGE_D})
    sol = solve(p)
    assert sorted(trips_of(p, sol)[0]) == ["east", "west"]


def _with_unreachable(d: np.ndarray, k: int) -> np.ndarray:
    m = np.array(d)
    m[k, :] = UNREACHABLE
    m[:, k] = UNREACHABLE
    m[k, k] = 0
    return _frozen(m)


def test_unreachable_node_is_dropped_even_with_a_huge_penalty() -> None:
    """u has no open road: leaving it out must win even when its penalty dwarfs any cost."""
    sites = ("D", "a", "u")
    d = _with_unreachable(euclid([(0, 0), (1000, 0), (0, 500)]), 2)
    nodes = [node("a"), node("u", penalty=10**12)]
    p = problem(sites, nodes, [vehicle()], {"van": d})
    sol = solve(p, work=1)
    assert trips_of(p, sol) == [["a"]]
    assert dropped(p, sol) == {"u"}


def test_unreachable_mandatory_node_gives_no_solution() -> None:
    sites = ("D", "a", "u")
    d = _with_unreachable(euclid([(0, 0), (1000, 0), (0, 500)]), 2)
    p = problem(sites, [node("a"), node("u")], [vehicle()], {"van": d})
    assert solve_ortools(p, settings()).status is SolveStatus.NO_SOLUTION


def test_node_reachable_for_one_class_only_goes_on_that_class() -> None:
    """A lane only tricycles may use: u is unreachable in the van matrix, so the (dearer)
    tricycle must take it although the van would otherwise do the whole round."""
    sites = ("D", "a", "u")
    d = euclid([(0, 0), (1000, 0), (0, 500)])
    van = vehicle("van", "van", fixed=100, per_m=0.1)
    tri = vehicle("tri", "tricycle", fixed=1000, per_m=1.0)
    p = problem(
        sites,
        [node("a"), node("u", penalty=BIG_PENALTY)],
        [van, tri],
        {"van": _with_unreachable(d, 2), "tricycle": d},
    )
    sol = solve(p)
    assert trips_of(p, sol, 0) == [["a"]]
    assert trips_of(p, sol, 1) == [["u"]]


def test_each_depot_serves_its_neighbours() -> None:
    """Two depots 10 km apart, a stop next to each: each van stays on its side."""
    sites = ("D", "E", "a", "b")
    d = euclid([(0, 0), (10_000, 0), (500, 0), (9500, 0)])
    vans = [vehicle("v1"), replace(vehicle("v2"), depot="E")]
    p = problem(sites, [node("a"), node("b")], vans, {"van": d})
    sol = solve(p)
    assert trips_of(p, sol, 0) == [["a"]]
    assert trips_of(p, sol, 1) == [["b"]]
    assert sol.objective == 2 * (1000 + 1000)


def test_warm_start_is_improved_to_the_optimum(line4: TierProblem) -> None:
    """A poor initial route (east to west) is accepted and improved by the local search."""
    warm = replace(line4, initial_routes=(("van", (("e", "c", "b", "a"),)),))
    sol = solve(warm)
    assert trips_of(warm, sol) == [["a", "b", "c", "e"]]


# ------------------------------------------------- the default solver on village-run features
def test_the_default_solver_starts_reload_runs_from_pyvrp() -> None:
    """The reload case above through the planner's default solver: PyVRP's approximation
    gives the start, OR-Tools' answer passes the independent oracle with the same trips."""
    sites = ("D", "a", "b")
    nodes = [node("a", delivery=(60, 0, 1)), node("b", delivery=(60, 0, 1))]
    p = problem(sites, nodes, [vehicle(max_trips=2)], {"van": LINE[:3, :3]})
    sol = solve_hybrid(p, settings())
    assert sol.backend == "pyvrp-start+ortools"
    verify(p, sol)
    assert sorted(trips_of(p, sol)) == [["a"], ["b"]]


PARCEL_PRIZE = 500_000
"""The deferral price of one parcel in cost units (50 yuan), as the village runs have it."""


@pytest.mark.parametrize("search", [solve_pyvrp, pyvrp_start])
def test_pyvrp_leaves_stops_out_rather_than_overload_the_van(search: Solver) -> None:
    """A van for 10 parcels, one trip, four optional stops of 5 parcels at the deferral
    price: it carries two and the others are left out. With PyVRP's own penalties (50,000 a
    parcel over capacity) carrying all four earns more prize than the overload costs, every
    solution its search met was overloaded, and it answered with no solution at all (the
    county's village runs at ×2.5 demand)."""
    nodes = [node(s, delivery=(10, 10, 5), penalty=5 * PARCEL_PRIZE) for s in LINE_SITES[1:]]
    p = problem(LINE_SITES, nodes, [vehicle(cap=(100, 100, 10))], {"van": LINE})
    sol = search(p, settings())
    assert sol.status is SolveStatus.FEASIBLE
    verify(p, sol)
    assert len(dropped(p, sol)) == 2


@pytest.mark.parametrize("trips", [1, 2])
def test_a_van_that_cannot_carry_the_day_is_searched_from_the_raised_penalties_at_once(
    trips: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four stops of 5 parcels, a van for 10: on one trip it cannot carry them whatever the
    route, so the search starts from the raised penalties (one search, not PyVRP's own
    first); with two trips it can, so PyVRP's own penalties come first."""
    import routing.solvers.pyvrp_search as adapter

    nodes = [node(s, delivery=(10, 10, 5), penalty=5 * PARCEL_PRIZE) for s in LINE_SITES[1:]]
    p = problem(LINE_SITES, nodes, [vehicle(cap=(100, 100, 10), max_trips=trips)], {"van": LINE})
    built = adapter.build(p, approximate=True)
    assert isinstance(built, adapter.PyvrpData)
    assert adapter.overloaded(built.data) is (trips == 1)
    searched: list[bool] = []
    real = adapter.run_search

    def spy(*args: Any, raised: bool = True) -> Any:
        searched.append(raised)
        return real(*args, raised=raised)

    monkeypatch.setattr(adapter, "run_search", spy)
    sol = pyvrp_start(p, settings())  # the approximation's answer (reloads approximated)
    assert sol.status is SolveStatus.FEASIBLE
    assert len(dropped(p, sol)) == (2 if trips == 1 else 0)
    # every start of the search: raised at once, or PyVRP's own and feasible (no retry)
    assert searched and set(searched) == {trips == 1}


@pytest.mark.parametrize("own_feasible", [True, False])
def test_under_a_time_budget_the_raised_search_has_time_left(
    own_feasible: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a time budget (no work) a search with PyVRP's own penalties first has half the
    time, so that the second search has the rest: from the raised penalties when the first
    found nothing feasible (before, the first took all the time and the second none: the
    multi-depot peer at x2.5 demand answered with no solution), else going on from the
    first's answer, never above it."""
    import routing.solvers.pyvrp_search as adapter

    nodes = [node(s, delivery=(10, 10, 5), penalty=5 * PARCEL_PRIZE) for s in LINE_SITES[1:]]
    p = problem(LINE_SITES, nodes, [vehicle(cap=(100, 100, 10), max_trips=2)], {"van": LINE})
    built = adapter.build(p, approximate=True)
    assert isinstance(built, adapter.PyvrpData) and not adapter.overloaded(built.data)
    shares: list[float] = []
    real_stop = adapter.stop_criterion

    def stop(settings: SolveSettings, started: float, share: float = 1.0) -> Any:
        shares.append(share)
        return real_stop(settings, started, share)

    searched: list[tuple[bool, Any]] = []
    real = adapter.run_search

    def spy(*args: Any, raised: bool = True) -> Any:
        result = real(*args, raised=raised)
        if not searched and not own_feasible:  # as on a day the vans cannot carry
            result = type("Infeasible", (), {"is_feasible": lambda self: False})()
        searched.append((raised, result))
        return result

    monkeypatch.setattr(adapter, "stop_criterion", stop)
    monkeypatch.setattr(adapter, "run_search", spy)
    timed = SolveSettings(time_limit_s=1.0)
    assert timed.work is None
    result = adapter._search(built, timed, 0)
    assert shares == [0.5, 1.0]
    assert [r for r, _ in searched] == [False, not own_feasible]
    assert result.is_feasible()
    if own_feasible:
        assert result.cost() <= searched[0][1].cost()


def test_pyvrp_start_leaves_out_a_vehicle_whose_shift_is_over() -> None:
    """A vehicle with less shift left than one reload (a late trunk) gets no route and the
    other one serves everything (this once stopped a 5,000-point day with a PyVRP error)."""
    late = replace(vehicle("late", max_trips=2), earliest_start_s=DAY[1] - 30)
    p = problem(LINE_SITES, [node(s) for s in LINE_SITES[1:]], [late, vehicle(max_trips=2)],
                {"van": LINE})  # fmt: skip
    start = pyvrp_start(p, settings())
    assert start.status is SolveStatus.FEASIBLE
    assert not start.routes[0] and start.routes[1] and not start.dropped
    sol = solve_hybrid(p, settings())
    verify(p, sol)
    assert not sol.routes[0] and not sol.dropped


def test_drops_and_collections_at_one_village_set_up_once() -> None:
    """A village's drops and its collections are two stops at one site, each with 60 s of
    service of which 50 s are the setup: served one after the other, the second takes only
    its own 10 s, so the van is back 50 s sooner than with two full services."""
    sites = ("D", "a")
    drop = replace(node("a"), key="a#down", setup_s=50)
    collect = replace(node("a", delivery=(0, 0, 0), pickup=(10, 10, 1)), key="a#up", setup_s=50)
    p = problem(sites, [drop, collect], [vehicle()], {"van": LINE[:2, :2]})
    sol = solve(p, work=1)
    ((leave, visits, back),) = sol.routes[0]
    first, second = visits
    assert second.start_s - first.start_s == 60 - 50
    assert back - leave == 100 + 60 + 10 + 100


# ------------------------------------------------------------ a caller's start, the clock's say
def _reload_problem() -> TierProblem:
    """Two deliveries of 60 on a lane, one van of capacity 100 that may reload: two trips."""
    sites = ("D", "a", "b")
    nodes = [node("a", delivery=(60, 0, 1)), node("b", delivery=(60, 0, 1))]
    return problem(sites, nodes, [vehicle(max_trips=2)], {"van": LINE[:3, :3]})


@pytest.mark.parametrize("start_wins", [True, False])
def test_a_search_handed_a_start_returns_the_better_of_it_polished_and_its_own(
    start_wins: bool,
) -> None:
    """The day hands a station's search the routes its joint search ended with: the answer is
    never above that start polished by OR-Tools, nor above the search's own answer. A polish
    that overprices one of the two answers shows which one is kept."""
    p = replace(_reload_problem(), initial_routes=(("van", (("a",), ("b",))),))

    def polish(q: TierProblem, s: SolveSettings) -> TierSolution:
        sol = solve_ortools(q, s)
        from_callers = q is p  # the search's own answer is polished from a copy with its routes
        return replace(sol, objective=sol.objective + (0 if from_callers == start_wins else 500))

    sol = solve_hybrid(p, settings(), polish=polish)
    verify(p, sol)
    honest = solve_ortools(p, settings(1)).objective
    assert sol.objective == honest
    assert (sol.backend == "start+ortools") == start_wins


def test_a_search_that_goes_on_from_an_earlier_answer_starts_there_and_never_ends_above_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A later round of the day's village runs (``go_on``): PyVRP's search starts from the
    earlier answer instead of afresh (one search, no random start), and the answer is never
    above that answer as OR-Tools takes it."""
    import routing.solvers.hybrid as hybrid
    from routing.solvers.pyvrp_search import pyvrp_from_start

    p = replace(_reload_problem(), initial_routes=(("van", (("a",), ("b",))),))
    calls: list[str] = []

    def on(q: TierProblem, s: SolveSettings) -> tuple[TierSolution, int | None, bool]:
        calls.append("on")
        return pyvrp_from_start(q, s)

    def fresh(q: TierProblem, s: SolveSettings) -> TierSolution:
        calls.append("fresh")
        return pyvrp_start(q, s)

    monkeypatch.setattr(hybrid, "pyvrp_from_start", on)
    monkeypatch.setattr(hybrid, "pyvrp_start", fresh)
    earlier = solve_ortools(p, settings(1)).objective  # the start, as OR-Tools takes it
    sol = solve_hybrid(p, replace(settings(), go_on=True))
    verify(p, sol)
    assert calls == ["on"]
    assert sol.objective <= earlier
    calls.clear()
    solve_hybrid(p, settings())  # a joint search's routes: a fresh search beside them
    assert calls == ["fresh"]


def test_a_search_the_clock_stopped_says_so(line4: TierProblem) -> None:
    """OR-Tools reports whether its time limit, not its solution count, ended the search
    (``clock_stopped``; the plan's ``wall_capped`` counts these): a million solutions do not
    fit in 20 ms, one does."""
    stopped = solve_ortools(line4, SolveSettings(time_limit_s=0.02, work=10**6))
    assert stopped.status is SolveStatus.FEASIBLE and stopped.clock_stopped
    assert not solve_ortools(line4, SolveSettings(time_limit_s=30, work=1)).clock_stopped
