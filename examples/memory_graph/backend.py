"""Seed 002's ``PostgresMemoryBackend`` (user-scoped memory nodes, entity dedup,
relationships, search, stats, cleanup) as a thin layer over agentledger's memory.

Every node is its user's own entity (never shared, never tenant-wide) in one tenant of
the application; every call passes the user with the own-only scope, so no read, relate
or delete crosses users.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Self

from agentledger import (
    AsyncLedger,
    Entity,
    Filter,
    InvalidInput,
    NewEntity,
    NotFound,
    Relationship,
    Settings,
    Unavailable,
    Vocabulary,
)
from agentledger.ledger_async import AsyncTransaction
from examples.memory_graph.config import DEFAULT_POOL_SIZE, memory_settings
from examples.memory_graph.models import (
    ContextType,
    MemoryNode,
    RelationshipType,
    fallback_name,
    new_entity,
    node_from_entity,
    relationship_dict,
    term,
)

log = logging.getLogger("memory_graph.postgres")

TENANT = "memory_graph"
PAGE = 1000  # agentledger's largest page (list, relationships)
# load_user_memories asks for the out-edges of this many edges' worth of nodes at a time,
# leaving room under PAGE for nodes of more than average degree.
EDGE_TARGET = 800
VOCABULARY = Vocabulary(
    kinds=[str(t) for t in ContextType], relationship_types=[str(t) for t in RelationshipType]
)
# Every read is of the user's own nodes only (the seed: "all queries filtered by user_id").
OWN = "own"
OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class UserMemories:
    """A user's nodes and the edges between them, and the statements it took to load them.

    ``incomplete`` names nodes with more than 1000 out-edges, of which only the heaviest
    1000 were loaded.
    """

    nodes: list[MemoryNode]
    relationships: list[dict[str, Any]]
    queries: int
    incomplete: list[str]


class PostgresMemoryBackend:
    """The seed's async backend: ``await PostgresMemoryBackend().initialize()``, or
    ``await get_postgres_backend()`` for the shared instance.

    ``connection_string`` names the database (else ``POSTGRES_*``, ``DATABASE_URL``, or the
    embedded server); ``pool_size`` is the most connections it opens. While PostgreSQL is
    down ``store_node`` raises ``Spooled`` (the store is kept and applied later, exactly
    once) and the other calls raise ``Unavailable`` within a few seconds.
    """

    enabled = True

    def __init__(
        self,
        connection_string: str | None = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        *,
        tenant: str = TENANT,
        settings: Settings | None = None,
        ledger: AsyncLedger | None = None,
    ) -> None:
        self._own = ledger is None
        self.ledger = (
            ledger
            if ledger is not None
            else AsyncLedger(settings or memory_settings(connection_string, pool_size))
        )
        self.tenant = tenant
        self._open = False

    async def initialize(self) -> Self:
        """Open the pool (applying migrations), make the application's tenant and give it
        the seed's vocabulary: the seven context types as the only entity kinds and the
        five relationship types, so the database refuses any other (the seed's CHECKs)."""
        if self._open:
            return self
        if self._own:
            await self.ledger.open()
        self.scope = self.ledger.tenant(self.tenant)
        try:
            try:
                await self.ledger.tenants.get(self.tenant)
            except NotFound:
                await self.ledger.tenants.create(self.tenant, "Contextual memory graph")
            if not same_terms(await self.scope.memory.vocabulary(), VOCABULARY):
                await self.scope.memory.define_vocabulary(
                    kinds=VOCABULARY.kinds, relationship_types=VOCABULARY.relationship_types
                )
        except Unavailable:
            log.warning("PostgreSQL is down: assuming tenant %s is ready", self.tenant)
        self._open = True
        return self

    async def close(self) -> None:
        if self._own:
            await self.ledger.close()
        self._open = False

    async def __aenter__(self) -> Self:
        return await self.initialize()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[AsyncTransaction]:
        """A pooled connection in a transaction bound to the tenant (the seed's health
        check: ``async with backend.acquire() as tx: await tx.memory.stats()``)."""
        async with self.scope.transaction() as tx:
            yield tx

    async def health_check(self) -> bool:
        """True when PostgreSQL answers and its schema is current."""
        health = await self.ledger.health()
        return health.database and health.migrations_current

    # --- nodes ------------------------------------------------------------------------
    async def store_node(
        self, node: MemoryNode, user_id: str, *, at: datetime | None = None
    ) -> str:
        """Store a node for the user; returns its node id.

        A node whose content has ``entity_id`` and ``entity_system`` is merged into the
        user's node for that entity: ``entity_data`` merges key by key at every depth (a
        None never overwrites), ``update_count`` goes up by one, ``last_updated`` is now
        (or ``at``, for imported history). Raises InvalidInput for a bad context type or
        user, and Spooled while PostgreSQL is down (the store is applied later, once).
        """
        entity = new_entity(node, user(user_id), at=at)
        try:
            stored = await self._upsert(entity)
        except InvalidInput as exc:
            if exc.field != "name" or entity.name is not None:
                raise
            # A new entity whose content names none: the seed's name is optional.
            stored = await self._upsert(replace(entity, name=fallback_name(node)))
        return str(stored.id)

    async def store_nodes(self, nodes: Sequence[MemoryNode], user_id: str) -> list[str]:
        """Store many nodes in one statement (each as ``store_node`` would); ids in order."""
        owner = user(user_id)
        entities = []
        for node in nodes:
            entity = new_entity(node, owner)
            if entity.name is None:  # a bulk store cannot look the stored name up first
                entity = replace(entity, name=fallback_name(node))
            entities.append(entity)
        result = await self.scope.memory.upsert_many(entities, merge="deep")
        return [str(i) for i in result.ids]

    async def get_node(self, node_id: str, user_id: str) -> MemoryNode | None:
        """The user's node, or None (also for another user's node)."""
        try:
            return node_from_entity(
                await self.scope.memory.get(node_id, user=user(user_id), scope=OWN)
            )
        except NotFound:
            return None

    async def delete_node(self, node_id: str, user_id: str) -> bool:
        """Delete the user's node and its relationships; False when there was none."""
        return await self.scope.memory.delete(node_id, user=user(user_id), scope=OWN)

    async def search_nodes(
        self,
        user_id: str,
        query: str,
        context_filter: Iterable[ContextType | str] | None = None,
        limit: int = 50,
    ) -> list[MemoryNode]:
        """The user's nodes matching ``query`` as the seed's ``summary ILIKE '%query%' OR
        content::text ILIKE '%query%'``: a case-insensitive substring (any length, taken
        literally) of the summary or of the content's JSON text, which holds the entity's
        ``entity_id``, ``entity_system`` and ``entity_name``. A name the backend made up for
        a node that gave none is not searched. Summary matches come first, then the rest,
        newest first within each; the first ``limit`` of that order.

        ``context_filter``: context types (a set, or one type); None for all. Reads all the
        user's nodes of those types (1000 a statement, in one transaction), as the seed's
        ILIKE scans the user's rows. Raises InvalidInput for a query that is not text or a
        limit that is not a positive integer.
        """
        needle = _query(query).lower()
        size = positive_limit(limit)
        flt = own(user_id, context_filter)
        matches: list[tuple[bool, MemoryNode]] = []
        async with self.scope.transaction() as tx:
            after: Entity | None = None
            while True:
                page = await tx.memory.list(flt, after=after, limit=PAGE)
                for entity in page:
                    node = node_from_entity(entity)
                    in_summary = needle in (node.summary or "").lower()
                    if in_summary or needle in content_text(node.content).lower():
                        matches.append((in_summary, node))
                if len(page) < PAGE:
                    break
                after = page[-1]
        matches.sort(key=lambda m: m[1].created_at or OLDEST, reverse=True)
        matches.sort(key=lambda m: not m[0])  # stable: newest first within each
        return [node for _, node in matches[:size]]

    async def get_nodes_by_user(self, user_id: str, limit: int = 1000) -> list[MemoryNode]:
        """The user's nodes, most recently changed first, at most ``limit`` (a positive
        integer, else InvalidInput)."""
        entities = await self._entities(user_id, positive_limit(limit))
        return [node_from_entity(e) for e in entities]

    async def cleanup_old_nodes(self, user_id: str, days: int = 90) -> int:
        """Delete the user's nodes not updated for ``days`` days (and their edges); returns
        how many. Other users' nodes are never touched."""
        result = await self.scope.memory.retain(older_than_days=days, user=user(user_id))
        return result.affected

    async def get_user_stats(self, user_id: str) -> dict[str, Any]:
        """The seed's ``user_metadata``: node and relationship counts, nodes per context
        type, last activity; computed from one snapshot, never stale."""
        stats = await self.scope.memory.stats(user=user(user_id))
        return {
            "user_id": user_id,
            "total_nodes": stats.entities,
            "total_relationships": stats.relationships,
            "nodes_by_context_type": dict(stats.by_kind),
            "last_activity": stats.last_activity,
        }

    # --- relationships ----------------------------------------------------------------
    async def store_relationship(
        self,
        user_id: str,
        from_node_id: str,
        to_node_id: str,
        relationship_type: RelationshipType | str,
        strength: float = 1.0,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """One edge per (from, to, type): created, or its strength updated. Both nodes must
        be the user's (NotFound otherwise); the tenant's vocabulary refuses an unknown type
        (InvalidInput naming ``type``, listing the five)."""
        rel = await self.scope.memory.relate(
            from_node_id,
            to_node_id,
            term(relationship_type),
            weight=strength,
            attrs=metadata,
            user=user(user_id),
            scope=OWN,
        )
        return str(rel.id)

    async def get_relationships(self, node_id: str, user_id: str) -> list[dict[str, Any]]:
        """The edges into and out of the user's node, strongest first."""
        rels = await self.scope.memory.relationships([node_id], user=user(user_id), scope=OWN)
        return [relationship_dict(r, user_id) for r in rels]

    async def load_user_memories(self, user_id: str) -> UserMemories:
        """All of the user's nodes and the edges between them, in one transaction.

        Statements: 1 (counts) + ceil(nodes / 1000) (node pages) + about ceil(edges / 800)
        (out-edges of the nodes, a slice at a time); a slice that fills a 1000-edge page is
        split and asked again. 5,000 nodes with 20,000 edges: 1 + 5 + 25 = 31.
        """
        owner = user(user_id)
        async with self.scope.transaction() as tx:
            stats = await tx.memory.stats(user=owner)
            queries = 1
            entities: list[Entity] = []
            while len(entities) < stats.entities:
                page = await tx.memory.list(
                    own(owner, include_archived=True),
                    after=entities[-1] if entities else None,
                    limit=PAGE,
                )
                queries += 1
                entities += page
                if len(page) < PAGE:
                    break
            ids = [e.id for e in entities]
            degree = stats.relationships / max(1, len(ids))
            step = max(1, min(PAGE, math.floor(EDGE_TARGET / degree) if degree else PAGE))
            pending = [ids[i : i + step] for i in range(0, len(ids), step)]
            edges: list[Relationship] = []
            incomplete: list[str] = []
            while pending:
                chunk = pending.pop()
                got = await tx.memory.relationships(
                    chunk, user=owner, scope=OWN, direction="out", limit=PAGE
                )
                queries += 1
                if len(got) == PAGE and len(chunk) > 1:
                    half = len(chunk) // 2
                    pending += [chunk[:half], chunk[half:]]
                    continue
                if len(got) == PAGE:
                    incomplete.append(str(chunk[0]))
                edges += got
        return UserMemories(
            nodes=[node_from_entity(e) for e in entities],
            relationships=[relationship_dict(r, user_id) for r in edges],
            queries=queries,
            incomplete=incomplete,
        )

    # --- internals --------------------------------------------------------------------
    async def _upsert(self, e: NewEntity) -> Entity:
        return await self.scope.memory.upsert(
            e.kind,
            e.name,
            key=e.key,
            source=e.source,
            summary=e.summary,
            attrs=e.attrs,
            tags=e.tags,
            relevance=e.relevance,
            user=e.user_id,
            at=e.at,
            merge="deep",
        )

    async def _entities(self, user_id: str, limit: int) -> list[Entity]:
        owner = user(user_id)
        entities: list[Entity] = []
        while len(entities) < limit:
            page = await self.scope.memory.list(
                own(owner),
                after=entities[-1] if entities else None,
                limit=min(PAGE, limit - len(entities)),
            )
            entities += page
            if len(page) < PAGE:
                break
        return entities


def user(user_id: object) -> str:
    """A user id: non-empty text (an empty one would make nodes tenant-wide)."""
    if not isinstance(user_id, str) or not user_id.strip():
        raise InvalidInput(f"user_id is {user_id!r}; expected a non-empty string", field="user_id")
    return user_id


def same_terms(a: Vocabulary, b: Vocabulary) -> bool:
    """Whether two vocabularies allow the same terms (in whatever order)."""
    return all(
        (x is None and y is None) or (x is not None and y is not None and set(x) == set(y))
        for x, y in ((a.kinds, b.kinds), (a.relationship_types, b.relationship_types))
    )


def own(
    user_id: str,
    context_filter: Iterable[ContextType | str] | None = None,
    *,
    include_archived: bool = False,
) -> Filter:
    """The user's own nodes, of the given context types (all when None; one type given as
    a string or ``ContextType`` is that type)."""
    if isinstance(context_filter, str):
        context_filter = [context_filter]
    elif context_filter is not None and not isinstance(context_filter, Iterable):
        raise InvalidInput(
            f"context_filter is {context_filter!r}; expected context types or None",
            field="context_filter",
        )
    wanted = list(context_filter or ())
    kinds = sorted({term(c) for c in wanted}) if wanted else None
    return Filter(user=user(user_id), scope=OWN, kind=kinds, include_archived=include_archived)


def positive_limit(value: object, field: str = "limit") -> int:
    """A limit: a positive integer (not a bool, not text), else InvalidInput naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{field} is {value!r}; expected a positive integer", field=field)
    return value


def _query(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"query is {value!r}; expected text", field="query")
    return value


def content_text(content: Mapping[str, Any]) -> str:
    """The content as the seed's ``content::text`` reads it: its JSON text."""
    return json.dumps(content, ensure_ascii=False, default=str)
