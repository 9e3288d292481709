"""The command line misused: every input error exits 2 with one line on stderr that names the
argument or the file at fault, and never a traceback (exit 1 stays "the checker found
violations"). Nothing here searches: each case fails before planning starts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch_api.cli import build_parser, main

DATE = "2026-12-01"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``countyroute ARGV`` in-process: the exit code and stderr (argparse exits by SystemExit)."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def planned(tiny_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plan folder of the tiny day (1 s search), for the ``replan`` and ``check`` cases."""
    out = tmp_path_factory.mktemp("planned")
    argv = ["plan", str(tiny_path), "--date", DATE, "--time-limit", "1", "--workers", "1"]
    assert main([*argv, "--out", str(out)]) in (0, 1)
    return out


def events(tmp_path: Path, doc: object) -> str:
    path = tmp_path / "events.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


T = "{tiny}"  # replaced by the tiny bundle's folder
MISUSE: list[tuple[list[str], str]] = [
    # (argv, text the one line must contain)
    (["plan", T, "--date", "2026-13-01"], "--date"),  # month 13
    (["plan", T, "--date", "yesterday"], "--date"),  # not a date at all
    (["savings", T, "--date", "2026-02-30"], "--date"),  # no such day
    (["demand", T, "--date", "12/01/2026", "--out", "x.csv"], "--date"),  # US order
    (["simulate", T, "--change", "c.toml", "--start", "soon"], "--start"),  # bad first day
    (["plan", T, "--time-limit", "0"], "--time-limit"),  # used to become 3 s silently
    (["plan", T, "--time-limit", "-5"], "--time-limit"),  # negative
    (["plan", T, "--time-limit", "100000"], "--time-limit"),  # 28 hours: a typo
    (["plan", T, "--time-limit", "3s"], "--time-limit"),  # a unit glued on
    (["simulate", T, "--change", "c.toml", "--time-limit", "nan"], "--time-limit"),  # NaN
    (["plan", T, "--workers", "0"], "--workers"),  # nobody to search
    (["simulate", T, "--change", "c.toml", "--days", "0"], "--days"),  # nothing to simulate
    (["plan", T, "--lang", "fr"], "'en', 'zh'"),  # an enum error lists the valid values
    (["plan", T, "--pin", "v1"], "--pin"),  # no vehicle
    (["plan", T, "--pin", "v99=van1"], "'v99' is not a village point"),  # unknown village
    (["plan", T, "--pin", "s1=van1"], "'s1' is not a village point"),  # a station
    (["plan", T, "--pin", "v1=van9"], "no vehicle 'van9'"),  # unknown vehicle
    (["plan", T, "--pin", "v1=truck1"], "not a station's vehicle"),  # a trunk truck
    (["plan", T, "--set", "runs.reloads=maybe"], "reloads"),  # not a boolean
    (["plan", T, "--set", "runs.max_trips=0"], "max_trips"),  # breaks a policy rule
    (["plan", T, "--set", "runs.nope=1"], "runs.nope"),  # unknown key
    (["savings", T, "--set", "speed.max=1"], "speed.max"),  # unknown section
    (["simulate", T, "--change", "c.toml", "--set", "reloads"], "--set"),  # no SECTION.KEY=
    (["plan", "no-such-county"], "no-such-county"),  # unknown scenario
    (["plan", T, "--orders", "missing.csv"], "missing.csv"),  # orders file not there
    (["check", "no-such-folder"], "no-such-folder"),  # nothing to check
    (["place", T, "--min-coverage", "1.5"], "--min-coverage"),  # a share above 1
    (["place", T, "--clean-slate", "--keep-existing"], "--clean-slate"),  # contradiction
    (["bench", "fast"], "'quality', 'speed'"),  # unknown suite lists the suites
    (["frobnicate"], "frobnicate"),  # unknown command
]


