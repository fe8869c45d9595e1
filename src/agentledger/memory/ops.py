"""Memory entities as I/O-free operations: merge-upserts, reads, retention, statistics.
Searches live in ``memory.search``, relationships in ``memory.graph``."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from agentledger import keyset, validation as v
from agentledger.db.statements import Gen, Queries, operation
from agentledger.db.types import Bigints, Uuids, Vector, Vectors
from agentledger.errors import InvalidInput, NotFound
from agentledger.keyset import ListPosition
from agentledger.memory import filters, keys, spaces
from agentledger.memory.filters import Filter
from agentledger.memory.merging import merge_rows, mergeable, strip_nulls
from agentledger.memory.records import (
    EmbeddingSpace,
    Entity,
    MemoryStats,
    NewEntity,
    UpsertResult,
)
from agentledger.records import from_row

Q = Queries.beside(__file__)
SPACES = Queries.beside(__file__, "spaces.sql")
MAX_BATCH = 50_000
MAX_ATTRS_BYTES = 256_000
# How an upsert merges into the stored entity: attrs key by key ("shallow"), nested objects
# too ("deep"), or attrs and tags replaced whole ("replace").
MERGES = ("shallow", "deep", "replace")


# --- entities ---------------------------------------------------------------------------


@operation()
def upsert(entity: NewEntity, *, merge: str = "shallow", pgvector: bool = False) -> Gen[Entity]:
    """Insert the entity, or merge it into the one with the same natural key.

    ``merge`` is how attrs merge: "shallow" (top-level keys), "deep" (nested objects key
    by key at every depth), or "replace" (attrs and tags become the given ones, None values
    stored as JSON null). A None name keeps the stored one; a new entity needs a name.
    ``pgvector``: the server has pgvector, so a vector given without a space is placed by
    the upsert's own statement rather than after a read of the tenant's spaces.
    """
    mode = v.choice("merge", merge, MERGES)
    row = _entity_row(entity, "entity", mode)
    rows = yield from _upsert_rows([row], mode, last=True, pgvector=pgvector)
    return entity_from_row(rows[0])


@operation(idempotent=True, spoolable=True)
def upsert_keyed(
    kind: str,
    name: str | None,
    *,
    key: str | None = None,
    source: str = "",
    by_name: bool = False,
    summary: str | None = None,
    attrs: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    relevance: float | None = None,
    user_id: str | None = None,
    shared: bool = False,
    embedding: list[float] | None = None,
    at: datetime | None = None,
    merge: str = "shallow",
    session_id: UUID | str | None = None,
    space: str | None = None,
    embeddings: dict[str, list[float]] | None = None,
    pgvector: bool = False,
) -> Gen[Entity]:
    """``upsert`` of an entity with a natural key (``key`` or ``by_name``), from plain
    arguments so it can wait in the spool.

    The natural key makes a repeat merge into the same entity, and merging the same values
    again leaves the same fields, so a retry or a replay never adds an entity (it does count
    in ``update_count``). Without a natural key each call inserts: InvalidInput. ``at``
    dates the write (see ``upsert``); a spooled write without it is dated when the spool
    accepted it.
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
        at=at,
        session_id=session_id,
        space=space,
        embeddings=embeddings,
    )
    return (yield from upsert(entity, merge=merge, pgvector=pgvector).start())


