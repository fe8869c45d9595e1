"""The append-only event log: streams with versions, a global position, subscriptions."""

from agentledger.events.records import (
    EVENTS_CHANNEL as EVENTS_CHANNEL,
    Appended as Appended,
    Event as Event,
    NewEvent as NewEvent,
)
