"""Synchronous calls into an async store or saver, from threads other than its event loop's.

LangGraph runs a graph's synchronous nodes in worker threads, and some of its code calls a
store's or checkpointer's synchronous methods: an async object answers them on the event
loop it runs on, as LangGraph's own async Postgres classes do. From that loop's thread such a
call would wait for itself, so it is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopBridge:
    """Remembers the event loop its owner runs on and runs coroutines there for callers in
    other threads."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    def enter(self) -> None:
        """Called by each async method: the first loop seen is the owner's."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()

    def run(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """The result of ``make()`` run on the owner's loop, waited for in this thread."""
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running():
            raise asyncio.InvalidStateError(
                f"{self._owner} answers synchronous calls only while its event loop runs: "
                "use its async methods (or graph.ainvoke)"
            )
        if running is loop:
            raise asyncio.InvalidStateError(
                f"synchronous calls to {self._owner} from its own event loop's thread would "
                "wait for themselves: use its async methods (or graph.ainvoke)"
            )
        return asyncio.run_coroutine_threadsafe(make(), loop).result()
