"""Whether an operation's run repeats one whose COMMIT was lost.

The database layer runs an idempotent operation again when its connection is lost after its
COMMIT was sent (db/database_async.py): the first run may have committed. Operations that
would refuse to do again what they did (a move to the state they reached, a version they
moved past) ask ``after_unknown_commit()`` and accept their own effect instead.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

_AFTER_UNKNOWN_COMMIT: ContextVar[bool] = ContextVar("agentledger_unknown_commit", default=False)


def after_unknown_commit() -> bool:
    """Whether this run of an operation repeats one whose COMMIT was sent before its
    connection was lost: that run may have committed. An idempotent operation that would
    refuse to do again what it did (a move to the state it is in, a version it moved past)
    returns what it finds when the rows show its own effect."""
    return _AFTER_UNKNOWN_COMMIT.get()


class Repeating:
    """An operation's attempt, ``after_unknown_commit()`` answering ``again`` meanwhile
    (beside a connection's ``with``, or an ``async with``)."""

    def __init__(self, again: bool) -> None:
        self.again = again
        self._token: Token[bool] | None = None

    def __enter__(self) -> None:
        self._token = _AFTER_UNKNOWN_COMMIT.set(self.again)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _AFTER_UNKNOWN_COMMIT.reset(self._token)

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()
