"""Search scopes and filters, validated and shaped into the parameters every search query takes.

Attribute comparisons become one jsonpath predicate (a bound value, never SQL): numbers
compare as numbers and dates as dates, because jsonpath compares typed values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.errors import InvalidInput

MAX_LIMIT = 1000
# What a user's read sees: "own" only the user's entities; "shared" also the tenant's own
# (no user) and other users' shared ones. A read without a user sees the whole tenant, or,
# with "tenant", only the tenant's own entities (those of no user).
SCOPES = ("own", "shared", "tenant")
COMPARISONS = {"=": "==", "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

# One attribute comparison: (attribute name, operator, value).
Where = tuple[str, str, Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class Filter:
    """What a search or listing is limited to; every field is optional.

    ``user``: the user reading; None reads as the tenant and sees all. ``scope`` says what
    the user sees: "shared" (the default) their own entities, the tenant's own (no user) and
    other users' shared ones; "own" only their own; "tenant" (with no user) only the
    tenant's own, none of its users'. ``kind``: one kind or several.
    ``tags``: all must be present. ``attrs``: containment (``{"industry": "tech"}``).
    ``where``: comparisons such as ``("revenue", ">", 1000)`` or ``("closed", "<",
    date(2024, 1, 1))``; a date or a datetime without a zone matches stored dates and
    timestamps without a zone, a datetime with one stored timestamps with a zone (ISO 8601
    text). Time bounds are inclusive below, exclusive above. Archived
    entities are left out unless asked for. ``session``: only the memories of that session.
    """

    user: str | None = None
    scope: str = "shared"
    kind: str | Sequence[str] | None = None
    tags: Sequence[str] | None = None
    attrs: Mapping[str, Any] | None = None
    where: Sequence[Where] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    include_archived: bool = False
    session: UUID | str | None = None


def user_id(value: object, field: str = "user") -> str | None:
    return None if value is None else v.text(field, value, max_len=200)


def scoped(user: object, scope: object = "shared") -> dict[str, Any]:
    """The ``user`` and ``own`` parameters of a statement that reads as a user.

    The tenant's own scope reads as the owner ``''`` (the tenant's entities are stored
    under it) with only its own rows: every statement's scope test then keeps those."""
    chosen = v.choice("scope", scope, SCOPES)
    if chosen == "tenant":
        if user is not None:
            raise InvalidInput(
                "scope 'tenant' reads the tenant's own entities: give no user", field="scope"
            )
        return {"user": "", "own": True}
    return {"user": user_id(user), "own": chosen == "own"}


def limit(value: object) -> int:
    return v.integer("limit", value, low=1, high=MAX_LIMIT)


def params(f: Filter | None) -> dict[str, Any]:
    """The filter's query parameters (names shared by every search query)."""
    f = f if f is not None else Filter()
    if not isinstance(f, Filter):
        raise InvalidInput(f"filter must be a Filter, not {type(f).__name__}", field="filter")
    kinds: list[str] | None = None
    if isinstance(f.kind, str):
        kinds = [v.text("kind", f.kind, max_len=100)]
    elif f.kind is not None:
        kinds = [v.text(f"kind[{i}]", k, max_len=100) for i, k in enumerate(f.kind)]
    return {
        **scoped(f.user, f.scope),
        "kinds": kinds,
        "tags": v.tags("tags", f.tags) or None if f.tags is not None else None,
        "attrs": v.json_object("attrs", f.attrs, max_bytes=10_000) if f.attrs else None,
        "where": jsonpath(f.where) if f.where else None,
        "created_after": _moment("created_after", f.created_after),
        "created_before": _moment("created_before", f.created_before),
        "updated_after": _moment("updated_after", f.updated_after),
        "updated_before": _moment("updated_before", f.updated_before),
        "archived": v.flag("include_archived", f.include_archived),
        "session": None if f.session is None else v.uuid("session", f.session),
    }


def jsonpath(where: Sequence[Where]) -> str:
    """``[("revenue", ">", 1000)]`` -> ``$."revenue" > 1000`` (conditions joined by &&)."""
    terms = []
    for i, item in enumerate(v.items("where", where, what="(attribute, operator, value)")):
        field = f"where[{i}]"
        if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 3:
            raise InvalidInput(f"{field} must be (attribute, operator, value)", field="where")
        key, op, value = item
        name = json.dumps(v.text(f"{field} attribute", key, max_len=200))
        if op not in COMPARISONS:
            raise InvalidInput(
                f"{field} operator is {op!r}; expected one of {', '.join(COMPARISONS)}",
                field="where",
            )
        terms.append(_term(field, name, COMPARISONS[op], value))
    return " && ".join(terms)


def _term(field: str, name: str, op: str, value: object) -> str:
    if isinstance(value, bool):
        if op not in ("==", "!="):
            raise InvalidInput(f"{field}: booleans compare only with = or !=", field="where")
        return f"$.{name} {op} {'true' if value else 'false'}"
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"{field}: the value must be a finite number", field="where")
    if isinstance(value, int) and value.bit_length() > 256:
        raise InvalidInput(f"{field}: the integer is beyond 256 bits", field="where")
    if isinstance(value, int | float):
        return f"$.{name} {op} {value!r}"
    if isinstance(value, datetime | date):
        # Dates compare as dates: both sides parsed by jsonpath's datetime(), and only with
        # the stored kinds it compares with outside the *_tz functions (else it raises).
        zoned = isinstance(value, datetime) and value.utcoffset() is not None
        kinds = " || ".join(f'$.{name}.datetime().type() == "{k}"' for k in _COMPARABLE[zoned])
        stamp = json.dumps(value.isoformat())
        return f"(({kinds}) && $.{name}.datetime() {op} {stamp}.datetime())"
    if isinstance(value, str):
        return f"$.{name} {op} {json.dumps(v.text(field, value, max_len=1000, min_len=0))}"
    raise InvalidInput(
        f"{field}: compare with a number, string, boolean, date or datetime, "
        f"not {type(value).__name__}",
        field="where",
    )


# What a given moment compares with: a zoned one with zoned timestamps; a date or an
# unzoned moment with dates and unzoned timestamps. Other stored values do not match.
_COMPARABLE = {
    True: ("timestamp with time zone",),
    False: ("date", "timestamp without time zone"),
}


def _moment(field: str, value: object) -> datetime | None:
    if value is not None and not isinstance(value, datetime):
        raise InvalidInput(f"{field} must be a datetime", field=field)
    return value


def source_arguments(
    prefix: str, kind: str | None, user: str | None, scope: str, after: str | None, count: int
) -> dict[str, Any]:
    """The arguments of a listing of sources (memory's and expiry's ``sources``), checked,
    as their statements take them (``count``: the page size)."""
    return {
        "prefix": v.text("prefix", prefix, max_len=200, min_len=0),
        "kind": None if kind is None else v.text("kind", kind, max_len=100),
        **scoped(user, scope),
        "after": None if after is None else v.text("after", after, max_len=200, min_len=0),
        "limit": limit(count),
    }
