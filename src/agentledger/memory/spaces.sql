-- name: require_extension
-- Fail with MissingExtension when the feature's extension is absent.
SELECT agentledger.memory_require(%(extension)s, %(feature)s)

-- name: vector_spaces
-- Check pgvector; the tenant's declared embedding spaces (the built-in one is implied).
SELECT agentledger.memory_require('vector', %(feature)s) AS ok,
       coalesce((SELECT jsonb_agg(to_jsonb(s) ORDER BY s.name) FROM agentledger.memory_spaces s
                 WHERE s.tenant_id = agentledger.current_tenant()), '[]') AS spaces

-- name: prepare_space_search
-- Check pgvector, let the HNSW scan continue past filtered-out rows, read the spaces.
SELECT agentledger.memory_require('vector', %(feature)s) AS ok,
       set_config('hnsw.iterative_scan', 'relaxed_order', true) AS scan,
       set_config('hnsw.ef_search', %(ef_search)s, true) AS ef,
       coalesce((SELECT jsonb_agg(to_jsonb(s) ORDER BY s.name) FROM agentledger.memory_spaces s
                 WHERE s.tenant_id = agentledger.current_tenant()), '[]') AS spaces

-- name: declare_space
-- Declare a space and build its partial HNSW index, of the vectors or of their bits
-- (memory_0014); a declared one is returned.
SELECT * FROM agentledger.memory_declare_space_v2(
    p_name => %(name)s::text, p_model => %(model)s::text, p_dimensions => %(dimensions)s::integer,
    p_distance => %(distance)s::text, p_element => %(element)s::text,
    p_quantization => %(quantization)s::text, p_rerank => %(rerank)s::integer)

-- name: drop_space
-- Drop a declared space, its vectors and its index.
SELECT agentledger.memory_drop_space_v1(p_name => %(name)s::text)

-- name: list_spaces
-- The tenant's declared spaces by name.
SELECT * FROM agentledger.memory_spaces s
WHERE s.tenant_id = agentledger.current_tenant()
ORDER BY s.name

-- name: lock_default_space
-- Serialise changes of the tenant's default space until the transaction ends; taken before
-- the statement that changes it, whose snapshot then holds the previous change.
SELECT pg_advisory_xact_lock(
    hashtextextended('agentledger.memory_spaces/' || agentledger.current_tenant(), 0))

-- name: set_default_space
-- Make one declared space the default (NULL name: none, so the built-in one is), the
-- default before it cleared first, in the same statement (the unique index on the flag
-- does not count a row this transaction has changed).
WITH cleared AS (
    UPDATE agentledger.memory_spaces AS s SET is_default = false
    WHERE s.tenant_id = agentledger.current_tenant() AND s.is_default
      AND s.name IS DISTINCT FROM %(name)s::text
    RETURNING s.id
)
UPDATE agentledger.memory_spaces AS s SET is_default = true
WHERE s.tenant_id = agentledger.current_tenant() AND s.name = %(name)s::text
  AND (SELECT count(*) FROM cleared) >= 0
RETURNING s.*

-- name: set_space_vectors
-- Store vectors of declared spaces for entities just upserted (replacing earlier ones).
INSERT INTO agentledger.memory_vectors AS m (tenant_id, space_id, entity_id, embedding)
SELECT agentledger.current_tenant(), u.space_id, u.entity_id, u.embedding
FROM unnest(%(spaces)s::bigint[], %(ids)s::uuid[], %(embeddings)s::vector[])
     AS u(space_id, entity_id, embedding)
ON CONFLICT (tenant_id, space_id, entity_id) DO UPDATE SET embedding = EXCLUDED.embedding

-- name: add_space_vectors
-- Store re-embedded vectors of entities that still exist, keeping any written meanwhile.
INSERT INTO agentledger.memory_vectors AS m (tenant_id, space_id, entity_id, embedding)
SELECT e.tenant_id, %(space)s, e.id, u.embedding
FROM unnest(%(ids)s::uuid[], %(embeddings)s::vector[]) AS u(entity_id, embedding)
JOIN agentledger.memory_entities e
  ON e.tenant_id = agentledger.current_tenant() AND e.id = u.entity_id
ON CONFLICT (tenant_id, space_id, entity_id) DO NOTHING
