"""The bound tenant's agent registry: async façade."""

from __future__ import annotations

from agentledger.agents import ops
from agentledger.agents.records import Agent
from agentledger.db.facade_async import AsyncFacade
from agentledger.db.forward import forward_async


class AsyncAgents(AsyncFacade):
    """Register agents, record heartbeats and runs, find agents by status or capability."""

    register = forward_async(ops.register)
    get = forward_async(ops.get)
    list = forward_async(ops.list_)

    async def heartbeat(self, name: str, *, status: str | None = None) -> Agent:
        """The agent is alive (and, optionally, available / busy / offline / error)."""
        return await self._run(ops.heartbeat(name, status=status))

    async def record_run(self, name: str, *, status: str | None = None) -> Agent:
        """The agent ran just now: stamps last_run_at (and its heartbeat)."""
        return await self._run(ops.heartbeat(name, status=status, ran=True))

    remove = forward_async(ops.remove)
