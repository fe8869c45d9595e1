"""Memories of a session: entities name their session, which counts them.

``memory_entities.session_id`` names the session a memory was made in (NULL: none). The
foreign key ``(tenant_id, session_id)`` keeps it to a session of the entity's own tenant;
deleting the session detaches its memories (``ON DELETE SET NULL (session_id)``), unless
the library deletes them first. ``sessions.memory_count`` counts the session's entities:
a statement trigger on insert adds each statement's new entities per session (one update
per session, sessions in id order, reading the inserted rows the name-terms trigger of
memory_0004 already collects), one on delete subtracts, and a row trigger on a change of
``session_id`` (a merge that moves an entity, a session deleted) moves one count between
the two sessions, locking them in id order. Updates under the session row's lock keep
the count right under concurrent writers. A new or moved-in memory notes the session's
activity. A partial index, newest change first, lists a session's memories and serves
the session filter. Adding the foreign key and the index reads the entities table once
each, writes to it waiting meanwhile; no row is rewritten.

Every search and listing takes ``p_session`` beside the user scope: the functions the
library calls are created anew under the next version names, returning
``memory_search_hit_v2`` (the hit with ``session_id``); their bodies are otherwise those of
the versions they succeed (memory_0009, memory_0011), which stay for callers of the
previous release. The text and substring searches read a session of fewer than 2,000
entities through the session index, testing the match on each (memory_0011's own-scope
scan, for a session), and the vector search takes its exact scan over such a session
without the HNSW pass.

The revision joins the sessions branch (its head, sessions_0002) and memory's (memory_0012):
it needs both tables. It becomes the head of both: later memory revisions go on from it
(it holds the latest search functions and the entities' last shape), and so do later
sessions revisions.

Revision ID: sessions_0003
Revises: sessions_0002, memory_0012
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function

revision = "sessions_0003"
down_revision = ("sessions_0002", "memory_0012")
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE agentledger.memory_entities ADD COLUMN session_id uuid;
ALTER TABLE agentledger.memory_entities ADD CONSTRAINT memory_entities_session_fk
    FOREIGN KEY (tenant_id, session_id) REFERENCES agentledger.sessions (tenant_id, id)
    ON DELETE SET NULL (session_id);
-- A session's memories, newest change first (the session filter and the session page).
CREATE INDEX memory_entities_session_idx
    ON agentledger.memory_entities (tenant_id, session_id, updated_at DESC, id DESC)
    WHERE session_id IS NOT NULL;

-- What every search function returns from now on: memory_search_hit_v1 with session_id.
CREATE TYPE agentledger.memory_search_hit_v2 AS (
    id uuid, kind text, name text, summary text, attrs jsonb, tags text[], status text,
    relevance double precision, user_id text, shared boolean, source text, key text,
    update_count integer, access_count bigint, last_accessed_at timestamptz,
    created_at timestamptz, updated_at timestamptz, session_id uuid, score double precision,
    text_score double precision, fuzzy_score double precision,
    vector_score double precision, highlight text
);

-- New entities of a statement, counted per session; sessions locked in id order.
CREATE FUNCTION agentledger.memory_session_count_insert() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT a.tenant_id, a.session_id, count(*)::integer AS n
        FROM added a
        WHERE a.session_id IS NOT NULL
        GROUP BY a.tenant_id, a.session_id
        ORDER BY a.tenant_id, a.session_id
    LOOP
        UPDATE agentledger.sessions s
        SET memory_count = s.memory_count + r.n, last_activity = now()
        WHERE s.tenant_id = r.tenant_id AND s.id = r.session_id;
    END LOOP;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER memory_entities_session_insert AFTER INSERT ON agentledger.memory_entities
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.memory_session_count_insert();

-- Deleted entities of a statement, subtracted per session; sessions locked in id order.
CREATE FUNCTION agentledger.memory_session_count_delete() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT d.tenant_id, d.session_id, count(*)::integer AS n
        FROM removed d
        WHERE d.session_id IS NOT NULL
        GROUP BY d.tenant_id, d.session_id
        ORDER BY d.tenant_id, d.session_id
    LOOP
        UPDATE agentledger.sessions s
        SET memory_count = greatest(s.memory_count - r.n, 0)
        WHERE s.tenant_id = r.tenant_id AND s.id = r.session_id;
    END LOOP;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER memory_entities_session_delete AFTER DELETE ON agentledger.memory_entities
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.memory_session_count_delete();

-- An entity moved from one session to another (or into or out of one): one count moves.
CREATE FUNCTION agentledger.memory_session_count_move() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM 1 FROM agentledger.sessions s
    WHERE s.tenant_id = NEW.tenant_id AND s.id IN (OLD.session_id, NEW.session_id)
    ORDER BY s.id
    FOR NO KEY UPDATE;
    UPDATE agentledger.sessions s
    SET memory_count = CASE WHEN s.id = NEW.session_id THEN s.memory_count + 1
                            ELSE greatest(s.memory_count - 1, 0) END,
        last_activity = CASE WHEN s.id = NEW.session_id THEN now() ELSE s.last_activity END
    WHERE s.tenant_id = NEW.tenant_id AND s.id IN (OLD.session_id, NEW.session_id);
    RETURN NULL;
END
$fn$;
CREATE TRIGGER memory_entities_session_move AFTER UPDATE OF session_id
    ON agentledger.memory_entities
    FOR EACH ROW WHEN (OLD.session_id IS DISTINCT FROM NEW.session_id)
    EXECUTE FUNCTION agentledger.memory_session_count_move();
"""

