-- name: get_vocabulary
-- The bound tenant's vocabularies: one row per restricted domain (kind, relationship_type).
SELECT v.domain, v.terms FROM agentledger.memory_vocabularies v
WHERE v.tenant_id = agentledger.current_tenant()

-- name: set_vocabulary
-- Restrict one domain to these terms (the triggers of memory_0010 enforce them).
INSERT INTO agentledger.memory_vocabularies AS v (tenant_id, domain, terms)
VALUES (agentledger.current_tenant(), %(domain)s, %(terms)s)
ON CONFLICT (tenant_id, domain) DO UPDATE SET terms = EXCLUDED.terms, updated_at = now()

-- name: clear_vocabulary
-- Leave one domain open.
DELETE FROM agentledger.memory_vocabularies AS v
WHERE v.tenant_id = agentledger.current_tenant() AND v.domain = %(domain)s

-- name: kinds_outside
-- The kinds of stored entities that a vocabulary would leave out.
SELECT coalesce(array_agg(DISTINCT e.kind ORDER BY e.kind), '{}') AS terms
FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant() AND NOT e.kind = ANY(%(terms)s::text[])

-- name: types_outside
-- The types of stored relationships that a vocabulary would leave out.
SELECT coalesce(array_agg(DISTINCT r.type ORDER BY r.type), '{}') AS terms
FROM agentledger.memory_relationships r
WHERE r.tenant_id = agentledger.current_tenant() AND NOT r.type = ANY(%(terms)s::text[])
