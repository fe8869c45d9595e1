-- name: require_platform
-- Refuse a global write unless the transaction is bound to the platform.
SELECT agentledger.catalog_require_platform()

-- fragment: version_input
-- A new version's content and its fingerprint (of content, title, description, metadata).
    SELECT %(content)s::jsonb AS content,
           agentledger.catalog_hash(jsonb_build_array(%(content)s::jsonb, %(title)s::text,
               %(description)s::text, %(metadata)s::jsonb)) AS fingerprint

-- fragment: head_moves_on
-- A document head that exists moves on by one version, unless a version was expected or
-- the latest holds the same fingerprint.
    SET latest_version = d.latest_version + 1, latest_fingerprint = excluded.latest_fingerprint
    WHERE %(expected)s::integer IS NULL AND d.latest_fingerprint <> excluded.latest_fingerprint
    RETURNING d.latest_version

-- name: add_version
-- The bound tenant's next version of a document, numbered under its head row's lock: the
-- head is inserted (version 1) or moved on by one, unless the latest version already holds
-- the same fingerprint or the head is not at the expected version (then nothing). With an
-- expected version of 0 the document must be new; from 1 up it must be at that version.
WITH input AS (
    -- include: version_input
), head AS (
    INSERT INTO agentledger.catalog_documents AS d
        (tenant_id, doc_type, name, latest_version, latest_fingerprint, created_at)
    SELECT agentledger.current_tenant(), %(doc_type)s, %(name)s, 1, i.fingerprint,
           coalesce(%(at)s::timestamptz, now())
    FROM input i
    WHERE coalesce(%(expected)s::integer, 0) = 0
    ON CONFLICT (tenant_id, doc_type, name) DO UPDATE
    -- include: head_moves_on
), bumped AS (
    UPDATE agentledger.catalog_documents d
    SET latest_version = d.latest_version + 1, latest_fingerprint = i.fingerprint
    FROM input i
    WHERE d.tenant_id = agentledger.current_tenant() AND d.doc_type = %(doc_type)s
      AND d.name = %(name)s AND d.latest_version = %(expected)s::integer
      AND d.latest_fingerprint <> i.fingerprint
    RETURNING d.latest_version
)
INSERT INTO agentledger.catalog_versions AS v
    (tenant_id, doc_type, name, version, content, title, description, metadata,
     content_hash, created_at, created_by)
SELECT agentledger.current_tenant(), %(doc_type)s, %(name)s, n.latest_version, i.content,
       %(title)s, %(description)s, %(metadata)s::jsonb,
       encode(agentledger.catalog_hash(i.content), 'hex'),
       coalesce(%(at)s::timestamptz, now()), %(created_by)s
FROM input i, (SELECT latest_version FROM head UNION ALL SELECT latest_version FROM bumped) n
RETURNING v.*, false AS is_global

-- name: add_global_version
-- The same as add_version for a global document (the platform scope only).
WITH input AS (
    -- include: version_input
), head AS (
    INSERT INTO agentledger.catalog_global_documents AS d
        (doc_type, name, latest_version, latest_fingerprint, created_at)
    SELECT %(doc_type)s, %(name)s, 1, i.fingerprint, coalesce(%(at)s::timestamptz, now())
    FROM input i
    WHERE coalesce(%(expected)s::integer, 0) = 0
    ON CONFLICT (doc_type, name) DO UPDATE
    -- include: head_moves_on
), bumped AS (
    UPDATE agentledger.catalog_global_documents d
    SET latest_version = d.latest_version + 1, latest_fingerprint = i.fingerprint
    FROM input i
    WHERE d.doc_type = %(doc_type)s AND d.name = %(name)s
      AND d.latest_version = %(expected)s::integer AND d.latest_fingerprint <> i.fingerprint
    RETURNING d.latest_version
)
INSERT INTO agentledger.catalog_global_versions AS v
    (doc_type, name, version, content, title, description, metadata, content_hash,
     created_at, created_by)
SELECT %(doc_type)s, %(name)s, n.latest_version, i.content, %(title)s, %(description)s,
       %(metadata)s::jsonb, encode(agentledger.catalog_hash(i.content), 'hex'),
       coalesce(%(at)s::timestamptz, now()), %(created_by)s
FROM input i, (SELECT latest_version FROM head UNION ALL SELECT latest_version FROM bumped) n
RETURNING v.*, true AS is_global

-- name: compare_latest
-- The latest version of a tenant or global document, and whether it already holds this
-- content, title, description and metadata (after add_version wrote nothing).
SELECT v.*, d.latest_fingerprint = agentledger.catalog_hash(jsonb_build_array(
           %(content)s::jsonb, %(title)s::text, %(description)s::text, %(metadata)s::jsonb))
       AS same
FROM agentledger.catalog_visible_documents d
JOIN agentledger.catalog_visible_versions v
    ON v.is_global = d.is_global AND v.doc_type = d.doc_type AND v.name = d.name
   AND v.version = d.latest_version
WHERE d.is_global = %(is_global)s AND d.doc_type = %(doc_type)s AND d.name = %(name)s

