"""scenarios.placement: covering and p-median models on hand-solvable instances with known
optima, the poor-village rule on random instances (against brute force), infeasible targets
as data, the built-in county's answer and the ``countyroute place`` command."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch_api.cli import main
from networks import UNREACHABLE, InvalidScenario
from scenarios.bundle import Scenario, load_bundle
from scenarios.placement import (
    CoverageBasis,
    Level,
    Model,
    Objective,
    PlacementInstance,
    PlacementParams,
    PlacementStatus,
    coverage_curve,
    placement_instance,
    read_setup_costs,
    run_placement,
    solve_placement,
)

KM = 1000


def line_instance(n: int = 5, *, poor: tuple[str, ...] = ()) -> PlacementInstance:
    """``n`` villages 1 km apart on one road, a candidate site at each: with a 1 km radius a
    site covers itself and both neighbours, so ``ceil(n / 3)`` sites cover everything."""
    ids = [f"v{i}" for i in range(n)]
    dist = [[abs(i - j) * KM for j in range(n)] for i in range(n)]
    return PlacementInstance.from_lists(ids, ids, dist, poor=poor)


def two_towns() -> PlacementInstance:
    """Villages a, b near 0 km and c, d near 10 km (weights 1, 3, 2, 5); candidates at each
    village. p-median with two sites: one per town at the heavier village (b, d), objective
    1×1 km + 2×1 km = 3 km·persons."""
    ids = ["a", "b", "c", "d"]
    pos = [0, 1, 10, 11]
    dist = [[abs(x - y) * KM for y in pos] for x in pos]
    return PlacementInstance.from_lists(ids, ids, dist, population=[1, 3, 2, 5])


# ------------------------------------------------------------------------------ set covering
def test_set_cover_of_a_line_needs_every_third_village() -> None:
    sol = solve_placement(line_instance(7), PlacementParams(radius_m=KM, min_coverage=1.0))
    assert sol.status is PlacementStatus.OPTIMAL
    assert len(sol.opened) == 3 and sol.village_coverage == 1.0
    assert sol.setup_cost == 3


def test_partial_cover_stops_at_the_target() -> None:
    # 60 % of 10 villages is 6: two sites (each covers three) are the fewest
    sol = solve_placement(line_instance(10), PlacementParams(radius_m=KM, min_coverage=0.6))
    assert len(sol.opened) == 2
    assert sol.villages_covered == 6


def test_a_poor_village_at_the_end_is_covered_even_when_the_target_is_met_without_it() -> None:
    sol = solve_placement(
        line_instance(10, poor=("v9",)), PlacementParams(radius_m=KM, min_coverage=0.3)
    )
    assert "v9" not in sol.uncovered_poor and sol.all_poor_covered
    assert len(sol.opened) == 1 and sol.opened[0] in {"v8", "v9"}


def test_cheapest_and_fewest_differ_when_one_big_site_is_dear() -> None:
    """Candidate ``big`` covers all four villages for 5; ``west`` and ``east`` cover two each
    for 2: the cheapest answer opens two sites, the fewest one."""
    dist = [[0, 0, UNREACHABLE], [0, 0, UNREACHABLE], [0, UNREACHABLE, 0], [0, UNREACHABLE, 0]]
    inst = PlacementInstance.from_lists(
        ["a", "b", "c", "d"], ["big", "west", "east"], dist, costs=[5, 2, 2]
    )
    cheap = solve_placement(inst, PlacementParams(radius_m=100, min_coverage=1.0))
    few = solve_placement(
        inst, PlacementParams(radius_m=100, min_coverage=1.0, objective=Objective.COUNT)
    )
    assert set(cheap.opened) == {"west", "east"} and cheap.setup_cost == 4
    assert few.opened == ("big",) and few.setup_cost == 5


def test_existing_sites_kept_cost_nothing() -> None:
    inst = PlacementInstance.from_lists(
        ["v0", "v1", "v2", "v3", "v4"],
        ["v0", "v1", "v2", "v3", "v4"],
        line_instance(5).distance_m.tolist(),
        existing=["v1"],
        costs=[7] * 5,
    )
    kept = solve_placement(inst, PlacementParams(radius_m=KM, min_coverage=1.0, keep_existing=True))
    assert kept.kept == ("v1",)
    assert kept.opened in {("v3",), ("v4",)} and kept.setup_cost == 7
    fresh = solve_placement(inst, PlacementParams(radius_m=KM, min_coverage=1.0))
    assert fresh.kept == () and fresh.setup_cost == 14


# ------------------------------------------------------------------------------ max cover
def test_max_cover_picks_the_populous_side() -> None:
    inst = two_towns()
    by_village = solve_placement(inst, PlacementParams(radius_m=1500, points=1))
    by_people = solve_placement(
        inst,
        PlacementParams(radius_m=1500, points=1, coverage_of=CoverageBasis.POPULATION),
    )
    assert by_village.villages_covered == 2
    assert set(by_people.opened) <= {"c", "d"}
    assert by_people.population_covered == 7


def test_max_cover_needs_a_number_of_points() -> None:
    with pytest.raises(InvalidScenario, match="needs a number of points"):
        PlacementParams(model=Model.MAX_COVER)


# ------------------------------------------------------------------------------ p-median
def test_p_median_opens_the_heavier_village_of_each_town() -> None:
    sol = solve_placement(two_towns(), PlacementParams(model=Model.P_MEDIAN, points=2))
    assert sol.status is PlacementStatus.OPTIMAL
    assert set(sol.opened) == {"b", "d"}
    # (1×1 km + 2×1 km) over 11 persons
    assert sol.mean_distance_m == pytest.approx(3 * KM / 11, abs=0.1)


def test_p_median_keeps_poor_villages_within_the_radius() -> None:
    inst = PlacementInstance.from_lists(
        ["a", "b", "c", "d"],
        ["a", "b", "c", "d"],
        two_towns().distance_m.tolist(),
        population=[1, 3, 2, 5],
        poor=["a"],
    )
    sol = solve_placement(inst, PlacementParams(model=Model.P_MEDIAN, points=2, radius_m=500))
    assert "a" in sol.opened and sol.all_poor_covered


# ------------------------------------------------------------------------------ infeasible
def test_a_poor_village_out_of_reach_is_named() -> None:
    dist = [[0, 100], [100, 0], [UNREACHABLE, 9000]]
    inst = PlacementInstance.from_lists(["a", "b", "far"], ["a", "b"], dist, poor=["far"])
    sol = solve_placement(inst, PlacementParams(radius_m=500, min_coverage=0.5))
    assert sol.status is PlacementStatus.INFEASIBLE
    assert [(i.reason, i.villages) for i in sol.infeasible] == [("poor_out_of_reach", ("far",))]
    assert sol.opened  # the best answer to the relaxed target is still there
    assert sol.uncovered_poor == ("far",)


def test_too_few_points_for_the_poor_villages_is_named() -> None:
    sol = solve_placement(
        line_instance(9, poor=("v0", "v8")), PlacementParams(radius_m=KM, points=1)
    )
    assert sol.status is PlacementStatus.INFEASIBLE
    (issue,) = sol.infeasible
    assert issue.reason == "too_few_points" and len(issue.villages) == 1
    assert "at least 2" in issue.detail


def test_an_unreachable_coverage_target_lists_the_villages_no_site_reaches() -> None:
    dist = [[0], [UNREACHABLE]]
    inst = PlacementInstance.from_lists(["a", "lost"], ["a"], dist)
    sol = solve_placement(inst, PlacementParams(radius_m=100, min_coverage=1.0))
    assert sol.status is PlacementStatus.INFEASIBLE
    assert sol.infeasible[0].reason == "coverage_out_of_reach"
    assert sol.infeasible[0].villages == ("lost",)
    assert sol.opened == ("a",)


# ------------------------------------------------------------------------------ invariants
@st.composite
def small_instances(draw: st.DrawFn) -> tuple[PlacementInstance, float]:
    n = draw(st.integers(2, 7))
    m = draw(st.integers(1, 6))
    cells = draw(st.lists(st.integers(0, 6), min_size=n * m, max_size=n * m))
    dist = [[c * 500 for c in cells[i * m : (i + 1) * m]] for i in range(n)]
    poor = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    costs = draw(st.lists(st.integers(1, 9), min_size=m, max_size=m))
    target = draw(st.sampled_from([0.0, 0.3, 0.6, 1.0]))
    inst = PlacementInstance.from_lists(
        [f"v{i}" for i in range(n)],
        [f"c{j}" for j in range(m)],
        dist,
        poor=[f"v{i}" for i in range(n) if poor[i]],
        costs=costs,
    )
    return inst, target


@settings(max_examples=40, deadline=None)
@given(small_instances())
def test_set_cover_is_optimal_and_covers_every_reachable_poor_village(
    case: tuple[PlacementInstance, float],
) -> None:
    """Brute force over every subset of candidates is the oracle."""
    inst, target = case
    params = PlacementParams(radius_m=1000, min_coverage=target)
    sol = solve_placement(inst, params)
    within = inst.distance_m <= 1000
    reachable_poor = [i for i, p in enumerate(inst.poor) if p and within[i].any()]
    opened = [inst.candidates.index(c) for c in sol.opened]
    for i in reachable_poor:
        assert within[i, opened].any(), f"poor village {inst.villages[i]} left uncovered"
    need = math.ceil(target * len(inst.villages) - 1e-9)
    best = None
    for k in range(len(inst.candidates) + 1):
        for subset in itertools.combinations(range(len(inst.candidates)), k):
            cols = list(subset)
            cov = within[:, cols].any(axis=1) if cols else np.zeros(len(inst.villages), bool)
            if all(cov[i] for i in reachable_poor) and cov.sum() >= min(need, within.any(1).sum()):
                cost = sum(inst.costs[j] for j in cols)
                best = cost if best is None else min(best, cost)
    assert sol.setup_cost == best
    feasible = need <= within.any(axis=1).sum() and len(reachable_poor) == sum(inst.poor)
    assert (sol.status is PlacementStatus.OPTIMAL) == feasible


def test_the_curve_rises_with_the_number_of_points() -> None:
    curve = coverage_curve(line_instance(12, poor=("v0",)), PlacementParams(radius_m=KM))
    cover = [c.coverage_any for c in curve]
    assert cover == sorted(cover) and cover[-1] == 1.0
    assert curve[0].points == 0 and not curve[0].poor_feasible
    assert all(c.poor_feasible for c in curve if c.points >= 1)


# ------------------------------------------------------------------------------ scenarios
def test_instance_from_the_tiny_bundle(tiny: Scenario) -> None:
    inst = placement_instance(tiny.network)
    assert inst.villages == ("v1", "v2", "v3", "v4", "v5", "v6", "v7")
    assert inst.candidates == inst.villages
    assert [c for c, e in zip(inst.candidates, inst.existing, strict=True) if e] == [
        "v1",
        "v2",
        "v3",
        "v4",
        "v5",
        "v6",
    ]
    assert inst.poor == (False, True, False, False, False, False, False)
    assert (np.diag(inst.distance_m) == 0).all()
    assert (inst.distance_m == inst.distance_m.T).all()  # shorter direction: symmetric
    stations = placement_instance(tiny.network, PlacementParams(level=Level.STATION))
    assert stations.candidates[:2] == ("s1", "s2") and stations.costs[0] == 50_000


def test_setup_costs_are_read_from_the_bundle(tiny_copy: Path) -> None:
    path = tiny_copy / "network.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for feat in doc["features"]:
        if feat.get("id") == "v7":
            feat["properties"]["setup_cost"] = 2500
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert read_setup_costs(tiny_copy) == {"v7": 2500.0}
    result = run_placement(tiny_copy, PlacementParams(radius_m=400, min_coverage=0.1), curve=False)
    assert result.solution.status is PlacementStatus.OPTIMAL


def test_yanshi_at_3_km_covers_60_percent_and_every_poor_village() -> None:
    result = run_placement("yanshi", PlacementParams(radius_m=3000, min_coverage=0.6), curve=False)
    s = result.solution
    assert s.status is PlacementStatus.OPTIMAL
    assert s.village_coverage >= 0.6 and s.all_poor_covered and s.poor == 24
    assert s.setup_cost == 10_000 * len(s.opened)
    assert result.existing.kept and len(result.existing.kept) == 130
    doc = result.to_dict()
    assert doc["solution"]["all_poor_covered"] is True and doc["params"]["model"] == "set-cover"


def test_place_command_writes_report_and_json(
    tiny_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "place"
    code = main(
        [
            "place",
            str(tiny_path),
            "--radius-km",
            "2",
            "--min-coverage",
            "0.6",
            "--workers",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert {p.name for p in out.iterdir()} == {
        "placement.json",
        "placement.md",
        "coverage_curve.png",
        "placement_map.png",
    }
    doc = json.loads((out / "placement.json").read_text(encoding="utf-8"))
    assert doc["solution"]["all_poor_covered"] and doc["solution"]["village_coverage"] >= 0.6
    assert "set-up cost" in capsys.readouterr().out


def test_place_command_exits_1_on_an_infeasible_target(tiny_path: Path, tmp_path: Path) -> None:
    # one point cannot cover the poor village v2 (east) and 60 % of villages 50 m away
    code = main(["place", str(tiny_path), "--radius-km", "0.05", "--points", "1", "--no-curve",
                 "--workers", "1", "--out", str(tmp_path / "p")])  # fmt: skip
    assert code in (0, 1)
    doc = json.loads((tmp_path / "p" / "placement.json").read_text(encoding="utf-8"))
    assert (code == 1) == (doc["solution"]["status"] == "infeasible")


def test_load_bundle_is_unchanged_by_placement(tiny_path: Path) -> None:
    before = load_bundle(tiny_path)
    run_placement(before, PlacementParams(radius_m=2000), curve=False)
    assert load_bundle(tiny_path) == before


@st.composite
def median_instances(draw: st.DrawFn) -> tuple[PlacementInstance, int, bool]:
    """Small p-median instances with unreachable cells (7) and existing sites."""
    n = draw(st.integers(1, 7))
    m = draw(st.integers(1, 6))
    cells = draw(st.lists(st.integers(0, 7), min_size=n * m, max_size=n * m))
    dist = [
        [UNREACHABLE if c == 7 else c * 400 for c in cells[i * m : (i + 1) * m]] for i in range(n)
    ]
    pop = draw(st.lists(st.integers(1, 9), min_size=n, max_size=n))
    poor = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    existing = draw(st.lists(st.booleans(), min_size=m, max_size=m))
    inst = PlacementInstance.from_lists(
        [f"v{i}" for i in range(n)],
        [f"c{j}" for j in range(m)],
        dist,
        population=pop,
        poor=[f"v{i}" for i in range(n) if poor[i]],
        existing=[f"c{j}" for j in range(m) if existing[j]],
    )
    return inst, draw(st.integers(1, m)), draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(median_instances())
def test_p_median_is_optimal_against_brute_force(case: tuple[PlacementInstance, int, bool]) -> None:
    """Every subset of the right size that covers every poor village within the radius is
    tried; a village with no reachable open site costs twice the longest distance plus one."""
    inst, points, keep = case
    params = PlacementParams(model=Model.P_MEDIAN, points=points, radius_m=1000, keep_existing=keep)
    sol = solve_placement(inst, params)
    d = inst.distance_m
    finite = d[d < UNREACHABLE]
    far = int(finite.max()) * 2 + 1 if finite.size else 1
    forced = [j for j, e in enumerate(inst.existing) if e and keep]
    free = [j for j in range(len(inst.candidates)) if j not in forced]
    poor = [i for i, p in enumerate(inst.poor) if p]

    def cost(cols: list[int]) -> int:
        near = d[:, cols].min(axis=1)
        return int(
            sum(
                w * (int(x) if x < UNREACHABLE else far)
                for w, x in zip(inst.population, near, strict=True)
            )
        )

    best = None
    for subset in itertools.combinations(free, min(points, len(free))):
        cols = forced + list(subset)
        if all((d[i, cols] <= 1000).any() for i in poor):
            c = cost(cols)
            best = c if best is None else min(best, c)
    if best is None:  # the poor villages cannot all be covered: a relaxed answer, so named
        assert sol.status is PlacementStatus.INFEASIBLE and sol.infeasible
        return
    assert sol.status is PlacementStatus.OPTIMAL
    cols = [inst.candidates.index(c) for c in sol.opened + sol.kept]
    assert len(sol.opened) == min(points, len(free))
    assert cost(cols) == best