@operation()
def upsert_many(
    entities: Iterable[NewEntity | Mapping[str, Any]],
    *,
    merge: str = "shallow",
    pgvector: bool = False,
) -> Gen[UpsertResult]:
    """Upsert a batch in one statement; inputs with the same key are merged first, in order.

    Under ``merge="deep"`` an input that puts an object where an earlier one of the same key
    put a scalar or an array cannot be merged into it (the stored object would be merged in
    again): it goes to a second statement, so the batch ends as one-by-one upserts would.
    """
    mode = v.choice("merge", merge, MERGES)
    items = list(entities)
    if len(items) > MAX_BATCH:
        raise InvalidInput(
            f"entities has {len(items)} items; the limit is {MAX_BATCH}", field="entities"
        )
    rounds: list[dict[tuple[str, str], dict[str, Any]]] = []  # one statement each, in order
    last: dict[tuple[str, str], int] = {}  # the round holding each key's latest input
    order: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        if isinstance(item, Mapping):
            try:
                item = NewEntity(**item)
            except TypeError as exc:
                raise InvalidInput(f"entities[{i}]: {exc}", field="entities") from None
        row = _entity_row(item, f"entities[{i}]", mode)
        ident = (row["user_id"], row["dedup_key"])
        order.append(ident)
        at = last.get(ident)
        if at is not None and mergeable(rounds[at][ident]["attrs"], row["attrs"], mode):
            rounds[at][ident] = merge_rows(rounds[at][ident], row, mode)
            continue
        at = 0 if at is None else at + 1
        if at == len(rounds):
            rounds.append({})
        rounds[at][ident] = row
        last[ident] = at
    ids: dict[tuple[str, str], UUID] = {}
    inserted = 0
    for n, batch in enumerate(rounds, 1):
        # A stable order keeps concurrent batches that share keys from deadlocking.
        ordered = [batch[k] for k in sorted(batch)]
        rows = yield from _upsert_rows(ordered, mode, n == len(rounds), pgvector=pgvector)
        ids.update({(r["user_id"] or "", r["dedup_key"]): r["id"] for r in rows})
        inserted += sum(1 for r in rows if r["inserted"])
    return UpsertResult(
        ids=[ids[k] for k in order], inserted=inserted, merged=len(items) - inserted
    )


def _upsert_rows(
    rows: list[dict[str, Any]], mode: str, last: bool, *, pgvector: bool
) -> Gen[list[dict[str, Any]]]:
    """Upsert ``rows``; ``last``: the operation yields nothing after this call."""
    if any(r["name"] is None for r in rows):
        # Locked, so the name read is the one the upsert keeps (no rename or delete between);
        # all the batch's rows, in the upsert's order, so that batches lock in one order.
        keys = [{"user_id": r["user_id"], "dedup_key": r["dedup_key"]} for r in rows]
        found = yield Q.entity_names.all(rows=json.dumps(keys))
        names = {(f["user_id"], f["dedup_key"]): f["name"] for f in found}
        for r in rows:
            if r["name"] is None:
                r["name"] = names.get((r["user_id"], r["dedup_key"]))
                if r["name"] is None:
                    raise InvalidInput(
                        f"a new entity needs a name: none has key {r['key']!r}"
                        f" (source {r['source']!r})",
                        field="name",
                    )
    embedded = [r for r in rows if r["embedding"]]
    payload = json.dumps([{k: x for k, x in r.items() if k != "embedding"} for r in rows])
    if embedded and pgvector and all(spaces.unnamed(r["embedding"]) for r in embedded):
        # Vectors of the default space only: the upsert chooses and checks the space itself.
        implied = Q.upsert_entities_implied.all(rows=payload, mode=mode, **spaces.implied(rows))
        return (yield implied.final() if last else implied)  # type: ignore[no-any-return]
    placed: list[dict[str, tuple[EmbeddingSpace, Vector]]] = [{} for _ in rows]
    if embedded:
        # The spaces named, checked before anything is written (and pgvector with them).
        found = yield SPACES.vector_spaces.one(feature="entity embeddings")
        placed = spaces.placed(rows, found["spaces"])
    # The built-in space's vectors go in the upsert itself, aligned with its rows: set
    # after it, each would write the row (and every index) a second time.
    builtin = Vectors(spaces.builtin_vector(p) for p in placed)
    if any(x is not None for x in builtin):
        upsert = Q.upsert_entities_embedded.all(rows=payload, mode=mode, embeddings=builtin)
    else:
        upsert = Q.upsert_entities.all(rows=payload, mode=mode)
    # It ends the operation unless vectors of declared spaces follow it.
    declared = any(t.id is not None for p in placed for t, _ in p.values())
    result: list[dict[str, Any]] = yield upsert.final() if last and not declared else upsert
    if declared:
        space_ids, entity_ids, vectors = Bigints(), Uuids(), Vectors()
        ids = {(r["user_id"] or "", r["dedup_key"]): r["id"] for r in result}
        for r, p in zip(rows, placed, strict=True):
            for target, vector in p.values():  # one vector per space and entity
                if target.id is not None:
                    space_ids.append(target.id)
                    entity_ids.append(ids[(r["user_id"], r["dedup_key"])])
                    vectors.append(vector)
        yield SPACES.set_space_vectors.none(spaces=space_ids, ids=entity_ids, embeddings=vectors)
    return result


