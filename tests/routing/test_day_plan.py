"""routing.day.plan_day on the tiny bundle and variants of it: every plan goes through the
checker and through the invariants asserted here directly (each order on exactly one final
stop or deferred, loads within capacity at every stop, village runs leaving after their
parcels' trunk arrival plus the cross-dock time, frequency deferrals waiting at the right
place until the next day), and each variant shows the deferral reason it was made for.

The tier solver is injected with a solution limit, so the plans are deterministic and the
search is bounded by solution count, not the clock.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import pytest

from networks import UNREACHABLE, InvalidScenario, Network
from routing import DayInput, SolveSettings, plan_day
from routing.build import is_due
from routing.check import check_plan
from routing.model import Direction, Order, Policy, Vehicle
from routing.plan import DeferralReason, Load, Plan, PlanStatus, StopKind, Tier
from routing.problem import TierProblem, TierSolution
from routing.solvers import solve_ortools
from scenarios.bundle import Scenario, load_bundle

DATE = "2026-12-01"
"""On this date v1, v2, v3 (East station) are due and v4, v5, v6 (North station) are not."""
NEXT = "2026-12-02"

SUGGESTION = re.compile(r"one more (\w+) at (.+) would carry (\d+) of these (\d+) parcels")


def bounded_solve(problem: TierProblem, settings: SolveSettings) -> TierSolution:
    """The OR-Tools backend stopped after 50 solutions: deterministic, and never the clock.

    A problem with one or two stops any vehicle can reach may not have 50 solutions, and the
    search would only stop at the (safety) time limit: there the first solution is taken.
    """
    pos = problem.site_index

    def reachable(i: int) -> bool:
        n = problem.nodes[i]
        return any(
            problem.distance_m[v.vehicle_class][pos[v.depot], pos[n.site]] < UNREACHABLE
            for k, v in enumerate(problem.vehicles)
            if n.allowed is None or k in n.allowed
        )

    limit = 50 if sum(map(reachable, range(len(problem.nodes)))) > 2 else 1
    return solve_ortools(problem, replace(settings, work=limit, time_limit_s=5.0))


# ----------------------------------------------------------------------------- invariants
def assert_sound(plan: Plan, day: DayInput) -> None:
    """Everything a plan must satisfy, asserted from the inputs."""
    report = check_plan(plan, day.network, day.fleet, day.policy, day.orders)
    assert report.ok, "\n".join(map(str, report.violations))
    net, policy = day.network, day.policy
    orders = {o.id: o for o in day.orders}
    vehicles = {v.id: v for v in day.fleet}
    station_of = {s.id: s.parent for s in net.village_points}

    # each order on exactly one final stop (a stop at its own site) or deferred, never both
    final = Counter(
        oid
        for r in plan.routes
        for s in r.stops
        for oid in (*s.drop, *s.collect)
        if orders[oid].site == s.site
    )
    deferred = Counter(d.order for d in plan.deferred)
    for oid in orders:
        assert final[oid] + deferred[oid] == 1, (oid, final[oid], deferred[oid])
    assert set(deferred) <= set(orders)

    # loads within capacity at every stop, recorded and recomputed
    for r in plan.routes:
        v = vehicles[r.vehicle]
        load = Load()
        for s in r.stops:
            if s.kind in (StopKind.DEPART, StopKind.RELOAD):
                trip = [st for st in r.stops if st.trip == s.trip and st.kind is StopKind.VISIT]
                load = _load(orders[o] for st in trip for o in st.drop)
            elif s.kind is StopKind.VISIT:
                load = load - _load(orders[o] for o in s.drop) + _load(orders[o] for o in s.collect)
            else:
                load = Load()
            for got in (load, s.load_after):
                assert got.kg <= v.capacity_kg + 1e-6, (r.vehicle, s.site, got)
                assert got.m3 <= v.capacity_m3 + 1e-9, (r.vehicle, s.site, got)
                assert got.parcels <= v.capacity_parcels, (r.vehicle, s.site, got)
                assert min(got.kg, got.m3, got.parcels) >= -1e-6, (r.vehicle, s.site, got)

    # a village run leaves (and leaves again after a reload) no earlier than the trunk
    # arrival of every parcel it carries plus the cross-dock time
    unloaded = {
        oid: s.departure_s
        for r in plan.routes_of(Tier.TRUNK_DOWN)
        for s in r.stops
        if s.kind is StopKind.VISIT
        for oid in s.drop
    }
    for r in plan.routes_of(Tier.LAST_MILE):
        for s in r.stops:
            if s.kind not in (StopKind.DEPART, StopKind.RELOAD):
                continue
            for st in r.stops:
                if st.trip == s.trip and st.kind is StopKind.VISIT:
                    for oid in st.drop:
                        assert oid in unloaded, f"{oid} reaches {r.home} on no trunk"
                        assert s.departure_s >= unloaded[oid] + policy.cross_dock_s, (
                            r.vehicle,
                            oid,
                        )

    # deferrals: frequency waits a day (down at the station, up at the point); every
    # deferral says why and what would help; nothing is left over by the planner
    for d in plan.deferred:
        o = orders[d.order]
        assert d.site == o.site
        assert d.suggestion, d
        assert "not placed by the planner" not in d.suggestion, d
        assert d.hint is not None and d.hint.text() == d.suggestion, d  # said in any language
        if d.reason is DeferralReason.FREQUENCY:
            assert d.until == _next(day.date)
            assert not is_due(o.site, day.date)
            expected = station_of[o.site] if o.direction is Direction.DOWN else o.site
            assert d.waits_at == expected, d
    only_frequency = all(d.reason is DeferralReason.FREQUENCY for d in plan.deferred)
    assert plan.status is (PlanStatus.COMPLETE if only_frequency else PlanStatus.PARTIAL)


def _load(orders: Iterable[Order]) -> Load:
    total = Load()
    for o in orders:
        total = total + Load(o.weight_kg, o.volume_m3, o.parcels)
    return total


def _next(date: str) -> str:
    import datetime as dt

    return (dt.date.fromisoformat(date) + dt.timedelta(days=1)).isoformat()


def make_plan(
    sc: Scenario,
    *,
    network: Network | None = None,
    fleet: tuple[Vehicle, ...] | None = None,
    policy: Policy | None = None,
    orders: Iterable[Order] | None = None,
    date: str = DATE,
) -> tuple[Plan, DayInput]:
    day = DayInput(
        sc.name,
        network or sc.network,
        fleet or sc.fleet,
        policy or sc.policy,
        tuple(sc.orders if orders is None else orders),
        date,
    )
    plan = plan_day(day, time_limit_s=1.0, solve=bounded_solve)
    assert_sound(plan, day)
    return plan, day


def served(plan: Plan) -> set[str]:
    return {oid for r in plan.routes for s in r.stops for oid in (*s.drop, *s.collect)}


def deferred_by(plan: Plan, reason: DeferralReason) -> dict[str, str]:
    """Deferred order → its suggestion, for one reason."""
    return {d.order: d.suggestion for d in plan.deferred if d.reason is reason}


def with_site(net: Network, site_id: str, **changes: object) -> Network:
    sites = tuple(replace(s, **changes) if s.id == site_id else s for s in net.sites)  # type: ignore[arg-type]
    return replace(net, sites=sites)


def with_road(net: Network, road_id: str, **changes: object) -> Network:
    roads = tuple(replace(r, **changes) if r.id == road_id else r for r in net.roads)  # type: ignore[arg-type]
    return replace(net, roads=roads)


def heavy(prefix: str, direction: Direction, sites: tuple[str, ...], n: int) -> list[Order]:
    """n sacks of 100 kg (one parcel each: weight binds long before the parcel count) spread
    over some sites (round robin)."""
    return [
        Order(f"{prefix}{i:03d}", "yto", direction, sites[i % len(sites)], 100.0, 0.3, 1)
        for i in range(n)
    ]


def suggestions(plan: Plan, reason: DeferralReason = DeferralReason.CAPACITY) -> set[str]:
    return set(deferred_by(plan, reason).values())


def assert_carry_is_plausible(plan: Plan, day: DayInput) -> None:
    """'one more X at S would carry N of these M parcels': M is the parcels of the orders
    sharing the line, 0 < N <= M, and N fits X's trips by weight."""
    orders = {o.id: o for o in day.orders}
    by_text: dict[str, list[str]] = {}
    for d in plan.deferred:
        if d.reason is DeferralReason.CAPACITY:
            by_text.setdefault(d.suggestion, []).append(d.order)
    for text, ids in by_text.items():
        m = SUGGESTION.fullmatch(text)
        assert m, text
        cls, _, n, total = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        assert total == sum(orders[i].parcels for i in ids), text
        assert 0 < n <= total, text
        ref = max((v for v in day.fleet if v.vehicle_class == cls), key=lambda v: v.capacity_kg)
        trips = day.policy.max_trips if day.policy.reloads and cls != "truck" else 1
        kg_per_parcel = min(orders[i].weight_kg / orders[i].parcels for i in ids)
        assert n * kg_per_parcel <= ref.capacity_kg * trips + 1e-6, text


