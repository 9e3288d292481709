"""The pooling benchmark's last mile counts what the village runs deferred, not what the
trunk waves deferred (the peer it is compared with plans the last mile only)."""

from __future__ import annotations

from dataclasses import replace

from benchmarks.pooling import _by_trunk, _last_mile, _trunk_deferred
from routing import DayInput, plan_day
from routing.plan import DeferralReason, Deferred, Hint
from scenarios.bundle import Scenario


def test_the_trunks_deferrals_are_told_apart_from_the_village_runs(tiny: Scenario) -> None:
    day = DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, tiny.orders, "2026-12-01")
    plan = plan_day(day, time_limit_s=30, work=20)
    net = tiny.network
    hub, station = net.hubs[0], net.stations[0]
    village = net.children(station.id, net.village_points[0].kind)[0]
    served = {oid for r in plan.routes for s in r.stops for oid in (*s.drop, *s.collect)}
    picked = [o for o in tiny.orders if o.id in served][:5]
    a, b, c, d, e = picked
    hints = {
        a.id: Hint.of("depart_earlier", site=station.name),  # the up wave's round trip
        b.id: Hint.of("depart_earlier", site=village.name),  # a village run's
        c.id: Hint.of("one_more_vehicle", vehicle_class="truck", home=hub.name, carry=1, parcels=1),
        d.id: Hint.of(
            "one_more_vehicle", vehicle_class="van", home=station.name, carry=1, parcels=1
        ),
        e.id: Hint.of("no_trunk_plan"),
    }
    deferred = tuple(
        Deferred(o.id, o.site, DeferralReason.TIME, "2026-12-02", hint=hints[o.id]) for o in picked
    )
    routes = tuple(
        replace(
            r,
            stops=tuple(
                replace(
                    s,
                    drop=tuple(x for x in s.drop if x not in hints),
                    collect=tuple(x for x in s.collect if x not in hints),
                )
                for s in r.stops
            ),
        )
        for r in plan.routes
    )
    marked = replace(plan, routes=routes, deferred=(*plan.deferred, *deferred))
    assert _by_trunk(marked, net) == {a.id, c.id, e.id}
    price = 50.0
    weight = {o.id: o.parcels * (1 + o.priority) for o in picked}
    assert _trunk_deferred(marked, tiny.orders, price, net) == price * (
        weight[a.id] + weight[c.id] + weight[e.id]
    )
    base = _last_mile(replace(plan, routes=routes), tiny.orders, price, net)
    assert _last_mile(marked, tiny.orders, price, net) == base + price * (
        weight[b.id] + weight[d.id]
    )
