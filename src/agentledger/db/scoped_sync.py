# Generated from src/agentledger/db/scoped_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The ``with`` protocol of things that open and close: leaving runs ``close()``."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Scoped:
    """``with thing:`` is ``thing.open()`` and, however the block ends,
    ``thing.close()``. Subclasses define ``close`` (and ``open`` when opening does
    any work)."""

    def open(self) -> Self:
        return self

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
