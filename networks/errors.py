"""The project's exception tree.

Exceptions are for bad input and bugs; an order that does not fit a plan is data (deferred),
never an exception. Every input error names where it came from: the file, the row or feature,
and the field, so the CLI can print one line and the API one problem-details response.
"""

from __future__ import annotations

__all__ = ["CountyrouteError", "InvalidScenario", "SolverError", "UnreachableSite"]


class CountyrouteError(Exception):
    """Base class of every error the project raises on purpose."""


class InvalidScenario(CountyrouteError):
    """Input that breaks the scenario format or its rules.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    source
        The file (``fleet.csv``) or object the value came from.
    location
        The row (``row 7``) or feature (``feature 12 (id=v031)``) inside the source.
    field
        The field name, when one field is at fault.
    code
        What kind of fault, for programs that show it in their own words (``missing``,
        ``bad_value``, ``unknown_site``, ``duplicate_id``, ``missing_columns``, ``row_width``);
        empty when none was given.
    params
        The values ``message`` names, by name (``{"value": "v999"}``), to go with ``code``.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        location: str = "",
        field: str = "",
        code: str = "",
        params: dict[str, str] | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.location = location
        self.field = field
        self.code = code
        self.params = dict(params or {})
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (self.source, self.location, f"field {self.field!r}" if self.field else "")
            if part
        )
        return f"{where}: {self.message}" if where else self.message

    def __reduce__(self) -> tuple[object, ...]:  # keep every part across processes
        return (
            _rebuild_invalid,
            (self.message, self.source, self.location, self.field, self.code, self.params),
        )


def _rebuild_invalid(
    message: str,
    source: str,
    location: str,
    field: str,
    code: str = "",
    params: dict[str, str] | None = None,
) -> InvalidScenario:
    return InvalidScenario(
        message, source=source, location=location, field=field, code=code, params=params
    )


class UnreachableSite(InvalidScenario):
    """A site that no road (or no vehicle class that must serve it) can reach."""


class SolverError(CountyrouteError):
    """The solver failed in a way that is a bug or an environment fault, not infeasibility."""
