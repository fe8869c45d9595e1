"""The catalog over HTTP: versioned documents and JSON Schemas, the tenant's and the global ones.

Every tenant reads the global entries (``scope``); only the platform admin key writes them,
under ``/v1/catalog/global``. Another tenant's documents answer 404, as missing ones do.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api import pagination
from agentledger.api.auth import AdminTenant, PlatformAdmin, ReaderTenant, WriterTenant
from agentledger.api.pagination import Limit
from agentledger.api.schemas import Page
from agentledger.catalog import (
    CatalogDiff,
    CatalogDocument,
    CatalogSchema,
    CatalogVersion,
    CatalogVersionInfo,
)
from agentledger.errors import NotFound
from agentledger.web.auth import ledger_of

router = APIRouter(prefix="/v1/catalog", tags=["catalog"])
# Where a read looks; "scope" is the query parameter's name (scope() finds the tenant).
ReadScope = Annotated[
    Literal["any", "tenant", "global"],
    Query(
        alias="scope",
        description="any: the tenant's own document, else the global one of that name.",
    ),
]
Owner = Annotated[Literal["tenant", "global"], Query(alias="scope", description="Whose schema.")]


class VersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: Any = Field(
        description="Any JSON value but null; held to the type's registered schemas.",
        examples=[{"steps": [{"action": "notify", "params": {"channel": "ops"}}]}],
    )
    title: str | None = Field(default=None, max_length=500, examples=["Settlement fail"])
    description: str | None = Field(default=None, max_length=10_000)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_by: str | None = Field(default=None, max_length=200, examples=["ana"])
    expected_version: int | None = Field(
        default=None,
        ge=0,
        description="Write only if the document is at this version (0: only if it is new); "
        "409 otherwise.",
    )

    def options(self) -> dict[str, Any]:
        """The keyword arguments of ``create_version`` (all but the content)."""
        return self.model_dump(exclude={"content"})


class SchemaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    json_schema: dict[str, Any] = Field(
        description="A JSON Schema (2020-12 unless $schema names another draft); "
        "references must stay inside it (#...).",
        examples=[{"type": "object", "required": ["steps"]}],
    )
    created_by: str | None = Field(default=None, max_length=200)


def _missing(doc_type: str, name: str) -> NotFound:
    return NotFound(f"{doc_type} {name!r} does not exist", field="name")


@router.get(
    "/documents",
    response_model=Page[CatalogDocument],
    summary="Documents by type and name (the tenant's and the global ones)",
)
async def list_documents(
    tenant: ReaderTenant,
    scope_: ReadScope = "any",
    doc_type: str | None = None,
    name: str | None = None,
    descending: Annotated[
        bool,
        Query(description="Last (doc_type, name) first: weekly plans named by date, newest first."),
    ] = False,
    cursor: str | None = None,
    limit: Limit = 100,
) -> object:
    after_type = pagination.cursor_text(cursor, "doc_type")
    after_name = pagination.cursor_text(cursor, "name")
    items = await tenant.catalog.list_documents(
        doc_type,
        name=name,
        scope=scope_,
        after=None if after_type is None or after_name is None else (after_type, after_name),
        limit=limit,
        descending=descending,
    )
    return pagination.page(
        items, limit, lambda last: {"doc_type": last.doc_type, "name": last.name}
    )


@router.get(
    "/documents/{doc_type}/{name}",
    response_model=CatalogVersion,
    summary="A document's latest version",
)
async def get_latest(
    doc_type: str,
    name: str,
    tenant: ReaderTenant,
    scope_: ReadScope = "any",
) -> object:
    return await tenant.catalog.get_latest(doc_type, name, scope=scope_)


@router.delete(
    "/documents/{doc_type}/{name}",
    status_code=204,
    summary="Delete one of the tenant's documents with all its versions (admin)",
)
async def delete_document(doc_type: str, name: str, tenant: AdminTenant) -> None:
    if not await tenant.catalog.delete_document(doc_type, name):
        raise _missing(doc_type, name)


@router.get(
    "/documents/{doc_type}/{name}/versions",
    response_model=Page[CatalogVersionInfo],
    summary="A document's versions, newest first (without content)",
)
async def list_versions(
    doc_type: str,
    name: str,
    tenant: ReaderTenant,
    scope_: ReadScope = "any",
    cursor: str | None = None,
    limit: Limit = 100,
) -> object:
    before = pagination.cursor_int(cursor, "before")
    items = await tenant.catalog.list_versions(
        doc_type, name, scope=scope_, before=before, limit=limit
    )
    return pagination.page(items, limit, lambda last: {"before": last.version})


@router.post(
    "/documents/{doc_type}/{name}/versions",
    status_code=201,
    response_model=CatalogVersion,
    summary="Add the tenant document's next version",
    description="The same content, title, description and metadata as the latest version "
    "answer that version, unchanged.",
)
async def create_version(doc_type: str, name: str, body: VersionIn, tenant: WriterTenant) -> object:
    return await tenant.catalog.create_version(doc_type, name, body.content, **body.options())


@router.get(
    "/documents/{doc_type}/{name}/versions/{version}",
    response_model=CatalogVersion,
    summary="One version of a document",
)
async def get_version(
    doc_type: str,
    name: str,
    version: int,
    tenant: ReaderTenant,
    scope_: ReadScope = "any",
) -> object:
    return await tenant.catalog.get_version(doc_type, name, version, scope=scope_)


@router.get(
    "/documents/{doc_type}/{name}/diff",
    response_model=CatalogDiff,
    summary="What changed in the content between two versions (JSON Pointer paths)",
)
async def diff(
    doc_type: str,
    name: str,
    tenant: ReaderTenant,
    from_version: Annotated[int, Query(alias="from")],
    to_version: Annotated[int, Query(alias="to")],
    scope_: ReadScope = "any",
) -> object:
    return await tenant.catalog.diff(doc_type, name, from_version, to_version, scope=scope_)


@router.get(
    "/schemas",
    response_model=list[CatalogSchema],
    summary="The JSON Schemas in force (the global and the tenant's)",
)
async def list_schemas(
    tenant: ReaderTenant,
    scope_: ReadScope = "any",
) -> object:
    return await tenant.catalog.list_schemas(scope=scope_)


@router.get("/schemas/{doc_type}", response_model=CatalogSchema, summary="A type's schema")
async def get_schema(
    doc_type: str,
    tenant: ReaderTenant,
    scope_: Owner = "tenant",
) -> object:
    return await tenant.catalog.get_schema(doc_type, scope=scope_)


@router.put(
    "/schemas/{doc_type}",
    response_model=CatalogSchema,
    summary="Register or replace the tenant's schema for a type (admin)",
    description="It applies to the tenant's new versions on top of the global schema.",
)
async def register_schema(doc_type: str, body: SchemaIn, tenant: AdminTenant) -> object:
    return await tenant.catalog.register_schema(
        doc_type, body.json_schema, created_by=body.created_by
    )


@router.delete("/schemas/{doc_type}", status_code=204, summary="Remove the tenant's schema (admin)")
async def delete_schema(doc_type: str, tenant: AdminTenant) -> None:
    if not await tenant.catalog.delete_schema(doc_type):
        raise NotFound(f"no tenant schema is registered for {doc_type}", field="doc_type")


@router.post(
    "/global/documents/{doc_type}/{name}/versions",
    status_code=201,
    response_model=CatalogVersion,
    tags=["catalog (platform admin)"],
    summary="Add a global document's next version (platform admin key)",
)
async def create_global_version(
    doc_type: str, name: str, body: VersionIn, request: Request, _: PlatformAdmin
) -> object:
    return await ledger_of(request).platform_catalog.create_version(
        doc_type, name, body.content, **body.options()
    )


@router.delete(
    "/global/documents/{doc_type}/{name}",
    status_code=204,
    tags=["catalog (platform admin)"],
    summary="Delete a global document with all its versions (platform admin key)",
)
async def delete_global_document(
    doc_type: str, name: str, request: Request, _: PlatformAdmin
) -> None:
    if not await ledger_of(request).platform_catalog.delete_document(doc_type, name):
        raise _missing(doc_type, name)


@router.put(
    "/global/schemas/{doc_type}",
    response_model=CatalogSchema,
    tags=["catalog (platform admin)"],
    summary="Register or replace the global schema for a type (platform admin key)",
)
async def register_global_schema(
    doc_type: str, body: SchemaIn, request: Request, _: PlatformAdmin
) -> object:
    return await ledger_of(request).platform_catalog.register_schema(
        doc_type, body.json_schema, created_by=body.created_by
    )


@router.delete(
    "/global/schemas/{doc_type}",
    status_code=204,
    tags=["catalog (platform admin)"],
    summary="Remove the global schema for a type (platform admin key)",
)
async def delete_global_schema(doc_type: str, request: Request, _: PlatformAdmin) -> None:
    if not await ledger_of(request).platform_catalog.delete_schema(doc_type):
        raise NotFound(f"no global schema is registered for {doc_type}", field="doc_type")
