"""Parameter types an operation may use to say how a value travels (I/O-free, no driver).

Operations pass plain Python values and the driver converts them. A list of ids or tokens
sent as one array should always carry the type the statement expects, whatever its
elements' sizes; wrapping it in one of these says so, and ``db/adapters.py`` packs it.
Module operations import this module by design, as they import ``db/statements.py``.
"""

from __future__ import annotations

from uuid import UUID


class Bigints(list[int]):
    """Integers that travel as one bigint[] (every element 64 bits, whatever its size)."""


class Uuids(list[UUID]):
    """UUIDs that travel as one uuid[]."""


class Vector(bytes):
    """One embedding in pgvector's binary form (dimension, a zero, big-endian float32s),
    as ``vectors.vector`` makes it: it travels as ``vector`` with no text in between."""

    @property
    def dimensions(self) -> int:
        return int.from_bytes(self[:2], "big")


class Vectors(list[Vector | None]):
    """Embeddings that travel as one vector[] (each in pgvector's binary form; None is a
    NULL element, to keep the array aligned with other rows)."""
