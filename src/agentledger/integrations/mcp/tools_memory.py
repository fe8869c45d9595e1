"""The memory tools: merge-upsert an entity, find it by name, search, relate, neighbours."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from agentledger.errors import InvalidInput
from agentledger.integrations.mcp.auth import Access
from agentledger.integrations.mcp.shapes import (
    EntityResult,
    Hits,
    JsonObject,
    Kinds,
    Neighbours,
    RelationshipResult,
    Scope,
    User,
)
from agentledger.integrations.mcp.toolkit import READ, WRITE, WRITE_AGAIN, tool
from agentledger.memory import Filter
from agentledger.memory.search import MIN_SUBSTRING

Kind = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="What the entity is: person, company, deal, project, fact, preference...",
        examples=["person"],
    ),
]
Limit = Annotated[int, Field(ge=1, le=100, description="At most this many results.")]


def register(server: MCPServer, access: Access) -> None:
    @tool(server, WRITE)
    async def memory_upsert(
        kind: Kind,
        name: Annotated[
            str | None,
            Field(
                min_length=1,
                description="Display name. May be omitted with key to keep the stored name "
                "(a new entity needs one).",
                examples=["Ada Lovelace"],
            ),
        ] = None,
        key: Annotated[
            str | None,
            Field(
                description="Natural key in the source system: upserting the same source + key "
                "again updates that entity instead of creating a duplicate.",
                examples=["hubspot-4411"],
            ),
        ] = None,
        source: Annotated[
            str, Field(description="The system the key comes from.", examples=["hubspot"])
        ] = "",
        by_name: Annotated[
            bool,
            Field(
                description="Deduplicate by kind + name (ignoring case, spacing and Unicode "
                "forms) instead of a key."
            ),
        ] = False,
        summary: Annotated[
            str | None,
            Field(
                description="What to remember about it, in a sentence or two.",
                examples=["Mathematician; prefers email; met at the 2024 summit"],
            ),
        ] = None,
        attrs: Annotated[
            dict[str, object] | None,
            Field(
                description="Structured facts; merged key by key into the stored ones (a null "
                "never overwrites).",
                examples=[{"company": "Analytical Engines Ltd", "city": "London"}],
            ),
        ] = None,
        tags: Annotated[
            list[str] | None,
            Field(description="Labels, added to the stored ones.", examples=[["vip"]]),
        ] = None,
        relevance: Annotated[
            float | None, Field(ge=0, le=1, description="How much it matters, 0 to 1.")
        ] = None,
        user: User = None,
        shared: Annotated[
            bool, Field(description="With user: let the tenant's other users see it.")
        ] = False,
        merge: Annotated[
            Literal["shallow", "deep"],
            Field(description="deep: nested objects in attrs merge key by key too."),
        ] = "shallow",
    ) -> EntityResult:
        """Remember something: create a memory entity, or update the one it already is.

        With key (and source) or by_name=true the write merges into the existing entity with
        that natural key: attrs merge key by key, tags are added, summary and relevance change
        only when given. Without either, a new entity is created every time, so prefer a key
        or by_name for things you may write again. Returns the entity with its id.
        """
        scope = await access.scope("writer")
        entity = await scope.memory.upsert(
            kind,
            name,
            key=key,
            source=source,
            by_name=by_name,
            summary=summary,
            attrs=attrs,
            tags=tags,
            relevance=relevance,
            user=user,
            shared=shared,
            merge=merge,
        )
        return EntityResult(entity=entity)

    @tool(server, READ)
    async def memory_find_by_name(
        name: Annotated[
            str,
            Field(min_length=1, description="The name, possibly misspelt.", examples=["Jon Smth"]),
        ],
        threshold: Annotated[
            float,
            Field(ge=0, le=1, description="Lowest name similarity to return (0 to 1)."),
        ] = 0.3,
        kind: Kinds = None,
        user: User = None,
        scope: Scope = "shared",
        limit: Limit = 10,
    ) -> Hits:
        """Find memory entities by approximate name: "Jon Smth" finds "John Smith". Most
        similar first; each hit's score is its name similarity (0 to 1)."""
        where = Filter(kind=kind, user=user, scope=scope)
        memory = (await access.scope("reader")).memory
        hits = await memory.find_by_name(name, threshold=threshold, filter=where, limit=limit)
        return Hits(hits=hits)

    @tool(server, READ)
    async def memory_search(
        query: Annotated[
            str,
            Field(
                min_length=1,
                description="Words to look for; in text mode web-search syntax works: "
                '"a phrase", OR, -excluded.',
                examples=["renewal risk acme"],
            ),
        ],
        mode: Annotated[
            Literal["hybrid", "text", "substring"],
            Field(
                description="hybrid: full text and fuzzy names together (best default); "
                "text: full text over names, summaries and attribute values; substring: "
                "names or summaries containing the query literally (3+ characters)."
            ),
        ] = "hybrid",
        kind: Kinds = None,
        tags: Annotated[
            list[str] | None,
            Field(description="Only entities carrying all these tags.", examples=[["vip"]]),
        ] = None,
        user: User = None,
        scope: Scope = "shared",
        limit: Limit = 10,
    ) -> Hits:
        """Search memory for entities about something: best match first, with highlights
        where the text matched."""
        where = Filter(kind=kind, tags=tags, user=user, scope=scope)
        memory = (await access.scope("reader")).memory
        if mode == "text":
            hits = await memory.search_text(query, filter=where, limit=limit)
        elif mode == "substring":
            if len(query.strip()) < MIN_SUBSTRING:
                raise InvalidInput(
                    f"substring mode needs {MIN_SUBSTRING} or more characters", field="query"
                )
            hits = await memory.find_by_substring(query, filter=where, limit=limit)
        else:
            hits = await memory.search(query, filter=where, limit=limit)
        return Hits(hits=hits)

    @tool(server, WRITE_AGAIN)
    async def memory_relate(
        from_id: Annotated[UUID, Field(description="The entity the edge starts at.")],
        to_id: Annotated[UUID, Field(description="The entity the edge points to.")],
        type: Annotated[
            str,
            Field(
                min_length=1,
                max_length=100,
                description="What the link means, read from -> to: works_at, led_to, "
                "relates_to, depends_on, produces, belongs_to, or your own word.",
                examples=["works_at"],
            ),
        ],
        weight: Annotated[float, Field(ge=0, description="Strength of the link.")] = 1.0,
        attrs: JsonObject = None,
    ) -> RelationshipResult:
        """Link two memory entities with a directed, typed, weighted edge. Relating the same
        pair with the same type again updates the weight and merges attrs."""
        memory = (await access.scope("writer")).memory
        edge = await memory.relate(from_id, to_id, type, weight=weight, attrs=attrs)
        return RelationshipResult(relationship=edge)

    @tool(server, READ)
    async def memory_neighbours(
        id: Annotated[UUID, Field(description="The entity to look around.")],
        direction: Annotated[
            Literal["both", "out", "in"],
            Field(description="out: edges it starts; in: edges pointing to it; both."),
        ] = "both",
        types: Annotated[
            list[str] | None,
            Field(description="Only edges of these types.", examples=[["works_at"]]),
        ] = None,
        user: User = None,
        scope: Scope = "shared",
        limit: Limit = 25,
    ) -> Neighbours:
        """The entities one edge away from an entity, with the edges that join them."""
        memory = (await access.scope("reader")).memory
        found = await memory.neighbours(
            id, direction=direction, types=types, user=user, scope=scope, limit=limit
        )
        return Neighbours(neighbours=found)
