"""The bound tenant's memory (entities, relationships, search): the async façade."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from agentledger import validation as v
from agentledger.db.database_async import AsyncRunner
from agentledger.db.facade_async import drain_async
from agentledger.db.forward import forward_async
from agentledger.db.statements import Op
from agentledger.errors import InvalidInput, LedgerError
from agentledger.memory import (
    graph,
    languages as langs,
    ops,
    search,
    spaces,
    statistics,
    vocabulary,
)
from agentledger.memory.embedder import Embedder
from agentledger.memory.filters import Filter
from agentledger.memory.jobs_async import AsyncJobs
from agentledger.memory.recorder_async import AsyncAccessRecorder
from agentledger.memory.records import (
    Entity,
    NewEntity,
    RetentionResult,
    SearchHit,
    UpsertResult,
    Vocabulary,
)
from agentledger.tasks.facade_async import AsyncTasks

T = TypeVar("T")
log = logging.getLogger("agentledger")


class AsyncMemory(AsyncJobs):
    """Entities with merge-upsert, their relationships, search, retention and stats.

    ``user`` arguments scope a call to one user of the tenant: with ``scope="shared"`` (the
    default) it sees the tenant's own entities (``user_id`` None), its own, and other users'
    shared ones; with ``scope="own"`` only its own (``Filter.scope`` likewise). Without
    ``user`` a call reads as the tenant and sees everything. ``touch=True`` on a read also
    records the access (count and time): through a tenant handle, counted by the ledger and
    written in batches within ``access_flush_interval`` seconds, at ``close()`` or on
    ``flush_access()`` (memory/access.py); inside ``transaction()``, or with an interval of
    0, in the read's own transaction. Returned records show the values from before this
    read. A merge by natural key counts as an access too, in its own statement.
    """

    def __init__(
        self,
        run: AsyncRunner,
        embedder: Embedder | None = None,
        space: str | None = None,
        *,
        recorder: AsyncAccessRecorder | None = None,
        tenant: str = "",
        tasks: AsyncTasks[Any] | None = None,
        extensions: Callable[[], frozenset[str]] | None = None,
    ) -> None:
        self._runner = run
        # The server's optional extensions, where known (a transaction's memory: not).
        self._extensions = extensions
        self._tasks = tasks
        self._embedder = embedder
        self._space = space
        self._recorder = recorder
        self._tenant = tenant

    def with_embedder(self, embedder: Embedder | None, *, space: str | None = None) -> AsyncMemory:
        """This memory, embedding upserted entities and search queries with ``embedder``,
        whose vectors belong to ``space`` (None: the tenant's default space). A vector of
        another dimension than the space's is refused (InvalidInput naming ``embedding``)."""
        return AsyncMemory(
            self._runner,
            embedder,
            space,
            recorder=self._recorder,
            tenant=self._tenant,
            tasks=self._tasks,
            extensions=self._extensions,
        )

    def _pgvector(self) -> bool:
        return self._extensions is not None and "vector" in self._extensions()

    async def _run(self, op: Op[T]) -> T:
        """Run ``op``; a touched read, with a recorder, runs as a plain read (a standby may
        serve it) and leaves its access to the recorder."""
        if self._recorder is None or not op.kwargs.get("touch"):
            return await self._runner(op)
        result = await self._runner(op.with_kwargs(touch=False))
        await self._recorder.record(self._tenant, _read_ids(result))
        return result

    async def upsert(
        self,
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
        user: str | None = None,
        shared: bool = False,
        embedding: Any = None,
        at: datetime | None = None,
        merge: str = "shallow",
        session_id: UUID | str | None = None,
        space: str | None = None,
        embeddings: Mapping[str, Any] | None = None,
    ) -> Entity:
        """Insert an entity, or merge into the one with the same natural key.

        The natural key is ``(source, key)`` (e.g. ``("salesforce", "001234")``), or kind +
        name (folded: case, white space and Unicode forms aside, see ``memory.keys``) with
        ``by_name=True``; with neither, a new entity is always inserted. Keys are per user
        (``user``), or the tenant's own when None.

        Merging: attrs merge key by key and a None or missing value never overwrites a
        stored one; ``merge="deep"`` merges nested objects key by key too, at every depth
        (a None at any depth never overwrites; arrays and scalars replace), where the
        default "shallow" replaces a nested object whole; ``merge="replace"`` makes attrs
        and tags exactly the given ones (a None is stored as JSON null). Otherwise tags are
        unioned. Summary, relevance and embedding change only when given; kind takes the
        new value, and so does name unless it is None, which with ``key`` keeps the stored
        name (a new entity
        needs one: InvalidInput, nothing written); ``shared`` can be turned on, not off;
        an archived entity becomes active again; ``update_count`` and ``updated_at`` are
        bumped. One statement, safe under concurrent upserts of the same entity.

        ``at`` dates the write, for imported history: a new entity is created and updated
        then, a merge sets ``updated_at`` to it (``created_at`` never moves). It must be
        timezone-aware and not in the future (InvalidInput naming ``at``); None is now.

        ``session_id`` attaches the entity to a session of the tenant (it counts in the
        session's ``memory_count``); on a merge a given session moves the entity there and
        None keeps its session. A missing session, or another tenant's: NotFound naming
        ``session_id``, nothing written.

        ``embedding`` is a vector (list, tuple, ``array.array`` or 1-D numpy array of any
        real dtype) in ``space`` (None: the tenant's default space); ``embeddings`` maps
        other spaces' names to their vectors. Each must have its space's dimension, finite
        numbers (in single precision too) and a non-zero length: InvalidInput naming the
        field, nothing written. An unknown space: InvalidInput naming ``space`` (or the
        ``embeddings`` key).

        With a natural key the write is repeatable, so on a ledger with a spool it waits
        there while PostgreSQL is down (``Spooled``) and is replayed later.
        """
        entity = NewEntity(
            kind=kind,
            name=name,
            key=key,
            source=source,
            by_name=by_name,
            summary=summary,
            attrs=_dicted(attrs),
            tags=_listed(tags),
            relevance=relevance,
            user_id=user,
            shared=shared,
            embedding=embedding,
            at=at,
            session_id=session_id,
            space=space,
            embeddings=_dicted(embeddings),
        )
        # A kept name is not known here: the stored embedding stays too.
        if embedding is None and self._embedder is not None and entity.name is not None:
            (vector,) = await self._embed([_embedding_text(entity)])
            entity = self._with_embedding(entity, vector)
        if entity.key is None and not entity.by_name:
            return await self._run(ops.upsert(entity, merge=merge, pgvector=self._pgvector()))
        # A natural key makes the upsert repeatable: it may wait in the spool.
        return await self._run(
            ops.upsert_keyed(
                entity.kind,
                entity.name,
                key=entity.key,
                source=entity.source,
                by_name=entity.by_name,
                summary=entity.summary,
                attrs=entity.attrs,
                tags=entity.tags,
                relevance=entity.relevance,
                user_id=entity.user_id,
                shared=entity.shared,
                embedding=_plain(entity.embedding),
                at=entity.at,
                merge=merge,
                session_id=entity.session_id,
                space=entity.space,
                embeddings=(
                    {k: _plain(x) for k, x in entity.embeddings.items()}
                    if isinstance(entity.embeddings, Mapping)
                    else entity.embeddings
                ),
                pgvector=self._pgvector(),
            )
        )

    async def upsert_many(
        self, entities: Iterable[NewEntity | Mapping[str, Any]], *, merge: str = "shallow"
    ) -> UpsertResult:
        """Upsert a batch (up to 50,000) in one statement; ids come back in input order.
        Each input merges as ``upsert`` would (``merge`` likewise, and ``NewEntity.at``),
        in input order."""
        listed = v.items("entities", entities, what="NewEntity or mappings")
        items = [e if isinstance(e, NewEntity) else _new_entity(e) for e in listed]
        missing = [i for i, e in enumerate(items) if e.embedding is None and e.name is not None]
        if self._embedder is not None and missing:
            vectors = await self._embed([_embedding_text(items[i]) for i in missing])
            for i, vector in zip(missing, vectors, strict=True):
                items[i] = self._with_embedding(items[i], vector)
        result = await self._run(ops.upsert_many(items, merge=merge, pgvector=self._pgvector()))
        if result.inserted >= statistics.BULK_ROWS:
            try:
                await self._run(statistics.refresh_stats(result.inserted))
            except LedgerError as exc:  # the batch is stored; autovacuum will analyze
                log.warning("refreshing memory statistics after a batch failed: %s", exc)
        return result

    get = forward_async(ops.get)
    get_by_key = forward_async(ops.get_by_key)
    delete = forward_async(ops.delete)
    delete_by_key = forward_async(ops.delete_by_key)
    sources = forward_async(ops.sources)
    find_by_name = forward_async(search.find_by_name)
    find_by_substring = forward_async(search.find_by_substring)
    search_text = forward_async(search.search_text)

    async def search_vector(
        self,
        query: Any,
        *,
        space: str | None = None,
        filter: Filter | None = None,
        limit: int = 10,
        touch: bool = False,
    ) -> list[SearchHit]:
        """Nearest entities in ``space`` (None: the tenant's default space, or the
        embedder's) to an embedding (a list, tuple, ``array.array`` or 1-D numpy array), or
        to a text embedded by the configured embedder; by the space's distance. Needs
        pgvector (MissingExtension otherwise)."""
        if isinstance(query, str):
            (embedding,) = await self._embed([query])
            space = self._space if space is None else space
        else:
            embedding = query
        return await self._run(
            search.search_vector(embedding, space=space, filter=filter, limit=limit, touch=touch)
        )

    async def search(
        self,
        query: str,
        *,
        embedding: Any = None,
        space: str | None = None,
        filter: Filter | None = None,
        limit: int = 10,
        threshold: float = 0.3,
        touch: bool = False,
    ) -> list[SearchHit]:
        """Hybrid search: full-text (in each kind's language), fuzzy-name and vector ranks
        fused (reciprocal rank fusion) in one statement. The vector signal joins when an
        embedding is given (in ``space``, None: the default space) or an embedder is
        configured (in its space). Each hit carries every signal's score."""
        if embedding is None and self._embedder is not None:
            (embedding,) = await self._embed([query])
            space = self._space if space is None else space
        return await self._run(
            search.search_hybrid(
                query,
                embedding=embedding,
                space=space,
                filter=filter,
                limit=limit,
                threshold=threshold,
                touch=touch,
            )
        )

    embedding = forward_async(spaces.embedding)
    declare_space = forward_async(spaces.declare)
    drop_space = forward_async(spaces.drop)
    set_default_space = forward_async(spaces.set_default)
    language = forward_async(langs.language)
    languages = forward_async(langs.languages)

    spaces = forward_async(spaces.list_)  # last: the name is the module's until here

    relate = forward_async(graph.relate)
    unrelate = forward_async(graph.unrelate)
    neighbours = forward_async(graph.neighbours)
    relationships = forward_async(graph.relationships)
    traverse = forward_async(graph.traverse)

    async def retain(
        self,
        *,
        older_than_days: int | None = None,
        below_relevance: float | None = None,
        user: str | None = None,
        action: str = "delete",
        batch_size: int = 1000,
    ) -> RetentionResult:
        """Delete (or archive) entities not updated for ``older_than_days`` and/or with a
        relevance below ``below_relevance``, for one user or the whole tenant.

        Works in batches of ``batch_size``, each its own short transaction that skips rows
        other transactions hold, so the table is never locked; a skipped row waits for the
        next pass. Inside ``transaction()`` all batches share that transaction.
        """
        affected, batches = await drain_async(
            self._run,
            lambda: ops.retention_batch(
                action=action,
                older_than_days=older_than_days,
                below_relevance=below_relevance,
                user=user,
                batch_size=batch_size,
            ),
            batch_size,
        )
        return RetentionResult(action=action, affected=affected, batches=batches)

    async def forget_user(self, user: str, *, batch_size: int = 1000) -> int:
        """Delete every entity ``user`` owns, its own and those it shared, with their
        relationships (edges from other entities to them too), vectors in every space and
        expiry; how many entities. For a user who leaves or asks to be forgotten.

        Works in batches of ``batch_size``, each its own short transaction that waits for
        rows other transactions hold, so none is left behind; an entity the user's agents
        write meanwhile may outlive it (stop them first). Words of the deleted names stay
        in the tenant's fuzzy-name dictionary, tied to no entity or user. Inside
        ``transaction()`` all batches share that transaction.
        """
        deleted, _ = await drain_async(
            self._run, lambda: ops.forget_user_batch(user, batch_size=batch_size), batch_size
        )
        return deleted

    stats = forward_async(ops.stats)

    async def define_vocabulary(
        self,
        *,
        kinds: Sequence[str] | None = None,
        relationship_types: Sequence[str] | None = None,
    ) -> Vocabulary:
        """Allow only these entity kinds and relationship types in this tenant (None: any).

        The database holds every later write to them: an unknown kind is InvalidInput naming
        ``kind``, an unknown type InvalidInput naming ``type``, each listing the allowed
        terms. Refused (InvalidInput, nothing changed) when stored memory already uses a
        term left out. A write running while the vocabulary changes is checked against the
        vocabulary it read.
        """
        return await self._run(
            vocabulary.define(kinds=kinds, relationship_types=relationship_types)
        )

    vocabulary = forward_async(vocabulary.get)

    def _with_embedding(self, entity: NewEntity, vector: Any) -> NewEntity:
        """The entity with the embedder's vector, in the embedder's space."""
        if self._space is None:
            return replace(entity, embedding=vector)
        if entity.embeddings is not None and not isinstance(entity.embeddings, Mapping):
            return entity  # the operation refuses it by name
        return replace(entity, embeddings={**(entity.embeddings or {}), self._space: vector})

    async def _embed(self, texts: list[str]) -> Sequence[Any]:
        if self._embedder is None:
            raise InvalidInput(
                "no embedder is configured: pass an embedding, or use with_embedder()",
                field="query",
            )
        return await asyncio.to_thread(self._embedder.embed, texts)

    list = forward_async(ops.list_)


def _new_entity(item: Mapping[str, Any]) -> NewEntity:
    try:
        return NewEntity(**item)
    except TypeError as exc:
        raise InvalidInput(f"entities: {exc}", field="entities") from None


def _embedding_text(entity: NewEntity) -> str:
    assert entity.name is not None  # a kept name is not embedded
    return entity.name if entity.summary is None else f"{entity.name}\n{entity.summary}"


def _plain(vector: Any) -> Any:
    """A vector as a list of floats (numpy and array.array have ``tolist``), so that a
    keyed upsert's arguments can wait in the spool as JSON."""
    if vector is None or isinstance(vector, list):
        return vector
    tolist = getattr(vector, "tolist", None)
    if tolist is not None:
        return tolist()
    return list(vector) if isinstance(vector, Iterable) else vector  # else refused by name


def _dicted(value: Any) -> Any:
    """A mapping as a dict (what the spool keeps); anything else as given, for the
    operation to refuse by name."""
    return dict(value) if isinstance(value, Mapping) else value


def _listed(value: Any) -> Any:
    """Items (``validation.listable``) as a list, what the spool keeps; anything else as
    given, for the operation to refuse by name."""
    return list(value) if v.listable(value) else value


def _read_ids(result: object) -> list[UUID]:
    """The entities a touched read returned: one, none, or each hit's."""
    if isinstance(result, Entity):
        return [result.id]
    if isinstance(result, list):
        return [h.entity.id for h in result if isinstance(h, SearchHit)]
    return []
