"""The agent registry: who can do what, and who is alive."""

from agentledger.agents.records import AGENT_STATUSES, Agent

__all__ = ["AGENT_STATUSES", "Agent"]
