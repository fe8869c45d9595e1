"""The catalog: versioned JSON documents (packs, playbooks, tools, plans, templates), per
tenant and global, each type optionally held to a JSON Schema."""

from agentledger.catalog.records import (
    MAX_CONTENT_BYTES,
    READ_SCOPES,
    WRITE_SCOPES,
    CatalogDiff,
    CatalogDocument,
    CatalogSchema,
    CatalogVersion,
    CatalogVersionInfo,
    DiffEntry,
)

__all__ = [
    "MAX_CONTENT_BYTES",
    "READ_SCOPES",
    "WRITE_SCOPES",
    "CatalogDiff",
    "CatalogDocument",
    "CatalogSchema",
    "CatalogVersion",
    "CatalogVersionInfo",
    "DiffEntry",
]
