"""How values cross the wire: dicts as jsonb, JSON decoded once, id and token arrays packed,
embeddings in pgvector's binary form both ways.

The list types of ``db/types.py`` are packed in one go and always carry the type the
statements expect: psycopg would dump them element by element and type a list of small
integers as smallint[] or integer[], and a ``::bigint[]`` cast of such a parameter converts
the whole array wherever it is evaluated (in a row filter, once per row).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import struct
import sys
from array import array
from collections.abc import Callable
from itertools import chain, repeat
from typing import Any
from uuid import UUID

from psycopg import BaseConnection, DataError, postgres
from psycopg.abc import AdaptContext
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.pq import Format
from psycopg.types.datetime import TimestamptzBinaryLoader, TimestamptzLoader
from psycopg.types.json import JsonbDumper

from agentledger.db.types import Bigints, Uuids, Vector, Vectors


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
    if conn.pgconn.parameter_status(b"TimeZone") != b"UTC":  # through a transaction pooler
        adapters.register_loader("timestamptz", UtcTimestamptzLoader)
        adapters.register_loader("timestamptz", UtcTimestamptzBinaryLoader)


class UtcTimestamptzLoader(TimestamptzLoader):
    """timestamptz in UTC. psycopg gives the session's zone, which is UTC on the ledger's own
    sessions but the server's default on a transaction pooler's (where each transaction
    sets UTC for itself only)."""

    def __init__(self, oid: int, context: AdaptContext | None = None):
        super().__init__(oid, context)
        self._timezone = dt.UTC


class UtcTimestamptzBinaryLoader(TimestamptzBinaryLoader):
    """timestamptz in UTC, from the binary format (as UtcTimestamptzLoader)."""

    def __init__(self, oid: int, context: AdaptContext | None = None):
        super().__init__(oid, context)
        self._timezone = dt.UTC


def _array_head(count: int, element_oid: int, nulls: bool = False) -> bytes:
    """A one-dimensional array's header in PostgreSQL's binary format (``nulls``: some
    element is NULL)."""
    if not count:
        return struct.pack("!iii", 0, 0, element_oid)
    return struct.pack("!iiiii", 1, int(nulls), element_oid, count, 1)


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


# The oids of pgvector's vector type and its array, where the extension is installed.
VECTOR_TYPES = """
SELECT t.oid, t.typarray FROM pg_type t
JOIN pg_extension x ON x.extname = 'vector' AND t.typnamespace = x.extnamespace
WHERE t.typname = 'vector'
"""


def register_vector(conn: BaseConnection[Any], oid: int, array_oid: int) -> None:
    """Embeddings travel in pgvector's binary form: checked ``Vector`` values out (alone or
    as a ``Vectors`` array) and every ``vector`` read back as a numpy array when numpy is
    installed, else as a list of floats. The oids differ per database (an extension's type),
    so the pool looks them up once per connection (``VECTOR_TYPES``)."""
    adapters = conn.adapters
    dumper = type("VectorDumper", (VectorDumper,), {"oid": oid})
    arrays = type("VectorsDumper", (VectorsDumper,), {"oid": array_oid, "_element": oid})
    adapters.register_dumper(Vector, dumper)
    adapters.register_dumper(Vectors, arrays)
    adapters.register_loader(oid, VectorBinaryLoader)
    adapters.register_loader(oid, VectorTextLoader)


_NULL = struct.pack("!i", -1)  # an array element's length when it is NULL


class VectorDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Vector) -> Buffer:
        return obj  # already in pgvector's binary form


class VectorsDumper(Dumper):
    format = Format.BINARY
    _element = 0

    def dump(self, obj: list[Vector | None]) -> Buffer:
        parts = [_array_head(len(obj), self._element, None in obj)]
        for value in obj:
            if value is None:
                parts.append(_NULL)
            else:
                parts.append(struct.pack("!i", len(value)))
                parts.append(value)
        return b"".join(parts)


def load_vector(data: Buffer) -> Any:
    """A vector in pgvector's binary form as a float32 numpy array (numpy installed), else a
    list of floats."""
    dims = int.from_bytes(bytes(data[:2]), "big")
    body = bytes(data[4 : 4 + 4 * dims])
    np = optional_numpy()
    if np is not None:
        return np.frombuffer(body, dtype=">f4").astype(np.float32)
    values = array("f", body)
    if sys.byteorder == "little":
        values.byteswap()
    return values.tolist()


class VectorBinaryLoader(Loader):
    format = Format.BINARY

    def load(self, data: Buffer) -> Any:
        return load_vector(data)


class VectorTextLoader(Loader):
    """A vector as text ("[1,2,3]"), read the same way as the binary form."""

    def load(self, data: Buffer) -> Any:
        values = [float(x) for x in str(data, "ascii").strip("[]").split(",") if x]
        np = optional_numpy()
        return values if np is None else np.asarray(values, dtype=np.float32)


@functools.cache
def optional_numpy() -> Any:
    """numpy when it is installed (None otherwise), imported once on first use."""
    try:
        import numpy
    except ImportError:
        return None
    return numpy
