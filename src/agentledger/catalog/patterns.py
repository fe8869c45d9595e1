"""Schema patterns compiled and matched within bounds.

jsonschema matches ``pattern``, ``patternProperties`` and the ``additionalProperties``
they shape with Python's ``re``, which backtracks without bound: a tenant's schema holding
a pattern such as ``(a+)+$`` would keep a server thread busy for ever on one crafted
string. The catalog's validators match these keywords with the ``regex`` package, whose
matches take a timeout: the compiles and matches of one validation share
``MATCH_SECONDS``, after which the content is refused. ``unevaluatedProperties`` matches
``patternProperties`` with ``re`` too, so the catalog refuses a schema that uses both
(schemas.check_schema).

``regex`` spells a counted repeat out when it compiles it (``x{10000000}`` takes seconds and
gigabytes, ``x{4294967294}`` never ends), and both engines recurse once per nested group,
so a pattern is compiled only when it is small once written out (``MAX_PATTERN_SIZE``) and
nests its groups at most ``MAX_PATTERN_DEPTH`` deep. A string of the ``regex`` format is
one that passes that check and that ``re`` compiles (:func:`checked`, jsonschema's test);
a schema's pattern must also compile with ``regex`` (:func:`compiled`). Anything else is
:class:`BadPattern`, never the engines' own OverflowError or RecursionError.
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import regex
from jsonschema import FormatChecker, exceptions, validators
from jsonschema.protocols import Validator

from agentledger.catalog import uniqueness

MATCH_SECONDS = 1.0
MAX_PATTERN_SIZE = 10_000
MAX_PATTERN_DEPTH = 50
_deadline: ContextVar[float] = ContextVar("catalog_pattern_deadline", default=math.inf)
# A counted repeat: {n}, {n,} or {n,m}; regex spells its minimum out.
_REPEAT = re.compile(r"\{([0-9]*)(?:,[0-9]*)?\}")


class TooSlow(Exception):
    """A pattern did not finish compiling or matching within the validation's budget."""


class BadPattern(Exception):
    """Text that is not a pattern the catalog compiles; the message says why."""


@contextlib.contextmanager
def budget(seconds: float = MATCH_SECONDS) -> Iterator[None]:
    """The compiles and matches inside share ``seconds``."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _left(pattern: str) -> float:
    """The seconds left of the budget; TooSlow when none are."""
    left = _deadline.get() - time.monotonic()
    if left <= 0:
        raise TooSlow(pattern)
    return min(left, 3600.0)


def checked(pattern: str) -> None:
    """Nothing when ``pattern`` is small enough and ``re`` compiles it; else BadPattern
    saying why. TooSlow when the budget is spent."""
    _left(pattern)
    _check(pattern)


def compiled(pattern: str) -> regex.Pattern[str]:
    """``pattern`` compiled by ``regex``, once :func:`checked`; BadPattern when it is not a
    pattern, TooSlow when the budget is spent."""
    _left(pattern)
    return _compile(pattern)


def _check(pattern: str) -> None:
    too_big = _size_error(pattern)
    if too_big is not None:
        raise BadPattern(too_big)
    try:
        re.compile(pattern)  # jsonschema's test of the regex format
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        raise BadPattern(f"re cannot compile it: {exc}") from None


@functools.lru_cache(maxsize=64)
def _compile(pattern: str) -> regex.Pattern[str]:
    _check(pattern)
    try:
        return regex.compile(pattern, cache_pattern=False)  # this cache holds it
    except (regex.error, OverflowError, RecursionError, ValueError) as exc:
        raise BadPattern(f"regex cannot compile it: {exc}") from None


def _size_error(pattern: str) -> str | None:
    """Why ``pattern`` is too big to compile, or None. Written out, each counted repeat
    copied as often as its minimum says, it may be at most MAX_PATTERN_SIZE characters long
    (an over-estimate: a character class or an escape counts as it is written), and its
    groups may nest at most MAX_PATTERN_DEPTH deep."""
    too_long = (
        f"written out, its counted repeats copied, it is over {MAX_PATTERN_SIZE:,} characters"
    )
    outer: list[int] = []  # for each open group, the size of what encloses it so far
    enclosing = 0  # sum(outer)
    size = last = 0  # the open group's size so far; the last item's, which a repeat copies
    i = 0
    while i < len(pattern):
        char = pattern[i]
        repeat = _REPEAT.match(pattern, i) if char == "{" else None
        if char == "(":
            outer.append(size)
            enclosing += size
            size, i = 1, i + 1
            if len(outer) > MAX_PATTERN_DEPTH:
                return f"its groups nest more than {MAX_PATTERN_DEPTH} deep"
        elif char == ")" and outer:
            last = size + 1
            enclosing -= outer[-1]
            size, i = outer.pop() + last, i + 1
        elif repeat is not None and repeat.group(1):
            digits = repeat.group(1)
            copies = int(digits) if len(digits) <= 6 else MAX_PATTERN_SIZE + 1
            if copies > 1:
                size += last * (copies - 1)
                last *= copies
            i = repeat.end()
        else:
            step = 2 if char == "\\" else _class_end(pattern, i) - i if char == "[" else 1
            size, last, i = size + step, step, i + step
        if enclosing + size > MAX_PATTERN_SIZE:
            return too_long
    return None


def _class_end(pattern: str, start: int) -> int:
    """Where the character class opening at ``start`` ends (``re``'s reading)."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return min(i + 1, len(pattern))


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text``; BadPattern when it is not a
    pattern, TooSlow past the budget."""
    found = compiled(pattern)
    try:
        return found.search(text, timeout=_left(pattern)) is not None
    except TimeoutError:
        raise TooSlow(pattern) from None


def _is_regex(instance: object) -> bool:
    if isinstance(instance, str):
        checked(instance)
    return True


@functools.cache
def format_checker(cls: type[Validator]) -> FormatChecker:
    """``cls``'s format checker, its ``regex`` format tested by :func:`checked`."""
    checker = FormatChecker(formats=())
    for name, (check, raises) in cls.FORMAT_CHECKER.checkers.items():
        checker.checks(name, raises)(check)
    if "regex" in checker.checkers:
        checker.checks("regex", BadPattern)(_is_regex)
    return checker


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not search(pattern, instance):
        yield exceptions.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(
    validator: Any, allowed: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    named = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = sorted(
        key for key in instance if key not in named and not any(search(p, key) for p in patterns)
    )
    if validator.is_type(allowed, "object"):
        for key in extras:
            yield from validator.descend(instance[key], allowed, path=key)
    elif not allowed and extras:
        listed = ", ".join(repr(key) for key in extras)
        if patterns:
            yield exceptions.ValidationError(
                f"{listed} match none of the patterns {', '.join(map(repr, sorted(patterns)))}"
            )
        else:
            yield exceptions.ValidationError(f"additional properties are not allowed: {listed}")


@functools.cache
def bounded(cls: type[Validator]) -> type[Validator]:
    """``cls`` with the pattern keywords matched within the budget and ``uniqueItems``
    checked in linear time (uniqueness.py)."""
    keywords = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
        "uniqueItems": uniqueness.unique_items,
    }
    extended: type[Validator] = validators.extend(cls, keywords)  # type: ignore[no-untyped-call]
    return extended
