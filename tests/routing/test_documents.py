"""routing.documents on the tiny day: PDF route sheets and manifests in English and Chinese
carry the stops' keepers with their full phones, the lot codes of the orders on board, and a
QR code per lot that decodes back to the lot code (read from the PDF's embedded images with
zxing-cpp). The plan is made once (bounded by solutions); each test renders PDFs in memory.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import pypdf
import pytest
import zxingcpp

from routing import DayInput, plan_day
from routing.model import Direction
from routing.plan import Plan, StopKind, Tier
from routing.present.documents import lot_codes, manifest_pdf, route_sheet_pdf, write_pdf_documents
from scenarios.bundle import Scenario

DATE = "2026-12-01"


@pytest.fixture(scope="module")
def day(tiny: Scenario) -> DayInput:
    """The tiny day with a traceability lot on every upstream order and on every third
    downstream one (the bundle's own orders carry none)."""
    orders = tuple(
        replace(o, lot=f"L20261201-{o.site}-{n:06d}")
        if o.direction is Direction.UP or n % 3 == 0
        else o
        for n, o in enumerate(tiny.orders)
    )
    return DayInput(tiny.name, tiny.network, tiny.fleet, tiny.policy, orders, DATE)


@pytest.fixture(scope="module")
def plan(day: DayInput) -> Plan:
    return plan_day(day, time_limit_s=2, work=30, workers=1)


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def decoded_qr(pdf: bytes) -> list[str]:
    """Every QR code among the PDF's embedded images, decoded."""
    found: list[str] = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:
        for image in page.images:
            found += [b.text for b in zxingcpp.read_barcodes(image.image)]
    return found


def village_run(plan: Plan, day: DayInput) -> str:
    """The vehicle of a village run that stops at a site with a keeper's phone."""
    return next(
        r.vehicle
        for r in plan.routes
        if r.tier is Tier.LAST_MILE
        and any(s.kind is StopKind.VISIT and day.network.site(s.site).phone for s in r.stops)
    )


def lots_on(plan: Plan, day: DayInput, vehicle: str) -> set[str]:
    by_id = {o.id: o for o in day.orders}
    return {
        by_id[oid].lot
        for r in plan.routes
        if r.vehicle == vehicle
        for s in r.stops
        for oid in (*s.drop, *s.collect)
        if by_id[oid].lot
    }


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_route_sheet_names_keepers_with_full_phones(plan: Plan, day: DayInput, lang: str) -> None:
    vehicle = village_run(plan, day)
    text = text_of(route_sheet_pdf(vehicle, plan, day, lang))
    assert vehicle in text and DATE in text
    visits = [
        day.network.site(s.site)
        for r in plan.routes
        if r.vehicle == vehicle
        for s in r.stops
        if s.kind is StopKind.VISIT
    ]
    assert visits
    for site in visits:
        assert site.name in text
        if site.keeper:
            assert site.keeper in text and site.phone in text
    assert ("Route sheet" in text) == (lang == "en")
    assert ("路线单" in text) == (lang == "zh")
    assert ("司机签字" if lang == "zh" else "Driver's signature") in text


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_manifest_shows_every_lot_and_its_qr_decodes_to_it(
    plan: Plan, day: DayInput, lang: str
) -> None:
    for vehicle in {r.vehicle for r in plan.routes}:
        lots = lots_on(plan, day, vehicle)
        pdf = manifest_pdf(vehicle, plan, day, lang)
        text = text_of(pdf).replace("\n", "")
        for lot in lots:
            assert lot in text, (vehicle, lot)
        assert sorted(decoded_qr(pdf)) == sorted(lots), vehicle
    assert any(lots_on(plan, day, v) for v in {r.vehicle for r in plan.routes})


def test_write_pdf_documents_writes_a_sheet_and_a_manifest_per_vehicle(
    plan: Plan, day: DayInput, tmp_path: Path
) -> None:
    files = write_pdf_documents(plan, day, tmp_path, lang="zh")
    vehicles = {r.vehicle for r in plan.routes}
    assert {p.name for p in files} == {
        f"{k}-{v}.pdf" for v in vehicles for k in ("sheet", "manifest")
    }
    for path in files:
        assert path.read_bytes().startswith(b"%PDF")
        page = pypdf.PdfReader(path).pages[0]
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert abs(width - 595.3) < 1 and abs(height - 841.9) < 1  # A4 portrait


def test_chinese_text_and_number_plates_survive(day: DayInput, plan: Plan) -> None:
    """A Chinese site name and a plate with a middle dot (no glyph in the CID font: set as
    the katakana middle dot) come out of the PDF as text."""
    vehicle = village_run(plan, day)
    site_id = next(
        s.site
        for r in plan.routes
        if r.vehicle == vehicle
        for s in r.stops
        if s.kind is StopKind.VISIT
    )
    sites = tuple(replace(s, name="北寨村") if s.id == site_id else s for s in day.network.sites)
    network = replace(day.network, sites=sites)
    fleet = tuple(replace(v, name="豫C·K8740") if v.id == vehicle else v for v in day.fleet)
    zh_day = replace(day, network=network, fleet=fleet)
    text = text_of(route_sheet_pdf(vehicle, plan, zh_day, "zh"))
    assert "北寨村" in text
    assert "豫C・K8740" in text


def test_an_unknown_vehicle_is_a_key_error(plan: Plan, day: DayInput) -> None:
    with pytest.raises(KeyError):
        route_sheet_pdf("no-such-van", plan, day)


def test_lot_codes_are_distinct_and_skip_orders_without_one(day: DayInput) -> None:
    codes = lot_codes(day.orders)
    assert len(codes) == len(set(codes)) == sum(1 for o in day.orders if o.lot)


def test_plan_pdf_writes_the_documents(tiny_path: Path, tmp_path: Path) -> None:
    """``countyroute plan … --lang zh --pdf`` writes a sheet and a manifest per vehicle."""
    from dispatch_api.cli import main

    argv = ["plan", str(tiny_path), "--date", DATE, "--solution-limit", "20", "--workers", "1"]
    assert main([*argv, "--lang", "zh", "--pdf", "--out", str(tmp_path)]) == 0
    plan = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    vehicles = {r["vehicle"] for r in plan["routes"]}
    names = {p.name for p in (tmp_path / "pdf").iterdir()}
    assert names == {f"{k}-{v}.pdf" for v in vehicles for k in ("sheet", "manifest")}
    assert "路线单" in text_of((tmp_path / "pdf" / f"sheet-{min(vehicles)}.pdf").read_bytes())
