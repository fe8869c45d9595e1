"""Memory entities and relationships, as I/O-free operations."""

from __future__ import annotations

import json
import math
import uuid as uuidlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import InvalidInput, NotFound
from agentledger.memory import filters
from agentledger.memory.filters import Filter
from agentledger.memory.records import (
    EMBEDDING_DIMENSIONS,
    Entity,
    MemoryStats,
    Neighbour,
    NewEntity,
    PathStep,
    Relationship,
    SearchHit,
    UpsertResult,
)
from agentledger.records import from_row

Q = Queries.beside(__file__)
MAX_BATCH = 50_000
MAX_ATTRS_BYTES = 256_000
MAX_DEPTH = 6
RRF_K = 60
# Hybrid search ranks at most this many full-text matches (or 4x its candidate pool): a
# common word can match most of the table, and ranking all of it grows with the table.
TEXT_CANDIDATES = 1000
# Fuzzy name matching ranks at most this many candidates per pass (or 10x its limit): names
# holding a close word for every query word first, then for any (see memory_0004).
NAME_CANDIDATES = 128
DIRECTIONS = ("out", "in", "both")
# The HNSW candidate list (hnsw.ef_search) is at least this long. pgvector's default of 40
# measured recall@10 of 0.52 on the benchmark's random 384-d vectors; 200 measured 0.96.
EF_SEARCH = 200


# --- entities ---------------------------------------------------------------------------


@operation()
def upsert(entity: NewEntity) -> Gen[Entity]:
    """Insert the entity, or merge it into the one with the same natural key."""
    row = _entity_row(entity, "entity")
    rows = yield from _upsert_rows([row])
    return _entity(rows[0])


@operation(idempotent=True, spoolable=True)
def upsert_keyed(
    kind: str,
    name: str,
    *,
    key: str | None = None,
    source: str = "",
    by_name: bool = False,
    summary: str | None = None,
    attrs: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    relevance: float | None = None,
    user_id: str | None = None,
    shared: bool = False,
    embedding: list[float] | None = None,
) -> Gen[Entity]:
    """``upsert`` of an entity with a natural key (``key`` or ``by_name``), from plain
    arguments so it can wait in the spool.

    The natural key makes a repeat merge into the same entity, and merging the same values
    again leaves the same fields, so a retry or a replay never adds an entity (it does count
    in ``update_count``). Without a natural key each call inserts: InvalidInput.
    """
    if key is None and not by_name:
        raise InvalidInput(
            "a repeatable upsert needs a natural key: give key, or by_name=True", field="key"
        )
    entity = NewEntity(
        kind=kind,
        name=name,
        key=key,
        source=source,
        by_name=by_name,
        summary=summary,
        attrs=attrs,
        tags=tags,
        relevance=relevance,
        user_id=user_id,
        shared=shared,
        embedding=embedding,
    )
    return (yield from upsert(entity).start())


@operation()
def upsert_many(entities: Iterable[NewEntity | Mapping[str, Any]]) -> Gen[UpsertResult]:
    """Upsert a batch in one statement; inputs with the same key are merged first, in order."""
    items = list(entities)
    if len(items) > MAX_BATCH:
        raise InvalidInput(
            f"entities has {len(items)} items; the limit is {MAX_BATCH}", field="entities"
        )
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    order: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            try:
                item = NewEntity(**item)
            except TypeError as exc:
                raise InvalidInput(f"entities[{i}]: {exc}", field="entities") from None
        row = _entity_row(item, f"entities[{i}]")
        ident = (row["user_id"], row["dedup_key"])
        order.append(ident)
        merged[ident] = _merge(merged[ident], row) if ident in merged else row
    if not merged:
        return UpsertResult(ids=[], inserted=0, merged=0)
    # A stable order keeps concurrent batches that share keys from deadlocking.
    rows = yield from _upsert_rows([merged[k] for k in sorted(merged)])
    ids = {(r["user_id"] or "", r["dedup_key"]): r["id"] for r in rows}
    inserted = sum(1 for r in rows if r["inserted"])
    return UpsertResult(
        ids=[ids[k] for k in order], inserted=inserted, merged=len(items) - inserted
    )


