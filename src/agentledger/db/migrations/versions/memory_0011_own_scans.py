"""A small user's own-scope text and substring searches read that user's entities alone.

Through the full-text and trigram GIN indexes a search finds its matches across the whole
tenant and only then keeps the caller's: a common word matched in a tenant of a million
entities costs a million-entity bitmap, however few the user owns. With the own scope
(``p_own`` and ``p_user``) and a user of fewer than 2,000 entities (counted first, on the
tenant/user index, stopping at 2,000), these versions read the user's entities through that
index and test the match on each, so the cost follows the size of the user's memory, not
the tenant's. A larger user, and every other scope, runs memory_0009's query: past a few
thousand rows, testing each costs more than the indexes' bitmap. The two paths are the arms
of one UNION ALL guarded by that test, a variable the custom plan
(``force_custom_plan``) sees as a constant, so the other arm is never planned; ``OFFSET 0``
keeps the match out of the user scan, so no GIN index is chosen for it.

Revision ID: memory_0011
Revises: memory_0010
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function

revision = "memory_0011"
down_revision = "memory_0010"
branch_labels = None
depends_on = None

TEXT_FN = """
CREATE FUNCTION agentledger.memory_search_text_v3(p_query text,
    p_user text, p_own boolean, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS SETOF agentledger.memory_search_hit_v1
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    -- The own scope of a user with fewer than 2,000 entities (counted on the user index).
    v_scan boolean := p_own AND p_user IS NOT NULL AND (
        SELECT count(*) < 2000 FROM (
            SELECT 1 FROM agentledger.memory_entities c
            WHERE c.tenant_id = agentledger.current_tenant() AND c.user_id = p_user
            LIMIT 2000) s);
BEGIN
    RETURN QUERY
    WITH found AS (
        SELECT e.*, ts_rank_cd(e.search, websearch_to_tsquery('english', p_query))::float8 AS rank
        FROM (
            SELECT t.* FROM agentledger.memory_entities t
            WHERE NOT v_scan
              AND t.search @@ websearch_to_tsquery('english', p_query)
              AND t.tenant_id = agentledger.current_tenant()
              AND (p_user IS NULL OR t.user_id = p_user
                   OR (NOT p_own AND (t.user_id = '' OR t.shared)))
            UNION ALL
            SELECT m.* FROM (
                SELECT u.* FROM agentledger.memory_entities u
                WHERE v_scan
                  AND u.tenant_id = agentledger.current_tenant() AND u.user_id = p_user
                OFFSET 0
            ) m
            WHERE m.search @@ websearch_to_tsquery('english', p_query)
        ) e
        WHERE (p_kinds IS NULL OR e.kind = ANY(p_kinds))
          AND (p_tags IS NULL OR e.tags @> p_tags)
          AND (p_attrs IS NULL OR e.attrs @> p_attrs)
          AND (p_where IS NULL OR e.attrs @@ p_where)
          AND (p_created_after IS NULL OR e.created_at >= p_created_after)
          AND (p_created_before IS NULL OR e.created_at < p_created_before)
          AND (p_updated_after IS NULL OR e.updated_at >= p_updated_after)
          AND (p_updated_before IS NULL OR e.updated_at < p_updated_before)
          AND (p_archived OR e.status = 'active')
        ORDER BY rank DESC, e.id
        LIMIT p_limit
    )
    SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at,
           e.rank, NULL::float8, NULL::float8, NULL::float8,
           ts_headline('english', concat_ws(' - ', e.name, e.summary),
                       websearch_to_tsquery('english', p_query),
                       'StartSel=<b>, StopSel=</b>, MaxWords=30, MinWords=10')
    FROM found e
    ORDER BY e.rank DESC, e.id;
END
$fn$;
"""

# Name matches first (score 1), then summary-only ones (0.5); shorter names first in each.
SUBSTRING_FN = """
CREATE FUNCTION agentledger.memory_search_substring_v3(p_pattern text,
    p_user text, p_own boolean, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS SETOF agentledger.memory_search_hit_v1
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    -- The own scope of a user with fewer than 2,000 entities (counted on the user index).
    v_scan boolean := p_own AND p_user IS NOT NULL AND (
        SELECT count(*) < 2000 FROM (
            SELECT 1 FROM agentledger.memory_entities c
            WHERE c.tenant_id = agentledger.current_tenant() AND c.user_id = p_user
            LIMIT 2000) s);
BEGIN
    RETURN QUERY
        SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at,
               CASE WHEN e.name ILIKE p_pattern THEN 1.0 ELSE 0.5 END::float8,
               NULL::float8, NULL::float8, NULL::float8, NULL::text
        FROM (
            SELECT t.* FROM agentledger.memory_entities t
            WHERE NOT v_scan
              AND (t.name ILIKE p_pattern OR t.summary ILIKE p_pattern)
              AND t.tenant_id = agentledger.current_tenant()
              AND (p_user IS NULL OR t.user_id = p_user
                   OR (NOT p_own AND (t.user_id = '' OR t.shared)))
            UNION ALL
            SELECT m.* FROM (
                SELECT u.* FROM agentledger.memory_entities u
                WHERE v_scan
                  AND u.tenant_id = agentledger.current_tenant() AND u.user_id = p_user
                OFFSET 0
            ) m
            WHERE m.name ILIKE p_pattern OR m.summary ILIKE p_pattern
        ) e
        WHERE (p_kinds IS NULL OR e.kind = ANY(p_kinds))
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

FUNCTIONS = (
    ("memory_search_text_v3", TEXT_FN),
    ("memory_search_substring_v3", SUBSTRING_FN),
)


def upgrade() -> None:
    role = app_role()
    for name, ddl in FUNCTIONS:
        op.execute(create_function(name, ddl, (), role))


def downgrade() -> None:
    for name, _ in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION IF EXISTS agentledger.{name};")
