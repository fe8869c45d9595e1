"""What the MCP tools take and give: argument types with the descriptions a model reads in
the input schemas, and the results, each a named object (its fields are the library's
records) so that the output schema and the text a model sees say what each part is."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from agentledger.alerts import Alert
from agentledger.cases import Case, CaseAggregates, CaseEvent
from agentledger.catalog import CatalogDocument, CatalogVersion
from agentledger.decisions import Decision
from agentledger.events import Appended, Event
from agentledger.memory import Entity, Neighbour, Relationship, SearchHit
from agentledger.sessions import ArtifactInfo, ChunkHit, ChunkInfo, Session
from agentledger.tasks import Task

# Arguments several tools share.
User = Annotated[
    str | None,
    Field(
        description="Read or write as this end user of the tenant (their private memory); "
        "omit to act as the tenant itself, which sees every entity.",
        examples=["user-42"],
    ),
]
Scope = Annotated[
    Literal["shared", "own"],
    Field(
        description="With user: 'shared' sees the user's own entities, the tenant's and "
        "other users' shared ones; 'own' only the user's own."
    ),
]
Kinds = Annotated[
    list[str] | None,
    Field(description="Only entities of these kinds.", examples=[["person", "company"]]),
]
JsonObject = Annotated[
    dict[str, object] | None,
    Field(description="Any JSON object.", examples=[{"source": "email"}]),
]
NewId = Annotated[
    UUID | None,
    Field(description="Your id for it: creating the same id again returns it."),
]


class EntityResult(BaseModel):
    entity: Entity = Field(description="The stored entity; keep its id to relate or look it up.")


class Hits(BaseModel):
    hits: list[SearchHit] = Field(description="Best match first; score is the ranking score.")


class RelationshipResult(BaseModel):
    relationship: Relationship


class Neighbours(BaseModel):
    neighbours: list[Neighbour] = Field(
        description="Each with the edge and its direction: out (the entity points to it) or "
        "in (it points to the entity); heaviest edge first."
    )


class AppendResult(BaseModel):
    event: Appended = Field(
        description="Where the event landed (its version in the stream); already_appended is "
        "true when this event_id was stored before and nothing new was written."
    )


class StreamEvents(BaseModel):
    stream: str
    events: list[Event] = Field(description="In version order (newest first when backwards).")


class DecisionResult(BaseModel):
    decision: Decision


class AlertResult(BaseModel):
    alert: Alert


class Alerts(BaseModel):
    alerts: list[Alert] = Field(description="Most urgent (lowest tier) first, then oldest.")


class TaskResult(BaseModel):
    task: Task


class ClaimedTasks(BaseModel):
    tasks: list[Task] = Field(
        description="The tasks now leased to you (empty when none is ready). Settle each with "
        "tasks_settle (its id, and its claim_token as token) before lease_expires_at."
    )


class SessionResult(BaseModel):
    session: Session


class ChunkResult(BaseModel):
    chunk: ChunkInfo = Field(description="The stored chunk (without its content); seq orders it.")


class ChunkHits(BaseModel):
    hits: list[ChunkHit] = Field(
        description="Best first, one per chunk; matches are wrapped in <mark>...</mark>."
    )


class SessionDigest(BaseModel):
    session: Session
    recent_chunks: list[ChunkInfo] = Field(description="The latest chunks, newest first.")
    artifacts: list[ArtifactInfo] = Field(description="The latest version of each artifact.")


class CaseResult(BaseModel):
    case: Case = Field(description="The stored case; version counts its changes.")


class UpsertedCaseResult(BaseModel):
    case: Case
    created: bool = Field(description="True when the ref was new and the case was opened.")
    changed: list[str] = Field(
        description="The fields the call changed ('status' when it moved); empty when the "
        "same content was already stored."
    )


class CasePageResult(BaseModel):
    cases: list[Case] = Field(description="One page, in the order asked for.")
    next_cursor: str | None = Field(
        description="Pass it back as cursor, with the same filters, for the next page; null "
        "on the last page."
    )


class CaseDetail(BaseModel):
    case: Case
    next_statuses: list[str] = Field(
        description="The statuses its kind allows it to move to from its current one "
        "(cases_transition takes one of these)."
    )
    timeline: list[CaseEvent] = Field(description="Its events, oldest first.")


class CommentResult(BaseModel):
    comment: CaseEvent = Field(description="The comment as it stands in the case's timeline.")


class AggregatesResult(BaseModel):
    aggregates: CaseAggregates = Field(
        description="Counts by status, severity, kind and domain ('' for none); open cases, "
        "those past their SLA deadline and their ages; resolution times (seconds) of the "
        "cases resolved in [since, until)."
    )


class CatalogVersionResult(BaseModel):
    document: CatalogVersion = Field(
        description="One version of the document with its content; is_global tells whether "
        "it is the platform's (read by every tenant) or the tenant's own."
    )


class CatalogDocuments(BaseModel):
    documents: list[CatalogDocument] = Field(
        description="By type then name, each with its latest version number and title."
    )
    next_after: str | None = Field(
        description="Pass it back as after for the next page; null on the last page."
    )
