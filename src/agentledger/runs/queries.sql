-- name: insert_run
-- Log a started run (a repeated client-side id returns nothing).
INSERT INTO agentledger.runs
    (tenant_id, id, trigger_type, source_id, content, priority, entity_ref, metadata,
     started_at)
VALUES (agentledger.current_tenant(), %(id)s, %(trigger_type)s, %(source_id)s, %(content)s,
        %(priority)s, %(entity_ref)s, %(metadata)s, coalesce(%(at)s::timestamptz, now()))
ON CONFLICT (tenant_id, id) DO NOTHING
RETURNING *

-- name: get_run
-- One run by id.
SELECT * FROM agentledger.runs
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s

-- name: finish_run
-- Record a run's outcome when it is in a state the action is allowed from, at the given
-- time (not before the start; by default now, or the start when that is ahead of this
-- clock); the duration defaults to the time since it started.
UPDATE agentledger.runs
SET status = %(target)s,
    error = %(error)s,
    response_id = %(response_id)s,
    duration_ms = coalesce(%(duration_ms)s::bigint,
        (extract(epoch FROM coalesce(%(at)s::timestamptz,
                                     greatest(clock_timestamp(), started_at)) - started_at)
         * 1000)::bigint),
    tokens_in = %(tokens_in)s,
    tokens_out = %(tokens_out)s,
    finished_at = coalesce(%(at)s::timestamptz, greatest(clock_timestamp(), started_at))
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s
  AND status = ANY(%(sources)s)
  AND (%(at)s::timestamptz IS NULL OR %(at)s::timestamptz >= started_at)
RETURNING *

-- name: list_runs
-- Runs newest first, optionally of one status / trigger type, before a (started_at, id)
-- position given whole (never re-read from a row, which may be gone).
SELECT * FROM agentledger.runs
WHERE tenant_id = agentledger.current_tenant()
  AND (%(status)s::text IS NULL OR status = %(status)s::text)
  AND (%(trigger_type)s::text IS NULL OR trigger_type = %(trigger_type)s::text)
  AND (%(before_at)s::timestamptz IS NULL
       OR (started_at, id) < (%(before_at)s::timestamptz, %(before_id)s::uuid))
ORDER BY started_at DESC, id DESC
LIMIT %(limit)s

-- name: run_stats
-- Count, duration percentiles and tokens per trigger type and UTC day.
SELECT trigger_type,
       date_trunc('day', started_at, 'UTC')::date AS day,
       count(*) AS runs,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms,
       coalesce(sum(tokens_in), 0)::bigint AS tokens_in,
       coalesce(sum(tokens_out), 0)::bigint AS tokens_out
FROM agentledger.runs
WHERE tenant_id = agentledger.current_tenant()
  AND started_at >= coalesce(%(since)s::timestamptz, '-infinity')
  AND started_at < coalesce(%(until)s::timestamptz, 'infinity')
  AND (%(trigger_type)s::text IS NULL OR trigger_type = %(trigger_type)s::text)
GROUP BY 1, 2
ORDER BY 2, 1
