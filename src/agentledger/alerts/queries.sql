-- name: raise_alert
-- Create an alert, or bump the counter of the open alert with the same dedup key; a new
-- alert notifies the alerts channel (delivered when the transaction commits).
WITH upserted AS (
    INSERT INTO agentledger.alerts AS a
        (tenant_id, tier, title, body, action_required, run_id, entity_ref, case_ref, dedup_key)
    VALUES (agentledger.current_tenant(), %(tier)s, %(title)s, %(body)s, %(action_required)s,
            %(run_id)s, %(entity_ref)s, %(case_ref)s, %(dedup_key)s)
    ON CONFLICT (tenant_id, dedup_key) WHERE dedup_key IS NOT NULL AND status <> 'resolved'
    DO UPDATE SET occurrences = a.occurrences + 1, last_seen_at = now()
    RETURNING a.*
)
SELECT u.*,
       CASE WHEN u.occurrences = 1 THEN pg_notify('agentledger_alerts', json_build_object(
           'tenant_id', u.tenant_id, 'alert_id', u.id, 'tier', u.tier)::text) END AS notified
FROM upserted u

-- name: get_alert
-- One alert by id.
SELECT * FROM agentledger.alerts
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s

-- name: transition_alert
-- Acknowledge or resolve an alert in a state the action is allowed from, noting who and when.
UPDATE agentledger.alerts
SET status = %(target)s::text,
    acknowledged_at = CASE WHEN %(target)s::text = 'acknowledged' THEN now()
                           ELSE acknowledged_at END,
    acknowledged_by = CASE WHEN %(target)s::text = 'acknowledged' THEN %(by)s::text
                           ELSE acknowledged_by END,
    resolved_at = CASE WHEN %(target)s::text = 'resolved' THEN now() ELSE resolved_at END,
    resolved_by = CASE WHEN %(target)s::text = 'resolved' THEN %(by)s::text ELSE resolved_by END
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s AND status = ANY(%(sources)s)
RETURNING *

-- name: pending_alerts
-- Pending alerts, most urgent tier first, oldest first within a tier.
SELECT * FROM agentledger.alerts
WHERE tenant_id = agentledger.current_tenant() AND status = 'pending'
  AND (%(tier)s::smallint IS NULL OR tier = %(tier)s::smallint)
ORDER BY tier, created_at, id
LIMIT %(limit)s

-- name: list_alerts
-- Alerts newest first, optionally of one status and tier, before a keyset cursor.
SELECT * FROM agentledger.alerts
WHERE tenant_id = agentledger.current_tenant()
  AND (%(status)s::text IS NULL OR status = %(status)s::text)
  AND (%(tier)s::smallint IS NULL OR tier = %(tier)s::smallint)
  AND (%(before)s::uuid IS NULL OR (created_at, id) < (
        SELECT b.created_at, b.id FROM agentledger.alerts b
        WHERE b.tenant_id = agentledger.current_tenant() AND b.id = %(before)s::uuid))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s
