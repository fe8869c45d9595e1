"""The memory graph over HTTP: merge-upsert, lookups, every search mode, the graph, stats."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import sys
from array import array
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api.auth import AdminTenant, ReaderTenant, WriterTenant
from agentledger.api.pagination import Limit, position, positioned
from agentledger.api.schemas import SPOOLED, Page, Purged
from agentledger.errors import InvalidInput, NotFound
from agentledger.memory import (
    Entity,
    Filter,
    MemoryStats,
    Neighbour,
    PathStep,
    Relationship,
    SearchHit,
    UpsertResult,
    Vocabulary,
)

router = APIRouter(prefix="/v1/memory", tags=["memory"])
VectorIn = Annotated[
    list[float] | str,
    Field(
        description="A JSON array of numbers, or base64 of little-endian float32s "
        "(4 bytes a number); of the dimension of its space."
    ),
]
SPACE_HELP = "The embedding space of embedding (omitted: the tenant's default space)."


class EntityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(min_length=1, max_length=100, examples=["contact"])
    name: str | None = Field(
        default=None,
        min_length=1,
        description="Omitted with a key: the stored name stays (a new entity needs one).",
        examples=["John Smith"],
    )
    key: str | None = Field(
        default=None, description="Natural key for dedup (with source).", examples=["hubspot:4411"]
    )
    source: str = Field(default="", examples=["hubspot"])
    by_name: bool = Field(default=False, description="Dedup by kind + name instead of key.")
    summary: str | None = Field(default=None, examples=["CFO at Acme; prefers email"])
    attrs: dict[str, Any] | None = Field(default=None, examples=[{"company": "Acme"}])
    tags: list[str] | None = Field(default=None, examples=[["vip"]])
    relevance: float | None = Field(default=None, ge=0, le=1)
    user: str | None = Field(default=None, description="Owner user (private unless shared).")
    shared: bool = False
    embedding: VectorIn | None = None
    space: str | None = Field(default=None, description=SPACE_HELP)
    embeddings: dict[str, VectorIn] | None = Field(
        default=None, description="Vectors in other spaces, by space name."
    )
    at: dt.datetime | None = Field(
        default=None,
        description="When this write happened, for imported history (with a zone; default now).",
    )
    session_id: UUID | None = Field(
        default=None,
        description="The session it belongs to; on a merge it moves there (omitted: kept).",
    )


MergeMode = Annotated[
    Literal["shallow", "deep"],
    Field(description="deep: nested attrs objects merge key by key at every depth."),
]


UserScope = Literal["own", "shared"]
SCOPE_HELP = (
    "With user: own = only the user's entities; shared = also the tenant's own and other "
    "users' shared ones."
)
ScopeQuery = Annotated[UserScope, Query(alias="scope", description=SCOPE_HELP)]


class UpsertIn(EntityIn):
    merge: MergeMode = "shallow"


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entities: list[EntityIn] = Field(min_length=1, max_length=10_000)
    merge: MergeMode = "shallow"


class FilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str | None = None
    scope: UserScope = Field(default="shared", description=SCOPE_HELP)
    kind: list[str] | None = Field(default=None, examples=[["contact", "deal"]])
    tags: list[str] | None = None
    attrs: dict[str, Any] | None = Field(default=None, examples=[{"industry": "tech"}])
    where: list[tuple[str, Literal["=", "!=", "<", "<=", ">", ">="], Any]] | None = Field(
        default=None,
        examples=[[["revenue", ">", 1000]]],
        description="Typed comparisons on attrs: numbers as numbers, a string that is "
        "exactly YYYY-MM-DD as a date, any other string as a string.",
    )
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    include_archived: bool = False
    session: UUID | None = Field(default=None, description="Only this session's memories.")

    def build(self) -> Filter:
        where = None
        if self.where:
            where = [(f, op, _typed(value)) for f, op, value in self.where]
        return Filter(**self.model_dump(exclude={"where"}), where=where)


class SearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, examples=["Jon Smth"])
    mode: Literal["hybrid", "fuzzy", "text", "vector", "substring"] = "hybrid"
    embedding: VectorIn | None = Field(default=None, description="For vector / hybrid.")
    space: str | None = Field(default=None, description=SPACE_HELP)
    filter: FilterIn | None = None
    threshold: float = Field(default=0.3, ge=0, le=1, description="Fuzzy similarity floor.")
    limit: int = Field(default=10, ge=1, le=100)
    touch: bool = Field(default=False, description="Record the access on each hit.")


class RelateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_id: UUID
    to_id: UUID
    type: str = Field(min_length=1, max_length=100, examples=["works_at"])
    weight: float = Field(default=1.0, ge=0)
    attrs: dict[str, Any] | None = None


class VocabularyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kinds: list[str] | None = Field(
        default=None, description="Allowed entity kinds (null: any).", examples=[["contact"]]
    )
    relationship_types: list[str] | None = Field(
        default=None, description="Allowed relationship types (null: any).", examples=[None]
    )


class EdgesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ids: list[UUID] = Field(min_length=1, max_length=1000)
    user: str | None = None
    scope: UserScope = Field(default="shared", description=SCOPE_HELP)
    types: list[str] | None = None
    direction: Literal["in", "out", "both"] = "both"
    limit: int = Field(default=1000, ge=1, le=1000)


@router.post(
    "/entities", response_model=Entity, summary="Merge-upsert one entity", responses=SPOOLED
)
async def upsert(body: UpsertIn, tenant: WriterTenant) -> object:
    fields = _decoded(body.model_dump())
    return await tenant.memory.upsert(fields.pop("kind"), fields.pop("name"), **fields)


@router.post(
    "/entities/batch",
    response_model=UpsertResult,
    summary="Merge-upsert many entities in one statement",
)
async def upsert_many(body: BatchIn, tenant: WriterTenant) -> object:
    rows: list[dict[str, Any]] = []
    for entity in body.entities:
        row = _decoded(entity.model_dump(), f"entities[{len(rows)}].")
        row["user_id"] = row.pop("user")  # a batch row names the owner as NewEntity does
        rows.append(row)
    return await tenant.memory.upsert_many(rows, merge=body.merge)


@router.get("/entities", response_model=Page[Entity], summary="Entities, latest change first")
async def list_entities(
    tenant: ReaderTenant,
    kind: str | None = None,
    user: str | None = None,
    user_scope: ScopeQuery = "shared",
    session: UUID | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> object:
    where = Filter(kind=kind, user=user, scope=user_scope, session=session)
    items = await tenant.memory.list(where, after=position(cursor), limit=limit)
    return positioned(items, limit, "updated_at")


@router.get("/entities/by-key", response_model=Entity, summary="One entity by natural key")
async def get_by_key(
    tenant: ReaderTenant, key: str, source: str = "", user: str | None = None
) -> object:
    found = await tenant.memory.get_by_key(key, source=source, user=user)
    if found is None:
        raise NotFound(f"no entity with key {key!r} from {source!r}", field="key")
    return found


@router.get("/entities/{entity_id}", response_model=Entity, summary="One entity")
async def get_entity(
    entity_id: UUID,
    tenant: ReaderTenant,
    user: str | None = None,
    user_scope: ScopeQuery = "shared",
    touch: bool = False,
) -> object:
    memory = tenant.memory
    return await memory.get(entity_id, user=user, scope=user_scope, touch=touch)


@router.delete("/entities/{entity_id}", status_code=204, summary="Delete an entity")
async def delete_entity(
    entity_id: UUID,
    tenant: WriterTenant,
    user: str | None = None,
    user_scope: ScopeQuery = "shared",
) -> None:
    if not await tenant.memory.delete(entity_id, user=user, scope=user_scope):
        raise NotFound(f"entity {entity_id} does not exist", field="entity_id")


@router.delete(
    "/users/{user}",
    response_model=Purged,
    summary="Forget a user: delete every entity it owns, with its relationships",
)
async def forget_user(user: str, tenant: AdminTenant) -> object:
    return {"deleted": await tenant.memory.forget_user(user)}


@router.post(
    "/search",
    response_model=list[SearchHit],
    summary="Search: hybrid (rank fusion), fuzzy name, full text, vector or substring",
)
async def search(body: SearchIn, tenant: ReaderTenant) -> object:
    memory = tenant.memory
    where = body.filter.build() if body.filter else None
    if body.mode == "fuzzy":
        return await memory.find_by_name(
            body.query, threshold=body.threshold, filter=where, limit=body.limit, touch=body.touch
        )
    if body.mode == "text":
        return await memory.search_text(
            body.query, filter=where, limit=body.limit, touch=body.touch
        )
    if body.mode == "substring":
        return await memory.find_by_substring(
            body.query, filter=where, limit=body.limit, touch=body.touch
        )
    embedding = None if body.embedding is None else vector_in("embedding", body.embedding)
    if body.mode == "vector":
        return await memory.search_vector(
            body.query if embedding is None else embedding,
            space=body.space,
            filter=where,
            limit=body.limit,
            touch=body.touch,
        )
    return await memory.search(
        body.query,
        embedding=embedding,
        space=body.space,
        filter=where,
        limit=body.limit,
        threshold=body.threshold,
        touch=body.touch,
    )


@router.post(
    "/relationships",
    status_code=201,
    response_model=Relationship,
    summary="Relate two entities (upsert by from, to, type)",
)
async def relate(body: RelateIn, tenant: WriterTenant) -> object:
    return await tenant.memory.relate(
        body.from_id, body.to_id, body.type, weight=body.weight, attrs=body.attrs
    )


@router.delete("/relationships", status_code=204, summary="Remove a relationship")
async def unrelate(tenant: WriterTenant, from_id: UUID, to_id: UUID, type: str) -> None:
    if not await tenant.memory.unrelate(from_id, to_id, type):
        raise NotFound("no such relationship", field="type")


@router.post(
    "/relationships/query",
    response_model=list[Relationship],
    summary="The relationships touching any of a set of entities",
)
async def relationships(body: EdgesIn, tenant: ReaderTenant) -> object:
    return await tenant.memory.relationships(**body.model_dump())


@router.get(
    "/entities/{entity_id}/neighbours",
    response_model=list[Neighbour],
    summary="Directly related entities",
)
async def neighbours(
    entity_id: UUID,
    tenant: ReaderTenant,
    direction: Literal["in", "out", "both"] = "both",
    types: Annotated[list[str] | None, Query()] = None,
    limit: Limit = 100,
) -> object:
    return await tenant.memory.neighbours(entity_id, direction=direction, types=types, limit=limit)


@router.get(
    "/entities/{entity_id}/traverse",
    response_model=list[PathStep],
    summary="Entities reachable within max_depth hops",
)
async def traverse(
    entity_id: UUID,
    tenant: ReaderTenant,
    max_depth: Annotated[int, Query(ge=1, le=6)] = 2,
    direction: Literal["in", "out", "both"] = "out",
    types: Annotated[list[str] | None, Query()] = None,
    limit: Limit = 200,
) -> object:
    return await tenant.memory.traverse(
        entity_id, max_depth=max_depth, direction=direction, types=types, limit=limit
    )


@router.get("/vocabulary", response_model=Vocabulary, summary="Allowed kinds and types")
async def get_vocabulary(tenant: ReaderTenant) -> object:
    return await tenant.memory.vocabulary()


@router.put(
    "/vocabulary",
    response_model=Vocabulary,
    summary="Allow only these entity kinds and relationship types (admin)",
)
async def define_vocabulary(body: VocabularyIn, tenant: AdminTenant) -> object:
    return await tenant.memory.define_vocabulary(
        kinds=body.kinds, relationship_types=body.relationship_types
    )


@router.get("/stats", response_model=MemoryStats, summary="Counts by kind, relationships")
async def stats(tenant: ReaderTenant, user: str | None = None) -> object:
    return await tenant.memory.stats(user=user)


# The one spelling of a date a comparison reads as a date. ``date.fromisoformat`` would take
# "20240101" and "2024-W01-1" too, which are as likely plain strings (references, codes).
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _typed(value: Any) -> Any:
    """JSON has no dates: a string that is exactly a date as ``YYYY-MM-DD`` compares as a
    date; any other string (other ISO 8601 spellings of a date included) as a string."""
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:  # 2024-02-30: no date, so a string
            return value
    return value


def vector_in(field: str, value: list[float] | str) -> Any:
    """A vector from JSON: the array as it is, or base64 of little-endian float32s."""
    if isinstance(value, list):
        return value
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{field} is neither a JSON array nor base64", field=field) from None
    if len(raw) % 4:
        raise InvalidInput(
            f"{field} holds {len(raw)} bytes: not whole float32s (4 bytes each)", field=field
        )
    values = array("f", raw)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def _decoded(fields: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """An entity's fields with its vectors decoded (``vector_in``), errors naming them."""
    if fields.get("embedding") is not None:
        fields["embedding"] = vector_in(f"{prefix}embedding", fields["embedding"])
    if fields.get("embeddings"):
        fields["embeddings"] = {
            name: vector_in(f"{prefix}embeddings[{name!r}]", value)
            for name, value in fields["embeddings"].items()
        }
    return fields
