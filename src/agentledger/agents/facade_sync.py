# Generated from src/agentledger/agents/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's agent registry: async façade."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentledger.agents import ops
from agentledger.agents.records import Agent
from agentledger.db.database_sync import Runner


class Agents:
    """Register agents, record heartbeats and runs, find agents by status or capability."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def register(
        self,
        name: str,
        *,
        agent_type: str | None = None,
        domain: str | None = None,
        command: str | None = None,
        capabilities: Sequence[str] | None = None,
        config: Mapping[str, Any] | None = None,
        heartbeat_timeout: float | None = None,
    ) -> Agent:
        """Register or update an agent; arguments left None keep their stored value."""
        return self._run(
            ops.register(
                name,
                agent_type=agent_type,
                domain=domain,
                command=command,
                capabilities=capabilities,
                config=config,
                heartbeat_timeout=heartbeat_timeout,
            )
        )

    def get(self, name: str) -> Agent:
        return self._run(ops.get(name))

    def list(
        self,
        *,
        status: str | None = None,
        agent_type: str | None = None,
        capability: str | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[Agent]:
        return self._run(
            ops.list_(
                status=status,
                agent_type=agent_type,
                capability=capability,
                after=after,
                limit=limit,
            )
        )

    def heartbeat(self, name: str, *, status: str | None = None) -> Agent:
        """The agent is alive (and, optionally, available / busy / offline / error)."""
        return self._run(ops.heartbeat(name, status=status))

    def record_run(self, name: str, *, status: str | None = None) -> Agent:
        """The agent ran just now: stamps last_run_at (and its heartbeat)."""
        return self._run(ops.heartbeat(name, status=status, ran=True))

    def remove(self, name: str) -> bool:
        return self._run(ops.remove(name))