# ----------------------------------------------------------------------------- the tiny day
def test_tiny_day_serves_what_is_due_and_defers_the_rest(tiny: Scenario) -> None:
    plan, _ = make_plan(tiny)
    # v4, v5, v6 are small and not due today: their parcels wait at North station
    assert deferred_by(plan, DeferralReason.FREQUENCY).keys() == {"o05", "o06", "o07"}
    # o04 is bulky for v3, which only tricycles reach, and tricycles take no bulky parcels
    assert deferred_by(plan, DeferralReason.UNREACHABLE).keys() == {"o04"}
    assert len(plan.deferred) == 4
    assert plan.status is PlanStatus.PARTIAL
    # the rest is served: v1, v2 by East station's runs, o08 by the truck at the station,
    # the pickup o09 by a run and then the up truck, the co-op's o10 by the up truck
    assert {"o01", "o02", "o03", "o08", "o09", "o10"} <= served(plan)
    trunk_up = {oid for r in plan.routes_of(Tier.TRUNK_UP) for s in r.stops for oid in s.collect}
    assert trunk_up == {"o09", "o10"}
    assert {r.vehicle for r in plan.routes_of(Tier.TRUNK_DOWN)} == {"truck1"}
    assert {r.home for r in plan.routes_of(Tier.LAST_MILE)} == {"s1"}
    # the frequency-deferred parcels still ride the down truck to their station
    north = [s for r in plan.routes_of(Tier.TRUNK_DOWN) for s in r.stops if s.site == "s2"]
    assert {oid for s in north for oid in s.drop} == {"o05", "o06", "o07"}


