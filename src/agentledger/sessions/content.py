"""Chunk and artifact operations (I/O-free): add, read back, list, search.

Content is stored as segments (see ``segments.py``) and read back by joining them in
order; ``*_segments`` operations read a run of them, for streaming large content.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, Query, operation
from agentledger.errors import Conflict, NotFound
from agentledger.records import from_row
from agentledger.sessions import segments
from agentledger.sessions.ops import event, not_found, session_uuid
from agentledger.sessions.records import (
    ARTIFACT_TYPES,
    CHUNK_FORMATS,
    MAX_CONTENT_CHARS,
    Artifact,
    ArtifactHit,
    ArtifactInfo,
    Chunk,
    ChunkHit,
    ChunkInfo,
)

Q = Queries.beside(__file__)
MAX_PAGE = 1000
MAX_HITS = 200
# Segments read per statement when reassembling content (about 8 MB), and written per
# statement when storing it (about 2 MB).
READ_BATCH = 256
WRITE_BATCH = 64
CHUNK_ADDED = "ChunkAdded"
ARTIFACT_SAVED = "ArtifactSaved"


def _query(value: object) -> str:
    return v.query("query", value, strip=True)


def _batch(parts: segments.Segments, first: int, count: int) -> dict[str, Any]:
    """Segments ``first`` to ``first + count`` as a statement's parameters."""
    end = first + count
    return {
        "bodies": parts.bodies[first:end],
        "overlaps": parts.overlaps[first:end],
        "starts": parts.starts[first:end],
    }


def _rest(query: Query, owner: UUID, parts: segments.Segments) -> Gen[None]:
    """Insert the segments after the first batch, a batch per statement (each waits for its
    result: a pipeline sending many megabytes in one go can stall)."""
    for first in range(WRITE_BATCH, len(parts.bodies), WRITE_BATCH):
        yield query.rowcount(id=owner, first_ord=first, **_batch(parts, first, WRITE_BATCH))


@operation(idempotent=True)
def add_chunk(
    session_id: UUID | str,
    content: str | bytes,
    *,
    format: str = "dialogue",
    author: str | None = None,
    extracted: Any = None,
    id: UUID | str | None = None,
) -> Gen[ChunkInfo]:
    """Append a chunk to an active or paused session; the database gives it the session's
    next ``seq``. A repeated ``id`` returns the stored chunk (Conflict when it belongs to
    another session). NotFound when the session does not exist; Conflict when it is closed.
    """
    found = session_uuid(session_id)
    chunk_id = v.uuid("id", id)
    text = segments.content("content", content, max_chars=MAX_CONTENT_CHARS)
    kind = v.choice("format", format, CHUNK_FORMATS)
    items = v.json_value("extracted", {} if extracted is None else extracted)
    parts = segments.split(text)
    yield Q.lock_for_insert.none(session_id=found)
    row = yield Q.add_chunk.one(
        session_id=found,
        id=chunk_id,
        format=kind,
        author=v.optional_text("author", author, max_len=200),
        extracted=json.dumps(items),
        size=len(text),
        segment_count=len(parts.bodies),
        **_batch(parts, 0, WRITE_BATCH),
    )
    if row is None:
        row = yield Q.get_chunk.one(id=chunk_id)
        if row is None or row["session_id"] != found:
            raise Conflict(f"chunk {chunk_id} was already added elsewhere", field="id")
        return from_row(ChunkInfo, row)
    chunk = from_row(ChunkInfo, row)
    yield from _rest(Q.add_chunk_segments, chunk_id, parts)
    payload = {"chunk_id": str(chunk_id), "seq": chunk.seq, "format": kind, "size": chunk.size}
    yield event(found, CHUNK_ADDED, str(chunk_id), payload, chunk.author)
    return chunk


@operation(writes=False)
def chunk_info(chunk_id: UUID | str) -> Gen[ChunkInfo]:
    """A chunk's description, without its content."""
    row = yield Q.get_chunk.one(id=v.uuid("chunk_id", chunk_id))
    if row is None:
        raise NotFound(f"chunk {chunk_id} does not exist", field="chunk_id")
    return from_row(ChunkInfo, row)


