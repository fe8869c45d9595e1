"""Keyset pagination: an opaque cursor carries the last row's sort key, never an offset."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from agentledger.errors import InvalidInput

MAX_LIMIT = 500


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
