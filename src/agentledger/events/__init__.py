"""The append-only event log: streams with versions, a global position, subscriptions."""

from agentledger.events.records import EVENTS_CHANNEL, Appended, Event, NewEvent

__all__ = ["EVENTS_CHANNEL", "Appended", "Event", "NewEvent"]
