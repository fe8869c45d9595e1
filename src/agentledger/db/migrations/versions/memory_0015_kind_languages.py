"""A text-search configuration per entity kind, and queries in every configuration in use.

**Per kind.** ``memory_kind_languages`` holds a tenant's overrides: the entities of a kind
are indexed in its configuration, the others in the tenant's (``memory_settings``,
memory_0013; ``english`` when unset). Each entity still names its configuration in
``text_config``; the library writes the effective one on every upsert and re-indexes
the kind's stored entities in background batches when an override changes.

**Queries.** ``memory_text_configs_v1`` lists the configurations a search may meet: those of
the kinds it is filtered to (each kind's override, else the tenant's), or, unfiltered,
the tenant's and every override of the tenant (a handful). ``memory_tsquery_v1`` ORs the
query parsed in each of them (``websearch_to_tsquery(c, q) || ...``), so one tsquery,
served by the one GIN index, finds an entity by a word of its own language whichever
kind it is; with one configuration in use it is the query of before. The text and hybrid
searches are created anew over them (``memory_search_text_v6``,
``memory_search_hybrid_v6``, ``memory_search_hybrid_vector_v7``) and highlight each hit in
its own configuration; the earlier versions stay for callers of the previous release.
Both helpers serve the definer functions only (no EXECUTE for the app role).

Revision ID: memory_0015
Revises: memory_0014
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function, tenant_table

revision = "memory_0015"
down_revision = "memory_0014"
branch_labels = None
depends_on = None


def _schema() -> str:
    return f"""
-- A tenant's text-search configuration for the entities of one kind (else the tenant's).
CREATE TABLE agentledger.memory_kind_languages (
    tenant_id   text NOT NULL REFERENCES agentledger.tenants (id),
    kind        text NOT NULL CONSTRAINT memory_kind_languages_kind
                CHECK (length(kind) BETWEEN 1 AND 100),
    text_config text NOT NULL CONSTRAINT memory_kind_languages_text_config
                CHECK (length(text_config) BETWEEN 1 AND 200),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind)
);
{tenant_table("memory_kind_languages")}
"""


CONFIGS_FN = """
CREATE FUNCTION agentledger.memory_text_configs_v1(p_kinds text[])
    RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
    -- The configurations of the kinds given (each kind's, else the tenant's), or with no
    -- kinds the tenant's and every kind's override: distinct, in name order.
    WITH tenant AS (
        SELECT coalesce((SELECT s.text_config FROM agentledger.memory_settings s
                         WHERE s.tenant_id = agentledger.current_tenant()), 'english') AS config
    )
    SELECT coalesce(array_agg(DISTINCT c.config ORDER BY c.config), ARRAY['english'])
    FROM (
        SELECT t.config FROM tenant t WHERE p_kinds IS NULL
        UNION ALL
        SELECT k.text_config FROM agentledger.memory_kind_languages k
        WHERE p_kinds IS NULL AND k.tenant_id = agentledger.current_tenant()
        UNION ALL
        SELECT coalesce(k.text_config, t.config)
        FROM unnest(p_kinds) AS u(kind)
        CROSS JOIN tenant t
        LEFT JOIN agentledger.memory_kind_languages k
            ON k.tenant_id = agentledger.current_tenant() AND k.kind = u.kind
    ) c
$fn$;
"""

TSQUERY_FN = """
CREATE FUNCTION agentledger.memory_tsquery_v1(p_configs text[], p_query text)
    RETURNS tsquery
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_each tsquery;
    v_query tsquery;
BEGIN
    -- The query parsed in each configuration, ORed (each distinct parse once; one with no
    -- lexeme, all stop words, adds nothing).
    FOR v_each IN
        SELECT DISTINCT websearch_to_tsquery(c.config::regconfig, p_query) AS q
        FROM unnest(p_configs) AS c(config)
        ORDER BY q
    LOOP
        IF numnode(v_each) > 0 THEN
            v_query := CASE WHEN v_query IS NULL THEN v_each ELSE v_query || v_each END;
        END IF;
    END LOOP;
    RETURN coalesce(v_query,
                    websearch_to_tsquery(coalesce(p_configs[1], 'english')::regconfig, p_query));
