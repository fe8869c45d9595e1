"""Binary-quantised embedding spaces: an HNSW index over the signs' bits, re-ranked.

``memory_spaces`` gains ``quantization`` ("none", or "binary") and ``rerank`` (the
candidates a binary search takes per hit it returns, 1 to 100; 10 by default). A binary
space's partial index is pgvector's documented binary quantisation,
``hnsw ((binary_quantize(embedding)::bit(D)) bit_hamming_ops) WHERE space_id = S``: a bit
per dimension, 32 times smaller than the vectors, built several times faster, and an HNSW
index of bits takes up to 64,000 dimensions, so a binary space takes up to 16,000 (the
most a ``vector`` holds) where a ``vector`` index stops at 2,000 and ``halfvec`` at 4,000.
A search takes limit x rerank candidates by Hamming distance through that index and
re-ranks them by the space's exact distance on the stored vectors (bench.memory_spaces
--binary measured it; docs/benchmarks.md).

``memory_declare_space_v2`` takes the two new fields and builds either index;
``memory_nearest_v2`` searches both kinds of space (a plain space with a re-rank of 1
reads as before); the vector and hybrid-vector searches are made anew over it
(``memory_search_vector_v5``, ``memory_search_hybrid_vector_v6``). The earlier versions stay
for callers of the previous release; ``memory_drop_space_v1`` drops either index by name.

Revision ID: memory_0014
Revises: sessions_0004
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function

revision = "memory_0014"
down_revision = "sessions_0004"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE agentledger.memory_spaces
    ADD COLUMN quantization text NOT NULL DEFAULT 'none'
        CONSTRAINT memory_spaces_quantization CHECK (quantization IN ('none', 'binary')),
    ADD COLUMN rerank integer NOT NULL DEFAULT 10
        CONSTRAINT memory_spaces_rerank CHECK (rerank BETWEEN 1 AND 100);
-- What HNSW indexes: vector up to 2,000 dimensions, halfvec up to 4,000, the bits of a
-- binary space up to 64,000 (its vectors up to 16,000, the most a vector holds).
ALTER TABLE agentledger.memory_spaces DROP CONSTRAINT memory_spaces_dimensions;
ALTER TABLE agentledger.memory_spaces ADD CONSTRAINT memory_spaces_dimensions CHECK (
    dimensions >= 1 AND dimensions <= CASE WHEN quantization = 'binary' THEN 16000
                                           WHEN element = 'halfvec' THEN 4000 ELSE 2000 END);
"""

DOWN_SCHEMA = """
DO $do$
BEGIN
    -- The catalog, not the table (its rows are behind row-level security): a binary
    -- space's index is one of bit_hamming_ops.
    IF EXISTS (
        SELECT 1 FROM pg_index i
        JOIN pg_opclass c ON c.oid = ANY(i.indclass::oid[])
        WHERE i.indrelid = to_regclass('agentledger.memory_vectors')
          AND c.opcname = 'bit_hamming_ops'
    ) THEN
        RAISE EXCEPTION 'binary-quantised embedding spaces exist: drop them before '
            'downgrading below memory_0014';
    END IF;
END
$do$;
ALTER TABLE agentledger.memory_spaces DROP CONSTRAINT memory_spaces_dimensions;
ALTER TABLE agentledger.memory_spaces ADD CONSTRAINT memory_spaces_dimensions CHECK (
    dimensions >= 1 AND dimensions <= CASE element WHEN 'halfvec' THEN 4000 ELSE 2000 END);
ALTER TABLE agentledger.memory_spaces DROP COLUMN rerank, DROP COLUMN quantization;
"""

