"""The seed's hybrid: one user's contextual memory for a session, its working graph in the
local SQLite store and its long-term memory in PostgreSQL (when enabled and reachable)."""

from __future__ import annotations

import logging
from dataclasses import replace

from agentledger import NotFound, Spooled, Unavailable
from examples.memory_graph.factory import MemoryBackend
from examples.memory_graph.local import LocalStore
from examples.memory_graph.models import (
    ContextType,
    MemoryNode,
    RelationshipType,
    term,
)

log = logging.getLogger("memory_graph")

# Processing state that never outlives the session: kept in SQLite only.
TRANSIENT = frozenset({ContextType.TEMPORARY_STATE})


class ContextualMemoryGraph:
    """A user's memory graph. Every node lives in the local store; nodes of a lasting
    context type are also stored in PostgreSQL, or spooled for it while it is down. With
    PostgreSQL disabled the same calls run on SQLite alone."""

    def __init__(self, user_id: str, *, backend: MemoryBackend, local: LocalStore) -> None:
        self.user_id = user_id
        self.backend = backend
        self.local = local

    async def start(self) -> int:
        """Load the user's long-term memories into the local store (the seed's "load
        PostgreSQL memories on session start"); how many nodes, 0 when unreachable."""
        if not self.backend.enabled:
            return 0
        try:
            memories = await self.backend.load_user_memories(self.user_id)
        except Unavailable:
            log.warning("PostgreSQL is unreachable: starting from the local store alone")
            return 0
        for node in memories.nodes:
            self.local.put(node, self.user_id, state="stored", stored_as=node.node_id)
        for edge in memories.relationships:
            self.local.relate(
                self.user_id,
                edge["from_node_id"],
                edge["to_node_id"],
                edge["relationship_type"],
                edge["strength"],
            )
        return len(memories.nodes)

    async def remember(self, node: MemoryNode) -> str:
        """Keep a node; returns its local id. Where it went is the local row's state:
        ``stored`` (PostgreSQL has it), ``spooled`` (PostgreSQL will, exactly once) or
        ``local`` (transient, PostgreSQL disabled, or a store it could not take).

        Storing an entity this graph already holds (the same ``entity_system`` and
        ``entity_id``) merges it in PostgreSQL; the local row then takes the merged node,
        and the ids both stores returned resolve to it (``relate``, ``stored_id``)."""
        kind = term(node.context_type)
        if kind in TRANSIENT or not self.backend.enabled:
            return self.local.put(node, self.user_id, state="local", stored_as=None)
        try:
            stored_as = await self.backend.store_node(node, self.user_id)
        except Spooled:
            log.warning("PostgreSQL is down: node %s waits in the spool", node.node_id)
            return self.local.put(node, self.user_id, state="spooled", stored_as=None)
        except Unavailable:
            log.warning("PostgreSQL is unreachable: node %s kept locally", node.node_id)
            return self.local.put(node, self.user_id, state="local", stored_as=None)
        if self.local.resolve(stored_as) in (None, self.local.resolve(node.node_id)):
            return self.local.put(node, self.user_id, state="stored", stored_as=stored_as)
        # merged into a node the local store holds: keep PostgreSQL's merged node
        try:
            merged = await self.backend.get_node(stored_as, self.user_id)
        except Unavailable:
            merged = None
        if merged is None:  # keep the row as it was; this id resolves to it
            self.local.alias(node.node_id, stored_as)
            return node.node_id
        merged = replace(merged, node_id=node.node_id)
        return self.local.put(merged, self.user_id, state="stored", stored_as=stored_as)

    async def relate(
        self,
        from_id: str,
        to_id: str,
        type: RelationshipType | str,
        strength: float = 1.0,
    ) -> bool:
        """Relate two nodes (ids ``remember`` returned, or PostgreSQL ids ``start``
        loaded); True when the edge is stored in PostgreSQL too, False when it is kept
        locally only (PostgreSQL disabled or unreachable, or an end not stored there:
        transient, spooled or kept locally). Raises NotFound, storing nothing, when an id
        names no node of this graph, and InvalidInput for an unknown relationship type."""
        kind = term(type)
        for end in (from_id, to_id):
            if self.local.resolve(end) is None:
                raise NotFound(f"node {end!r} is not in {self.user_id!r}'s memory graph")
        self.local.relate(self.user_id, from_id, to_id, kind, strength)
        ends = self.local.stored_id(from_id), self.local.stored_id(to_id)
        if not self.backend.enabled or ends[0] is None or ends[1] is None:
            return False
        try:
            await self.backend.store_relationship(self.user_id, ends[0], ends[1], kind, strength)
        except Unavailable:
            log.warning("PostgreSQL is unreachable: edge %s-%s kept locally", from_id, to_id)
            return False
        return True

    def search(self, query: str, limit: int = 50) -> list[MemoryNode]:
        """The working graph's nodes matching ``query`` (summary matches first)."""
        return self.local.search(self.user_id, query, limit)
