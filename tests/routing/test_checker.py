"""routing.check.check_plan, the independent oracle: it passes the planner's plans untouched,
and each hand edit of a plan (``dataclasses.replace`` on the plan, a route or a stop) or of
its inputs is caught with the route, the stop and the site it concerns. Plans also survive
``plan.json`` unchanged (``plan_to_dict`` → JSON → ``plan_from_dict``), including generated
ones (hypothesis).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing import DayInput, SolveSettings, plan_day
from routing.check import CheckReport, Violation, check_plan
from routing.model import Direction, Order
from routing.plan import (
    HINTS,
    PLAN_SCHEMA_VERSION,
    DeferralReason,
    Deferred,
    Hint,
    Load,
    Plan,
    PlanStatus,
    Route,
    Stop,
    StopKind,
    Tier,
    hint_fields,
    plan_from_dict,
    plan_to_dict,
)
from routing.problem import TierProblem, TierSolution
from routing.solvers import solve_ortools
from scenarios.bundle import Scenario

DATE = "2026-12-01"


def bounded_solve(problem: TierProblem, settings: SolveSettings) -> TierSolution:
    """OR-Tools stopped by a solution count (the clock is only a safety net)."""
    limit = 50 if len(problem.nodes) > 2 else 1
    return solve_ortools(problem, replace(settings, work=limit, time_limit_s=5.0))


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def day(tiny: Scenario) -> DayInput:
    """The tiny bundle's orders on its date: East station's villages are due, North's not."""
    return DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, DATE)


@pytest.fixture(scope="module")
def plan(day: DayInput) -> Plan:
    """The tiny day's plan: a trunk down, a run from East station dropping o01, o02 at v1
    (and o03 at v2, collecting o09), a trunk up; frequency and unreachable deferrals."""
    return plan_day(day, time_limit_s=1.0, solve=bounded_solve)


@pytest.fixture(scope="module")
def next_day_plan(tiny: Scenario) -> tuple[Plan, DayInput]:
    """The other half of the week: North station's villages, East's deferred."""
    d = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-02")
    return plan_day(d, time_limit_s=1.0, solve=bounded_solve), d


@pytest.fixture(scope="module")
def reload_day(tiny: Scenario) -> tuple[Plan, DayInput]:
    """1.4 t of extra sacks for v1 and v2: East station's van goes out twice (a reload)."""
    sacks = tuple(
        Order(f"d{i:03d}", "yto", Direction.DOWN, ("v1", "v2")[i % 2], 100.0, 0.3, 1)
        for i in range(14)
    )
    d = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders + sacks, DATE)
    return plan_day(d, time_limit_s=1.0, solve=bounded_solve), d


def check(plan: Plan, day: DayInput, **inputs: object) -> CheckReport:
    """The checker on the plan with the day's inputs, some replaced (fleet=…, orders=…)."""
    return check_plan(
        plan,
        inputs.get("network", day.network),  # type: ignore[arg-type]
        inputs.get("fleet", day.fleet),  # type: ignore[arg-type]
        inputs.get("policy", day.policy),  # type: ignore[arg-type]
        inputs.get("orders", day.orders),  # type: ignore[arg-type]
    )


def locate(plan: Plan, order: str, tier: Tier = Tier.LAST_MILE) -> tuple[int, int]:
    """(route index, stop index) of the stop of a tier that drops or collects an order."""
    for ri, r in enumerate(plan.routes):
        if r.tier is not tier:
            continue
        for si, s in enumerate(r.stops):
            if order in s.drop or order in s.collect:
                return ri, si
    raise AssertionError(f"{order} is on no {tier.value} stop")


def edit_stop(plan: Plan, ri: int, si: int, **changes: object) -> Plan:
    route = plan.routes[ri]
    stops = list(route.stops)
    stops[si] = replace(stops[si], **changes)  # type: ignore[arg-type]
    return edit_route(plan, ri, stops=tuple(stops))


def edit_route(plan: Plan, ri: int, **changes: object) -> Plan:
    routes = list(plan.routes)
    routes[ri] = replace(routes[ri], **changes)  # type: ignore[arg-type]
    return replace(plan, routes=tuple(routes))


