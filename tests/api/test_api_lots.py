"""Lots end to end through the API: orders imported with lot codes show them on the courier
route; a courier event may name a lot (a scan of the manifest's QR code) instead of orders;
``/trace/{lot}`` follows the lot to that event. A lot handed over elsewhere is a 422 naming
``lots``."""

from __future__ import annotations

import csv
import io

from conftest import TINY, Keys, auth
from fastapi.testclient import TestClient

DAY = "2026-12-02"


def orders_with_lots() -> str:
    """The tiny orders with a lot code on each (``LOT-<order id>``)."""
    rows = list(csv.DictReader(io.StringIO((TINY / "orders.csv").read_text(encoding="utf-8"))))
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=[*rows[0].keys(), "lot"], lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "lot": f"LOT-{r['id']}"})
    return out.getvalue()


def test_an_event_naming_a_lot_is_traced(client: TestClient, keys: Keys) -> None:
    r = client.post(
        f"/networks/tiny/orders?date={DAY}",
        content=orders_with_lots().encode(),
        headers={**auth(keys.dispatcher), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    r = client.post(
        "/networks/tiny/plans", json={"date": DAY, "time_limit_s": 1}, headers=auth(keys.dispatcher)
    )
    assert r.status_code == 202, r.text
    plan_id = int(client.get(r.headers["Location"], headers=auth(keys.dispatcher)).json()["plan"])
    assert (
        client.post(f"/plans/{plan_id}/publish", headers=auth(keys.dispatcher)).status_code == 200
    )

    stops = []  # (route id, stop) of every stop with lots, over the village runs
    for vehicle in ("tri1", "van1", "van2"):
        r = client.get(f"/plans/{plan_id}/routes/{vehicle}", headers=auth(keys.dispatcher))
        if r.status_code == 404:  # no route for this vehicle today
            continue
        for route in r.json()["routes"]:
            if route["tier"] == "last_mile":
                stops += [(route["route"], st) for st in route["stops"] if st.get("lots")]
    assert stops, "no village stop carries a lot"
    route_id, stop = stops[0]
    lot, order = stop["lots"][0]["lot"], stop["lots"][0]["order"]
    assert lot == f"LOT-{order}"

    event = {
        "route": route_id,
        "stop": stop["i"],
        "type": "delivered" if stop.get("drop") else "collected",
        "at": f"{DAY}T10:00:00+08:00",
        "lots": [lot],
    }
    r = client.put(f"/plans/{plan_id}/events/scan-1", json=event, headers=auth(keys.dispatcher))
    assert r.status_code == 201, r.text

    trace = client.get(f"/trace/{lot}", headers=auth(keys.dispatcher)).json()
    events = [e for o in trace["orders"] for leg in o["legs"] for e in leg["events"]]
    assert [e["id"] for e in events] == ["scan-1"]

    # a lot that is not handed over at this stop (another stop's, or none at all)
    here = {x["lot"] for x in stop["lots"]}
    elsewhere = [x["lot"] for _, st in stops for x in st["lots"] if x["lot"] not in here]
    bad = {**event, "lots": [elsewhere[0] if elsewhere else "LOT-nowhere"]}
    r = client.put(f"/plans/{plan_id}/events/scan-2", json=bad, headers=auth(keys.dispatcher))
    assert r.status_code == 422 and "lots" in r.text
