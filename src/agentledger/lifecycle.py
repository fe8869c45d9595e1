"""Lifecycles as transition tables: one table drives the Python check and the SQL guard."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any, TypeVar

from agentledger.attempts import after_unknown_commit
from agentledger.errors import Conflict, IllegalTransition, InvalidInput, NotFound

S = TypeVar("S")  # a statement (this leaf module does not know the db layer's type)
Row = dict[str, Any]


class Lifecycle:
    """``{state: {action: next_state}}``; each action leads to one state from wherever it is
    allowed, so a single ``UPDATE ... WHERE status = ANY(sources)`` applies it atomically."""

    def __init__(self, subject: str, table: Mapping[str, Mapping[str, str]]) -> None:
        self.subject = subject
        self.table = {state: dict(moves) for state, moves in table.items()}
        self.targets: dict[str, str] = {}
        for moves in self.table.values():
            for action, target in moves.items():
                if self.targets.setdefault(action, target) != target:
                    raise ValueError(f"{subject}: action {action!r} leads to two states")
                if target not in self.table:
                    raise ValueError(f"{subject}: {action!r} leads to unknown state {target!r}")

    @property
    def states(self) -> list[str]:
        return list(self.table)

    @property
    def actions(self) -> list[str]:
        return list(self.targets)

    def sources(self, action: str) -> list[str]:
        """The states ``action`` may be applied in (for the SQL guard)."""
        self._known(action)
        return [state for state, moves in self.table.items() if action in moves]

    def target(self, action: str) -> str:
        self._known(action)
        return self.targets[action]

    def guard(self, action: str) -> dict[str, Any]:
        """The parameters of ``action``'s guarded UPDATE: its ``target`` and its ``sources``."""
        return {"target": self.target(action), "sources": self.sources(action)}

    def check(self, action: str, state: str) -> str:
        """The next state, or IllegalTransition naming the action and the current state."""
        self._known(action)
        try:
            return self.table[state][action]
        except KeyError:
            raise IllegalTransition(
                f"cannot {action} {self.subject} in state {state!r}", action=action, state=state
            ) from None

    def move(
        self,
        action: str,
        update: S,
        reread: S,
        *,
        what: str,
        field: str,
        refused: Callable[[Row], None] | None = None,
    ) -> Generator[S, Row | None, Row]:
        """The steps of a ``transition`` operation (``row = yield from life.move(...)``).

        Yields ``update``, the guarded UPDATE of one row to :meth:`target` from one of
        :meth:`sources`, which returns the moved row (with its ``status``) or no row. When
        nothing moved, yields ``reread`` (the row as it is) to say why: NotFound
        ``"<what> does not exist"`` naming ``field``, IllegalTransition naming the action
        and the current state, the error ``refused`` raises for the row (when the UPDATE
        guards more than the state, it says which other rule the row failed), or Conflict
        when the row reached a state the action is allowed in only after the UPDATE looked
        (retrying is safe). Returns the moved row.
        """
        row = yield update
        if row is not None:
            return row
        current = yield reread
        if current is None:
            raise NotFound(f"{what} does not exist", field=field)
        state = current["status"]
        if after_unknown_commit() and state == self.target(action):
            return current  # the lost COMMIT's own move, most likely: it is done
        self.check(action, state)
        if refused is not None:
            refused(current)
        raise Conflict(
            f"{what} changed state concurrently (now {state!r}); {action} it again",
            action=action,
            state=state,
        )

    def _known(self, action: str) -> None:
        if not isinstance(action, str) or action not in self.targets:
            raise InvalidInput(
                f"{action!r} is not a {self.subject} action; expected one of "
                f"{', '.join(self.actions)}",
                field="action",
            )
