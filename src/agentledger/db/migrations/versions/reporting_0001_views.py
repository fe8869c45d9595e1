"""Reporting for BI tools: read-only views over every module and a role that sees granted tenants.

A BI tool (Superset, Metabase, any SQL client) connects straight to PostgreSQL as a login
role of its own, so it cannot be trusted to bind a tenant the way the library does: the
tenant GUC (``agentledger.tenant_id``) and the platform GUC are settings any session may
set. The reporting role therefore never relies on them. ``agentledger.reporting_grants``,
written only by the owner (``agentledger reporting grant``), names the tenants each login
may read (``tenant`` NULL: every tenant), and ``agentledger.reporting_tenants()`` returns
the session user's (``session_user``: the login itself, whatever role it has set).

Each table the views read gets two policies for ``agentledger_reporting``, the NOLOGIN
group role logins are members of. ``reporting_read`` (permissive) opens the table's rows
to the role; ``reporting_scope`` (restrictive, so ANDed with every permissive policy)
keeps only the granted tenants' rows. The tenant policies apply to every role and are
bound by the GUCs; the restrictive policy is what makes a reporting login that sets those
GUCs itself gain nothing. The grant lookup is a scalar subquery, evaluated once per query
(an InitPlan) and usable as an index condition on ``tenant_id``, never once per row. RLS
stays forced on every tenant table (and applies to the tenants table, which the role does
not own). The role gets SELECT on the columns the views read and no other privilege on
any table of ``agentledger`` (not even USAGE on the schema, so it cannot name those
tables), never a write.

The views live in the schema ``agentledger_reporting`` and are ``security_invoker``, so
the caller's row-level security applies to them. Their columns are a stable interface:
no internal columns (search vectors, embeddings, claim tokens, dedup keys, sequence
counters), no API keys or secrets, no agent configuration or command (where deployments
keep credentials), no conversation or artifact bodies. Later modules (cases, catalog)
add their own views and ``reporting_read`` / ``reporting_scope`` policies in revisions of
their own on top of this one.

Needs PostgreSQL 15 or later (security_invoker views, UNIQUE NULLS NOT DISTINCT). The
group role is cluster-wide and is left in place by the downgrade, as the app role is.

Revision ID: reporting_0001
Revises: audit_0004, memory_0012, sessions_0002
"""

from __future__ import annotations

from alembic import op

revision = "reporting_0001"
down_revision = ("audit_0004", "memory_0012", "sessions_0002")
branch_labels = None
depends_on = None

ROLE = """
DO $$
BEGIN
    IF current_setting('server_version_num')::integer < 150000 THEN
        RAISE EXCEPTION 'the reporting views need PostgreSQL 15 or later (security_invoker)';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agentledger_reporting') THEN
        CREATE ROLE agentledger_reporting
            NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;
    ELSIF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agentledger_reporting'
                  AND (rolsuper OR rolbypassrls OR rolcanlogin)) THEN
        RAISE EXCEPTION 'role agentledger_reporting exists but can log in or bypass row-level'
            ' security: it must be a plain NOLOGIN group role';
    END IF;
END $$;
"""

GRANTS = """
-- Which tenants each reporting login may read; written only by the owner.
CREATE TABLE agentledger.reporting_grants (
    role_name   name NOT NULL,
    tenant      text REFERENCES agentledger.tenants (id) ON DELETE CASCADE,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reporting_grants_unique UNIQUE NULLS NOT DISTINCT (role_name, tenant)
);
COMMENT ON COLUMN agentledger.reporting_grants.tenant IS 'The tenant granted; NULL: every tenant';

-- The tenants the session's login may read: those granted to it, or every tenant when it
-- holds an all-tenants grant; empty for any other login. A definer function, so that the
-- reporting role needs no access to the grants table.
CREATE FUNCTION agentledger.reporting_tenants() RETURNS text[]
    LANGUAGE sql STABLE SECURITY DEFINER PARALLEL RESTRICTED
    SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT CASE WHEN bool_or(g.tenant IS NULL)
                THEN ARRAY(SELECT t.id FROM agentledger.tenants t)
                ELSE coalesce(array_agg(g.tenant), '{}')
           END
    FROM agentledger.reporting_grants g
    WHERE g.role_name = session_user
$fn$;
REVOKE ALL ON FUNCTION agentledger.reporting_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION agentledger.reporting_tenants() TO agentledger_reporting;
"""

