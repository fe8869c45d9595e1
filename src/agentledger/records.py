"""Helpers for records: frozen, keyword-only dataclasses built from database rows."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, TypeVar

from agentledger.errors import NotFound

R = TypeVar("R")


def from_row(cls: type[R], row: Mapping[str, Any]) -> R:
    """Build ``cls`` from the row's columns that are fields of ``cls`` (extra columns ignored)."""
    names = _field_names(cls)  # type: ignore[arg-type]
    return cls(**{name: row[name] for name in names if name in row})


def found(cls: type[R], row: Mapping[str, Any] | None, what: str, *, field: str) -> R:
    """``row`` as a ``cls`` record; NotFound saying ``what`` does not exist, naming ``field``,
    when the lookup found no row."""
    if row is None:
        raise NotFound(f"{what} does not exist", field=field)
    return from_row(cls, row)


@functools.cache
def _field_names(cls: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))
