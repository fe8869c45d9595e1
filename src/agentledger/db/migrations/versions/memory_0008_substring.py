"""Substring search of entity names and summaries: trigram GIN indexes and a definer function.

``ILIKE '%cme%'`` finds "Acme Corp", but only a trigram index (pg_trgm's ``gin_trgm_ops``)
can serve it without reading every row. Under the tenant policy PostgreSQL evaluates only
leakproof operators before the policy, and ``~~*`` is not one, so through the policy the
indexes could not be used: like the other searches (memory_0003, memory_0005), the query runs
in a ``SECURITY DEFINER`` function that enforces the tenant and the user scope itself. The
function needs only core operators, so it exists without pg_trgm (then it scans); the
indexes are created when pg_trgm is installed. The caller passes an escaped pattern.

Revision ID: memory_0008
Revises: memory_0007
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function

revision = "memory_0008"
down_revision = "memory_0007"
branch_labels = None
depends_on = None

# GIN trigram indexes of name and summary, their operator class qualified by pg_trgm's schema.
INDEXES = """
DO $do$
DECLARE
    v_trgm text := (SELECT extnamespace::regnamespace::text FROM pg_extension
                    WHERE extname = 'pg_trgm');
BEGIN
    IF v_trgm IS NOT NULL THEN
        EXECUTE 'CREATE INDEX memory_entities_name_gin_trgm_idx ON agentledger.memory_entities'
            || ' USING gin (name ' || v_trgm || '.gin_trgm_ops)';
        EXECUTE 'CREATE INDEX memory_entities_summary_gin_trgm_idx'
            || ' ON agentledger.memory_entities USING gin (summary ' || v_trgm
            || '.gin_trgm_ops)';
    END IF;
END
$do$;
"""

# Name matches first (score 1), then summary-only ones (0.5); shorter names first in each.
SUBSTRING_FN = """
CREATE FUNCTION agentledger.memory_search_substring_v1(p_pattern text,
    p_user text, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS SETOF agentledger.memory_search_hit_v1
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $fn$
BEGIN
    RETURN QUERY
        SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at,
               CASE WHEN e.name ILIKE p_pattern THEN 1.0 ELSE 0.5 END::float8,
               NULL::float8, NULL::float8, NULL::float8, NULL::text
        FROM agentledger.memory_entities e
        WHERE (e.name ILIKE p_pattern OR e.summary ILIKE p_pattern)
          AND e.tenant_id = agentledger.current_tenant()
          AND (p_user IS NULL OR e.user_id = '' OR e.user_id = p_user OR e.shared)
          AND (p_kinds IS NULL OR e.kind = ANY(p_kinds))
          AND (p_tags IS NULL OR e.tags @> p_tags)
          AND (p_attrs IS NULL OR e.attrs @> p_attrs)
          AND (p_where IS NULL OR e.attrs @@ p_where)
          AND (p_created_after IS NULL OR e.created_at >= p_created_after)
          AND (p_created_before IS NULL OR e.created_at < p_created_before)
          AND (p_updated_after IS NULL OR e.updated_at >= p_updated_after)
          AND (p_updated_before IS NULL OR e.updated_at < p_updated_before)
          AND (p_archived OR e.status = 'active')
        ORDER BY e.name ILIKE p_pattern DESC, length(e.name), e.name, e.id
        LIMIT p_limit;
END
$fn$;
"""


def upgrade() -> None:
    op.execute(INDEXES)
    op.execute(create_function("memory_search_substring_v1", SUBSTRING_FN, (), app_role()))


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS agentledger.memory_search_substring_v1;")
    op.execute("DROP INDEX IF EXISTS agentledger.memory_entities_summary_gin_trgm_idx;")
    op.execute("DROP INDEX IF EXISTS agentledger.memory_entities_name_gin_trgm_idx;")
