-- name: session_state
-- What a statement sees of its session: the tenant bound and the plan mode.
SELECT current_setting('agentledger.tenant_id', true) AS tenant,
       current_setting('plan_cache_mode') AS plan_mode

-- name: session_state_generic
-- plan: generic
-- The same, run with its generic plan.
SELECT current_setting('agentledger.tenant_id', true) AS tenant,
       current_setting('plan_cache_mode') AS plan_mode
