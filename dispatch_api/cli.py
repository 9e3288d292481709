"""The ``countyroute`` command line.

Errors in input end the command with exit code 2 and one line naming the file, the row or
feature and the field; a plan that fails the checker exits with 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from networks import CountyrouteError, SiteKind
from networks.roads import road_graph

if TYPE_CHECKING:
    from routing.plan import Plan
    from scenarios.bundle import Scenario

__all__ = ["main"]

EXIT_OK, EXIT_VIOLATIONS, EXIT_INPUT = 0, 1, 2


def _scenario_list(_: argparse.Namespace) -> int:
    from scenarios.bundle import BUILTIN_DIR, builtin_names

    for name in builtin_names():
        print(f"{name}\t{BUILTIN_DIR / name}")
    return EXIT_OK


def _scenario_show(args: argparse.Namespace) -> int:
    from scenarios.bundle import load_bundle

    sc = load_bundle(args.scenario)
    net = sc.network
    kinds = Counter(s.kind for s in net.sites)
    graph = road_graph(net.roads, net.projection)
    classes = Counter(v.vehicle_class for v in sc.fleet)
    rows = [
        ("scenario", sc.name),
        ("crs", net.crs.value),
        ("hubs", kinds[SiteKind.HUB]),
        ("stations", kinds[SiteKind.STATION]),
        ("village points", kinds[SiteKind.VILLAGE_POINT]),
        ("administrative villages", kinds[SiteKind.VILLAGE_POINT] + kinds[SiteKind.VILLAGE]),
        ("poor villages", sum(1 for s in net.sites if s.poor)),
        ("bulk shippers", kinds[SiteKind.BULK_SHIPPER]),
        ("candidate sites", kinds[SiteKind.CANDIDATE]),
        (
            "vehicles",
            f"{len(sc.fleet)} ({', '.join(f'{n} {c}' for c, n in sorted(classes.items()))})",
        ),
        ("road nodes", graph.number_of_nodes()),
        ("road edges", graph.number_of_edges()),
        ("orders", len(sc.orders)),
        ("network version", net.version),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return EXIT_OK


def _scenario_validate(args: argparse.Namespace) -> int:
    from scenarios.bundle import load_bundle

    sc = load_bundle(args.scenario, orders=args.orders)
    print(
        f"ok: {sc.name}: {len(sc.network.sites)} sites, {len(sc.network.roads)} roads, "
        f"{len(sc.fleet)} vehicles, {len(sc.orders)} orders"
    )
    return EXIT_OK


def _scenario_export(args: argparse.Namespace) -> int:
    from scenarios.bundle import load_bundle, save_bundle

    sc = load_bundle(args.scenario)
    out = save_bundle(sc, args.out)
    print(f"wrote {out}")
    return EXIT_OK


def _demand(args: argparse.Namespace) -> int:
    from scenarios.bundle import load_bundle, orders_to_csv
    from scenarios.demand import generate_demand

    sc = load_bundle(args.scenario)
    orders = generate_demand(sc, args.date, args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(orders_to_csv(orders), encoding="utf-8")
    down = sum(o.parcels for o in orders if o.direction.value == "down")
    up = sum(o.parcels for o in orders if o.direction.value == "up")
    print(f"wrote {args.out}: {len(orders)} orders, {down} parcels down, {up} up")
    return EXIT_OK


def _pins(sc: Scenario, texts: Sequence[str]) -> dict[str, str]:
    """``--pin VILLAGE=VEHICLE`` values checked as the API checks them: a village point of
    the network and a vehicle of a station (village runs leave from stations)."""
    vehicles = {v.id: v for v in sc.fleet}
    stations = {s.id for s in sc.network.stations}
    pins: dict[str, str] = {}
    for text in texts:
        village, _, vehicle = (part.strip() for part in text.partition("="))
        if not village or not vehicle:
            raise CountyrouteError(f"--pin {text!r}: expected VILLAGE=VEHICLE")
        if (
            village not in sc.network.index
            or sc.network.site(village).kind is not SiteKind.VILLAGE_POINT
        ):
            raise CountyrouteError(
                f"--pin {text!r}: {village!r} is not a village point of {sc.name}"
            )
        if vehicle not in vehicles:
            raise CountyrouteError(f"--pin {text!r}: {sc.name} has no vehicle {vehicle!r}")
        if vehicles[vehicle].home not in stations:
            raise CountyrouteError(
                f"--pin {text!r}: {vehicle!r} is not a station's vehicle "
                "(village runs leave from stations)"
            )
        pins[village] = vehicle
    return pins


def _plan(args: argparse.Namespace) -> int:
    from routing import DayInput, plan_day
    from routing.check import check_plan
    from routing.present import summary_text, write_plan_outputs
    from scenarios.bundle import load_bundle, orders_to_csv, override_policy

    if args.reproduce:
        return _reproduce(args)
    if not args.scenario:
        raise CountyrouteError(
            "plan: name a scenario (e.g. countyroute plan yanshi) or --reproduce"
        )
    sc = load_bundle(args.scenario, orders=args.orders)
    date = args.date or sc.date or dt.date.today().isoformat()
    orders = sc.orders
    source = "bundle"
    if args.orders:
        source = str(args.orders)
    elif not orders:
        from scenarios.demand import generate_demand

        orders = generate_demand(sc, date, args.seed)
        source = f"generated (seed {args.seed})"
    policy = override_policy(sc.policy, args.set or ())
    pins = _pins(sc, args.pin or ())
    previous = _plan_folder(args.previous)[0] if args.previous else None
    day = DayInput(sc.name, sc.network, sc.fleet, policy, orders, date)
    print(f"planning {sc.name} for {date}: {len(orders)} orders ({source}) ...", flush=True)
    plan = plan_day(
        day,
        time_limit_s=args.time_limit,
        workers=args.workers,
        work=args.solution_limit,
        previous=previous,
        pins=pins,
        progress=lambda line: print(f"  {line}", flush=True),
    )
    out = Path(args.out or f"out/{sc.name}-{date}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "orders.csv").write_text(orders_to_csv(orders), encoding="utf-8")
    meta = {
        "scenario": str(args.scenario),
        "date": date,
        # what --reproduce needs besides the plan's own settings and orders.csv
        "set": list(args.set or ()),
        "pins": pins,
        "previous": str(Path(args.previous).resolve()) if args.previous else None,
    }
    (out / "scenario.json").write_text(
        json.dumps(meta, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    files = write_plan_outputs(plan, day, out, lang=args.lang, pictures=args.outputs == "all")
    if args.pdf:
        from routing.present.documents import write_pdf_documents

        for path in write_pdf_documents(plan, day, out / "pdf", lang=args.lang):
            files[f"pdf/{path.name}"] = path
    report = check_plan(plan, sc.network, sc.fleet, policy, orders)
    print(summary_text(plan, day))
    print(f"checker: {'ok' if report.ok else f'{len(report.violations)} violations'}")
    for v in report.violations[:20]:
        print(f"  {v}")
    print(f"wrote {len(files)} outputs to {out}/")
    return EXIT_OK if report.ok else EXIT_VIOLATIONS


def _reproduce(args: argparse.Namespace) -> int:
    """``plan --reproduce DIR``: the same inputs, seed and budget, planned again and compared
    with the recorded plan (everything but the time it took)."""
    from routing import DayInput, plan_day
    from routing.plan import plan_to_dict
    from scenarios.bundle import override_policy

    plan, sc, meta = _plan_folder(args.reproduce)
    settings = dict(plan.settings)
    try:
        policy = replace(
            override_policy(sc.policy, meta.get("set") or ()),
            seed=int(settings["seed"]),
            work_per_s=float(settings.get("work_per_s", 0.0)),
            wall_cap=float(settings.get("wall_cap", sc.policy.wall_cap)),
        )
        time_limit = float(settings["time_limit_s"])
        work = int(settings["work"]) if "work" in settings else None
    except (KeyError, ValueError) as exc:
        raise CountyrouteError(
            f"{args.reproduce}: the plan does not record its budget ({exc}); "
            "only plans written by this version can be reproduced"
        ) from None
    previous = _plan_folder(meta["previous"])[0] if meta.get("previous") else None
    day = DayInput(sc.name, sc.network, sc.fleet, policy, sc.orders, plan.date)
    print(f"planning {sc.name} for {plan.date} again ({settings.get('versions', '')}) ...")
    again = plan_day(
        day,
        time_limit_s=time_limit,
        workers=int(settings.get("workers", 1)),
        work=work,
        previous=previous,
        pins=dict(meta.get("pins") or {}),
    )
    a, b = plan_to_dict(plan), plan_to_dict(again)
    for doc in (a, b):
        doc.pop("solve_s", None)
        doc["settings"].pop("workers", None)  # the work does not depend on the workers
        doc["settings"].pop("wall_capped", None)  # about the run, not the plan
    if a == b:
        cost = sum(r.cost for r in again.routes)
        print(f"reproduced: the same plan ({len(again.routes)} routes, cost {cost:.2f} yuan)")
        return EXIT_OK
    differ = [k for k in a if a[k] != b.get(k)]
    capped = dict(again.settings).get("wall_capped", "0")
    print(
        f"not reproduced: {', '.join(differ)} differ"
        + (f" ({capped} searches stopped by the clock)" if capped != "0" else ""),
        file=sys.stderr,
    )
    return EXIT_VIOLATIONS


def _plan_folder(
    path_text: str, scenario: str | None = None, orders: str | None = None
) -> tuple[Plan, Scenario, dict[str, Any]]:
    """A plan written by ``plan`` or ``replan``, with the inputs it was made from
    (``scenario.json`` beside it names the bundle and the roads closed so far)."""
    from routing.plan import plan_from_dict
    from routing.repair import close_roads
    from scenarios.bundle import load_bundle

    path = Path(path_text)
    folder = path if path.is_dir() else path.parent
    plan_file = path / "plan.json" if path.is_dir() else path
    try:
        plan = plan_from_dict(json.loads(plan_file.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise CountyrouteError(f"{plan_file}: file not found") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CountyrouteError(f"{plan_file}: not a valid plan ({exc})") from None
    meta_file = folder / "scenario.json"
    meta: dict[str, Any] = {}
    if meta_file.is_file():
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    scenario = scenario or meta.get("scenario")
    if scenario is None:
        raise CountyrouteError(f"{plan_file}: say which scenario with --scenario")
    sc = load_bundle(scenario, orders=orders or (folder / "orders.csv"))
    sc = replace(sc, network=close_roads(sc.network, meta.get("closed_roads", [])))
    return plan, sc, meta


def _outputs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--outputs",
        choices=("essential", "all"),
        default="essential",
        help="essential (default): plan.json, summary.md, routes.geojson, manifests/, sheets/; "
        "all: also map.png, timeline.png and roads.png (slow to draw; or later with "
        "`countyroute render DIR`)",
    )


def _render(args: argparse.Namespace) -> int:
    """``render DIR``: every output of a plan folder, pictures included, from its plan.json
    and the inputs beside it (nothing is planned)."""
    from routing import DayInput
    from routing.present import write_plan_outputs
    from scenarios.bundle import override_policy

    plan, sc, meta = _plan_folder(args.plan)
    folder = Path(args.plan) if Path(args.plan).is_dir() else Path(args.plan).parent
    policy = override_policy(sc.policy, meta.get("set") or ())
    day = DayInput(sc.name, sc.network, sc.fleet, policy, sc.orders, plan.date)
    files = write_plan_outputs(plan, day, folder, lang=args.lang)
    if args.pdf:
        from routing.present.documents import write_pdf_documents

        for path in write_pdf_documents(plan, day, folder / "pdf", lang=args.lang):
            files[f"pdf/{path.name}"] = path
    print(f"wrote {len(files)} outputs to {folder}/")
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from networks import parse_clock
    from routing.check import check_plan
    from routing.repair import close_roads
    from scenarios.bundle import load_bundle

    plan, sc, meta = _plan_folder(args.plan, args.scenario, args.orders)
    if plan.network_version != sc.network.version:
        print(
            f"warning: plan made on network {plan.network_version}, checking on {sc.network.version}"
        )
    earlier = None
    if "repaired_at" in meta:
        # legs driven before the repair used the roads that were open then
        base = load_bundle(meta["scenario"], orders=None).network
        before = close_roads(base, meta.get("closed_before", []))
        earlier = (parse_clock(meta["repaired_at"]), before)
    report = check_plan(plan, sc.network, sc.fleet, sc.policy, sc.orders, earlier=earlier)
    for v in report.violations:
        print(v)
    verdict = "ok" if report.ok else f"{len(report.violations)} violations"
    print(
        f"{verdict}: {len(plan.routes)} routes, {report.distance_m / 1000:.1f} km, "
        f"{report.vehicle_hours:.1f} vehicle-hours, {report.cost:.2f} yuan (recomputed)"
    )
    return EXIT_OK if report.ok else EXIT_VIOLATIONS


def _plan_batch(args: argparse.Namespace) -> int:
    """``plan-batch``: every county of a region (or the bundles named) planned for a day on
    local processes or Ray, each plan checked; the logic is scenarios.batch's."""
    from scenarios.batch import (
        BatchSettings,
        counties_of,
        plan_batch,
        region_counties,
        summary_table,
    )
    from scenarios.scaleout import make_executor

    if bool(args.bundles) == bool(args.region):
        raise CountyrouteError("plan-batch: name bundles or --region (one of the two)")
    counties = region_counties(args.region) if args.region else counties_of(args.bundles)
    label = Path(args.region).name if args.region else "batch"
    out = Path(args.out or f"out/{label}-{args.date}")
    settings = BatchSettings(
        date=args.date,
        time_limit_s=args.time_limit,
        work=args.solution_limit,
        seed=args.seed,
        pictures=args.pictures,
        lang=args.lang,
        wall_cap=args.wall_cap,
    )

    def progress(done: int, total: int, c: Any) -> None:
        what = c.status if c.ok else f"FAILED: {c.error}"
        print(f"[{done}/{total}] {c.county} {what} {c.wall_s:.1f} s", file=sys.stderr, flush=True)

    with make_executor(args.workers, args.ray) as ex:
        print(
            f"planning {len(counties)} counties for {args.date} on {ex.name} "
            f"({ex.workers} workers) into {out}/",
            flush=True,
        )
        batch = plan_batch(
            counties, settings, out, executor=ex, resume=not args.fresh, progress=progress
        )
    print(summary_table(batch))
    print(f"wrote {out}/region-summary.json")
    return EXIT_VIOLATIONS if batch.failed else EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from dispatch_api.server import serve

    serve(
        host=args.host,
        port=args.port,
        database_url=args.database_url,
        workers=args.workers,
        processes=args.processes,
    )
    return EXIT_OK