TRIGGER_FUNCTIONS = (
    "memory_session_count_insert",
    "memory_session_count_delete",
    "memory_session_count_move",
)

FUZZY_FN = r"""
CREATE FUNCTION agentledger.memory_fuzzy_v3(p_query text, p_threshold double precision,
    p_cap integer,
    p_user text, p_own boolean, p_session uuid, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
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
          AND (p_user IS NULL OR NOT p_own OR nullif(e.user_id, p_user) IS NULL)
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
"""  # noqa: E501

NAME_FN = """
CREATE FUNCTION agentledger.memory_search_name_v4(p_name text, p_threshold double precision,
    p_cap integer,
    p_user text, p_own boolean, p_session uuid, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS SETOF agentledger.memory_search_hit_v2
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $fn$
BEGIN
    RETURN QUERY
        SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at, e.session_id,
               f.score, NULL::float8, NULL::float8, NULL::float8, NULL::text
        FROM agentledger.memory_fuzzy_v3(p_name, p_threshold, p_cap, p_user, p_own, p_session, p_kinds, p_tags,
            p_attrs, p_where, p_created_after, p_created_before, p_updated_after,
            p_updated_before, p_archived, p_limit) f
        JOIN agentledger.memory_entities e
          ON e.tenant_id = agentledger.current_tenant() AND e.id = f.id
        ORDER BY f.score DESC, e.id;
END
$fn$;
"""  # noqa: E501

