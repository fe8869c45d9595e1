"""Helpers for records: frozen, keyword-only dataclasses built from database rows."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

R = TypeVar("R")


def from_row(cls: type[R], row: Mapping[str, Any]) -> R:
    """Build ``cls`` from the row's columns that are fields of ``cls`` (extra columns ignored)."""
    names = _field_names(cls)  # type: ignore[arg-type]
    return cls(**{name: row[name] for name in names if name in row})


@functools.cache
def _field_names(cls: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def builder(cls: type[R]) -> Callable[..., R]:
    """A constructor of ``cls`` taking every field positionally, in declaration order, for
    the hot paths that build records by the thousand: it sets the slots directly, skipping
    the frozen dataclass's ``__init__`` (an ``object.__setattr__`` call per field, about
    three times the cost). The values are the caller's to have checked.

    Like the dataclass's own ``__init__``, its body is generated: one line per field, no
    loop (a loop over the fields costs half as much again)."""
    names = _field_names(cls)  # type: ignore[arg-type]
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    scope |= {f"set_{i}": getattr(cls, name).__set__ for i, name in enumerate(names)}
    values = [f"v{i}" for i in range(len(names))]
    source = "\n".join(
        [
            f"def build({', '.join(values)}):",
            "    record = new(cls)",
            *(f"    set_{i}(record, {value})" for i, value in enumerate(values)),
            "    return record",
        ]
    )
    exec(source, scope)  # generated from the dataclass's own field names
    return scope["build"]  # type: ignore[no-any-return]