END
$fn$;
"""

TEXT_FN = """
CREATE FUNCTION agentledger.memory_search_text_v6(p_query text,
    p_user text, p_own boolean, p_session uuid, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS SETOF agentledger.memory_search_hit_v2
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    -- The query in every configuration the searched kinds use (memory_text_configs_v1).
    v_tsquery tsquery := agentledger.memory_tsquery_v1(
        agentledger.memory_text_configs_v1(p_kinds), p_query);
    -- A session of fewer than 2,000 entities (counted on the session index).
    v_in_session boolean := p_session IS NOT NULL AND (
        SELECT count(*) < 2000 FROM (
            SELECT 1 FROM agentledger.memory_entities c
            WHERE c.tenant_id = agentledger.current_tenant() AND c.session_id = p_session
            LIMIT 2000) s);
    -- Else the own scope of a user with fewer than 2,000 entities (counted on the user index).
    v_scan boolean := NOT v_in_session AND p_own AND p_user IS NOT NULL AND (
        SELECT count(*) < 2000 FROM (
            SELECT 1 FROM agentledger.memory_entities c
            WHERE c.tenant_id = agentledger.current_tenant() AND c.user_id = p_user
            LIMIT 2000) s);
BEGIN
    RETURN QUERY
    WITH found AS (
        SELECT e.*, ts_rank_cd(e.search, v_tsquery)::float8 AS rank
        FROM (
            SELECT t.* FROM agentledger.memory_entities t
            WHERE NOT v_scan AND NOT v_in_session
              AND t.search @@ v_tsquery
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
            WHERE m.search @@ v_tsquery
            UNION ALL
            SELECT m.* FROM (
                SELECT s.* FROM agentledger.memory_entities s
                WHERE v_in_session
                  AND s.tenant_id = agentledger.current_tenant() AND s.session_id = p_session
                OFFSET 0
            ) m
            WHERE (m.search @@ v_tsquery)
              AND (p_user IS NULL OR m.user_id = p_user
                   OR (NOT p_own AND (m.user_id = '' OR m.shared)))
        ) e
        WHERE (p_session IS NULL OR e.session_id = p_session)
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
    -- Each hit highlighted in the configuration it is indexed in.
    SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at, e.session_id,
           e.rank, NULL::float8, NULL::float8, NULL::float8,
           ts_headline(e.text_config::regconfig, concat_ws(' - ', e.name, e.summary), v_tsquery,
                       'StartSel=<b>, StopSel=</b>, MaxWords=30, MinWords=10')
    FROM found e
    ORDER BY e.rank DESC, e.id;
END
$fn$;
"""  # noqa: E501

# The hybrid searches: {vector_arg} and {vector_cte}/{vector_union} set apart the one with
# a vector signal; the text is otherwise the same.
_HYBRID = """
CREATE FUNCTION agentledger.{name}(p_query text, p_pool integer, p_text_cap integer, p_rrf_k integer, p_threshold double precision, p_cap integer,{vector_arg}
    p_user text, p_own boolean, p_session uuid, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS SETOF agentledger.memory_search_hit_v2
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $fn$
DECLARE
    -- The query in every configuration the searched kinds use (memory_text_configs_v1).
    v_tsquery tsquery := agentledger.memory_tsquery_v1(
        agentledger.memory_text_configs_v1(p_kinds), p_query);
BEGIN
    RETURN QUERY
    WITH text_found AS MATERIALIZED (
        -- At most p_text_cap matches, as the GIN index yields them: ranking every match
        -- of a common word would cost time proportional to the table.
        SELECT e.id, e.search
        FROM agentledger.memory_entities e
        WHERE e.search @@ v_tsquery
          AND e.tenant_id = agentledger.current_tenant()
          AND (p_user IS NULL OR e.user_id = p_user OR (NOT p_own AND (e.user_id = '' OR e.shared)))
          AND (p_session IS NULL OR e.session_id = p_session)
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
            SELECT t.id, ts_rank_cd(t.search, v_tsquery)::float8 AS score
            FROM text_found t
            ORDER BY score DESC, t.id
            LIMIT p_pool
        ) r
    ), fuzzy_hits AS (
        SELECT f.id, f.score, row_number() OVER (ORDER BY f.score DESC, f.id) AS rank
        FROM agentledger.memory_fuzzy_v3(p_query, p_threshold, p_cap, p_user, p_own, p_session, p_kinds,
            p_tags, p_attrs, p_where, p_created_after, p_created_before, p_updated_after,
            p_updated_before, p_archived, p_pool) f
    ){vector_cte}, fused AS (
        SELECT u.id, sum(1.0 / (p_rrf_k + u.rank))::float8 AS score,
               max(u.text_score) AS text_score, max(u.fuzzy_score) AS fuzzy_score,
               max(u.vector_score) AS vector_score
        FROM (
            SELECT t.id, t.rank, t.score AS text_score, NULL::float8 AS fuzzy_score,
                   NULL::float8 AS vector_score FROM text_hits t
            UNION ALL
            SELECT f.id, f.rank, NULL, f.score, NULL FROM fuzzy_hits f{vector_union}
        ) u
        GROUP BY u.id
        ORDER BY score DESC, u.id
        LIMIT p_limit
    )
    -- A text hit highlighted in the configuration it is indexed in.
    SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at, e.session_id,
           f.score, f.text_score, f.fuzzy_score, f.vector_score,
           CASE WHEN f.text_score IS NOT NULL THEN ts_headline(e.text_config::regconfig, concat_ws(' - ', e.name, e.summary), v_tsquery,
                        'StartSel=<b>, StopSel=</b>, MaxWords=30, MinWords=10') END
    FROM fused f
    JOIN agentledger.memory_entities e
      ON e.tenant_id = agentledger.current_tenant() AND e.id = f.id
    ORDER BY f.score DESC, e.id;
END
$fn$;
"""  # noqa: E501

HYBRID_FN = _HYBRID.format(
    name="memory_search_hybrid_v6", vector_arg="", vector_cte="", vector_union=""
)

HYBRID_VECTOR_FN = _HYBRID.format(
    name="memory_search_hybrid_vector_v7",
    vector_arg="\n    p_space bigint, p_embedding @vector@.vector,",
    vector_cte="""
    , vector_hits AS (
        SELECT n.id, n.score, row_number() OVER (ORDER BY n.distance, n.id) AS rank
        FROM agentledger.memory_nearest_v2(p_space, p_embedding, p_user, p_own, p_session,
            p_kinds, p_tags, p_attrs, p_where, p_created_after, p_created_before,
            p_updated_after, p_updated_before, p_archived, p_pool) n
    )""",
    vector_union="""
            UNION ALL
            SELECT x.id, x.rank, NULL, NULL, x.score FROM vector_hits x""",
)

# Building blocks of the searches, for the functions' owner only.
HELPERS = (
    ("memory_text_configs_v1(text[])", CONFIGS_FN),
    ("memory_tsquery_v1(text[], text)", TSQUERY_FN),
)

# (function, its DDL, the extensions it needs), callees first.
FUNCTIONS = (
    ("memory_search_text_v6", TEXT_FN, ()),
    ("memory_search_hybrid_v6", HYBRID_FN, ("pg_trgm",)),
    ("memory_search_hybrid_vector_v7", HYBRID_VECTOR_FN, ("pg_trgm", "vector")),
)


def upgrade() -> None:
    role = app_role()
    op.execute(_schema())
    for signature, ddl in HELPERS:
        op.execute(ddl)
        op.execute(f"REVOKE ALL ON FUNCTION agentledger.{signature} FROM PUBLIC")
    for name, ddl, needs in FUNCTIONS:
        op.execute(create_function(name, ddl, needs, role))


def downgrade() -> None:
    for name, _, _ in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION IF EXISTS agentledger.{name};")
    for signature, _ in reversed(HELPERS):
        op.execute(f"DROP FUNCTION agentledger.{signature};")
    op.execute("DROP TABLE agentledger.memory_kind_languages;")
