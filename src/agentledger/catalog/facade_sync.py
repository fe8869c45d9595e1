# Generated from src/agentledger/catalog/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
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
from agentledger.db.database_sync import Database
from agentledger.db.facade_sync import Facade
from agentledger.db.forward import forward_sync
from agentledger.db.statements import Op

PLATFORM = Binding.platform()
T = TypeVar("T")


class Catalog(Facade):
    """Versioned documents of the bound tenant, and the global ones it reads: a lookup
    with ``scope="any"`` finds the tenant's own document first, so it shadows a global one
    of the same type and name. Writes go to the tenant's own documents."""

    create_version = forward_sync(ops.create_version)
    get_latest = forward_sync(ops.get_latest)
    get_version = forward_sync(ops.get_version)
    list_versions = forward_sync(ops.list_versions)
    list_documents = forward_sync(ops.list_documents)
    diff = forward_sync(ops.diff)
    delete_document = forward_sync(ops.delete_document)
    register_schema = forward_sync(ops.register_schema)
    get_schema = forward_sync(ops.get_schema)
    list_schemas = forward_sync(ops.list_schemas)
    delete_schema = forward_sync(ops.delete_schema)


class PlatformCatalog:
    """The global catalog, through the platform scope: the documents and schemas every
    tenant reads, written only here. Each call runs in its own transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _run(self, op: Op[T]) -> T:
        return self._db.run(op, PLATFORM)

    def create_version(
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
        return self._run(
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

    def get_latest(self, doc_type: str, name: str, *, scope: str = "global") -> CatalogVersion:
        return self._run(ops.get_latest(doc_type, name, scope=scope))

    def get_version(
        self, doc_type: str, name: str, version: int | None = None, *, scope: str = "global"
    ) -> CatalogVersion:
        return self._run(ops.get_version(doc_type, name, version, scope=scope))

    def list_versions(
        self,
        doc_type: str,
        name: str,
        *,
        scope: str = "global",
        before: int | None = None,
        limit: int = 100,
    ) -> list[CatalogVersionInfo]:
        return self._run(ops.list_versions(doc_type, name, scope=scope, before=before, limit=limit))

    def list_documents(
        self,
        doc_type: str | None = None,
        *,
        name: str | None = None,
        scope: str = "global",
        after: tuple[str, str] | None = None,
        limit: int = 100,
        descending: bool = False,
    ) -> list[CatalogDocument]:
        return self._run(
            ops.list_documents(
                doc_type, name=name, scope=scope, after=after, limit=limit, descending=descending
            )
        )

    def diff(
        self,
        doc_type: str,
        name: str,
        from_version: int,
        to_version: int,
        *,
        scope: str = "global",
    ) -> CatalogDiff:
        return self._run(ops.diff(doc_type, name, from_version, to_version, scope=scope))

    def delete_document(self, doc_type: str, name: str) -> bool:
        """Delete a global document and all its versions, for every tenant."""
        return self._run(ops.delete_document(doc_type, name, scope="global"))

    def register_schema(
        self, doc_type: str, schema: dict[str, Any], *, created_by: str | None = None
    ) -> CatalogSchema:
        """The schema every new version of ``doc_type`` must satisfy, global or a tenant's."""
        return self._run(
            ops.register_schema(doc_type, schema, scope="global", created_by=created_by)
        )

    def get_schema(self, doc_type: str) -> CatalogSchema:
        return self._run(ops.get_schema(doc_type, scope="global"))

    def list_schemas(self, *, scope: str = "global") -> list[CatalogSchema]:
        return self._run(ops.list_schemas(scope=scope))

    def delete_schema(self, doc_type: str) -> bool:
        return self._run(ops.delete_schema(doc_type, scope="global"))
