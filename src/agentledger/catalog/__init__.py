"""The catalog: versioned JSON documents (packs, playbooks, tools, plans, templates), per
tenant and global, each type optionally held to a JSON Schema."""

from agentledger.catalog.records import (
    MAX_CONTENT_BYTES as MAX_CONTENT_BYTES,
    READ_SCOPES as READ_SCOPES,
    WRITE_SCOPES as WRITE_SCOPES,
    CatalogDiff as CatalogDiff,
    CatalogDocument as CatalogDocument,
    CatalogSchema as CatalogSchema,
    CatalogVersion as CatalogVersion,
    CatalogVersionInfo as CatalogVersionInfo,
    DiffEntry as DiffEntry,
)