DECLARE_FN = """
CREATE FUNCTION agentledger.memory_declare_space_v2(p_name text, p_model text,
    p_dimensions integer, p_distance text, p_element text, p_quantization text,
    p_rerank integer)
    RETURNS SETOF agentledger.memory_spaces
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    s agentledger.memory_spaces;
BEGIN
    -- The row's checks refuse a bad name, distance, element or dimension.
    INSERT INTO agentledger.memory_spaces AS m
        (tenant_id, name, model, dimensions, distance, element, quantization, rerank)
    VALUES (agentledger.current_tenant(), p_name, p_model, p_dimensions, p_distance, p_element,
            p_quantization, p_rerank)
    ON CONFLICT (tenant_id, name) DO NOTHING
    RETURNING m.* INTO s;
    IF s.id IS NULL THEN  -- declared before: the stored space, unchanged
        RETURN QUERY SELECT m.* FROM agentledger.memory_spaces m
            WHERE m.tenant_id = agentledger.current_tenant() AND m.name = p_name;
        RETURN;
    END IF;
    -- Fixed text; only the new row's id and dimension (integers) and keywords picked from
    -- its checked columns are put in.
    IF s.quantization = 'binary' THEN
        -- The signs' bits (binary_quantize), compared by Hamming distance; searches
        -- re-rank the candidates by the full vectors.
        EXECUTE replace(replace(
            'CREATE INDEX memory_vectors_space_@id@_idx ON agentledger.memory_vectors '
            'USING hnsw ((@vector@.binary_quantize(embedding)::bit(@dims@)) '
            '@vector@.bit_hamming_ops) WHERE space_id = @id@',
            '@id@', s.id::text),
            '@dims@', s.dimensions::text);
    ELSE
        EXECUTE replace(replace(replace(replace(
            'CREATE INDEX memory_vectors_space_@id@_idx ON agentledger.memory_vectors '
            'USING hnsw ((embedding::@vector@.@type@(@dims@)) @vector@.@ops@) '
            'WHERE space_id = @id@',
            '@id@', s.id::text),
            '@dims@', s.dimensions::text),
            '@type@', CASE s.element WHEN 'halfvec' THEN 'halfvec' ELSE 'vector' END),
            '@ops@', CASE s.element WHEN 'halfvec' THEN 'halfvec' ELSE 'vector' END
                || CASE s.distance WHEN 'inner_product' THEN '_ip_ops'
                                   WHEN 'l2' THEN '_l2_ops' ELSE '_cosine_ops' END);
    END IF;
    RETURN NEXT s;
END
$fn$;
"""

