# Generated from src/agentledger/agents/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's agent registry: async façade."""

from __future__ import annotations

from agentledger.agents import ops
from agentledger.agents.records import Agent
from agentledger.db.facade_sync import Facade
from agentledger.db.forward import forward_sync


class Agents(Facade):
    """Register agents, record heartbeats and runs, find agents by status or capability."""

    register = forward_sync(ops.register)
    get = forward_sync(ops.get)
    list = forward_sync(ops.list_)

    def heartbeat(self, name: str, *, status: str | None = None) -> Agent:
        """The agent is alive (and, optionally, available / busy / offline / error)."""
        return self._run(ops.heartbeat(name, status=status))

    def record_run(self, name: str, *, status: str | None = None) -> Agent:
        """The agent ran just now: stamps last_run_at (and its heartbeat)."""
        return self._run(ops.heartbeat(name, status=status, ran=True))

    remove = forward_sync(ops.remove)