HYBRID_FN = """
CREATE FUNCTION agentledger.memory_search_hybrid_v4(p_query text, p_pool integer, p_text_cap integer, p_rrf_k integer, p_threshold double precision, p_cap integer,
    p_user text, p_own boolean, p_session uuid, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS SETOF agentledger.memory_search_hit_v2
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
            SELECT t.id, ts_rank_cd(t.search, websearch_to_tsquery('english', p_query))::float8 AS score
            FROM text_found t
            ORDER BY score DESC, t.id
            LIMIT p_pool
        ) r
    ), fuzzy_hits AS (
        SELECT f.id, f.score, row_number() OVER (ORDER BY f.score DESC, f.id) AS rank
        FROM agentledger.memory_fuzzy_v3(p_query, p_threshold, p_cap, p_user, p_own, p_session, p_kinds,
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
           e.updated_at, e.session_id,
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

HYBRID_VECTOR_FN = """
CREATE FUNCTION agentledger.memory_search_hybrid_vector_v4(p_query text, p_pool integer, p_text_cap integer, p_rrf_k integer, p_threshold double precision, p_cap integer, p_embedding @vector@.vector,
    p_user text, p_own boolean, p_session uuid, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS SETOF agentledger.memory_search_hit_v2
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
            SELECT t.id, ts_rank_cd(t.search, websearch_to_tsquery('english', p_query))::float8 AS score
            FROM text_found t
            ORDER BY score DESC, t.id
            LIMIT p_pool
        ) r
    ), fuzzy_hits AS (
        SELECT f.id, f.score, row_number() OVER (ORDER BY f.score DESC, f.id) AS rank
        FROM agentledger.memory_fuzzy_v3(p_query, p_threshold, p_cap, p_user, p_own, p_session, p_kinds,
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
           e.updated_at, e.session_id,
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

LIST_FN = """
CREATE FUNCTION agentledger.memory_list_v3(p_after_updated timestamptz, p_after_id uuid,
    p_user text, p_own boolean, p_session uuid, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS SETOF agentledger.memory_search_hit_v2
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $fn$
BEGIN
    RETURN QUERY
        SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at, e.session_id,
               NULL::float8, NULL::float8, NULL::float8, NULL::float8, NULL::text
        FROM agentledger.memory_entities e
        WHERE (p_after_updated IS NULL OR (e.updated_at, e.id) < (p_after_updated, p_after_id))
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
        ORDER BY e.updated_at DESC, e.id DESC
        LIMIT p_limit;
END
$fn$;
"""  # noqa: E501

TEXT_FN = """
CREATE FUNCTION agentledger.memory_search_text_v4(p_query text,
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
        SELECT e.*, ts_rank_cd(e.search, websearch_to_tsquery('english', p_query))::float8 AS rank
        FROM (
            SELECT t.* FROM agentledger.memory_entities t
            WHERE NOT v_scan AND NOT v_in_session
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
            UNION ALL
            SELECT m.* FROM (
                SELECT s.* FROM agentledger.memory_entities s
                WHERE v_in_session
                  AND s.tenant_id = agentledger.current_tenant() AND s.session_id = p_session
                OFFSET 0
            ) m
            WHERE (m.search @@ websearch_to_tsquery('english', p_query))
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
    SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at, e.session_id,
           e.rank, NULL::float8, NULL::float8, NULL::float8,
           ts_headline('english', concat_ws(' - ', e.name, e.summary),
                       websearch_to_tsquery('english', p_query),
                       'StartSel=<b>, StopSel=</b>, MaxWords=30, MinWords=10')
    FROM found e
    ORDER BY e.rank DESC, e.id;
END
$fn$;
"""  # noqa: E501

VECTOR_FN = """
CREATE FUNCTION agentledger.memory_search_vector_v3(p_embedding @vector@.vector,
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
    -- A session of fewer than 2,000 entities (counted on the session index).
    v_in_session boolean := p_session IS NOT NULL AND (
        SELECT count(*) < 2000 FROM (
            SELECT 1 FROM agentledger.memory_entities c
            WHERE c.tenant_id = agentledger.current_tenant() AND c.session_id = p_session
            LIMIT 2000) s);
BEGIN
    -- The HNSW scan first; an exact scan of the scope takes over when the index finds
    -- fewer than p_limit, so a narrow filter never silently shortens the answer. A small
    -- session skips the HNSW scan: the exact scan reads its entities on the session index.
    RETURN QUERY
    WITH ann AS MATERIALIZED (
        SELECT e.id, e.embedding OPERATOR(@vector@.<=>) p_embedding AS distance
        FROM agentledger.memory_entities e
        WHERE NOT v_in_session
          AND e.embedding IS NOT NULL
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
        ORDER BY e.embedding OPERATOR(@vector@.<=>) p_embedding
        LIMIT p_limit
    ), exact AS (
        SELECT e.id, e.embedding OPERATOR(@vector@.<=>) p_embedding AS distance
        FROM agentledger.memory_entities e
        WHERE (SELECT count(*) FROM ann) < p_limit
          AND e.embedding IS NOT NULL
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
           e.updated_at, e.session_id,
           (1 - h.distance)::float8, NULL::float8, NULL::float8, NULL::float8, NULL::text
    FROM hits h
    JOIN agentledger.memory_entities e
      ON e.tenant_id = agentledger.current_tenant() AND e.id = h.id
    ORDER BY h.distance, e.id;
END
$fn$;
"""  # noqa: E501

SUBSTRING_FN = """
CREATE FUNCTION agentledger.memory_search_substring_v4(p_pattern text,
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
        SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
           coalesce(e.relevance, 0.5)::float8, nullif(e.user_id, ''), e.shared, e.source,
           e.key, e.update_count, e.access_count, e.last_accessed_at, e.created_at,
           e.updated_at, e.session_id,
               CASE WHEN e.name ILIKE p_pattern THEN 1.0 ELSE 0.5 END::float8,
               NULL::float8, NULL::float8, NULL::float8, NULL::text
        FROM (
            SELECT t.* FROM agentledger.memory_entities t
            WHERE NOT v_scan AND NOT v_in_session
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
            UNION ALL
            SELECT m.* FROM (
                SELECT s.* FROM agentledger.memory_entities s
                WHERE v_in_session
                  AND s.tenant_id = agentledger.current_tenant() AND s.session_id = p_session
                OFFSET 0
            ) m
            WHERE (m.name ILIKE p_pattern OR m.summary ILIKE p_pattern)
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
        ORDER BY e.name ILIKE p_pattern DESC, length(e.name), e.name, e.id
        LIMIT p_limit;
END
$fn$;
"""  # noqa: E501

# (function, its DDL, the extensions it needs), callees first.
FUNCTIONS = (
    ("memory_fuzzy_v3", FUZZY_FN, ("pg_trgm",)),
    ("memory_search_name_v4", NAME_FN, ("pg_trgm",)),
    ("memory_search_hybrid_v4", HYBRID_FN, ("pg_trgm",)),
    ("memory_search_hybrid_vector_v4", HYBRID_VECTOR_FN, ("pg_trgm", "vector")),
    ("memory_list_v3", LIST_FN, ()),
    ("memory_search_text_v4", TEXT_FN, ()),
    ("memory_search_vector_v3", VECTOR_FN, ("vector",)),
    ("memory_search_substring_v4", SUBSTRING_FN, ()),
)


def upgrade() -> None:
    role = app_role()
    op.execute(SCHEMA)
    for name in TRIGGER_FUNCTIONS:
        # Only the validated app role is interpolated.
        op.execute(f"""
    REVOKE ALL ON FUNCTION agentledger.{name}() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.{name}() TO "{role}";
    """)
    for name, ddl, needs in FUNCTIONS:
        op.execute(create_function(name, ddl, needs, role))
    # The fuzzy pass is a building block of the searches, not called by the app role.
    op.execute(
        f"""
    DO $do$
    BEGIN
        IF to_regproc('agentledger.memory_fuzzy_v3') IS NOT NULL THEN
            REVOKE ALL ON FUNCTION agentledger.memory_fuzzy_v3 FROM "{role}";
        END IF;
    END
    $do$;
    """
    )


def downgrade() -> None:
    for name, _, _ in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION IF EXISTS agentledger.{name};")
    op.execute("""
    DROP TRIGGER memory_entities_session_move ON agentledger.memory_entities;
    DROP TRIGGER memory_entities_session_delete ON agentledger.memory_entities;
    DROP TRIGGER memory_entities_session_insert ON agentledger.memory_entities;
    DROP FUNCTION agentledger.memory_session_count_move();
    DROP FUNCTION agentledger.memory_session_count_delete();
    DROP FUNCTION agentledger.memory_session_count_insert();
    DROP TYPE agentledger.memory_search_hit_v2;
    DROP INDEX agentledger.memory_entities_session_idx;
    ALTER TABLE agentledger.memory_entities DROP CONSTRAINT memory_entities_session_fk;
    ALTER TABLE agentledger.memory_entities DROP COLUMN session_id;
    """)
