-- name: save_mark
-- Store a named position for the bound tenant (a write to find committed, or not).
INSERT INTO agentledger.event_checkpoints (tenant_id, subscriber, position)
VALUES (agentledger.current_tenant(), %(name)s, %(position)s)
ON CONFLICT (tenant_id, subscriber) DO UPDATE SET position = excluded.position

-- name: read_mark
-- A stored position, NULL when none.
SELECT position FROM agentledger.event_checkpoints
WHERE tenant_id = agentledger.current_tenant() AND subscriber = %(name)s

-- name: divide
-- Fails with a division by zero when given 0.
SELECT 1 / %(by)s::int AS quotient
