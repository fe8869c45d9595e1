-- name: session_state
-- What a transaction sees of its session: the tenant bound and the settings it carries.
SELECT current_setting('agentledger.tenant_id', true) AS tenant,
       current_setting('statement_timeout') AS statement_timeout,
       current_setting('idle_in_transaction_session_timeout') AS idle_timeout,
       current_setting('TimeZone') AS time_zone

-- name: sleep
-- Outlast a statement timeout.
SELECT pg_sleep(%(seconds)s)
