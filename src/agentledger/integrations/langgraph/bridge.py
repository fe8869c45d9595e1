"""Calls across the sync/async divide: a store's or saver's other face, made from its own.

LangGraph runs a graph's synchronous nodes in worker threads, and some of its code calls a
store's or checkpointer's synchronous methods: an async object answers them on the event
loop it runs on, as LangGraph's own async Postgres classes do. From that loop's thread such a
call would wait for itself, so it is refused. A sync object answers async calls by running
the sync method in a worker thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


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


def in_thread(
    method: Callable[Concatenate[Any, P], T],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]:
    """The async face of a sync method: ``aput = in_thread(put)`` runs ``put`` in a worker
    thread, so that the event loop goes on meanwhile."""

    async def run(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(method, self, *args, **kwargs)

    return _face(run, method, "a" + method.__name__)


def on_loop(
    method: Callable[Concatenate[Any, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[Any, P], T]:
    """The sync face of an async method: ``put = on_loop(aput)`` runs ``aput`` on the event
    loop of the object's ``LoopBridge`` (its ``_bridge``) and waits for it in the calling
    thread."""

    def run(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        bridge: LoopBridge = self._bridge
        return bridge.run(lambda: method(self, *args, **kwargs))

    return _face(run, method, method.__name__.removeprefix("a"))


def iter_in_thread(
    method: Callable[Concatenate[Any, P], Iterator[T]],
) -> Callable[Concatenate[Any, P], AsyncIterator[T]]:
    """The async face of a sync listing (``alist = iter_in_thread(list)``): read whole in a
    worker thread, then yielded."""

    async def run(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        found = await asyncio.to_thread(lambda: list(method(self, *args, **kwargs)))
        for item in found:
            yield item

    return _face(run, method, "a" + method.__name__)


def iter_on_loop(
    method: Callable[Concatenate[Any, P], AsyncIterator[T]],
) -> Callable[Concatenate[Any, P], Iterator[T]]:
    """The sync face of an async listing (``list = iter_on_loop(alist)``): read whole on the
    object's event loop (see ``on_loop``), then yielded."""

    def run(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        async def collect() -> list[T]:
            return [item async for item in method(self, *args, **kwargs)]

        bridge: LoopBridge = self._bridge
        yield from bridge.run(collect)

    return _face(run, method, method.__name__.removeprefix("a"))


def _face(run: F, method: Callable[..., Any], name: str) -> F:
    """``run`` signed and documented as ``method``, under LangGraph's name for the other
    face (``aput`` beside ``put``)."""
    functools.update_wrapper(run, method)
    run.__name__ = name
    run.__qualname__ = method.__qualname__.removesuffix(method.__name__) + name
    return run
