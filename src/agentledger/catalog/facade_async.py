"""The catalog of the bound tenant, and the global catalog of the platform: async façades."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from agentledger.catalog import ops
from agentledger.catalog.records import (
    CatalogDiff,
    CatalogDocument,
    CatalogSchema,
    CatalogVersion,
    CatalogVersionInfo,
)
from agentledger.db.binding import Binding
from agentledger.db.database_async import AsyncDatabase
from agentledger.db.facade_async import AsyncFacade
from agentledger.db.forward import forward_async
from agentledger.db.statements import Op

PLATFORM = Binding.platform()
T = TypeVar("T")


class AsyncCatalog(AsyncFacade):
    """Versioned documents of the bound tenant, and the global ones it reads: a lookup
    with ``scope="any"`` finds the tenant's own document first, so it shadows a global one
    of the same type and name. Writes go to the tenant's own documents."""

    create_version = forward_async(ops.create_version)
    get_latest = forward_async(ops.get_latest)
    get_version = forward_async(ops.get_version)
    list_versions = forward_async(ops.list_versions)
    list_documents = forward_async(ops.list_documents)
    diff = forward_async(ops.diff)
    delete_document = forward_async(ops.delete_document)
    register_schema = forward_async(ops.register_schema)
    get_schema = forward_async(ops.get_schema)
    list_schemas = forward_async(ops.list_schemas)
    delete_schema = forward_async(ops.delete_schema)


class AsyncPlatformCatalog:
    """The global catalog, through the platform scope: the documents and schemas every
    tenant reads, written only here. Each call runs in its own transaction."""

    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db

    async def _run(self, op: Op[T]) -> T:
        return await self._db.run(op, PLATFORM)

    async def create_version(
        self,
        doc_type: str,
        name: str,
        content: Any,
        *,
        title: str | None = None,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        created_by: str | None = None,
        expected_version: int | None = None,
        at: dt.datetime | None = None,
    ) -> CatalogVersion:
        """Add a global document's next version (see the tenant catalog's create_version)."""
        return await self._run(
            ops.create_version(
                doc_type,
                name,
                content,
                title=title,
                description=description,
                metadata=metadata,
                created_by=created_by,
                expected_version=expected_version,
                at=at,
                scope="global",
            )
        )

    # Reads take the tenant catalog's ``scope`` too: bound to the platform, no tenant's
    # documents are visible, so "any" finds what "global" finds.

    async def get_latest(
        self, doc_type: str, name: str, *, scope: str = "global"
    ) -> CatalogVersion:
        return await self._run(ops.get_latest(doc_type, name, scope=scope))

    async def get_version(
        self, doc_type: str, name: str, version: int | None = None, *, scope: str = "global"
    ) -> CatalogVersion:
        return await self._run(ops.get_version(doc_type, name, version, scope=scope))

    async def list_versions(
        self,
        doc_type: str,
        name: str,
        *,
        scope: str = "global",
        before: int | None = None,
        limit: int = 100,
    ) -> list[CatalogVersionInfo]:
        return await self._run(
            ops.list_versions(doc_type, name, scope=scope, before=before, limit=limit)
        )

    async def list_documents(
        self,
        doc_type: str | None = None,
        *,
        name: str | None = None,
        scope: str = "global",
        after: tuple[str, str] | None = None,
        limit: int = 100,
        descending: bool = False,
    ) -> list[CatalogDocument]:
        return await self._run(
            ops.list_documents(
                doc_type, name=name, scope=scope, after=after, limit=limit, descending=descending
            )
        )

    async def diff(
        self,
        doc_type: str,
        name: str,
        from_version: int,
        to_version: int,
        *,
        scope: str = "global",
    ) -> CatalogDiff:
        return await self._run(ops.diff(doc_type, name, from_version, to_version, scope=scope))

    async def delete_document(self, doc_type: str, name: str) -> bool:
        """Delete a global document and all its versions, for every tenant."""
        return await self._run(ops.delete_document(doc_type, name, scope="global"))

    async def register_schema(
        self, doc_type: str, schema: dict[str, Any], *, created_by: str | None = None
    ) -> CatalogSchema:
        """The schema every new version of ``doc_type`` must satisfy, global or a tenant's."""
        return await self._run(
            ops.register_schema(doc_type, schema, scope="global", created_by=created_by)
        )

    async def get_schema(self, doc_type: str) -> CatalogSchema:
        return await self._run(ops.get_schema(doc_type, scope="global"))

    async def list_schemas(self, *, scope: str = "global") -> list[CatalogSchema]:
        return await self._run(ops.list_schemas(scope=scope))

    async def delete_schema(self, doc_type: str) -> bool:
        return await self._run(ops.delete_schema(doc_type, scope="global"))
