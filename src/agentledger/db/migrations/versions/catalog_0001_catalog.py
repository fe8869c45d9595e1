"""Catalog: versioned JSON documents per tenant and global, and a JSON Schema per type.

A document is named by (doc_type, name); its versions are numbered 1, 2, 3... with no gap
and no repeat. Each document has a head row (``catalog_documents``) holding its latest
version number and a fingerprint of that version; a new version is one statement that
inserts the head or updates it (``INSERT ... ON CONFLICT DO UPDATE``, which locks the
head row) and inserts the version row with the number the head now holds. Concurrent
writers of one document queue on the head row's lock, each reading the head as the one
before it committed it, so each gets the next number; nobody retries. The primary key
(owner, type, name, version) backs this up.

Global entries (the platform's domain packs, tools, schemas) live in tables of their own,
``catalog_global_*``, without ``tenant_id``, rather than beside tenants' rows under a
reserved owner value. They are reference data: on Citus they become reference tables,
copied to every node, while the tenant tables are distributed by ``tenant_id``, so a
tenant's lookup (its own rows and the global ones) stays on one node. The tenant tables
keep primary and foreign keys that lead with ``tenant_id``, the key to ``tenants``
included, which a reserved owner value could not satisfy.

Row-level security, spelled out:

- tenant tables: the tenant policy (``tenant_table``): a transaction reads and writes the
  rows of the tenant it is bound to, and no other;
- global tables: any transaction bound to a tenant or to the platform reads them (a
  connection bound to nothing sees nothing); inserting, updating and deleting need
  ``agentledger.is_platform()``. A tenant's INSERT fails the policy's check; its UPDATE or
  DELETE finds no row. ``catalog_require_platform()`` lets the library's global writes
  fail first, with a message saying so.

The ``catalog_visible_*`` views (security invoker: the caller's policies apply) put the
bound tenant's rows and the global ones together, marked ``is_global``, so each read is
one query whatever scope it asks for.

Revision ID: catalog_0001
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, tenant_table

revision = "catalog_0001"
down_revision = "0001"
branch_labels = ("catalog",)
depends_on = None

TABLES = """
CREATE TABLE agentledger.catalog_documents (
    tenant_id          text NOT NULL REFERENCES agentledger.tenants (id),
    doc_type           text NOT NULL CONSTRAINT catalog_documents_doc_type
                       CHECK (doc_type ~ '^[a-z][a-z0-9_]{0,62}$'),
    name               text NOT NULL CONSTRAINT catalog_documents_name
                       CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,199}$'),
    latest_version     integer NOT NULL CONSTRAINT catalog_documents_latest_version
                       CHECK (latest_version >= 1),
    -- catalog_hash of [content, title, description, metadata] of the latest version: the
    -- same again is no new version.
    latest_fingerprint bytea NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, doc_type, name)
);

CREATE TABLE agentledger.catalog_versions (
    tenant_id    text NOT NULL,
    doc_type     text NOT NULL,
    name         text NOT NULL,
    version      integer NOT NULL CONSTRAINT catalog_versions_version CHECK (version >= 1),
    content      jsonb NOT NULL,
    title        text CONSTRAINT catalog_versions_title CHECK (length(title) <= 500),
    description  text CONSTRAINT catalog_versions_description
                 CHECK (length(description) <= 10000),
    metadata     jsonb NOT NULL DEFAULT '{}',
    content_hash text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text,
    PRIMARY KEY (tenant_id, doc_type, name, version),
    CONSTRAINT catalog_versions_document_fk FOREIGN KEY (tenant_id, doc_type, name)
        REFERENCES agentledger.catalog_documents (tenant_id, doc_type, name) ON DELETE CASCADE
);

CREATE TABLE agentledger.catalog_schemas (
    tenant_id   text NOT NULL REFERENCES agentledger.tenants (id),
    doc_type    text NOT NULL CONSTRAINT catalog_schemas_doc_type
                CHECK (doc_type ~ '^[a-z][a-z0-9_]{0,62}$'),
    json_schema jsonb NOT NULL CONSTRAINT catalog_schemas_object
                CHECK (jsonb_typeof(json_schema) = 'object'),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text,
    PRIMARY KEY (tenant_id, doc_type)
);

CREATE TABLE agentledger.catalog_global_documents (
    doc_type           text NOT NULL CONSTRAINT catalog_global_documents_doc_type
                       CHECK (doc_type ~ '^[a-z][a-z0-9_]{0,62}$'),
    name               text NOT NULL CONSTRAINT catalog_global_documents_name
                       CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,199}$'),
    latest_version     integer NOT NULL CONSTRAINT catalog_global_documents_latest_version
                       CHECK (latest_version >= 1),
    latest_fingerprint bytea NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (doc_type, name)
);

CREATE TABLE agentledger.catalog_global_versions (
    doc_type     text NOT NULL,
    name         text NOT NULL,
    version      integer NOT NULL CONSTRAINT catalog_global_versions_version
                 CHECK (version >= 1),
    content      jsonb NOT NULL,
    title        text CONSTRAINT catalog_global_versions_title CHECK (length(title) <= 500),
    description  text CONSTRAINT catalog_global_versions_description
                 CHECK (length(description) <= 10000),
    metadata     jsonb NOT NULL DEFAULT '{}',
    content_hash text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text,
    PRIMARY KEY (doc_type, name, version),
    CONSTRAINT catalog_global_versions_document_fk FOREIGN KEY (doc_type, name)
        REFERENCES agentledger.catalog_global_documents (doc_type, name) ON DELETE CASCADE
);

