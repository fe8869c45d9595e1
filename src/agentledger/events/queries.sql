-- name: append_events
-- notifies: agentledger_events
-- Append a batch atomically (idempotent by event id, version-checked per stream); one
-- row per event, in the batch's order (audit_0013); dated: some event carries its own time.
SELECT * FROM agentledger.append_events_v5(%(events)s::jsonb, %(expected)s::jsonb,
                                           %(dated)s::boolean)

-- name: append_event
-- notifies: agentledger_events
-- Append one event as append_events appends a batch of one, with the event's fields as
-- arguments (audit_0013); ``at`` NULL: now.
SELECT * FROM agentledger.append_event_v3(
    %(event_id)s::uuid, %(stream)s::text, %(type)s::text, %(actor_type)s::text,
    %(actor_id)s::text, %(payload)s::jsonb, %(metadata)s::jsonb, %(expected)s::bigint,
    %(at)s::timestamptz)

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
-- The tenant's events after a cursor event, in commit-safe order; held back only by this
-- tenant's transactions that are appending (audit_0004), along the feed's index (audit_0006)
-- from just past the cursor (audit_0011).
-- One row with NULL event columns when nothing is readable; cursor_found says whether the
-- cursor exists. JSON comes as its text, for the records to decode when it is read.
SELECT cursor_found, event_id, stream, version, position, type, actor_type, actor_id,
       payload::text, metadata::text, created_at
FROM agentledger.read_events_v3(%(after)s, %(types)s::text[], %(limit)s)

-- name: save_checkpoint
-- Remember how far a named subscriber has read: 0, or the position of an event of this
-- tenant (no row when it is neither, and nothing is saved).
INSERT INTO agentledger.event_checkpoints (tenant_id, subscriber, position)
SELECT agentledger.current_tenant(), %(subscriber)s, %(position)s
WHERE %(position)s::bigint = 0 OR EXISTS (
    SELECT 1 FROM agentledger.events
    WHERE tenant_id = agentledger.current_tenant() AND position = %(position)s::bigint)
ON CONFLICT (tenant_id, subscriber)
DO UPDATE SET position = excluded.position, updated_at = now()
RETURNING position

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
