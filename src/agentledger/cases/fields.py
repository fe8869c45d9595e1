"""A case's typed fields: each one's check (errors name the field) and its JSON form for
the events that record it."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.cases.records import SEVERITIES, Case
from agentledger.errors import InvalidInput

# The fields a caller sets (kind, ref and status have operations of their own).
FIELDS = (
    "title",
    "body",
    "type",
    "severity",
    "score",
    "confidence",
    "owner",
    "domain",
    "entity",
    "source",
    "amount",
    "sla_deadline",
    "playbook",
    "playbook_step",
    "attrs",
)
# Fields that may be cleared (set to nothing) by ``update(clear=...)``.
CLEARABLE = tuple(f for f in FIELDS if f not in ("title", "body"))
MAX_BODY = 100_000
MAX_ATTRS_BYTES = 256_000
_SHORT_TEXT = {
    "type": 100,
    "owner": 200,
    "domain": 200,
    "entity": 500,
    "source": 200,
    "playbook": 200,
}
# A case amount's digits (PostgreSQL's numeric holds far more; this keeps it sane).
_MAX_AMOUNT_DIGITS = 38


def kind_name(value: object, field: str = "kind") -> str:
    return v.text(field, value, max_len=100, strip=True)


def status_name(value: object, field: str = "status") -> str:
    return v.text(field, value, max_len=100, strip=True)


def ref(value: object) -> str:
    return v.text("ref", value, max_len=200, strip=True)


def actor(value: object, field: str = "by") -> str | None:
    return v.optional_text(field, value, max_len=200)


def amount(value: object) -> Decimal:
    """An exact amount: a Decimal, an int, or a finite float (read as its shortest repr)."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise InvalidInput(f"amount must be a number, not {type(value).__name__}", field="amount")
    try:
        exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    except InvalidOperation:
        raise InvalidInput("amount is not a number", field="amount") from None
    if not exact.is_finite():
        raise InvalidInput("amount must be a finite number", field="amount")
    exponent = int(exact.as_tuple().exponent)
    written = max(exact.adjusted() + 1, 1) + max(-exponent, 0)  # digits written out in full
    if written > _MAX_AMOUNT_DIGITS:
        raise InvalidInput(f"amount has more than {_MAX_AMOUNT_DIGITS} digits", field="amount")
    return exact


def check(field: str, value: object) -> Any:
    """One field's value, checked (``value`` is not None)."""
    if field == "title":
        return v.text("title", value, max_len=500, strip=True)
    if field == "body":
        return v.text("body", value, max_len=MAX_BODY, min_len=0)
    if field in _SHORT_TEXT:
        return v.text(field, value, max_len=_SHORT_TEXT[field])
    if field == "severity":
        return v.choice("severity", value, SEVERITIES)
    if field == "score":
        return v.number("score", value, low=0, high=10)
    if field == "confidence":
        return v.number("confidence", value, low=0, high=1)
    if field == "amount":
        return amount(value)
    if field == "sla_deadline":
        return v.aware_datetime("sla_deadline", value)
    if field == "playbook_step":
        return v.integer("playbook_step", value, low=0, high=2**31 - 1)
    if field == "attrs":
        return v.json_object("attrs", value, max_bytes=MAX_ATTRS_BYTES)
    raise InvalidInput(f"{field!r} is not a case field", field=field)  # pragma: no cover


def given(values: Mapping[str, object]) -> dict[str, Any]:
    """The fields among ``values`` (an operation's arguments) that are given (not None),
    checked, in FIELDS order."""
    return {f: check(f, values[f]) for f in FIELDS if values.get(f) is not None}


def clearing(names: Iterable[str] | None) -> list[str]:
    """The fields ``update(clear=...)`` names, checked."""
    if names is None:
        return []
    out = []
    for name in v.items("clear", names, what="field names"):
        if name not in CLEARABLE:
            raise InvalidInput(
                f"clear names {name!r}; the fields that can be cleared are {', '.join(CLEARABLE)}",
                field="clear",
            )
        out.append(str(name))
    return out


def empty(field: str) -> Any:
    """A cleared field's value."""
    return {} if field == "attrs" else None


def snapshot(case: Case) -> dict[str, Any]:
    """The fields a case holds (the empty ones left out), as JSON for an event."""
    out = {}
    for f in FIELDS:
        value = getattr(case, f)
        if value is not None and value != {} and value != "":
            out[f] = jsonable(value)
    return out


def jsonable(value: Any) -> Any:
    """A field's value as JSON: amounts as exact decimal strings, times in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):  # pragma: no cover
        return None
    return value