# ``(SELECT ...)::text[]``: the cast makes the scalar subquery an array expression for
# ``= ANY``, which would otherwise read it as ``ANY (subquery)`` over the array's rows.
POLICIES = """
CREATE POLICY reporting_read ON agentledger.tenants
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.tenants AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.agents
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.agents AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.runs
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.runs AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.decisions
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.decisions AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.alerts
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.alerts AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.events
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.events AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.memory_entities
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.memory_entities AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.memory_relationships
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.memory_relationships AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.tasks
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.tasks AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.task_archive
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.task_archive AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.sessions
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.sessions AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.session_chunks
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.session_chunks AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));

CREATE POLICY reporting_read ON agentledger.session_artifacts
    FOR SELECT TO agentledger_reporting USING (true);
CREATE POLICY reporting_scope ON agentledger.session_artifacts AS RESTRICTIVE
    FOR SELECT TO agentledger_reporting
    USING (tenant_id = ANY ((SELECT agentledger.reporting_tenants())::text[]));
"""

# The columns the views read, and nothing else of each table.
COLUMN_GRANTS = """
GRANT SELECT (id, name, status, created_at, updated_at)
    ON agentledger.tenants TO agentledger_reporting;
GRANT SELECT (tenant_id, name, agent_type, domain, capabilities, status, heartbeat_timeout,
              last_heartbeat_at, last_run_at, created_at, updated_at)
    ON agentledger.agents TO agentledger_reporting;
GRANT SELECT (tenant_id, id, trigger_type, source_id, content, priority, entity_ref, status,
              duration_ms, tokens_in, tokens_out, response_id, error, metadata, started_at,
              finished_at)
    ON agentledger.runs TO agentledger_reporting;
GRANT SELECT (tenant_id, id, agent, decision_type, decision, reasoning, confidence, data,
              run_id, created_at, accepted, feedback_reason, feedback_by, feedback_at)
    ON agentledger.decisions TO agentledger_reporting;
GRANT SELECT (tenant_id, id, tier, title, body, action_required, run_id, entity_ref,
              case_ref, occurrences, status, created_at, last_seen_at, acknowledged_at,
              acknowledged_by, resolved_at, resolved_by)
    ON agentledger.alerts TO agentledger_reporting;
GRANT SELECT (tenant_id, position, event_id, stream, version, type, actor_type, actor_id,
              payload, metadata, created_at)
    ON agentledger.events TO agentledger_reporting;
GRANT SELECT (tenant_id, id, kind, name, summary, key, source, user_id, shared, attrs, tags,
              status, relevance, update_count, access_count, last_accessed_at, created_at,
              updated_at)
    ON agentledger.memory_entities TO agentledger_reporting;
GRANT SELECT (tenant_id, id, from_id, to_id, type, weight, attrs, created_at, updated_at)
    ON agentledger.memory_relationships TO agentledger_reporting;
GRANT SELECT (tenant_id, id, queue, task_type, agent_name, priority, status, attempts,
              max_attempts, rescues, run_after, lease_expires_at, claimed_by, session_id,
              entity_id, input, output, error, created_at, updated_at, finished_at)
    ON agentledger.tasks TO agentledger_reporting;
GRANT SELECT (tenant_id, id, queue, task_type, agent_name, priority, status, attempts,
              max_attempts, rescues, run_after, lease_expires_at, claimed_by, session_id,
              entity_id, input, output, error, created_at, updated_at, finished_at)
    ON agentledger.task_archive TO agentledger_reporting;
GRANT SELECT (tenant_id, id, title, participants, status, summary, metadata, chunk_count,
              artifact_count, memory_count, task_count, created_at, last_activity,
              status_changed_at)
    ON agentledger.sessions TO agentledger_reporting;
GRANT SELECT (tenant_id, id, session_id, seq, format, author, extracted, size, segment_count,
              created_at)
    ON agentledger.session_chunks TO agentledger_reporting;
GRANT SELECT (tenant_id, id, session_id, name, version, artifact_type, format, metadata,
              author, size, segment_count, created_at)
    ON agentledger.session_artifacts TO agentledger_reporting;
"""