-- name: get_version
-- A version of the document the scope resolves to (with 'any', the tenant's own shadows a
-- global one of the same name), the latest when version is NULL; document_latest says
-- whether the document was found when the version was not.
SELECT d.latest_version AS document_latest, d.is_global AS document_global, v.*
FROM (
    SELECT x.is_global, x.latest_version FROM agentledger.catalog_visible_documents x
    WHERE x.doc_type = %(doc_type)s AND x.name = %(name)s
      AND (%(scope)s::text = 'any' OR x.is_global = (%(scope)s::text = 'global'))
    ORDER BY x.is_global
    LIMIT 1
) d
LEFT JOIN agentledger.catalog_visible_versions v
    ON v.is_global = d.is_global AND v.doc_type = %(doc_type)s AND v.name = %(name)s
   AND v.version = coalesce(%(version)s::integer, d.latest_version)

-- name: list_versions
-- A document's versions without content, newest first, below a version number (the
-- keyset), of the document the scope resolves to.
SELECT v.doc_type, v.name, v.is_global, v.version, v.title, v.description, v.metadata,
       v.content_hash, v.created_at, v.created_by
FROM (
    SELECT x.is_global FROM agentledger.catalog_visible_documents x
    WHERE x.doc_type = %(doc_type)s AND x.name = %(name)s
      AND (%(scope)s::text = 'any' OR x.is_global = (%(scope)s::text = 'global'))
    ORDER BY x.is_global
    LIMIT 1
) d
JOIN agentledger.catalog_visible_versions v
    ON v.is_global = d.is_global AND v.doc_type = %(doc_type)s AND v.name = %(name)s
WHERE %(before)s::integer IS NULL OR v.version < %(before)s::integer
ORDER BY v.version DESC
LIMIT %(limit)s

-- name: document_exists
-- Whether the scope resolves (doc_type, name) to a document.
SELECT EXISTS (
    SELECT 1 FROM agentledger.catalog_visible_documents x
    WHERE x.doc_type = %(doc_type)s AND x.name = %(name)s
      AND (%(scope)s::text = 'any' OR x.is_global = (%(scope)s::text = 'global')))

-- fragment: own_documents
-- The bound tenant's documents in scope, of the type and name asked for (list_documents).
    SELECT t.doc_type, t.name, false AS is_global, t.latest_version, t.created_at
    FROM agentledger.catalog_documents t
    WHERE t.tenant_id = agentledger.current_tenant() AND %(scope)s::text <> 'global'
      AND (%(doc_type)s::text IS NULL OR t.doc_type = %(doc_type)s::text)
      AND (%(name)s::text IS NULL OR t.name = %(name)s::text)

-- fragment: global_documents
-- The global documents in scope, of the type and name asked for, less those that the
-- tenant's own shadow with 'any' (list_documents).
    SELECT g.doc_type, g.name, true AS is_global, g.latest_version, g.created_at
    FROM agentledger.catalog_global_documents g
    LEFT JOIN agentledger.catalog_documents t
        ON %(scope)s::text = 'any' AND t.tenant_id = agentledger.current_tenant()
       AND t.doc_type = g.doc_type AND t.name = g.name
    WHERE %(scope)s::text <> 'tenant' AND t.name IS NULL
      AND (%(doc_type)s::text IS NULL OR g.doc_type = %(doc_type)s::text)
      AND (%(name)s::text IS NULL OR g.name = %(name)s::text)

-- fragment: page_documents
-- The page's documents with their latest version's title and time (list_documents).
SELECT p.doc_type, p.name, p.is_global, p.latest_version, v.title, v.description,
       p.created_at, v.created_at AS updated_at
FROM page p
CROSS JOIN LATERAL (
    SELECT y.title, y.description, y.created_at FROM agentledger.catalog_visible_versions y
    WHERE y.is_global = p.is_global AND y.doc_type = p.doc_type AND y.name = p.name
      AND y.version = p.latest_version
    LIMIT 1  -- a subquery of its own: one primary-key lookup per document listed
) v

-- name: list_documents
-- Documents by (doc_type, name) after a keyset cursor, optionally of one type or name,
-- with their latest version's title and time; with 'any', a global document the tenant
-- shadows with its own of the same name is left out. Each side reads its primary key in
-- order and stops at the page's end.
WITH own AS (
    -- include: own_documents
      AND (%(after_type)s::text IS NULL
           OR (t.doc_type, t.name) > (%(after_type)s::text, %(after_name)s::text))
    ORDER BY t.doc_type, t.name
    LIMIT %(limit)s
), shared AS (
    -- include: global_documents
      AND (%(after_type)s::text IS NULL
           OR (g.doc_type, g.name) > (%(after_type)s::text, %(after_name)s::text))
    ORDER BY g.doc_type, g.name
    LIMIT %(limit)s
), page AS (
    SELECT * FROM own UNION ALL SELECT * FROM shared
    ORDER BY doc_type, name
    LIMIT %(limit)s
)
-- include: page_documents
ORDER BY p.doc_type, p.name

