"""The plan model's one settlement method (routing.plan.share_routes), on hand-made routes
whose shares are worked out by hand."""

from __future__ import annotations

import pytest

from routing.model import Direction, Order
from routing.plan import Route, Stop, StopKind, Tier, share_routes

ORDERS = {
    o.id: o
    for o in (
        Order("a", "zto", Direction.DOWN, "v1", 1.0, 0.01, parcels=3),
        Order("b", "yto", Direction.DOWN, "v1", 1.0, 0.01, parcels=1),
        Order("c", "yto", Direction.UP, "v2", 1.0, 0.01, parcels=4),
    )
}


def van(home: str, *stops: Stop, km: float, cost: float) -> Route:
    depart = Stop(home, StopKind.DEPART, 0, 0, 0)
    back = Stop(home, StopKind.RETURN, 0, 0, 0)
    return Route(
        "van", "van", Tier.LAST_MILE, "", home, (depart, *stops, back), int(km * 1000), cost
    )


def visit(site: str, drop: tuple[str, ...] = (), collect: tuple[str, ...] = ()) -> Stop:
    return Stop(site, StopKind.VISIT, 0, 0, 0, drop=drop, collect=collect)


def test_a_route_is_shared_by_the_parcels_it_carries_for_each_party() -> None:
    """One van, 10 km and 80 yuan, drops 3 + 1 parcels at v1 and collects 4 at v2: zto's 3
    of 8 parcels pay 3/8 (3.75 km, 30 yuan), yto's 5 of 8 pay the rest; a second van of
    4 km and 20 yuan carries only yto's order c again and is yto's alone."""
    one = van("s1", visit("v1", drop=("a", "b")), visit("v2", collect=("c",)), km=10, cost=80)
    two = van("s1", visit("v2", collect=("c",)), km=4, cost=20)
    shares = share_routes([one, two], ORDERS, lambda r, s, o: o.carrier)
    assert set(shares) == {"zto", "yto"}
    zto, yto = shares["zto"], shares["yto"]
    assert (zto.parcels, zto.orders, zto.sites) == (3, frozenset({"a"}), frozenset({"v1"}))
    assert (zto.km, zto.cost) == pytest.approx((3.75, 30.0))
    # c counted on both routes it rides (as a trunk handover and a final stop would be)
    assert (yto.parcels, yto.orders, yto.sites) == (
        1 + 4 + 4,
        frozenset({"b", "c"}),
        frozenset({"v1", "v2"}),
    )
    assert (yto.km, yto.cost) == pytest.approx((6.25 + 4, 50.0 + 20))


def test_orders_of_nobody_and_unknown_orders_leave_the_route_to_the_others() -> None:
    """A party of None (here: v2's order) is out of the route's parcels, so v1's parties
    share the whole route; an order id the mapping does not hold counts for nobody."""
    route = van(
        "s1", visit("v1", drop=("a", "b", "zz")), visit("v2", collect=("c",)), km=8, cost=40
    )
    shares = share_routes([route], ORDERS, lambda r, s, o: None if s.site == "v2" else o.carrier)
    assert set(shares) == {"zto", "yto"}
    assert (shares["zto"].km, shares["zto"].cost) == pytest.approx((6.0, 30.0))
    assert (shares["yto"].km, shares["yto"].cost) == pytest.approx((2.0, 10.0))
    assert sum(x.parcels for x in shares.values()) == 4


def test_a_route_that_carries_nothing_is_nobodys() -> None:
    empty = van("s1", visit("v1"), km=5, cost=30)
    assert share_routes([empty], ORDERS, lambda r, s, o: o.carrier) == {}
