-- name: append_events
-- Append a batch atomically (idempotent by event id, version-checked per stream).
SELECT * FROM agentledger.append_events_v1(%(events)s::jsonb, %(expected)s::jsonb)

-- name: get_event
-- One event by its id.
SELECT * FROM agentledger.events
WHERE tenant_id = agentledger.current_tenant() AND event_id = %(event_id)s

-- name: stream_version
-- The stream's current version (0 when it has no events).
SELECT coalesce(max(version), 0) FROM agentledger.events
WHERE tenant_id = agentledger.current_tenant() AND stream = %(stream)s

-- name: read_stream_forwards
-- A stream's events from a version upwards.
SELECT * FROM agentledger.events
WHERE tenant_id = agentledger.current_tenant() AND stream = %(stream)s
  AND version >= %(version)s
ORDER BY version
LIMIT %(limit)s

-- name: read_stream_backwards
-- A stream's events from a version downwards (newest first).
SELECT * FROM agentledger.events
WHERE tenant_id = agentledger.current_tenant() AND stream = %(stream)s
  AND version <= %(version)s
ORDER BY version DESC
LIMIT %(limit)s

-- name: read_all
-- The tenant's events after a cursor event, in commit-safe order: by writing transaction,
-- then position, and only from transactions older than every one still running (so an
-- event that commits later can never sort before one already read). One row with NULL
-- event columns when nothing is readable; cursor_found says whether the cursor exists.
WITH cur AS (
    SELECT c.xid, c.position FROM agentledger.events c
    WHERE c.tenant_id = agentledger.current_tenant() AND c.position = %(after)s
    UNION ALL
    SELECT '0'::xid8, 0::bigint WHERE %(after)s = 0
)
SELECT (SELECT count(*) FROM cur) AS cursor_found, e.*
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT e.event_id, e.stream, e.version, e.position, e.type, e.actor_type, e.actor_id,
           e.payload, e.metadata, e.created_at
    FROM cur, agentledger.events e
    WHERE e.tenant_id = agentledger.current_tenant()
      AND (e.xid, e.position) > (cur.xid, cur.position)
      AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
      AND (%(types)s::text[] IS NULL OR e.type = ANY(%(types)s::text[]))
    ORDER BY e.xid, e.position
    LIMIT %(limit)s
) e ON true

-- name: save_checkpoint
-- Remember how far a named subscriber has read.
INSERT INTO agentledger.event_checkpoints (tenant_id, subscriber, position)
VALUES (agentledger.current_tenant(), %(subscriber)s, %(position)s)
ON CONFLICT (tenant_id, subscriber)
DO UPDATE SET position = excluded.position, updated_at = now()

-- name: get_checkpoint
-- A named subscriber's saved position (none when it never saved one).
SELECT position FROM agentledger.event_checkpoints
WHERE tenant_id = agentledger.current_tenant() AND subscriber = %(subscriber)s

-- name: recent
-- The tenant's latest events, newest first (for people watching; subscribers use read_all).
SELECT event_id, stream, version, position, type, actor_type, actor_id, payload, metadata,
       created_at
FROM agentledger.events
WHERE tenant_id = agentledger.current_tenant()
  AND (%(types)s::text[] IS NULL OR type = ANY(%(types)s::text[]))
ORDER BY position DESC
LIMIT %(limit)s
