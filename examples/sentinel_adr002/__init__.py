"""Seed 003, Sentinel's ADR-002 database schema, rebuilt on agentledger."""

from examples.sentinel_adr002.records import Agent, Bottleneck, Decision, NotionSync, WeeklyPlan
from examples.sentinel_adr002.repository import SentinelRepository

__all__ = ["Agent", "Bottleneck", "Decision", "NotionSync", "SentinelRepository", "WeeklyPlan"]
