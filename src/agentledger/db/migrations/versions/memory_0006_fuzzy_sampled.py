"""Fuzzy names: the any-word pass reads each close word on its own, from a bounded sample.

memory_0004's last pass (names holding a close word of any query word, when the
every-word passes found fewer than the limit) ORed all close words (up to 8 per query
word) into one GIN scan. GIN builds the whole bitmap before the first row is read, so the
pass cost one step per name holding any of those words: at a million names a query near
a common first name built a bitmap of ~50k names to rank 512 of them, and that pass was
most of the 1M tail.

Now the pass walks the close words one by one, the closest of every query word first, and
ranks at most ``p_cap`` names per word until it has ranked 4 x ``p_cap`` in all.
Each scan runs with ``gin_fuzzy_search_limit``, PostgreSQL's bound on the bitmap of a
single-entry GIN scan: a word held by more names than twice ``p_cap`` yields a random
sample of them instead of all. The every-word passes are unchanged (an AND of sampled
posting lists would lose the very names it looks for), so a name holding a close word for
every query word is still found whatever its words' frequency; a name sharing only one
common word with the query comes from a sample.

Revision ID: memory_0006
Revises: memory_0005
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function

revision = "memory_0006"
down_revision = "memory_0005"
branch_labels = None
depends_on = None

# memory_fuzzy_v1 with the word-by-word any-word pass. Notes on its text:
# - ``SET gin_fuzzy_search_limit = 0`` restores the setting when the function returns,
#   whatever the pass set it to.
# - The scope filter of the word-by-word scans checks the user as
#   ``coalesce(nullif(e.user_id, p_user), '') = ''``: their words already carry the user
#   scope (a user's own lexemes and the unowned-or-shared ones), and the planner, misjudging
#   how many names one word holds, would AND each scan with a bitmap of every name the user
#   may see (a step per visible name, per word). The check stays, written so that it is one.
FUZZY_FN = r"""
CREATE OR REPLACE FUNCTION agentledger.memory_fuzzy_v1(p_query text, p_threshold double precision,
    p_cap integer,
    p_user text, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS TABLE (id uuid, score double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER ROWS 10
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
    SET gin_fuzzy_search_limit = 0
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
    v_each tsquery[];  -- each close word alone, closest first
    v_word tsquery;
    v_ranked integer := 0;
    v_count integer;
    v_any_ids uuid[] := '{}';
    v_any_scores float8[] := '{}';
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
    ), each_word AS (
        SELECT q.closeness, q.w, string_agg(q.lexeme, ' | ')::tsquery AS query
        FROM quoted q
        GROUP BY q.closeness, q.w
    )
    SELECT array_agg(t.every ORDER BY t.tier),
           (array_agg(t.any ORDER BY t.tier DESC))[1],
           (SELECT array_agg(x.query ORDER BY x.closeness, x.w) FROM each_word x)
    INTO v_tiers, v_any, v_each
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
    -- Then names holding a close word for any of them: word by word, the closest first,
    -- up to p_cap names each from a bounded sample of the word's names.
    IF cardinality(v_ids) < p_limit AND v_any <> v_last THEN
        PERFORM set_config('gin_fuzzy_search_limit', (2 * p_cap)::text, true);
        FOREACH v_word IN ARRAY v_each LOOP
            EXIT WHEN v_ranked >= p_cap * 4;
            WITH candidate AS MATERIALIZED (
                SELECT e.id, @trgm@.similarity(e.name, p_query)::float8 AS score
                FROM agentledger.memory_entities e
                WHERE agentledger.memory_name_lexemes(e.tenant_id, e.user_id, e.shared, e.name)
                      @@ v_word
                  AND e.id <> ALL(v_ids)
          AND e.tenant_id = agentledger.current_tenant()
          AND (p_user IS NULL OR coalesce(nullif(e.user_id, p_user), '') = '' OR e.shared)
          AND (p_kinds IS NULL OR e.kind = ANY(p_kinds))
          AND (p_tags IS NULL OR e.tags @> p_tags)
          AND (p_attrs IS NULL OR e.attrs @> p_attrs)
          AND (p_where IS NULL OR e.attrs @@ p_where)
          AND (p_created_after IS NULL OR e.created_at >= p_created_after)
          AND (p_created_before IS NULL OR e.created_at < p_created_before)
          AND (p_updated_after IS NULL OR e.updated_at >= p_updated_after)
          AND (p_updated_before IS NULL OR e.updated_at < p_updated_before)
          AND (p_archived OR e.status = 'active')
                LIMIT least(p_cap, p_cap * 4 - v_ranked)
            )
            SELECT count(*)::integer,
                   coalesce(array_agg(c.id) FILTER (WHERE c.score >= p_threshold), '{}'),
                   coalesce(array_agg(c.score) FILTER (WHERE c.score >= p_threshold), '{}')
            INTO v_count, v_more_ids, v_more_scores
            FROM candidate c;
            v_ranked := v_ranked + v_count;
            v_any_ids := v_any_ids || v_more_ids;
            v_any_scores := v_any_scores || v_more_scores;
        END LOOP;
        PERFORM set_config('gin_fuzzy_search_limit', '0', true);
        WITH ranked AS (
            SELECT DISTINCT u.id, u.score FROM unnest(v_any_ids, v_any_scores) AS u(id, score)
            ORDER BY u.score DESC, u.id
            LIMIT p_limit - cardinality(v_ids)
        )
        SELECT coalesce(array_agg(r.id ORDER BY r.score DESC, r.id), '{}'),
               coalesce(array_agg(r.score ORDER BY r.score DESC, r.id), '{}')
        INTO v_more_ids, v_more_scores
        FROM ranked r;
        v_ids := v_ids || v_more_ids;
        v_scores := v_scores || v_more_scores;
    END IF;
    RETURN QUERY SELECT u.id, u.score FROM unnest(v_ids, v_scores) AS u(id, score);
END
$fn$;
"""

# memory_0004's memory_fuzzy_v1, which a downgrade puts back in place.
PREVIOUS_FUZZY_FN = r"""
CREATE OR REPLACE FUNCTION agentledger.memory_fuzzy_v1(p_query text, p_threshold double precision,
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
    op.execute(create_function("memory_fuzzy_v1", FUZZY_FN, ("pg_trgm",), role))
    op.execute(revoke_fuzzy(role))


def downgrade() -> None:
    role = app_role()
    op.execute(create_function("memory_fuzzy_v1", PREVIOUS_FUZZY_FN, ("pg_trgm",), role))
    op.execute(revoke_fuzzy(role))
