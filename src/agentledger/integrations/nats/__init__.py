"""The outbox relay to NATS JetStream (the optional ``nats`` extra: ``pip install
'agentledger[nats]'``); see docs/relay.md."""

from agentledger.integrations.nats.relay import DEFAULT_SERVERS, DEFAULT_STREAM, Relay, RelayStats
from agentledger.integrations.nats.subjects import DEFAULT_PREFIX, category, subject, token

__all__ = [
    "DEFAULT_PREFIX",
    "DEFAULT_SERVERS",
    "DEFAULT_STREAM",
    "Relay",
    "RelayStats",
    "category",
    "subject",
    "token",
]
