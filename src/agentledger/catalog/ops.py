"""Catalog operations (I/O-free): versions of documents, lookups, diffs, schemas.

Reads take a ``scope``: ``"any"`` (the default) finds the tenant's own document and, when
it has none of that type and name, the global one: a tenant's document shadows a global
document of the same type and name. ``"tenant"`` and ``"global"`` look in one place only.
Writes take ``scope="tenant"`` (the default) or ``"global"``, which only a transaction
bound to the platform may write (PermissionDenied otherwise, nothing written).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from agentledger import validation as v
from agentledger.catalog import schemas
from agentledger.catalog.diffing import diff_json
from agentledger.catalog.records import (
    DOC_NAME,
    DOC_NAME_RULE,
    DOC_TYPE,
    DOC_TYPE_RULE,
    MAX_VERSION,
    READ_SCOPES,
    WRITE_SCOPES,
    CatalogDiff,
    CatalogDocument,
    CatalogSchema,
    CatalogVersion,
    CatalogVersionInfo,
)
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import InvalidInput, NotFound, VersionConflict
from agentledger.records import from_row

Q = Queries.beside(__file__)
MAX_PAGE = 1000


def doc_type_of(value: object, field: str = "doc_type") -> str:
    return v.matching(field, value, DOC_TYPE, max_len=63, what=DOC_TYPE_RULE)


def name_of(value: object, field: str = "name") -> str:
    return v.matching(field, value, DOC_NAME, max_len=200, what=DOC_NAME_RULE)


def version_of(value: object, field: str = "version") -> int:
    return v.integer(field, value, low=1, high=MAX_VERSION)


def read_scope(scope: object) -> str:
    return v.choice("scope", scope, READ_SCOPES)


def write_scope(scope: object) -> str:
    return v.choice("scope", scope, WRITE_SCOPES)


def _what(doc_type: str, name: str, scope: str) -> str:
    where = {"any": "", "tenant": "tenant ", "global": "global "}[scope]
    return f"{where}{doc_type} {name!r}"


@operation(idempotent=True)
def create_version(
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
    scope: str = "tenant",
) -> Gen[CatalogVersion]:
    """Add the document's next version (1 for a new document), numbered in the database:
    concurrent writers get consecutive numbers, none twice, none skipped.

    ``content`` is any JSON value but null; it must satisfy the type's registered schemas
    (the global one, and for a tenant document the tenant's own too), else InvalidInput
    names the path in the content and the rule it breaks, and nothing is written.
    ``expected_version`` makes the write conditional: the document must be at that version
    (0: must not exist yet), else VersionConflict. When the latest version already holds
    the same content, title, description and metadata, it is returned as it is and no
    version is added (so a retried write is harmless), whatever ``expected_version`` says.
    ``at`` back-dates the version's ``created_at`` (imported history; not in the future);
    numbers still follow the order of writing. ``scope="global"`` writes a global document
    (the platform scope only: PermissionDenied otherwise).
    """
    kind, key, owner = doc_type_of(doc_type), name_of(name), write_scope(scope)
    text = schemas.content_json(content)
    expected = None
    if expected_version is not None:
        expected = v.integer("expected_version", expected_version, low=0, high=MAX_VERSION)
    values = {
        "doc_type": kind,
        "name": key,
        "content": text,
        "title": v.optional_text("title", title, max_len=500),
        "description": v.optional_text("description", description, max_len=10_000),
        "metadata": json.dumps(v.json_object("metadata", metadata, max_bytes=65_536)),
    }
    by = v.optional_text("created_by", created_by, max_len=200)
    when = v.aware_datetime("at", at, not_future=True)
    is_global = owner == "global"
    if is_global:
        yield Q.require_platform.none()
    # The schemas are held (a shared lock register_schema waits for) before they are read,
    # so the version is checked against the schemas in force when it commits.
    yield Q.hold_schemas.none(doc_type=kind, tenant_too=not is_global)
    found = yield Q.schemas_for.all(doc_type=kind, tenant_too=not is_global)
    if found:
        value = json.loads(text)  # the content as stored, whatever Python type it came in
        for row in found:
            schemas.validate(value, row["json_schema"], doc_type=kind, is_global=row["is_global"])
    write = Q.add_global_version if is_global else Q.add_version
    row = yield write.one(**values, expected=expected, at=when, created_by=by)
    if row is not None:
        return from_row(CatalogVersion, row)
    latest = yield Q.compare_latest.one(**values, is_global=is_global)
    if latest is not None and latest["same"]:
        return from_row(CatalogVersion, latest)
    actual = 0 if latest is None else int(latest["version"])
    state = "does not exist" if latest is None else f"is at version {actual}"
    raise VersionConflict(
        f"{_what(kind, key, owner)} {state}, not at the expected version {expected}",
        field="expected_version",
        expected=expected,
        actual=actual,
    )


@operation(writes=False)
def get_version(
    doc_type: str, name: str, version: int | None = None, *, scope: str = "any"
) -> Gen[CatalogVersion]:
    """A version of a document with its content; the latest when ``version`` is None.
    NotFound names ``name`` when no such document is visible, ``version`` when it lacks
    that version."""
    kind, key, where = doc_type_of(doc_type), name_of(name), read_scope(scope)
    number = None if version is None else version_of(version)
    row = yield Q.get_version.one(doc_type=kind, name=key, version=number, scope=where)
    if row is None:
        raise NotFound(f"{_what(kind, key, where)} does not exist", field="name")
    if row["version"] is None:
        owner = "global" if row["document_global"] else "tenant"
        raise NotFound(
            f"{_what(kind, key, owner)} has no version {number} "
            f"(its latest is {row['document_latest']})",
            field="version",
        )
    return from_row(CatalogVersion, row)


@operation(writes=False)
def get_latest(doc_type: str, name: str, *, scope: str = "any") -> Gen[CatalogVersion]:
    """The latest version of a document, with its content (NotFound naming ``name``)."""
    return (yield from get_version(doc_type, name, scope=scope).start())


@operation(writes=False)
def list_versions(
    doc_type: str,
    name: str,
    *,
    scope: str = "any",
    before: int | None = None,
    limit: int = 100,
) -> Gen[list[CatalogVersionInfo]]:
    """A document's versions without content, newest first; ``before`` is the last
    version number of the previous page. NotFound when no such document is visible."""
    kind, key, where = doc_type_of(doc_type), name_of(name), read_scope(scope)
    rows = yield Q.list_versions.all(
        doc_type=kind,
        name=key,
        scope=where,
        before=None if before is None else version_of(before, "before"),
        limit=v.integer("limit", limit, low=1, high=MAX_PAGE),
    )
    if not rows:
        exists = yield Q.document_exists.scalar(doc_type=kind, name=key, scope=where)
        if not exists:
            raise NotFound(f"{_what(kind, key, where)} does not exist", field="name")
    return [from_row(CatalogVersionInfo, row) for row in rows]


@operation(writes=False)
def list_documents(
    doc_type: str | None = None,
    *,
    name: str | None = None,
    scope: str = "any",
    after: tuple[str, str] | None = None,
    limit: int = 100,
    descending: bool = False,
) -> Gen[list[CatalogDocument]]:
    """Documents by (doc_type, name), or with ``descending`` the other way round (weekly
    plans named by date, newest first), optionally of one type or one name; ``after`` is
    the (doc_type, name) of the last document of the previous page. With ``scope="any"``
    a global document the tenant shadows is left out (its own takes its place)."""
    after_type = after_name = None
    if after is not None:
        if not isinstance(after, tuple | list) or len(after) != 2:
            raise InvalidInput("after must be a (doc_type, name) pair", field="after")
        after_type, after_name = doc_type_of(after[0], "after"), name_of(after[1], "after")
    listing = Q.list_documents_desc if descending else Q.list_documents
    rows = yield listing.all(
        doc_type=None if doc_type is None else doc_type_of(doc_type),
        name=None if name is None else name_of(name),
        scope=read_scope(scope),
        after_type=after_type,
        after_name=after_name,
        limit=v.integer("limit", limit, low=1, high=MAX_PAGE),
    )
    return [from_row(CatalogDocument, row) for row in rows]


@operation(writes=False)
def diff(
    doc_type: str, name: str, from_version: int, to_version: int, *, scope: str = "any"
) -> Gen[CatalogDiff]:
    """What changed in the content from ``from_version`` to ``to_version`` (either way
    round): added, removed and changed JSON Pointer paths, with the values."""
    start = version_of(from_version, "from_version")
    end = version_of(to_version, "to_version")
    old = yield from _version(doc_type, name, start, scope, "from_version")
    new = yield from _version(doc_type, name, end, scope, "to_version")
    added, removed, changed = diff_json(old.content, new.content)
    return CatalogDiff(
        doc_type=old.doc_type,
        name=old.name,
        is_global=old.is_global,
        from_version=start,
        to_version=end,
        added=added,
        removed=removed,
        changed=changed,
    )


def _version(doc_type: str, name: str, number: int, scope: str, field: str) -> Gen[CatalogVersion]:
    try:
        found = yield from get_version(doc_type, name, number, scope=scope).start()
    except NotFound as exc:
        if exc.field == "version":
            exc.field = field
        raise
    return found


@operation(idempotent=True)
def delete_document(doc_type: str, name: str, *, scope: str = "tenant") -> Gen[bool]:
    """Delete a document and every one of its versions; False when there was none. A new
    version of the same type and name starts again at 1. With ``scope="global"`` (the
    platform scope only) the global document goes, for every tenant."""
    kind, key, owner = doc_type_of(doc_type), name_of(name), write_scope(scope)
    if owner == "global":
        yield Q.require_platform.none()
        gone = yield Q.delete_global_document.scalar(doc_type=kind, name=key)
    else:
        gone = yield Q.delete_document.scalar(doc_type=kind, name=key)
    return gone is not None


@operation(idempotent=True)
def register_schema(
    doc_type: str,
    schema: dict[str, Any],
    *,
    scope: str = "tenant",
    created_by: str | None = None,
) -> Gen[CatalogSchema]:
    """Register the JSON Schema new versions of ``doc_type`` must satisfy, replacing the
    one registered before (versions already stored are not checked again). The schema is
    checked first (schemas.check_schema: its metaschema, references that lead nowhere or
    loop, patterns that cannot be compiled): InvalidInput names the path in it.
    A tenant's schema applies to its own documents on top of the global one, never instead
    of it; ``scope="global"`` registers the global one (the platform scope only)."""
    kind, owner = doc_type_of(doc_type), write_scope(scope)
    _, text = schemas.check_schema(schema)
    by = v.optional_text("created_by", created_by, max_len=200)
    if owner == "global":
        yield Q.require_platform.none()
        row = yield Q.put_global_schema.one(doc_type=kind, json_schema=text, created_by=by)
    else:
        row = yield Q.put_schema.one(doc_type=kind, json_schema=text, created_by=by)
    return from_row(CatalogSchema, row)


@operation(writes=False)
def get_schema(doc_type: str, *, scope: str = "tenant") -> Gen[CatalogSchema]:
    """The tenant's (or with ``scope="global"`` the global) schema for a type; NotFound
    naming ``doc_type`` when none is registered."""
    kind, owner = doc_type_of(doc_type), write_scope(scope)
    row = yield Q.get_schema.one(doc_type=kind, is_global=owner == "global")
    if row is None:
        raise NotFound(f"no {owner} schema is registered for {kind}", field="doc_type")
    return from_row(CatalogSchema, row)


@operation(writes=False)
def list_schemas(*, scope: str = "any") -> Gen[list[CatalogSchema]]:
    """The schemas in force, by type (the global one before the tenant's)."""
    rows = yield Q.list_schemas.all(scope=read_scope(scope))
    return [from_row(CatalogSchema, row) for row in rows]


@operation(idempotent=True)
def delete_schema(doc_type: str, *, scope: str = "tenant") -> Gen[bool]:
    """Remove the tenant's (or the global) schema for a type; False when there was none."""
    kind, owner = doc_type_of(doc_type), write_scope(scope)
    if owner == "global":
        yield Q.require_platform.none()
        gone = yield Q.delete_global_schema.scalar(doc_type=kind)
    else:
        gone = yield Q.delete_schema.scalar(doc_type=kind)
    return gone is not None
