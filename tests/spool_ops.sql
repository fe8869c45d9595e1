-- name: insert_marker
-- A spoolable test write with a client-side id: an API key row keyed by it.
INSERT INTO agentledger.api_keys (tenant_id, id, name, role, prefix, hash)
VALUES (agentledger.current_tenant(), %(id)s, %(name)s, 'reader', 'spool', %(hash)s)
ON CONFLICT (tenant_id, id) DO NOTHING

-- name: count_markers
-- How many marker rows the tenant has, and in which order they were inserted.
SELECT count(*) AS n, coalesce(array_agg(name ORDER BY created_at, name), '{}') AS names
FROM agentledger.api_keys WHERE tenant_id = agentledger.current_tenant() AND prefix = 'spool'
