"""Keyset pagination: an opaque cursor carries the last row's sort key, never an offset."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Query

from agentledger.errors import InvalidInput

MAX_LIMIT = 500
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
        raise InvalidInput("cursor is not a cursor this API issued", field="cursor") from None
    if not isinstance(value, dict):
        raise InvalidInput("cursor is not a cursor this API issued", field="cursor")
    return value


def newest_first(items: Sequence[Any], limit: int) -> dict[str, Any]:
    """A page of a newest-first list (items with an ``id``): a full page's cursor carries
    its last item's id as ``before``; a short page is the last one (no cursor)."""
    nxt = encode_cursor({"before": str(items[-1].id)}) if len(items) == limit else None
    return {"items": items, "next_cursor": nxt}


def before(cursor: str | None) -> str | None:
    """The ``before`` id a :func:`newest_first` cursor carries; None for the first page.
    A cursor this API did not issue is InvalidInput naming ``cursor``."""
    value = decode_cursor(cursor).get("before")
    return None if value is None else str(value)
