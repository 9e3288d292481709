"""Two-echelon instances: the Set 2 reader, the independent evaluator and the exact trunk, on
a tiny instance solved by hand, and the core's answer on it."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from benchmarks.formats_2e import (
    FreighterRoute,
    TruckRoute,
    TwoEchelonInstance,
    TwoEchelonSolution,
    evaluate_2e,
    parse_2e,
    read_2e,
)
from benchmarks.solve_2e import (
    LOOK_WORK,
    RUNG_WORK,
    WORK_PER_S,
    best_trunk,
    improve,
    rungs,
    second_echelon_problem,
    solve_2e,
)
from networks import InvalidScenario
from routing.pools import Pool
from routing.solvers import solve_ortools, solve_pyvrp
from routing.solvers.settings import SolveSettings

TWO_E = Path(__file__).resolve().parents[2] / "benchmarks" / "instances" / "2e"

TINY = """!----
!Trucks: (total #, capacity, cost per distance, fixcost)
2,10,1,0
!CityFreighters: (max cf/sat, total #, cap, cost/dist, fixcost)
1,2,8,1,0
!Stores: (first: depot x,y; then: satellites x,y)
0,0   0,10   10,0
!Customers: (x,y,demand)
0,14,4   3,10,3
10,-6,5
"""


@pytest.fixture
def tiny() -> TwoEchelonInstance:
    """Depot at the origin, satellite 0 at (0, 10), satellite 1 at (10, 0); customers 0 and 1
    near satellite 0 (route 0 → 4 → 5 → 3: length 12), customer 2 six units below satellite 1
    (length 12). Loads 7 and 5 exceed one truck (10): the best trunk is two out-and-back
    trips of 20 each. Optimum: 40 + 24 = 64."""
    return parse_2e(TINY, name="tiny")


def hand_solution() -> TwoEchelonSolution:
    return TwoEchelonSolution(
        trucks=(TruckRoute(((0, 7),)), TruckRoute(((1, 5),))),
        freighters=(FreighterRoute(0, (0, 1)), FreighterRoute(1, (2,))),
    )


def test_parse_reads_every_section_and_a_section_over_several_lines(
    tiny: TwoEchelonInstance,
) -> None:
    assert (tiny.trucks, tiny.truck_capacity) == (2, 10)
    assert (tiny.freighters_per_satellite, tiny.freighters, tiny.freighter_capacity) == (1, 2, 8)
    assert tiny.depot == (0.0, 0.0)
    assert tiny.satellites == ((0.0, 10.0), (10.0, 0.0))
    assert tiny.customers == ((0.0, 14.0), (3.0, 10.0), (10.0, -6.0))
    assert tiny.demand == (4, 3, 5)


@pytest.mark.parametrize(
    "text",
    [
        "!T\n1,10,1,0\n!F\n1,1,5,1,0\n!S\n0,0 1,1\n",  # no customer section
        "!T\n1,10,1,0\n!F\n1,1,5,1,0\n!S\n0,0\n!C\n1,1,1\n",  # a depot but no satellite
        "!T\n1,10,1,0\n!F\n1,1,5,1,0\n!S\n0,0 1,1\n!C\n1,1\n",  # a customer without demand
        "!T\n0,10,1,0\n!F\n1,1,5,1,0\n!S\n0,0 1,1\n!C\n1,1,1\n",  # no truck
    ],
)
def test_parse_rejects_malformed_files(text: str) -> None:
    with pytest.raises(InvalidScenario):
        parse_2e(text)


def test_read_set2_file() -> None:
    inst = read_2e(TWO_E / "Set2a_E-n22-k4-s10-14.dat")
    assert inst.name == "Set2a_E-n22-k4-s10-14"
    assert len(inst.customers) == 21 and len(inst.satellites) == 2
    assert (inst.trucks, inst.truck_capacity) == (3, 15000)
    assert (inst.freighters_per_satellite, inst.freighters, inst.freighter_capacity) == (
        4,
        4,
        6000,
    )
    assert inst.total_demand == 22500
    b4 = read_2e(TWO_E / "Set2b_E-n51-k5-s11-19-27-47.dat")
    assert len(b4.satellites) == 4 and len(b4.customers) == 50


def test_evaluate_hand_solution(tiny: TwoEchelonInstance) -> None:
    ev = evaluate_2e(tiny, hand_solution())
    assert ev.feasible, ev.violations
    assert ev.first_echelon == pytest.approx(40.0)
    assert ev.second_echelon == pytest.approx(24.0)
    assert ev.cost == pytest.approx(64.0)
    assert (ev.trucks, ev.freighters, ev.freighters_at) == (2, 2, (1, 1))


def test_evaluate_split_delivery_is_feasible_and_priced_per_route(
    tiny: TwoEchelonInstance,
) -> None:
    # one truck tours both satellites, the other tops up satellite 0: 34.14 + 20
    sol = TwoEchelonSolution(
        trucks=(TruckRoute(((0, 5), (1, 5))), TruckRoute(((0, 2),))),
        freighters=hand_solution().freighters,
    )
    ev = evaluate_2e(tiny, sol)
    assert ev.feasible, ev.violations
    assert ev.first_echelon == pytest.approx(20 + math.sqrt(200) + 20)


@pytest.mark.parametrize(
    ("solution", "expected"),
    [
        # every customer on one freighter: over its capacity (12 > 8)
        (
            TwoEchelonSolution(
                (TruckRoute(((0, 7),)), TruckRoute(((0, 5),))), (FreighterRoute(0, (0, 1, 2)),)
            ),
            "load 12 > 8",
        ),
        # two freighter routes at satellite 0, where one is the maximum
        (
            TwoEchelonSolution(
                (TruckRoute(((0, 7),)), TruckRoute(((0, 5),))),
                (FreighterRoute(0, (0, 1)), FreighterRoute(0, (2,))),
            ),
            "satellite 0: 2 freighter routes > 1",
        ),
        # customer 2 twice, and three routes where the pool holds two
        (
            TwoEchelonSolution(
                (TruckRoute(((0, 7),)), TruckRoute(((1, 10),))),
                (FreighterRoute(0, (0, 1)), FreighterRoute(1, (2,)), FreighterRoute(1, (2,))),
            ),
            "3 freighter routes > 2",
        ),
        # customer 2 never served
        (
            TwoEchelonSolution((TruckRoute(((0, 7),)),), (FreighterRoute(0, (0, 1)),)),
            "customer 2 served 0 times",
        ),
        # the trucks drop 6 at satellite 0 where its freighters take 7
        (
            TwoEchelonSolution(
                (TruckRoute(((0, 6),)), TruckRoute(((1, 5),))), hand_solution().freighters
            ),
            "satellite 0: trucks drop 6, freighters take 7",
        ),
        # one truck with both loads: 12 > 10
        (
            TwoEchelonSolution((TruckRoute(((0, 7), (1, 5))),), hand_solution().freighters),
            "truck route 0: load 12 > 10",
        ),
    ],
)
def test_evaluate_reports_each_violation(
    tiny: TwoEchelonInstance, solution: TwoEchelonSolution, expected: str
) -> None:
    ev = evaluate_2e(tiny, solution)
    assert not ev.feasible
    assert any(expected in v for v in ev.violations), ev.violations


def test_best_trunk_hand_solved(tiny: TwoEchelonInstance) -> None:
    cost, routes = best_trunk(tiny, [7, 5])
    assert cost == pytest.approx(40.0)
    assert sorted(r.drops for r in routes) == [((0, 7),), ((1, 5),)]
    assert best_trunk(tiny, [7, 0])[0] == pytest.approx(20.0)
    # 15 at satellite 0 needs a split: one out-and-back with 10, a tour with 5 + 5
    cost, routes = best_trunk(tiny, [15, 5])
    assert cost == pytest.approx(40 + math.sqrt(200) + 20 - 20)
    assert all(sum(a for _, a in r.drops) <= 10 for r in routes)
    dropped = [sum(a for r in routes for s, a in r.drops if s == k) for k in (0, 1)]
    assert dropped == [15, 5]
    # more than two trucks can carry
    assert best_trunk(tiny, [15, 6])[0] == math.inf


def test_core_solves_tiny_instance_to_the_hand_optimum(tiny: TwoEchelonInstance) -> None:
    solution, _ = solve_2e(tiny, 0.5)
    ev = evaluate_2e(tiny, solution)
    assert ev.feasible, ev.violations
    assert ev.cost == pytest.approx(64.0)


def test_multi_depot_search_serves_each_customer_from_its_nearer_satellite(
    tiny: TwoEchelonInstance,
) -> None:
    pool = Pool("f", ("s0", "s1"), total=2, per_station=1)
    problem = second_echelon_problem(tiny, (0, 1), pool)
    for solve in (solve_pyvrp, solve_ortools):
        sol = solve(problem, SolveSettings(time_limit_s=5.0, work=100))
        served = {
            v.node: problem.vehicles[p].depot
            for p, trips in enumerate(sol.routes)
            for _, visits, _ in trips
            for v in visits
        }
        assert served == {0: "s0", 1: "s0", 2: "s1"}, solve
        assert sol.objective == 24_000


def test_two_tier_local_search_moves_a_customer_to_save_a_truck_trip() -> None:
    """Customer 1, at (5, -1), is nearer satellite 1 (10.30) than satellite 0 (12.08); served
    from satellite 1 it makes that satellite's load 11, over one truck (10), and the trunk
    costs 60 instead of 40. Priced with the trunk, it moves to satellite 0 although the
    freighters then drive further."""
    inst = parse_2e("!T\n2,10,1,0\n!F\n2,3,10,1,0\n!S\n0,0 0,10 0,-10\n!C\n0,14,5 5,-1,3 0,-14,8\n")
    start = [FreighterRoute(0, (0,)), FreighterRoute(1, (2,)), FreighterRoute(1, (1,))]
    pool = Pool("f", ("s0", "s1"), total=3, per_station=2)
    assert best_trunk(inst, [5, 11])[0] == pytest.approx(60.0)
    better, priced = improve(inst, start, pool)
    assert priced > 0
    before = evaluate_2e(inst, TwoEchelonSolution((), tuple(start)))
    after = evaluate_2e(inst, TwoEchelonSolution((), tuple(better)))
    at = {c: r.satellite for r in better for c in r.customers}
    assert at == {0: 0, 1: 0, 2: 1}
    assert after.second_echelon > before.second_echelon
    assert 40.0 + after.second_echelon < 60.0 + before.second_echelon - 16.0
    assert pool.allows(f"s{r.satellite}" for r in better)


def test_the_rungs_reach_every_configuration_and_keep_the_cheapest_searched() -> None:
    """The rungs' order does not depend on the budget (a budget only says where it stops),
    the cheapest configuration is searched in every round, and every configuration is
    reached."""
    for configs in (1, 3, 39):
        order = list(itertools.islice(rungs(configs), 2_000))
        assert max(rank for _, rank in order) == configs - 1
        rounds = max(r for r, _ in order)
        assert sum(1 for _, rank in order if rank == 0) in (rounds, rounds - 1)
        assert order == sorted(order)  # round by round, rank by rank


@pytest.mark.slow
def test_more_budget_never_returns_a_worse_solution_and_the_same_budget_the_same_one() -> None:
    """Set 2a, E-n33-k4-s1-9 (2 satellites, 6 configurations): budgets from the first look
    alone to 14 rungs. Costs never rise with the budget, a larger budget runs the smaller
    one's rungs and more, and the same budget gives the same routes."""
    inst = read_2e(TWO_E / "Set2a_E-n33-k4-s1-9.dat")
    look = 6 * LOOK_WORK / WORK_PER_S
    budgets = [look, look + 3 * RUNG_WORK / WORK_PER_S, look + 15 * RUNG_WORK / WORK_PER_S]
    costs, rungs_run = [], []
    for budget in budgets:
        solution, note = solve_2e(inst, budget)
        ev = evaluate_2e(inst, solution)
        assert ev.feasible, ev.violations
        costs.append(ev.cost)
        assert "6 first looks" in note
        rungs_run.append(int(note.split(" rungs")[0].rsplit(" ", 1)[1]))
    assert costs == sorted(costs, reverse=True), costs
    assert rungs_run[0] == 0 < rungs_run[1] < rungs_run[2], rungs_run
    again, _ = solve_2e(inst, budgets[1])
    assert again == solve_2e(inst, budgets[1])[0]
    assert evaluate_2e(inst, again).cost == costs[1]