@operation(writes=False)
def get_chunk(chunk_id: UUID | str) -> Gen[Chunk]:
    """A chunk with its whole content."""
    cid = v.uuid("chunk_id", chunk_id)
    row = yield Q.get_chunk.one(id=cid)
    if row is None:
        raise NotFound(f"chunk {chunk_id} does not exist", field="chunk_id")
    parts: list[str] = []
    while len(parts) < row["segment_count"]:
        batch = yield Q.chunk_segments.tuples(id=cid, ord=len(parts), limit=READ_BATCH)
        if not batch:
            break
        parts.extend(body for (body,) in batch)
    return from_row(Chunk, {**row, "content": "".join(parts)})


def _segment_range(field: str, owner: UUID | str, start: int, limit: int) -> dict[str, Any]:
    """The parameters of a read of ``limit`` segments from ``start`` of the chunk or the
    artifact version ``owner`` (its argument named ``field``)."""
    return {
        "id": v.uuid(field, owner),
        "ord": v.integer("start", start, low=0),
        "limit": v.integer("limit", limit, low=1, high=READ_BATCH),
    }


@operation(writes=False)
def chunk_segments(
    chunk_id: UUID | str, *, start: int = 0, limit: int = READ_BATCH
) -> Gen[list[str]]:
    """Segment texts of a chunk from segment ``start`` (joined in order: the content)."""
    rows = yield Q.chunk_segments.tuples(**_segment_range("chunk_id", chunk_id, start, limit))
    return [body for (body,) in rows]


@operation(writes=False)
def list_chunks(
    session_id: UUID | str, *, format: str | None = None, after: int = 0, limit: int = 100
) -> Gen[list[ChunkInfo]]:
    """A session's chunks in ``seq`` order after seq ``after``, without their content."""
    found = session_uuid(session_id)
    if (yield Q.get_session.one(id=found)) is None:
        raise not_found(session_id)
    rows = yield Q.list_chunks.all(
        session_id=found,
        format=None if format is None else v.choice("format", format, CHUNK_FORMATS),
        after=v.integer("after", after, low=0, high=2**31 - 1),
        limit=v.integer("limit", limit, low=1, high=MAX_PAGE),
    )
    return [from_row(ChunkInfo, r) for r in rows]


@operation(writes=False)
def search_chunks(
    query: str, *, session_id: UUID | str | None = None, format: str | None = None, limit: int = 20
) -> Gen[list[ChunkHit]]:
    """Chunks matching ``query`` (web search syntax: words, "a phrase", -not, or), best
    first, one hit per chunk at its best segment."""
    rows = yield Q.search_chunks.all(
        query=_query(query),
        session_id=None if session_id is None else session_uuid(session_id),
        format=None if format is None else v.choice("format", format, CHUNK_FORMATS),
        limit=v.integer("limit", limit, low=1, high=MAX_HITS),
    )
    return [from_row(ChunkHit, r) for r in rows]


@operation(idempotent=True)
def save_artifact(
    session_id: UUID | str,
    name: str,
    content: str | bytes,
    *,
    artifact_type: str,
    format: str = "text",
    metadata: dict[str, Any] | None = None,
    author: str | None = None,
    id: UUID | str | None = None,
) -> Gen[ArtifactInfo]:
    """Save a new version of the session's artifact ``name`` (the database numbers it one
    past the latest). A repeated ``id`` returns the version it saved."""
    found = session_uuid(session_id)
    artifact_id = v.uuid("id", id)
    text = segments.content("content", content, max_chars=MAX_CONTENT_CHARS)
    title = v.text("name", name, max_len=300, strip=True)
    parts = segments.split(text)
    yield Q.lock_for_insert.none(session_id=found)
    row = yield Q.save_artifact.one(
        session_id=found,
        id=artifact_id,
        name=title,
        artifact_type=v.choice("artifact_type", artifact_type, ARTIFACT_TYPES),
        format=v.text("format", format, max_len=50),
        metadata=v.json_object("metadata", metadata),
        author=v.optional_text("author", author, max_len=200),
        size=len(text),
        segment_count=len(parts.bodies),
        **_batch(parts, 0, WRITE_BATCH),
    )
    if row is None:
        row = yield Q.get_artifact.one(id=artifact_id)
        if row is None or (row["session_id"], row["name"]) != (found, title):
            raise Conflict(f"artifact {artifact_id} was already saved elsewhere", field="id")
        return from_row(ArtifactInfo, row)
    saved = from_row(ArtifactInfo, row)
    yield from _rest(Q.add_artifact_segments, artifact_id, parts)
    payload = {
        "artifact_id": str(artifact_id),
        "name": title,
        "version": saved.version,
        "artifact_type": saved.artifact_type,
        "size": saved.size,
    }
    yield event(found, ARTIFACT_SAVED, str(artifact_id), payload, saved.author)
    return saved


