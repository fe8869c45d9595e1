"""Reporting views over cases and the catalog, under the reporting role's policies.

The same contract as reporting_0001: each tenant table the views read gets the permissive
``reporting_read`` and the restrictive ``reporting_scope`` policies for
``agentledger_reporting``, so a login sees the rows of the tenants granted to it and no
other, whatever GUCs it sets; the role gets SELECT on the columns the views read only; the
views are ``security_invoker``.

The global catalog (``catalog_global_*``, reference data without a tenant) is the same for
every tenant: a login holding any grant reads it, one holding none reads nothing. In the
catalog views a global row has ``tenant_id`` NULL and ``is_global`` true.

Cases carry their lifecycle state in typed columns: ``is_open`` is true until the case
enters a terminal status of its kind (``resolved_at`` is set then), and ``sla_breached``
marks an open case past its ``sla_deadline`` at the time of the query. The search vector,
the severity rank and the tally tables stay out of the views.

Revision ID: reporting_0002
Revises: reporting_0001, cases_0001, catalog_0001
"""

from __future__ import annotations

from alembic import op

revision = "reporting_0002"
down_revision = ("reporting_0001", "cases_0001", "catalog_0001")
branch_labels = None
depends_on = None

POLICIES = """
CREATE POLICY reporting_read ON agentledger.case_kinds
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.case_kinds AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.case_statuses
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.case_statuses AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.cases
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.cases AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.case_blocks
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.case_blocks AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.case_links
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.case_links AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.catalog_documents
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.catalog_documents AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.catalog_versions
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.catalog_versions AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

-- The global catalog: read by a login that holds any grant.
CREATE POLICY reporting_read ON agentledger.catalog_global_documents
    FOR SELECT TO agentledger_reporting
    USING (cardinality((SELECT agentledger.reporting_tenants())::text[]) > 0);

CREATE POLICY reporting_read ON agentledger.catalog_global_versions
    FOR SELECT TO agentledger_reporting
    USING (cardinality((SELECT agentledger.reporting_tenants())::text[]) > 0);
"""

COLUMN_GRANTS = """
GRANT SELECT (tenant_id, kind, initial, created_at, updated_at)
    ON agentledger.case_kinds TO agentledger_reporting;
GRANT SELECT (tenant_id, kind, status, terminal, position)
    ON agentledger.case_statuses TO agentledger_reporting;
GRANT SELECT (tenant_id, id, kind, ref, status, title, body, type, severity, score,
              confidence, owner, domain, entity, source, amount, sla_deadline, playbook,
              playbook_step, attrs, version, created_at, updated_at, opened_at, resolved_at)
    ON agentledger.cases TO agentledger_reporting;
GRANT SELECT (tenant_id, blocker, blocked, created_at)
    ON agentledger.case_blocks TO agentledger_reporting;
GRANT SELECT (tenant_id, case_id, entity_id, role, created_at)
    ON agentledger.case_links TO agentledger_reporting;
GRANT SELECT (tenant_id, doc_type, name, latest_version, created_at)
    ON agentledger.catalog_documents TO agentledger_reporting;
GRANT SELECT (tenant_id, doc_type, name, version, content, title, description, metadata,
              content_hash, created_at, created_by)
    ON agentledger.catalog_versions TO agentledger_reporting;
GRANT SELECT (doc_type, name, latest_version, created_at)
    ON agentledger.catalog_global_documents TO agentledger_reporting;
GRANT SELECT (doc_type, name, version, content, title, description, metadata, content_hash,
              created_at, created_by)
    ON agentledger.catalog_global_versions TO agentledger_reporting;
"""

