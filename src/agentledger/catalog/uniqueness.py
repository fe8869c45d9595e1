"""``uniqueItems`` in linear time.

jsonschema compares an array's items pairwise whenever it cannot sort them (objects, or
numbers mixed with strings): 8,000 small objects take minutes. The catalog writes each item
once as a canonical key and collects the keys in a set. Keys are equal exactly when
JSON Schema calls the items equal: numbers by value (``1`` is ``1.0``), ``true`` not
``1``, objects whatever the order of their keys, arrays item by item. Keys are strings,
whose hashes Python salts per process, so no crafted array makes the set slow.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from jsonschema import exceptions


def distinct(items: Iterable[Any]) -> bool:
    """Whether no two of ``items`` (JSON values) are equal under JSON Schema's equality."""
    seen: set[str] = set()
    for item in items:
        parts: list[str] = []
        _write(item, parts)
        key = "".join(parts)
        if key in seen:
            return False
        seen.add(key)
    return True


def _write(value: Any, parts: list[str]) -> None:
    """Append ``value``'s canonical key to ``parts``: each kind of value is written so that
    no key is the start of another."""
    if isinstance(value, str):
        parts += ("s", str(len(value)), ":", value)
    elif value is True or value is False:
        parts.append("t" if value else "f")
    elif value is None:
        parts.append("n")
    elif isinstance(value, float) and not value.is_integer():
        parts += ("d", value.hex(), ";")
    elif isinstance(value, int | float):
        parts += ("i", hex(int(value)), ";")  # hex: no digit limit, exact for any int
    elif isinstance(value, Mapping):
        parts.append("{")
        for key in sorted(value):
            _write(key, parts)
            _write(value[key], parts)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for item in value:
            _write(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not a JSON value")


def unique_items(validator: Any, unique: Any, instance: Any, schema: Any) -> Iterator[Any]:
    """The ``uniqueItems`` keyword, as jsonschema words it, in linear time."""
    if unique and validator.is_type(instance, "array") and not distinct(instance):
        yield exceptions.ValidationError(f"{instance!r} has non-unique elements")
