"""The ``countyroute`` command line.

Errors in input end the command with exit code 2 and one line naming the file, the row or
feature and the field; a plan that fails the checker exits with 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


def _plan(args: argparse.Namespace) -> int:
    from routing.check import check_plan
    from routing.day import DayInput, plan_day
    from routing.outputs import summary_text, write_plan_outputs
    from scenarios.bundle import load_bundle, orders_to_csv

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
    policy = sc.policy
    day = DayInput(sc.name, sc.network, sc.fleet, policy, orders, date)
    print(f"planning {sc.name} for {date}: {len(orders)} orders ({source}) ...", flush=True)
    previous = _plan_folder(args.previous)[0] if args.previous else None
    pins = {}
    for text in args.pin or ():
        village, _, vehicle = text.partition("=")
        if not vehicle:
            raise CountyrouteError(f"--pin {text!r}: expected VILLAGE=VEHICLE")
        pins[village] = vehicle
    plan = plan_day(
        day,
        time_limit_s=args.time_limit,
        workers=args.workers,
        solution_limit=args.solution_limit,
        previous=previous,
        pins=pins,
        progress=lambda line: print(f"  {line}", flush=True),
    )
    out = Path(args.out or f"out/{sc.name}-{date}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "orders.csv").write_text(orders_to_csv(orders), encoding="utf-8")
    (out / "scenario.json").write_text(
        json.dumps({"scenario": str(args.scenario), "date": date}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    files = write_plan_outputs(plan, day, out, lang=args.lang)
    report = check_plan(plan, sc.network, sc.fleet, policy, orders)
    print(summary_text(plan, day))
    print(f"checker: {'ok' if report.ok else f'{len(report.violations)} violations'}")
    for v in report.violations[:20]:
        print(f"  {v}")
    print(f"wrote {len(files)} outputs to {out}/")
    return EXIT_OK if report.ok else EXIT_VIOLATIONS


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
    from routing.check import check_plan
    from routing.day import DayInput
    from routing.outputs import summary_text, write_plan_outputs
    from routing.repair import RoadClosed, load_events, replan
    from scenarios.bundle import orders_to_csv

    plan, sc, meta = _plan_folder(args.plan)
    at_s, events = load_events(args.events)
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
    files = write_plan_outputs(new, new_day, out, lang=args.lang)
    report = check_plan(
        new,
        new_day.network,
        new_day.fleet,
        new_day.policy,
        new_day.orders,
        earlier=(at_s, sc.network),
    )
    print(summary_text(new, new_day))
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
    params = PlacementParams(
        radius_m=round(args.radius_km * 1000),
        min_coverage=args.min_coverage,
        coverage_of=CoverageBasis(args.coverage_of),
        model=Model(args.model) if args.model else None,
        points=args.points,
        level=Level(args.level),
        point_cost=args.point_cost,
        station_cost=args.station_cost,
        keep_existing=args.keep_existing,
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
    from scenarios.bundle import load_bundle
    from scenarios.reports import comparison_table, write_simulation_report
    from scenarios.scaleout import ProgressLine, make_executor
    from scenarios.whatif import SimulationSettings, load_change, run_simulation

    sc = load_bundle(args.scenario)
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
    print(
        f"{result.wall_s:.0f} s, {result.seconds_per_day:.2f} s per simulated day; "
        f"wrote {len(files)} files to {out}/"
    )
    return EXIT_OK


def _savings(args: argparse.Namespace) -> int:
    from routing.day import DayInput, plan_day
    from routing.savings import consolidation_savings, settle
    from scenarios.bundle import load_bundle
    from scenarios.demand import generate_demand

    sc = load_bundle(args.scenario, orders=args.orders)
    date = args.date or sc.date or dt.date.today().isoformat()
    orders = sc.orders or generate_demand(sc, date, args.seed)
    day = DayInput(sc.name, sc.network, sc.fleet, sc.policy, orders, date)
    carriers = sorted({o.carrier for o in orders})
    print(f"{sc.name} {date}: joint plan, then each of {len(carriers)} carriers alone ...")

    def run(d: DayInput) -> Plan:
        return plan_day(d, time_limit_s=args.time_limit, workers=args.workers)

    joint = run(day)
    savings = consolidation_savings(day, joint=joint, planner=run)
    print(savings.table())
    print("\nSettlement of the joint plan (each route's km and cost shared by the parcels it")
    print("carries for each carrier):\n")
    print("| carrier | parcels | km | cost (yuan) | yuan/parcel |")
    print("|---|---:|---:|---:|---:|")
    for line in settle(joint, day):
        print(
            f"| {line.carrier} | {line.parcels} | {line.km:.1f} | {line.cost:.0f} | "
            f"{line.cost_per_parcel:.2f} |"
        )
    return EXIT_OK


def _bench(args: argparse.Namespace) -> int:
    from benchmarks.quality import main as quality_main

    if args.suite == "quality":
        return quality_main(args.rest)
    import subprocess

    return subprocess.call(
        [sys.executable, "-m", "pytest", "benchmarks", "--benchmark-only", *args.rest]
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="countyroute", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sc = sub.add_parser("scenario", help="list, show, validate or export scenario bundles")
    scs = sc.add_subparsers(dest="action", required=True)
    scs.add_parser("list", help="built-in bundles").set_defaults(func=_scenario_list)
    show = scs.add_parser("show", help="counts of a bundle")
    show.add_argument("scenario")
    show.set_defaults(func=_scenario_show)
    val = scs.add_parser("validate", help="load and validate a bundle")
    val.add_argument("scenario")
    val.add_argument("--orders", help="an orders CSV/JSON to validate with the bundle")
    val.set_defaults(func=_scenario_validate)
    exp = scs.add_parser("export", help="write a bundle (e.g. a built-in one) to a folder")
    exp.add_argument("scenario")
    exp.add_argument("out")
    exp.set_defaults(func=_scenario_export)

    dem = sub.add_parser("demand", help="generate one day's orders")
    dem.add_argument("scenario")
    dem.add_argument("--date", required=True)
    dem.add_argument("--seed", type=int, default=0)
    dem.add_argument("--out", required=True)
    dem.set_defaults(func=_demand)

    pl = sub.add_parser("plan", help="plan one day")
    pl.add_argument("scenario")
    pl.add_argument("--date")
    pl.add_argument("--orders", help="orders CSV/JSON (default: the bundle's, else generated)")
    pl.add_argument("--seed", type=int, default=7, help="demand seed when orders are generated")
    pl.add_argument("--time-limit", type=float, default=None, help="search budget in seconds")
    pl.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    pl.add_argument("--lang", choices=("en", "zh"), default="en")
    pl.add_argument(
        "--solution-limit", type=int, help="stop each search after N solutions (deterministic)"
    )
    pl.add_argument(
        "--previous", help="yesterday's plan folder: keep its village-to-vehicle assignment"
    )
    pl.add_argument(
        "--pin", action="append", metavar="VILLAGE=VEHICLE", help="tie a village to a vehicle"
    )
    pl.add_argument("--out")
    pl.set_defaults(func=_plan)

    rp = sub.add_parser("replan", help="repair a plan after events (vehicle down, road closed …)")
    rp.add_argument("plan", help="a plan folder written by `plan` (or its plan.json)")
    rp.add_argument("events", help='events JSON: {"at": "11:30", "events": [...]}')
    rp.add_argument("--time-limit", type=float, default=None, help="search budget in seconds")
    rp.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    rp.add_argument("--lang", choices=("en", "zh"), default="en")
    rp.add_argument("--out", help="folder for the repaired plan (default: PLAN-repair-HHMM)")
    rp.set_defaults(func=_replan)

    sv = sub.add_parser(
        "savings", help="joint distribution against each carrier alone, and the settlement"
    )
    sv.add_argument("scenario")
    sv.add_argument("--date")
    sv.add_argument("--orders")
    sv.add_argument("--seed", type=int, default=7, help="demand seed when orders are generated")
    sv.add_argument("--time-limit", type=float, default=None, help="search budget per plan (s)")
    sv.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    sv.set_defaults(func=_savings)

    bn = sub.add_parser(
        "bench",
        help="benchmarks: `bench quality [--budget 5 --budget 30] [--peers]` or `bench speed`",
    )
    bn.add_argument("suite", choices=("quality", "speed"))
    bn.add_argument("rest", nargs=argparse.REMAINDER, help="options of the suite")
    bn.set_defaults(func=_bench)

    ck = sub.add_parser("check", help="check a plan (plan.json or its folder) against its inputs")
    ck.add_argument("plan")
    ck.add_argument("--scenario")
    ck.add_argument("--orders")
    ck.set_defaults(func=_check)

    srv = sub.add_parser("serve", help="run the dispatch API (docs at /docs)")
    srv.add_argument("--host", default=None, help="default 127.0.0.1")
    srv.add_argument("--port", type=int, default=None, help="default 8000")
    srv.add_argument("--database-url", help="default $COUNTYROUTE_DATABASE_URL or ./countyroute.db")
    srv.add_argument("--workers", type=int, default=None, help="solver worker processes")
    srv.add_argument(
        "--processes", type=int, default=None, help="API processes (more than 1: PostgreSQL)"
    )
    srv.set_defaults(func=_serve)
    key = sub.add_parser("apikey", help="API keys (the first admin key)")
    keys = key.add_subparsers(dest="action", required=True)
    kc = keys.add_parser("create", help="create a key and print it (stored hashed)")
    kc.add_argument("--name", required=True)
    kc.add_argument(
        "--role", choices=("admin", "dispatcher", "planner", "courier"), default="admin"
    )
    kc.add_argument("--network", help="courier keys: the network")
    kc.add_argument("--courier", help="courier keys: the courier id (c-<vehicle>)")
    kc.add_argument("--database-url")
    kc.set_defaults(func=_apikey_create)

    plc = sub.add_parser("place", help="place village points or stations (covering, p-median)")
    plc.add_argument("scenario")
    plc.add_argument("--radius-km", type=float, default=3.0, help="coverage by road (km)")
    plc.add_argument("--min-coverage", type=float, default=0.6, help="set covering target")
    plc.add_argument("--points", type=int, help="new sites (maximal covering, p-median)")
    plc.add_argument("--model", choices=("set-cover", "max-cover", "p-median"))
    plc.add_argument("--level", choices=("point", "station"), default="point")
    plc.add_argument("--coverage-of", choices=("villages", "population"), default="villages")
    plc.add_argument("--objective", choices=("cost", "count"), default="cost")
    plc.add_argument("--keep-existing", action="store_true", help="keep today's sites, add more")
    plc.add_argument("--point-cost", type=float, default=10_000.0, help="yuan per village point")
    plc.add_argument("--station-cost", type=float, default=50_000.0, help="yuan per station")
    plc.add_argument("--time-limit", type=float, default=60.0, help="solver safety per solve (s)")
    plc.add_argument("--no-curve", action="store_true", help="skip the coverage curve")
    plc.add_argument("--simulate-days", type=int, default=0, help="judge it by routing N days")
    plc.add_argument("--day-time-limit", type=float, default=1.0, help="search budget per day")
    plc.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    plc.add_argument("--ray", metavar="auto|local|ADDRESS", help="run the solves on Ray")
    plc.add_argument("--out")
    plc.set_defaults(func=_place)

    sim = sub.add_parser("simulate", help="what-if: plan N demand days with and without a change")
    sim.add_argument("scenario")
    sim.add_argument("--change", required=True, help="a change file (TOML)")
    sim.add_argument("--baseline", help="a change file for the baseline (default: as is)")
    sim.add_argument("--days", type=int, default=30)
    sim.add_argument("--start", default="2026-04-06", help="first simulated date")
    sim.add_argument("--seed", type=int, default=7, help="demand seed")
    sim.add_argument("--time-limit", type=float, default=1.0, help="search budget per day (s)")
    sim.add_argument(
        "--solution-limit", type=int, help="stop each search after N solutions (deterministic)"
    )
    sim.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    sim.add_argument("--ray", metavar="auto|local|ADDRESS", help="plan the days on Ray")
    sim.add_argument("--out")
    sim.set_defaults(func=_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``countyroute`` console script."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except CountyrouteError as exc:
        print(f"error: {exc}".replace("\n", " "), file=sys.stderr)
        return EXIT_INPUT
    return code


if __name__ == "__main__":
    sys.exit(main())