@operation(writes=False, primary_if="touch")
def get(
    id: UUID | str, *, user: str | None = None, scope: str = "shared", touch: bool = False
) -> Gen[Entity]:
    """One entity; NotFound when it does not exist or the user may not see it."""
    query = Q.get_entity_touched if touch else Q.get_entity  # one round trip either way
    row = yield query.one(id=v.uuid("id", id), **filters.scoped(user, scope))
    if row is None:
        raise NotFound(f"entity {id} does not exist", field="id")
    return entity_from_row(row)


@operation(writes=False, primary_if="touch")
def get_by_key(
    key: str | None = None,
    *,
    source: str = "",
    kind: str | None = None,
    name: str | None = None,
    user: str | None = None,
    touch: bool = False,
) -> Gen[Entity | None]:
    """By natural key (source + key), or by kind + name for entities upserted by name; looks in
    ``user``'s namespace (or the tenant's)."""
    dedup = keys.natural_dedup(key, source, kind, name)
    lookup = Q.get_entity_by_key.one(owner=filters.user_id(user) or "", dedup_key=dedup)
    # Without a touch the lookup is the whole operation: one round trip.
    row = yield (lookup if touch else lookup.alone())
    if row is not None and touch:
        yield Q.touch_entities.none(ids=[row["id"]])
    return None if row is None else entity_from_row(row)


@operation(idempotent=False)
def record_access(reads: Mapping[UUID, tuple[int, datetime]]) -> Gen[int]:
    """Write reads counted by an access log: per entity, how many and when the last; how many
    entities it updated (those deleted since are skipped)."""
    ids = sorted(reads)  # one order for every flush: concurrent flushes never deadlock
    count: int = yield Q.record_access.rowcount(
        ids=ids, counts=[reads[i][0] for i in ids], ats=[reads[i][1] for i in ids]
    )
    return count


@operation()
def delete(id: UUID | str, *, user: str | None = None, scope: str = "shared") -> Gen[bool]:
    """Delete an entity and its relationships; False when there was none to delete."""
    count = yield Q.delete_entity.rowcount(id=v.uuid("id", id), **filters.scoped(user, scope))
    return bool(count)


@operation(idempotent=True)
def delete_by_key(
    key: str | None = None,
    *,
    source: str = "",
    kind: str | None = None,
    name: str | None = None,
    user: str | None = None,
) -> Gen[bool]:
    """Delete the entity with this natural key (as ``get_by_key`` finds it, in ``user``'s
    namespace or the tenant's) and its relationships; False when there was none."""
    dedup = keys.natural_dedup(key, source, kind, name)
    count = yield Q.delete_entity_by_key.rowcount(
        owner=filters.user_id(user) or "", dedup_key=dedup
    )
    return bool(count)


@operation(writes=False)
def sources(
    prefix: str = "",
    *,
    kind: str | None = None,
    user: str | None = None,
    scope: str = "shared",
    after: str | None = None,
    limit: int = 100,
) -> Gen[list[str]]:
    """Where the entities a reader sees came from: their distinct sources (of ``kind`` only,
    when given) that start with ``prefix``, in code point order, the page after ``after``
    (pass the last source back for the next page)."""
    arguments = filters.source_arguments(prefix, kind, user, scope, after, limit)
    rows = yield Q.entity_sources.all(**arguments)
    return [r["source"] for r in rows]


@operation(writes=False)
def list_(
    filter: Filter | None = None, *, after: Entity | ListPosition | None = None, limit: int = 100
) -> Gen[list[Entity]]:
    """Entities newest change first; pass the last one (or its ListPosition) back as
    ``after`` for the next page."""
    key = yield from keyset.position(after, field="after", record=Entity, at="updated_at")
    rows = yield Q.list_entities.all(
        **filters.params(filter),
        after_updated=None if key is None else key[0],
        after_id=None if key is None else key[1],
        limit=filters.limit(limit),
    ).alone()
    return [entity_from_row(r) for r in rows]


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


