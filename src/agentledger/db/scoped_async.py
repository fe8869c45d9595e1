"""The ``async with`` protocol of things that open and close: leaving runs ``close()``."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class AsyncScoped:
    """``async with thing:`` is ``await thing.open()`` and, however the block ends,
    ``await thing.close()``. Subclasses define ``close`` (and ``open`` when opening does
    any work)."""

    async def open(self) -> Self:
        return self

    async def close(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