def _upsert_rows(rows: list[dict[str, Any]]) -> Gen[list[dict[str, Any]]]:
    embedded = [
        {"user_id": r["user_id"], "dedup_key": r["dedup_key"], "embedding": r["embedding"]}
        for r in rows
        if r["embedding"] is not None
    ]
    if embedded:
        yield Q.require_extension.none(extension="vector", feature="entity embeddings")
    result: list[dict[str, Any]] = yield Q.upsert_entities.all(
        rows=json.dumps([{k: x for k, x in r.items() if k != "embedding"} for r in rows])
    )
    if embedded:
        yield Q.set_embeddings.none(rows=json.dumps(embedded))
    return result


@operation(writes=False)
def get(id: UUID | str, *, user: str | None = None, touch: bool = False) -> Gen[Entity]:
    row = yield Q.get_entity.one(id=v.uuid("id", id), user=filters.user_id(user))
    if row is None:
        raise NotFound(f"entity {id} does not exist", field="id")
    if touch:
        yield Q.touch_entities.none(ids=[row["id"]])
    return _entity(row)


@operation(writes=False)
def get_by_key(
    key: str | None = None,
    *,
    source: str = "",
    kind: str | None = None,
    name: str | None = None,
    user: str | None = None,
    touch: bool = False,
) -> Gen[Entity | None]:
    """By natural key (source + key), or by kind + name for entities upserted by name."""
    if key is not None:
        dedup = _key_dedup(source, key)
    elif kind is not None and name is not None:
        dedup = _name_dedup(kind, name)
    else:
        raise InvalidInput("give key (and source), or kind and name", field="key")
    row = yield Q.get_entity_by_key.one(owner=filters.user_id(user) or "", dedup_key=dedup)
    if row is not None and touch:
        yield Q.touch_entities.none(ids=[row["id"]])
    return None if row is None else _entity(row)


@operation()
def delete(id: UUID | str, *, user: str | None = None) -> Gen[bool]:
    """Delete an entity and its relationships; False when there was none to delete."""
    count = yield Q.delete_entity.rowcount(id=v.uuid("id", id), user=filters.user_id(user))
    return bool(count)


@operation(writes=False)
def list_(
    filter: Filter | None = None, *, after: Entity | None = None, limit: int = 100
) -> Gen[list[Entity]]:
    """Entities newest change first; pass the last one back as ``after`` for the next page."""
    rows = yield Q.list_entities.all(
        **filters.params(filter),
        after_updated=None if after is None else after.updated_at,
        after_id=None if after is None else after.id,
        limit=filters.limit(limit),
    )
    return [_entity(r) for r in rows]


# --- search -----------------------------------------------------------------------------


@operation(writes=False)
def find_by_name(
    name: str,
    *,
    threshold: float = 0.3,
    filter: Filter | None = None,
    limit: int = 10,
    touch: bool = False,
) -> Gen[list[SearchHit]]:
    """Entities whose name is similar to ``name`` (trigram similarity >= threshold)."""
    size = filters.limit(limit)
    checked = v.number("threshold", threshold, low=0.0, high=1.0)
    yield Q.prepare_fuzzy.none(feature="fuzzy name search")
    rows = yield Q.find_by_name.all(
        name=v.text("name", name, max_len=1000),
        threshold=checked,
        cap=max(NAME_CANDIDATES, 10 * size),
        **filters.params(filter),
        limit=size,
    )
    return (yield from _hits(rows, touch, "fuzzy_score"))


@operation(writes=False)
def search_text(
    query: str, *, filter: Filter | None = None, limit: int = 10, touch: bool = False
) -> Gen[list[SearchHit]]:
    """Full-text search (web-search syntax: quotes, OR, -not), ranked, with highlights."""
    rows = yield Q.search_text.all(
        query=v.text("query", query, max_len=1000),
        **filters.params(filter),
        limit=filters.limit(limit),
    )
    return (yield from _hits(rows, touch, "text_score"))


