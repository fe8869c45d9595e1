"""Tasks: a claim (and a heartbeat) rewrites its row in place, touching no index.

Every index on tasks used to read ``status`` (the ready and dedup indexes in their
predicates) or the lease (the index of leases to rescue). A claim changes both, so
PostgreSQL wrote each claimed row as a new tuple plus a new entry in the primary key and
in the leases index; a heartbeat did the same. Now no index reads a column a claim or a
heartbeat changes, and pages keep room for the new version (fillfactor 40), so both are
heap-only updates (HOT): the new version goes on the same page and no index is touched.

- An unfinished task (pending or running) is one with no ``finished_at``; a check makes
  that an invariant, and the partial indexes say ``finished_at IS NULL`` instead of naming
  statuses. ``tasks_ready`` now holds every unfinished task: running ones stay in it and a
  claim takes, in priority order, a pending task or a running one whose lease expired
  (rescue without a separate index of leases).
- ``claim_tasks_fair_v3`` claims that way across tenants, and gives every task of a claim
  the claim's own token (one random value per claim). v1 and v2 stay for clients that
  still call them; without the status-named index they read more of the table.

Revision ID: tasks_0004
Revises: tasks_0003
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "tasks_0004"
down_revision = "tasks_0003"
branch_labels = None
depends_on = None

SIGNATURE = "agentledger.claim_tasks_fair_v3(text, integer, double precision, text)"

INDEXES = """
UPDATE agentledger.tasks SET finished_at = coalesce(finished_at, updated_at)
WHERE status NOT IN ('pending', 'running') AND finished_at IS NULL;
UPDATE agentledger.tasks SET finished_at = NULL
WHERE status IN ('pending', 'running') AND finished_at IS NOT NULL;
ALTER TABLE agentledger.tasks ADD CONSTRAINT tasks_finished_at
    CHECK ((finished_at IS NULL) = (status IN ('pending', 'running')));

DROP INDEX agentledger.tasks_ready;
DROP INDEX agentledger.tasks_leases;
DROP INDEX agentledger.tasks_dedup;
DROP INDEX agentledger.tasks_finished;
-- Claims: every unfinished task, by priority and age (running ones are skipped unless
-- their lease expired).
CREATE INDEX tasks_ready ON agentledger.tasks
    (tenant_id, queue, priority DESC, run_after, id) WHERE finished_at IS NULL;
-- Enqueueing a duplicate of an unfinished task finds the existing one.
CREATE UNIQUE INDEX tasks_dedup ON agentledger.tasks (tenant_id, queue, dedup_key)
    WHERE dedup_key IS NOT NULL AND finished_at IS NULL;
-- Pruning: finished tasks, oldest first.
CREATE INDEX tasks_finished ON agentledger.tasks (tenant_id, finished_at)
    WHERE finished_at IS NOT NULL;
-- Room on every page for the claim's version of each of its rows (a claimed row is the
-- larger: it holds a token, the worker's id and the lease).
ALTER TABLE agentledger.tasks SET (fillfactor = 40);
"""

# claim_tasks_fair_v2 (tasks_0002) reading the unfinished tasks' index: a tenant has
# claimable work when it has a pending task or a running one whose lease expired, and both
# kinds are taken in priority order; every task of the claim holds the claim's token.
FAIR_CLAIM = """
CREATE FUNCTION agentledger.claim_tasks_fair_v3(
    p_queue text, p_limit integer, p_lease double precision, p_worker text
) RETURNS SETOF agentledger.tasks
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenants integer;
    v_share integer;
    v_token uuid;
