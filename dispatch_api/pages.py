"""Cursor pagination, one way for every list.

A list answers a JSON array (as it always did) of at most ``limit`` items, ordered by a
unique key; when more follow, the response carries ``Link: <…?cursor=…>; rel="next"``
(RFC 8288) and ``X-Next-Cursor``. A cursor is opaque (the last key seen, base64url JSON), so
pages stay stable while rows are added, unlike offsets.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Query, Request, Response
from sqlalchemy import Select
from sqlalchemy.orm import Session

from dispatch_api.problems import Problem

__all__ = ["Cursor", "Limit", "decode_cursor", "encode_cursor", "page_list", "page_of", "set_next"]

T = TypeVar("T")

Cursor = Annotated[
    str | None,
    Query(
        max_length=400,
        pattern=r"^[A-Za-z0-9_=-]+$",
        description="Where the page starts: the `cursor` of the previous page's next link",
    ),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page")]


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def decode_cursor(cursor: str | None) -> Any:
    """The key a cursor holds (None for the first page); 422 naming ``cursor`` if it is not
    one of ours."""
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Problem(422, "not a cursor this API made", field="cursor") from None
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise Problem(422, "not a cursor this API made", field="cursor")
    if isinstance(value, int) and not -(2**31) <= value < 2**31:
        raise Problem(422, "not a cursor this API made", field="cursor")
    return value


def page_of(
    session: Session,
    stmt: Select[Any],
    column: Any,
    cursor: str | None,
    limit: int,
    *,
    descending: bool = False,
) -> tuple[list[Any], str | None]:
    """One page of ``stmt`` (ordered here by the unique ``column``) and the next cursor."""
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(column < after if descending else column > after)
    stmt = stmt.order_by(None).order_by(column.desc() if descending else column)
    rows = list(session.scalars(stmt.limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    key = column.key
    return rows, encode_cursor(getattr(rows[-1], key))


def page_list(
    items: Sequence[T], key: Callable[[T], str], cursor: str | None, limit: int
) -> tuple[list[T], str | None]:
    """A page of an in-memory list sorted by ``key`` (sites, vehicles of a network)."""
    after = decode_cursor(cursor)
    ordered = sorted(items, key=key)
    if after is not None:
        ordered = [i for i in ordered if key(i) > str(after)]
    if len(ordered) <= limit:
        return ordered, None
    return ordered[:limit], encode_cursor(key(ordered[limit - 1]))


def set_next(request: Request, response: Response, cursor: str | None) -> None:
    """The ``Link: rel="next"`` and ``X-Next-Cursor`` headers of a page."""
    if cursor is None:
        return
    url = request.url.include_query_params(cursor=cursor)
    response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    response.headers["X-Next-Cursor"] = cursor