def test_tiny_next_day_swaps_the_stations(tiny: Scenario) -> None:
    plan, _ = make_plan(tiny, date=NEXT)
    # now v1, v2, v3 are off (v2 is poor, but three visits a week allow every other day)
    assert deferred_by(plan, DeferralReason.FREQUENCY).keys() == {"o01", "o02", "o03", "o04", "o09"}
    assert {"o05", "o06", "o07"} <= served(plan)
    assert {r.home for r in plan.routes_of(Tier.LAST_MILE)} == {"s2"}


def test_poor_village_is_visited_daily_when_policy_asks_four_visits(tiny: Scenario) -> None:
    policy = replace(tiny.policy, poor_min_visits_per_week=4)
    plan, _ = make_plan(tiny, policy=policy, date=NEXT)
    assert {"o03", "o09"} <= served(plan)  # v2 (poor) today although it is not due
    assert "o01" in deferred_by(plan, DeferralReason.FREQUENCY)


def test_busy_village_is_visited_every_day(tiny: Scenario) -> None:
    extra = [Order(f"x{i}", "zto", Direction.DOWN, "v4", 1.0, 0.01, 1) for i in range(20)]
    plan, _ = make_plan(tiny, orders=[*tiny.orders, *extra])
    assert {o.id for o in extra} | {"o05"} <= served(plan)
    assert "o05" not in deferred_by(plan, DeferralReason.FREQUENCY)