@operation(idempotent=True)
def forget_user_batch(user: str, *, batch_size: int) -> Gen[int]:
    """Delete one batch of ``user``'s own entities; the façade loops until a short batch."""
    if user is None:
        raise InvalidInput("user must name the user whose memory is deleted", field="user")
    count: int = yield Q.forget_user_batch.rowcount(
        user=filters.user_id(user), batch=v.integer("batch_size", batch_size, low=1, high=MAX_BATCH)
    )
    return count


@operation(writes=False)
def stats(*, user: str | None = None) -> Gen[MemoryStats]:
    """Counts by kind and status, relationships, last activity: the tenant's, or one user's own
    entities (and the edges leaving them)."""
    row = yield Q.stats.one(user=filters.user_id(user))
    return from_row(MemoryStats, row)


# --- shaping input and rows -------------------------------------------------------------


def _entity_row(e: NewEntity, field: str, mode: str = "shallow") -> dict[str, Any]:
    if not isinstance(e, NewEntity):
        raise InvalidInput(f"{field} must be a NewEntity, not {type(e).__name__}", field=field)
    kind = v.text("kind", e.kind, max_len=100, strip=True)
    if e.name is None and (e.key is None or e.by_name):
        why = "by_name needs a name" if e.by_name else "an entity without a key is new"
        raise InvalidInput(f"{field}: {why}; a new entity needs a name", field="name")
    # None keeps the stored name (looked up in _upsert_rows).
    name = None if e.name is None else v.text("name", e.name, max_len=1000, strip=True)
    source = v.text("source", e.source, max_len=200, min_len=0)
    key = None if e.key is None else v.text("key", e.key, max_len=500)
    if key is not None and e.by_name:
        raise InvalidInput("give key or by_name, not both", field="key")
    if key is not None:
        dedup = keys.key_dedup(source, key)
    elif e.by_name and name is not None:  # by_name without a name was refused above
        dedup = keys.name_dedup(kind, name)
    else:
        dedup = keys.fresh_dedup()
    attrs = v.json_object("attrs", e.attrs, max_bytes=MAX_ATTRS_BYTES)
    at = v.aware_datetime("at", e.at, not_future=True)
    stamp = None if at is None else _utc_stamp(at)
    return {
        "user_id": filters.user_id(e.user_id, "user_id") or "",
        "shared": bool(e.shared),
        "kind": kind,
        "source": source,
        "key": key,
        "dedup_key": dedup,
        "name": name,
        "summary": v.optional_text("summary", e.summary, max_len=100_000),
        "attrs": _merged_attrs(attrs, mode),
        "tags": v.tags("tags", e.tags),
        "relevance": None
        if e.relevance is None
        else v.number("relevance", e.relevance, low=0.0, high=1.0, single=True),
        "embedding": spaces.entity_vectors(e),
        "repeats": 0,  # inputs of the same batch merged into this one, each an update
        "at": stamp,  # the moment of this write (None: now)
        "first_at": stamp,  # a new entity's created_at: its batch's first input's moment
        # The session it belongs to (None: a new entity has none, a merge keeps its own).
        "session_id": None if e.session_id is None else str(v.uuid("session_id", e.session_id)),
    }


def _merged_attrs(attrs: dict[str, Any], mode: str) -> dict[str, Any]:
    """The attrs an upsert sends: a None never overwrites a stored value when merging (at
    any depth when deep), so it is left out; a replacement keeps it, as JSON null."""
    if mode == "replace":
        return attrs
    if mode == "deep":
        return dict(strip_nulls(attrs))
    return {k: x for k, x in attrs.items() if x is not None}


def _utc_stamp(at: datetime) -> str:
    """A checked moment (``validation.aware_datetime``) as the statement's UTC text."""
    return at.astimezone(UTC).isoformat()


def entity_from_row(row: Mapping[str, Any]) -> Entity:
    return from_row(Entity, row)