def _apikey_create(args: argparse.Namespace) -> int:
    from dispatch_api.server import create_api_key

    print(create_api_key(args.name, args.role, args.database_url, args.network, args.courier))
    return EXIT_OK


def _replan(args: argparse.Namespace) -> int:
    from networks import format_clock
    from routing import DayInput
    from routing.changes import plan_changes
    from routing.check import check_plan
    from routing.present import summary_text, write_plan_outputs
    from routing.repair import RoadClosed, load_events, replan
    from scenarios.bundle import orders_to_csv

    plan, sc, meta = _plan_folder(args.plan)
    at_s, events = load_events(args.events)
    if at_s >= 24 * 3600:
        raise CountyrouteError(
            f"{Path(args.events).name}, field 'at': {format_clock(at_s)} is not a time of the "
            "plan's day (00:00 to 23:59)"
        )
    vehicles = {v.id for v in sc.fleet}
    for n, event in enumerate(events):
        named = getattr(event, "vehicle", None)
        if named is not None and named not in vehicles:
            raise CountyrouteError(
                f"{Path(args.events).name}, event {n}, field 'vehicle': {sc.name} has no "
                f"vehicle {named!r}"
            )
        road = getattr(event, "road", None)
        if road is not None and road not in {r.id for r in sc.network.roads}:
            raise CountyrouteError(
                f"{Path(args.events).name}, event {n}, field 'road': {sc.name} has no road {road!r}"
            )
    day = DayInput(sc.name, sc.network, sc.fleet, sc.policy, sc.orders, plan.date)
    print(f"repairing {sc.name} {plan.date} at {format_clock(at_s)}: {len(events)} events ...")
    new, new_day = replan(
        plan, day, events, at_s=at_s, time_limit_s=args.time_limit, workers=args.workers
    )
    folder = Path(args.plan) if Path(args.plan).is_dir() else Path(args.plan).parent
    out = Path(args.out or f"{folder}-repair-{format_clock(at_s).replace(':', '')}")
    out.mkdir(parents=True, exist_ok=True)
    closed_before = list(meta.get("closed_roads", []))
    closed_now = closed_before + [e.road for e in events if isinstance(e, RoadClosed)]
    (out / "orders.csv").write_text(orders_to_csv(new_day.orders), encoding="utf-8")
    (out / "scenario.json").write_text(
        json.dumps(
            {
                "scenario": meta.get("scenario", sc.name),
                "date": plan.date,
                "closed_roads": closed_now,
                "closed_before": closed_before,
                "repaired_at": format_clock(at_s),
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    files = write_plan_outputs(new, new_day, out, lang=args.lang, pictures=args.outputs == "all")
    report = check_plan(
        new,
        new_day.network,
        new_day.fleet,
        new_day.policy,
        new_day.orders,
        earlier=(at_s, sc.network),
    )
    print(summary_text(new, new_day))
    print("what changed:")
    for line in plan_changes(plan, new, {o.id: o for o in new_day.orders}).lines():
        print(f"  {line}")
    print(f"checker: {'ok' if report.ok else f'{len(report.violations)} violations'}")
    for v in report.violations[:20]:
        print(f"  {v}")
    print(f"wrote {len(files)} outputs to {out}/")
    return EXIT_OK if report.ok else EXIT_VIOLATIONS


def _place(args: argparse.Namespace) -> int:
    from scenarios.bundle import load_bundle
    from scenarios.placement import (
        CoverageBasis,
        Level,
        Model,
        Objective,
        PlacementParams,
        PlacementStatus,
        run_placement,
    )
    from scenarios.reports import placement_summary, write_placement_report
    from scenarios.scaleout import ProgressLine, make_executor
    from scenarios.whatif import SimulationSettings

    sc = load_bundle(args.scenario)
    if args.clean_slate and args.keep_existing:
        raise CountyrouteError("--clean-slate and --keep-existing contradict each other")
    params = PlacementParams(
        radius_m=round(args.radius_km * 1000),
        min_coverage=args.min_coverage,
        coverage_of=CoverageBasis(args.coverage_of),
        model=Model(args.model) if args.model else None,
        points=args.points,
        level=Level(args.level),
        point_cost=args.point_cost,
        station_cost=args.station_cost,
        keep_existing=not args.clean_slate,
        objective=Objective(args.objective),
        time_limit_s=args.time_limit,
    )
    bars: dict[str, ProgressLine] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bars.setdefault(stage, ProgressLine(f"{stage:<8}"))(done, total)

    simulate = None
    if args.simulate_days:
        simulate = SimulationSettings(days=args.simulate_days, time_limit_s=args.day_time_limit)
    with make_executor(args.workers, args.ray) as ex:
        result = run_placement(
            args.scenario,
            params,
            curve=not args.no_curve,
            executor=ex,
            progress=progress,
            simulate=simulate,
        )
    out = Path(args.out or f"out/{sc.name}-place-{params.level}")
    files = write_placement_report(result, sc.network, out)
    print(placement_summary(result, sc.network))
    if result.simulation is not None:
        from scenarios.reports import comparison_table

        print(comparison_table(result.simulation))
    print(f"wrote {len(files)} files to {out}/")
    infeasible = result.solution.status is PlacementStatus.INFEASIBLE
    return EXIT_VIOLATIONS if infeasible else EXIT_OK


def _simulate(args: argparse.Namespace) -> int:
    from scenarios.bundle import load_bundle, override_policy
    from scenarios.reports import comparison_table, write_simulation_report
    from scenarios.scaleout import ProgressLine, make_executor
    from scenarios.whatif import SimulationSettings, load_change, run_simulation

    sc = load_bundle(args.scenario)
    sc = replace(sc, policy=override_policy(sc.policy, args.set or ()))
    change = load_change(args.change)
    baseline = load_change(args.baseline) if args.baseline else None
    settings = SimulationSettings(
        days=args.days,
        start=args.start,
        seed=args.seed,
        time_limit_s=args.time_limit,
        solutions=args.solution_limit,
    )
    with make_executor(args.workers, args.ray) as ex:
        print(
            f"simulating {change.name} against {baseline.name if baseline else 'as is'} on "
            f"{sc.name}: {args.days} days x 2 on {ex.name} ({ex.workers} workers)",
            flush=True,
        )
        result = run_simulation(
            sc, change, settings, baseline=baseline, executor=ex, progress=ProgressLine("days")
        )
    out = Path(args.out or f"out/{sc.name}-{change.name}")
    files = write_simulation_report(result, out)
    print(comparison_table(result))
    short = sorted(result.change_days, key=lambda d: -d.deferred_capacity)
    if args.fleet_sizing == "auto" and short and short[0].deferred_capacity > 0:
        from scenarios.fleet import fleet_for_change

        dates = [d.date for d in short[: args.fleet_days] if d.deferred_capacity > 0]
        print(
            f"sizing the fleet for {change.name} on the {len(dates)} day(s) that deferred most "
            "for capacity ...",
            flush=True,
        )
        sizing = fleet_for_change(
            sc, change, settings, dates, progress=lambda line: print(f"  {line}", flush=True)
        )
        names = {s.id: s.name for s in sc.network.sites if s.name}
        line = f"fleet: {sizing.text(names, what=change.name)}"
        print(line)
        with (out / "simulation.md").open("a", encoding="utf-8") as md:
            md.write(f"\n## Fleet to serve it\n\n{line[len('fleet: ') :]}\n")
    print(
        f"{result.wall_s:.0f} s, {result.seconds_per_day:.2f} s per simulated day; "
        f"wrote {len(files)} files to {out}/"
    )
    return EXIT_OK


def _savings(args: argparse.Namespace) -> int:
    from routing import DayInput, plan_day
    from routing.build import station_of
    from routing.crossing import settle_stations
    from routing.savings import consolidation_savings, daily_service, savings_chart, settle
    from scenarios.bundle import load_bundle, override_policy
    from scenarios.demand import generate_demand

    sc = load_bundle(args.scenario, orders=args.orders)
    date = args.date or sc.date or dt.date.today().isoformat()
    orders = sc.orders or generate_demand(sc, date, args.seed)
    policy = override_policy(sc.policy, args.set or ())
    day = DayInput(sc.name, sc.network, sc.fleet, policy, orders, date)
    same = args.service == "daily"
    if same:
        day = daily_service(day)
    carriers = sorted({o.carrier for o in orders})
    print(f"{sc.name} {date}: joint plan, then each of {len(carriers)} carriers alone ...")

    def run(d: DayInput) -> Plan:
        return plan_day(d, time_limit_s=args.time_limit, workers=args.workers)

    joint = run(day)
    savings = consolidation_savings(day, joint=joint, planner=run, same_service=same)
    lines = [savings.table(), ""]
    lines.append("Settlement of the joint plan (each route's km and cost shared by the parcels it")
    lines.append("carries for each carrier):\n")
    lines.append("| carrier | parcels | km | cost (yuan) | yuan/parcel |")
    lines.append("|---|---:|---:|---:|---:|")
    for line in settle(joint, day):
        lines.append(
            f"| {line.carrier} | {line.parcels} | {line.km:.1f} | {line.cost:.0f} | "
            f"{line.cost_per_parcel:.2f} |"
        )
    between = settle_stations(joint, station_of(day.network), day.orders)
    if between:  # cross-boundary service: who carried whose parcels
        lines.append("\nBetween stations (villages served from another station than their own;")
        lines.append("each run's km and cost shared by the parcels it carried):\n")
        lines.append("| station | served by | villages | orders | parcels | km | cost (yuan) |")
        lines.append("|---|---|---:|---:|---:|---:|---:|")
        for x in between:
            lines.append(
                f"| {x.own} | {x.served_by} | {x.villages} | {x.orders} | {x.parcels} | "
                f"{x.km:.1f} | {x.cost:.2f} |"
            )
    text = "\n".join(lines)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "savings.md").write_text(
            f"# Joint distribution savings — {sc.name} {date}\n\n{text}\n\n![](savings.png)\n",
            encoding="utf-8",
        )
        savings_chart(savings, out / "savings.png")
        print(f"wrote {out}/savings.md and {out}/savings.png")
    return EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    import subprocess

    extra = ["-k", args.select] if args.select else []
    if args.save:
        extra.append("--benchmark-autosave")
    return subprocess.call(
        [sys.executable, "-m", "pytest", "benchmarks", "--benchmark-only", *extra]
    )


def _width(value: object) -> int:
    """Columns a value takes in a terminal (Chinese characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(value))


def _region_table(region: Any) -> None:
    """The counties of a region with their counts, then the totals and the top tier."""
    from scenarios.bundle import load_bundle
    from scenarios.region import county_summary

    rows = list(region.summaries) or [  # a folder of bundles without region.toml: count them
        county_summary(folder, load_bundle(path))
        for folder, path in zip(region.counties, region.county_paths, strict=True)
    ]
    head = ("county", "name", "villages", "stations", "points", "vehicles", "orders", "down", "up")
    table: list[tuple[object, ...]] = [
        (
            r.folder,
            r.name,
            r.villages,
            r.stations,
            r.village_points,
            r.vehicles,
            r.orders,
            r.parcels_down,
            r.parcels_up,
        )
        for r in rows
    ]
    counts = ("villages", "stations", "village_points", "vehicles", "orders")
    sums = [sum(int(getattr(r, f)) for r in rows) for f in (*counts, "parcels_down", "parcels_up")]
    table.append(("total", f"{len(rows)} counties", *sums))
    widths = [max(_width(x) for x in col) for col in zip(head, *table, strict=True)]
    for line in (head, *table):
        cells = (
            str(x) + " " * (w - _width(x)) if k < 2 else " " * (w - _width(x)) + str(x)
            for k, (x, w) in enumerate(zip(line, widths, strict=True))
        )
        print("  ".join(cells).rstrip())
    top = region.prefecture
    if top is None:
        print("prefecture tier: none")
    else:
        longest = max(top.legs, key=lambda leg: leg.time_s)
        print(
            f"{top.kind} hub {top.hub} {top.name}: {len(top.legs)} night line-haul legs, "
            f"longest {longest.length_m / 1000:.1f} km / {longest.time_s / 3600:.1f} h "
            f"(to {longest.county})"
        )


def _region_generate(args: argparse.Namespace) -> int:
    from scenarios.region import RegionParams, generate_region, load_region

    params = RegionParams(
        counties=args.counties,
        seed=args.seed,
        date=args.date,
        villages=args.villages,
        prefecture_hub=args.prefecture_hub,
    )
    out = generate_region(params, args.out, progress=print)
    region = load_region(out)
    print(f"wrote {out}: region {region.name} for {region.date} (seed {region.seed})")
    _region_table(region)
    return EXIT_OK


def _region_show(args: argparse.Namespace) -> int:
    from scenarios.region import load_region, resolve_region

    region = load_region(resolve_region(args.region, progress=print))
    when = f" for {region.date} (seed {region.seed})" if region.date else ""
    print(f"region {region.name} at {region.path}{when}")
    _region_table(region)
    return EXIT_OK


def _villages_range(text: str) -> tuple[int, int]:
    """``--villages 150-600``: fewest and most villages per county."""
    lo, sep, hi = text.partition("-")
    try:
        low, high = int(lo), int(hi if sep else lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX (e.g. 150-600), got {text!r}") from None
    if not 1 <= low <= high:
        raise argparse.ArgumentTypeError(f"expected 1 <= MIN <= MAX, got {text!r}")
    return low, high


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``error: countyroute plan: argument --date: …`` and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


MAX_TIME_LIMIT_S = 3600.0
"""A search budget above an hour is a typo (the dispatch window is a couple of hours)."""


def _date(text: str) -> str:
    """``--date 2026-12-01``: an ISO calendar date, kept as text."""
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date as YYYY-MM-DD (e.g. 2026-12-01), got {text!r}"
        ) from None


def _seconds(text: str) -> float:
    """``--time-limit 3``: a search budget in seconds, > 0 and at most an hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text!r}")
    if value > MAX_TIME_LIMIT_S:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_TIME_LIMIT_S:.0f} seconds (one hour), got {text!r}"
        )
    return value


