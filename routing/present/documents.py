"""Printable documents for drivers and station keepers: PDF route sheets and manifests (A4).

:func:`write_pdf_documents` writes, per vehicle of the plan:

``sheet-<vehicle>.pdf``
    The route sheet: vehicle, driver, home station and its keeper; per route the stops in
    order with arrival and departure (``HH:MM``), the village point keeper's name and *full*
    phone (the sheet goes to the assigned driver, who must be able to call ahead; masking is
    for recipients and other people's data), opening hours, parcels dropped and collected by
    carrier, the load after each stop; the loading order; totals; signature lines.
``manifest-<vehicle>.pdf``
    Every bag (the parcels of one carrier for one stop) with its parcels, kilograms and order
    ids, and a QR code per traceability lot carrying the lot code (what a courier scans to
    report a lot, and what ``/trace/{lot}`` follows); totals per stop and for the vehicle; a
    receiving signature per stop.

Chinese (``lang="zh"``) and English (``"en"``). Text is set in reportlab's built-in CID font
``STSong-Light`` (Adobe-GB1, no font file needed: PDF readers supply the glyphs), which covers
Latin letters and digits too, so one font serves both languages. QR codes are made by segno
and embedded as PNG images. Units as in routing.present.outputs: ``HH:MM``, kilometres, kilograms.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import segno
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import HRFlowable

from networks import Network
from routing.inputs import DayInput
from routing.model import Order, Vehicle
from routing.plan import Plan, Route, StopKind
from routing.present.outputs import (
    _CLASS_ZH,
    _LABELS,
    _bags,
    _carrier,
    _file_part,
    _hhmm,
    _load_sequence,
    _order,
    _orders,
    _route_sort_key,
    _site_name,
    _with_plan_parts,
)

__all__ = ["lot_codes", "manifest_pdf", "route_sheet_pdf", "write_pdf_documents"]

FONT = "STSong-Light"
"""reportlab's built-in simplified-Chinese CID font (needs no font file)."""

_EXTRA: Mapping[str, Mapping[str, str]] = {
    "en": {
        "manifest": "Manifest",
        "hours": "Open",
        "keeper_short": "Keeper / phone",
        "lots": "Lots (scan the code)",
        "orders": "Orders",
        "totals": "Totals",
        "dropped": "dropped",
        "collected": "collected",
        "received": "Received by (signature)",
        "dispatcher": "Dispatcher's signature",
        "keeper_sig": "Station keeper's signature (handover)",
        "kg": "kg",
        "page": "Page",
        "no_bags": "Nothing to hand over.",
        "stop_total": "Stop total",
        "vehicle_total": "Vehicle total",
    },
    "zh": {
        "manifest": "交接清单",
        "hours": "营业时间",
        "keeper_short": "负责人 / 电话",
        "lots": "溯源批次（扫码）",
        "orders": "订单",
        "totals": "合计",
        "dropped": "投递",
        "collected": "揽收",
        "received": "签收人（签字）",
        "dispatcher": "调度签字",
        "keeper_sig": "站点负责人签字（交接）",
        "kg": "公斤",
        "page": "第",
        "no_bags": "本站无交接。",
        "stop_total": "本站合计",
        "vehicle_total": "本车合计",
    },
}


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


@dataclass(frozen=True, slots=True)
class _Styles:
    title: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    cell: ParagraphStyle
    small: ParagraphStyle


def _styles() -> _Styles:
    _register_font()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13)
    return _Styles(
        title=ParagraphStyle("title", parent=body, fontSize=16, leading=20, spaceAfter=4),
        heading=ParagraphStyle(
            "heading", parent=body, fontSize=12, leading=16, spaceBefore=8, spaceAfter=3
        ),
        body=body,
        cell=ParagraphStyle("cell", parent=body, fontSize=8, leading=10),
        small=ParagraphStyle("small", parent=body, fontSize=7, leading=9),
    )


def _t(lang: str) -> dict[str, str]:
    return {**_LABELS[lang], **_EXTRA[lang]}


