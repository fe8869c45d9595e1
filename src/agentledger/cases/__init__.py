"""Cases: system-of-record items with a lifecycle per kind, typed fields and a timeline."""

from agentledger.cases.records import (
    EVENT_TYPES,
    ORDERS,
    SEVERITIES,
    Case,
    CaseAggregates,
    CaseEvent,
    CaseKind,
    CaseLink,
    CasePage,
    DurationStats,
    SimilarCase,
    UpsertedCase,
)

__all__ = [
    "EVENT_TYPES",
    "ORDERS",
    "SEVERITIES",
    "Case",
    "CaseAggregates",
    "CaseEvent",
    "CaseKind",
    "CaseLink",
    "CasePage",
    "DurationStats",
    "SimilarCase",
    "UpsertedCase",
]