def shift(route: Route, seconds: int) -> tuple[Stop, ...]:
    """A route's stops, all times moved by the same amount."""
    return tuple(
        replace(
            s,
            arrival_s=s.arrival_s + seconds,
            start_s=s.start_s + seconds,
            departure_s=s.departure_s + seconds,
        )
        for s in route.stops
    )


def label(route: Route) -> str:
    return f"{route.tier.value}:{route.vehicle}"


def found(report: CheckReport, code: str) -> list[Violation]:
    return [v for v in report.violations if v.code == code]


def assert_caught(report: CheckReport, code: str, route: str, stop: int, site: str) -> Violation:
    """The report holds a violation of this code naming this route, stop and site."""
    hits = [v for v in found(report, code) if (v.route, v.stop, v.site) == (route, stop, site)]
    assert hits, f"no {code} at {route} stop {stop} ({site}): {report.violations}"
    where = f"{route} stop {stop} ({site})" if stop >= 0 else route
    assert str(hits[0]).startswith(f"{where}: [{code}]")
    return hits[0]


# ----------------------------------------------------------------------------- unedited
def test_unedited_plans_pass(
    plan: Plan, day: DayInput, next_day_plan: tuple[Plan, DayInput]
) -> None:
    for p, d in ((plan, day), next_day_plan):
        report = check(p, d)
        assert report.ok, report.violations
        assert report.distance_m == sum(r.distance_m for r in p.routes)
        assert report.cost == pytest.approx(
            sum(r.cost for r in p.routes), abs=0.011 * len(p.routes)
        )


def test_the_fixture_plan_has_what_the_edits_need(plan: Plan) -> None:
    """Guards the edits below: they assume this shape of the tiny day's plan."""
    assert plan.routes_of(Tier.LAST_MILE) and plan.routes_of(Tier.TRUNK_DOWN)
    locate(plan, "o01")
    locate(plan, "o09")
    assert {d.order for d in plan.deferred} >= {"o05", "o04"}


# ----------------------------------------------------------------------------- edits
def test_load_edited_past_capacity_is_caught(plan: Plan, day: DayInput) -> None:
    ri, si = locate(plan, "o01")
    route = plan.routes[ri]
    cap = next(v for v in day.fleet if v.id == route.vehicle).capacity_kg
    edited = edit_stop(plan, ri, si, load_after=replace(route.stops[si].load_after, kg=cap + 1))
    report = check(edited, day)
    v = assert_caught(report, "capacity", label(route), si, "v1")
    assert "recorded load" in v.message
    assert_caught(report, "load", label(route), si, "v1")  # and it is not what was carried


def test_order_removed_from_its_stop_is_caught(plan: Plan, day: DayInput) -> None:
    ri, si = locate(plan, "o01")
    stop = plan.routes[ri].stops[si]
    edited = edit_stop(plan, ri, si, drop=tuple(o for o in stop.drop if o != "o01"))
    report = check(edited, day)
    assert [str(v) for v in found(report, "order")] == [
        "plan: [order] order o01 neither served nor deferred"
    ]
    assert found(report, "order")[0].site == "v1"


def test_order_served_twice_is_caught(plan: Plan, day: DayInput) -> None:
    """o01 dropped at v1 again by a second, copied run of another vehicle."""
    ri, _ = locate(plan, "o01")
    run = plan.routes[ri]
    other = next(v for v in day.fleet if v.home == run.home and v.id != run.vehicle)
    twin = replace(run, vehicle=other.id, vehicle_class=other.vehicle_class)
    report = check(replace(plan, routes=(*plan.routes, twin)), day)
    messages = [v.message for v in found(report, "order")]
    assert "order o01 served 2 times" in messages


def test_order_both_served_and_deferred_is_caught(plan: Plan, day: DayInput) -> None:
    extra = Deferred("o01", "v1", DeferralReason.CAPACITY, "2026-12-02", "s1", "")
    report = check(replace(plan, deferred=(*plan.deferred, extra)), day)
    assert [v.message for v in found(report, "order")] == ["order o01 both served and deferred"]


def test_order_deferred_twice_is_caught(plan: Plan, day: DayInput) -> None:
    d = next(d for d in plan.deferred if d.order == "o05")
    report = check(replace(plan, deferred=(*plan.deferred, d)), day)
    assert [v.message for v in found(report, "order")] == ["order o05 deferred twice"]


