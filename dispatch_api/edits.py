"""Dispatchers' plan edits: move a stop, pin a village to a route.

An edit rearranges visits; the touched routes are re-timed (:func:`routing.retime.retime`)
and the whole plan then goes through :func:`routing.check.check_plan`. Only a plan the checker
passes is accepted; otherwise the violations are the answer. No solver runs here.

**Pins.** A pin ties a village point to a vehicle. The plan keeps its pins in its settings
(``pin:<village point> = <vehicle>``: :func:`pins_of`, :func:`with_pins`), so they outlive
the edit: a repair of the plan and a new plan made with it as ``previous_plan`` keep pinned
villages with their vehicles (:mod:`dispatch_api.jobs`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dispatch_api.problems import Problem
from dispatch_api.schemas import MoveStop, PinVillage
from dispatch_api.views import find_route
from routing import DayInput
from routing.check import CheckReport, check_plan
from routing.plan import Plan, Route, Stop, StopKind, Tier
from routing.retime import retime

__all__ = ["PIN_PREFIX", "apply_edit", "pins_of", "unmet_pins", "with_pins"]

PIN_PREFIX = "pin:"
"""Plan settings ``pin:<village point>`` hold the vehicle the village is pinned to."""


def pins_of(plan: Plan) -> dict[str, str]:
    """The plan's pins: village point → vehicle.

    >>> from routing.plan import PlanStatus
    >>> plan = Plan("tiny", "n1", "2026-12-01", PlanStatus.COMPLETE, (), ())
    >>> pins_of(with_pins(plan, {"v3": "tri1"}))
    {'v3': 'tri1'}
    """
    return {k[len(PIN_PREFIX) :]: v for k, v in plan.settings if k.startswith(PIN_PREFIX)}


def with_pins(plan: Plan, pins: Mapping[str, str]) -> Plan:
    """The plan with these pins recorded in its settings (added to or replacing its own)."""
    if not pins:
        return plan
    settings = dict(plan.settings)
    for site, vehicle in pins.items():
        settings[f"{PIN_PREFIX}{site}"] = vehicle
    return replace(plan, settings=tuple(settings.items()))


def unmet_pins(plan: Plan, pins: Mapping[str, str]) -> dict[str, list[str]]:
    """Pinned village points a village run of another vehicle visits: point → those vehicles
    (empty when every pin holds; a pinned village nobody visits today is not unmet)."""
    out: dict[str, list[str]] = {}
    for r in plan.routes_of(Tier.LAST_MILE):
        for s in r.stops:
            if s.kind is StopKind.VISIT and pins.get(s.site, r.vehicle) != r.vehicle:
                out.setdefault(s.site, [])
                if r.vehicle not in out[s.site]:
                    out[s.site].append(r.vehicle)
    return out


def _route(plan: Plan, label: str, field: str) -> tuple[int, Route]:
    found = find_route(plan, label)
    if found is None:
        raise Problem(422, f"the plan has no route {label!r} (use tier:vehicle)", field=field)
    return found


def _insert_at(route: Route, stop: Stop, position: int | None, field: str) -> Route:
    stops = list(route.stops)
    last = len(stops) - 1
    at = last if position is None else position
    if not 1 <= at <= last:
        raise Problem(422, f"position must be between 1 and {last}", field=field)
    stops.insert(at, stop)
    return replace(route, stops=tuple(stops))


def _without(route: Route, index: int) -> Route:
    return replace(route, stops=route.stops[:index] + route.stops[index + 1 :])


def _has_visits(route: Route) -> bool:
    return any(s.kind is StopKind.VISIT for s in route.stops)


def _rebuild(plan: Plan, changed: dict[int, Route], day: DayInput) -> Plan:
    vehicles = {v.id: v for v in day.fleet}
    routes = []
    for i, r in enumerate(plan.routes):
        if i in changed:
            r = changed[i]
            if not _has_visits(r):
                continue  # an emptied route is not driven
            r = retime(r, day, vehicles[r.vehicle])
        routes.append(r)
    return replace(plan, routes=tuple(routes))


def apply_edit(plan: Plan, day: DayInput, edit: MoveStop | PinVillage) -> tuple[Plan, CheckReport]:
    """Apply an edit and check the result; raises Problem(422) naming the field or listing the
    checker's violations."""
    changed: dict[int, Route] = {}
    if isinstance(edit, MoveStop):
        i, src = _route(plan, edit.route, "edit.route")
        if not 0 <= edit.stop < len(src.stops) or src.stops[edit.stop].kind is not StopKind.VISIT:
            raise Problem(422, "stop must be the index of a visit of the route", field="edit.stop")
        stop = src.stops[edit.stop]
        j, dst = _route(plan, edit.to_route or edit.route, "edit.to_route")
        if dst.tier is not src.tier:
            raise Problem(422, "a stop moves only within its tier", field="edit.to_route")
        if i == j:
            moved = _without(src, edit.stop)
            changed[i] = _insert_at(moved, stop, edit.position, "edit.position")
        else:
            changed[i] = _without(src, edit.stop)
            changed[j] = _insert_at(dst, stop, edit.position, "edit.position")
    else:
        j, dst = _route(plan, edit.route, "edit.route")
        if dst.tier is not Tier.LAST_MILE:
            raise Problem(
                422, "villages are pinned to village runs (last_mile)", field="edit.route"
            )
        if edit.site not in day.network.index:
            raise Problem(422, f"unknown site {edit.site!r}", field="edit.site")
        moving: list[Stop] = []
        for i, r in enumerate(plan.routes):
            if i == j or r.tier is not Tier.LAST_MILE:
                continue
            keep = tuple(
                s for s in r.stops if not (s.kind is StopKind.VISIT and s.site == edit.site)
            )
            if len(keep) != len(r.stops):
                moving += [s for s in r.stops if s.kind is StopKind.VISIT and s.site == edit.site]
                changed[i] = replace(r, stops=keep)
        if not moving and not any(s.site == edit.site for s in dst.stops):
            raise Problem(
                422, f"no village run visits {edit.site!r} in this plan", field="edit.site"
            )
        target = dst
        for s in moving:
            target = _insert_at(target, s, None, "edit.route")
        changed[j] = target
    new = _rebuild(plan, changed, day)
    if isinstance(edit, PinVillage):
        new = with_pins(new, {edit.site: dst.vehicle})
    report = check_plan(new, day.network, day.fleet, day.policy, day.orders)
    if not report.ok:
        raise Problem(
            422,
            f"the checker rejects the edit: {len(report.violations)} violations, first: {report.violations[0]}",
            field="edit",
            code="edit-rejected",
            extra={
                "violations": [
                    {
                        "route": v.route,
                        "stop": v.stop,
                        "site": v.site,
                        "code": v.code,
                        "message": v.message,
                    }
                    for v in report.violations[:50]
                ]
            },
        )
    return new, report