VIEWS = """
CREATE SCHEMA agentledger_reporting;
COMMENT ON SCHEMA agentledger_reporting IS
    'agentledger reporting views: read-only, each row limited to the tenants granted to the login';

CREATE VIEW agentledger_reporting.tenants WITH (security_invoker = true) AS
SELECT t.id AS tenant_id, t.name, t.status, t.created_at, t.updated_at
FROM agentledger.tenants t;
COMMENT ON VIEW agentledger_reporting.tenants IS
    'Tenants: status active, suspended (reads only) or archived';

CREATE VIEW agentledger_reporting.agents WITH (security_invoker = true) AS
SELECT a.tenant_id, a.name, a.agent_type, a.domain, a.capabilities,
       agentledger.agent_status(a.status, a.last_heartbeat_at, a.heartbeat_timeout) AS status,
       a.status AS reported_status, a.last_heartbeat_at, a.last_run_at, a.created_at,
       a.updated_at
FROM agentledger.agents a;
COMMENT ON VIEW agentledger_reporting.agents IS 'The agent registry (without config or command)';
COMMENT ON COLUMN agentledger_reporting.agents.status IS
    'As the library shows it: offline when the heartbeat is overdue, else reported_status';

CREATE VIEW agentledger_reporting.runs WITH (security_invoker = true) AS
SELECT r.tenant_id, r.id AS run_id, r.trigger_type, r.source_id, r.priority, r.entity_ref,
       r.status, r.started_at, r.finished_at, r.duration_ms, r.tokens_in, r.tokens_out,
       r.response_id, r.error, r.content, r.metadata
FROM agentledger.runs r;
COMMENT ON VIEW agentledger_reporting.runs IS 'Trigger and run log: one row per agent run';

CREATE VIEW agentledger_reporting.decisions WITH (security_invoker = true) AS
SELECT d.tenant_id, d.id AS decision_id, d.agent, d.decision_type, d.decision, d.reasoning,
       d.confidence, d.run_id, d.created_at,
       CASE WHEN d.accepted IS NULL THEN 'awaiting'
            WHEN d.accepted THEN 'accepted' ELSE 'rejected' END AS feedback,
       d.accepted, d.feedback_reason, d.feedback_by, d.feedback_at, d.data
FROM agentledger.decisions d;
COMMENT ON VIEW agentledger_reporting.decisions IS 'Agent decisions with their human feedback';
COMMENT ON COLUMN agentledger_reporting.decisions.feedback IS
    'awaiting (no feedback yet), accepted or rejected';

CREATE VIEW agentledger_reporting.alerts WITH (security_invoker = true) AS
SELECT a.tenant_id, a.id AS alert_id, a.tier,
       CASE a.tier WHEN 1 THEN 'urgent' WHEN 2 THEN 'important' ELSE 'info' END AS tier_name,
       a.status, a.title, a.body, a.action_required, a.occurrences, a.run_id, a.entity_ref,
       a.case_ref, a.created_at, a.last_seen_at, a.acknowledged_at, a.acknowledged_by,
       a.resolved_at, a.resolved_by
FROM agentledger.alerts a;
COMMENT ON VIEW agentledger_reporting.alerts IS
    'Tiered alerts: pending, acknowledged, resolved';
COMMENT ON COLUMN agentledger_reporting.alerts.occurrences IS
    'How many raises the alert stands for (repeats of an open dedup key count here)';

CREATE VIEW agentledger_reporting.events WITH (security_invoker = true) AS
SELECT e.tenant_id, e.position, e.event_id, e.stream, e.version, e.type AS event_type,
       e.actor_type, e.actor_id, e.created_at, e.payload, e.metadata
FROM agentledger.events e;
COMMENT ON VIEW agentledger_reporting.events IS 'The append-only event log (the audit trail)';

CREATE VIEW agentledger_reporting.memory_entities WITH (security_invoker = true) AS
SELECT m.tenant_id, m.id AS entity_id, m.kind, m.name, m.summary, m.key, m.source,
       m.user_id, m.shared, m.status, m.tags, m.relevance, m.update_count, m.access_count,
       m.last_accessed_at, m.created_at, m.updated_at, m.attrs
FROM agentledger.memory_entities m;
COMMENT ON VIEW agentledger_reporting.memory_entities IS
    'Memory graph entities (contacts, deals, ...), without search vectors or embeddings';

CREATE VIEW agentledger_reporting.memory_relationships WITH (security_invoker = true) AS
SELECT r.tenant_id, r.id AS relationship_id, r.from_id, r.to_id, r.type AS relationship_type,
       r.weight, r.created_at, r.updated_at, r.attrs
FROM agentledger.memory_relationships r;
COMMENT ON VIEW agentledger_reporting.memory_relationships IS
    'Memory graph edges between two entities (from_id, to_id: entity_id)';

CREATE VIEW agentledger_reporting.tasks WITH (security_invoker = true) AS
SELECT t.tenant_id, t.id AS task_id, t.queue, t.task_type, t.agent_name, t.priority, t.status,
       t.status = 'pending' AND t.run_after <= now() AS ready, false AS archived,
       t.attempts, t.max_attempts, t.rescues, t.run_after, t.lease_expires_at, t.claimed_by,
       t.session_id, t.entity_id, t.created_at, t.updated_at, t.finished_at, t.error,
       t.input, t.output
FROM agentledger.tasks t
UNION ALL
SELECT a.tenant_id, a.id, a.queue, a.task_type, a.agent_name, a.priority, a.status,
       false, true,
       a.attempts, a.max_attempts, a.rescues, a.run_after, a.lease_expires_at, a.claimed_by,
       a.session_id, a.entity_id, a.created_at, a.updated_at, a.finished_at, a.error,
       a.input, a.output
FROM agentledger.task_archive a;
COMMENT ON VIEW agentledger_reporting.tasks IS
    'Task queue rows, live and archived (archived: moved out of the queue by a prune)';
COMMENT ON COLUMN agentledger_reporting.tasks.ready IS
    'Pending and due now: a worker may claim it';

CREATE VIEW agentledger_reporting.sessions WITH (security_invoker = true) AS
SELECT s.tenant_id, s.id AS session_id, s.title, s.status, s.participants, s.summary,
       s.chunk_count, s.artifact_count, s.memory_count, s.task_count, s.created_at,
       s.last_activity, s.status_changed_at, s.metadata
FROM agentledger.sessions s;
COMMENT ON VIEW agentledger_reporting.sessions IS 'Collaborative sessions and their counters';

CREATE VIEW agentledger_reporting.session_chunks WITH (security_invoker = true) AS
SELECT c.tenant_id, c.id AS chunk_id, c.session_id, c.seq, c.format, c.author, c.size,
       c.segment_count, c.created_at, c.extracted
FROM agentledger.session_chunks c;
COMMENT ON VIEW agentledger_reporting.session_chunks IS
    'Conversation chunks of a session: metadata and extracted items, not the text';
COMMENT ON COLUMN agentledger_reporting.session_chunks.size IS 'Length of the text, characters';

CREATE VIEW agentledger_reporting.session_artifacts WITH (security_invoker = true) AS
SELECT a.tenant_id, a.id AS artifact_id, a.session_id, a.name, a.version,
       NOT EXISTS (SELECT 1 FROM agentledger.session_artifacts n
                   WHERE n.tenant_id = a.tenant_id AND n.session_id = a.session_id
                     AND n.name = a.name AND n.version > a.version) AS is_latest,
       a.artifact_type, a.format, a.author, a.size, a.segment_count, a.created_at, a.metadata
FROM agentledger.session_artifacts a;
COMMENT ON VIEW agentledger_reporting.session_artifacts IS
    'Artifact versions of a session: metadata, not the content';
COMMENT ON COLUMN agentledger_reporting.session_artifacts.is_latest IS
    'The newest version of this name in its session';

REVOKE ALL ON SCHEMA agentledger_reporting FROM PUBLIC;
GRANT USAGE ON SCHEMA agentledger_reporting TO agentledger_reporting;
GRANT SELECT ON agentledger_reporting.tenants, agentledger_reporting.agents,
    agentledger_reporting.runs, agentledger_reporting.decisions, agentledger_reporting.alerts,
    agentledger_reporting.events, agentledger_reporting.memory_entities,
    agentledger_reporting.memory_relationships, agentledger_reporting.tasks,
    agentledger_reporting.sessions, agentledger_reporting.session_chunks,
    agentledger_reporting.session_artifacts
    TO agentledger_reporting;
"""


