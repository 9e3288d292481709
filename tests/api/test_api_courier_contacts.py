"""The courier route as its assigned courier and a dispatcher read it: a village point
keeper's full phone (to call ahead); the route sheet and manifest as PDFs."""

from __future__ import annotations

import io

import pypdf
from conftest import Keys, auth
from fastapi.testclient import TestClient

KEEPER_PHONE = "13900000001"  # Liu Fang at v1 (tests/data/tiny/network.geojson)


def test_the_route_visiting_v1_shows_its_keepers_full_phone(
    client: TestClient, keys: Keys, tiny_plan: int
) -> None:
    shown = []
    for vehicle in ("tri1", "van1"):
        r = client.get(f"/plans/{tiny_plan}/routes/{vehicle}", headers=auth(keys.dispatcher))
        if r.status_code == 404:  # this vehicle has no route today
            continue
        assert r.status_code == 200, r.text
        for route in r.json()["routes"]:
            for stop in route["stops"]:
                if stop["site"] == "v1" and stop["kind"] == "visit":
                    shown.append(stop["contact"])
    assert shown, "no route visits v1"
    assert all(c == {"keeper": "Liu Fang", "phone": KEEPER_PHONE} for c in shown)


def test_route_sheet_and_manifest_pdfs(client: TestClient, keys: Keys, tiny_plan: int) -> None:
    """The assigned courier downloads their sheet and manifest as PDFs; another courier may
    not; an unknown vehicle is 404."""
    for kind in ("sheet", "manifest"):
        url = f"/plans/{tiny_plan}/routes/tri1/{kind}.pdf"
        r = client.get(f"{url}?lang=zh", headers=auth(keys.courier))
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
        assert r.content.startswith(b"%PDF")
        text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(r.content)).pages)
        assert "tri1" in text and ("路线单" if kind == "sheet" else "交接清单") in text
        assert client.get(url, headers=auth(keys.other_courier)).status_code == 403
    r = client.get(f"/plans/{tiny_plan}/routes/van9/sheet.pdf", headers=auth(keys.dispatcher))
    assert r.status_code == 404
    r = client.get(
        f"/plans/{tiny_plan}/routes/tri1/sheet.pdf?lang=fr", headers=auth(keys.dispatcher)
    )
    assert r.status_code == 422
