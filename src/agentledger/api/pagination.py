"""Reading what a request says where to resume: keyset cursors (an opaque cursor carries
the last row's sort key, never an offset) and ``Last-Event-ID``. Every route parses them
here, so a malformed value is a 4xx naming it, never a 500 and never silently ignored."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Query

from agentledger.errors import InvalidInput, MalformedRequest
from agentledger.keyset import ListPosition

T = TypeVar("T")
MAX_LIMIT = 500
MAX_POSITION = 2**63 - 1  # bigint: ids and event positions
_DECIMAL = re.compile(r"[0-9]{1,19}")  # ASCII digits only ("²".isdigit() is true)
# A page size query parameter: 1 to MAX_LIMIT items.
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _foreign() from None
    if not isinstance(value, dict):
        raise _foreign()
    return value


def cursor_int(cursor: str | None, key: str) -> int | None:
    """The non-negative bigint ``key`` of a cursor this API issued; None without a cursor."""
    value = _issued(cursor, key)
    if value is None or (type(value) is int and 0 <= value <= MAX_POSITION):
        return value
    raise _foreign()


def cursor_text(cursor: str | None, key: str) -> str | None:
    """The text ``key`` (1-200 characters PostgreSQL can store: no NUL, no lone surrogate)
    of a cursor this API issued, or None."""
    value = _issued(cursor, key)
    if value is None or (isinstance(value, str) and 0 < len(value) <= 200 and _storable(value)):
        return value
    raise _foreign()


def _storable(value: str) -> bool:
    """Text a cursor can carry: what the API issues is stored text, so never a NUL byte or
    a lone surrogate (JSON can spell both)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def cursor_time(cursor: str | None, key: str) -> dt.datetime | None:
    """The time ``key`` (ISO 8601 with its offset) of a cursor this API issued, or None."""
    value = cursor_text(cursor, key)
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise _foreign() from None
    if when.tzinfo is None:
        raise _foreign()
    return when


def cursor_uuid(cursor: str | None, key: str) -> UUID | None:
    """The UUID ``key`` of a cursor this API issued, or None."""
    value = _issued(cursor, key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            pass
    raise _foreign()


def _issued(cursor: str | None, key: str) -> Any:
    """None without a cursor; a cursor without ``key`` was not issued here."""
    if not cursor:
        return None
    found = decode_cursor(cursor)
    if found.get(key) is None:
        raise _foreign()
    return found[key]


def event_position(header: str | None) -> int | None:
    """A ``Last-Event-ID`` naming an event position; None when absent or empty (the SSE
    way to start over); 400 naming the header for anything else."""
    if header is None or header == "":
        return None
    if _DECIMAL.fullmatch(header) and int(header) <= MAX_POSITION:
        return int(header)
    raise MalformedRequest(
        f"Last-Event-ID must be an event position (a whole number from 0), not {header!r}",
        field="Last-Event-ID",
    )


def alert_position(header: str | None) -> UUID | None:
    """A ``Last-Event-ID`` naming an alert (the alert stream's ids); None when absent or
    empty; 400 naming the header for anything else."""
    if header is None or header == "":
        return None
    try:
        return UUID(header)
    except ValueError:
        raise MalformedRequest(
            f"Last-Event-ID must be an alert id (a UUID), not {header!r}", field="Last-Event-ID"
        ) from None


def _foreign() -> InvalidInput:
    return InvalidInput("cursor is not a cursor this API issued", field="cursor")


def page(items: Sequence[T], limit: int, key: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """A page of a keyset list: a full page's cursor carries ``key`` of its last item (the
    sort key to resume after); a short page is the last one (no cursor)."""
    nxt = encode_cursor(key(items[-1])) if len(items) == limit else None
    return {"items": items, "next_cursor": nxt}


def positioned(items: Sequence[Any], limit: int, at: str) -> dict[str, Any]:
    """A page of a list ordered by the time field ``at`` and the id: a full page's cursor
    carries its last item's (time, id), the position the next page follows (see keyset)."""
    return page(
        items, limit, lambda last: {"at": getattr(last, at).isoformat(), "id": str(last.id)}
    )


def position(cursor: str | None) -> ListPosition | None:
    """The position a :func:`positioned` cursor carries; None for the first page. A cursor
    this API did not issue (a key missing or malformed, a time no UTC clock shows) is
    InvalidInput naming ``cursor``."""
    at, item = cursor_time(cursor, "at"), cursor_uuid(cursor, "id")
    if at is None or item is None:
        return None
    try:
        at.astimezone(dt.UTC)
    except OverflowError:
        raise _foreign() from None
    return ListPosition(at=at, id=item)
