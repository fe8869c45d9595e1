-- fragment: entity_columns
-- An entity as the statements return it (records.Entity).
       e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
       coalesce(e.relevance, 0.5)::float8 AS relevance, nullif(e.user_id, '') AS user_id,
       e.shared, e.source, e.key, e.update_count, e.access_count, e.last_accessed_at,
       e.created_at, e.updated_at, e.session_id

-- fragment: visible
-- The reader may see entity e: any, with no user given; else the user's own and, unless
-- own is set, the tenant's and the shared ones.
  AND (%(user)s::text IS NULL OR e.user_id = %(user)s
       OR (NOT %(own)s AND (e.user_id = '' OR e.shared)))

-- fragment: new_entity
-- An input row u as a new entity's values (its text configuration: see upsert_entities);
-- the inputs of its batch merged into it count as updates and accesses, as they would one
-- by one.
SELECT agentledger.current_tenant(), u.user_id, u.shared, u.kind, u.source, u.key, u.dedup_key,
       u.name, u.summary, u.attrs, u.tags, u.relevance, u.repeats, u.repeats,
       CASE WHEN u.repeats > 0 THEN coalesce(u.at, now()) END, coalesce(u.first_at, now()),
       coalesce(u.at, now()), u.session_id,
       coalesce((SELECT k.text_config FROM agentledger.memory_kind_languages k
                 WHERE k.tenant_id = agentledger.current_tenant() AND k.kind = u.kind),
                (SELECT c.text_config FROM agentledger.memory_settings c
                 WHERE c.tenant_id = agentledger.current_tenant()), 'english')

-- fragment: merge_entity
-- The merge of an input row into the stored entity (see upsert_entities) and the entity
-- it leaves.
    kind = EXCLUDED.kind,
    text_config = EXCLUDED.text_config,
    session_id = coalesce(EXCLUDED.session_id, e.session_id),
    name = EXCLUDED.name,
    summary = coalesce(EXCLUDED.summary, e.summary),
    attrs = CASE %(mode)s WHEN 'deep' THEN agentledger.jsonb_merge_deep(e.attrs, EXCLUDED.attrs)
                 WHEN 'replace' THEN EXCLUDED.attrs ELSE e.attrs || EXCLUDED.attrs END,
    tags = CASE WHEN %(mode)s = 'replace' THEN EXCLUDED.tags
                ELSE ARRAY(SELECT DISTINCT t FROM unnest(e.tags || EXCLUDED.tags) AS t ORDER BY t) END,
    relevance = coalesce(EXCLUDED.relevance, e.relevance),
    shared = e.shared OR EXCLUDED.shared,
    status = 'active',
    update_count = e.update_count + 1 + EXCLUDED.update_count,
    updated_at = greatest(e.updated_at, EXCLUDED.updated_at),
    access_count = e.access_count + 1 + EXCLUDED.update_count,
    last_accessed_at = greatest(e.last_accessed_at, EXCLUDED.updated_at)
RETURNING
    -- include: entity_columns
     , e.dedup_key, (e.xmax = 0) AS inserted

-- fragment: embedded_rows
-- The input rows u (a JSON array) beside their vectors (one per row, in order; NULL: none).
FROM ROWS FROM (
    jsonb_to_recordset(%(rows)s::jsonb) AS (
        user_id text, shared boolean, kind text, source text, key text, dedup_key text,
        name text, summary text, attrs jsonb, tags text[], relevance real, repeats integer,
        first_at timestamptz, at timestamptz, session_id uuid),
    unnest(%(embeddings)s::vector[])
) AS u(user_id, shared, kind, source, key, dedup_key, name, summary, attrs, tags, relevance,
       repeats, first_at, at, session_id, embedding)

