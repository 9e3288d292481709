"""The quality harness end to end on one small instance, and the backends it measures.

The harness row goes through the same core the daily plan uses: the instance becomes a
``TierProblem`` and the product's default solver solves it; the cost comes from the
independent evaluator.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.formats import (
    Instance,
    evaluate_routes,
    instance_to_problem,
    read_instance,
    solution_routes,
)
from benchmarks.quality import DEFAULT_SOLVE, main, run_quality
from benchmarks.quality import INSTANCES_DIR as INSTANCES
from routing.evaluate import evaluate_solution
from routing.problem import SolveStatus
from routing.solvers import DEFAULT_SOLVER, SolveSettings, solve_hybrid, solve_pyvrp
from routing.solvers.parallel import parallel_search
from routing.solvers.pyvrp_search import pyvrp_start


@pytest.fixture(scope="module")
def c101() -> Instance:
    """C101: Solomon clustered VRPTW, tight windows; the optimum (827.3) is quick to reach."""
    return read_instance(INSTANCES / "C101.txt")


def test_quality_smoke_x101_at_one_second() -> None:
    """The product's default solver at a 1 s budget: feasible, with a computed gap."""
    rows = run_quality(["X-n101-k25"], [1.0], ["countyroute"], directory=INSTANCES)
    assert len(rows) == 1
    row = rows[0]
    assert row["feasible"], row["note"]
    assert math.isfinite(row["gap_pct"])
    assert row["gap_pct"] >= -0.01
    assert row["cost"] >= row["bks"]


def test_quality_cli_writes_rows_and_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "q.csv"
    argv = ["--budget", "0.5", "--instance", "C101", "--solver", "countyroute"]
    assert main([*argv, "--instances-dir", str(INSTANCES), "--out", str(out)]) == 0
    assert out.read_text().startswith("instance,family,n,solver,budget_s,feasible,cost")
    assert "| Solomon | countyroute | 0.5 |" in capsys.readouterr().out


