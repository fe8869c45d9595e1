"""Cases: system-of-record items with a lifecycle per kind, typed fields and a timeline."""

from agentledger.cases.records import (
    EVENT_TYPES as EVENT_TYPES,
    ORDERS as ORDERS,
    SEVERITIES as SEVERITIES,
    Case as Case,
    CaseAggregates as CaseAggregates,
    CaseEvent as CaseEvent,
    CaseKind as CaseKind,
    CaseLink as CaseLink,
    CasePage as CasePage,
    DurationStats as DurationStats,
    SimilarCase as SimilarCase,
    UpsertedCase as UpsertedCase,
)
