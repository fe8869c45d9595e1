-- name: bind_tenant
-- Bind the transaction to a tenant (and make it read-only when the tenant is suspended).
SELECT agentledger.bind_tenant(%(tenant)s)

-- name: bind_platform
-- Bind the transaction to the platform: tenant administration across tenants.
SELECT set_config('agentledger.platform', 'on', true)

-- name: installed_extensions
-- Which optional extensions this database has.
SELECT extname FROM pg_extension WHERE extname = ANY(%(names)s)

-- name: ping
-- The cheapest round trip that proves the server answers.
SELECT 1
