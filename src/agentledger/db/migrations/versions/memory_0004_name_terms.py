"""Fuzzy name search through a per-tenant word dictionary, so that its cost does not grow
with the table.

A trigram index over whole names (memory_0001's GiST) must visit every name sharing a few
trigrams with the query: at a million entities a misspelt name read ~15k index pages. Search
engines expand each query word against their term dictionary instead; so does this revision:

* ``memory_name_terms`` holds every word that occurs in a tenant's entity names (kept by
  statement triggers; a few thousand words for a million names, since names reuse words).
  A misspelt query word finds its close words there (pg_trgm, ``%`` at a similarity of 0.2).
* Each entity's name words are indexed (GIN) as lexemes prefixed with the tenant, and again
  with the tenant and the entity's visibility (its user, or '' when it is unowned or
  shared), so a tenant-wide or user-scoped lookup of "any close word of each query word"
  reads posting lists of that tenant and that scope only.
* ``memory_fuzzy_v1`` ranks by trigram similarity of the whole name (the caller's threshold)
  the entities holding a close word for every query word, then, when that finds fewer than
  the limit, those holding a close word for any query word; each pass ranks at most ``p_cap``
  candidates, and a last pass fills the limit from the rest, so a search returns the full
  limit whenever that many names in scope share a close word with the query.

The name and hybrid search functions get a v2 on top of it (v1 stays for older clients, now
without its index). Deleting entities leaves their words in the dictionary (a word without
entities expands to nothing).

Revision ID: memory_0004
Revises: memory_0003
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function, tenant_table

revision = "memory_0004"
down_revision = "memory_0003"
branch_labels = None
depends_on = None

DICTIONARY = """
-- The words of a name, as the 'simple' text search parser splits and lowercases them.
CREATE FUNCTION agentledger.memory_name_words(p_name text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN tsvector_to_array(to_tsvector('simple'::regconfig, p_name));

-- What the name index holds for one entity: each word as '<tenant> <word>' and as
-- '<tenant> <user> <word>' ('<tenant>  <word>' when unowned or shared). Tenant ids and words
-- hold no space, so every lexeme reads back one way.
CREATE FUNCTION agentledger.memory_name_lexemes(
    p_tenant text, p_user text, p_shared boolean, p_name text
) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (
    SELECT array_to_tsvector(coalesce(
        array_agg(p_tenant || ' ' || w)
        || array_agg(p_tenant || ' '
                     || CASE WHEN p_shared OR p_user = '' THEN '' ELSE p_user END || ' ' || w),
        '{}'))
    FROM unnest(agentledger.memory_name_words(p_name)) AS w
);

CREATE TABLE agentledger.memory_name_terms (
    tenant_id text NOT NULL REFERENCES agentledger.tenants (id),
    term      text NOT NULL,
    PRIMARY KEY (tenant_id, term)
);
INSERT INTO agentledger.memory_name_terms (tenant_id, term)
SELECT DISTINCT e.tenant_id, w
FROM agentledger.memory_entities e, unnest(agentledger.memory_name_words(e.name)) AS w;

-- New names add their words (sorted, so concurrent writers take them in one order).
CREATE FUNCTION agentledger.memory_name_terms_add() RETURNS trigger
    LANGUAGE plpgsql
AS $fn$
BEGIN
    INSERT INTO agentledger.memory_name_terms (tenant_id, term)
    SELECT DISTINCT n.tenant_id, w
    FROM changed n, unnest(agentledger.memory_name_words(n.name)) AS w
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER memory_name_terms_insert AFTER INSERT ON agentledger.memory_entities
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.memory_name_terms_add();

CREATE FUNCTION agentledger.memory_name_terms_rename() RETURNS trigger
    LANGUAGE plpgsql
AS $fn$
BEGIN
    INSERT INTO agentledger.memory_name_terms (tenant_id, term)
    SELECT DISTINCT n.tenant_id, w
    FROM changed n
    JOIN previous o ON o.tenant_id = n.tenant_id AND o.id = n.id AND o.name <> n.name,
         unnest(agentledger.memory_name_words(n.name)) AS w
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER memory_name_terms_update AFTER UPDATE ON agentledger.memory_entities
    REFERENCING OLD TABLE AS previous NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.memory_name_terms_rename();

CREATE INDEX memory_entities_name_words_idx ON agentledger.memory_entities
    USING gin (agentledger.memory_name_lexemes(tenant_id, user_id, shared, name));
"""


def _trgm_index(name: str, table: str, column: str) -> str:
    """A DO block creating a GiST trigram index when pg_trgm is installed (its operator
    class qualified by the extension's schema)."""
    return f"""
    DO $do$
    BEGIN
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
            EXECUTE 'CREATE INDEX {name} ON agentledger.{table} USING gist ({column} '
                || (SELECT extnamespace::regnamespace::text
                    FROM pg_extension WHERE extname = 'pg_trgm')
                || '.gist_trgm_ops)';
        END IF;
    END
    $do$;
    """


# memory_fuzzy_v1's numbers: a dictionary word is close to a query word at
# ``pg_trgm.similarity_threshold = 0.2``; the 8 longest words of a query take part, each
# with its 8 closest words; the every-word passes read the closest 1, 3 and 8 words of every
# query word (``ARRAY[1, 3, 8]``), and the any-word pass ranks up to ``p_cap * 4`` names.
# Each pass takes at most its cap of the entities whose name lexemes match (none already
# found) and ranks them by trigram similarity of the whole name.
FUZZY_FN = r"""
CREATE FUNCTION agentledger.memory_fuzzy_v1(p_query text, p_threshold double precision,
    p_cap integer,
    p_user text, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS TABLE (id uuid, score double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 10
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
    SET pg_trgm.similarity_threshold = 0.2
AS $fn$
#variable_conflict use_column
DECLARE
    v_tenant text := agentledger.current_tenant();
    v_tiers tsquery[];  -- the closest 1, 3, ... words of every query word
    v_tier tsquery;
    v_last tsquery;
    v_any tsquery;      -- any close word of any query word
    v_ids uuid[] := '{}';
    v_scores float8[] := '{}';
    v_more_ids uuid[];
    v_more_scores float8[];
BEGIN
    IF v_tenant IS NULL OR v_tenant = '' OR p_limit < 1 THEN
        RETURN;
    END IF;
    -- Each query word's close dictionary words, ranked, as lexemes of the caller's scope
    -- quoted for tsquery input: tiers (a) & (c), (a | b) & (c | d), ... and (a | b | c | d).
    WITH words AS (
        SELECT w FROM unnest(agentledger.memory_name_words(p_query)) AS w
        ORDER BY length(w) DESC, w
        LIMIT 8
    ), close AS (
        SELECT q.w, x.term, row_number() OVER (PARTITION BY q.w ORDER BY x.sim DESC, x.term)
            AS closeness
        FROM words q
        CROSS JOIN LATERAL (
            SELECT t.term, @trgm@.similarity(t.term, q.w) AS sim
            FROM agentledger.memory_name_terms t
            WHERE t.tenant_id = v_tenant AND t.term @similar@ q.w
            ORDER BY sim DESC, t.term
            LIMIT 8
        ) x
    ), quoted AS (
        SELECT c.w, c.closeness,
               '''' || replace(replace(l.lexeme, '\', '\\'), '''', '''''') || '''' AS lexeme
        FROM close c
        CROSS JOIN LATERAL unnest(CASE
            WHEN p_user IS NULL THEN ARRAY[v_tenant || ' ' || c.term]
            ELSE ARRAY[v_tenant || ' ' || p_user || ' ' || c.term, v_tenant || '  ' || c.term]
            END) AS l(lexeme)
    ), alternatives AS (
        SELECT t.tier, q.w, string_agg(q.lexeme, ' | ') AS alts
        FROM unnest(ARRAY[1, 3, 8]) AS t(tier)
        JOIN quoted q ON q.closeness <= t.tier
        GROUP BY t.tier, q.w
    ), tiers AS (
        SELECT a.tier, string_agg('(' || a.alts || ')', ' & ')::tsquery AS every,
               string_agg(a.alts, ' | ')::tsquery AS any
        FROM alternatives a
        GROUP BY a.tier
    )
    SELECT array_agg(t.every ORDER BY t.tier),
           (array_agg(t.any ORDER BY t.tier DESC))[1]
    INTO v_tiers, v_any
    FROM tiers t;
    IF v_any IS NULL THEN
        RETURN;
    END IF;
    -- Names holding a close word for every query word, the closest words first.
    FOREACH v_tier IN ARRAY v_tiers LOOP
        CONTINUE WHEN v_tier = v_last;
        v_last := v_tier;
        WITH candidate AS MATERIALIZED (
            SELECT e.id, @trgm@.similarity(e.name, p_query)::float8 AS score
            FROM agentledger.memory_entities e
            WHERE agentledger.memory_name_lexemes(e.tenant_id, e.user_id, e.shared, e.name)
                  @@ v_tier
              AND e.id <> ALL(v_ids)
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
            LIMIT p_cap
        ), ranked AS (
            SELECT c.id, c.score FROM candidate c
            WHERE c.score >= p_threshold
            ORDER BY c.score DESC, c.id
            LIMIT p_limit - cardinality(v_ids)
        )
        SELECT coalesce((SELECT array_agg(r.id ORDER BY r.score DESC, r.id) FROM ranked r), '{}'),
               coalesce((SELECT array_agg(r.score ORDER BY r.score DESC, r.id) FROM ranked r),
                        '{}')
        INTO v_more_ids, v_more_scores;
        v_ids := v_ids || v_more_ids;
        v_scores := v_scores || v_more_scores;
        EXIT WHEN cardinality(v_ids) >= p_limit;
    END LOOP;
    -- Then names holding a close word for any of them.
    IF cardinality(v_ids) < p_limit AND v_any <> v_last THEN
        WITH candidate AS MATERIALIZED (
            SELECT e.id, @trgm@.similarity(e.name, p_query)::float8 AS score
            FROM agentledger.memory_entities e
            WHERE agentledger.memory_name_lexemes(e.tenant_id, e.user_id, e.shared, e.name)
                  @@ v_any
              AND e.id <> ALL(v_ids)
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
            LIMIT p_cap * 4
        ), ranked AS (
            SELECT c.id, c.score FROM candidate c
            WHERE c.score >= p_threshold
            ORDER BY c.score DESC, c.id
            LIMIT p_limit - cardinality(v_ids)
        )
        SELECT coalesce((SELECT array_agg(r.id ORDER BY r.score DESC, r.id) FROM ranked r), '{}'),
               coalesce((SELECT array_agg(r.score ORDER BY r.score DESC, r.id) FROM ranked r),
                        '{}')
        INTO v_more_ids, v_more_scores;
        v_ids := v_ids || v_more_ids;
        v_scores := v_scores || v_more_scores;
    END IF;
    RETURN QUERY SELECT u.id, u.score FROM unnest(v_ids, v_scores) AS u(id, score);
END
$fn$;
"""

NAME_FN = """
CREATE FUNCTION agentledger.memory_search_name_v2(p_name text, p_threshold double precision,
    p_cap integer,
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
               f.score, NULL::float8, NULL::float8, NULL::float8, NULL::text
        FROM agentledger.memory_fuzzy_v1(p_name, p_threshold, p_cap, p_user, p_kinds, p_tags,
            p_attrs, p_where, p_created_after, p_created_before, p_updated_after,
            p_updated_before, p_archived, p_limit) f
        JOIN agentledger.memory_entities e
          ON e.tenant_id = agentledger.current_tenant() AND e.id = f.id
        ORDER BY f.score DESC, e.id;
END
$fn$;
"""

# The hybrid searches of memory_0003 with the dictionary's fuzzy branch and its arguments.
# Function texts are kept exactly as this revision has always run them (the database
# stores each body as written), long lines included.
HYBRID_FN = """
CREATE FUNCTION agentledger.memory_search_hybrid_v2(p_query text, p_pool integer, p_text_cap integer, p_rrf_k integer, p_threshold double precision, p_cap integer,
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
        SELECT f.id, f.score, row_number() OVER (ORDER BY f.score DESC, f.id) AS rank
        FROM agentledger.memory_fuzzy_v1(p_query, p_threshold, p_cap, p_user, p_kinds,
            p_tags, p_attrs, p_where, p_created_after, p_created_before, p_updated_after,
            p_updated_before, p_archived, p_pool) f
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
CREATE FUNCTION agentledger.memory_search_hybrid_vector_v2(p_query text, p_pool integer, p_text_cap integer, p_rrf_k integer, p_threshold double precision, p_cap integer, p_embedding @vector@.vector,
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
        SELECT f.id, f.score, row_number() OVER (ORDER BY f.score DESC, f.id) AS rank
        FROM agentledger.memory_fuzzy_v1(p_query, p_threshold, p_cap, p_user, p_kinds,
            p_tags, p_attrs, p_where, p_created_after, p_created_before, p_updated_after,
            p_updated_before, p_archived, p_pool) f
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

FUNCTIONS = (
    ("memory_fuzzy_v1", FUZZY_FN, ("pg_trgm",)),
    ("memory_search_name_v2", NAME_FN, ("pg_trgm",)),
    ("memory_search_hybrid_v2", HYBRID_FN, ("pg_trgm",)),
    ("memory_search_hybrid_vector_v2", HYBRID_VECTOR_FN, ("pg_trgm", "vector")),
)

# The owner reads every tenant's words in the definer functions, as memory_0003 lets it
# read entities (inert for a superuser owner; never for the app role).
OWNER_POLICY = """
DO $do$
BEGIN
    IF current_user <> '@role@' THEN
        CREATE POLICY definer_search ON agentledger.memory_name_terms
            FOR SELECT TO CURRENT_USER USING (true);
    END IF;
END
$do$;
"""


def revoke_fuzzy(role: str) -> str:
    """The fuzzy helper is for the definer functions only (creating it granted it)."""
    return f"""
    DO $do$
    BEGIN
        IF to_regproc('agentledger.memory_fuzzy_v1') IS NOT NULL THEN
            REVOKE ALL ON FUNCTION agentledger.memory_fuzzy_v1 FROM "{role}";
        END IF;
    END
    $do$;
    """


def upgrade() -> None:
    role = app_role()
    op.execute(DICTIONARY)
    op.execute(tenant_table("memory_name_terms", "SELECT, INSERT, DELETE"))
    op.execute(OWNER_POLICY.replace("@role@", role))
    op.execute("DROP INDEX IF EXISTS agentledger.memory_entities_name_trgm_idx")
    op.execute(_trgm_index("memory_name_terms_trgm_idx", "memory_name_terms", "term"))
    for name, ddl, needs in FUNCTIONS:
        op.execute(create_function(name, ddl, needs, role))
    op.execute(revoke_fuzzy(role))


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION IF EXISTS agentledger.memory_search_hybrid_vector_v2;
    DROP FUNCTION IF EXISTS agentledger.memory_search_hybrid_v2;
    DROP FUNCTION IF EXISTS agentledger.memory_search_name_v2;
    DROP FUNCTION IF EXISTS agentledger.memory_fuzzy_v1;
    DROP INDEX agentledger.memory_entities_name_words_idx;
    DROP TRIGGER memory_name_terms_update ON agentledger.memory_entities;
    DROP TRIGGER memory_name_terms_insert ON agentledger.memory_entities;
    DROP FUNCTION agentledger.memory_name_terms_rename();
    DROP FUNCTION agentledger.memory_name_terms_add();
    DROP TABLE agentledger.memory_name_terms;
    DROP FUNCTION agentledger.memory_name_lexemes(text, text, boolean, text);
    DROP FUNCTION agentledger.memory_name_words(text);
    """)
    op.execute(_trgm_index("memory_entities_name_trgm_idx", "memory_entities", "name"))
