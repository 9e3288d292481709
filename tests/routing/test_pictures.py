"""routing.present.outputs pictures: colours grouped by station (one hue per station, a shade per
vehicle, trucks dark and apart), and the map, timeline and road-id pictures written in both
languages. Pictures are looked at by people; here we check what can be checked by code."""

from __future__ import annotations

import colorsys
from pathlib import Path

import pytest

from routing import DayInput, plan_day
from routing.plan import Plan, PlanStatus, Route, Tier
from routing.present.outputs import vehicle_colours, write_plan_outputs
from scenarios.bundle import Scenario

PNG = b"\x89PNG\r\n\x1a\n"


def hls(colour: str) -> tuple[float, float, float]:
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return colorsys.rgb_to_hls(r, g, b)


def route(vehicle: str, home: str, tier: Tier = Tier.LAST_MILE) -> Route:
    return Route(vehicle, "van", tier, "down-1", home, (), 0, 0.0)


def test_colours_are_grouped_by_station() -> None:
    plan = Plan(
        "s",
        "v1",
        "2026-12-01",
        PlanStatus.COMPLETE,
        (
            route("truck-1", "hub", Tier.TRUNK_DOWN),
            route("truck-2", "hub", Tier.TRUNK_DOWN),
            route("van-a1", "st-a"),
            route("van-b1", "st-b"),
            route("van-a2", "st-a"),
            route("van-b2", "st-b"),
            route("van-a3", "st-a"),
        ),
        (),
    )
    colours = vehicle_colours(plan)
    assert len(set(colours.values())) == len(colours)  # every vehicle its own colour
    hue = {v: round(hls(c)[0], 2) for v, c in colours.items()}
    assert hue["van-a1"] == hue["van-a2"] == hue["van-a3"]  # one station, one hue family
    assert hue["van-b1"] == hue["van-b2"] != hue["van-a1"]
    assert all(hls(colours[t])[1] < 0.35 for t in ("truck-1", "truck-2"))  # trucks dark
    assert abs(hue["truck-1"] - hue["truck-2"]) > 0.2


@pytest.fixture(scope="module")
def day(tiny: Scenario) -> DayInput:
    return DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")


@pytest.fixture(scope="module")
def plan(day: DayInput) -> Plan:
    return plan_day(day, time_limit_s=1, work=20, workers=1)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_pictures_are_written_in_each_language(
    plan: Plan, day: DayInput, tmp_path: Path, lang: str
) -> None:
    files = write_plan_outputs(plan, day, tmp_path, lang=lang)
    for name in ("map.png", "timeline.png", "roads.png"):
        assert files[name].read_bytes().startswith(PNG), name


def test_summary_is_in_chinese_under_zh(plan: Plan, day: DayInput, tmp_path: Path) -> None:
    text = write_plan_outputs(plan, day, tmp_path, lang="zh")["summary.md"].read_text("utf-8")
    assert text.startswith("# 计划汇总")
    for heading in ("## 合计", "## 用车", "## 线路"):
        assert heading in text
    assert "| measure |" not in text and "village runs" not in text
