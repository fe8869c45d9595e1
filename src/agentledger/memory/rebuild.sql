-- name: reindex_bounds
-- How many of the tenant's entities (of one kind, or all) are indexed in another language
-- than their own (their kind's, else the tenant's), and every n-th of their ids: the
-- upper keyset bounds of re-index batches.
WITH cfg AS (
    SELECT coalesce((SELECT c.text_config FROM agentledger.memory_settings c
                     WHERE c.tenant_id = agentledger.current_tenant()), 'english') AS config
), todo AS (
    SELECT e.id, row_number() OVER (ORDER BY e.id) AS n
    FROM agentledger.memory_entities e
    CROSS JOIN cfg
    LEFT JOIN agentledger.memory_kind_languages k ON k.tenant_id = e.tenant_id AND k.kind = e.kind
    WHERE e.tenant_id = agentledger.current_tenant()
      AND (%(kind)s::text IS NULL OR e.kind = %(kind)s::text)
      AND e.text_config <> coalesce(k.text_config, cfg.config)
)
SELECT count(*) AS pending,
       coalesce(array_agg(t.id ORDER BY t.id) FILTER (WHERE mod(t.n, %(batch)s) = 0), '{}')
           AS bounds
FROM todo t

-- name: reindex_range
-- Re-index the tenant's entities of one keyset range (lo, hi] still in another language
-- than their own (their kind's, else the tenant's; the search vector is generated from
-- text_config), skipping rows others hold; with how many were pending in the range before
-- (the skipped ones are the difference). The configuration is read off the row as updated
-- (a kind changed meanwhile is indexed in its new one).
WITH cfg AS (
    SELECT coalesce((SELECT c.text_config FROM agentledger.memory_settings c
                     WHERE c.tenant_id = agentledger.current_tenant()), 'english') AS config
), todo AS (
    SELECT e.tenant_id, e.id
    FROM agentledger.memory_entities e
    CROSS JOIN cfg
    LEFT JOIN agentledger.memory_kind_languages k ON k.tenant_id = e.tenant_id AND k.kind = e.kind
    WHERE e.tenant_id = agentledger.current_tenant()
      AND (%(lo)s::uuid IS NULL OR e.id > %(lo)s::uuid)
      AND (%(hi)s::uuid IS NULL OR e.id <= %(hi)s::uuid)
      AND e.text_config <> coalesce(k.text_config, cfg.config)
    FOR UPDATE OF e SKIP LOCKED
), done AS (
    UPDATE agentledger.memory_entities AS e
    SET text_config = coalesce((SELECT k.text_config FROM agentledger.memory_kind_languages k
                                WHERE k.tenant_id = e.tenant_id AND k.kind = e.kind), cfg.config)
    FROM todo t, cfg
    WHERE e.tenant_id = t.tenant_id AND e.id = t.id
    RETURNING e.id
)
SELECT (SELECT count(*) FROM done) AS done,
       (SELECT count(*) FROM agentledger.memory_entities e
        CROSS JOIN cfg
        LEFT JOIN agentledger.memory_kind_languages k
            ON k.tenant_id = e.tenant_id AND k.kind = e.kind
        WHERE e.tenant_id = agentledger.current_tenant()
          AND (%(lo)s::uuid IS NULL OR e.id > %(lo)s::uuid)
          AND (%(hi)s::uuid IS NULL OR e.id <= %(hi)s::uuid)
          AND e.text_config <> coalesce(k.text_config, cfg.config)) AS pending

-- name: reindex_pending
-- How many of the tenant's entities (of one kind, or all) are indexed in another language
-- than their own (their kind's, else the tenant's).
SELECT count(*) FROM agentledger.memory_entities e
LEFT JOIN agentledger.memory_kind_languages k ON k.tenant_id = e.tenant_id AND k.kind = e.kind
WHERE e.tenant_id = agentledger.current_tenant()
  AND (%(kind)s::text IS NULL OR e.kind = %(kind)s::text)
  AND e.text_config <> coalesce(k.text_config,
                                (SELECT c.text_config FROM agentledger.memory_settings c
                                 WHERE c.tenant_id = agentledger.current_tenant()), 'english')

-- name: reembed_bounds
-- How many of the tenant's entities have no vector in a space yet, and every n-th of their
-- ids: the upper keyset bounds of re-embedding batches.
WITH todo AS (
    SELECT e.id, row_number() OVER (ORDER BY e.id) AS n
    FROM agentledger.memory_entities e
    WHERE e.tenant_id = agentledger.current_tenant()
      AND NOT EXISTS (
          SELECT 1 FROM agentledger.memory_vectors v
          WHERE v.tenant_id = e.tenant_id AND v.space_id = %(space)s AND v.entity_id = e.id)
)
SELECT count(*) AS missing,
       coalesce(array_agg(t.id ORDER BY t.id) FILTER (WHERE mod(t.n, %(batch)s) = 0), '{}')
           AS bounds
FROM todo t

-- name: reembed_candidates
-- The entities of one keyset range (lo, hi] with no vector in a space yet, in id order.
SELECT e.id, e.name, e.summary FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant()
  AND (%(lo)s::uuid IS NULL OR e.id > %(lo)s::uuid)
  AND (%(hi)s::uuid IS NULL OR e.id <= %(hi)s::uuid)
  AND NOT EXISTS (
      SELECT 1 FROM agentledger.memory_vectors v
      WHERE v.tenant_id = e.tenant_id AND v.space_id = %(space)s AND v.entity_id = e.id)
ORDER BY e.id

-- name: unfinished_batches
-- The batch tasks of a queue (the flips left out) that wait or run.
SELECT count(*) FROM agentledger.tasks t
WHERE t.tenant_id = agentledger.current_tenant() AND t.finished_at IS NULL
  AND t.queue = %(queue)s AND t.task_type = 'batch'

-- name: reembed_missing
-- How many of the tenant's entities have no vector in a space yet.
SELECT count(*) FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant()
  AND NOT EXISTS (
      SELECT 1 FROM agentledger.memory_vectors v
      WHERE v.tenant_id = e.tenant_id AND v.space_id = %(space)s AND v.entity_id = e.id)
