-- name: set_ttls
-- Give entities just written a time to live from now, for the write that made them what they
-- are (their update_count now).
INSERT INTO agentledger.entity_expiry AS x
    (tenant_id, entity_id, ttl_minutes, written_count, expires_at)
SELECT e.tenant_id, e.id, u.ttl, e.update_count, now() + u.ttl * interval '1 minute'
FROM unnest(%(ids)s::uuid[], %(ttls)s::float8[]) AS u(id, ttl)
JOIN agentledger.memory_entities e
  ON e.tenant_id = agentledger.current_tenant() AND e.id = u.id
ON CONFLICT (tenant_id, entity_id) DO UPDATE SET
    ttl_minutes = EXCLUDED.ttl_minutes,
    written_count = EXCLUDED.written_count,
    expires_at = EXCLUDED.expires_at

-- name: get_entity
-- One entity by its dedup key in one user's namespace ('' for the tenant's own), unless its
-- TTL has run out; with the TTL it holds (NULL: none).
SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
       coalesce(e.relevance, 0.5)::float8 AS relevance, nullif(e.user_id, '') AS user_id,
       e.shared, e.source, e.key, e.update_count, e.access_count, e.last_accessed_at,
       e.created_at, e.updated_at, e.session_id, x.ttl_minutes
FROM agentledger.memory_entities e
LEFT JOIN agentledger.entity_expiry x
  ON x.tenant_id = e.tenant_id AND x.entity_id = e.id AND x.written_count = e.update_count
WHERE e.tenant_id = agentledger.current_tenant() AND e.user_id = %(owner)s
  AND e.dedup_key = %(dedup_key)s
  AND (x.expires_at IS NULL OR x.expires_at > now())

-- fragment: unexpired_page
-- The rest of a call of one of memory's listing or search functions (l): its scope and
-- filter, and a page size raised by the tenant's count of run-out rows, so that the page is
-- whole however many of them it meets; then its rows, in its order, less the run-out ones.
    p_user => %(user)s::text, p_own => %(own)s::boolean, p_session => %(session)s::uuid,
    p_kinds => %(kinds)s::text[], p_tags => %(tags)s::text[],
    p_attrs => %(attrs)s::jsonb, p_where => %(where)s::jsonpath,
    p_created_after => %(created_after)s::timestamptz,
    p_created_before => %(created_before)s::timestamptz,
    p_updated_after => %(updated_after)s::timestamptz,
    p_updated_before => %(updated_before)s::timestamptz, p_archived => %(archived)s::boolean,
    p_limit => %(limit)s::integer + (
        SELECT count(*)::integer FROM agentledger.entity_expiry d
        WHERE d.tenant_id = agentledger.current_tenant() AND d.expires_at <= now()))
    WITH ORDINALITY AS l
LEFT JOIN agentledger.entity_expiry x
  ON x.tenant_id = agentledger.current_tenant() AND x.entity_id = l.id
 AND x.written_count = l.update_count
WHERE x.expires_at IS NULL OR x.expires_at > now()
ORDER BY l.ordinality
LIMIT %(limit)s

-- name: list_entities
-- memory's listing (memory_list_v3) without the entities whose TTL has run out, in its order.
SELECT l.*, x.ttl_minutes
FROM agentledger.memory_list_v3(
    p_after_updated => NULL::timestamptz, p_after_id => NULL::uuid,
    -- include: unexpired_page

-- name: search_vector
-- memory's vector search (memory_search_vector_v3) without the entities whose TTL has run
-- out.
SELECT l.*, x.ttl_minutes
FROM agentledger.memory_search_vector_v3(
    p_embedding => %(embedding)s::vector,
    -- include: unexpired_page

-- name: entity_sources
-- memory's distinct sources a reader sees (entity_sources), counting only entities whose TTL
-- has not run out.
SELECT DISTINCT e.source COLLATE "C" AS source
FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant()
  AND (%(kind)s::text IS NULL OR e.kind = %(kind)s::text)
  AND (%(user)s::text IS NULL OR e.user_id = %(user)s
       OR (NOT %(own)s AND (e.user_id = '' OR e.shared)))
  AND starts_with(e.source, %(prefix)s::text)
  AND (%(after)s::text IS NULL OR e.source COLLATE "C" > %(after)s::text)
  AND NOT EXISTS (
      SELECT FROM agentledger.entity_expiry x
      WHERE x.tenant_id = e.tenant_id AND x.entity_id = e.id
        AND x.written_count = e.update_count AND x.expires_at <= now())
ORDER BY 1
LIMIT %(limit)s

-- name: refresh
-- Restart the TTL of entities just read, unless it has run out meanwhile.
UPDATE agentledger.entity_expiry AS x
SET expires_at = now() + x.ttl_minutes * interval '1 minute'
WHERE x.tenant_id = agentledger.current_tenant() AND x.entity_id = ANY(%(ids)s::uuid[])
  AND x.expires_at > now()

-- name: sweep
-- Delete one batch of run-out entities (oldest expiry first; rows other sweeps hold are
-- skipped) and drop the batch's stale rows, whose entity was written again without a TTL.
WITH due AS (
    SELECT x.entity_id, x.written_count
    FROM agentledger.entity_expiry x
    WHERE x.tenant_id = agentledger.current_tenant() AND x.expires_at <= now()
    ORDER BY x.expires_at
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM agentledger.memory_entities e
    USING due
    WHERE e.tenant_id = agentledger.current_tenant() AND e.id = due.entity_id
      AND e.update_count = due.written_count
    RETURNING e.id
), stale AS (
    DELETE FROM agentledger.entity_expiry x
    USING due
    WHERE x.tenant_id = agentledger.current_tenant() AND x.entity_id = due.entity_id
)
SELECT (SELECT count(*) FROM gone)::integer AS deleted, (SELECT count(*) FROM due)::integer AS seen