# Characters STSong-Light (Adobe-GB1 through UniGB-UCS2-H) has no glyph for, and what to set
# instead: the middle dot of number plates (豫C·K8740) and of separators, superscript three.
_NO_GLYPH = str.maketrans({"·": "・", "•": "・", "‧": "・", "³": "3", "²": "2"})


def _esc(text: object) -> str:
    """Text for a reportlab Paragraph (a small XML dialect) in the CID font."""
    return (
        str(text)
        .translate(_NO_GLYPH)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def _grid(rows: Sequence[Sequence[Any]], widths: Sequence[float], *, header_rows: int = 1) -> Table:
    table = Table(list(rows), colWidths=list(widths), repeatRows=header_rows)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor("#e8eef6")),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _qr(code: str, size_mm: float = 22.0) -> Image:
    """A QR code carrying ``code`` as an embedded PNG (error correction M, quiet zone 4)."""
    png = io.BytesIO()
    segno.make(code, error="m").save(png, kind="png", scale=6, border=4)
    png.seek(0)
    return Image(png, width=size_mm * mm, height=size_mm * mm)


def lot_codes(orders: Sequence[Order]) -> list[str]:
    """The distinct lot codes of these orders, in first-seen order.

    >>> from routing.model import Direction
    >>> a = Order("o1", "zto", Direction.UP, "v1", 1.0, 0.01, lot="L1")
    >>> b = Order("o2", "zto", Direction.UP, "v1", 1.0, 0.01)
    >>> lot_codes([a, b, a])
    ['L1']
    """
    return list(dict.fromkeys(o.lot for o in orders if o.lot))


def _keeper(network: Network, site_id: str, t: Mapping[str, str]) -> str:
    """Keeper's name and full phone: this document goes to the assigned driver."""
    try:
        site = network.site(site_id)
    except KeyError:
        return ""
    return " ".join(p for p in (site.keeper, site.phone) if p) or t["unknown"]


def _hours(network: Network, site_id: str) -> str:
    try:
        site = network.site(site_id)
    except KeyError:
        return ""
    return f"{_hhmm(site.opens_s)}–{_hhmm(site.closes_s)}"


def _per_carrier(orders: Sequence[Order], lang: str, t: Mapping[str, str]) -> str:
    counts: Counter[str] = Counter()
    for o in orders:
        counts[o.carrier] += o.parcels
    return ", ".join(f"{_carrier(c, lang)} {n}" for c, n in sorted(counts.items())) or t["none"]


def _vehicle_routes(plan: Plan) -> dict[str, list[Route]]:
    out: dict[str, list[Route]] = {}
    for route in sorted(plan.routes, key=_route_sort_key):
        out.setdefault(route.vehicle, []).append(route)
    return out


def _header(
    vehicle_id: str,
    routes: Sequence[Route],
    plan: Plan,
    day: DayInput,
    title: str,
    lang: str,
    st: _Styles,
) -> list[Flowable]:
    t = _t(lang)
    net = day.network
    vehicle: Vehicle | None = next((v for v in day.fleet if v.id == vehicle_id), None)
    cls = routes[0].vehicle_class
    cls_text = _CLASS_ZH.get(cls, cls) if lang == "zh" else cls
    plate = f" ({vehicle.name})" if vehicle and vehicle.name else ""
    out: list[Flowable] = [Paragraph(_esc(f"{title} — {vehicle_id}{plate}"), st.title)]
    rows = [
        [t["date"], plan.date, t["scenario"], plan.scenario],
        [t["vehicle"], vehicle_id, t["class"], cls_text],
    ]
    if vehicle is not None:
        rows.append(
            [
                t["driver"],
                vehicle.driver or t["unknown"],
                t["phone"],
                vehicle.phone or t["unknown"],
            ]
        )
        rows.append(
            [
                t["capacity"],
                f"{vehicle.capacity_kg:g} kg / {vehicle.capacity_m3:g} m³ / "
                f"{vehicle.capacity_parcels} {t['parcels']}",
                "",
                "",
            ]
        )
    home = routes[0].home
    rows.append(
        [t["home"], f"{_site_name(net, home)} ({home})", t["keeper"], _keeper(net, home, t)]
    )
    cells = [[Paragraph(_esc(c), st.cell) for c in row] for row in rows]
    table = _grid(cells, (28 * mm, 62 * mm, 30 * mm, 62 * mm), header_rows=0)
    table.setStyle(TableStyle([("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2"))]))
    out += [table, Spacer(1, 4 * mm)]
    return out