CREATE TABLE agentledger.catalog_global_schemas (
    doc_type    text PRIMARY KEY CONSTRAINT catalog_global_schemas_doc_type
                CHECK (doc_type ~ '^[a-z][a-z0-9_]{0,62}$'),
    json_schema jsonb NOT NULL CONSTRAINT catalog_global_schemas_object
                CHECK (jsonb_typeof(json_schema) = 'object'),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text
);
"""

FUNCTIONS = """
-- The hash of a JSON value as stored: sha256 of jsonb's text form (keys in jsonb's order,
-- one way of spacing), so equal documents hash alike whoever wrote them.
CREATE FUNCTION agentledger.catalog_hash(p_value jsonb) RETURNS bytea
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN sha256(convert_to(p_value::text, 'UTF8'));

-- Global entries are written through the platform scope only: a clear refusal before the
-- row-level policies would refuse the row itself.
CREATE FUNCTION agentledger.catalog_require_platform() RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT agentledger.is_platform() THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'global catalog entries are written only through the platform scope, '
                || 'not by a tenant';
    END IF;
END
$fn$;
"""

VIEWS = """
CREATE VIEW agentledger.catalog_visible_documents WITH (security_invoker = true) AS
SELECT d.doc_type, d.name, false AS is_global, d.latest_version, d.latest_fingerprint,
       d.created_at
FROM agentledger.catalog_documents d
WHERE d.tenant_id = agentledger.current_tenant()
UNION ALL
SELECT g.doc_type, g.name, true, g.latest_version, g.latest_fingerprint, g.created_at
FROM agentledger.catalog_global_documents g;

CREATE VIEW agentledger.catalog_visible_versions WITH (security_invoker = true) AS
SELECT v.doc_type, v.name, false AS is_global, v.version, v.content, v.title, v.description,
       v.metadata, v.content_hash, v.created_at, v.created_by
FROM agentledger.catalog_versions v
WHERE v.tenant_id = agentledger.current_tenant()
UNION ALL
SELECT g.doc_type, g.name, true, g.version, g.content, g.title, g.description, g.metadata,
       g.content_hash, g.created_at, g.created_by
FROM agentledger.catalog_global_versions g;

CREATE VIEW agentledger.catalog_visible_schemas WITH (security_invoker = true) AS
SELECT s.doc_type, false AS is_global, s.json_schema, s.version, s.created_at, s.updated_at,
       s.created_by
FROM agentledger.catalog_schemas s
WHERE s.tenant_id = agentledger.current_tenant()
UNION ALL
SELECT g.doc_type, true, g.json_schema, g.version, g.created_at, g.updated_at, g.created_by
FROM agentledger.catalog_global_schemas g;
"""

TENANT_TABLES = ("catalog_documents", "catalog_versions", "catalog_schemas")
GLOBAL_TABLES = ("catalog_global_documents", "catalog_global_versions", "catalog_global_schemas")
VIEW_NAMES = ("catalog_visible_documents", "catalog_visible_versions", "catalog_visible_schemas")


def global_table(table: str, role: str) -> str:
    """Row-level security of a global table: read when bound to a tenant or the platform,
    written only when bound to the platform."""
    return f"""
    ALTER TABLE agentledger.{table} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE agentledger.{table} FORCE ROW LEVEL SECURITY;
    CREATE POLICY global_read ON agentledger.{table} FOR SELECT
        USING (agentledger.is_platform() OR coalesce(agentledger.current_tenant(), '') <> '');
    CREATE POLICY platform_insert ON agentledger.{table} FOR INSERT
        WITH CHECK (agentledger.is_platform());
    CREATE POLICY platform_update ON agentledger.{table} FOR UPDATE
        USING (agentledger.is_platform()) WITH CHECK (agentledger.is_platform());
    CREATE POLICY platform_delete ON agentledger.{table} FOR DELETE
        USING (agentledger.is_platform());
    GRANT SELECT, INSERT, UPDATE, DELETE ON agentledger.{table} TO "{role}";
    """


def upgrade() -> None:
    role = app_role()
    op.execute(TABLES)
    for table in TENANT_TABLES:
        op.execute(tenant_table(table, "SELECT, INSERT, UPDATE, DELETE"))
    for table in GLOBAL_TABLES:
        op.execute(global_table(table, role))
    op.execute(FUNCTIONS)
    for function in ("catalog_hash(jsonb)", "catalog_require_platform()"):
        op.execute(f"REVOKE ALL ON FUNCTION agentledger.{function} FROM PUBLIC")
        op.execute(f'GRANT EXECUTE ON FUNCTION agentledger.{function} TO "{role}"')
    op.execute(VIEWS)
    for view in VIEW_NAMES:
        op.execute(f'GRANT SELECT ON agentledger.{view} TO "{role}"')


def downgrade() -> None:
    op.execute(
        """
        DROP VIEW agentledger.catalog_visible_documents, agentledger.catalog_visible_versions,
            agentledger.catalog_visible_schemas;
        DROP FUNCTION agentledger.catalog_hash(jsonb), agentledger.catalog_require_platform();
        DROP TABLE agentledger.catalog_versions, agentledger.catalog_documents,
            agentledger.catalog_schemas, agentledger.catalog_global_versions,
            agentledger.catalog_global_documents, agentledger.catalog_global_schemas;
        """
    )
