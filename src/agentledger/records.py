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
    the hot paths that build records by the thousand. The values are the caller's to have
    checked.

    The frozen dataclass's ``__init__`` makes an ``object.__setattr__`` call per field.
    Here the fields are stored on a twin class with the same slots and no frozen guard,
    plain attribute stores, and the record then takes its own class: about a third of the
    cost of calling each slot's setter, and a tenth of ``__init__``'s. Its body is
    generated, one line per field (a loop over the fields costs half as much again)."""
    names = _field_names(cls)  # type: ignore[arg-type]
    slots = cls.__slots__  # type: ignore[attr-defined]
    twin = type(f"_{cls.__name__}Fields", (), {"__slots__": slots})
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls, "twin": twin}
    values = [f"v{i}" for i in range(len(names))]
    source = "\n".join(
        [
            f"def build({', '.join(values)}):",
            "    record = new(twin)",
            *(f"    record.{name} = {value}" for name, value in zip(names, values, strict=True)),
            "    record.__class__ = cls",
            "    return record",
        ]
    )
    exec(source, scope)  # generated from the dataclass's own field names
    return scope["build"]  # type: ignore[no-any-return]
