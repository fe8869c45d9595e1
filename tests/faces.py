"""Run one behaviour suite on both faces: the sync Ledger, and the AsyncLedger driven by a
real event loop through a proxy that makes its awaitables look synchronous to the test."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from agentledger import AsyncLedger, Ledger, Settings


class AsyncFace:
    """Wraps an async object: coroutine results are awaited on ``runner``; async context
    managers become sync ones; other attributes are wrapped in turn."""

    def __init__(self, target: Any, runner: asyncio.Runner) -> None:
        self._target = target
        self._runner = runner

    def __getattr__(self, name: str) -> Any:
        return _wrap(getattr(self._target, name), self._runner)

    def __repr__(self) -> str:
        return f"AsyncFace({self._target!r})"


def _wrap(value: Any, runner: asyncio.Runner) -> Any:
    if callable(value) and not isinstance(value, type):

        def call(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            if inspect.isawaitable(result):
                return _wrap(runner.run(_await(result)), runner)
            if hasattr(result, "__aenter__"):
                return _sync_cm(result, runner)
            if inspect.isasyncgen(result):
                return _drain(result, runner)
            return _wrap(result, runner)

        return call
    if _is_plain(value):
        return value
    return AsyncFace(value, runner)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _is_plain(value: Any) -> bool:
    module = type(value).__module__
    return (
        not module.startswith("agentledger")
        or module.endswith(("records", "errors"))
        or hasattr(value, "__dataclass_fields__")
    )


@contextmanager
def _sync_cm(acm: Any, runner: asyncio.Runner) -> Iterator[Any]:
    entered = runner.run(_await(acm.__aenter__()))
    try:
        yield _wrap(entered, runner)
    except BaseException as exc:
        if not runner.run(_await(acm.__aexit__(type(exc), exc, exc.__traceback__))):
            raise
    else:
        runner.run(_await(acm.__aexit__(None, None, None)))


def _drain(agen: Any, runner: asyncio.Runner) -> list[Any]:
    async def collect() -> list[Any]:
        return [item async for item in agen]

    return runner.run(collect())


@contextmanager
def opened(
    face: str, settings: Settings, aio: asyncio.Runner, *, migrate: bool = True
) -> Iterator[Ledger]:
    """A Ledger (``face="sync"``), or an AsyncLedger presented as one, opened on
    ``settings``: for tests that open their own ledger on both faces."""
    if face == "sync":
        with Ledger(settings, migrate=migrate) as ledger:
            yield ledger
        return
    aledger = AsyncLedger(settings, migrate=migrate)
    aio.run(aledger.open())
    try:
        yield cast(Ledger, AsyncFace(aledger, aio))
    finally:
        aio.run(aledger.close())


def handler_for(ledger: Any, fn: Callable[[Any], Any]) -> Any:
    """The same task handler as a plain or a coroutine function, to suit the face."""
    if isinstance(ledger, AsyncFace):

        async def handle(task: Any) -> Any:
            return fn(task)

        return handle
    return fn
