"""Session records, the session lifecycle, and the limits on what a session holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from agentledger.lifecycle import Lifecycle
from agentledger.memory.records import Entity

# The SQL guard (the session_transitions table of migration sessions_0001) holds the same
# moves; a test compares the two.
SESSION_LIFECYCLE = Lifecycle(
    "session",
    {
        "active": {"pause": "paused", "complete": "completed"},
        "paused": {"resume": "active", "complete": "completed"},
        "completed": {"archive": "archived"},
        "archived": {},
    },
)
CHUNK_FORMATS = ("dialogue", "summary", "transcript")
ARTIFACT_TYPES = ("code", "document", "research", "prd", "report")
# The largest chunk or artifact the library stores, in characters (over HTTP, the server's
# max_body_bytes applies first).
MAX_CONTENT_CHARS = 64 * 1024 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class Session:
    """A collaborative session. The counters and ``last_activity`` are kept by the
    database as chunks and artifacts arrive (``memory_count`` and ``task_count`` too, once
    memories and tasks attach to sessions). ``language`` is the session's own text-search
    configuration (None: its chunks and artifacts follow the tenant's)."""

    id: UUID
    title: str
    participants: list[str]
    status: str
    summary: str
    metadata: dict[str, Any]
    language: str | None
    chunk_count: int
    artifact_count: int
    memory_count: int
    task_count: int
    created_at: datetime
    last_activity: datetime
    status_changed_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ChunkInfo:
    """A conversation chunk without its content (``size`` counts characters)."""

    id: UUID
    session_id: UUID
    seq: int
    format: str
    author: str | None
    extracted: Any
    size: int
    segment_count: int
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Chunk(ChunkInfo):
    """A conversation chunk and its full content."""

    content: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ArtifactInfo:
    """One version of a named artifact, without its content."""

    id: UUID
    session_id: UUID
    name: str
    version: int
    artifact_type: str
    format: str
    metadata: dict[str, Any]
    author: str | None
    size: int
    segment_count: int
    created_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Artifact(ArtifactInfo):
    """One version of an artifact and its full content."""

    content: str


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionSummary:
    """A session at a glance: the session, its latest chunks (newest first), the latest
    version of each artifact and its latest memories (newest change first)."""

    session: Session
    recent_chunks: list[ChunkInfo]
    artifacts: list[ArtifactInfo]
    memories: list[Entity] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True, slots=True)
class ChunkHit:
    """A chunk that matched a search: its best segment, where that segment starts in the
    content (``offset``, in characters), the rank, and a snippet with the matches wrapped in
    ``<mark>``...``</mark>`` (the snippet's own text is not HTML-escaped)."""

    chunk_id: UUID
    session_id: UUID
    seq: int
    format: str
    segment: int
    offset: int
    rank: float
    snippet: str


@dataclass(frozen=True, kw_only=True, slots=True)
class ArtifactHit:
    """An artifact version that matched a search, like :class:`ChunkHit`."""

    artifact_id: UUID
    session_id: UUID
    name: str
    version: int
    artifact_type: str
    segment: int
    offset: int
    rank: float
    snippet: str
