-- name: insert_tenant
-- Create a tenant; returns nothing when the id is taken.
INSERT INTO agentledger.tenants (id, name, metadata)
VALUES (%(id)s, %(name)s, %(metadata)s)
ON CONFLICT (id) DO NOTHING
RETURNING *

-- name: get_tenant
-- One tenant by id.
SELECT * FROM agentledger.tenants WHERE id = %(id)s

-- name: list_tenants
-- Tenants in id order after a keyset cursor, optionally of one status.
SELECT * FROM agentledger.tenants
WHERE id > %(after)s AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY id
LIMIT %(limit)s

-- name: transition_tenant
-- Apply a lifecycle action when the tenant is in one of the states it is allowed from.
UPDATE agentledger.tenants
SET status = %(target)s, updated_at = now()
WHERE id = %(id)s AND status = ANY(%(sources)s)
RETURNING *

-- name: insert_key
-- Store a new API key's hash for the bound tenant.
INSERT INTO agentledger.api_keys (tenant_id, name, role, prefix, hash)
VALUES (agentledger.current_tenant(), %(name)s, %(role)s, %(prefix)s, %(hash)s)
RETURNING id, tenant_id, name, role, prefix, created_at, last_used_at, revoked_at

-- name: list_keys
-- The bound tenant's keys, newest first (RLS scopes them; the WHERE says so too).
SELECT id, tenant_id, name, role, prefix, created_at, last_used_at, revoked_at
FROM agentledger.api_keys
WHERE tenant_id = agentledger.current_tenant()
  AND (%(include_revoked)s OR revoked_at IS NULL)
ORDER BY created_at DESC, id

-- name: revoke_key
-- Revoke one key of the bound tenant (idempotent: the first revocation time is kept).
UPDATE agentledger.api_keys
SET revoked_at = coalesce(revoked_at, now())
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s
RETURNING id, tenant_id, name, role, prefix, created_at, last_used_at, revoked_at

-- name: authenticate_key
-- Who a key hash belongs to, if it is live.
SELECT * FROM agentledger.authenticate_key(%(hash)s)

-- name: sign_in
-- Open (or, with the same token, renew) a console sign-in for a live key.
SELECT * FROM agentledger.sign_in(%(key_hash)s, %(token_hash)s, %(csrf)s, %(seconds)s)

-- name: signed_in
-- The live console sign-in with this token hash.
SELECT * FROM agentledger.signed_in(%(tenant)s, %(token_hash)s)

-- name: sign_out
-- End a console sign-in; whether there was one.
SELECT agentledger.sign_out(%(tenant)s, %(token_hash)s)

-- name: purge_tenant
-- Delete one batch of an archived tenant's rows, or the tenant once it holds none.
SELECT * FROM agentledger.purge_tenant_v2(%(id)s, %(batch)s)

-- name: tenant_rows
-- How many rows a tenant holds in each of its tables.
SELECT * FROM agentledger.tenant_rows_v1(%(id)s)
