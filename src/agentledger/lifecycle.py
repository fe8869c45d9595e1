"""Lifecycles as transition tables: one table drives the Python check and the SQL guard."""

from __future__ import annotations

from collections.abc import Mapping

from agentledger.errors import IllegalTransition, InvalidInput


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

    def check(self, action: str, state: str) -> str:
        """The next state, or IllegalTransition naming the action and the current state."""
        self._known(action)
        try:
            return self.table[state][action]
        except KeyError:
            raise IllegalTransition(
                f"cannot {action} {self.subject} in state {state!r}", action=action, state=state
            ) from None

    def _known(self, action: str) -> None:
        if action not in self.targets:
            raise InvalidInput(
                f"{action!r} is not a {self.subject} action; expected one of "
                f"{', '.join(self.actions)}",
                field="action",
            )
