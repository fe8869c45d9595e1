-- name: relay_lag
-- How many of the tenant's committed events (of the given types) sort after the relay's
-- checkpoint in commit-safe order: what it has still to publish (none when the checkpoint
-- event does not exist). The checkpoint's place is compared with the feed index's own
-- columns, so the count reads only the events after it.
SELECT count(*) FROM agentledger.events e
WHERE e.tenant_id = agentledger.current_tenant()
  AND (e.commit_order, e.position) > (
      CASE WHEN %(after)s::bigint = 0 THEN '0'::xid8
           ELSE (SELECT c.commit_order FROM agentledger.events c
                 WHERE c.tenant_id = agentledger.current_tenant()
                   AND c.position = %(after)s::bigint) END,
      %(after)s::bigint)
  AND (%(types)s::text[] IS NULL OR e.type = ANY(%(types)s::text[]))