def test_same_inputs_give_the_same_plan(tiny: Scenario) -> None:
    day = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, DATE)
    a = plan_day(day, time_limit_s=1.0, solve=bounded_solve)
    b = plan_day(day, time_limit_s=1.0, solve=bounded_solve)
    assert a.routes == b.routes
    assert a.deferred == b.deferred
    assert a.feeds == b.feeds


def test_two_workers_plan_the_stations_in_parallel(tiny: Scenario) -> None:
    """Both stations have work (v4 gets 20 parcels): the runs are solved in two processes
    with the default backend; the plan is held to the same invariants."""
    extra = [Order(f"x{i}", "zto", Direction.DOWN, "v4", 1.0, 0.01, 1) for i in range(20)]
    orders = (*tiny.orders, *extra)
    day = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, orders, DATE)
    plan = plan_day(day, time_limit_s=0.5, workers=2)
    assert_sound(plan, day)
    assert {r.home for r in plan.routes_of(Tier.LAST_MILE)} == {"s1", "s2"}


# ----------------------------------------------------------------------------- capacity
@pytest.mark.parametrize("copies", [1, 3, 10, 30])
def test_scaled_up_days_stay_sound(tiny: Scenario, copies: int) -> None:
    """k copies of every order: the plan stays sound at every scale, and from some scale on
    capacity runs out and the deferrals say what one more vehicle would carry."""
    orders = [replace(o, id=f"{o.id}-{k}") for k in range(copies) for o in tiny.orders]
    plan, day = make_plan(tiny, orders=orders)
    assert_carry_is_plausible(plan, day)
    if copies >= 10:  # 10 x 640 kg from the co-op alone exceed a 3 t truck
        assert deferred_by(plan, DeferralReason.CAPACITY)
        assert all(SUGGESTION.fullmatch(t) for t in suggestions(plan))


def test_last_mile_capacity_suggests_one_more_van(tiny: Scenario) -> None:
    """No reloads: East station's van (800 kg) and tricycle (300 kg) cannot carry 2 t."""
    orders = [*tiny.orders, *heavy("d", Direction.DOWN, ("v1", "v2"), 20)]
    plan, day = make_plan(tiny, orders=orders, policy=replace(tiny.policy, reloads=False))
    capacity = deferred_by(plan, DeferralReason.CAPACITY)
    assert capacity
    waits = {d.waits_at for d in plan.deferred if d.order in capacity and d.order[0] == "d"}
    assert waits == {"s1"}  # the down parcels wait at the station
    (text,) = set(capacity.values())
    m = SUGGESTION.fullmatch(text)
    assert m and m.group(1, 2) == ("van", "East station")
    assert_carry_is_plausible(plan, day)


def test_trunk_capacity_suggests_one_more_truck(tiny: Scenario) -> None:
    """3.5 t for East station's villages: more than the 3 t truck; what it leaves waits at
    the hub, and the line names the hub's truck, not the station's van."""
    orders = [*tiny.orders, *heavy("d", Direction.DOWN, ("v1", "v2"), 35)]
    plan, day = make_plan(tiny, orders=orders)
    at_hub = [d for d in plan.deferred if d.waits_at == "h"]
    assert at_hub
    assert {d.reason for d in at_hub} == {DeferralReason.CAPACITY}
    for d in at_hub:
        m = SUGGESTION.fullmatch(d.suggestion)
        assert m and m.group(1, 2) == ("truck", "County hub"), d.suggestion
    assert_carry_is_plausible(plan, day)


def test_pickups_the_up_truck_cannot_take_wait_at_their_village(tiny: Scenario) -> None:
    """4 t of pickups at v1: the runs could bring 2.4 t to the station, but the up truck
    (3 t, with the co-op's 640 kg first) cannot take them all. What it leaves is neither
    collected nor both collected and deferred: it waits at v1."""
    orders = [*tiny.orders, *heavy("u", Direction.UP, ("v1",), 40)]
    plan, day = make_plan(tiny, orders=orders)
    up = {o.id for o in orders if o.direction is Direction.UP and o.site == "v1"}
    by_trunk = {oid for r in plan.routes_of(Tier.TRUNK_UP) for s in r.stops for oid in s.collect}
    by_runs = {oid for r in plan.routes_of(Tier.LAST_MILE) for s in r.stops for oid in s.collect}
    assert by_runs & up <= by_trunk  # nothing collected at v1 is left at the station
    waiting = [d for d in plan.deferred if d.order in up]
    assert waiting
    assert {d.waits_at for d in waiting} == {"v1"}
    assert {d.reason for d in waiting} == {DeferralReason.CAPACITY}
    assert_carry_is_plausible(plan, day)


