"""Façade methods that only run an operation: written once, as ``get = forward_async(ops.get)``.

A façade method whose whole body would be ``return await self._run(ops.x(...))`` with the
same parameters is not written out: ``forward_async`` makes it from the operation, which
keeps the one signature and docstring (type checkers and ``help()`` see both); ``new_id``
names an id argument the façade makes when the caller gives none (a ``Spooled`` the write
raises names that id, given or made, as ``record_id``). The sync face is
generated from the async one, where ``forward_async`` becomes ``forward_sync``. A method that
does more (embeds a text, loops, calls two operations) is written out as usual.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Concatenate, ParamSpec, TypeVar

from agentledger import ids
from agentledger.db.statements import Op
from agentledger.errors import Spooled

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def forward_async(
    op: Callable[P, Op[T]], *, new_id: str | None = None
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, T]]:
    """An async method running ``op`` through its façade's ``_run``; with ``new_id``, that
    keyword argument, when None, becomes a new UUID first (made once, before any retry), and
    a ``Spooled`` names it as ``record_id``."""

    async def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        _fill_id(kwargs, new_id)
        return await run_naming_async(self._run, op(*args, **kwargs), new_id)

    return _like(method, op)


def forward_sync(
    op: Callable[P, Op[T]], *, new_id: str | None = None
) -> Callable[Concatenate[Any, P], T]:
    """A method running ``op`` through its façade's ``_run`` (see ``forward_async``)."""

    def method(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> T:
        _fill_id(kwargs, new_id)
        return run_naming_sync(self._run, op(*args, **kwargs), new_id)

    return _like(method, op)


async def run_naming_async(
    run: Callable[[Op[T]], Awaitable[T]], op: Op[T], id_arg: str | None
) -> T:
    """``run(op)``; a ``Spooled`` it raises names ``op``'s ``id_arg`` keyword argument (the
    record's client-side id: an ``id``, an ``event_id``) as its ``record_id``. A written-out
    façade method whose write may spool runs it this way too."""
    try:
        return await run(op)
    except Spooled as kept:
        kept.naming(_id_of(op, id_arg))
        raise


def run_naming_sync(run: Callable[[Op[T]], T], op: Op[T], id_arg: str | None) -> T:
    """``run(op)``, naming the record's id in a ``Spooled`` (see ``run_naming_async``)."""
    try:
        return run(op)
    except Spooled as kept:
        kept.naming(_id_of(op, id_arg))
        raise


def _id_of(op: Op[Any], id_arg: str | None) -> Any:
    return None if id_arg is None else op.kwargs.get(id_arg)


def _fill_id(kwargs: dict[str, Any], new_id: str | None) -> None:
    if new_id is not None and kwargs.get(new_id) is None:
        kwargs[new_id] = ids.new_id()


def _like(method: F, op: Callable[..., Any]) -> F:
    """``method`` named, documented and signed as ``op`` with ``self`` in front (no
    ``__wrapped__``: inspecting a bound method would then drop ``op``'s first parameter)."""
    functools.update_wrapper(method, op, assigned=("__module__", "__name__", "__doc__"), updated=())
    signature = inspect.signature(op)
    self = inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)
    returns = signature.return_annotation  # "Gen[X]" (postponed): the method returns X
    if isinstance(returns, str) and returns.startswith("Gen[") and returns.endswith("]"):
        returns = returns[4:-1]
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[self, *signature.parameters.values()], return_annotation=returns
    )
    return method
