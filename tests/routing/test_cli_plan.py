"""dispatch_api.cli end to end on the tiny bundle: ``plan`` writes plan.json (and the other
outputs), ``check`` passes it and exits 1 naming the route,
stop and site when a load is edited past capacity, and input errors exit 2 with one line on
stderr naming the file, the row and the field.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dispatch_api.cli import main
from routing.plan import Plan, plan_from_dict

DATE = "2026-12-01"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def planned(tiny_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny day planned once by ``countyroute plan`` (one second of search)."""
    out = tmp_path_factory.mktemp("planned")
    argv = ["plan", str(tiny_path), "--date", DATE, "--time-limit", "1", "--workers", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    return out
    from routing import DayInput, plan_day
    from routing.plan import dumps
    from scenarios.bundle import load_bundle, orders_to_csv

    sc = load_bundle(tiny_path)
    plan = plan_day(
        DayInput(sc.name, sc.network, sc.fleet, sc.policy, sc.orders, DATE), time_limit_s=1
    )
    (out / "plan.json").write_text(dumps(plan), encoding="utf-8")
    (out / "orders.csv").write_text(orders_to_csv(sc.orders), encoding="utf-8")
    (out / "scenario.json").write_text(json.dumps({"scenario": str(tiny_path), "date": DATE}))
    return out


@pytest.fixture
def plan_dir(planned: Path, tmp_path: Path) -> Path:
    """A private copy of the planned folder, for tests that edit it."""
    return Path(shutil.copytree(planned, tmp_path / "plan"))


def read_plan(folder: Path) -> Plan:
    return plan_from_dict(json.loads((folder / "plan.json").read_text(encoding="utf-8")))


# ----------------------------------------------------------------------------- plan
def test_plan_writes_a_plan_for_the_day(planned: Path) -> None:
    plan = read_plan(planned)
    assert plan.date == DATE and plan.scenario == "tiny"
    assert plan.routes
    assert (planned / "orders.csv").read_text(encoding="utf-8").startswith("id,")
    assert json.loads((planned / "scenario.json").read_text())["date"] == DATE


def test_plan_writes_the_other_outputs(planned: Path) -> None:
    plan = read_plan(planned)
    for name in ("routes.geojson", "summary.md"):
        assert (planned / name).stat().st_size > 0, name
    assert json.loads((planned / "routes.geojson").read_text(encoding="utf-8"))["features"]
    manifests = list((planned / "manifests").glob("*.csv"))
    assert len(manifests) == len(plan.routes)


def test_plan_writes_the_essential_outputs_and_no_pictures(planned: Path) -> None:
    # what README and docs/plan-format.md promise of a default `countyroute plan`
    for name in ("plan.json", "summary.md", "routes.geojson", "orders.csv", "scenario.json"):
        assert (planned / name).is_file(), name
    assert list((planned / "sheets").glob("*.md"))
    for name in ("map.png", "timeline.png", "roads.png"):
        assert not (planned / name).exists(), name


def test_render_draws_the_pictures_of_a_plan_folder(plan_dir: Path) -> None:
    before = (plan_dir / "plan.json").read_bytes()
    assert main(["render", str(plan_dir)]) == 0
    for name in ("map.png", "timeline.png", "roads.png"):
        assert (plan_dir / name).read_bytes()[:4] == b"\x89PNG", name
    assert (plan_dir / "plan.json").read_bytes() == before  # nothing is planned again


def test_plan_with_all_outputs_draws_the_pictures(tiny_path: Path, tmp_path: Path) -> None:
    argv = ["plan", str(tiny_path), "--date", DATE, "--solution-limit", "20", "--workers", "1"]
    assert main([*argv, "--outputs", "all", "--out", str(tmp_path / "all")]) == 0
    for name in ("map.png", "timeline.png", "roads.png"):
        assert (tmp_path / "all" / name).stat().st_size > 0, name
    # planned again into the same folder with essential outputs: no stale picture survives
    assert main([*argv, "--out", str(tmp_path / "all")]) == 0
    assert not (tmp_path / "all" / "map.png").exists()


def test_plan_names_a_mandatory_order_it_cannot_serve_and_exits_1(
    tiny_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orders = tiny_copy / "orders.csv"
    lines = orders.read_text(encoding="utf-8").splitlines()
    # o04 is bulky, for v3, which only the (non-bulky) tricycle can reach
    marked = [lines[0] + ",mandatory"] + [
        line + (",true" if line.startswith("o04,") else ",false") for line in lines[1:]
    ]
    orders.write_text("\n".join(marked) + "\n", encoding="utf-8")
    argv = ["plan", str(tiny_copy), "--date", DATE, "--solution-limit", "20", "--workers", "1"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert ": infeasible (" in out
    assert "infeasible    mandatory order o04 at v3 cannot be served: unreachable" in out
    assert "[mandatory] mandatory order o04 is deferred (unreachable)" in out
    assert read_plan(tmp_path / "out").status.value == "infeasible"


def test_plan_prints_the_checker_verdict(
    tiny_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["plan", str(tiny_path), "--date", DATE, "--time-limit", "0.5", "--workers", "1"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    assert "checker: ok" in capsys.readouterr().out.splitlines()


# ----------------------------------------------------------------------------- check
def test_check_passes_the_written_plan(plan_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(plan_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("ok: ")


def test_check_passes_a_plan_json_path_too(
    plan_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(plan_dir / "plan.json")]) == 0


def test_check_fails_a_load_edited_past_capacity(
    plan_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads((plan_dir / "plan.json").read_text(encoding="utf-8"))
    route = next(r for r in doc["routes"] if r["tier"] == "last_mile")
    si = next(i for i, s in enumerate(route["stops"]) if s["kind"] == "visit")
    route["stops"][si]["load_after"]["kg"] = 99999
    (plan_dir / "plan.json").write_text(json.dumps(doc), encoding="utf-8")

    assert main(["check", str(plan_dir)]) == 1
    lines = capsys.readouterr().out.splitlines()
    site = route["stops"][si]["site"]
    where = f"last_mile:{route['vehicle']} stop {si} ({site}): [capacity]"
    assert any(line.startswith(where) and "99999" in line for line in lines), lines
    assert "violations" in lines[-1]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        # no plan.json at all
        (lambda d: (d / "plan.json").unlink(), "file not found"),
        # a plan.json of a future format
        (
            lambda d: (d / "plan.json").write_text(json.dumps({"schema_version": 99})),
            "not a valid plan",
        ),
    ],
)
def test_check_of_an_unreadable_plan_exits_2(
    plan_dir: Path, capsys: pytest.CaptureFixture[str], edit: object, words: str
) -> None:
    edit(plan_dir)  # type: ignore[operator]
    assert main(["check", str(plan_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "plan.json" in err and words in err


# ----------------------------------------------------------------------------- validate
@pytest.mark.parametrize(
    ("file", "old", "new", "row", "field"),
    [
        # an order for a site the network does not have
        ("orders.csv", "o05,ems,down,v4,", "o05,ems,down,v99,", "row 5", "site"),
        # a vehicle with no capacity
        ("fleet.csv", "van1,van,s1,800,", "van1,van,s1,0,", "row 2", "capacity_kg"),
        # a weight that is not a number
        ("orders.csv", "o01,yto,down,v1,2.5,", "o01,yto,down,v1,heavy,", "row 1", "weight_kg"),
    ],
)
def test_validate_a_broken_bundle_exits_2_with_one_line(
    tiny_copy: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    old: str,
    new: str,
    row: str,
    field: str,
) -> None:
    path = tiny_copy / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    assert main(["scenario", "validate", str(tiny_copy)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"error: {file}, {row} ")
    assert f"field '{field}'" in line


def test_validate_the_unbroken_copy_exits_0(
    tiny_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scenario", "validate", str(tiny_copy)]) == 0
    assert capsys.readouterr().out.startswith("ok: tiny: ")


def test_plan_reproduce_rebuilds_the_same_plan(
    tiny_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plan records its seed and work budget: ``--reproduce`` plans it again from the folder
    and finds the same plan; a plan that was changed afterwards is not reproduced (exit 1)."""
    out = tmp_path / "out"
    argv = ["plan", str(tiny_path), "--date", DATE, "--workers", "1", "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["plan", "--reproduce", str(out)]) == 0
    assert "reproduced: the same plan" in capsys.readouterr().out
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    doc["routes"] = doc["routes"][1:]
    (out / "plan.json").write_text(json.dumps(doc), encoding="utf-8")
    assert main(["plan", "--reproduce", str(out / "plan.json")]) == 1
    assert "not reproduced: routes" in capsys.readouterr().err


def test_plan_with_another_budget_than_the_policys_records_its_rounds_and_passes_and_reproduces(
    tiny_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--time-limit`` above the policy's (tiny: 1 s) runs improvement passes (a quarter of
    the policy's budget each), below it fewer rounds of the village runs; the plan says so,
    and ``--reproduce`` finds the same plan."""
    for limit, rounds, passes in (("1.5", "3", "2"), ("0.5", "2", "0")):
        out = tmp_path / f"out-{limit}"
        argv = ["plan", str(tiny_path), "--date", DATE, "--time-limit", limit, "--out", str(out)]
        assert main([*argv, "--workers", "1"]) == 0
        settings = json.loads((out / "plan.json").read_text(encoding="utf-8"))["settings"]
        assert settings["time_limit_s"] == limit
        assert (settings["rounds"], settings["passes"]) == (rounds, passes)
        assert int(settings["passes_kept"]) in range(int(passes) + 1)
        capsys.readouterr()
        assert main(["plan", "--reproduce", str(out)]) == 0
        assert "reproduced: the same plan" in capsys.readouterr().out


def test_a_pooled_plan_records_the_budget_it_was_given_and_reproduces(
    tiny_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With cross-boundary service the day is planned twice (tied and pooled), each with a
    share of the budget; the plan records the whole budget, so ``--reproduce`` plans it
    again the same way."""
    out = tmp_path / "out"
    argv = ["plan", str(tiny_path), "--date", DATE, "--set", "runs.cross_boundary=true"]
    assert main([*argv, "--workers", "1", "--out", str(out)]) == 0
    settings = json.loads((out / "plan.json").read_text(encoding="utf-8"))["settings"]
    assert settings["time_limit_s"] == "1.0"  # tiny's policy
    assert settings["cross_boundary"] in ("tied", "pooled")
    capsys.readouterr()
    assert main(["plan", "--reproduce", str(out)]) == 0
    assert "reproduced: the same plan" in capsys.readouterr().out
