"""Decisions agents made, with the human feedback that closes the learning loop."""

from agentledger.decisions.records import (
    AcceptanceStat as AcceptanceStat,
    Decision as Decision,
)
