"""routing.changes on hand-made plans: what a dispatcher is told after a repair."""

from __future__ import annotations

from routing.changes import plan_changes
from routing.model import Direction, Order
from routing.plan import DeferralReason, Deferred, Plan, PlanStatus, Route, Stop, StopKind, Tier


def visit(site: str, drop: tuple[str, ...] = ()) -> Stop:
    return Stop(site, StopKind.VISIT, 0, 0, 0, drop=drop)


def run(vehicle: str, *stops: Stop) -> Route:
    home = (Stop("s1", StopKind.DEPART, 0, 0, 0),)
    back = (Stop("s1", StopKind.RETURN, 0, 0, 0),)
    return Route(vehicle, "van", Tier.LAST_MILE, "down-1", "s1", home + stops + back, 0, 0.0)


def plan(*routes: Route, deferred: tuple[Deferred, ...] = ()) -> Plan:
    return Plan("t", "v", "2026-12-01", PlanStatus.COMPLETE, routes, deferred)


ORDERS = {
    "a": Order("a", "zto", Direction.DOWN, "v1", 1, 0.01, parcels=3),
    "b": Order("b", "zto", Direction.DOWN, "v2", 1, 0.01, parcels=2),
    "c": Order("c", "yto", Direction.DOWN, "v3", 1, 0.01, parcels=5),
    "u": Order("u", "yto", Direction.DOWN, "v3", 1, 0.01, parcels=1),
}


def test_a_van_down_moves_its_stops_to_another_van() -> None:
    """van2 breaks down: its stop v2 goes to van1, v3's order is deferred, an urgent one is
    served by a third van."""
    before = plan(
        run("van1", visit("v1", ("a",))), run("van2", visit("v2", ("b",)), visit("v3", ("c",)))
    )
    after = plan(
        run("van1", visit("v1", ("a",)), visit("v2", ("b",))),
        run("van2"),
        run("van3", visit("v3", ("u",))),
        deferred=(Deferred("c", "v3", DeferralReason.CAPACITY, "2026-12-02"),),
    )
    ch = plan_changes(before, after, ORDERS)
    assert ch.vehicles_added == ("van3",)
    assert ch.vehicles_changed == ("van1", "van2")
    assert ch.stops_moved == (("v2", "van2", "van1"), ("v3", "van2", "van3"))
    assert (ch.orders_reassigned, ch.parcels_reassigned) == (1, 2)  # b
    assert (ch.orders_newly_deferred, ch.parcels_newly_deferred) == (1, 5)  # c
    assert (ch.orders_newly_served, ch.parcels_newly_served) == (1, 1)  # u
    text = "\n".join(ch.lines())
    assert "vehicles added: van3" in text and "v2: van2 -> van1" in text
    assert "parcels re-assigned: 2 (1 orders)" in text


def test_the_same_plan_has_no_change() -> None:
    p = plan(run("van1", visit("v1", ("a",))))
    assert plan_changes(p, p, ORDERS).lines() == ["no change to any route"]
