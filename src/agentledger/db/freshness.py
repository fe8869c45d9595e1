"""Read-your-writes: how far a scope's writes reached in the primary's WAL, which a standby
must have replayed before it serves that scope's reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class WriteMark:
    """The primary's WAL position (an LSN, as a number) after a scope's latest write; 0
    before any. ``unknown`` when it could not be read (or a write's outcome is unknown):
    the scope's reads then go to the primary until its next write is marked."""

    lsn: int = 0
    unknown: bool = False

    def reached(self, lsn: int) -> None:
        self.lsn = max(self.lsn, lsn)
        self.unknown = False
