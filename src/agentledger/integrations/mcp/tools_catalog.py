"""The catalog tools: read a versioned document (its latest version or a given one), list
documents, and add a document's next version."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from agentledger.errors import InvalidInput
from agentledger.integrations.mcp.auth import Access
from agentledger.integrations.mcp.shapes import CatalogDocuments, CatalogVersionResult, JsonObject
from agentledger.integrations.mcp.toolkit import READ, WRITE_AGAIN, tool

DocType = Annotated[
    str,
    Field(
        min_length=1,
        max_length=63,
        description="The document's type, a lower-case identifier.",
        examples=["playbook"],
    ),
]
Name = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="The document's name within its type (no spaces or slashes).",
        examples=["settlement-fail"],
    ),
]
ReadScope = Annotated[
    Literal["any", "tenant", "global"],
    Field(
        description="any: the tenant's own document, else the platform's global one of that "
        "name; tenant: the tenant's own only; global: the platform's only."
    ),
]


def _after(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    doc_type, _, name = value.partition("/")
    if not doc_type or not name:
        raise InvalidInput("after must be a document's 'doc_type/name'", field="after")
    return doc_type, name


def register(server: MCPServer, access: Access) -> None:
    @tool(server, READ)
    async def catalog_get(
        doc_type: DocType,
        name: Name,
        version: Annotated[
            int | None, Field(ge=1, description="This version; omit for the latest.")
        ] = None,
        scope: ReadScope = "any",
    ) -> CatalogVersionResult:
        """A catalog document (a playbook, a policy or domain pack, a tool definition, a
        plan, preferences...) with its content: the latest version, or the one asked for."""
        catalog = (await access.scope("reader")).catalog
        found = await catalog.get_version(doc_type, name, version, scope=scope)
        return CatalogVersionResult(document=found)

    @tool(server, READ)
    async def catalog_list(
        doc_type: Annotated[str | None, Field(description="Only documents of this type.")] = None,
        scope: ReadScope = "any",
        after: Annotated[
            str | None,
            Field(
                description="The previous page's next_after ('doc_type/name').",
                examples=["playbook/settlement-fail"],
            ),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="At most this many.")] = 50,
    ) -> CatalogDocuments:
        """List catalog documents (without their content), by type then name."""
        catalog = (await access.scope("reader")).catalog
        found = await catalog.list_documents(
            doc_type, scope=scope, after=_after(after), limit=limit
        )
        last = found[-1] if len(found) == limit else None
        return CatalogDocuments(
            documents=found, next_after=f"{last.doc_type}/{last.name}" if last else None
        )

    @tool(server, WRITE_AGAIN)
    async def catalog_create_version(
        doc_type: DocType,
        name: Name,
        content: Annotated[
            object,
            Field(
                description="The document's content, any JSON but null (held to its type's "
                "schema when the type has one).",
                examples=[{"steps": [{"order": 1, "name": "Notify desk"}]}],
            ),
        ],
        title: Annotated[str | None, Field(max_length=500, description="Display title.")] = None,
        description: Annotated[str | None, Field(description="What it is for.")] = None,
        metadata: JsonObject = None,
        created_by: Annotated[
            str | None, Field(max_length=200, description="Who wrote this version.")
        ] = None,
        expected_version: Annotated[
            int | None,
            Field(
                ge=0,
                description="The latest version you saw (0: the document must be new); if "
                "another was written since, nothing is written and a version-conflict error "
                "says so.",
            ),
        ] = None,
    ) -> CatalogVersionResult:
        """Write the next version of one of the tenant's own catalog documents (the first
        is version 1). The same content as the latest version adds no version and returns
        that one, so a retry is safe."""
        catalog = (await access.scope("writer")).catalog
        written = await catalog.create_version(
            doc_type,
            name,
            content,
            title=title,
            description=description,
            metadata=metadata,
            created_by=created_by,
            expected_version=expected_version,
        )
        return CatalogVersionResult(document=written)
