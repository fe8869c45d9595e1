-- name: insert_decision
-- Record a decision (a repeated client-side id returns nothing).
INSERT INTO agentledger.decisions
    (tenant_id, id, decision, reasoning, confidence, decision_type, data, agent, run_id,
     created_at)
VALUES (agentledger.current_tenant(), %(id)s, %(decision)s, %(reasoning)s, %(confidence)s,
        %(decision_type)s, %(data)s, %(agent)s, %(run_id)s,
        coalesce(%(at)s::timestamptz, now()))
ON CONFLICT (tenant_id, id) DO NOTHING
RETURNING *

-- name: get_decision
-- One decision by id.
SELECT * FROM agentledger.decisions
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s

-- name: set_feedback
-- Set a decision's feedback if it has none yet (the row lock orders concurrent callers), at
-- the given time, which may not precede the decision (default now, or the decision's time
-- when that is ahead of this clock).
UPDATE agentledger.decisions
SET accepted = %(accepted)s, feedback_reason = %(reason)s, feedback_by = %(by)s,
    feedback_at = coalesce(%(at)s::timestamptz, greatest(now(), created_at))
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s AND feedback_at IS NULL
  AND (%(at)s::timestamptz IS NULL OR %(at)s::timestamptz >= created_at)
RETURNING *

-- name: list_decisions
-- Decisions newest first, filtered, before a (created_at, id) position given whole (never
-- re-read from a row, which may be gone).
SELECT * FROM agentledger.decisions
WHERE tenant_id = agentledger.current_tenant()
  AND (%(decision_type)s::text IS NULL OR decision_type = %(decision_type)s::text)
  AND (%(agent)s::text IS NULL OR agent = %(agent)s::text)
  AND (%(run_id)s::uuid IS NULL OR run_id = %(run_id)s::uuid)
  AND (NOT %(awaiting_feedback)s OR feedback_at IS NULL)
  AND (%(before_at)s::timestamptz IS NULL
       OR (created_at, id) < (%(before_at)s::timestamptz, %(before_id)s::uuid))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s

-- name: acceptance_stats
-- Feedback counts and acceptance rate grouped by type / agent / UTC period, as asked.
SELECT CASE WHEN %(by_type)s THEN decision_type END AS decision_type,
       CASE WHEN %(by_agent)s THEN agent END AS agent,
       CASE WHEN %(period)s::text IS NOT NULL
            THEN date_trunc(%(period)s::text, created_at, 'UTC') END AS period_start,
       count(*) AS decisions,
       count(accepted) AS with_feedback,
       count(*) FILTER (WHERE accepted) AS accepted,
       count(*) FILTER (WHERE NOT accepted) AS rejected,
       (count(*) FILTER (WHERE accepted))::float8 / nullif(count(accepted), 0)
           AS acceptance_rate
FROM agentledger.decisions
WHERE tenant_id = agentledger.current_tenant()
  AND created_at >= coalesce(%(since)s::timestamptz, '-infinity')
  AND created_at < coalesce(%(until)s::timestamptz, 'infinity')
GROUP BY 1, 2, 3
ORDER BY 3 NULLS FIRST, 1 NULLS FIRST, 2 NULLS FIRST
