"""Filtered memory listings through a SECURITY DEFINER function, like the searches.

Under the tenant policy PostgreSQL evaluates only leakproof operators before the policy;
``@>`` on tags and attrs and ``@@`` on jsonpath are not, so a listing filtered by tags or
attributes could not use their GIN indexes: it walked the tenant's rows newest first and
filtered each. In a definer function (which enforces the tenant itself, as memory_0003's
do) those filters are index conditions again. Same rows, same order, same keyset cursor.

Revision ID: memory_0005
Revises: memory_0004
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function

revision = "memory_0005"
down_revision = "memory_0004"
branch_labels = None
depends_on = None

LIST_FN = """
CREATE FUNCTION agentledger.memory_list_v1(p_after_updated timestamptz, p_after_id uuid,
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
               NULL::float8, NULL::float8, NULL::float8, NULL::float8, NULL::text
        FROM agentledger.memory_entities e
        WHERE (p_after_updated IS NULL OR (e.updated_at, e.id) < (p_after_updated, p_after_id))
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
        ORDER BY e.updated_at DESC, e.id DESC
        LIMIT p_limit;
END
$fn$;
"""


def upgrade() -> None:
    op.execute(create_function("memory_list_v1", LIST_FN, (), app_role()))


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS agentledger.memory_list_v1;")
