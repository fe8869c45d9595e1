"""The outbox relay to NATS JetStream (the optional ``nats`` extra: ``pip install
'agentledger[nats]'``); see docs/relay.md."""

from agentledger.integrations.nats.relay import (
    DEFAULT_SERVERS as DEFAULT_SERVERS,
    DEFAULT_STREAM as DEFAULT_STREAM,
    Relay as Relay,
    RelayStats as RelayStats,
)
from agentledger.integrations.nats.subjects import (
    DEFAULT_PREFIX as DEFAULT_PREFIX,
    category as category,
    subject as subject,
    token as token,
)
