-- name: upsert_agent
-- Register an agent, or update it: fields passed as NULL keep their stored value;
-- no_heartbeat clears the heartbeat timeout (the agent is never shown offline for silence).
-- A new agent counts as alive from its registration; an update is no sign of life (only a
-- heartbeat is), so it keeps the last heartbeat as it was.
INSERT INTO agentledger.agents AS a (
    tenant_id, name, agent_type, domain, command, capabilities, config, heartbeat_timeout,
    last_heartbeat_at)
VALUES (
    agentledger.current_tenant(), %(name)s, coalesce(%(agent_type)s, ''),
    coalesce(%(domain)s, ''), %(command)s, coalesce(%(capabilities)s::text[], '{}'),
    coalesce(%(config)s::jsonb, '{}'),
    CASE WHEN %(no_heartbeat)s THEN NULL ELSE coalesce(%(heartbeat_timeout)s, 60) END, now())
ON CONFLICT (tenant_id, name) DO UPDATE SET
    agent_type = coalesce(%(agent_type)s, a.agent_type),
    domain = coalesce(%(domain)s, a.domain),
    command = coalesce(%(command)s, a.command),
    capabilities = coalesce(%(capabilities)s::text[], a.capabilities),
    config = coalesce(%(config)s::jsonb, a.config),
    heartbeat_timeout = CASE WHEN %(no_heartbeat)s THEN NULL
                             ELSE coalesce(%(heartbeat_timeout)s, a.heartbeat_timeout) END,
    updated_at = now()
RETURNING a.*, agentledger.agent_status(a.status, a.last_heartbeat_at, a.heartbeat_timeout)
    AS shown_status

-- name: get_agent
-- One agent, its status shown offline when its heartbeat is overdue.
SELECT a.*, agentledger.agent_status(a.status, a.last_heartbeat_at, a.heartbeat_timeout)
    AS shown_status
FROM agentledger.agents a
WHERE a.tenant_id = agentledger.current_tenant() AND a.name = %(name)s

-- name: list_agents
-- Agents in name order after a keyset cursor, filtered by shown status, type, capability.
SELECT * FROM (
    SELECT a.*,
           agentledger.agent_status(a.status, a.last_heartbeat_at, a.heartbeat_timeout)
               AS shown_status
    FROM agentledger.agents a
    WHERE a.tenant_id = agentledger.current_tenant() AND a.name > %(after)s
      AND (%(agent_type)s::text IS NULL OR a.agent_type = %(agent_type)s)
      AND (%(capability)s::text IS NULL OR a.capabilities @> ARRAY[%(capability)s::text])
) x
WHERE %(status)s::text IS NULL OR x.shown_status = %(status)s
ORDER BY x.name
LIMIT %(limit)s

-- name: heartbeat_agent
-- An agent is alive (optionally reporting a status); returns it.
UPDATE agentledger.agents a
SET last_heartbeat_at = now(), status = coalesce(%(status)s, a.status), updated_at = now(),
    last_run_at = CASE WHEN %(ran)s THEN now() ELSE a.last_run_at END
WHERE a.tenant_id = agentledger.current_tenant() AND a.name = %(name)s
RETURNING a.*, agentledger.agent_status(a.status, a.last_heartbeat_at, a.heartbeat_timeout)
    AS shown_status

-- name: delete_agent
-- Remove an agent from the registry.
DELETE FROM agentledger.agents
WHERE tenant_id = agentledger.current_tenant() AND name = %(name)s