def test_run_leaving_before_trunk_arrival_plus_cross_dock_is_caught(
    plan: Plan, day: DayInput
) -> None:
    ri, _ = locate(plan, "o01")
    run = plan.routes[ri]
    unloaded = plan.routes[locate(plan, "o01", Tier.TRUNK_DOWN)[0]]
    arrival = next(s.departure_s for s in unloaded.stops if "o01" in s.drop)
    # the run leaves as early as the planner allowed: one second earlier breaks the rule
    assert run.stops[0].departure_s >= arrival + day.policy.cross_dock_s
    early = run.stops[0].departure_s - (arrival + day.policy.cross_dock_s) + 1
    report = check(edit_route(plan, ri, stops=shift(run, -early)), day)
    v = assert_caught(report, "sync", label(run), 0, run.home)
    assert any(o in v.message for s in run.stops for o in s.drop)
    assert {x.code for x in report.violations} == {"sync"}


def test_reload_trip_is_held_to_its_own_departure(reload_day: tuple[Plan, DayInput]) -> None:
    """The truck reaches East station late: after the van's first trip left, but in time
    for its second. Only the first trip's parcels are too early, and the violation names
    the stop that trip leaves from; the second trip (leaving from the reload) is fine."""
    plan, day = reload_day
    assert check(plan, day).ok
    ri = next(i for i, r in enumerate(plan.routes) if r.tier is Tier.LAST_MILE and r.trips > 1)
    run = plan.routes[ri]
    first, second = (
        [o for s in run.stops if s.trip == k and s.kind is StopKind.VISIT for o in s.drop]
        for k in (0, 1)
    )
    reload = next(s for s in run.stops if s.kind is StopKind.RELOAD)
    assert first and second
    ti, tsi = locate(plan, second[0], Tier.TRUNK_DOWN)
    truck = plan.routes[ti]
    late = reload.departure_s - day.policy.cross_dock_s - truck.stops[tsi].departure_s
    assert late > 0
    stops = truck.stops[:tsi] + shift(replace(truck, stops=truck.stops[tsi:]), late)
    vehicle = next(v for v in day.fleet if v.id == truck.vehicle)
    hours = (stops[-1].arrival_s - stops[0].departure_s) / 3600
    cost = vehicle.fixed_cost + vehicle.cost_per_km * truck.distance_m / 1000
    edited = edit_route(plan, ti, stops=stops, cost=round(cost + vehicle.cost_per_hour * hours, 2))
    report = check(edited, day)
    sync = found(report, "sync")
    assert sync and {x.code for x in report.violations} == {"sync"}
    assert {(v.route, v.stop, v.site) for v in sync} == {(label(run), 0, run.home)}
    assert all(any(o in v.message for o in first) for v in sync)
    assert not any(o in v.message for v in sync for o in second)


def test_run_dropping_an_order_no_trunk_brought_is_caught(plan: Plan, day: DayInput) -> None:
    ti, tsi = locate(plan, "o01", Tier.TRUNK_DOWN)
    stop = plan.routes[ti].stops[tsi]
    # the truck no longer carries o01 (its loads then do not add up either)
    edited = edit_stop(plan, ti, tsi, drop=tuple(o for o in stop.drop if o != "o01"))
    report = check(edited, day)
    ri, si = locate(edited, "o01")
    v = assert_caught(report, "sync", label(edited.routes[ri]), si, "v1")
    assert "o01" in v.message


def test_collection_no_up_trunk_takes_is_caught(plan: Plan, day: DayInput) -> None:
    ti, tsi = locate(plan, "o09", Tier.TRUNK_UP)
    stop = plan.routes[ti].stops[tsi]
    edited = edit_stop(plan, ti, tsi, collect=tuple(o for o in stop.collect if o != "o09"))
    report = check(edited, day)
    ri, _ = locate(edited, "o09")
    hits = [v for v in found(report, "sync") if v.route == label(edited.routes[ri])]
    assert hits and "o09" in hits[0].message
    assert edited.routes[ri].stops[hits[0].stop].kind in (StopKind.RELOAD, StopKind.RETURN)