def _signatures(labels: Sequence[str], st: _Styles) -> Flowable:
    rows = [[Paragraph(_esc(label), st.body), ""] for label in labels]
    table = Table(rows, colWidths=(70 * mm, 80 * mm), rowHeights=[11 * mm] * len(rows))
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("LINEBELOW", (1, 0), (1, -1), 0.6, colors.black),
            ]
        )
    )
    return KeepTogether([Spacer(1, 4 * mm), table])


def _build(flow: list[Flowable], title: str, lang: str) -> bytes:
    buf = io.BytesIO()
    t = _t(lang)

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        page = f"{t['page']} {doc.page}" + (" 页" if lang == "zh" else "")
        canvas.drawRightString(A4[0] - 14 * mm, 8 * mm, f"{title} ・ {page}".translate(_NO_GLYPH))
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=title,
        author="countyroute",
        lang="zh-CN" if lang == "zh" else "en",
    )
    doc.build(flow, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def route_sheet_pdf(vehicle_id: str, plan: Plan, day: DayInput, lang: str = "en") -> bytes:
    """The route sheet of one vehicle as a PDF (A4).

    Parameters
    ----------
    vehicle_id
        A vehicle with at least one route in ``plan``.
    plan, day
        The plan and the inputs it was made from (names, keepers, orders).
    lang
        ``"en"`` or ``"zh"``.

    Raises
    ------
    KeyError
        When the vehicle has no route in the plan.
    """
    routes = _vehicle_routes(plan)[vehicle_id]
    t = _t(lang)
    st = _styles()
    net = day.network
    orders = _orders(day)
    title = f"{t['title']} {plan.date} {vehicle_id}"
    flow = _header(vehicle_id, routes, plan, day, t["title"], lang, st)
    tot_drop = tot_collect = tot_m = 0
    for route in routes:
        first, last = route.stops[0], route.stops[-1]
        flow.append(
            Paragraph(_esc(f"{t[route.tier.value]} — {t['wave']} {route.wave}"), st.heading)
        )
        flow.append(
            Paragraph(
                _esc(
                    f"{t['leaves']} {_hhmm(first.departure_s)} · {t['back']} "
                    f"{_hhmm(last.arrival_s)} · {t['distance']} {route.distance_m / 1000:.1f} "
                    f"{t['km']} · {t['duration']} {route.duration_s / 60:.0f} {t['min']} · "
                    f"{t['trips']} {route.trips}"
                ),
                st.body,
            )
        )
        tot_m += route.distance_m
        head = [
            t["seq"],
            t["arrive"],
            t["depart"],
            t["site"],
            t["keeper_short"],
            t["hours"],
            t["drop"],
            t["collect"],
            t["load_after"],
        ]
        rows: list[list[Any]] = [[Paragraph(_esc(h), st.cell) for h in head]]
        for i, stop in enumerate(route.stops):
            drop = [_order(orders, o) for o in stop.drop]
            collect = [_order(orders, o) for o in stop.collect]
            if stop.kind is StopKind.VISIT and stop.site != route.home:
                tot_drop += sum(o.parcels for o in drop)
                tot_collect += sum(o.parcels for o in collect)
            site = f"{_site_name(net, stop.site)} ({stop.site})"
            if stop.kind is not StopKind.VISIT:
                site = f"{site} — {t[f'{stop.kind.value}_kind']}"
            visit = stop.kind is StopKind.VISIT
            la = stop.load_after
            row = [
                str(i),
                _hhmm(stop.arrival_s) if stop.kind is not StopKind.DEPART else "",
                _hhmm(stop.departure_s) if stop.kind is not StopKind.RETURN else "",
                site,
                _keeper(net, stop.site, t) if visit else "",
                _hours(net, stop.site) if visit else "",
                _per_carrier(drop, lang, t),
                _per_carrier(collect, lang, t),
                f"{la.parcels} {t['parcels']}, {la.kg:.0f} kg",
            ]
            rows.append([Paragraph(_esc(c), st.cell) for c in row])
        widths = [w * mm for w in (8, 12, 12, 36, 34, 19, 25, 20, 16)]
        flow.append(_grid(rows, widths))
        load_seq = _load_sequence(route, orders)
        if load_seq:
            flow.append(Paragraph(_esc(t["loading"]), st.heading))
            flow.append(Paragraph(_esc(t["loading_note"]), st.small))
            lrows: list[list[Any]] = [
                [
                    Paragraph(_esc(h), st.cell)
                    for h in (t["trip"], t["bag"], t["for_stop"], t["drop"])
                ]
            ]
            for (i, carrier), n in sorted(
                load_seq.items(), key=lambda kv: (route.stops[kv[0][0]].trip, kv[1])
            ):
                stop = route.stops[i]
                bag = [o for o in (_order(orders, x) for x in stop.drop) if o.carrier == carrier]
                where = f"#{i} {_site_name(net, stop.site)} ({stop.site})"
                what = (
                    f"{_carrier(carrier, lang)} {sum(o.parcels for o in bag)} {t['parcels']}, "
                    f"{sum(o.weight_kg for o in bag):.1f} kg"
                )
                lrows.append(
                    [Paragraph(_esc(c), st.cell) for c in (str(stop.trip + 1), str(n), where, what)]
                )
            flow.append(_grid(lrows, [w * mm for w in (14, 14, 80, 74)]))
    visited = {s.site for r in routes for s in r.stops if s.kind is StopKind.VISIT}
    held = Counter(d.site for d in plan.deferred if d.site in visited)
    if held:
        flow.append(Paragraph(_esc(t["deferred"]), st.heading))
        for site_id, n in sorted(held.items()):
            flow.append(Paragraph(_esc(f"{_site_name(net, site_id)} ({site_id}): {n}"), st.body))
    flow.append(Paragraph(_esc(t["totals"]), st.heading))
    flow.append(
        Paragraph(
            _esc(
                f"{t['dropped']} {tot_drop} {t['parcels']} · {t['collected']} {tot_collect} "
                f"{t['parcels']} · {t['distance']} {tot_m / 1000:.1f} {t['km']}"
            ),
            st.body,
        )
    )
    flow.append(_signatures((t["signature"], t["keeper_sig"]), st))
    return _build(flow, title, lang)


def manifest_pdf(vehicle_id: str, plan: Plan, day: DayInput, lang: str = "en") -> bytes:
    """The manifest of one vehicle as a PDF (A4): bags per stop, lots with QR codes, totals.

    Raises
    ------
    KeyError
        When the vehicle has no route in the plan.
    """
    routes = _vehicle_routes(plan)[vehicle_id]
    t = _t(lang)
    st = _styles()
    net = day.network
    orders = _orders(day)
    title = f"{t['manifest']} {plan.date} {vehicle_id}"
    flow = _header(vehicle_id, routes, plan, day, t["manifest"], lang, st)
    all_drop: list[Order] = []
    all_collect: list[Order] = []
    for route in routes:
        flow.append(
            Paragraph(_esc(f"{t[route.tier.value]} — {t['wave']} {route.wave}"), st.heading)
        )
        for i, stop in enumerate(route.stops):
            bags = _bags(stop, orders)
            if not bags:
                continue
            name = f"#{i} {_site_name(net, stop.site)} ({stop.site}) · {_hhmm(stop.arrival_s)}"
            if stop.kind is StopKind.VISIT:
                name += f" · {t['keeper_short']}: {_keeper(net, stop.site, t)}"
            block: list[Flowable] = [Paragraph(_esc(name), st.body)]
            rows: list[list[Any]] = [
                [
                    Paragraph(_esc(h), st.cell)
                    for h in (t["bag"], t["drop"], t["collect"], t["orders"], t["lots"])
                ]
            ]
            lot_grids: list[Flowable] = []
            for bag in bags:
                all_drop += bag.drop
                all_collect += bag.collect
                lots = lot_codes([*bag.drop, *bag.collect])
                if lots:
                    lot_grids.append(
                        Paragraph(_esc(f"{_carrier(bag.carrier, lang)} · {t['lots']}"), st.cell)
                    )
                    lot_grids.append(_lot_grid(lots, st))
                rows.append(
                    [
                        Paragraph(_esc(_carrier(bag.carrier, lang)), st.cell),
                        Paragraph(_esc(_load_text(bag.drop, t)), st.cell),
                        Paragraph(_esc(_load_text(bag.collect, t)), st.cell),
                        Paragraph(_esc(_ids_text([*bag.drop, *bag.collect])), st.small),
                        Paragraph(_esc(str(len(lots)) if lots else t["none"]), st.cell),
                    ]
                )
            rows.append(
                [
                    Paragraph(_esc(t["stop_total"]), st.cell),
                    Paragraph(_esc(_load_text([o for b in bags for o in b.drop], t)), st.cell),
                    Paragraph(_esc(_load_text([o for b in bags for o in b.collect], t)), st.cell),
                    Paragraph(_esc(t["received"]), st.cell),
                    "",
                ]
            )
            block.append(_grid(rows, [w * mm for w in (22, 28, 28, 84, 20)]))
            flow.append(KeepTogether(block) if len(bags) <= 6 else block[0])
            if len(bags) > 6:
                flow += block[1:]
            flow += lot_grids
            flow.append(Spacer(1, 3 * mm))
    flow.append(HRFlowable(width="100%", thickness=0.6, color=colors.grey))
    flow.append(
        Paragraph(
            _esc(
                f"{t['vehicle_total']}: {t['dropped']} {_load_text(all_drop, t)} · "
                f"{t['collected']} {_load_text(all_collect, t)} · "
                f"{t['lots']}: {len(lot_codes([*all_drop, *all_collect]))}"
            ),
            st.body,
        )
    )
    flow.append(_signatures((t["signature"], t["keeper_sig"], t["dispatcher"]), st))
    return _build(flow, title, lang)


_MAX_IDS = 12
"""Order ids listed per bag on the PDF; the CSV manifest lists every one."""


def _ids_text(orders: Sequence[Order]) -> str:
    ids = [o.id for o in orders]
    if len(ids) <= _MAX_IDS:
        return ", ".join(ids)
    return ", ".join(ids[:_MAX_IDS]) + f" … (+{len(ids) - _MAX_IDS})"


def _lot_grid(lots: Sequence[str], st: _Styles, per_row: int = 4) -> Table:
    """QR codes with their lot code under each, ``per_row`` to a row (rows split across pages)."""
    cells: list[Any] = [[_qr(code), Paragraph(_esc(code), st.small)] for code in lots]
    rows = [cells[k : k + per_row] for k in range(0, len(cells), per_row)]
    rows[-1] += [""] * (per_row - len(rows[-1]))
    table = Table(rows, colWidths=[45 * mm] * per_row)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                ("BOX", (0, 0), (-1, -1), 0.3, colors.lightgrey),
            ]
        )
    )
    return table


def _load_text(orders: Sequence[Order], t: Mapping[str, str]) -> str:
    if not orders:
        return t["none"]
    parcels = sum(o.parcels for o in orders)
    kg = sum(o.weight_kg for o in orders)
    return f"{parcels} {t['parcels']}, {kg:.1f} kg"


def write_pdf_documents(plan: Plan, day: DayInput, folder: Path, *, lang: str = "en") -> list[Path]:
    """Write ``sheet-<vehicle>.pdf`` and ``manifest-<vehicle>.pdf`` for every vehicle with a
    route into ``folder`` (created); returns the paths written."""
    if lang not in _LABELS:
        raise ValueError(f"lang must be one of {', '.join(_LABELS)}, got {lang!r}")
    day = _with_plan_parts(plan, day)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for vehicle_id in _vehicle_routes(plan):
        part = _file_part(vehicle_id)
        for kind, make in (("sheet", route_sheet_pdf), ("manifest", manifest_pdf)):
            path = folder / f"{kind}-{part}.pdf"
            path.write_bytes(make(vehicle_id, plan, day, lang))
            written.append(path)
    return written
