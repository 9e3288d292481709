"""Networks: import a scenario bundle (built-in by name, or uploaded files); read its sites,
stations, vehicles and couriers."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dispatch_api.cachebus import announce
from dispatch_api.db import Courier, NetworkRow, now_iso
from dispatch_api.deps import Ctx, DbSession, DispatchKey, StaffKey, visible_network
from dispatch_api.problems import Problem, invalid_scenario_problem
from dispatch_api.schemas import (
    CourierPublic,
    CourierUpdate,
    NetworkImport,
    NetworkImported,
    NetworkName,
    NetworkPublic,
    SitePublic,
    VehiclePublic,
)
from dispatch_api.security import Principal
from dispatch_api.store import audit, network_row, scenario_from_files
from networks import InvalidScenario, SiteKind, format_clock
from routing.present import mask_phone
from scenarios.bundle import Scenario, builtin_names, resolve_bundle

router = APIRouter(prefix="/networks", tags=["networks"])

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_ID = re.compile(r"^[^\s/?#%\\\x00-\x1f\x7f]{1,98}$")


def _summary(sc: Scenario) -> dict[str, int]:
    kinds = Counter(s.kind.value for s in sc.network.sites)
    return {
        "hubs": kinds[SiteKind.HUB.value],
        "stations": kinds[SiteKind.STATION.value],
        "village_points": kinds[SiteKind.VILLAGE_POINT.value],
        "villages": kinds[SiteKind.VILLAGE.value],
        "bulk_shippers": kinds[SiteKind.BULK_SHIPPER.value],
        "roads": len(sc.network.roads),
        "vehicles": len(sc.fleet),
    }


def courier_id(vehicle: str) -> str:
    """Couriers are named after the vehicle they were imported with: ``c-<vehicle>``."""
    return f"c-{vehicle}"


def _store(
    session: Session, ctx: Ctx, who: Principal, name: str, files: dict[str, str], source: str
) -> NetworkImported:
    if not _NAME.match(name):
        raise Problem(422, "a network name is letters, digits, '_', '.', '-'", field="name")
    if not who.sees(name):
        raise Problem(
            403,
            f"this key is limited to the networks {', '.join(sorted(who.scope or ()))}",
            field="name",
        )
    try:
        sc = scenario_from_files(files)
    except InvalidScenario as exc:
        raise invalid_scenario_problem(exc) from None
    for v in sc.fleet:  # a courier is named after the vehicle, in URLs: it must stay nameable
        if not _ID.match(v.id):
            raise Problem(
                422,
                f"vehicle id {v.id!r} cannot be named in a URL (no spaces, '/', '?', '#', "
                "control characters; at most 98 characters)",
                field="fleet.id",
            )
    row = session.get(NetworkRow, name)
    changed = row is None or row.version != sc.network.version or json.loads(row.files) != files
    if row is None:
        row = NetworkRow(name=name)
        session.add(row)
    if changed:
        row.version = sc.network.version
        row.source = source
        row.files = json.dumps(files, ensure_ascii=False)
        row.summary = json.dumps(_summary(sc))
        row.imported_at = now_iso()
        session.flush()
        # couriers: one per driver of the fleet; a dispatcher's reassignment survives
        existing = {
            c.id: c for c in session.scalars(select(Courier).where(Courier.network == name))
        }
        keep = set()
        for v in sc.fleet:
            if not v.driver:
                continue
            cid = courier_id(v.id)
            keep.add(cid)
            c = existing.get(cid)
            if c is None:
                session.add(
                    Courier(network=name, id=cid, name=v.driver, phone=v.phone, vehicle=v.id)
                )
            else:
                c.name, c.phone = v.driver, v.phone
        gone = [cid for cid in existing if cid not in keep]
        if gone:
            session.execute(delete(Courier).where(Courier.network == name, Courier.id.in_(gone)))
        audit(
            session,
            who,
            "network.import",
            f"network/{name}",
            {"source": source, "version": row.version},
            network=name,
        )
        announce(session, f"network {name}")
    session.commit()
    if changed:
        ctx.bus.changed()
    ctx.scenarios.put(row, sc)
    return NetworkImported(**_public(row).model_dump(), changed=changed)


def _public(row: NetworkRow) -> NetworkPublic:
    return NetworkPublic(
        name=row.name,
        version=row.version,
        source=row.source,
        imported_at=row.imported_at,
        summary=json.loads(row.summary),
    )


@router.post("", status_code=201, response_model=NetworkImported)
def import_builtin_network(
    body: NetworkImport, session: DbSession, ctx: Ctx, who: StaffKey
) -> NetworkImported:
    """Import a built-in bundle by name (idempotent: the same bundle again changes nothing)."""
    if body.builtin not in builtin_names():
        raise Problem(
            422,
            f"no built-in bundle {body.builtin!r} (built-in: {', '.join(builtin_names())})",
            field="builtin",
        )
    folder = resolve_bundle(body.builtin)
    files = {
        p.name: p.read_text(encoding="utf-8-sig")
        for p in sorted(folder.iterdir())
        if p.name in ("network.geojson", "fleet.csv", "fleet.json", "policy.toml")
    }
    return _store(session, ctx, who, body.name or body.builtin, files, f"builtin:{body.builtin}")


async def _text(upload: UploadFile | None, field: str) -> str | None:
    if upload is None:
        return None
    raw = await upload.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(422, "not UTF-8 text", field=field) from None


@router.post("/upload", status_code=201, response_model=NetworkImported)
async def upload_network(
    ctx: Ctx,
    who: StaffKey,
    name: Annotated[str, Form(min_length=1, max_length=100)],
    network: Annotated[UploadFile, File(description="network.geojson")],
    policy: Annotated[UploadFile, File(description="policy.toml")],
    fleet: Annotated[UploadFile, File(description="fleet.csv or fleet.json")],
) -> NetworkImported:
    """Import an uploaded bundle: ``network.geojson``, ``fleet.csv`` (or ``.json``), ``policy.toml``."""
    files: dict[str, str] = {}
    files["network.geojson"] = await _text(network, "network") or ""
    files["policy.toml"] = await _text(policy, "policy") or ""
    fleet_name = "fleet.json" if (fleet.filename or "").lower().endswith(".json") else "fleet.csv"
    files[fleet_name] = await _text(fleet, "fleet") or ""
    from starlette.concurrency import run_in_threadpool

    def work() -> NetworkImported:
        with ctx.sessions() as session:
            return _store(session, ctx, who, name, files, "upload")

    return await run_in_threadpool(work)


@router.get("", response_model=list[NetworkPublic])
def list_networks(session: DbSession, who: StaffKey) -> list[NetworkPublic]:
    """The networks this key may see."""
    stmt = select(NetworkRow).order_by(NetworkRow.name)
    if who.scope is not None:
        stmt = stmt.where(NetworkRow.name.in_(sorted(who.scope)))
    return [_public(r) for r in session.scalars(stmt)]


@router.get("/{network}", response_model=NetworkPublic)
def read_network(network: NetworkName, session: DbSession, who: StaffKey) -> NetworkPublic:
    visible_network(who, network)
    return _public(network_row(session, network))


@router.get("/{network}/sites", response_model=list[SitePublic])
def list_sites(
    network: NetworkName,
    session: DbSession,
    ctx: Ctx,
    who: StaffKey,
    kind: SiteKind | None = None,
) -> list[SitePublic]:
    visible_network(who, network)
    sc = ctx.scenarios.get(network_row(session, network))
    return [
        SitePublic(
            id=s.id,
            name=s.name,
            kind=s.kind.value,
            x=s.x,
            y=s.y,
            parent=s.parent,
            poor=s.poor,
            population=s.population,
            opens=format_clock(s.opens_s),
            closes=format_clock(s.closes_s),
            keeper=s.keeper,
            phone=mask_phone(s.phone),
        )
        for s in sc.network.sites
        if kind is None or s.kind is kind
    ]


@router.get("/{network}/stations", response_model=list[SitePublic])
def list_stations(
    network: NetworkName, session: DbSession, ctx: Ctx, who: StaffKey
) -> list[SitePublic]:
    return list_sites(network, session, ctx, who, SiteKind.STATION)


@router.get("/{network}/vehicles", response_model=list[VehiclePublic])
def list_vehicles(
    network: NetworkName, session: DbSession, ctx: Ctx, who: StaffKey
) -> list[VehiclePublic]:
    visible_network(who, network)
    sc = ctx.scenarios.get(network_row(session, network))
    drivers = {
        c.vehicle: c.id
        for c in session.scalars(select(Courier).where(Courier.network == network))
        if c.vehicle
    }
    return [
        VehiclePublic(
            id=v.id,
            vehicle_class=v.vehicle_class,
            home=v.home,
            name=v.name,
            capacity_kg=v.capacity_kg,
            capacity_m3=v.capacity_m3,
            capacity_parcels=v.capacity_parcels,
            driver=v.driver,
            courier=drivers.get(v.id),
        )
        for v in sc.fleet
    ]


def _courier(c: Courier) -> CourierPublic:
    return CourierPublic(id=c.id, name=c.name, phone=mask_phone(c.phone), vehicle=c.vehicle)


@router.get("/{network}/couriers", response_model=list[CourierPublic])
def list_couriers(network: NetworkName, session: DbSession, who: StaffKey) -> list[CourierPublic]:
    visible_network(who, network)
    network_row(session, network)
    rows = session.scalars(select(Courier).where(Courier.network == network).order_by(Courier.id))
    return [_courier(c) for c in rows]


@router.put("/{network}/couriers/{courier}", response_model=CourierPublic)
def assign_courier(
    network: NetworkName,
    courier: Annotated[str, Path(max_length=100)],
    body: CourierUpdate,
    session: DbSession,
    ctx: Ctx,
    who: DispatchKey,
) -> CourierPublic:
    """Put a courier on another vehicle (their route follows the vehicle): dispatchers and
    admins only. Only the routes of the vehicles involved change (their documents are keyed by
    who drives them)."""
    visible_network(who, network)
    sc = ctx.scenarios.get(network_row(session, network))
    row = session.get(Courier, (network, courier))
    if row is None:
        raise Problem(404, f"no courier {courier!r} in {network!r}", field="courier")
    if body.vehicle is not None and body.vehicle not in {v.id for v in sc.fleet}:
        raise Problem(422, f"no vehicle {body.vehicle!r} in {network!r}", field="vehicle")
    if body.vehicle is not None:
        for other in session.scalars(
            select(Courier).where(Courier.network == network, Courier.vehicle == body.vehicle)
        ):
            other.vehicle = None  # one driver per vehicle
    row.vehicle = body.vehicle
    audit(
        session,
        who,
        "courier.assign",
        f"network/{network}/couriers/{courier}",
        {"vehicle": body.vehicle},
        network=network,
    )
    announce(session, f"couriers {network}")
    session.commit()
    ctx.bus.changed()
    return _courier(row)