def test_stop_outside_opening_hours_is_caught(plan: Plan, day: DayInput) -> None:
    """The same plan checked against a network where v1 closes at 09:00."""
    ri, si = locate(plan, "o01")
    sites = tuple(
        replace(s, opens_s=8 * 3600, closes_s=9 * 3600) if s.id == "v1" else s
        for s in day.network.sites
    )
    report = check(plan, day, network=replace(day.network, sites=sites))
    v = assert_caught(report, "window", label(plan.routes[ri]), si, "v1")
    assert "open 08:00-09:00" in v.message  # clock times, not seconds


def test_bulky_order_on_a_tricycle_is_caught(plan: Plan, day: DayInput) -> None:
    """o01 turned bulky in the orders: whichever vehicle carries it must take bulky parcels;
    with the run on the tricycle (which does not), the checker objects."""
    ri, si = locate(plan, "o01")
    run = plan.routes[ri]
    tricycle = next(v for v in day.fleet if v.vehicle_class == "tricycle")
    edited = edit_route(plan, ri, vehicle=tricycle.id, vehicle_class="tricycle")
    orders = tuple(replace(o, bulky=True) if o.id == "o01" else o for o in day.orders)
    report = check(edited, day, orders=orders)
    v = assert_caught(report, "bulky", f"last_mile:{tricycle.id}", si, "v1")
    assert "o01" in v.message
    # the control: the same plan with o01 not bulky has nothing to say about bulk
    assert not found(check(edited, day), "bulky")
    assert run.stops == edited.routes[ri].stops


def test_route_beyond_its_range_is_caught(plan: Plan, day: DayInput) -> None:
    ri, _ = locate(plan, "o01")
    run = plan.routes[ri]
    km = run.distance_m / 1000
    fleet = tuple(replace(v, range_km=km - 0.1) if v.id == run.vehicle else v for v in day.fleet)
    report = check(plan, day, fleet=fleet)
    v = assert_caught(report, "range", label(run), -1, run.home)
    assert f"{km:.1f} km" in v.message
    # exactly at the limit is fine
    fleet_ok = tuple(replace(v, range_km=km) if v.id == run.vehicle else v for v in day.fleet)
    assert not found(check(plan, day, fleet=fleet_ok), "range")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        # one metre more than the roads give
        (lambda r: {"distance_m": r.distance_m + 1}, "distance"),
        # two fen more than fixed + per km + per hour
        (lambda r: {"cost": round(r.cost + 0.02, 2)}, "cost"),
    ],
)
def test_wrong_recorded_distance_or_cost_is_caught(
    plan: Plan, day: DayInput, changes: Callable[[Route], dict[str, object]], code: str
) -> None:
    for ri, route in enumerate(plan.routes):
        report = check(edit_route(plan, ri, **changes(route)), day)
        assert_caught(report, code, label(route), -1, route.home)
        assert len(report.violations) == 1


def test_a_route_of_an_unknown_vehicle_is_caught(plan: Plan, day: DayInput) -> None:
    report = check(edit_route(plan, 0, vehicle="ghost"), day)
    assert [str(v) for v in report.violations][:1] == [
        f"{plan.routes[0].tier.value}:ghost: [vehicle] unknown vehicle 'ghost'"
    ]


def test_time_travel_between_stops_is_caught(plan: Plan, day: DayInput) -> None:
    """A stop reached sooner than the road allows."""
    ri, si = locate(plan, "o01")
    stop = plan.routes[ri].stops[si]
    prev = plan.routes[ri].stops[si - 1]
    edited = edit_stop(
        plan, ri, si, arrival_s=prev.departure_s, start_s=max(stop.start_s, prev.departure_s)
    )
    report = check(edited, day)
    assert_caught(report, "time", label(plan.routes[ri]), si, "v1")


# ----------------------------------------------------------------------------- plan.json
def test_plan_json_round_trip(plan: Plan, next_day_plan: tuple[Plan, DayInput]) -> None:
    for p in (plan, next_day_plan[0]):
        text = json.dumps(plan_to_dict(p), ensure_ascii=False)
        assert plan_from_dict(json.loads(text)) == p