BEGIN
    IF NOT agentledger.is_platform() THEN
        RAISE EXCEPTION USING ERRCODE = 'ALII0',
            MESSAGE = 'cross-tenant claims need the platform scope';
    END IF;
    SELECT count(*) INTO v_tenants FROM agentledger.tenants tn
    WHERE tn.status = 'active' AND EXISTS (
        SELECT 1 FROM agentledger.tasks t
        WHERE t.tenant_id = tn.id AND t.queue = p_queue AND t.finished_at IS NULL
          AND t.run_after <= now() AND (t.status = 'pending' OR t.lease_expires_at < now()));
    v_share := greatest(1, ceil(p_limit::numeric / greatest(v_tenants, 1))::integer);
    -- One random value per claim: the token of every task it takes.
    v_token := gen_random_uuid();
    RETURN QUERY
    WITH waiting AS (
        SELECT tn.id AS tenant_id, oldest.run_after
        FROM agentledger.tenants tn
        CROSS JOIN LATERAL (
            SELECT t.run_after FROM agentledger.tasks t
            WHERE t.tenant_id = tn.id AND t.queue = p_queue AND t.finished_at IS NULL
              AND t.run_after <= now() AND (t.status = 'pending' OR t.lease_expires_at < now())
            ORDER BY t.priority DESC, t.run_after, t.id LIMIT 1) oldest
        WHERE tn.status = 'active'
        ORDER BY oldest.run_after
        LIMIT p_limit
    ), ready AS (
        SELECT c.tenant_id, c.id, c.rank FROM waiting w
        CROSS JOIN LATERAL (
            SELECT t.tenant_id, t.id, row_number() OVER () AS rank FROM (
                SELECT t.tenant_id, t.id FROM agentledger.tasks t
                WHERE t.tenant_id = w.tenant_id AND t.queue = p_queue
                  AND t.finished_at IS NULL AND t.run_after <= now()
                  AND (t.status = 'pending' OR t.lease_expires_at < now())
                ORDER BY t.priority DESC, t.run_after, t.id
                LIMIT v_share
                FOR UPDATE SKIP LOCKED) t) c
    ), picked AS (
        SELECT tenant_id, id FROM ready
        ORDER BY rank LIMIT p_limit
    ), claimed AS (
        UPDATE agentledger.tasks t
        SET status = CASE WHEN t.status = 'running' AND t.attempts >= t.max_attempts
                          THEN 'dead' ELSE 'running' END,
            error = CASE WHEN t.status = 'running' AND t.attempts >= t.max_attempts
                         THEN 'lease expired after the last attempt' ELSE t.error END,
            finished_at = CASE WHEN t.status = 'running' AND t.attempts >= t.max_attempts
                               THEN now() END,
            rescues = t.rescues + (t.status = 'running')::integer,
            attempts = t.attempts + (t.status = 'pending' OR t.attempts < t.max_attempts)::integer,
            claim_token = v_token,
            claimed_by = p_worker,
            lease_expires_at = now() + make_interval(secs => p_lease),
            updated_at = now()
        FROM picked p
        WHERE t.tenant_id = p.tenant_id AND t.id = p.id
        RETURNING t.*
    )
    SELECT * FROM claimed WHERE claimed.status = 'running';
END
$fn$;
"""


def upgrade() -> None:
    op.execute(INDEXES)
    op.execute(FAIR_CLAIM)
    op.execute(
        f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC;\n"
        f'GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "' + app_role() + '";'
    )


def downgrade() -> None:
    op.execute(f"""
    DROP FUNCTION {SIGNATURE};
    ALTER TABLE agentledger.tasks RESET (fillfactor);
    DROP INDEX agentledger.tasks_finished;
    DROP INDEX agentledger.tasks_dedup;
    DROP INDEX agentledger.tasks_ready;
    CREATE INDEX tasks_ready ON agentledger.tasks
        (tenant_id, queue, priority DESC, run_after, id) WHERE status = 'pending';
    CREATE INDEX tasks_leases ON agentledger.tasks (lease_expires_at) WHERE status = 'running';
    CREATE UNIQUE INDEX tasks_dedup ON agentledger.tasks (tenant_id, queue, dedup_key)
        WHERE dedup_key IS NOT NULL AND status IN ('pending', 'running');
    CREATE INDEX tasks_finished ON agentledger.tasks (tenant_id, finished_at)
        WHERE status IN ('completed', 'cancelled');
    ALTER TABLE agentledger.tasks DROP CONSTRAINT tasks_finished_at;
    """)