-- name: list_documents_desc
-- list_documents in descending (doc_type, name) order, before a keyset cursor (weekly plans
-- named by date: the newest week first).
WITH own AS (
    -- include: own_documents
      AND (%(after_type)s::text IS NULL
           OR (t.doc_type, t.name) < (%(after_type)s::text, %(after_name)s::text))
    ORDER BY t.doc_type DESC, t.name DESC
    LIMIT %(limit)s
), shared AS (
    -- include: global_documents
      AND (%(after_type)s::text IS NULL
           OR (g.doc_type, g.name) < (%(after_type)s::text, %(after_name)s::text))
    ORDER BY g.doc_type DESC, g.name DESC
    LIMIT %(limit)s
), page AS (
    SELECT * FROM own UNION ALL SELECT * FROM shared
    ORDER BY doc_type DESC, name DESC
    LIMIT %(limit)s
)
-- include: page_documents
ORDER BY p.doc_type DESC, p.name DESC

-- name: delete_document
-- Delete one of the bound tenant's documents with all its versions (the foreign key
-- cascades).
DELETE FROM agentledger.catalog_documents
WHERE tenant_id = agentledger.current_tenant() AND doc_type = %(doc_type)s AND name = %(name)s
RETURNING latest_version

-- name: delete_global_document
-- Delete a global document with all its versions (the platform scope only).
DELETE FROM agentledger.catalog_global_documents
WHERE doc_type = %(doc_type)s AND name = %(name)s
RETURNING latest_version

-- name: hold_schemas
-- Hold the type's schemas (the global one, and the tenant's for a tenant document) for this
-- transaction: a shared lock, which register_schema's exclusive one waits for, so a version
-- is checked against the schemas in force when it commits. A statement of its own: the
-- schemas must be read by a later statement, whose snapshot is taken once the lock is held.
SELECT pg_advisory_xact_lock_shared(
           hashtextextended('agentledger.catalog_schema/global/' || %(doc_type)s, 0)),
       CASE WHEN %(tenant_too)s::boolean THEN pg_advisory_xact_lock_shared(hashtextextended(
           'agentledger.catalog_schema/' || agentledger.current_tenant() || '/'
           || %(doc_type)s, 0)) END

-- name: schemas_for
-- The schemas a new version of a type must satisfy: the global one, and the tenant's own
-- for a tenant document.
SELECT s.* FROM agentledger.catalog_visible_schemas s
WHERE s.doc_type = %(doc_type)s AND (s.is_global OR %(tenant_too)s::boolean)
ORDER BY s.is_global DESC

-- name: put_schema
-- Register the bound tenant's schema for a type, or replace it (one version more).
-- Under the type's exclusive lock (see hold_schemas), held until the transaction ends.
INSERT INTO agentledger.catalog_schemas AS s (tenant_id, doc_type, json_schema, created_by)
SELECT agentledger.current_tenant(), %(doc_type)s, %(json_schema)s::jsonb, %(created_by)s
FROM (SELECT pg_advisory_xact_lock(hashtextextended(
    'agentledger.catalog_schema/' || agentledger.current_tenant() || '/' || %(doc_type)s, 0))
) AS held
ON CONFLICT (tenant_id, doc_type) DO UPDATE
SET json_schema = excluded.json_schema, version = s.version + 1, updated_at = now(),
    created_by = excluded.created_by
RETURNING s.doc_type, false AS is_global, s.json_schema, s.version, s.created_at,
          s.updated_at, s.created_by

-- name: put_global_schema
-- Register the global schema for a type, or replace it (the platform scope only).
-- Under the type's exclusive global lock (see hold_schemas), held until the transaction ends.
INSERT INTO agentledger.catalog_global_schemas AS s (doc_type, json_schema, created_by)
SELECT %(doc_type)s, %(json_schema)s::jsonb, %(created_by)s
FROM (SELECT pg_advisory_xact_lock(
    hashtextextended('agentledger.catalog_schema/global/' || %(doc_type)s, 0))) AS held
ON CONFLICT (doc_type) DO UPDATE
SET json_schema = excluded.json_schema, version = s.version + 1, updated_at = now(),
    created_by = excluded.created_by
RETURNING s.doc_type, true AS is_global, s.json_schema, s.version, s.created_at,
          s.updated_at, s.created_by

-- name: get_schema
-- The tenant's or the global schema for a type.
SELECT * FROM agentledger.catalog_visible_schemas
WHERE doc_type = %(doc_type)s AND is_global = %(is_global)s

-- name: list_schemas
-- The schemas in force for the bound scope, by type, the global one first.
SELECT * FROM agentledger.catalog_visible_schemas
WHERE %(scope)s::text = 'any' OR is_global = (%(scope)s::text = 'global')
ORDER BY doc_type, is_global DESC

-- name: delete_schema
-- Remove the bound tenant's schema for a type.
DELETE FROM agentledger.catalog_schemas
WHERE tenant_id = agentledger.current_tenant() AND doc_type = %(doc_type)s
RETURNING version

-- name: delete_global_schema
-- Remove the global schema for a type (the platform scope only).
DELETE FROM agentledger.catalog_global_schemas WHERE doc_type = %(doc_type)s
RETURNING version
