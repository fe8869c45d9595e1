"""Schema patterns matched within a time budget.

jsonschema matches ``pattern``, ``patternProperties`` and the ``additionalProperties``
they shape with Python's ``re``, which backtracks without bound: a tenant's schema holding
a pattern such as ``(a+)+$`` would keep a server thread busy for ever on one crafted
string. The catalog's validators match these keywords with the ``regex`` package, whose
matches take a timeout: the matches of one validation share ``MATCH_SECONDS``, after which
the content is refused. ``unevaluatedProperties`` matches ``patternProperties`` with
``re`` too, so the catalog refuses a schema that uses both (schemas.check_schema).
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import regex
from jsonschema import exceptions, validators
from jsonschema.protocols import Validator

MATCH_SECONDS = 1.0
_deadline: ContextVar[float] = ContextVar("catalog_pattern_deadline", default=math.inf)


class TooSlow(Exception):
    """A pattern did not finish matching within the validation's budget."""


@contextlib.contextmanager
def budget(seconds: float = MATCH_SECONDS) -> Iterator[None]:
    """The matches inside share ``seconds``."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` matches somewhere in ``text``; TooSlow past the budget."""
    left = _deadline.get() - time.monotonic()
    if left <= 0:
        raise TooSlow(pattern)
    try:
        return regex.search(pattern, text, timeout=min(left, 3600.0)) is not None
    except TimeoutError:
        raise TooSlow(pattern) from None


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
    """``cls`` with the pattern keywords matched within the budget."""
    keywords = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
    }
    extended: type[Validator] = validators.extend(cls, keywords)  # type: ignore[no-untyped-call]
    return extended
