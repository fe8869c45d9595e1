-- name: lock_request
-- Serialise the raises of one client-side id in this tenant for this transaction: the
-- raise that follows (its own statement, so its own snapshot) then sees a racing retry's
-- committed alert or request, and returns it rather than breaking the key or counting twice.
SELECT pg_advisory_xact_lock(
    hashtextextended('agentledger.alerts/' || agentledger.current_tenant() || '/' || %(id)s, 0))

-- name: raise_alert
-- Create an alert with the client-side id, or bump the open alert with the same dedup key
-- (remembering the id); a repeated id returns its alert unchanged. ``at``: when this
-- occurrence happened (default now); created_at and last_seen_at span the occurrences. A
-- new alert notifies the alerts channel (delivered when the transaction commits).
WITH seen AS (
    SELECT r.alert_id FROM agentledger.alert_requests r
    WHERE r.tenant_id = agentledger.current_tenant() AND r.request_id = %(id)s
    UNION ALL
    SELECT s.id FROM agentledger.alerts s
    WHERE s.tenant_id = agentledger.current_tenant() AND s.id = %(id)s
), upserted AS (
    INSERT INTO agentledger.alerts AS a
        (tenant_id, id, tier, title, body, action_required, run_id, entity_ref, case_ref,
         dedup_key, created_at, last_seen_at)
    SELECT agentledger.current_tenant(), %(id)s, %(tier)s, %(title)s, %(body)s,
           %(action_required)s, %(run_id)s, %(entity_ref)s, %(case_ref)s, %(dedup_key)s,
           coalesce(%(at)s::timestamptz, now()), coalesce(%(at)s::timestamptz, now())
    WHERE NOT EXISTS (SELECT 1 FROM seen)
    ON CONFLICT (tenant_id, dedup_key) WHERE dedup_key IS NOT NULL AND status <> 'resolved'
    DO UPDATE SET occurrences = a.occurrences + 1,
        created_at = least(a.created_at, EXCLUDED.created_at),
        last_seen_at = greatest(a.last_seen_at, EXCLUDED.last_seen_at)
    RETURNING a.*
), noted AS (
    INSERT INTO agentledger.alert_requests (tenant_id, request_id, alert_id)
    SELECT u.tenant_id, %(id)s, u.id FROM upserted u WHERE u.id <> %(id)s
)
SELECT u.*,
       (CASE WHEN u.occurrences = 1 THEN pg_notify('agentledger_alerts', json_build_object(
           'tenant_id', u.tenant_id, 'alert_id', u.id, 'tier', u.tier)::text) END)::text
           AS notified
FROM upserted u
UNION ALL
SELECT a.*, NULL::text AS notified
FROM agentledger.alerts a
WHERE a.tenant_id = agentledger.current_tenant() AND a.id = (SELECT alert_id FROM seen LIMIT 1)

-- name: get_alert
-- One alert by id.
SELECT * FROM agentledger.alerts
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s

-- name: transition_alert
-- Acknowledge or resolve an alert in a state the action is allowed from, noting who and when
-- (``at``; not before the alert was created or acknowledged: by default now, or that time
-- when it is ahead of this clock).
UPDATE agentledger.alerts
SET status = %(target)s::text,
    acknowledged_at = CASE WHEN %(target)s::text = 'acknowledged'
                           THEN coalesce(%(at)s::timestamptz, greatest(now(), created_at))
                           ELSE acknowledged_at END,
    acknowledged_by = CASE WHEN %(target)s::text = 'acknowledged' THEN %(by)s::text
                           ELSE acknowledged_by END,
    resolved_at = CASE WHEN %(target)s::text = 'resolved'
                       THEN coalesce(%(at)s::timestamptz,
                                     greatest(now(), created_at, acknowledged_at))
                       ELSE resolved_at END,
    resolved_by = CASE WHEN %(target)s::text = 'resolved' THEN %(by)s::text ELSE resolved_by END
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s AND status = ANY(%(sources)s)
  AND (%(at)s::timestamptz IS NULL
       OR %(at)s::timestamptz >= greatest(created_at, acknowledged_at))
RETURNING *

-- name: pending_alerts
-- Pending alerts, most urgent tier first, oldest first within a tier.
SELECT * FROM agentledger.alerts
WHERE tenant_id = agentledger.current_tenant() AND status = 'pending'
  AND (%(tier)s::smallint IS NULL OR tier = %(tier)s::smallint)
ORDER BY tier, created_at, id
LIMIT %(limit)s

-- name: pending_counts
-- How many alerts of each tier are pending.
SELECT tier, count(*) AS pending FROM agentledger.alerts
WHERE tenant_id = agentledger.current_tenant() AND status = 'pending'
GROUP BY tier

-- name: raised_alerts
-- Pending alerts in the order they were recorded, after a (recorded_at, id) position.
SELECT * FROM agentledger.alerts
WHERE tenant_id = agentledger.current_tenant() AND status = 'pending'
  AND (%(tier)s::smallint IS NULL OR tier = %(tier)s::smallint)
  AND (%(after_at)s::timestamptz IS NULL
       OR (recorded_at, id) > (%(after_at)s::timestamptz, %(after_id)s::uuid))
ORDER BY recorded_at, id
LIMIT %(limit)s

-- name: list_alerts
-- Alerts newest first, optionally of one status and tier, before a (created_at, id)
-- position given whole (never re-read from a row, which may be gone).
SELECT * FROM agentledger.alerts
WHERE tenant_id = agentledger.current_tenant()
  AND (%(status)s::text IS NULL OR status = %(status)s::text)
  AND (%(tier)s::smallint IS NULL OR tier = %(tier)s::smallint)
  AND (%(before_at)s::timestamptz IS NULL
       OR (created_at, id) < (%(before_at)s::timestamptz, %(before_id)s::uuid))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s
