"""Keyset positions: where a newest-first listing stands, carried whole.

A listing ordered by a time and then the id pages on after the last item's (time, id). A
page that carries that pair itself follows it whatever has since become of the row it came
from (changed, deleted); one that names only the row must read the pair from it, and can
only refuse when the row is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.db.statements import Gen, Query
from agentledger.errors import InvalidInput, NotFound


@dataclass(frozen=True, kw_only=True, slots=True)
class ListPosition:
    """A listing's sort key at the last item of a page: its time (the listing's time
    field: ``created_at``, ``started_at``, ``updated_at``) and its id."""

    at: datetime
    id: UUID


def position(
    value: object,
    *,
    field: str,
    record: type[Any],
    at: str,
    lookup: Query | None = None,
) -> Gen[tuple[datetime, UUID] | None]:
    """``value`` as the (time, id) a listing continues after, ``at`` naming its time field:
    None for the first page; a ``record`` of the listing, or a ListPosition, as they stand;
    with ``lookup`` (the record by ``id``) also an id, whose row gives the pair (NotFound
    naming ``field`` when that row is gone: a page after it cannot be told). Anything else
    is InvalidInput naming ``field``."""
    if value is None:
        return None
    if isinstance(value, record):
        return getattr(value, at), value.id
    if isinstance(value, ListPosition):
        when = v.aware_datetime(field, value.at)
        assert when is not None  # a datetime, checked
        return when, v.uuid(field, value.id)
    name = record.__name__
    if lookup is not None and isinstance(value, UUID | str):
        named = v.uuid(field, value)
        row = yield lookup.one(id=named)
        if row is None:
            raise NotFound(
                f"{name} {named} ({field}) does not exist: to page on past it, pass the "
                f"previous page's last {name} or its ListPosition",
                field=field,
            )
        return row[at], row["id"]
    ids = " or its id" if lookup is not None else ""
    raise InvalidInput(
        f"{field} must be the last {name} of the previous page, its ListPosition{ids}, not "
        f"{type(value).__name__}",
        field=field,
    )
