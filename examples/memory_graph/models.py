"""The seed's memory records (``MemoryNode``, ``ContextType``, ``RelationshipType``) and
their mapping to and from agentledger entities."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from agentledger import Entity, InvalidInput, NewEntity, Relationship

# Content keys that live in the entity's own columns rather than in its attrs.
ENTITY_ID, ENTITY_SYSTEM, ENTITY_NAME = "entity_id", "entity_system", "entity_name"
LAST_UPDATED, UPDATE_COUNT = "last_updated", "update_count"
COLUMN_KEYS = (ENTITY_ID, ENTITY_SYSTEM, ENTITY_NAME, LAST_UPDATED, UPDATE_COUNT)
# agentledger's longest entity name; a name derived from the summary is cut to it.
NAME_LIMIT = 1000


class ContextType(StrEnum):
    """What a memory node holds (the seed's ``valid_context_type`` CHECK)."""

    SEARCH_RESULT = "search_result"
    USER_SELECTION = "user_selection"
    TOOL_OUTPUT = "tool_output"
    DOMAIN_ENTITY = "domain_entity"
    COMPLETED_ACTION = "completed_action"
    CONVERSATION_FACT = "conversation_fact"
    TEMPORARY_STATE = "temporary_state"


class RelationshipType(StrEnum):
    """How two nodes relate (the seed's ``valid_relationship_type`` CHECK)."""

    LED_TO = "led_to"
    RELATES_TO = "relates_to"
    DEPENDS_ON = "depends_on"
    PRODUCES = "produces"
    BELONGS_TO = "belongs_to"


def term(value: ContextType | RelationshipType | str) -> str:
    """A context or relationship type as stored. Not checked here: the tenant's vocabulary
    (``PostgresMemoryBackend.initialize``) and the local store's CHECKs refuse others."""
    return str(value)


@dataclass(kw_only=True)
class MemoryNode:
    """One node of a user's contextual memory graph, as the seed stores it.

    ``content`` follows the seed's structure: ``entity_id`` and ``entity_system`` make the
    node deduplicated per user; ``entity_type``, ``entity_name``, ``entity_data`` and any
    other keys are kept as given; ``last_updated`` and ``update_count`` are filled in on
    read. ``node_id`` is the database's id once stored (a fresh UUID until then).
    ``content``, ``tags`` and ``metadata`` given as None are empty; any other value that is
    not a mapping (a list of strings for ``tags``) raises InvalidInput naming the field.
    """

    content: dict[str, Any]
    context_type: ContextType
    summary: str | None = None
    tags: list[str] = field(default_factory=list)
    base_relevance: float = 0.5
    metadata: dict[str, Any] = field(default_factory=dict)
    node_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    user_id: str | None = None
    created_at: datetime | None = None
    last_accessed: datetime | None = None
    access_count: int = 1

    def __post_init__(self) -> None:
        self.content = _mapping("content", self.content)
        self.metadata = _mapping("metadata", self.metadata)
        tags: object = [] if self.tags is None else self.tags
        if isinstance(tags, str | bytes) or not isinstance(tags, list | tuple | set | frozenset):
            raise InvalidInput(f"tags is {tags!r}; expected a list of strings", field="tags")
        if not all(isinstance(t, str) for t in tags):
            raise InvalidInput(f"tags is {tags!r}; expected a list of strings", field="tags")
        self.tags = list(tags)

    @property
    def entity_key(self) -> tuple[str, str] | None:
        """(entity_system, entity_id) when the node names an external entity, else None."""
        eid, system = self.content.get(ENTITY_ID), self.content.get(ENTITY_SYSTEM)
        if eid and system:
            return str(system), str(eid)
        return None


def new_entity(node: MemoryNode, user_id: str, *, at: datetime | None = None) -> NewEntity:
    """The agentledger upsert for a node: (entity_system, entity_id) is the natural key in
    the user's namespace; a node without one is keyed by its own ``node_id``, so storing
    it again (a retry, a spool replay) never makes a second node."""
    kind = term(node.context_type)
    content = dict(node.content)
    key = node.entity_key
    attrs: dict[str, Any] = {"content": content, "metadata": dict(node.metadata)}
    if key is not None:
        attrs["content"] = {k: x for k, x in content.items() if k not in COLUMN_KEYS}
        source, ident = key
        name = content.get(ENTITY_NAME) or _data(content).get("name")
    else:
        source, ident = "", node.node_id
        name = derived_name(node.summary) or f"{kind} {node.node_id}"
    return NewEntity(
        kind=kind,
        name=None if name is None else str(name),
        key=ident,
        source=source,
        summary=node.summary,
        attrs=attrs,
        tags=list(node.tags),
        relevance=node.base_relevance,
        user_id=user_id,
        at=at,
    )


def fallback_name(node: MemoryNode) -> str:
    """A name for a new entity whose content names none (the seed's name is optional): the
    summary cut to ``NAME_LIMIT`` characters, else ``"<entity_type> <entity_id>"``. The
    summary itself is stored in full."""
    content = node.content
    label = content.get("entity_type") or term(node.context_type)
    name = derived_name(node.summary) or f"{label} {content.get(ENTITY_ID, node.node_id)}"
    return name[:NAME_LIMIT]


def derived_name(summary: str | None) -> str | None:
    """A name made from a summary: at most ``NAME_LIMIT`` characters (whole characters; a
    longer summary ends in "…")."""
    if not summary or len(summary) <= NAME_LIMIT:
        return summary or None
    return summary[: NAME_LIMIT - 1] + "…"


def node_from_entity(entity: Entity) -> MemoryNode:
    """The seed's node from an entity; content gets back its entity columns."""
    content = dict(entity.attrs.get("content") or {})
    if entity.source:  # keyed by (entity_system, entity_id)
        content.update(
            {ENTITY_ID: entity.key, ENTITY_SYSTEM: entity.source, ENTITY_NAME: entity.name}
        )
        content[LAST_UPDATED] = iso_utc(entity.updated_at)
        content[UPDATE_COUNT] = entity.update_count
    return MemoryNode(
        node_id=str(entity.id),
        user_id=entity.user_id,
        content=content,
        context_type=ContextType(entity.kind),
        summary=entity.summary,
        tags=list(entity.tags),
        base_relevance=entity.relevance,
        metadata=dict(entity.attrs.get("metadata") or {}),
        created_at=entity.created_at,
        last_accessed=entity.last_accessed_at or entity.updated_at,
        access_count=entity.access_count,
    )


def relationship_dict(rel: Relationship, user_id: str) -> dict[str, Any]:
    """An edge as the seed's ``memory.relationships`` row."""
    return {
        "id": str(rel.id),
        "user_id": user_id,
        "from_node_id": str(rel.from_id),
        "to_node_id": str(rel.to_id),
        "relationship_type": rel.type,
        "strength": rel.weight,
        "created_at": rel.created_at,
        "metadata": dict(rel.attrs),
    }


def iso_utc(moment: datetime) -> str:
    """The seed's ``datetime_to_iso_utc``: ISO-8601 in UTC with a trailing Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _mapping(field: str, value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} is {value!r}; expected a mapping", field=field)
    return dict(value)


def _data(content: Mapping[str, Any]) -> Mapping[str, Any]:
    data = content.get("entity_data")
    return data if isinstance(data, Mapping) else {}
