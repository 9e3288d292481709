"""RFC 9457 problem details: the one shape of every error response.

``{"type", "title", "status", "detail", "instance", "field", "errors": [{"field", "location",
"detail"}]}`` — ``field`` names the first offending field (``body.date``, ``orders.csv row 7
weight_kg``) so a client can point at it. The project's error tree is mapped here once:
:class:`~networks.InvalidScenario` → 422 with its source, location and field.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from networks import CountyrouteError, InvalidScenario

__all__ = ["MEDIA_TYPE", "PROBLEM_SCHEMA", "Problem", "install_handlers", "problem_response"]

MEDIA_TYPE = "application/problem+json"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "field": {"type": "string", "description": "The first offending field"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["type", "title", "status", "detail"],
}
log = logging.getLogger("countyroute.api")

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    501: "Not implemented",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raise to answer with a problem-details response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str = "",
        code: str = "",
        errors: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.code = code or _TITLES.get(status, "error").lower().replace(" ", "-")
        self.errors = list(errors)
        self.headers = headers
        self.extra = extra or {}


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str = "",
    field: str = "",
    code: str = "",
    errors: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem-details response."""
    body: dict[str, Any] = {
        "type": f"/problems/{code or _TITLES.get(status, 'error').lower().replace(' ', '-')}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if field:
        body["field"] = field
    if errors:
        body["errors"] = list(errors)
    body.update(extra or {})
    return JSONResponse(
        jsonable_encoder(body), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def invalid_scenario_problem(exc: InvalidScenario, *, prefix: str = "") -> Problem:
    """An input error of the core as a 422 naming source, location and field."""
    field = exc.field or ""
    error: dict[str, Any] = {
        "field": field,
        "source": exc.source,
        "location": exc.location,
        "detail": exc.message,
    }
    if exc.code:  # what kind of fault, and the values it names: a client's own words
        error["code"] = exc.code
        error["params"] = exc.params
    return Problem(
        422,
        str(exc),
        field=f"{prefix}{field}" if field else prefix.rstrip("."),
        code="invalid-input",
        errors=[error],
    )


def _loc(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc)


def _methods_of(request: Request) -> list[str]:
    """The methods the request's path answers (for ``Allow``), from the documented paths
    (an unprefixed alias answers what its ``/v1`` path does)."""
    path = request.url.path
    if not path.startswith("/v1/") and path not in ("/health", "/ready"):
        path = "/v1" + path
    paths = request.app.openapi().get("paths", {})
    methods: set[str] = {m.upper() for m in paths.get(path, {})}  # a literal path wins
    if not methods:
        # the most literal templates that match win (``…/events/stream`` over
        # ``…/events/{event_id}``), as the schema documents them
        matches: dict[int, set[str]] = {}
        for template, ops in paths.items():
            pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, path):
                matches.setdefault(template.count("{"), set()).update(m.upper() for m in ops)
        if matches:
            methods = matches[min(matches)]
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def install_handlers(app: FastAPI) -> None:
    """Map every error (ours, FastAPI's, the core's, and bugs) to problem details."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.detail,
            instance=request.url.path,
            field=exc.field,
            code=exc.code,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": _loc(e.get("loc", ())),
                "detail": str(e.get("msg", "")),
                "type": e.get("type"),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "", "detail": "invalid request"}
        return problem_response(
            422,
            f"{first['field']}: {first['detail']}" if first["field"] else str(first["detail"]),
            instance=request.url.path,
            field=str(first["field"]),
            code="invalid-input",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not just the first route's
            headers["Allow"] = ", ".join(_methods_of(request))
        return problem_response(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=headers,
        )

    @app.exception_handler(InvalidScenario)
    async def _invalid(request: Request, exc: InvalidScenario) -> JSONResponse:
        p = invalid_scenario_problem(exc)
        return problem_response(
            422, p.detail, instance=request.url.path, field=p.field, code=p.code, errors=p.errors
        )

    @app.exception_handler(CountyrouteError)
    async def _core(request: Request, exc: CountyrouteError) -> JSONResponse:
        return problem_response(422, str(exc), instance=request.url.path, code="invalid-input")

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # the last guard: validation should have named the field before the database refused
        log.warning("database refused a value on %s: %s", request.url.path, exc.orig)
        return problem_response(
            422,
            "a value does not fit the database (too long, too large, or a NUL character)",
            instance=request.url.path,
            code="invalid-input",
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        # overload or a database restart: the client retries; nothing half-done was committed
        log.warning("database unavailable on %s: %s", request.url.path, exc)
        return problem_response(
            503,
            "the database is busy or unavailable; retry shortly",
            instance=request.url.path,
            code="unavailable",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500, "internal error; it is logged", instance=request.url.path, code="internal"
        )
