"""Collaborative sessions: conversation chunks of any size and versioned artifacts."""

from agentledger.sessions.records import (
    ARTIFACT_TYPES as ARTIFACT_TYPES,
    CHUNK_FORMATS as CHUNK_FORMATS,
    MAX_CONTENT_CHARS as MAX_CONTENT_CHARS,
    SESSION_LIFECYCLE as SESSION_LIFECYCLE,
    Artifact as Artifact,
    ArtifactHit as ArtifactHit,
    ArtifactInfo as ArtifactInfo,
    Chunk as Chunk,
    ChunkHit as ChunkHit,
    ChunkInfo as ChunkInfo,
    Session as Session,
    SessionSummary as SessionSummary,
)
