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
    three times the cost). The values are the caller's to have checked."""
    setters = tuple(getattr(cls, name).__set__ for name in _field_names(cls))  # type: ignore[arg-type]
    new = object.__new__

    def build(*values: Any) -> R:
        record = new(cls)
        for set_field, value in zip(setters, values, strict=True):
            set_field(record, value)
        return record

    return build
