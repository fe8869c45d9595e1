"""Ids the library mints for the rows it writes: UUIDv7 (RFC 9562).

A v7 id begins with its minting time in milliseconds, so ids minted one after another sort
together: a table's index on them grows at its right edge, where random (v4) ids land on
any of its pages. ``uuid_utils`` mints them several times faster than the standard library
mints v4 ids. Ids a caller passes in may be any UUID.
"""

from __future__ import annotations

from uuid import UUID

from uuid_utils import uuid7


def new_id() -> UUID:
    """A fresh id, as the standard library's UUID (what psycopg sends and callers compare)."""
    return UUID(bytes=uuid7().bytes)


def new_id_text() -> str:
    """A fresh id as its canonical text (for a statement's JSON)."""
    return str(uuid7())
