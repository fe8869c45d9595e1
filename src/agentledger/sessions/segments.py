"""Large text as searchable segments: cut at whitespace, each with the start of the next.

PostgreSQL caps a tsvector at 1 MB and its word positions at 16383, and ts_headline reads
the whole text it highlights; segments of about 32k characters stay well inside both, so
every part of a 20 MB transcript is indexed and a match is highlighted in milliseconds.
The segments' bodies, joined in order, are the content exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentledger import validation as v
from agentledger.errors import InvalidInput

SEGMENT_CHARS = 32_768
# A cut at whitespace is looked for in the segment's second half; without one, the segment
# is cut at SEGMENT_CHARS (one word that long cannot be searched for anyway).
_EARLIEST_CUT = SEGMENT_CHARS // 2
# How much of the next segment a segment's tsvector also covers, so that a phrase across a
# cut is found (in the segment where it starts).
OVERLAP_CHARS = 256
_SPACE = (" ", "\n", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Segments:
    """Parallel lists, as the insert statements take them."""

    bodies: list[str]
    overlaps: list[str]
    starts: list[int]


def content(field: str, value: object, *, max_chars: int) -> str:
    """Text to store: ``str``, or ``bytes`` that must be UTF-8; no NUL; 1 to ``max_chars``
    characters. Errors name ``field``."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"{field} is not valid UTF-8 (byte {exc.start} is {raw[exc.start]:#04x})",
                field=field,
            ) from None
    return v.text(field, value, max_len=max_chars)


def split(text: str) -> Segments:
    """Cut ``text`` into segments at whitespace (the whitespace stays with the segment
    before the cut)."""
    bodies: list[str] = []
    starts: list[int] = []
    start, end = 0, len(text)
    while start < end:
        stop = min(start + SEGMENT_CHARS, end)
        if stop < end:
            cut = max(text.rfind(space, start + _EARLIEST_CUT, stop) for space in _SPACE)
            if cut >= 0:
                stop = cut + 1
        bodies.append(text[start:stop])
        starts.append(start)
        start = stop
    overlaps = [_lead(nxt) for nxt in bodies[1:]] + [""]
    return Segments(bodies, overlaps, starts)


def _lead(segment: str) -> str:
    """The start of ``segment``, up to OVERLAP_CHARS, ending at whitespace where it can."""
    lead = segment[:OVERLAP_CHARS]
    if len(segment) <= OVERLAP_CHARS:
        return lead
    cut = max(lead.rfind(space) for space in _SPACE)
    return lead[: cut + 1] if cut > 0 else lead
