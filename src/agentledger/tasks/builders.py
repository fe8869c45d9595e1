"""Builders of the records a worker makes by the thousand: claimed tasks and their outcomes.

A builder makes the same frozen dataclass instance as the class's own constructor, but
skips the constructor's per-field guard: it fills a twin class that has the same slots and
no guard, then gives the record its real class. Its code is generated from the field
names, so a builder sets each field by name and checks, when it is made, that every field
is set exactly once. The values are the caller's to have checked: there is no validation
and no default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

R = TypeVar("R")


def builder(cls: type[R]) -> Callable[..., R]:
    """A constructor of ``cls`` taking every field positionally, in declaration order."""
    names = _field_names(cls)
    values = {name: f"v{i}" for i, name in enumerate(names)}
    lines = [f"def build({', '.join(values.values())}):", *_fill(values, "    ")]
    return _define(cls, lines, "build")  # type: ignore[no-any-return]


def row_builder(
    cls: type[R], columns: Sequence[str], *, shared: Sequence[str]
) -> Callable[..., Callable[[Sequence[Any]], R]]:
    """A factory of builders for rows laid out as ``columns`` (field names; a row may hold
    more columns after them).

    ``make(**shared_values)`` returns ``build(row)``, which makes a record whose fields
    named in ``columns`` come from the row at those positions and whose ``shared`` fields
    take the values given to ``make``. ValueError unless ``columns`` and ``shared`` name
    every field of ``cls`` exactly once.
    """
    named = [*columns, *shared]
    fields = _field_names(cls)
    if sorted(named) != sorted(fields):
        raise ValueError(
            f"{cls.__name__}: columns and shared fields must name each field once: "
            f"missing {sorted(set(fields) - set(named))}, "
            f"not fields {sorted(set(named) - set(fields))}, "
            f"named twice {sorted({name for name in named if named.count(name) > 1})}"
        )
    if clash := set(shared) & _GENERATED_NAMES:
        raise ValueError(f"{cls.__name__}: shared fields may not be named {sorted(clash)}")
    values = {name: f"row[{i}]" for i, name in enumerate(columns)}
    values |= {name: name for name in shared}
    lines = [
        f"def make(*, {', '.join(shared)}):" if shared else "def make():",
        "    def build(row):",
        *_fill(values, "        "),
        "    return build",
    ]
    return _define(cls, lines, "make")  # type: ignore[no-any-return]


# Names the generated code uses for itself.
_GENERATED_NAMES = {"new", "twin", "cls", "record", "row", "build"}


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    if not (dataclasses.is_dataclass(cls) and hasattr(cls, "__slots__")):
        raise TypeError(f"{cls.__name__} is not a slotted dataclass")
    return tuple(f.name for f in dataclasses.fields(cls))


def _fill(values: dict[str, str], indent: str) -> list[str]:
    """Lines that make a record with each field set to its expression, and return it."""
    return [
        f"{indent}record = new(twin)",
        *(f"{indent}record.{name} = {value}" for name, value in values.items()),
        f"{indent}record.__class__ = cls",
        f"{indent}return record",
    ]


def _define(cls: type[Any], lines: list[str], name: str) -> Any:
    """The function ``name`` defined by ``lines``, for records of ``cls``."""
    twin = type(f"_{cls.__name__}Fields", (), {"__slots__": cls.__slots__})
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls, "twin": twin}
    exec("\n".join(lines), scope)  # generated from the dataclass's own field names
    return scope[name]
