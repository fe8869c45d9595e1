"""Memory search through SECURITY DEFINER functions, so that its indexes carry it under RLS.

Through the app role, every memory query runs under the tenant policy, and PostgreSQL may
only evaluate leakproof operators before a policy: pg_trgm's ``%`` and full-text ``@@`` are
not leakproof, so they could not be index conditions and unscoped fuzzy / full-text / hybrid
searches scanned the whole tenant. These functions run as the migration owner, which is not
under the policy (a superuser bypasses RLS; a plain owner gets its own ``USING (true)``
SELECT policy below), and enforce the tenant themselves: every query in them filters
``tenant_id = agentledger.current_tenant()``, so an unbound caller (NULL or '') finds nothing,
and the user scope exactly as the library's queries did.

Each body is one ``RETURN QUERY`` planned per call with its arguments as constants
(``plan_cache_mode = force_custom_plan``), so an absent filter folds away as it did when the
statement came from the client. The search path is only ``pg_catalog, pg_temp``; extension
operators are schema-qualified through the ``@trgm@`` / ``@vector@`` / ``@similar@`` tokens
of ``helpers.create_function``. A function whose extension is absent is not created; the
library checks the extension first and raises MissingExtension.

The query as a tsquery is written inline (not a CTE joined in) so that the planner folds it
to a constant and ``@@`` becomes a GIN index condition. Hybrid search runs bounded branches
(capped text matches, index-ordered KNN for names and embeddings) and fuses their ranks.

Revision ID: memory_0003
Revises: memory_0002
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function

revision = "memory_0003"
down_revision = "memory_0002"
branch_labels = None
depends_on = None

# What every search function returns (scores a search does not compute are NULL).
HIT_TYPE = """
CREATE TYPE agentledger.memory_search_hit_v1 AS (
    id uuid, kind text, name text, summary text, attrs jsonb, tags text[], status text,
    relevance double precision, user_id text, shared boolean, source text, key text,
    update_count integer, access_count bigint, last_accessed_at timestamptz,
    created_at timestamptz, updated_at timestamptz, score double precision,
    text_score double precision, fuzzy_score double precision,
    vector_score double precision, highlight text
);
"""

# Function texts are kept exactly as this revision has always run them (the database
# stores each body as written), long lines included.

TEXT_FN = """
CREATE FUNCTION agentledger.memory_search_text_v1(p_query text,
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
    WITH found AS (
        SELECT e.*, ts_rank_cd(e.search, websearch_to_tsquery('english', p_query))::float8 AS rank
        FROM agentledger.memory_entities e
        WHERE e.search @@ websearch_to_tsquery('english', p_query)
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
        ORDER BY rank DESC, e.id
        LIMIT p_limit
    )
    SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at,
           e.rank, NULL::float8, NULL::float8, NULL::float8, ts_headline('english', concat_ws(' - ', e.name, e.summary), websearch_to_tsquery('english', p_query),
                        'StartSel=<b>, StopSel=</b>, MaxWords=30, MinWords=10')
    FROM found e
    ORDER BY e.rank DESC, e.id;
END
$fn$;
"""  # noqa: E501

NAME_FN = """
CREATE FUNCTION agentledger.memory_search_name_v1(p_name text,
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
               @trgm@.similarity(e.name, p_name)::float8, NULL::float8, NULL::float8,
               NULL::float8, NULL::text
        FROM agentledger.memory_entities e
        WHERE e.name @similar@ p_name
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
        ORDER BY e.name OPERATOR(@trgm@.<->) p_name, e.id
        LIMIT p_limit;
END
$fn$;
"""

VECTOR_FN = """
CREATE FUNCTION agentledger.memory_search_vector_v1(p_embedding @vector@.vector,
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
    -- The HNSW scan first; an exact scan of the scope takes over when the index finds
    -- fewer than p_limit, so a narrow filter never silently shortens the answer.
    RETURN QUERY
    WITH ann AS MATERIALIZED (
        SELECT e.id, e.embedding OPERATOR(@vector@.<=>) p_embedding AS distance
        FROM agentledger.memory_entities e
        WHERE e.embedding IS NOT NULL
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
        ORDER BY e.embedding OPERATOR(@vector@.<=>) p_embedding
        LIMIT p_limit
    ), exact AS (
        SELECT e.id, e.embedding OPERATOR(@vector@.<=>) p_embedding AS distance
        FROM agentledger.memory_entities e
        WHERE (SELECT count(*) FROM ann) < p_limit
          AND e.embedding IS NOT NULL
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
        ORDER BY (e.embedding OPERATOR(@vector@.<=>) p_embedding) + 0
        LIMIT p_limit
    ), hits AS (
        SELECT * FROM ann WHERE (SELECT count(*) FROM ann) >= p_limit
        UNION ALL
        SELECT * FROM exact
    )
    SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at,
           (1 - h.distance)::float8, NULL::float8, NULL::float8, NULL::float8, NULL::text
    FROM hits h
    JOIN agentledger.memory_entities e
      ON e.tenant_id = agentledger.current_tenant() AND e.id = h.id
    ORDER BY h.distance, e.id;
END
$fn$;
"""

HYBRID_FN = """
CREATE FUNCTION agentledger.memory_search_hybrid_v1(p_query text, p_pool integer, p_text_cap integer, p_rrf_k integer,
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
    WITH text_found AS MATERIALIZED (
        -- At most p_text_cap matches, as the GIN index yields them: ranking every match
        -- of a common word would cost time proportional to the table.
        SELECT e.id, e.search
        FROM agentledger.memory_entities e
        WHERE e.search @@ websearch_to_tsquery('english', p_query)
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
        LIMIT p_text_cap
    ), text_hits AS (
        SELECT r.id, r.score, row_number() OVER (ORDER BY r.score DESC, r.id) AS rank
        FROM (
            SELECT t.id, ts_rank_cd(t.search, websearch_to_tsquery('english', p_query))::float8 AS score
            FROM text_found t
            ORDER BY score DESC, t.id
            LIMIT p_pool
        ) r
    ), fuzzy_hits AS (
        SELECT f.id, f.score, row_number() OVER (ORDER BY f.distance, f.id) AS rank
        FROM (
            SELECT e.id, @trgm@.similarity(e.name, p_query)::float8 AS score,
                   e.name OPERATOR(@trgm@.<->) p_query AS distance
            FROM agentledger.memory_entities e
            WHERE e.name @similar@ p_query
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
            ORDER BY e.name OPERATOR(@trgm@.<->) p_query, e.id
            LIMIT p_pool
        ) f
    ), fused AS (
        SELECT u.id, sum(1.0 / (p_rrf_k + u.rank))::float8 AS score,
               max(u.text_score) AS text_score, max(u.fuzzy_score) AS fuzzy_score,
               max(u.vector_score) AS vector_score
        FROM (
            SELECT t.id, t.rank, t.score AS text_score, NULL::float8 AS fuzzy_score,
                   NULL::float8 AS vector_score FROM text_hits t
            UNION ALL
            SELECT f.id, f.rank, NULL, f.score, NULL FROM fuzzy_hits f
            
        ) u
        GROUP BY u.id
        ORDER BY score DESC, u.id
        LIMIT p_limit
    )
    SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at,
           f.score, f.text_score, f.fuzzy_score, f.vector_score,
           CASE WHEN f.text_score IS NOT NULL THEN ts_headline('english', concat_ws(' - ', e.name, e.summary), websearch_to_tsquery('english', p_query),
                        'StartSel=<b>, StopSel=</b>, MaxWords=30, MinWords=10') END
    FROM fused f
    JOIN agentledger.memory_entities e
      ON e.tenant_id = agentledger.current_tenant() AND e.id = f.id
    ORDER BY f.score DESC, e.id;
END
$fn$;
"""  # noqa: E501, W293

HYBRID_VECTOR_FN = """
CREATE FUNCTION agentledger.memory_search_hybrid_vector_v1(p_query text, p_pool integer, p_text_cap integer, p_rrf_k integer, p_embedding @vector@.vector,
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
    WITH text_found AS MATERIALIZED (
        -- At most p_text_cap matches, as the GIN index yields them: ranking every match
        -- of a common word would cost time proportional to the table.
        SELECT e.id, e.search
        FROM agentledger.memory_entities e
        WHERE e.search @@ websearch_to_tsquery('english', p_query)
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
        LIMIT p_text_cap
    ), text_hits AS (
        SELECT r.id, r.score, row_number() OVER (ORDER BY r.score DESC, r.id) AS rank
        FROM (
            SELECT t.id, ts_rank_cd(t.search, websearch_to_tsquery('english', p_query))::float8 AS score
            FROM text_found t
            ORDER BY score DESC, t.id
            LIMIT p_pool
        ) r
    ), fuzzy_hits AS (
        SELECT f.id, f.score, row_number() OVER (ORDER BY f.distance, f.id) AS rank
        FROM (
            SELECT e.id, @trgm@.similarity(e.name, p_query)::float8 AS score,
                   e.name OPERATOR(@trgm@.<->) p_query AS distance
            FROM agentledger.memory_entities e
            WHERE e.name @similar@ p_query
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
            ORDER BY e.name OPERATOR(@trgm@.<->) p_query, e.id
            LIMIT p_pool
        ) f
    ), vector_hits AS (
        SELECT v.id, 1 - v.distance AS score,
               row_number() OVER (ORDER BY v.distance, v.id) AS rank
        FROM (
            SELECT e.id, e.embedding OPERATOR(@vector@.<=>) p_embedding AS distance
            FROM agentledger.memory_entities e
            WHERE e.embedding IS NOT NULL
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
            ORDER BY e.embedding OPERATOR(@vector@.<=>) p_embedding
            LIMIT p_pool
        ) v
    ), fused AS (
        SELECT u.id, sum(1.0 / (p_rrf_k + u.rank))::float8 AS score,
               max(u.text_score) AS text_score, max(u.fuzzy_score) AS fuzzy_score,
               max(u.vector_score) AS vector_score
        FROM (
            SELECT t.id, t.rank, t.score AS text_score, NULL::float8 AS fuzzy_score,
                   NULL::float8 AS vector_score FROM text_hits t
            UNION ALL
            SELECT f.id, f.rank, NULL, f.score, NULL FROM fuzzy_hits f
            UNION ALL
            SELECT x.id, x.rank, NULL, NULL, x.score FROM vector_hits x
        ) u
        GROUP BY u.id
        ORDER BY score DESC, u.id
        LIMIT p_limit
    )
    SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at,
           f.score, f.text_score, f.fuzzy_score, f.vector_score,
           CASE WHEN f.text_score IS NOT NULL THEN ts_headline('english', concat_ws(' - ', e.name, e.summary), websearch_to_tsquery('english', p_query),
                        'StartSel=<b>, StopSel=</b>, MaxWords=30, MinWords=10') END
    FROM fused f
    JOIN agentledger.memory_entities e
      ON e.tenant_id = agentledger.current_tenant() AND e.id = f.id
    ORDER BY f.score DESC, e.id;
END
$fn$;
"""  # noqa: E501

# (function, its DDL, the extensions it needs)
FUNCTIONS = (
    ("memory_search_text_v1", TEXT_FN, ()),
    ("memory_search_name_v1", NAME_FN, ("pg_trgm",)),
    ("memory_search_hybrid_v1", HYBRID_FN, ("pg_trgm",)),
    ("memory_search_vector_v1", VECTOR_FN, ("vector",)),
    ("memory_search_hybrid_vector_v1", HYBRID_VECTOR_FN, ("pg_trgm", "vector")),
)


def upgrade() -> None:
    role = app_role()
    op.execute(HIT_TYPE)
    for name, ddl, needs in FUNCTIONS:
        op.execute(create_function(name, ddl, needs, role))
    # A plain (non-superuser) owner is itself under the FORCEd tenant policy; this policy
    # lets it, and so the definer functions, read every tenant's entities (they filter the
    # tenant themselves). Inert for a superuser owner, who bypasses RLS anyway; never
    # created for the app role.
    op.execute(
        """
    DO $do$
    BEGIN
        IF current_user <> '"""
        + role
        + """' THEN
            CREATE POLICY definer_search ON agentledger.memory_entities
                FOR SELECT TO CURRENT_USER USING (true);
        END IF;
    END
    $do$;
    """
    )


def downgrade() -> None:
    op.execute("""
    DROP POLICY IF EXISTS definer_search ON agentledger.memory_entities;
    DROP FUNCTION IF EXISTS agentledger.memory_search_hybrid_vector_v1;
    DROP FUNCTION IF EXISTS agentledger.memory_search_vector_v1;
    DROP FUNCTION IF EXISTS agentledger.memory_search_hybrid_v1;
    DROP FUNCTION IF EXISTS agentledger.memory_search_name_v1;
    DROP FUNCTION IF EXISTS agentledger.memory_search_text_v1;
    DROP TYPE agentledger.memory_search_hit_v1;
    """)