def _count(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {text!r}")
        return value

    parse.__name__ = "count"
    return parse


def _number(low: float, high: float = math.inf) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or not low <= value <= high:
            span = f">= {low:g}" if math.isinf(high) else f"between {low:g} and {high:g}"
            raise argparse.ArgumentTypeError(f"must be {span}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


_WORKERS = _count(1)
_SET_HELP = (
    "override one policy field for this run, validated like policy.toml; repeatable "
    "(e.g. --set runs.reloads=false --set times.village_cutoff=16:00)"
)


def _common_solve(p: argparse.ArgumentParser, *, budget: str, default: float | None) -> None:
    p.add_argument(
        "--time-limit",
        type=_seconds,
        default=default,
        metavar="S",
        help=f"{budget} in seconds, > 0 and <= 3600 (e.g. --time-limit 3)"
        + ("" if default is None else f"; default {default:g}"),
    )
    p.add_argument(
        "--workers",
        type=_WORKERS,
        default=os.cpu_count() or 1,
        metavar="N",
        help="parallel search workers (e.g. --workers 2; default: the CPU count)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = _Parser(prog="countyroute", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sc = sub.add_parser("scenario", help="list, show, validate or export scenario bundles")
    scs = sc.add_subparsers(dest="action", required=True, parser_class=_Parser)
    scs.add_parser("list", help="built-in bundles").set_defaults(func=_scenario_list)
    show = scs.add_parser("show", help="counts of a bundle")
    show.add_argument("scenario", help="a bundle folder or a built-in name (e.g. yanshi)")
    show.set_defaults(func=_scenario_show)
    val = scs.add_parser("validate", help="load and validate a bundle")
    val.add_argument("scenario", help="a bundle folder or a built-in name (e.g. yanshi)")
    val.add_argument(
        "--orders", help="an orders CSV/JSON to validate with the bundle (e.g. orders.csv)"
    )
    val.set_defaults(func=_scenario_validate)
    exp = scs.add_parser("export", help="write a bundle (e.g. a built-in one) to a folder")
    exp.add_argument("scenario", help="a bundle folder or a built-in name (e.g. yanshi)")
    exp.add_argument("out", help="the folder to write (e.g. my-county)")
    exp.set_defaults(func=_scenario_export)

    rg = sub.add_parser("region", help="generate or show a region (a prefecture or province)")
    rgs = rg.add_subparsers(dest="action", required=True, parser_class=_Parser)
    gen = rgs.add_parser("generate", help="generate a region of synthetic counties")
    gen.add_argument("--counties", type=_count(1), required=True, help="counties (e.g. 10)")
    gen.add_argument("--seed", type=_count(0), default=1, help="region seed (e.g. 1; default 1)")
    gen.add_argument("--out", required=True, help="the folder to write (e.g. out/prefecture)")
    gen.add_argument(
        "--villages",
        type=_villages_range,
        default=(150, 600),
        metavar="MIN-MAX",
        help="villages per county (default 150-600)",
    )
    gen.add_argument(
        "--prefecture-hub",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a prefecture hub feeding the county hubs on a night line-haul (default on)",
    )
    gen.add_argument(
        "--date", type=_date, default="2026-12-01", help="the orders' day (e.g. 2026-12-01)"
    )
    gen.set_defaults(func=_region_generate)
    rsh = rgs.add_parser("show", help="the counties of a region and their counts")
    rsh.add_argument("region", help="a region folder or a generated name (e.g. prefecture-10)")
    rsh.set_defaults(func=_region_show)

    dem = sub.add_parser("demand", help="generate one day's orders")
    dem.add_argument("scenario", help="a bundle folder or a built-in name (e.g. yanshi)")
    dem.add_argument("--date", required=True, type=_date, help="the day (e.g. 2026-12-01)")
    dem.add_argument(
        "--seed", type=_count(0), default=0, help="demand seed (e.g. --seed 7; default 0)"
    )
    dem.add_argument("--out", required=True, help="orders CSV to write (e.g. orders.csv)")
    dem.set_defaults(func=_demand)

    pl = sub.add_parser("plan", help="plan one day")
    pl.add_argument("scenario", nargs="?", help="a bundle folder or a built-in name (e.g. yanshi)")
    pl.add_argument(
        "--reproduce",
        metavar="PLAN",
        help="plan again from a plan folder (or its plan.json) with the inputs, seed and budget "
        "it records, and say whether the result is the same (e.g. --reproduce out/yanshi)",
    )
    pl.add_argument(
        "--date", type=_date, help="the day (e.g. 2026-12-01; default the bundle's, else today)"
    )
    pl.add_argument(
        "--orders", help="orders CSV/JSON (e.g. orders.csv; default: the bundle's, else generated)"
    )
    pl.add_argument(
        "--seed", type=_count(0), default=7, help="demand seed when orders are generated (e.g. 7)"
    )
    _common_solve(pl, budget="search budget per tier problem", default=None)
    pl.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="language of sheets, summary, pictures"
    )
    pl.add_argument(
        "--solution-limit",
        type=_count(1),
        metavar="N",
        help="give every search N units of work (PyVRP iterations / OR-Tools solutions) instead "
        "of the policy's work_per_s share (e.g. --solution-limit 50)",
    )
    pl.add_argument(
        "--previous",
        metavar="DIR",
        help="yesterday's plan folder: keep its village-to-vehicle assignment (e.g. out/day1)",
    )
    pl.add_argument(
        "--pin",
        action="append",
        metavar="VILLAGE=VEHICLE",
        help="tie a village point to a station's vehicle; repeatable "
        "(e.g. --pin v-goushi-05=van-goushi-2)",
    )
    pl.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help=_SET_HELP)
    pl.add_argument(
        "--pdf",
        action="store_true",
        help="also write printable PDF route sheets and manifests (A4) into DIR/pdf/",
    )
    pl.add_argument(
        "--out", metavar="DIR", help="output folder (e.g. out/zh; default out/NAME-DATE)"
    )
    _outputs_option(pl)
    pl.set_defaults(func=_plan)

    rp = sub.add_parser("replan", help="repair a plan after events (vehicle down, road closed …)")
    rp.add_argument("plan", help="a plan folder written by `plan` (or its plan.json)")
    rp.add_argument(
        "events", help='events JSON (e.g. events.json: {"at": "11:30", "events": [...]})'
    )
    _common_solve(rp, budget="search budget per repaired problem", default=None)
    rp.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="language of sheets, summary, pictures"
    )
    rp.add_argument("--out", help="folder for the repaired plan (default: PLAN-repair-HHMM)")
    _outputs_option(rp)
    rp.set_defaults(func=_replan)

    rd = sub.add_parser(
        "render", help="draw a plan folder's pictures (map, timeline, roads) and, with --pdf, PDFs"
    )
    rd.add_argument("plan", help="a plan folder written by `plan` or `replan` (e.g. out/yanshi)")
    rd.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="language of sheets, summary, pictures"
    )
    rd.add_argument(
        "--pdf",
        action="store_true",
        help="also write printable PDF route sheets and manifests (A4) into DIR/pdf/",
    )
    rd.set_defaults(func=_render)

    sv = sub.add_parser(
        "savings", help="joint distribution against each carrier alone, and the settlement"
    )
    sv.add_argument("scenario", help="a bundle folder or a built-in name (e.g. yanshi)")
    sv.add_argument(
        "--date", type=_date, help="the day (e.g. 2026-12-01; default the bundle's, else today)"
    )
    sv.add_argument("--orders", help="orders CSV/JSON (e.g. orders.csv; default generated)")
    sv.add_argument(
        "--seed", type=_count(0), default=7, help="demand seed when orders are generated (e.g. 7)"
    )
    _common_solve(sv, budget="search budget per plan", default=None)
    sv.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help=_SET_HELP)
    sv.add_argument(
        "--service",
        choices=("daily", "policy"),
        default="daily",
        help="equal service by visiting every village daily on both sides (default daily), or "
        "the policy's visit pattern with every deferred parcel priced (policy)",
    )
    sv.add_argument(
        "--out", metavar="DIR", help="also write savings.md and savings.png here (e.g. out/savings)"
    )
    sv.set_defaults(func=_savings)

    bn = sub.add_parser("bench", help="benchmarks: `bench quality …` or `bench speed`")
    bns = bn.add_subparsers(dest="suite", required=True, parser_class=_Parser)
    bq = bns.add_parser(
        "quality",
        help="gaps to best-known solutions; its own options follow "
        "(e.g. bench quality --budget 5 --budget 30 --peers; bench quality --help)",
        add_help=False,
    )
    bq.add_argument("rest", nargs=argparse.REMAINDER, help="options of the quality suite")
    bq.set_defaults(func=_bench)
    bs = bns.add_parser("speed", help="the pytest-benchmark speed suites (what `make bench` runs)")
    bs.add_argument(
        "-k",
        dest="select",
        metavar="EXPR",
        help="only benchmarks matching a pytest -k expression (e.g. -k checker)",
    )
    bs.add_argument(
        "--save", action="store_true", help="save the run under .benchmarks/ (autosave)"
    )
    bs.set_defaults(func=_bench, rest=[])

    ck = sub.add_parser("check", help="check a plan (plan.json or its folder) against its inputs")
    ck.add_argument("plan", help="a plan folder or its plan.json (e.g. out/yanshi-2026-12-01)")
    ck.add_argument(
        "--scenario", help="the bundle, when the folder has no scenario.json (e.g. yanshi)"
    )
    ck.add_argument("--orders", help="orders CSV/JSON (default: the folder's orders.csv)")
    ck.set_defaults(func=_check)

    pb = sub.add_parser(
        "plan-batch", help="plan every county of a region for a day (processes or Ray)"
    )
    pb.add_argument("bundles", nargs="*", help="county bundle folders or built-in names")
    pb.add_argument(
        "--region",
        metavar="NAME|DIR",
        help="a region folder (one county bundle per subfolder, listed in region.toml) or a "
        "generated name (e.g. prefecture-10)",
    )
    pb.add_argument("--date", required=True, type=_date, help="the day (e.g. 2026-12-01)")
    pb.add_argument(
        "--time-limit",
        type=_seconds,
        metavar="S",
        help="search budget of each county's day in seconds (default: its policy's)",
    )
    pb.add_argument(
        "--solution-limit",
        type=_count(1),
        metavar="N",
        help="give every search N units of work instead of the policy's work_per_s share "
        "(e.g. --solution-limit 50)",
    )
    pb.add_argument(
        "--seed",
        type=_count(0),
        default=7,
        help="demand seed where a bundle has no orders for the day (default 7)",
    )
    pb.add_argument(
        "--wall-cap",
        type=_number(1),
        metavar="X",
        help="the clock's safety net as a multiple of each search's share, replacing the "
        "policies' wall_cap (e.g. 100: work alone stops the searches on a loaded machine)",
    )
    pb.add_argument(
        "--workers",
        type=_WORKERS,
        metavar="N",
        help="counties planned at once in local processes (default: the CPU count)",
    )
    pb.add_argument(
        "--ray", metavar="auto|local|ADDRESS", help="plan the counties on Ray (e.g. --ray auto)"
    )
    pb.add_argument(
        "--fresh",
        action="store_true",
        help="plan every county again (default: keep counties already planned and checked)",
    )
    pb.add_argument(
        "--pictures", action="store_true", help="also draw each county's map and timeline"
    )
    pb.add_argument(
        "--lang", choices=("en", "zh"), default="en", help="language of sheets and summaries"
    )
    pb.add_argument("--out", metavar="DIR", help="output folder (default out/REGION-DATE)")
    pb.set_defaults(func=_plan_batch)

    srv = sub.add_parser("serve", help="run the dispatch API (docs at /docs)")
    srv.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=_count(1), default=None, help="TCP port (default 8000)")
    srv.add_argument(
        "--database-url",
        help="e.g. sqlite:///countyroute.db (default $COUNTYROUTE_DATABASE_URL or ./countyroute.db)",
    )
    srv.add_argument(
        "--workers", type=_WORKERS, default=None, help="solver worker processes (e.g. 2)"
    )
    srv.add_argument(
        "--processes",
        type=_count(1),
        default=None,
        help="API processes (e.g. 4; more than one needs PostgreSQL)",
    )
    srv.set_defaults(func=_serve)
    key = sub.add_parser("apikey", help="API keys (the first admin key)")
    keys = key.add_subparsers(dest="action", required=True, parser_class=_Parser)
    kc = keys.add_parser("create", help="create a key and print it (stored hashed)")
    kc.add_argument("--name", required=True, help='who holds it (e.g. "van driver")')
    kc.add_argument(
        "--role",
        choices=("admin", "dispatcher", "planner", "courier"),
        default="admin",
        help="what it may do (default admin)",
    )
    kc.add_argument("--network", help="courier keys: the network (e.g. yanshi)")
    kc.add_argument("--courier", help="courier keys: the courier id (e.g. c-van-mangling-1)")
    kc.add_argument("--database-url", help="e.g. sqlite:///countyroute.db")
    kc.set_defaults(func=_apikey_create)

    plc = sub.add_parser("place", help="place village points or stations (covering, p-median)")
    plc.add_argument("scenario", help="a bundle folder or a built-in name (e.g. yanshi)")
    plc.add_argument(
        "--radius-km", type=_number(0.001, 200), default=3.0, help="coverage by road (e.g. 3)"
    )
    plc.add_argument(
        "--min-coverage",
        type=_number(0, 1),
        default=0.6,
        help="set covering target share (e.g. 0.6)",
    )
    plc.add_argument(
        "--points", type=_count(0), help="new sites for maximal covering, p-median (e.g. 10)"
    )
    plc.add_argument(
        "--model", choices=("set-cover", "max-cover", "p-median"), help="default by the options"
    )
    plc.add_argument("--level", choices=("point", "station"), default="point", help="what to place")
    plc.add_argument(
        "--coverage-of",
        choices=("villages", "population"),
        default="villages",
        help="what the coverage share counts",
    )
    plc.add_argument(
        "--objective", choices=("cost", "count"), default="cost", help="what set covering minimises"
    )
    plc.add_argument(
        "--clean-slate",
        action="store_true",
        help="ignore today's sites and place the whole network anew (default: keep them, add more)",
    )
    plc.add_argument(
        "--keep-existing",
        action="store_true",
        help="keep today's sites and add more (the default; kept for old scripts)",
    )
    plc.add_argument(
        "--point-cost",
        type=_number(0),
        default=10_000.0,
        help="yuan per village point (default 10000)",
    )
    plc.add_argument(
        "--station-cost", type=_number(0), default=50_000.0, help="yuan per station (default 50000)"
    )
    plc.add_argument(
        "--time-limit",
        type=_seconds,
        default=60.0,
        metavar="S",
        help="solver safety per solve in seconds (e.g. 60)",
    )
    plc.add_argument("--no-curve", action="store_true", help="skip the coverage curve")
    plc.add_argument(
        "--simulate-days",
        type=_count(0),
        default=0,
        help="judge the answer by routing N demand days (e.g. 5)",
    )
    plc.add_argument(
        "--day-time-limit",
        type=_seconds,
        default=1.0,
        help="search budget per simulated day in seconds (e.g. 1)",
    )
    plc.add_argument(
        "--workers", type=_WORKERS, default=os.cpu_count() or 1, help="parallel solves (e.g. 2)"
    )
    plc.add_argument(
        "--ray", metavar="auto|local|ADDRESS", help="run the solves on Ray (e.g. --ray auto)"
    )
    plc.add_argument("--out", help="report folder (default out/NAME-place-LEVEL)")
    plc.set_defaults(func=_place)

    sim = sub.add_parser("simulate", help="what-if: plan N demand days with and without a change")
    sim.add_argument("scenario", help="a bundle folder or a built-in name (e.g. yanshi)")
    sim.add_argument(
        "--change",
        required=True,
        help="a change file (e.g. scenarios/data/changes/growth30.toml)",
    )
    sim.add_argument("--baseline", help="a change file for the baseline (default: as is)")
    sim.add_argument("--days", type=_count(1), default=30, help="days to simulate (e.g. 10)")
    sim.add_argument(
        "--start", type=_date, default="2026-04-06", help="first simulated date (e.g. 2026-04-06)"
    )
    sim.add_argument("--seed", type=_count(0), default=7, help="demand seed (e.g. 7)")
    _common_solve(sim, budget="search budget per day", default=1.0)
    sim.add_argument(
        "--solution-limit",
        type=_count(1),
        metavar="N",
        help="stop each search after N solutions, deterministic (e.g. 50)",
    )
    sim.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help=_SET_HELP)
    sim.add_argument(
        "--fleet-sizing",
        choices=("auto", "off"),
        default="auto",
        help="when the change defers parcels for capacity, search the vans and trucks to add "
        "(default auto)",
    )
    sim.add_argument(
        "--fleet-days",
        type=_count(1),
        default=3,
        metavar="N",
        help="fleet sizing plans the N days that deferred most (default 3)",
    )
    sim.add_argument(
        "--ray", metavar="auto|local|ADDRESS", help="plan the days on Ray (e.g. --ray auto)"
    )
    sim.add_argument("--out", help="report folder (default out/NAME-CHANGE)")
    sim.set_defaults(func=_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``countyroute`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["bench", "quality"]:
        # the quality suite parses its own options (argparse cannot hand a sub-command's
        # options through untouched); the benchmarks sit beside the product, not under it,
        # so they run as their own program
        import subprocess

        return subprocess.call([sys.executable, "-m", "benchmarks.quality", *argv[2:]])
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except CountyrouteError as exc:
        print(f"error: {exc}".replace("\n", " "), file=sys.stderr)
        return EXIT_INPUT
    except OSError as exc:  # an output folder that cannot be written, a file that went away
        where = exc.filename if exc.filename is not None else ""
        print(f"error: {where}: {exc.strerror or exc}".replace("\n", " "), file=sys.stderr)
        return EXIT_INPUT
    return code


if __name__ == "__main__":
    sys.exit(main())
