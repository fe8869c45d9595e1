"""How values cross the wire: dicts as jsonb, JSON decoded once, id and token arrays packed.

The list types of ``db/types.py`` are packed in one go and always carry the type the
statements expect: psycopg would dump them element by element and type a list of small
integers as smallint[] or integer[], and a ``::bigint[]`` cast of such a parameter converts
the whole array wherever it is evaluated (in a row filter, once per row).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from itertools import chain, repeat
from typing import Any
from uuid import UUID

from psycopg import BaseConnection, DataError, postgres
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.pq import Format
from psycopg.types.json import JsonbDumper

from agentledger.db.types import Bigints, Uuids


def register_adapters(conn: BaseConnection[Any]) -> None:
    """Python dicts travel as jsonb, so operations pass plain dicts; JSON comes back through
    one decoder (the server sends UTF-8: no guessing the encoding per value)."""
    adapters = conn.adapters
    adapters.register_dumper(dict, JsonbDumper)
    adapters.register_dumper(Bigints, BigintsDumper)
    adapters.register_dumper(Uuids, UuidsDumper)
    for name in ("json", "jsonb"):
        adapters.register_loader(name, JsonLoader)
    adapters.register_loader("json", JsonBinaryLoader)
    adapters.register_loader("jsonb", JsonbBinaryLoader)


def _array_head(count: int, element_oid: int) -> bytes:
    """A one-dimensional array's header in PostgreSQL's binary format (no NULLs)."""
    if not count:
        return struct.pack("!iii", 0, 0, element_oid)
    return struct.pack("!iiiii", 1, 0, element_oid, count, 1)


class BigintsDumper(Dumper):
    format = Format.BINARY
    oid = postgres.types["int8"].array_oid
    _element = postgres.types["int8"].oid

    def dump(self, obj: list[int]) -> Buffer:
        # Each element: its length (8), then its value.
        body = struct.pack("!" + "iq" * len(obj), *chain.from_iterable(zip(repeat(8), obj)))
        return _array_head(len(obj), self._element) + body


class UuidsDumper(Dumper):
    format = Format.BINARY
    oid = postgres.types["uuid"].array_oid
    _element = postgres.types["uuid"].oid
    _length = struct.pack("!i", 16)

    def dump(self, obj: list[UUID]) -> Buffer:
        parts = [_array_head(len(obj), self._element)]
        last: UUID | None = None
        encoded = b""
        for value in obj:
            if value is not last:  # a claim's tasks share one token: encode it once
                last, encoded = value, self._length + value.bytes
            parts.append(encoded)
        return b"".join(parts)


_decoder = json.JSONDecoder()
# The decoder's scanner (the C one where available): one value from a position.
_scan: Callable[[str, int], tuple[Any, int]] = _decoder.scan_once  # type: ignore[attr-defined]


def load_json(data: Buffer | str) -> Any:
    """One JSON value, read by the decoder's scanner alone: the server's jsonb text has no
    surrounding whitespace to skip. Anything else takes the full decoder (and its errors)."""
    text = data if isinstance(data, str) else str(data, "utf-8")
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        return _decoder.decode(text)
    return value if end == len(text) else _decoder.decode(text)


class JsonLoader(Loader):
    """json and jsonb as text, decoded by one call per value."""

    def load(self, data: Buffer) -> Any:
        return load_json(str(data, "utf-8"))


class JsonBinaryLoader(JsonLoader):
    format = Format.BINARY  # json's binary form is its text


class JsonbBinaryLoader(Loader):
    """jsonb in binary: a format version byte (1), then the text."""

    format = Format.BINARY

    def load(self, data: Buffer) -> Any:
        if data[0] != 1:
            raise DataError(f"unknown jsonb binary format: {data[0]}")
        return load_json(str(data[1:], "utf-8"))
