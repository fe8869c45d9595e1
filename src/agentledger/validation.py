"""Refuse input PostgreSQL would reject, before it reaches the server, naming the field."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import struct
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from typing import Any, TypeGuard
from uuid import UUID

from agentledger.errors import InvalidInput

MAX_JSON_BYTES = 1_000_000
# How far ahead of this clock a fixed timestamp (``at=``) may be: clocks of a client and of
# the database server disagree by a little, never by more.
CLOCK_SKEW = dt.timedelta(minutes=5)
_SKEW_TEXT = f"{CLOCK_SKEW.total_seconds() / 60:g} minutes"
_INT64 = 2**63


def text(
    field: str, value: object, *, max_len: int = 10_000, min_len: int = 1, strip: bool = False
) -> str:
    """A string without NUL bytes or lone surrogates, within length bounds."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string, not {type(value).__name__}", field=field)
    if strip:
        value = value.strip()
    if "\x00" in value:
        raise InvalidInput(
            f"{field} contains a NUL byte, which PostgreSQL cannot store", field=field
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{field} is not valid UTF-8 text", field=field) from None
    if len(value) < min_len:
        raise InvalidInput(
            f"{field} must not be empty" if min_len == 1 else f"{field} is shorter than {min_len}",
            field=field,
        )
    if len(value) > max_len:
        raise InvalidInput(
            f"{field} is {len(value)} characters long; the limit is {max_len}", field=field
        )
    return value


# Characters that end or break a line of text (C0 and C1 controls, the Unicode separators).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def name(field: str, value: object, *, max_len: int) -> str:
    """A name that travels on one line (a stream, an event type: an SSE ``event:`` line, a
    message header): text without control characters or line breaks."""
    value = text(field, value, max_len=max_len)
    bad = _CONTROL.search(value)
    if bad is not None:
        raise InvalidInput(
            f"{field} contains the control character {bad.group()!r}: a name is one line of "
            "printable text",
            field=field,
        )
    return value


def query(
    field: str, value: object, *, max_len: int = 1000, min_len: int = 1, strip: bool = False
) -> str:
    """A search string (``text``) in Unicode's composed form (NFC), the form nearly all
    stored text is in: "café" typed with a combining accent then finds "café"."""
    checked = text(field, value, max_len=max_len, min_len=min_len, strip=strip)
    return checked if checked.isascii() else unicodedata.normalize("NFC", checked)


def matching(
    field: str, value: object, pattern: re.Pattern[str], *, max_len: int, what: str
) -> str:
    """A ``text`` that ``pattern`` matches whole; else InvalidInput saying it is not ``what``
    (the kind of name, then how to write one)."""
    checked = text(field, value, max_len=max_len)
    if not pattern.fullmatch(checked):
        raise InvalidInput(f"{field} {checked!r} is not {what}", field=field)
    return checked


def optional_text(field: str, value: object, *, max_len: int = 10_000) -> str | None:
    return None if value is None else text(field, value, max_len=max_len, min_len=0)


def choice(field: str, value: object, allowed: Collection[str]) -> str:
    try:
        known = value in allowed
    except TypeError:  # unhashable, so none of them
        known = False
    if not known:
        raise InvalidInput(
            f"{field} is {value!r}; expected one of {', '.join(sorted(allowed))}", field=field
        )
    return str(value)


def listable(value: object) -> TypeGuard[Iterable[Any]]:
    """Whether ``value`` is a list of items as ``items`` takes one: any iterable but a
    string, bytes or a mapping (each of which is one value, not a list of its parts)."""
    return isinstance(value, Iterable) and not isinstance(value, str | bytes | bytearray | Mapping)


def items(field: str, value: object, *, what: str, max_items: int | None = None) -> list[Any]:
    """The items of ``value``, which must be ``listable``, as a list; ``what`` names them
    in the error."""
    if not listable(value):
        raise InvalidInput(
            f"{field} must be a list of {what}, not {type(value).__name__}", field=field
        )
    listed = list(value)
    if max_items is not None and len(listed) > max_items:
        raise InvalidInput(
            f"{field} has {len(listed)} items; the limit is {max_items}", field=field
        )
    return listed


def integer(field: str, value: object, *, low: int = -_INT64, high: int = _INT64 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer, not {type(value).__name__}", field=field)
    if not low <= value <= high:
        raise InvalidInput(
            f"{field} is {shown(value)}; it must be between {low} and {high}", field=field
        )
    return value


def shown(value: float) -> str:
    """A number for a message: an int too long to print whole (Python prints at most 4,300
    digits) is told by its size."""
    if isinstance(value, int) and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    return repr(value)


def flag(field: str, value: object) -> bool:
    """A yes-or-no argument: ``bool("false")`` is True, so nothing else is read as one."""
    if not isinstance(value, bool):
        raise InvalidInput(
            f"{field} must be true or false, not {type(value).__name__}", field=field
        )
    return value


def number(
    field: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    single: bool = False,
) -> float:
    """A finite number within bounds; with ``single``, one a ``real`` column stores (single
    precision: within ±3.4e38, and not so small that it would become 0)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field} must be a number, not {type(value).__name__}", field=field)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int past a double's range
        raise InvalidInput(f"{field} is beyond a double's range", field=field) from None
    if not finite:
        raise InvalidInput(f"{field} must be a finite number", field=field)
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidInput(f"{field} is {value}; it must be between {low} and {high}", field=field)
    if single and value != 0:
        try:
            stored = struct.unpack("f", struct.pack("f", value))[0]
        except OverflowError:
            stored = math.inf
        if stored == 0 or math.isinf(stored):
            raise InvalidInput(
                f"{field} is {value}; a real (single precision) holds 0 and magnitudes from "
                "about 1.4e-45 to 3.4e38",
                field=field,
            )
    return float(value)


def json_object(field: str, value: object, *, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """A JSON object PostgreSQL's jsonb accepts: no NUL, finite numbers, bounded size."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(
            f"{field} must be a JSON object, not {type(value).__name__}", field=field
        )
    json_value(field, value, max_bytes=max_bytes)
    return dict(value)


def json_value(field: str, value: object, *, max_bytes: int = MAX_JSON_BYTES) -> Any:
    bound = _plain_json_bound(value, 0)
    if bound is not None and bound <= max_bytes:
        return value  # plain JSON, surely within the limit: no need to encode it to know
    _check_json(field, value, depth=0)
    try:
        size = len(json.dumps(value, allow_nan=False).encode())
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{field} is not JSON-serialisable: {exc}", field=field) from None
    if size > max_bytes:
        raise InvalidInput(
            f"{field} is {size} bytes of JSON; the limit is {max_bytes}", field=field
        )
    return value


def tags(field: str, value: object, *, max_items: int = 100) -> list[str]:
    if value is None:
        return []
    listed = items(field, value, what="strings", max_items=max_items)
    return sorted({text(f"{field}[{i}]", v, max_len=200) for i, v in enumerate(listed)})


# Integers in JSON: Python (and so every reader of the stored value) converts at most 4,300
# digits between text and int by default. An int of at most _JSON_INT_BITS bits is surely
# below 10**MAX_JSON_INT_DIGITS.
MAX_JSON_INT_DIGITS = 4000
_JSON_INT_BITS = 13_287

# Half of a UTF-16 pair on its own: Python strings may hold one, UTF-8 and jsonb cannot.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _plain_json_bound(value: object, depth: int) -> int | None:
    """An upper bound on ``json.dumps(value)``'s length in bytes when ``value`` is plain,
    valid JSON (dicts with string keys, lists, tuples, finite numbers, strings without NUL,
    at most 64 levels deep); None when it is not, or may not be: the careful walk
    (:func:`_check_json`) and the encoder then decide and name the problem."""
    if depth > 64:
        return None
    if isinstance(value, str):
        if value.isascii():
            # ASCII escapes to at most 6 bytes a character (\u001f), plus the quotes.
            return None if "\x00" in value else 6 * len(value) + 2
        if "\x00" in value or _SURROGATE.search(value):
            return None
        return 12 * len(value) + 2  # anything else at most a surrogate pair's 12
    if value is None or isinstance(value, bool):
        return 5
    if isinstance(value, int):
        if value.bit_length() > _JSON_INT_BITS:
            return None
        return value.bit_length() // 3 + 2  # decimal digits (log10 2 < 1/3) and a sign
    if isinstance(value, float):
        return 24 if math.isfinite(value) else None  # repr's longest: -1.2345678901234567e-308
    total = 2
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return None
            key_bound = _plain_json_bound(key, depth + 1)
            item_bound = _plain_json_bound(item, depth + 1)
            if key_bound is None or item_bound is None:
                return None
            total += key_bound + item_bound + 4  # ": " and ", "
        return total
    if isinstance(value, list | tuple):
        for item in value:
            item_bound = _plain_json_bound(item, depth + 1)
            if item_bound is None:
                return None
            total += item_bound + 2  # ", "
        return total
    return None


def _check_json(field: str, value: object, depth: int) -> None:
    if depth > 64:
        raise InvalidInput(f"{field} is nested deeper than 64 levels", field=field)
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput(f"{field} contains a NUL character (\\u0000)", field=field)
        lone = None if value.isascii() else _SURROGATE.search(value)
        if lone is not None:
            raise InvalidInput(
                f"{field} contains a lone surrogate (\\u{ord(lone.group()):x}), which is not "
                "Unicode text",
                field=field,
            )
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if value.bit_length() > _JSON_INT_BITS and abs(value) >= 10**MAX_JSON_INT_DIGITS:
            raise InvalidInput(
                f"{field} is an integer of more than {MAX_JSON_INT_DIGITS:,} digits", field=field
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{field} contains a non-finite number ({value})", field=field)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{field} has a non-string key {key!r}", field=field)
            if "\x00" in key or (not key.isascii() and _SURROGATE.search(key)):
                # repr() keeps the message itself storable and printable.
                raise InvalidInput(
                    f"{field} has the key {key!r}, which holds a NUL character or a lone "
                    "surrogate: not text PostgreSQL can store",
                    field=field,
                )
            _check_json(f"{field}.{key}", item, depth + 1)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_json(f"{field}[{i}]", item, depth + 1)
    else:
        raise InvalidInput(
            f"{field} holds a {type(value).__name__}, which is not a JSON type", field=field
        )


def uuid(field: str, value: object) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidInput(f"{field} {value!r} is not a UUID", field=field) from None


def aware_datetime(field: str, value: object, *, not_future: bool = False) -> dt.datetime | None:
    """An optional timezone-aware datetime (None passes through; a naive one is refused,
    never assumed UTC) within years 1-9999 in UTC.

    With ``not_future`` it is a fixed timestamp for a write (``at=``: imported history,
    back-dating, deterministic tests): it may lie anywhere in the past but at most
    CLOCK_SKEW ahead of this clock, which allows for a client's clock running ahead of the
    database server's. Every module that takes ``at=`` checks it here."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise InvalidInput(f"{field} must be a timezone-aware datetime", field=field)
    try:
        value.astimezone(dt.UTC)  # PostgreSQL stores UTC; out of range, no reader could load it
    except OverflowError:
        raise InvalidInput(
            f"{field} ({value.isoformat()}) is outside years 1-9999 in UTC", field=field
        ) from None
    if not_future and value > dt.datetime.now(dt.UTC) + CLOCK_SKEW:
        raise InvalidInput(
            f"{field} ({value.isoformat()}) is in the future: a fixed timestamp may be at "
            f"most {_SKEW_TEXT} ahead of this clock",
            field=field,
        )
    return value
