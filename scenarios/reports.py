"""Planner reports: markdown with pictures, and the JSON beside them.

- :func:`write_placement_report` — ``placement.md``, ``placement.json``,
  ``coverage_curve.png`` (coverage versus the number of new sites) and ``placement_map.png``
  (villages, poor villages, chosen sites with their coverage circles);
- :func:`write_simulation_report` — ``simulation.md``, ``simulation.json``,
  ``kpi_distributions.png`` (each KPI across days, baseline beside change) and
  ``kpi_by_day.png`` (cost and deferred parcels day by day).

Pictures are drawn with matplotlib's Agg backend (no display needed). Coverage circles are
drawn as the crow flies for orientation; coverage itself is measured on roads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from networks import Network, SiteKind

if TYPE_CHECKING:
    from scenarios.placement import PlacementResult
    from scenarios.whatif import KpiComparison, SimulationResult, Spread

__all__ = [
    "comparison_table",
    "placement_summary",
    "write_placement_report",
    "write_simulation_report",
]

_BASE_COLOUR = "#7f8c8d"
_CHANGE_COLOUR = "#d35400"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ------------------------------------------------------------------------------ placement
def placement_summary(result: PlacementResult, network: Network | None = None) -> str:
    """Plain-text lines for the terminal: the answer in a few lines."""
    s = result.solution
    p = result.params
    names = {x.id: x.name for x in network.sites} if network is not None else {}
    lines = [
        f"{s.model} ({p.level}s) within {p.radius_m / 1000:g} km by road: {s.status}",
        f"  new sites: {len(s.opened)}"
        + (f" (+ {len(s.kept)} existing kept)" if s.kept else "")
        + f", set-up cost {s.setup_cost:,.0f} yuan",
        f"  villages covered: {s.villages_covered}/{s.villages} ({s.village_coverage:.1%}), "
        f"population {s.population_coverage:.1%}, "
        f"poor villages {s.poor_covered}/{s.poor}"
        + (" (all)" if s.all_poor_covered else f" — uncovered: {', '.join(s.uncovered_poor)}"),
        f"  mean road distance to the nearest site {s.mean_distance_m / 1000:.2f} km, "
        f"max {s.max_distance_m / 1000:.2f} km",
    ]
    for issue in s.infeasible:
        lines.append(
            f"  infeasible ({issue.reason}): {issue.detail}: {', '.join(issue.villages[:12])}"
            + (" …" if len(issue.villages) > 12 else "")
        )
    if s.opened:
        shown = [f"{c} {names.get(c, '')}".strip() for c in s.opened]
        lines.append("  chosen: " + ", ".join(shown))
    e = result.existing
    lines.append(
        f"  today's {len(e.kept)} {p.level}s cover {e.village_coverage:.1%} of villages "
        f"and {e.poor_covered}/{e.poor} poor villages within the same distance"
    )
    return "\n".join(lines)


def _metres(network: Network, xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
    e, n = network.projection.to_metres(
        np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    )
    return np.column_stack([e, n]) / 1000.0


def _draw_curve(result: PlacementResult, path: Path) -> None:
    plt = _pyplot()
    p = result.params
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    xs = [c.points for c in result.curve]
    ax.plot(
        xs,
        [c.coverage_any for c in result.curve],
        "--",
        color=_BASE_COLOUR,
        label="best coverage (poor villages not required)",
    )
    feas = [c for c in result.curve if c.poor_feasible]
    key = "population_coverage" if p.coverage_of == "population" else "village_coverage"
    ax.plot(
        [c.points for c in feas],
        [getattr(c, key) for c in feas],
        "o-",
        color=_CHANGE_COLOUR,
        label="best coverage, every poor village covered",
    )
    ax.axhline(p.min_coverage, color="black", lw=0.8, ls=":")
    ax.text(0, p.min_coverage + 0.01, f"target {p.min_coverage:.0%}", fontsize=8)
    s = result.solution
    if s.opened:
        ax.axvline(len(s.opened), color=_CHANGE_COLOUR, lw=0.8, ls=":")
    ax.set_xlabel(f"new {p.level}s")
    ax.set_ylabel(f"share of {p.coverage_of} within {p.radius_m / 1000:g} km by road")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"{result.scenario}: coverage versus number of {p.level}s")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _draw_map(result: PlacementResult, network: Network, path: Path) -> None:
    plt = _pyplot()
    s = result.solution
    p = result.params
    fig, ax = plt.subplots(figsize=(8, 8), dpi=120)
    if network.boundary:
        ring = _metres(network, [c[0] for c in network.boundary], [c[1] for c in network.boundary])
        ax.plot(ring[:, 0], ring[:, 1], color="black", lw=0.8)
    for r in network.roads:
        xy = _metres(network, [c[0] for c in r.coords], [c[1] for c in r.coords])
        ax.plot(xy[:, 0], xy[:, 1], color="#dddddd", lw=0.5, zorder=0)
    covered = {v for v, _, d in s.nearest if d <= p.radius_m}
    villages = network.of_kind(SiteKind.VILLAGE_POINT, SiteKind.VILLAGE)
    vxy = _metres(network, [v.x for v in villages], [v.y for v in villages])
    ok = np.array([v.id in covered for v in villages], dtype=bool)
    poor = np.array([v.poor for v in villages], dtype=bool)
    ax.scatter(vxy[ok, 0], vxy[ok, 1], s=10, color="#27ae60", label="village covered", zorder=3)
    ax.scatter(vxy[~ok, 0], vxy[~ok, 1], s=10, color="#95a5a6", label="village not covered")
    ax.scatter(
        vxy[poor, 0],
        vxy[poor, 1],
        s=45,
        facecolors="none",
        edgecolors="#c0392b",
        lw=1.2,
        label="poor village",
        zorder=4,
    )
    chosen = [network.site(c) for c in (*s.opened, *s.kept)]
    if chosen:
        cxy = _metres(network, [c.x for c in chosen], [c.y for c in chosen])
        new = np.array([c.id in set(s.opened) for c in chosen], dtype=bool)
        for (x, y), is_new in zip(cxy, new, strict=True):
            ax.add_patch(
                plt.Circle(
                    (x, y),
                    p.radius_m / 1000,
                    color=_CHANGE_COLOUR if is_new else _BASE_COLOUR,
                    alpha=0.08,
                    zorder=1,
                )
            )
        ax.scatter(
            cxy[new, 0],
            cxy[new, 1],
            marker="*",
            s=120,
            color=_CHANGE_COLOUR,
            label=f"new {p.level}",
            zorder=5,
        )
        if (~new).any():
            ax.scatter(
                cxy[~new, 0],
                cxy[~new, 1],
                marker="*",
                s=60,
                color=_BASE_COLOUR,
                label=f"existing {p.level} kept",
                zorder=5,
            )
    others = network.of_kind(SiteKind.HUB, SiteKind.STATION)
    oxy = _metres(network, [o.x for o in others], [o.y for o in others])
    hub = np.array([o.kind is SiteKind.HUB for o in others], dtype=bool)
    ax.scatter(oxy[~hub, 0], oxy[~hub, 1], marker="s", s=30, color="#2c3e50", label="station")
    ax.scatter(oxy[hub, 0], oxy[hub, 1], marker="^", s=80, color="#2c3e50", label="hub")
    ax.set_aspect("equal")
    ax.set_xlabel("km east")
    ax.set_ylabel("km north")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(
        f"{result.scenario}: {len(s.opened)} new {p.level}s, "
        f"{s.village_coverage:.0%} of villages within {p.radius_m / 1000:g} km by road\n"
        "(circles: the radius as the crow flies)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_placement_report(
    result: PlacementResult, network: Network, out: str | os.PathLike[str]
) -> list[Path]:
    """Write ``placement.md``, ``placement.json`` and the pictures into ``out``."""
    from scenarios.placement import write_placement_json

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = [write_placement_json(result, folder / "placement.json")]
    pictures = []
    if result.curve:
        _draw_curve(result, folder / "coverage_curve.png")
        pictures.append("coverage_curve.png")
    _draw_map(result, network, folder / "placement_map.png")
    pictures.append("placement_map.png")
    s, p, e = result.solution, result.params, result.existing
    names = {x.id: x for x in network.sites}
    within: dict[str, int] = {}
    for _, site, d in s.nearest:
        if d <= p.radius_m:
            within[site] = within.get(site, 0) + 1
    md = [
        f"# Placement of {p.level}s: {result.scenario}",
        "",
        f"Model **{s.model}**, radius **{p.radius_m / 1000:g} km by road** ({result.vehicle_class} "
        f"roads, shorter direction), target **{p.min_coverage:.0%} of {p.coverage_of}** and "
        + ("every poor village" if p.poor_must_be_covered else "no poor-village rule")
        + f"; existing {p.level}s {'kept at no cost' if p.keep_existing else 'not kept (greenfield)'}; "
        f"set-up cost {p.point_cost if p.level == 'point' else p.station_cost:,.0f} yuan per site "
        f"unless the bundle says otherwise. {result.candidates} candidate sites. Status: **{s.status}** "
        f"({s.wall_s:.2f} s).",
        "",
        "| | this answer | today's sites |",
        "|---|---:|---:|",
        f"| sites | {len(s.opened)} new"
        + (f" + {len(s.kept)} kept" if s.kept else "")
        + f" | {len(e.kept)} |",
        f"| set-up cost (yuan) | {s.setup_cost:,.0f} | — |",
        f"| villages within {p.radius_m / 1000:g} km | {s.villages_covered}/{s.villages} ({s.village_coverage:.1%}) "
        f"| {e.villages_covered}/{e.villages} ({e.village_coverage:.1%}) |",
        f"| population within | {s.population_coverage:.1%} | {e.population_coverage:.1%} |",
        f"| poor villages within | {s.poor_covered}/{s.poor} | {e.poor_covered}/{e.poor} |",
        f"| mean / max road distance to nearest site (km) | {s.mean_distance_m / 1000:.2f} / "
        f"{s.max_distance_m / 1000:.2f} | {e.mean_distance_m / 1000:.2f} / {e.max_distance_m / 1000:.2f} |",
        "",
    ]
    if s.infeasible:
        md += ["## Infeasible target", ""]
        for issue in s.infeasible:
            md.append(
                f"- **{issue.reason}**: {issue.detail}. Villages: {', '.join(issue.villages)}"
            )
        md += ["", "The sites below are the best answer to the relaxed target.", ""]
    if s.opened:
        md += ["## Chosen sites", "", "| site | name | villages within radius | set-up cost |"]
        md.append("|---|---|---:|---:|")
        for sid, cost in zip(s.opened, s.opened_costs, strict=True):
            found = names.get(sid)
            md.append(
                f"| {sid} | {found.name if found else ''} | {within.get(sid, 0)} | {cost:,.0f} |"
            )
        md.append("")
    for pic in pictures:
        md += [f"![{pic}]({pic})", ""]
    if result.curve:
        md += [
            "## Coverage versus number of sites",
            "",
            "| new sites | coverage (poor covered) | coverage (any) | every poor village coverable |",
        ]
        md.append("|---:|---:|---:|---|")
        for pt in result.curve:
            cov = pt.population_coverage if p.coverage_of == "population" else pt.village_coverage
            md.append(
                f"| {pt.points} | {cov:.1%} | {pt.coverage_any:.1%} | {'yes' if pt.poor_feasible else 'no'} |"
            )
        md.append("")
    if result.simulation is not None:
        md += [
            "## Judged by routing simulation",
            "",
            comparison_table(result.simulation),
            "",
        ]
    (folder / "placement.md").write_text("\n".join(md), encoding="utf-8")
    files.append(folder / "placement.md")
    files += [folder / pic for pic in pictures]
    return files


# ------------------------------------------------------------------------------ simulation
def _fmt(value: float, unit: str) -> str:
    if unit == "share":
        return f"{value:.1%}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _spread(s: Spread, unit: str) -> str:
    return f"{_fmt(s.mean, unit)} ± {_fmt(s.std, unit)} [{_fmt(s.p10, unit)}–{_fmt(s.p90, unit)}]"


def _diff(c: KpiComparison) -> str:
    d = c.difference
    rel = f" ({c.relative:+.1%})" if c.relative is not None and c.unit != "share" else ""
    sign = "+" if d.mean >= 0 else ""
    return (
        f"{sign}{_fmt(d.mean, c.unit)}{rel} ± {_fmt(d.std, c.unit)} "
        f"[{_fmt(d.p10, c.unit)}, {_fmt(d.p90, c.unit)}]"
    )


def comparison_table(result: SimulationResult) -> str:
    """The markdown table of every KPI: baseline, change, paired difference (mean ± std
    [p10–p90] across days)."""
    rows = [
        f"| KPI | {result.baseline.name} | {result.change.name} | difference (paired by day) |",
        "|---|---:|---:|---:|",
    ]
    for c in result.comparison():
        unit = f" ({c.unit})" if c.unit and c.unit != "share" else ""
        rows.append(
            f"| {c.label}{unit} | {_spread(c.base, c.unit)} | {_spread(c.change, c.unit)} | {_diff(c)} |"
        )
    return "\n".join(rows)


_PANELS = (
    "cost",
    "km",
    "vehicle_hours",
    "cost_per_parcel",
    "village_coverage",
    "poor_village_coverage",
    "deferred_parcels",
    "days_hub_to_village",
)


def _draw_distributions(result: SimulationResult, path: Path) -> None:
    from scenarios.whatif import KPIS

    plt = _pyplot()
    labels = {k: (label, unit) for k, label, unit in KPIS}
    fig, axes = plt.subplots(2, 4, figsize=(13, 6), dpi=110)
    for ax, key in zip(axes.flat, _PANELS, strict=True):
        a = [float(getattr(d, key)) for d in result.base_days]
        b = [float(getattr(d, key)) for d in result.change_days]
        box = ax.boxplot([a, b], widths=0.5, patch_artist=True, showfliers=False)
        for patch, colour in zip(box["boxes"], (_BASE_COLOUR, _CHANGE_COLOUR), strict=True):
            patch.set_facecolor(colour)
            patch.set_alpha(0.35)
        rng = np.random.default_rng(0)
        for k, (vals, colour) in enumerate(((a, _BASE_COLOUR), (b, _CHANGE_COLOUR)), start=1):
            ax.scatter(k + rng.uniform(-0.12, 0.12, len(vals)), vals, s=8, color=colour, zorder=3)
        ax.set_xticks([1, 2], [result.baseline.name, result.change.name], fontsize=7)
        label, unit = labels[key]
        ax.set_title(label + (f" ({unit})" if unit and unit != "share" else ""), fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(
        f"{result.scenario}: {len(result.base_days)} demand days, {result.baseline.name} vs {result.change.name}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _draw_by_day(result: SimulationResult, path: Path) -> None:
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 5), dpi=110, sharex=True)
    days = np.arange(1, len(result.base_days) + 1)
    for ax, key, title in (
        (ax1, "cost", "cost per day (yuan)"),
        (ax2, "deferred_parcels", "deferred parcels"),
    ):
        for series, colour, name in (
            (result.base_days, _BASE_COLOUR, result.baseline.name),
            (result.change_days, _CHANGE_COLOUR, result.change.name),
        ):
            ax.plot(days, [getattr(d, key) for d in series], "o-", ms=3, color=colour, label=name)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.set_xlabel("simulated day")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_simulation_report(result: SimulationResult, out: str | os.PathLike[str]) -> list[Path]:
    """Write ``simulation.md``, ``simulation.json`` and the pictures into ``out``."""
    from scenarios.whatif import write_simulation_json

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = [write_simulation_json(result, folder / "simulation.json")]
    _draw_distributions(result, folder / "kpi_distributions.png")
    _draw_by_day(result, folder / "kpi_by_day.png")
    st = result.settings
    dates = st.dates
    planning = (
        f"every tier search stopped after {st.solutions} solutions (deterministic)"
        if st.solutions
        else f"a {st.time_limit_s:g} s search budget per day"
    )
    md = [
        f"# What-if: {result.change.name} on {result.scenario}",
        "",
        result.change.description or "",
        "",
        f"{len(dates)} demand days ({dates[0]} … {dates[-1]}, demand seed {st.seed}), the same days "
        f"for both sides; each day planned by the daily planner with {planning}. "
        f"Backend {result.backend} ({result.workers} workers), {result.wall_s:.0f} s in all, "
        f"{result.seconds_per_day:.2f} s per simulated day (both sides).",
        "",
        "Each cell: mean ± standard deviation across days [10th–90th percentile]; the difference "
        "is taken day by day (change − baseline on the same demand), then summarised.",
        "",
        comparison_table(result),
        "",
        "![kpi_distributions.png](kpi_distributions.png)",
        "",
        "![kpi_by_day.png](kpi_by_day.png)",
        "",
    ]
    (folder / "simulation.md").write_text("\n".join(md), encoding="utf-8")
    files += [
        folder / "simulation.md",
        folder / "kpi_distributions.png",
        folder / "kpi_by_day.png",
    ]
    return files