@operation(writes=False)
def search_vector(
    embedding: Sequence[float],
    *,
    filter: Filter | None = None,
    limit: int = 10,
    touch: bool = False,
) -> Gen[list[SearchHit]]:
    """Nearest entities by cosine similarity; exact when the index alone would fall short."""
    size = filters.limit(limit)
    yield Q.prepare_vector.none(feature="vector search", ef_search=str(max(EF_SEARCH, size)))
    rows = yield Q.search_vector.all(
        embedding=vector_text("embedding", embedding), **filters.params(filter), limit=size
    )
    return (yield from _hits(rows, touch, "vector_score"))


@operation(writes=False)
def search_hybrid(
    query: str,
    *,
    embedding: Sequence[float] | None = None,
    filter: Filter | None = None,
    limit: int = 10,
    threshold: float = 0.3,
    touch: bool = False,
) -> Gen[list[SearchHit]]:
    """Text, fuzzy-name and (given an embedding) vector ranks fused by reciprocal rank."""
    size = filters.limit(limit)
    pool = min(max(2 * size, 20), 2 * filters.MAX_LIMIT)
    checked = v.number("threshold", threshold, low=0.0, high=1.0)
    yield Q.prepare_fuzzy.none(feature="hybrid search")
    common = {
        "query": v.text("query", query, max_len=1000),
        "threshold": checked,
        "cap": max(NAME_CANDIDATES, 10 * pool),
        **filters.params(filter),
        "limit": size,
        "pool": pool,
        "text_cap": max(TEXT_CANDIDATES, 4 * pool),
        "rrf_k": RRF_K,
    }
    if embedding is None:
        rows = yield Q.search_hybrid.all(**common)
    else:
        yield Q.prepare_vector.none(
            feature="hybrid vector search", ef_search=str(max(EF_SEARCH, pool))
        )
        rows = yield Q.search_hybrid_vector.all(
            **common, embedding=vector_text("embedding", embedding)
        )
    return (yield from _hits(rows, touch, None))


def _hits(rows: list[dict[str, Any]], touch: bool, signal: str | None) -> Gen[list[SearchHit]]:
    """Hits from ranked rows. A vector similarity that is not a number (an embedding of zero
    length stored before such vectors were refused) is no similarity: such a row is no
    vector hit, and in a fused ranking its vector score is None."""
    rows = [r for r in rows if signal is None or _finite(r["score"])]
    if touch and rows:
        yield Q.touch_entities.none(ids=[r["id"] for r in rows])
    hits = []
    for r in rows:
        scores = {k: _finite(r.get(k)) for k in ("text_score", "fuzzy_score", "vector_score")}
        if signal is not None:
            scores[signal] = r["score"]
        hits.append(
            SearchHit(entity=_entity(r), score=r["score"], highlight=r.get("highlight"), **scores)
        )
    return hits


def _finite(score: float | None) -> float | None:
    return score if score is not None and math.isfinite(score) else None


# --- relationships ----------------------------------------------------------------------


@operation(idempotent=True)
def relate(
    from_id: UUID | str,
    to_id: UUID | str,
    type: str,
    *,
    weight: float = 1.0,
    attrs: Mapping[str, Any] | None = None,
    user: str | None = None,
) -> Gen[Relationship]:
    """Create the typed edge, or update its weight and merge its attrs when it exists."""
    source, target = v.uuid("from_id", from_id), v.uuid("to_id", to_id)
    if source == target:
        raise InvalidInput("an entity cannot relate to itself", field="to_id")
    row = yield Q.relate.one(
        from_id=source,
        to_id=target,
        type=v.text("type", type, max_len=100),
        weight=v.number("weight", weight),
        attrs=v.json_object("attrs", attrs, max_bytes=MAX_ATTRS_BYTES),
        user=filters.user_id(user),
    )
    if row is None:
        raise NotFound(
            f"entity {source} or {target} does not exist in this tenant"
            + (f" or is not visible to user {user!r}" if user else ""),
            field="from_id",
        )
    return from_row(Relationship, row)


