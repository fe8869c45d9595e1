"""Seed 004, SentinAI Phase 6 (persistence and state), rebuilt on agentledger."""

from examples.sentinai_phase6.catalog import (
    DomainPackRepository,
    PlaybookRepository,
    PlaybookStepRepository,
    TenantPolicyPackRepository,
    TenantRepository,
    ToolDefinitionRepository,
)
from examples.sentinai_phase6.config import initialize_database, phase6_settings
from examples.sentinai_phase6.events import ACTOR_TYPES, EVENT_TYPES, EventEnvelope
from examples.sentinai_phase6.exceptions import ExceptionEventRepository, ExceptionRepository
from examples.sentinai_phase6.models import (
    ExceptionEvent,
    ExceptionPage,
    ExceptionRecord,
    PackVersion,
    Playbook,
    PlaybookStep,
    TenantRecord,
    ToolDefinition,
)
from examples.sentinai_phase6.routes import create_phase6_app
from examples.sentinai_phase6.session import unit_of_work

__all__ = [
    "ACTOR_TYPES",
    "EVENT_TYPES",
    "DomainPackRepository",
    "EventEnvelope",
    "ExceptionEvent",
    "ExceptionEventRepository",
    "ExceptionPage",
    "ExceptionRecord",
    "ExceptionRepository",
    "PackVersion",
    "Playbook",
    "PlaybookRepository",
    "PlaybookStep",
    "PlaybookStepRepository",
    "TenantPolicyPackRepository",
    "TenantRecord",
    "TenantRepository",
    "ToolDefinition",
    "ToolDefinitionRepository",
    "create_phase6_app",
    "initialize_database",
    "phase6_settings",
    "unit_of_work",
]