@operation(writes=False)
def find_artifact(
    session_id: UUID | str, name: str, *, version: int | None = None
) -> Gen[ArtifactInfo]:
    """A named artifact's latest version, or the given one."""
    found = session_uuid(session_id)
    title = v.text("name", name, max_len=300, strip=True)
    row = yield Q.find_artifact.one(
        session_id=found,
        name=title,
        version=None if version is None else v.integer("version", version, low=1, high=2**31 - 1),
    )
    if row is None:
        which = "" if version is None else f" version {version}"
        raise NotFound(f"session {session_id} has no artifact {title!r}{which}", field="name")
    return from_row(ArtifactInfo, row)


@operation(writes=False)
def get_artifact(session_id: UUID | str, name: str, *, version: int | None = None) -> Gen[Artifact]:
    """A named artifact's latest version (or the given one) with its content."""
    info = yield from find_artifact(session_id, name, version=version).start()
    parts: list[str] = []
    while len(parts) < info.segment_count:
        batch = yield Q.artifact_segments.tuples(id=info.id, ord=len(parts), limit=READ_BATCH)
        if not batch:
            break
        parts.extend(body for (body,) in batch)
    return from_row(Artifact, {**dataclasses.asdict(info), "content": "".join(parts)})


@operation(writes=False)
def artifact_segments(
    artifact_id: UUID | str, *, start: int = 0, limit: int = READ_BATCH
) -> Gen[list[str]]:
    """Segment texts of an artifact version from segment ``start``."""
    rows = yield Q.artifact_segments.tuples(
        **_segment_range("artifact_id", artifact_id, start, limit)
    )
    return [body for (body,) in rows]


@operation(writes=False)
def artifact_versions(session_id: UUID | str, name: str) -> Gen[list[ArtifactInfo]]:
    """Every version of a named artifact, newest first (NotFound when it has none)."""
    title = v.text("name", name, max_len=300, strip=True)
    rows = yield Q.artifact_versions.all(session_id=session_uuid(session_id), name=title)
    if not rows:
        raise NotFound(f"session {session_id} has no artifact {title!r}", field="name")
    return [from_row(ArtifactInfo, r) for r in rows]


@operation(writes=False)
def list_artifacts(session_id: UUID | str) -> Gen[list[ArtifactInfo]]:
    """The latest version of each of the session's artifacts, by name."""
    found = session_uuid(session_id)
    if (yield Q.get_session.one(id=found)) is None:
        raise not_found(session_id)
    rows = yield Q.latest_artifacts.all(session_id=found)
    return [from_row(ArtifactInfo, r) for r in rows]


@operation(writes=False)
def search_artifacts(
    query: str,
    *,
    session_id: UUID | str | None = None,
    artifact_type: str | None = None,
    all_versions: bool = False,
    limit: int = 20,
) -> Gen[list[ArtifactHit]]:
    """Artifacts matching ``query``, best first: each name's latest version unless
    ``all_versions``."""
    rows = yield Q.search_artifacts.all(
        query=_query(query),
        session_id=None if session_id is None else session_uuid(session_id),
        artifact_type=None
        if artifact_type is None
        else v.choice("artifact_type", artifact_type, ARTIFACT_TYPES),
        all_versions=v.flag("all_versions", all_versions),
        limit=v.integer("limit", limit, low=1, high=MAX_HITS),
    )
    return [from_row(ArtifactHit, r) for r in rows]


@operation(idempotent=True)
def reindex_batch(*, batch_size: int = 500, session_id: UUID | str | None = None) -> Gen[int]:
    """Re-index up to ``batch_size`` of the tenant's chunk and artifact segments (of one
    session, or of any) still indexed in another language than their own (their
    session's, else the tenant's), chunks first, skipping rows other transactions hold;
    how many were (fewer: nothing left)."""
    size = v.integer("batch_size", batch_size, low=1, high=10_000)
    session = None if session_id is None else session_uuid(session_id)
    done: int = yield Q.reindex_chunk_segments.rowcount(batch=size, session=session)
    if done < size:
        done += yield Q.reindex_artifact_segments.rowcount(batch=size - done, session=session)
    return done