def test_plan_json_of_another_schema_version_is_refused(plan: Plan) -> None:
    doc = plan_to_dict(plan)
    doc["schema_version"] = PLAN_SCHEMA_VERSION + 1
    with pytest.raises(ValueError, match="schema_version"):
        plan_from_dict(doc)


ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=6)
texts = st.text(max_size=20)
seconds = st.integers(0, 48 * 3600)
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
loads = st.builds(Load, finite, finite, st.integers(-1000, 1000))
stops = st.builds(
    Stop,
    ids,
    st.sampled_from(StopKind),
    seconds,
    seconds,
    seconds,
    st.integers(0, 5),
    st.lists(ids, max_size=3).map(tuple),
    st.lists(ids, max_size=3).map(tuple),
    loads,
)
routes = st.builds(
    Route,
    ids,
    st.sampled_from(["truck", "van", "tricycle"]),
    st.sampled_from(Tier),
    ids,
    ids,
    st.lists(stops, max_size=4).map(tuple),
    st.integers(0, 10**7),
    finite,
)
hints = st.sampled_from(sorted(HINTS)).flatmap(
    lambda code: st.fixed_dictionaries(dict.fromkeys(hint_fields(code), texts)).map(
        lambda values: Hint.of(code, **values)
    )
)
deferrals = st.builds(
    Deferred,
    ids,
    ids,
    st.sampled_from(DeferralReason),
    st.just("2026-12-02"),
    ids,
    texts,
    st.booleans(),
    st.none() | hints,
)


def test_a_hint_names_exactly_its_values() -> None:
    assert Hint.of("open_longer", site="岳滩", minutes=30, until="18:30").text() == (
        "keeping 岳滩 open 30 min longer (until 18:30) would fit it"
    )
    with pytest.raises(ValueError, match="takes"):
        Hint.of("open_longer", site="岳滩")
    with pytest.raises(ValueError, match="unknown hint"):
        Hint.of("call_the_mayor")


feeds = st.tuples(
    ids, ids, st.lists(ids, max_size=2).map(tuple), st.lists(ids, max_size=2).map(tuple)
)
plans = st.builds(
    Plan,
    texts,
    ids,
    st.just(DATE),
    st.sampled_from(PlanStatus),
    st.lists(routes, max_size=3).map(tuple),
    st.lists(deferrals, max_size=3).map(tuple),
    st.lists(feeds, max_size=2).map(tuple),
    finite,
    st.dictionaries(ids, texts, max_size=3).map(lambda d: tuple(d.items())),
)


@settings(max_examples=60, deadline=None)
@given(plans)
def test_any_plan_survives_plan_json(p: Plan) -> None:
    text = json.dumps(plan_to_dict(p), ensure_ascii=False)
    assert plan_from_dict(json.loads(text)) == p


def test_travel_is_checked_per_service_area_not_over_the_county(
    plan: Plan, next_day_plan: tuple[Plan, DayInput], day: DayInput, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checker's matrices cover one home's routes each (a station's service area, the
    hub's trunk), so a region of large counties never needs a county-wide matrix."""
    from networks.matrices import RoadIndex

    east = [r for r in plan.routes if r.tier is Tier.LAST_MILE]
    north = [  # the same class as East's, so a matrix per class would span both areas
        replace(r, vehicle_class=east[0].vehicle_class)
        for r in next_day_plan[0].routes
        if r.tier is Tier.LAST_MILE
    ]
    assert {r.home for r in north}.isdisjoint({r.home for r in east})
    both = replace(plan, routes=(*plan.routes, *north))
    asked: list[tuple[str, ...]] = []
    real = RoadIndex.matrix

    def spy(self: RoadIndex, site_ids: tuple[str, ...], vehicle_class: str) -> object:
        asked.append(site_ids)
        return real(self, site_ids, vehicle_class)

    monkeypatch.setattr(RoadIndex, "matrix", spy)
    check(both, day)
    stations = {r.home for r in both.routes if r.tier is Tier.LAST_MILE}
    parent = {s.id: s.parent for s in day.network.sites}
    areas = [{parent[x] for x in sites if parent.get(x) in stations} for sites in asked]
    assert asked and all(len(area) <= 1 for area in areas)  # villages of one station at most