@operation(idempotent=True)
def unrelate(from_id: UUID | str, to_id: UUID | str, type: str) -> Gen[bool]:
    count = yield Q.unrelate.rowcount(
        from_id=v.uuid("from_id", from_id),
        to_id=v.uuid("to_id", to_id),
        type=v.text("type", type, max_len=100),
    )
    return bool(count)


@operation(writes=False)
def neighbours(
    id: UUID | str,
    *,
    direction: str = "both",
    types: Sequence[str] | None = None,
    user: str | None = None,
    limit: int = 100,
) -> Gen[list[Neighbour]]:
    start = yield from _visible(id, user)
    v.choice("direction", direction, DIRECTIONS)
    rows = yield Q.neighbours.all(
        id=start,
        out=direction in ("out", "both"),
        **{"in": direction in ("in", "both")},
        types=_types(types),
        user=filters.user_id(user),
        limit=filters.limit(limit),
    )
    return [
        Neighbour(
            entity=_entity(r),
            relationship=Relationship(**{k[2:]: x for k, x in r.items() if k.startswith("r_")}),
            direction=r["direction"],
        )
        for r in rows
    ]


@operation(writes=False)
def traverse(
    id: UUID | str,
    *,
    max_depth: int = 2,
    direction: str = "out",
    types: Sequence[str] | None = None,
    user: str | None = None,
    limit: int = 1000,
) -> Gen[list[PathStep]]:
    """Entities within ``max_depth`` edges, each once at its shortest depth (cycle-safe)."""
    start = yield from _visible(id, user)
    v.choice("direction", direction, DIRECTIONS)
    rows = yield Q.traverse.all(
        id=start,
        max_depth=v.integer("max_depth", max_depth, low=1, high=MAX_DEPTH),
        out=direction in ("out", "both"),
        **{"in": direction in ("in", "both")},
        types=_types(types),
        user=filters.user_id(user),
        limit=filters.limit(limit),
    )
    return [
        PathStep(entity=_entity(r), depth=r["depth"], path=list(r["path"]), via=r["via"])
        for r in rows
    ]


def _visible(id: UUID | str, user: str | None) -> Gen[UUID]:
    entity_id = v.uuid("id", id)
    row = yield Q.get_entity.one(id=entity_id, user=filters.user_id(user))
    if row is None:
        raise NotFound(f"entity {id} does not exist", field="id")
    return entity_id


def _types(types: Sequence[str] | None) -> list[str] | None:
    if types is None:
        return None
    if isinstance(types, str):
        types = [types]
    return [v.text(f"types[{i}]", t, max_len=100) for i, t in enumerate(types)]


# --- retention and stats ----------------------------------------------------------------


@operation(idempotent=True)
def retention_batch(
    *,
    action: str,
    older_than_days: int | None,
    below_relevance: float | None,
    user: str | None,
    batch_size: int,
) -> Gen[int]:
    """Delete or archive one batch past retention; the façade loops until a short batch."""
    v.choice("action", action, ("delete", "archive"))
    if older_than_days is None and below_relevance is None:
        raise InvalidInput("give older_than_days, below_relevance or both", field="older_than_days")
    query = Q.retention_delete if action == "delete" else Q.retention_archive
    count: int = yield query.rowcount(
        days=None
        if older_than_days is None
        else v.integer("older_than_days", older_than_days, low=0, high=1_000_000),
        below=None
        if below_relevance is None
        else v.number("below_relevance", below_relevance, low=0.0, high=1.0),
        user=filters.user_id(user),
        batch=v.integer("batch_size", batch_size, low=1, high=MAX_BATCH),
    )
    return count


@operation(writes=False)
def stats(*, user: str | None = None) -> Gen[MemoryStats]:
    row = yield Q.stats.one(user=filters.user_id(user))
    return from_row(MemoryStats, row)


