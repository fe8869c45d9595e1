-- name: relay_lag
-- How many of the tenant's committed events (of the given types) sort after the relay's
-- checkpoint in commit-safe order: what it has still to publish.
WITH cur AS (SELECT c.commit_order, c.position FROM agentledger.events c WHERE c.tenant_id = agentledger.current_tenant() AND c.position = %(after)s UNION ALL SELECT '0'::xid8, 0::bigint WHERE %(after)s = 0)
SELECT count(*) FROM cur, agentledger.events e
WHERE e.tenant_id = agentledger.current_tenant()
  AND (e.commit_order, e.position) > (cur.commit_order, cur.position)
  AND (%(types)s::text[] IS NULL OR e.type = ANY(%(types)s::text[]))
