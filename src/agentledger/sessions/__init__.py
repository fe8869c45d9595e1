"""Collaborative sessions: conversation chunks of any size and versioned artifacts."""

from agentledger.sessions.records import (
    ARTIFACT_TYPES,
    CHUNK_FORMATS,
    MAX_CONTENT_CHARS,
    SESSION_LIFECYCLE,
    Artifact,
    ArtifactHit,
    ArtifactInfo,
    Chunk,
    ChunkHit,
    ChunkInfo,
    Session,
    SessionSummary,
)

__all__ = [
    "ARTIFACT_TYPES",
    "CHUNK_FORMATS",
    "MAX_CONTENT_CHARS",
    "SESSION_LIFECYCLE",
    "Artifact",
    "ArtifactHit",
    "ArtifactInfo",
    "Chunk",
    "ChunkHit",
    "ChunkInfo",
    "Session",
    "SessionSummary",
]
