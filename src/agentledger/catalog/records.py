"""Catalog records, and the rules for what a document's type and name may be."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# A type is a lower-case identifier (domain_pack, policy_pack, playbook, tool, weekly_plan,
# prompt_template, preferences...); a name is a key without spaces or slashes, so that it
# reads the same in a URL path (the title holds display text). The migration's CHECK
# constraints hold the same patterns.
DOC_TYPE = re.compile(r"[a-z][a-z0-9_]{0,62}")
DOC_TYPE_RULE = (
    "a type name: use a lower-case letter, then up to 62 lower-case letters, digits or '_'"
)
DOC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,199}")
DOC_NAME_RULE = (
    "a document name: use a letter or digit, then up to 199 letters, digits, "
    "'_', '.', ':', '@', '+' or '-'"
)
# Where a read looks: "any" (the tenant's own document, else the global one of that name),
# only the tenant's, or only the global ones; where a write goes.
READ_SCOPES = ("any", "tenant", "global")
WRITE_SCOPES = ("tenant", "global")
# The largest content of one version, as UTF-8 JSON (over HTTP the server's body limit
# applies first), and the largest schema.
MAX_CONTENT_BYTES = 4 * 1024 * 1024
MAX_SCHEMA_BYTES = 256 * 1024
MAX_VERSION = 2**31 - 1


@dataclass(frozen=True, kw_only=True, slots=True)
class CatalogDocument:
    """A document at a glance: its latest version's number, title and time
    (``updated_at``); ``created_at`` is its first version's."""

    doc_type: str
    name: str
    is_global: bool
    latest_version: int
    title: str | None
    description: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class CatalogVersionInfo:
    """One version of a document, without its content. ``content_hash`` is the hex sha256
    of the content as stored (jsonb's text form)."""

    doc_type: str
    name: str
    version: int
    is_global: bool
    title: str | None
    description: str | None
    metadata: dict[str, Any]
    content_hash: str
    created_at: datetime
    created_by: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class CatalogVersion(CatalogVersionInfo):
    """One version of a document with its content (any JSON value)."""

    content: Any


@dataclass(frozen=True, kw_only=True, slots=True)
class CatalogSchema:
    """The JSON Schema new versions of a type must satisfy, the tenant's or the global one;
    ``version`` counts its registrations."""

    doc_type: str
    is_global: bool
    json_schema: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class DiffEntry:
    """One difference at a JSON Pointer ``path`` ("" is the whole content): ``old`` for a
    removed or changed value, ``new`` for an added or changed one."""

    path: str
    old: Any = None
    new: Any = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CatalogDiff:
    """What changed in a document's content from one version to another."""

    doc_type: str
    name: str
    is_global: bool
    from_version: int
    to_version: int
    added: list[DiffEntry] = field(default_factory=list)
    removed: list[DiffEntry] = field(default_factory=list)
    changed: list[DiffEntry] = field(default_factory=list)