def upgrade() -> None:
    op.execute(ROLE)
    op.execute(GRANTS)
    op.execute(POLICIES)
    op.execute(COLUMN_GRANTS)
    op.execute(VIEWS)


def downgrade() -> None:
    op.execute("""
    DROP VIEW agentledger_reporting.tenants, agentledger_reporting.agents,
        agentledger_reporting.runs, agentledger_reporting.decisions, agentledger_reporting.alerts,
        agentledger_reporting.events, agentledger_reporting.memory_entities,
        agentledger_reporting.memory_relationships, agentledger_reporting.tasks,
        agentledger_reporting.sessions, agentledger_reporting.session_chunks,
        agentledger_reporting.session_artifacts;
    DROP SCHEMA agentledger_reporting;

    REVOKE ALL ON agentledger.tenants, agentledger.agents, agentledger.runs,
        agentledger.decisions, agentledger.alerts, agentledger.events,
        agentledger.memory_entities, agentledger.memory_relationships, agentledger.tasks,
        agentledger.task_archive, agentledger.sessions, agentledger.session_chunks,
        agentledger.session_artifacts
        FROM agentledger_reporting;

    DROP POLICY reporting_read ON agentledger.tenants;
    DROP POLICY reporting_scope ON agentledger.tenants;
    DROP POLICY reporting_read ON agentledger.agents;
    DROP POLICY reporting_scope ON agentledger.agents;
    DROP POLICY reporting_read ON agentledger.runs;
    DROP POLICY reporting_scope ON agentledger.runs;
    DROP POLICY reporting_read ON agentledger.decisions;
    DROP POLICY reporting_scope ON agentledger.decisions;
    DROP POLICY reporting_read ON agentledger.alerts;
    DROP POLICY reporting_scope ON agentledger.alerts;
    DROP POLICY reporting_read ON agentledger.events;
    DROP POLICY reporting_scope ON agentledger.events;
    DROP POLICY reporting_read ON agentledger.memory_entities;
    DROP POLICY reporting_scope ON agentledger.memory_entities;
    DROP POLICY reporting_read ON agentledger.memory_relationships;
    DROP POLICY reporting_scope ON agentledger.memory_relationships;
    DROP POLICY reporting_read ON agentledger.tasks;
    DROP POLICY reporting_scope ON agentledger.tasks;
    DROP POLICY reporting_read ON agentledger.task_archive;
    DROP POLICY reporting_scope ON agentledger.task_archive;
    DROP POLICY reporting_read ON agentledger.sessions;
    DROP POLICY reporting_scope ON agentledger.sessions;
    DROP POLICY reporting_read ON agentledger.session_chunks;
    DROP POLICY reporting_scope ON agentledger.session_chunks;
    DROP POLICY reporting_read ON agentledger.session_artifacts;
    DROP POLICY reporting_scope ON agentledger.session_artifacts;

    DROP FUNCTION agentledger.reporting_tenants();
    DROP TABLE agentledger.reporting_grants;
    """)
