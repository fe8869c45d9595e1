-- name: bind_tenant
-- Bind the transaction to a tenant (and make it read-only when the tenant is suspended).
SELECT agentledger.bind_tenant(%(tenant)s)

-- name: bind_platform
-- Bind the transaction to the platform: tenant administration across tenants.
SELECT set_config('agentledger.platform', 'on', true)

-- name: bind_tenant_pooled
-- bind_tenant, with the session settings a transaction-mode pooler does not keep for a
-- client (db/connect.py: transaction_settings): they last for this transaction.
SELECT agentledger.bind_tenant(%(tenant)s),
       set_config('statement_timeout', %(statement_timeout)s, true),
       set_config('idle_in_transaction_session_timeout', %(idle_timeout)s, true),
       set_config('TimeZone', 'UTC', true)

-- name: bind_platform_pooled
-- bind_platform, with the session settings a transaction-mode pooler does not keep.
SELECT set_config('agentledger.platform', 'on', true),
       set_config('statement_timeout', %(statement_timeout)s, true),
       set_config('idle_in_transaction_session_timeout', %(idle_timeout)s, true),
       set_config('TimeZone', 'UTC', true)

-- name: installed_extensions
-- Which optional extensions this database has.
SELECT extname FROM pg_extension WHERE extname = ANY(%(names)s)

-- name: ping
-- The cheapest round trip that proves the server answers.
SELECT 1

-- name: try_leader_lock
-- Take a named session-level lock if no other session holds it (leader election).
SELECT pg_try_advisory_lock(hashtextextended('agentledger.leader/' || %(name)s, 0))

-- name: leader_unlock
-- Give the named lock back now: closing the session would release it only once the server
-- has noticed, so a standby's next try could still find it taken.
SELECT pg_advisory_unlock(hashtextextended('agentledger.leader/' || %(name)s, 0))

-- name: leader_lock_held
-- Whether this session still holds the named lock.
SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() AND objsubid = 1 AND classid = ((hashtextextended('agentledger.leader/' || %(name)s, 0) >> 32) & 4294967295)::text::oid AND objid = (hashtextextended('agentledger.leader/' || %(name)s, 0) & 4294967295)::text::oid)

-- name: wal_insert_lsn
-- How far the primary's WAL reaches now, as a number: a write committed before is within it.
SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint

-- name: wal_replay_lsn
-- How far a standby has replayed the primary's WAL, as a number; NULL on a primary.
SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint

-- name: wake
-- Wake listeners after committed transactions (db/waker.py): each channel with its tenant
-- id as payload, in a transaction of its own whose commit waits for no flush (a lost
-- wake-up only delays a listener until its next poll).
SELECT set_config('synchronous_commit', 'off', true), pg_notify(w.channel, w.tenant)
FROM unnest(%(channels)s::text[], %(tenants)s::text[]) AS w(channel, tenant)

-- name: tenant_created
-- When the tenant of an id was created (no row: there is none).
SELECT created_at FROM agentledger.tenants WHERE id = %(tenant)s