-- name: upsert_entities
-- Insert entities or merge them into the rows with the same (user, dedup key): attrs merged
-- key by key (at every depth if mode is deep; replaced whole, with the tags, if replace),
-- NULLs never overwrite, tags unioned, updated_at the later of the stored one and
-- ``at`` (default now; ``first_at``: a batch's first input's, for a new entity's created_at),
-- update_count counting each merge (``repeats``: inputs of one batch already merged in),
-- each merge recorded as an access (access_count, last_accessed_at), and a given session
-- moving the entity to it (an absent one keeps the stored session); the search vector is
-- built in the kind's text-search configuration (memory_kind_languages), else the
-- tenant's (memory_settings), else english.
INSERT INTO agentledger.memory_entities AS e
    (tenant_id, user_id, shared, kind, source, key, dedup_key, name, summary, attrs, tags,
     relevance, update_count, access_count, last_accessed_at, created_at, updated_at,
     session_id, text_config)
-- include: new_entity
FROM jsonb_to_recordset(%(rows)s::jsonb) AS u(
    user_id text, shared boolean, kind text, source text, key text, dedup_key text, name text,
    summary text, attrs jsonb, tags text[], relevance real, repeats integer,
    first_at timestamptz, at timestamptz, session_id uuid)
ON CONFLICT (tenant_id, user_id, dedup_key) DO UPDATE SET
    -- include: merge_entity

-- name: upsert_entities_embedded
-- upsert_entities with vectors of the built-in space, one per row in order (NULL: none; a
-- stored vector stays), written with the row: set after it, the row would be written again.
INSERT INTO agentledger.memory_entities AS e
    (tenant_id, user_id, shared, kind, source, key, dedup_key, name, summary, attrs, tags,
     relevance, update_count, access_count, last_accessed_at, created_at, updated_at,
     session_id, text_config, embedding)
-- include: new_entity
     , u.embedding
-- include: embedded_rows
ON CONFLICT (tenant_id, user_id, dedup_key) DO UPDATE SET
    embedding = coalesce(EXCLUDED.embedding, e.embedding),
    -- include: merge_entity

-- name: upsert_entities_implied
-- upsert_entities with vectors given without a space (one per row in order, NULL: none),
-- whose space the statement chooses (memory_0020), where a read before it would cost a
-- round trip: the tenant's declared default space (its vectors table, replacing an earlier
-- vector), else the built-in column (a stored vector stays when none is given).
-- ``dimensions`` and ``fields`` describe the vectors given, checked before any write.
WITH target AS MATERIALIZED (
    SELECT agentledger.memory_implied_space_v1(
        %(dimensions)s::integer[], %(fields)s::text[]) AS space_id
), given AS MATERIALIZED (
    SELECT *
    -- include: embedded_rows
), upserted AS (
    INSERT INTO agentledger.memory_entities AS e
        (tenant_id, user_id, shared, kind, source, key, dedup_key, name, summary, attrs, tags,
         relevance, update_count, access_count, last_accessed_at, created_at, updated_at,
     session_id, text_config, embedding)
    -- include: new_entity
         , CASE WHEN (SELECT t.space_id FROM target t) IS NULL THEN u.embedding END
    FROM given u
    ON CONFLICT (tenant_id, user_id, dedup_key) DO UPDATE SET
        embedding = coalesce(EXCLUDED.embedding, e.embedding),
        -- include: merge_entity
), placed AS (
    INSERT INTO agentledger.memory_vectors AS m (tenant_id, space_id, entity_id, embedding)
    SELECT agentledger.current_tenant(), t.space_id, x.id, u.embedding
    FROM target t
    JOIN upserted x ON t.space_id IS NOT NULL
    JOIN given u ON u.user_id = coalesce(x.user_id, '') AND u.dedup_key = x.dedup_key
    WHERE u.embedding IS NOT NULL
    ON CONFLICT (tenant_id, space_id, entity_id) DO UPDATE SET embedding = EXCLUDED.embedding
)
SELECT * FROM upserted

-- name: refresh_stats
-- Analyze the entities table when a write of this many rows outdates the planner's figures
-- (memory_0017), its columns only (memory_0018): true when it did.
SELECT agentledger.memory_refresh_stats_v2(%(written)s::bigint)

-- name: entity_names
-- The stored names of entities by (user, dedup key), locked in key order for the upsert.
SELECT e.user_id, e.dedup_key, e.name
FROM agentledger.memory_entities e
JOIN jsonb_to_recordset(%(rows)s::jsonb) AS u(user_id text, dedup_key text)
  ON e.user_id = u.user_id AND e.dedup_key = u.dedup_key
WHERE e.tenant_id = agentledger.current_tenant()
ORDER BY e.user_id COLLATE "C", e.dedup_key COLLATE "C"
FOR NO KEY UPDATE OF e

-- name: get_entity
-- One entity by id, if the user may see it.
SELECT
    -- include: entity_columns
FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant() AND e.id = %(id)s
  -- include: visible

-- name: get_entity_touched
-- One entity by id, if the user may see it, recording the read (access_count,
-- last_accessed_at) in the same statement; the row shows the values from before.
WITH found AS (
    SELECT
        -- include: entity_columns
    FROM agentledger.memory_entities e
    WHERE e.tenant_id = agentledger.current_tenant() AND e.id = %(id)s
      -- include: visible
), touched AS (
    UPDATE agentledger.memory_entities AS t
    SET access_count = t.access_count + 1, last_accessed_at = now()
    FROM found f
    WHERE t.tenant_id = agentledger.current_tenant() AND t.id = f.id
)
SELECT * FROM found

-- name: get_entity_by_key
-- One entity by its dedup key in one user's namespace ('' for the tenant's own).
SELECT
    -- include: entity_columns
FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant() AND e.user_id = %(owner)s
  AND e.dedup_key = %(dedup_key)s

-- name: touch_entities
-- Record a read: bump access_count and last_accessed_at.
UPDATE agentledger.memory_entities AS e SET access_count = e.access_count + 1, last_accessed_at = now()
WHERE e.tenant_id = agentledger.current_tenant() AND e.id = ANY(%(ids)s::uuid[])

-- name: record_access
-- Write the reads an access log counted (memory/access.py): each entity's count added and
-- its last read kept when later than the stored one; entities deleted since are skipped.
UPDATE agentledger.memory_entities AS e
SET access_count = e.access_count + r.n,
    last_accessed_at = greatest(e.last_accessed_at, r.at)
FROM unnest(%(ids)s::uuid[], %(counts)s::integer[], %(ats)s::timestamptz[]) AS r(id, n, at)
WHERE e.tenant_id = agentledger.current_tenant() AND e.id = r.id

-- name: delete_entity
-- Delete one entity the user may see (its relationships go with it).
DELETE FROM agentledger.memory_entities AS e
WHERE e.tenant_id = agentledger.current_tenant() AND e.id = %(id)s
  -- include: visible

-- name: delete_entity_by_key
-- Delete one entity by its dedup key in one user's namespace ('' for the tenant's own).
DELETE FROM agentledger.memory_entities AS e
WHERE e.tenant_id = agentledger.current_tenant() AND e.user_id = %(owner)s
  AND e.dedup_key = %(dedup_key)s

-- name: entity_sources
-- The distinct sources of the entities a reader sees (of one kind, when given) that start
-- with a prefix, in code point order, after a keyset cursor.
SELECT DISTINCT e.source COLLATE "C" AS source
FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant()
  AND (%(kind)s::text IS NULL OR e.kind = %(kind)s::text)
  -- include: visible
  AND starts_with(e.source, %(prefix)s::text)
  AND (%(after)s::text IS NULL OR e.source COLLATE "C" > %(after)s::text)
ORDER BY 1
LIMIT %(limit)s

-- fragment: filter_arguments
-- The reader's scope and the filter (filters.params), then the page size, as every listing
-- and search function takes them.
    p_user => %(user)s::text, p_own => %(own)s::boolean, p_session => %(session)s::uuid,
    p_kinds => %(kinds)s::text[], p_tags => %(tags)s::text[],
    p_attrs => %(attrs)s::jsonb, p_where => %(where)s::jsonpath,
    p_created_after => %(created_after)s::timestamptz,
    p_created_before => %(created_before)s::timestamptz,
    p_updated_after => %(updated_after)s::timestamptz,
    p_updated_before => %(updated_before)s::timestamptz, p_archived => %(archived)s::boolean,
    p_limit => %(limit)s::integer

-- name: list_entities
-- Entities matching a filter, newest change first, after a keyset cursor. Through a definer
-- function: under RLS the tags / attrs filters could not use their indexes (memory_0005).
SELECT * FROM agentledger.memory_list_v3(
    p_after_updated => %(after_updated)s::timestamptz, p_after_id => %(after_id)s::uuid,
    -- include: filter_arguments
)

-- name: prepare_fuzzy
-- Check pg_trgm, which fuzzy name matching needs.
SELECT agentledger.memory_require('pg_trgm', %(feature)s)

