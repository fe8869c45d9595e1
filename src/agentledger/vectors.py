"""Embeddings as pgvector stores them, checked before they travel, naming the field."""

from __future__ import annotations

import math
import struct
import sys
from array import array
from collections.abc import Mapping, Sequence
from typing import Any

from agentledger.errors import InvalidInput

# pgvector's limit on a stored vector's dimension.
MAX_VECTOR_DIMENSIONS = 16_000


def vector(field: str, value: object, *, dimensions: int | None = None) -> bytes:
    """An embedding as pgvector will store it (single precision), in its binary form
    (dimension, a zero, big-endian float32s).

    Takes a 1-D numpy array of any real dtype, a list, a tuple or an ``array.array``. Its
    length must be ``dimensions`` (any up to pgvector's 16,000 when None: the space is
    checked later); each number must be finite, and stay finite in single precision
    (within ±3.4e38); and the vector must keep a non-zero length once stored, since no
    distance to a vector without a direction means anything (cosine gives NaN). A numpy
    array (or any input while numpy is imported) is checked by numpy, with no Python loop
    per number; a list of plain floats that surely passes is packed without it.
    """
    np = sys.modules.get("numpy")
    limit = MAX_VECTOR_DIMENSIONS if dimensions is None else dimensions
    if isinstance(value, str | bytes | Mapping) or not (
        isinstance(value, Sequence | array) or (np is not None and isinstance(value, np.ndarray))
    ):
        raise InvalidInput(
            f"{field} must be a list, tuple, array.array or 1-D numpy array of numbers, "
            f"not {type(value).__name__}",
            field=field,
        )
    if np is None or not isinstance(value, np.ndarray):
        kinds = set(map(type, value))
        if _sized(len(value), dimensions, limit) and kinds <= {float}:
            plain = _plain_vector(value)
            if plain is not None:
                return plain
        if bool in kinds:  # numpy would take True as 1.0
            raise InvalidInput(f"{field} must hold numbers only, not booleans", field=field)
    if np is not None:
        singles = _numpy_singles(np, field, value)
        size = len(singles)
    else:
        try:
            doubles = array("d", value)
        except TypeError:
            raise InvalidInput(f"{field} must hold numbers only", field=field) from None
        if not all(map(math.isfinite, doubles)):
            raise InvalidInput(
                f"{field} must hold finite numbers only (no NaN or infinity)", field=field
            )
        floats = array("f", doubles)  # what pgvector keeps: single precision
        size = len(floats)
    if not _sized(size, dimensions, limit):
        raise InvalidInput(
            f"{field} has {size} dimensions; expected {dimensions}"
            if dimensions is not None
            else f"{field} has {size} dimensions; it must have 1 to {limit}",
            field=field,
        )
    if np is not None:
        if not np.isfinite(singles).all():
            raise _beyond_single(field)
        if not singles.any():
            raise _zero_vector(field)
        packed: bytes = singles.astype(">f4").tobytes()
        return struct.pack(">HH", size, 0) + packed
    if not all(map(math.isfinite, floats)):
        raise _beyond_single(field)
    if not any(floats):
        raise _zero_vector(field)
    if sys.byteorder == "little":
        floats.byteswap()
    return struct.pack(">HH", size, 0) + floats.tobytes()


def _sized(size: int, dimensions: int | None, limit: int) -> bool:
    """Whether a vector of ``size`` numbers has the dimensions asked for (any up to
    ``limit`` when None)."""
    return size == dimensions if dimensions is not None else 1 <= size <= limit


def _plain_vector(value: Sequence[float] | array[float]) -> bytes | None:
    """The binary form of a vector of floats (the caller checked their type) that pgvector
    surely takes (finite, within single precision, a component that stays non-zero); None
    when it is not, or may not be: :func:`vector`'s careful checks then decide and name the
    problem."""
    if not math.isfinite(sum(value)):
        return None  # a NaN or an infinity (or a sum that overflows): the careful path
    first = next((x for x in value if x), 0.0)
    if abs(first) < 1e-44:
        return None  # zero, or small enough to round to zero in single precision
    try:
        # Big-endian single precision, as pgvector stores it; beyond ±3.4e38 it overflows.
        return struct.pack(f">HH{len(value)}f", len(value), 0, *value)
    except OverflowError:
        return None


def _numpy_singles(np: Any, field: str, value: object) -> Any:
    """The numbers as a float32 numpy array, after checking shape, type and finiteness."""
    try:
        values = np.asarray(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must hold numbers only", field=field) from None
    if values.ndim != 1:
        raise InvalidInput(
            f"{field} must be one-dimensional, not of shape {values.shape}", field=field
        )
    if values.dtype.kind not in "fiu":
        raise InvalidInput(f"{field} must hold real numbers only, not {values.dtype}", field=field)
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise InvalidInput(
            f"{field} must hold finite numbers only (no NaN or infinity)", field=field
        )
    with np.errstate(over="ignore"):  # overflow is reported below, naming the field
        return values.astype(np.float32)


def _beyond_single(field: str) -> InvalidInput:
    return InvalidInput(
        f"{field} holds a number beyond single precision (±3.4e38), which pgvector stores",
        field=field,
    )


def _zero_vector(field: str) -> InvalidInput:
    return InvalidInput(
        f"{field} is a zero vector (or rounds to one in single precision): it has no "
        "direction, so no distance to it is defined",
        field=field,
    )