NEAREST_FN = """
CREATE FUNCTION agentledger.memory_nearest_v2(p_space bigint, p_embedding @vector@.vector,
    p_user text, p_own boolean, p_session uuid, p_kinds text[], p_tags text[], p_attrs jsonb, p_where jsonpath,
    p_created_after timestamptz, p_created_before timestamptz,
    p_updated_after timestamptz, p_updated_before timestamptz, p_archived boolean,
    p_limit integer)
    RETURNS TABLE (id uuid, distance double precision, score double precision)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    -- As many rows as a search's limit: callers join them to the entities one by one.
    ROWS 20
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
    -- The HNSW pass must read the index: with few or stale statistics the planner would
    -- rather sort the whole space (the exact pass sorts anyway, having no other way).
    SET enable_sort = off
AS $fn$
DECLARE
    s agentledger.memory_spaces;
    v_in_session boolean;
    v_type text;
    v_op text;
    v_order text;
    v_rerank integer;
BEGIN
    IF p_space IS NULL THEN
        -- The built-in space: the entities' own embedding column (memory_search_vector_v3).
        v_in_session := p_session IS NOT NULL AND (
            SELECT count(*) < 2000 FROM (
                SELECT 1 FROM agentledger.memory_entities c
                WHERE c.tenant_id = agentledger.current_tenant() AND c.session_id = p_session
                LIMIT 2000) q);
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
        )
        SELECT h.id, h.distance, 1 - h.distance
        FROM (SELECT * FROM ann WHERE (SELECT count(*) FROM ann) >= p_limit
              UNION ALL SELECT * FROM exact) h;
        RETURN;
    END IF;
    SELECT m.* INTO s FROM agentledger.memory_spaces m
    WHERE m.tenant_id = agentledger.current_tenant() AND m.id = p_space;
    IF s.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'ALNF0', MESSAGE = 'the embedding space does not exist';
    END IF;
    v_type := CASE s.element WHEN 'halfvec' THEN '@vector@.halfvec(' ELSE '@vector@.vector(' END
        || s.dimensions::text || ')';
    v_op := CASE s.distance WHEN 'inner_product' THEN 'OPERATOR(@vector@.<#>)'
                            WHEN 'l2' THEN 'OPERATOR(@vector@.<->)'
                            ELSE 'OPERATOR(@vector@.<=>)' END;
    IF s.quantization = 'binary' THEN
        -- pgvector's binary quantisation: candidates by the Hamming distance of the signs'
        -- bits, through the space's bit index, then re-ranked by the exact distance. The
        -- index must yield that many before the iterative scan's first stop.
        v_order := '@vector@.binary_quantize(v.embedding)::bit(' || s.dimensions::text
            || ') OPERATOR(@vector@.<~>) @vector@.binary_quantize($1)::bit('
            || s.dimensions::text || ')';
        v_rerank := s.rerank;
        PERFORM set_config('hnsw.ef_search', least(1000, greatest(
            current_setting('hnsw.ef_search')::integer, p_limit * s.rerank))::text, true);
    ELSE
        v_order := 'v.embedding::' || v_type || ' ' || v_op || ' $1::' || v_type;
        v_rerank := 1;
    END IF;
    -- Fixed text; the space's id and re-rank factor (integers), its type, operator and order
    -- (made above of its checked columns) are put in, everything the caller gave is a parameter. The HNSW pass
    -- reads the space's partial index; the exact scan of the scope takes over when it finds
    -- fewer than p_limit.
    RETURN QUERY EXECUTE replace(replace(replace(replace(replace(replace($q$
        WITH candidates AS MATERIALIZED (
            -- The scope is a filter of the index scan (a scalar subquery per candidate, not
            -- a join the planner could reorder), so the iterative scan goes on past the
            -- candidates it drops until it has $14 times the re-rank factor (1 unless the
            -- space is binary-quantised: its index orders by Hamming distance of the bits).
            SELECT v.entity_id AS id, v.embedding
            FROM agentledger.memory_vectors v
            WHERE v.space_id = @space@ AND v.tenant_id = agentledger.current_tenant()
              AND (SELECT ($2 IS NULL OR e.user_id = $2 OR (NOT $3 AND (e.user_id = '' OR e.shared)))
                      AND ($4 IS NULL OR e.session_id = $4)
                      AND ($5 IS NULL OR e.kind = ANY($5))
                      AND ($6 IS NULL OR e.tags @> $6)
                      AND ($7 IS NULL OR e.attrs @> $7)
                      AND ($8 IS NULL OR e.attrs @@ $8)
                      AND ($9 IS NULL OR e.created_at >= $9)
                      AND ($10 IS NULL OR e.created_at < $10)
                      AND ($11 IS NULL OR e.updated_at >= $11)
                      AND ($12 IS NULL OR e.updated_at < $12)
                      AND ($13 OR e.status = 'active')
                   FROM agentledger.memory_entities e
                   WHERE e.tenant_id = v.tenant_id AND e.id = v.entity_id)
            ORDER BY @order@
            LIMIT $14 * @rerank@
        ), ann AS MATERIALIZED (
            -- The candidates re-ranked by the space's exact distance.
            SELECT c.id, (c.embedding::@type@ @op@ $1::@type@)::float8 AS distance
            FROM candidates c
            ORDER BY 2, c.id
            LIMIT $14
        ), exact AS (
            SELECT v.entity_id AS id, (v.embedding::@type@ @op@ $1::@type@)::float8 AS distance
            FROM agentledger.memory_vectors v
            JOIN agentledger.memory_entities e
              ON e.tenant_id = v.tenant_id AND e.id = v.entity_id
            WHERE (SELECT count(*) FROM ann) < $14
              AND v.space_id = @space@ AND v.tenant_id = agentledger.current_tenant()
              AND ($2 IS NULL OR e.user_id = $2 OR (NOT $3 AND (e.user_id = '' OR e.shared)))
              AND ($4 IS NULL OR e.session_id = $4)
              AND ($5 IS NULL OR e.kind = ANY($5))
              AND ($6 IS NULL OR e.tags @> $6)
              AND ($7 IS NULL OR e.attrs @> $7)
              AND ($8 IS NULL OR e.attrs @@ $8)
              AND ($9 IS NULL OR e.created_at >= $9)
              AND ($10 IS NULL OR e.created_at < $10)
              AND ($11 IS NULL OR e.updated_at >= $11)
              AND ($12 IS NULL OR e.updated_at < $12)
              AND ($13 OR e.status = 'active')
            ORDER BY (v.embedding::@type@ @op@ $1::@type@) + 0
            LIMIT $14
        )
        SELECT h.id, h.distance, @score@
        FROM (SELECT * FROM ann WHERE (SELECT count(*) FROM ann) >= $14
              UNION ALL SELECT * FROM exact) h
        $q$,
        '@order@', v_order), '@rerank@', v_rerank::text),
        '@type@', v_type), '@op@', v_op), '@space@', s.id::text),
        '@score@', CASE s.distance WHEN 'cosine' THEN '1 - h.distance' ELSE '-h.distance' END)
    USING p_embedding, p_user, p_own, p_session, p_kinds, p_tags, p_attrs, p_where,
          p_created_after, p_created_before, p_updated_after, p_updated_before, p_archived,
          p_limit;
END
$fn$;
"""  # noqa: E501

