"""Memory records returned to callers: entities, search hits, relationships, stats."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

# The built-in "default" space's dimension: the entities' own embedding column (memory_0001).
EMBEDDING_DIMENSIONS = 384
RELATIONSHIP_TYPES = ("led_to", "relates_to", "depends_on", "produces", "belongs_to")


@dataclass(frozen=True, kw_only=True, slots=True)
class Entity:
    """One memory entity. ``user_id`` None means tenant-wide (visible to every user);
    ``session_id`` is the session it belongs to (None: none)."""

    id: UUID
    kind: str
    name: str
    summary: str | None
    attrs: dict[str, Any]
    tags: list[str]
    status: str
    relevance: float
    user_id: str | None
    shared: bool
    source: str
    key: str | None
    update_count: int
    access_count: int
    last_accessed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    session_id: UUID | None


@dataclass(frozen=True, kw_only=True, slots=True)
class NewEntity:
    """One entity to upsert (see ``Memory.upsert`` for what each field means)."""

    kind: str
    name: str | None  # None: keep the stored name (with ``key``)
    key: str | None = None
    source: str = ""
    by_name: bool = False
    summary: str | None = None
    attrs: Mapping[str, Any] | None = None
    tags: Sequence[str] | None = None
    relevance: float | None = None
    user_id: str | None = None
    shared: bool = False
    # A vector (list, tuple, array.array or 1-D numpy array) in ``space`` (None: the
    # tenant's default space), and vectors in other spaces by name.
    embedding: Any = None
    at: datetime | None = None  # the moment of this write, for imported history (None: now)
    session_id: UUID | str | None = None  # moves a merged entity there (None: keeps its own)
    space: str | None = None
    embeddings: Mapping[str, Any] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class UpsertResult:
    """A batch upsert: the entity id for each input, in input order, and what happened."""

    ids: list[UUID]
    inserted: int
    merged: int


@dataclass(frozen=True, kw_only=True, slots=True)
class SearchHit:
    """An entity found by a search, with each signal's score (None: that signal missed it).

    ``score`` is the ranking score: the signal's own score for single-mode searches, the
    reciprocal-rank-fusion score for hybrid search. ``highlight`` (text matches only) is the
    name and summary with the matched words wrapped in ``<b>``...``</b>``; its own text is
    not HTML-escaped.
    """

    entity: Entity
    score: float
    text_score: float | None = None
    fuzzy_score: float | None = None
    vector_score: float | None = None
    highlight: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Relationship:
    id: UUID
    from_id: UUID
    to_id: UUID
    type: str
    weight: float
    attrs: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class Neighbour:
    """An entity next to another, and the edge that joins them (``direction`` out or in)."""

    entity: Entity
    relationship: Relationship
    direction: str


@dataclass(frozen=True, kw_only=True, slots=True)
class PathStep:
    """An entity reached by a traversal, ``depth`` edges from the start along ``path``."""

    entity: Entity
    depth: int
    path: list[UUID]
    via: str


@dataclass(frozen=True, kw_only=True, slots=True)
class MemoryStats:
    """Counts for a tenant or one user, taken from one snapshot."""

    entities: int
    active: int
    archived: int
    relationships: int
    by_kind: dict[str, int]
    last_activity: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class RetentionResult:
    """What a retention pass did: ``affected`` entities in ``batches`` transactions."""

    action: str
    affected: int
    batches: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Vocabulary:
    """The entity kinds and relationship types a tenant allows (None: any)."""

    kinds: list[str] | None
    relationship_types: list[str] | None


@dataclass(frozen=True, kw_only=True, slots=True)
class EmbeddingSpace:
    """A named embedding space of a tenant: vectors of one model, of ``dimensions`` numbers,
    compared by ``distance`` ("cosine", "inner_product" or "l2") through an HNSW index of
    ``element`` type ("vector": up to 2,000 dimensions; "halfvec": up to 4,000).

    ``default``: the space an embedding without a named space goes to. The built-in space
    "default" (``builtin``, ``id`` None) is the entities' own 384-dimension column; it is
    the default until the tenant makes a declared space its default.

    ``quantization`` "binary": the index holds a bit per dimension (the sign) and a search
    takes ``rerank`` candidates per hit by Hamming distance, re-ranked by ``distance`` on
    the stored vectors; "none": the index holds the vectors.
    """

    id: int | None
    name: str
    model: str
    dimensions: int
    distance: str
    element: str
    default: bool
    builtin: bool = False
    quantization: str = "none"
    rerank: int = 10


@dataclass(frozen=True, kw_only=True, slots=True)
class LanguageStatus:
    """A text-search language (the tenant's, an entity ``kind``'s or a session's) and how
    far the re-index after its last change has come: ``pending`` entities (a session's
    status: its chunk and artifact segments) are still indexed in another language,
    ``batches`` re-index tasks of the tenant wait or run (queue ``agentledger.reindex``).
    Done when both are 0."""

    language: str
    pending: int
    batches: int
    kind: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Languages:
    """The tenant's text-search ``language`` and the entity kinds that have their own
    (``kinds``: kind -> configuration, by kind); every other kind uses the tenant's."""

    language: str
    kinds: dict[str, str]


@dataclass(frozen=True, kw_only=True, slots=True)
class ReembedStatus:
    """How far re-embedding into ``space`` has come: ``missing`` entities have no vector
    there yet, ``batches`` tasks wait or run (queue ``agentledger.reembed:<space>``, the
    final flip among them); ``default``: the space is the tenant's default; ``stored``:
    the vectors this call stored itself."""

    space: str
    missing: int
    batches: int
    default: bool
    stored: int = 0