def test_quality_cli_names_an_unknown_instance(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--instance", "X-n9-k1", "--instances-dir", str(INSTANCES)]) == 2
    assert "X-n9-k1" in capsys.readouterr().err


def _limited(solutions: int, cores: int = 1) -> SolveSettings:
    """A search stopped by work, not by the clock (30 s is a safety net)."""
    return SolveSettings(time_limit_s=30.0, work=solutions, cores=cores)


def test_pyvrp_solution_passes_both_evaluators(c101: Instance) -> None:
    problem, settings = instance_to_problem(c101), _limited(300)
    solution = solve_pyvrp(problem, settings)
    assert solution.status is SolveStatus.FEASIBLE
    ev = evaluate_routes(c101, solution_routes(problem, solution))
    assert ev.feasible, ev.violations
    tier = evaluate_solution(problem, solution)
    assert tier.feasible, tier.violations
    assert tier.cost == ev.cost == solution.objective


def test_hybrid_is_checked_and_accepted_by_ortools(c101: Instance) -> None:
    problem, settings = instance_to_problem(c101), _limited(200)
    solution = solve_hybrid(problem, settings)
    assert solution.backend == "pyvrp+ortools"
    ev = evaluate_routes(c101, solution_routes(problem, solution))
    assert ev.feasible, ev.violations
    assert solution.objective == ev.cost


def test_pyvrp_refuses_what_it_does_not_model(c101: Instance) -> None:
    problem, settings = instance_to_problem(c101), _limited(10)
    reloads = replace(problem, vehicles=(replace(problem.vehicles[0], max_trips=2),))
    with pytest.raises(NotImplementedError, match="multi-trip"):
        solve_pyvrp(reloads, settings)
    ranged = replace(problem, vehicles=(replace(problem.vehicles[0], range_m=1000),))
    with pytest.raises(NotImplementedError, match="range"):
        solve_pyvrp(ranged, settings)
    # the OR-Tools model adds depot handling time when a problem mixes the two directions
    mixed = replace(problem, nodes=(replace(problem.nodes[0], pickup=(0, 0, 1)),))
    with pytest.raises(NotImplementedError, match="deliveries and pickups"):
        solve_pyvrp(mixed, settings)


def test_hybrid_falls_back_to_ortools_on_what_pyvrp_cannot_approximate(c101: Instance) -> None:
    problem, settings = instance_to_problem(c101), _limited(50)
    soft = replace(problem.nodes[0], soft_latest=(problem.nodes[0].window[1], 1))
    problem = replace(problem, nodes=(soft, *problem.nodes[1:]))
    solution = solve_hybrid(problem, settings)
    assert solution.backend == "ortools"
    assert evaluate_solution(problem, solution).feasible


def test_hybrid_starts_ortools_from_pyvrp_where_pyvrp_approximates(c101: Instance) -> None:
    """A range limit PyVRP models only on the priced distance: its routes are OR-Tools'
    start, OR-Tools' answer is returned, and the evaluator finds it feasible."""
    problem, settings = instance_to_problem(c101), _limited(100)
    problem = replace(problem, vehicles=tuple(replace(v, range_m=10**9) for v in problem.vehicles))
    solution = solve_hybrid(problem, settings)
    assert solution.backend == "pyvrp-start+ortools"
    ev = evaluate_solution(problem, solution)
    assert ev.feasible, ev.violations
    assert not solution.dropped


def test_pyvrp_start_keeps_stops_off_vehicles_that_may_not_serve_them(c101: Instance) -> None:
    """Half the stops allowed on vehicle 0 only (the bulky parcels' rule): PyVRP's start never
    puts them elsewhere, and the polished answer keeps to it."""
    problem, settings = instance_to_problem(c101), _limited(100)
    nodes = tuple(
        replace(n, allowed=(0,)) if i % 2 == 0 else n for i, n in enumerate(problem.nodes[:12])
    )
    small = replace(problem, nodes=nodes, vehicles=problem.vehicles[:4])
    start = pyvrp_start(small, settings)
    assert start.status is SolveStatus.FEASIBLE
    for p, trips in enumerate(start.routes):
        for _, visits, _ in trips:
            assert all(nodes[v.node].allowed in (None, (0,)) for v in visits)
            assert p == 0 or all(nodes[v.node].allowed is None for v in visits)
    solution = solve_hybrid(small, settings)
    assert solution.backend == "pyvrp-start+ortools"
    ev = evaluate_solution(small, solution)
    assert ev.feasible, ev.violations


def test_pyvrp_start_refuses_what_it_cannot_approximate(c101: Instance) -> None:
    problem, settings = instance_to_problem(c101), _limited(10)
    under_way = replace(
        problem, vehicles=(replace(problem.vehicles[0], start_site=problem.sites[1]),)
    )
    with pytest.raises(NotImplementedError, match="under way"):
        pyvrp_start(under_way, settings)


def test_harness_measures_the_daily_plans_default_solver() -> None:
    assert DEFAULT_SOLVE is DEFAULT_SOLVER


def test_two_cores_search_two_seeds_and_keep_the_cheaper(c101: Instance) -> None:
    """Under an iteration limit each seed's answer is fixed: two seeds on two cores give
    seed 0's answer or a cheaper one, and the hybrid on two cores stays feasible."""
    problem, settings = instance_to_problem(c101), _limited(150)
    one = solve_pyvrp(problem, settings)
    other = solve_pyvrp(problem, replace(settings, seed=settings.seed + 1))
    both = parallel_search(problem, replace(settings, cores=2))
    assert both.objective == min(one.objective, other.objective)
    hybrid = solve_hybrid(problem, replace(settings, cores=2))
    ev = evaluate_routes(c101, solution_routes(problem, hybrid))
    assert ev.feasible, ev.violations


def test_quality_2e_cli_writes_rows_and_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--family 2e`` on the smallest two-echelon instance: a feasible row whose cost the
    independent evaluator recomputed, never below the best-known value."""
    out = tmp_path / "q2e.csv"
    argv = ["--family", "2e", "--budget", "1", "--instance", "Set2a_E-n22-k4-s10-14"]
    assert main([*argv, "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("instance,family,n,solver,budget_s,feasible,cost")
    row = text.splitlines()[1].split(",")
    assert row[5] == "True"
    assert float(row[6]) >= 371.50 - 0.01
    assert "| Set2a | countyroute-2e | 1 |" in capsys.readouterr().out


def test_quality_2e_names_an_unknown_instance(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--family", "2e", "--instance", "Set9_nothing"]) == 2
    assert "unknown instance" in capsys.readouterr().err