VECTOR_FN = """
CREATE FUNCTION agentledger.memory_search_vector_v5(p_space bigint, p_embedding @vector@.vector,
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
           h.score, NULL::float8, NULL::float8, NULL::float8, NULL::text
    FROM agentledger.memory_nearest_v2(p_space, p_embedding, p_user, p_own, p_session, p_kinds,
        p_tags, p_attrs, p_where, p_created_after, p_created_before, p_updated_after,
        p_updated_before, p_archived, p_limit) h
    -- Each hit by its primary key (OFFSET 0 keeps the lookup per hit, whatever the
    -- statistics say about the tenant's size).
    CROSS JOIN LATERAL (
        SELECT m.* FROM agentledger.memory_entities m
        WHERE m.tenant_id = agentledger.current_tenant() AND m.id = h.id
        OFFSET 0) e
    ORDER BY h.distance, e.id;
END
$fn$;
"""  # noqa: E501

HYBRID_VECTOR_FN = """
CREATE FUNCTION agentledger.memory_search_hybrid_vector_v6(p_query text, p_pool integer, p_text_cap integer, p_rrf_k integer, p_threshold double precision, p_cap integer,
    p_space bigint, p_embedding @vector@.vector,
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
    -- The tenant's text-search configuration (memory_settings; english when unset).
    v_config regconfig := coalesce((
        SELECT s.text_config FROM agentledger.memory_settings s
        WHERE s.tenant_id = agentledger.current_tenant()), 'english')::regconfig;
    v_tsquery tsquery := websearch_to_tsquery(v_config, p_query);
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
    )
    , vector_hits AS (
        SELECT n.id, n.score, row_number() OVER (ORDER BY n.distance, n.id) AS rank
        FROM agentledger.memory_nearest_v2(p_space, p_embedding, p_user, p_own, p_session,
            p_kinds, p_tags, p_attrs, p_where, p_created_after, p_created_before,
            p_updated_after, p_updated_before, p_archived, p_pool) n
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
           CASE WHEN f.text_score IS NOT NULL THEN ts_headline(v_config, concat_ws(' - ', e.name, e.summary), v_tsquery,
                        'StartSel=<b>, StopSel=</b>, MaxWords=30, MinWords=10') END
    FROM fused f
    JOIN agentledger.memory_entities e
      ON e.tenant_id = agentledger.current_tenant() AND e.id = f.id
    ORDER BY f.score DESC, e.id;
END
$fn$;
"""  # noqa: E501

# (function, its DDL, the extensions it needs), callees first.
FUNCTIONS = (
    ("memory_declare_space_v2", DECLARE_FN, ("vector",)),
    ("memory_nearest_v2", NEAREST_FN, ("vector",)),
    ("memory_search_vector_v5", VECTOR_FN, ("vector",)),
    ("memory_search_hybrid_vector_v6", HYBRID_VECTOR_FN, ("pg_trgm", "vector")),
)


def upgrade() -> None:
    role = app_role()
    op.execute(SCHEMA)
    for name, ddl, needs in FUNCTIONS:
        op.execute(create_function(name, ddl, needs, role))
    # The nearest-neighbour pass is a building block of the searches.
    op.execute(
        f"""
    DO $do$
    BEGIN
        IF to_regproc('agentledger.memory_nearest_v2') IS NOT NULL THEN
            REVOKE ALL ON FUNCTION agentledger.memory_nearest_v2 FROM "{role}";
        END IF;
    END
    $do$;
    """
    )


def downgrade() -> None:
    for name, _, _ in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION IF EXISTS agentledger.{name};")
    op.execute(DOWN_SCHEMA)