# --- shaping input and rows -------------------------------------------------------------


def vector_text(field: str, values: object) -> str:
    """An embedding as pgvector's text form, after checking its dimension and numbers.

    pgvector stores single-precision floats, so each number must be finite in that
    precision, and the vector must keep a non-zero length once stored: cosine similarity
    against a zero vector is undefined (it would score NaN).
    """
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InvalidInput(f"{field} must be a list of numbers", field=field)
    if len(values) != EMBEDDING_DIMENSIONS:
        raise InvalidInput(
            f"{field} has {len(values)} dimensions; expected {EMBEDDING_DIMENSIONS}",
            field=field,
        )
    out = []
    for x in values:
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            raise InvalidInput(f"{field} must hold finite numbers only", field=field)
        out.append(float(x))
    stored = array("f", out)  # what pgvector will keep: single precision
    if not all(map(math.isfinite, stored)):
        raise InvalidInput(f"{field} holds a number beyond single precision (±3.4e38)", field=field)
    if not any(stored):
        raise InvalidInput(
            f"{field} is a zero vector (or rounds to one): it has no direction, so cosine "
            "similarity against it is undefined",
            field=field,
        )
    return "[" + ",".join(map(repr, out)) + "]"


def _entity_row(e: NewEntity, field: str) -> dict[str, Any]:
    if not isinstance(e, NewEntity):
        raise InvalidInput(f"{field} must be a NewEntity, not {type(e).__name__}", field=field)
    kind = v.text("kind", e.kind, max_len=100, strip=True)
    name = v.text("name", e.name, max_len=1000, strip=True)
    source = v.text("source", e.source, max_len=200, min_len=0)
    key = None if e.key is None else v.text("key", e.key, max_len=500)
    if key is not None and e.by_name:
        raise InvalidInput("give key or by_name, not both", field="key")
    if key is not None:
        dedup = _key_dedup(source, key)
    elif e.by_name:
        dedup = _name_dedup(kind, name)
    else:
        dedup = json.dumps(["id", str(uuidlib.uuid4())])
    attrs = v.json_object("attrs", e.attrs, max_bytes=MAX_ATTRS_BYTES)
    return {
        "user_id": filters.user_id(e.user_id, "user_id") or "",
        "shared": bool(e.shared),
        "kind": kind,
        "source": source,
        "key": key,
        "dedup_key": dedup,
        "name": name,
        "summary": v.optional_text("summary", e.summary, max_len=100_000),
        # A missing or None attribute never overwrites a stored one.
        "attrs": {k: x for k, x in attrs.items() if x is not None},
        "tags": v.tags("tags", e.tags),
        "relevance": None
        if e.relevance is None
        else v.number("relevance", e.relevance, low=0.0, high=1.0),
        "embedding": None if e.embedding is None else vector_text("embedding", e.embedding),
        "repeats": 0,  # inputs of the same batch merged into this one, each an update
    }


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Two inputs for one entity in a batch, merged the way the database merges them."""
    merged = dict(new)
    for field in ("summary", "relevance", "embedding"):
        if new[field] is None:
            merged[field] = old[field]
    merged["attrs"] = {**old["attrs"], **new["attrs"]}
    merged["tags"] = sorted(set(old["tags"]) | set(new["tags"]))
    merged["shared"] = old["shared"] or new["shared"]
    merged["repeats"] = old["repeats"] + 1
    return merged


def _key_dedup(source: str, key: str) -> str:
    return json.dumps(
        ["key", v.text("source", source, max_len=200, min_len=0), v.text("key", key, max_len=500)]
    )


def _name_dedup(kind: str, name: str) -> str:
    kind = v.text("kind", kind, max_len=100, strip=True)
    name = v.text("name", name, max_len=1000, strip=True)
    return json.dumps(["name", kind, " ".join(name.split()).casefold()])


def _entity(row: Mapping[str, Any]) -> Entity:
    return from_row(Entity, row)