VIEWS = """
CREATE VIEW agentledger_reporting.case_statuses WITH (security_invoker = true) AS
SELECT s.tenant_id, s.kind, s.status, s.position, s.terminal, (k.initial = s.status) AS initial
FROM agentledger.case_statuses s
JOIN agentledger.case_kinds k ON k.tenant_id = s.tenant_id AND k.kind = s.kind;
COMMENT ON VIEW agentledger_reporting.case_statuses IS
    'The statuses of each case kind, in their defined order; terminal ones close a case';

CREATE VIEW agentledger_reporting.cases WITH (security_invoker = true) AS
SELECT c.tenant_id, c.id AS case_id, c.kind, c.ref, c.status,
       (c.resolved_at IS NULL) AS is_open,
       (c.resolved_at IS NULL AND c.sla_deadline < now()) AS sla_breached,
       c.title, c.type, c.severity, c.score, c.confidence, c.owner, c.domain, c.entity,
       c.source, c.amount, c.sla_deadline, c.playbook, c.playbook_step, c.version,
       c.created_at, c.updated_at, c.opened_at, c.resolved_at,
       extract(epoch FROM c.resolved_at - c.opened_at) AS resolution_seconds,
       c.body, c.attrs
FROM agentledger.cases c;
COMMENT ON VIEW agentledger_reporting.cases IS
    'Cases (exceptions, bottlenecks, incidents...) with their lifecycle state';
COMMENT ON COLUMN agentledger_reporting.cases.is_open IS
    'Until the case enters a terminal status of its kind';
COMMENT ON COLUMN agentledger_reporting.cases.sla_breached IS
    'Open and past sla_deadline at the time of the query';
COMMENT ON COLUMN agentledger_reporting.cases.resolution_seconds IS
    'From opened_at to resolved_at; NULL while open';

CREATE VIEW agentledger_reporting.case_blocks WITH (security_invoker = true) AS
SELECT b.tenant_id, b.blocker AS blocker_id, b.blocked AS blocked_id, b.created_at
FROM agentledger.case_blocks b;
COMMENT ON VIEW agentledger_reporting.case_blocks IS
    'blocker_id must be dealt with before blocked_id can move on';

CREATE VIEW agentledger_reporting.case_links WITH (security_invoker = true) AS
SELECT l.tenant_id, l.case_id, l.entity_id, l.role, l.created_at
FROM agentledger.case_links l;
COMMENT ON VIEW agentledger_reporting.case_links IS
    'The memory entities each case is about (entity_id: memory_entities.entity_id)';

CREATE VIEW agentledger_reporting.catalog_documents WITH (security_invoker = true) AS
SELECT d.tenant_id, false AS is_global, d.doc_type, d.name, d.latest_version, d.created_at
FROM agentledger.catalog_documents d
UNION ALL
SELECT NULL, true, g.doc_type, g.name, g.latest_version, g.created_at
FROM agentledger.catalog_global_documents g;
COMMENT ON VIEW agentledger_reporting.catalog_documents IS
    'Versioned documents (packs, playbooks, tools, plans...): the tenant''s and the global ones';

CREATE VIEW agentledger_reporting.catalog_versions WITH (security_invoker = true) AS
SELECT v.tenant_id, false AS is_global, v.doc_type, v.name, v.version, v.title,
       v.description, v.created_at, v.created_by, v.content_hash, v.metadata, v.content
FROM agentledger.catalog_versions v
UNION ALL
SELECT NULL, true, g.doc_type, g.name, g.version, g.title, g.description, g.created_at,
       g.created_by, g.content_hash, g.metadata, g.content
FROM agentledger.catalog_global_versions g;
COMMENT ON VIEW agentledger_reporting.catalog_versions IS
    'Every version of every catalog document, with its content';

GRANT SELECT ON agentledger_reporting.case_statuses, agentledger_reporting.cases,
    agentledger_reporting.case_blocks, agentledger_reporting.case_links,
    agentledger_reporting.catalog_documents, agentledger_reporting.catalog_versions
    TO agentledger_reporting;
"""


def upgrade() -> None:
    op.execute(POLICIES)
    op.execute(COLUMN_GRANTS)
    op.execute(VIEWS)


def downgrade() -> None:
    op.execute("""
    DROP VIEW agentledger_reporting.case_statuses, agentledger_reporting.cases,
        agentledger_reporting.case_blocks, agentledger_reporting.case_links,
        agentledger_reporting.catalog_documents, agentledger_reporting.catalog_versions;

    REVOKE ALL ON agentledger.case_kinds, agentledger.case_statuses, agentledger.cases,
        agentledger.case_blocks, agentledger.case_links, agentledger.catalog_documents,
        agentledger.catalog_versions, agentledger.catalog_global_documents,
        agentledger.catalog_global_versions
        FROM agentledger_reporting;

    DROP POLICY reporting_read ON agentledger.case_kinds;
    DROP POLICY reporting_scope ON agentledger.case_kinds;
    DROP POLICY reporting_read ON agentledger.case_statuses;
    DROP POLICY reporting_scope ON agentledger.case_statuses;
    DROP POLICY reporting_read ON agentledger.cases;
    DROP POLICY reporting_scope ON agentledger.cases;
    DROP POLICY reporting_read ON agentledger.case_blocks;
    DROP POLICY reporting_scope ON agentledger.case_blocks;
    DROP POLICY reporting_read ON agentledger.case_links;
    DROP POLICY reporting_scope ON agentledger.case_links;
    DROP POLICY reporting_read ON agentledger.catalog_documents;
    DROP POLICY reporting_scope ON agentledger.catalog_documents;
    DROP POLICY reporting_read ON agentledger.catalog_versions;
    DROP POLICY reporting_scope ON agentledger.catalog_versions;
    DROP POLICY reporting_read ON agentledger.catalog_global_documents;
    DROP POLICY reporting_read ON agentledger.catalog_global_versions;
    """)