# ----------------------------------------------------------------------------- reachability
def test_closed_lane_makes_villages_unreachable(tiny: Scenario) -> None:
    """L1 closed: nothing reaches v1 and v2 (a bundle would refuse this network, so it is
    built in code). Their parcels wait at East station, the pickup at v2."""
    net = with_road(tiny.network, "L1", closed=True)
    plan, _ = make_plan(tiny, network=net)
    unreachable = deferred_by(plan, DeferralReason.UNREACHABLE)
    assert unreachable.keys() == {"o01", "o02", "o03", "o04", "o09"}
    waits = {d.order: d.waits_at for d in plan.deferred}
    assert [waits[o] for o in ("o01", "o02", "o03", "o09")] == ["s1", "s1", "s1", "v2"]
    assert "reopen the road" in unreachable["o01"]
    assert "Liuzhuang" in unreachable["o01"]
    assert not plan.routes_of(Tier.LAST_MILE)


# ----------------------------------------------------------------------------- time
def test_point_opening_after_the_runs_suggests_opening_earlier(tiny: Scenario) -> None:
    net = with_site(tiny.network, "v1", opens_s=19 * 3600 + 1800)
    plan, _ = make_plan(tiny, network=net)
    late = deferred_by(plan, DeferralReason.TIME)
    assert late.keys() == {"o01", "o02"}
    text = late["o01"]
    assert text.startswith("Liuzhuang opens at 19:30")
    hh, mm = map(int, re.search(r"opening by (\d\d):(\d\d)", text).groups())  # type: ignore[union-attr]
    assert hh * 3600 + mm * 60 < 19 * 3600 + 1800
    assert {"o03", "o09"} <= served(plan)


def test_point_closing_before_the_runs_suggests_staying_open(tiny: Scenario) -> None:
    """v1 closes at 09:00, before East station's parcels are even off the truck."""
    net = with_site(tiny.network, "v1", opens_s=8 * 3600, closes_s=9 * 3600)
    plan, _ = make_plan(tiny, network=net)
    late = deferred_by(plan, DeferralReason.TIME)
    assert late.keys() == {"o01", "o02"}
    m = re.fullmatch(
        r"keeping Liuzhuang open (\d+) min longer \(until (\d\d:\d\d)\) would fit it", late["o01"]
    )
    assert m, late["o01"]
    assert int(m.group(1)) % 10 == 0 and int(m.group(1)) > 0


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("file", "old", "new", "location", "field"),
    [
        # an order for a site the network does not have
        ("orders.csv", "o05,ems,down,v4,", "o05,ems,down,v99,", "row 5", "site"),
        # a vehicle that carries nothing
        ("fleet.csv", "van1,van,s1,800,", "van1,van,s1,0,", "row 2", "capacity_kg"),
        # an order of an unknown direction
        ("orders.csv", "o09,ems,up,", "o09,ems,sideways,", "row 9", "direction"),
        # a vehicle living at a village point
        ("fleet.csv", "tri1,tricycle,s1,", "tri1,tricycle,v1,", "row 3", "home"),
    ],
)
def test_bad_bundle_gives_one_clear_error(
    tiny_copy: Path, file: str, old: str, new: str, location: str, field: str
) -> None:
    path = tiny_copy / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(InvalidScenario) as info:
        load_bundle(tiny_copy)
    err = info.value
    assert (err.source, err.field) == (file, field)
    assert err.location.startswith(location)
    assert file in str(err) and location in str(err) and field in str(err)


def test_unchanged_copy_loads(tiny_copy: Path, tiny: Scenario) -> None:
    """The control for the table above: the copy itself is fine."""
    assert load_bundle(tiny_copy).orders == tiny.orders