@pytest.mark.parametrize(("argv", "needle"), MISUSE, ids=[" ".join(a) for a, _ in MISUSE])
def test_misuse_exits_2_with_one_line(
    argv: list[str], needle: str, tiny_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(tiny_path) if a == T else a for a in argv]
    code, err = run(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("error:")
    assert needle in lines[0]
    assert "Traceback" not in err


REPLAN_MISUSE: list[tuple[object, str]] = [
    ({"at": "25:00", "events": []}, "'at'"),  # past the end of the day
    ({"at": "11:61", "events": []}, "'at'"),  # no such minute
    ({"at": "11:00", "events": [{"type": "vehicle_down", "vehicle": "van9"}]}, "van9"),
    ({"at": "11:00", "events": [{"type": "road_closed", "road": "r999"}]}, "r999"),
    ({"at": "11:00", "events": [{"type": "meteor"}]}, "event 0"),  # unknown event type
    ({"at": "11:00"}, "events"),  # no events list
    ([1, 2], "events.json"),  # not an object
]


@pytest.mark.parametrize(("doc", "needle"), REPLAN_MISUSE, ids=[n for _, n in REPLAN_MISUSE])
def test_replan_misuse_exits_2_with_one_line(
    doc: object, needle: str, planned: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(["replan", str(planned), events(tmp_path, doc)], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err


def test_an_unknown_terrain_lists_the_valid_values(
    tiny_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tiny_copy / "network.geojson"
    path.write_text(path.read_text(encoding="utf-8").replace('"hills"', '"mountain"', 1))
    code, err = run(["scenario", "validate", str(tiny_copy)], capsys)
    assert code == 2
    assert "'mountain'" in err and "plain" in err and "hills" in err, err


def test_set_overrides_the_policy_for_one_run(
    tiny_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--set runs.reloads=false --set runs.max_trips=1`` plans with single-trip runs."""
    argv = ["plan", str(tiny_path), "--date", DATE, "--solution-limit", "20", "--workers", "1"]
    argv += ["--set", "runs.reloads=false", "--set", "runs.max_trips=1", "--out", str(tmp_path)]
    assert main(argv) in (0, 1)
    plan = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert all(s["kind"] != "reload" for r in plan["routes"] for s in r["stops"])


def test_bench_speed_help_is_our_own(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dispatch_api.cli", "bench", "speed", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("usage: countyroute bench speed")
    assert "pytest" in out and "--benchmark" not in out


def test_every_option_has_help_with_an_example() -> None:
    """Every option but the boolean switches and --help shows help text; value options show
    an example, a default or their choices."""

    def walk(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
        found: list[tuple[str, argparse.Action]] = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found += [(f"{name} {o}", a) for o, a in walk(child)]
            elif action.option_strings and not isinstance(action, argparse._HelpAction):
                found.append((action.option_strings[-1], action))
        return found

    missing = []
    for name, action in walk(build_parser()):
        text = action.help or ""
        example = "e.g." in text or "default" in text or action.choices is not None
        if not text or (action.nargs != 0 and not example):
            missing.append(name)
    assert not missing, missing


def test_a_console_run_of_a_misuse_prints_no_traceback(tiny_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dispatch_api.cli", "plan", str(tiny_path), "--time-limit", "0"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('[policy]\nreloads = "maybe"\n', "'reloads'"),  # bool("maybe") used to be True
        ("[policy]\nmax_trips = 2.5\n", "'max_trips'"),  # half a trip
        ('[[fleet.add]]\nhome = "s1"\nclass = "lorry"\n', "classes: tricycle, truck, van"),
    ],
)
def test_a_bad_change_file_exits_2_naming_the_field(
    toml: str, needle: str, tiny_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change = tmp_path / "change.toml"
    change.write_text(f'schema_version = 1\nname = "bad"\n{toml}', encoding="utf-8")
    argv = ["simulate", str(tiny_path), "--change", str(change), "--days", "1", "--workers", "1"]
    code, err = run(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0], err
