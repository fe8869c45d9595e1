"""The agent registry: who can do what, and who is alive."""

from agentledger.agents.records import (
    AGENT_STATUSES as AGENT_STATUSES,
    Agent as Agent,
)