-- name: find_by_name
-- Entities whose name is similar to the given one, most similar first: close words from the
-- tenant's word dictionary, then trigram similarity of whole names (see memory_0004).
SELECT * FROM agentledger.memory_search_name_v4(
    p_name => %(name)s::text, p_threshold => %(threshold)s::float8, p_cap => %(cap)s::integer,
    -- include: filter_arguments
)

-- name: search_text
-- Full-text search over name (A), summary (B) and string attrs (C), ranked, with highlights.
SELECT * FROM agentledger.memory_search_text_v6(
    p_query => %(query)s::text,
    -- include: filter_arguments
)

-- name: find_by_substring
-- Entities whose name or summary holds a text (an escaped ILIKE pattern), name matches
-- first; through a definer function so the trigram GIN indexes serve it (memory_0008).
SELECT * FROM agentledger.memory_search_substring_v4(
    p_pattern => %(pattern)s::text,
    -- include: filter_arguments
)

-- name: search_vector
-- Nearest entities in a space (NULL: the built-in column) by its distance, through its HNSW
-- index (a binary space's candidates re-ranked); exact over the scope when it falls short.
SELECT * FROM agentledger.memory_search_vector_v5(
    p_space => %(space)s::bigint, p_embedding => %(embedding)s::vector,
    -- include: filter_arguments
)

-- name: search_hybrid
-- Text and fuzzy-name candidates fused by reciprocal rank (RRF), each signal's score kept.
SELECT * FROM agentledger.memory_search_hybrid_v6(
    p_query => %(query)s::text, p_pool => %(pool)s::integer, p_text_cap => %(text_cap)s::integer,
    p_rrf_k => %(rrf_k)s::integer, p_threshold => %(threshold)s::float8,
    p_cap => %(cap)s::integer,
    -- include: filter_arguments
)

-- name: search_hybrid_vector
-- Text, fuzzy-name and vector candidates fused by reciprocal rank (RRF), in one statement.
SELECT * FROM agentledger.memory_search_hybrid_vector_v7(
    p_query => %(query)s::text, p_pool => %(pool)s::integer, p_text_cap => %(text_cap)s::integer,
    p_rrf_k => %(rrf_k)s::integer, p_threshold => %(threshold)s::float8,
    p_cap => %(cap)s::integer,
    p_space => %(space)s::bigint, p_embedding => %(embedding)s::vector,
    -- include: filter_arguments
)

-- name: relate
-- Create or update the edge (from, to, type) when the user may see both ends: each end is
-- looked up by its whole primary key (equality on both columns: the unique index, whatever
-- the statistics say) and visibility is tested on the row found, never used to find it.
INSERT INTO agentledger.memory_relationships AS r (tenant_id, from_id, to_id, type, weight, attrs)
SELECT agentledger.current_tenant(), %(from_id)s, %(to_id)s, %(type)s, %(weight)s, %(attrs)s
WHERE (SELECT %(user)s::text IS NULL OR e.user_id = %(user)s
               OR (NOT %(own)s AND (e.user_id = '' OR e.shared))
       FROM agentledger.memory_entities e
       WHERE e.tenant_id = agentledger.current_tenant() AND e.id = %(from_id)s)
  AND (SELECT %(user)s::text IS NULL OR e.user_id = %(user)s
               OR (NOT %(own)s AND (e.user_id = '' OR e.shared))
       FROM agentledger.memory_entities e
       WHERE e.tenant_id = agentledger.current_tenant() AND e.id = %(to_id)s)
ON CONFLICT (tenant_id, from_id, to_id, type) DO UPDATE SET
    weight = EXCLUDED.weight,
    attrs = r.attrs || EXCLUDED.attrs,
    updated_at = now()
RETURNING r.id, r.from_id, r.to_id, r.type, r.weight::float8 AS weight, r.attrs, r.created_at,
          r.updated_at

-- name: unrelate
-- Delete the edge (from, to, type).
DELETE FROM agentledger.memory_relationships AS r
WHERE r.tenant_id = agentledger.current_tenant()
  AND r.from_id = %(from_id)s AND r.to_id = %(to_id)s AND r.type = %(type)s

-- fragment: neighbour_columns
-- An entity and the edge that joins it to the one asked about (records.Neighbour).
    -- include: entity_columns
     , r.id AS r_id, r.from_id AS r_from_id, r.to_id AS r_to_id, r.type AS r_type,
       r.weight::float8 AS r_weight, r.attrs AS r_attrs, r.created_at AS r_created_at,
       r.updated_at AS r_updated_at

-- name: neighbours
-- Entities joined to one entity by an edge out of it, into it, or both; heaviest first.
SELECT * FROM (
    SELECT
        -- include: neighbour_columns
         , 'out' AS direction
    FROM agentledger.memory_relationships r JOIN agentledger.memory_entities e ON e.tenant_id = r.tenant_id AND e.id = r.to_id
    WHERE r.tenant_id = agentledger.current_tenant() AND r.from_id = %(id)s AND %(out)s
      AND (%(types)s::text[] IS NULL OR r.type = ANY(%(types)s::text[]))
      -- include: visible
    UNION ALL
    SELECT
        -- include: neighbour_columns
         , 'in' AS direction
    FROM agentledger.memory_relationships r JOIN agentledger.memory_entities e ON e.tenant_id = r.tenant_id AND e.id = r.from_id
    WHERE r.tenant_id = agentledger.current_tenant() AND r.to_id = %(id)s AND %(in)s
      AND (%(types)s::text[] IS NULL OR r.type = ANY(%(types)s::text[]))
      -- include: visible
) n
ORDER BY r_weight DESC, r_type, id
LIMIT %(limit)s

-- name: relationships_of
-- The edges out of or into any of a set of entities, both ends visible to the user (each
-- end found by its primary key, as in relate).
SELECT r.id, r.from_id, r.to_id, r.type, r.weight::float8 AS weight, r.attrs, r.created_at,
       r.updated_at
FROM agentledger.memory_relationships r
WHERE r.tenant_id = agentledger.current_tenant()
  AND ((%(out)s AND r.from_id = ANY(%(ids)s::uuid[]))
       OR (%(in)s AND r.to_id = ANY(%(ids)s::uuid[])))
  AND (%(types)s::text[] IS NULL OR r.type = ANY(%(types)s::text[]))
  AND (%(user)s::text IS NULL OR (
       (SELECT e.user_id = %(user)s OR (NOT %(own)s AND (e.user_id = '' OR e.shared))
        FROM agentledger.memory_entities e
        WHERE e.tenant_id = r.tenant_id AND e.id = r.from_id)
       AND (SELECT e.user_id = %(user)s OR (NOT %(own)s AND (e.user_id = '' OR e.shared))
            FROM agentledger.memory_entities e
            WHERE e.tenant_id = r.tenant_id AND e.id = r.to_id)))
ORDER BY r.weight DESC, r.type, r.id
LIMIT %(limit)s

-- name: traverse
-- Entities reachable from one within max_depth edges, breadth first, each reported once at
-- its shortest depth with the least path there: a level expands only the nodes it reached
-- first (fresh), never one reached before, so a dense graph costs its edges, not its paths.
-- Each level carries the nodes reached before it along (not fresh), for the next to skip.
WITH RECURSIVE walk (id, depth, path, via, fresh) AS (
    SELECT %(id)s::uuid, 0, ARRAY[%(id)s::uuid], ''::text, true
    UNION ALL
    SELECT * FROM (
        SELECT DISTINCT ON (x.id) x.*
        FROM (
            -- Every node reached so far (as jsonb keys), and whether the level can go on.
            SELECT w.*, jsonb_object_agg(w.id::text, 0) OVER () AS known,
                   bool_or(w.fresh AND w.depth < %(max_depth)s) OVER () AS going
            FROM walk w
        ) w CROSS JOIN LATERAL (
            SELECT n.id, w.depth + 1 AS depth, w.path || n.id AS path, n.type AS via, true AS fresh
            FROM (
                SELECT r.to_id AS id, r.type
                FROM agentledger.memory_relationships r
                WHERE %(out)s AND r.tenant_id = agentledger.current_tenant() AND r.from_id = w.id
                  AND (%(types)s::text[] IS NULL OR r.type = ANY(%(types)s::text[]))
                UNION ALL
                SELECT r.from_id, r.type
                FROM agentledger.memory_relationships r
                WHERE %(in)s AND r.tenant_id = agentledger.current_tenant() AND r.to_id = w.id
                  AND (%(types)s::text[] IS NULL OR r.type = ANY(%(types)s::text[]))
            ) n
            WHERE w.fresh AND w.depth < %(max_depth)s AND NOT w.known ? n.id::text
              AND (%(user)s::text IS NULL OR EXISTS (
                  SELECT 1 FROM agentledger.memory_entities e
                  WHERE e.tenant_id = agentledger.current_tenant() AND e.id = n.id
                    -- include: visible
              ))
            UNION ALL
            SELECT w.id, w.depth, w.path, w.via, false WHERE w.going
        ) x
        ORDER BY x.id, x.path, x.via
    ) s
)
SELECT
    -- include: entity_columns
     , s.depth, s.path, s.via
FROM walk s JOIN agentledger.memory_entities e ON e.tenant_id = agentledger.current_tenant() AND e.id = s.id
WHERE s.fresh AND s.depth > 0
ORDER BY s.depth, e.name, e.id
LIMIT %(limit)s

-- name: stats
-- Counts for the tenant or one user's own entities, from one snapshot.
SELECT count(*) AS entities,
       count(*) FILTER (WHERE e.status = 'active') AS active,
       count(*) FILTER (WHERE e.status = 'archived') AS archived,
       max(greatest(e.updated_at, e.last_accessed_at)) AS last_activity,
       coalesce((SELECT jsonb_object_agg(k.kind, k.n) FROM (
           SELECT e.kind, count(*) AS n FROM agentledger.memory_entities e
           WHERE e.tenant_id = agentledger.current_tenant()
             AND (%(user)s::text IS NULL OR e.user_id = %(user)s)
           GROUP BY e.kind) k), '{}') AS by_kind,
       (SELECT count(*) FROM agentledger.memory_relationships r
        WHERE r.tenant_id = agentledger.current_tenant()
          AND (%(user)s::text IS NULL OR EXISTS (
              SELECT 1 FROM agentledger.memory_entities f
              WHERE f.tenant_id = r.tenant_id AND f.id = r.from_id
                AND f.user_id = %(user)s))) AS relationships
FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant()
  AND (%(user)s::text IS NULL OR e.user_id = %(user)s)

-- fragment: past_retention
-- One batch of the entities past retention (a WHERE clause's last conditions on), the
-- least recently changed first, skipping rows other transactions hold.
      AND (%(user)s::text IS NULL OR e.user_id = %(user)s)
      AND (%(days)s::int IS NULL OR e.updated_at < now() - make_interval(days => %(days)s::int))
      AND (%(below)s::real IS NULL OR coalesce(e.relevance, 0.5) < %(below)s::real)
    ORDER BY e.updated_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED

-- name: retention_delete
-- Delete one batch of entities past retention, skipping rows other transactions hold.
WITH victims AS (
    SELECT e.tenant_id, e.id
    FROM agentledger.memory_entities e
    WHERE e.tenant_id = agentledger.current_tenant()
      -- include: past_retention
)
DELETE FROM agentledger.memory_entities AS e USING victims v
WHERE e.tenant_id = v.tenant_id AND e.id = v.id

-- name: forget_user_batch
-- Delete one batch of the entities one user owns, shared or not, waiting for rows others
-- hold (none is skipped); their relationships, vectors and expiry go with them.
DELETE FROM agentledger.memory_entities AS e
WHERE e.tenant_id = agentledger.current_tenant()
  AND e.id IN (
      SELECT o.id FROM agentledger.memory_entities o
      WHERE o.tenant_id = agentledger.current_tenant() AND o.user_id = %(user)s
      LIMIT %(batch)s
      FOR UPDATE)

-- name: retention_archive
-- Archive one batch of active entities past retention, skipping rows others hold.
WITH victims AS (
    SELECT e.tenant_id, e.id
    FROM agentledger.memory_entities e
    WHERE e.tenant_id = agentledger.current_tenant()
      AND e.status = 'active'
      -- include: past_retention
)
UPDATE agentledger.memory_entities AS e SET status = 'archived'
FROM victims v
WHERE e.tenant_id = v.tenant_id AND e.id = v.id

-- name: get_embedding
-- An entity's vector in a space (NULL space: the built-in column), if the user may see it.
SELECT CASE WHEN %(space)s::bigint IS NULL THEN e.embedding::vector
            ELSE (SELECT v.embedding FROM agentledger.memory_vectors v
                  WHERE v.tenant_id = e.tenant_id AND v.space_id = %(space)s::bigint
                    AND v.entity_id = e.id) END AS embedding
FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant() AND e.id = %(id)s
  -- include: visible
