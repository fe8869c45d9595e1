"""Equality of JSON values as jsonb judges it, where Python's differs."""

from __future__ import annotations

from typing import Any


def same(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are the same JSON value: ``true`` is not ``1`` (Python says it
    is), ``1`` is ``1.0`` (as in jsonb), objects compare key by key and arrays (lists or
    tuples) item by item, at any depth. Values of other types compare with ``==``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and a.keys() == b.keys()
            and all(same(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple) or isinstance(b, list | tuple):
        return (
            isinstance(a, list | tuple)
            and isinstance(b, list | tuple)
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    return bool(a == b)
