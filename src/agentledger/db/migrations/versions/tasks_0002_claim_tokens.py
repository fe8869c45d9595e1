"""The fair cross-tenant claim with cheaper claim tokens: claim_tasks_fair_v2.

A claim token fences a lost lease (a completion from a worker whose task was re-claimed is
refused); it is not a secret. v1 draws a random UUID per task, a few microseconds each; v2
draws one strong random value per claim and derives each task's token from it and the task
id, so every task of every claim still holds its own token, for a fraction of the cost.
Otherwise v2 claims exactly as v1 does; v1 stays for clients that still call it.

Revision ID: tasks_0002
Revises: tasks_0001
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "tasks_0002"
down_revision = "tasks_0001"
branch_labels = None
depends_on = None

SIGNATURE = "agentledger.claim_tasks_fair_v2(text, integer, double precision, text)"

# claim_tasks_fair_v1 (tasks_0001) with its tokens drawn once per claim: SECURITY DEFINER,
# platform scope only; every tenant with ready work gets an equal share of the batch (at
# least one), longest-waiting tenants first.
FAIR_CLAIM = """
CREATE FUNCTION agentledger.claim_tasks_fair_v2(
    p_queue text, p_limit integer, p_lease double precision, p_worker text
) RETURNS SETOF agentledger.tasks
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenants integer;
    v_share integer;
    v_salt text;
BEGIN
    IF NOT agentledger.is_platform() THEN
        RAISE EXCEPTION USING ERRCODE = 'ALII0',
            MESSAGE = 'cross-tenant claims need the platform scope';
    END IF;
    SELECT count(*) INTO v_tenants FROM agentledger.tenants tn
    WHERE tn.status = 'active' AND EXISTS (
        SELECT 1 FROM agentledger.tasks t
        WHERE t.tenant_id = tn.id AND t.queue = p_queue AND t.status = 'pending'
          AND t.run_after <= now());
    v_share := greatest(1, ceil(p_limit::numeric / greatest(v_tenants, 1))::integer);
    -- One random value per claim; each task's token is derived from it and the task id.
    v_salt := gen_random_uuid()::text;
    RETURN QUERY
    WITH waiting AS (
        SELECT tn.id AS tenant_id, oldest.run_after
        FROM agentledger.tenants tn
        CROSS JOIN LATERAL (
            SELECT t.run_after FROM agentledger.tasks t
            WHERE t.tenant_id = tn.id AND t.queue = p_queue AND t.status = 'pending'
              AND t.run_after <= now()
            ORDER BY t.priority DESC, t.run_after, t.id LIMIT 1) oldest
        WHERE tn.status = 'active'
        ORDER BY oldest.run_after
        LIMIT p_limit
    ), expired AS (
        SELECT t.tenant_id, t.id, 0 AS rank FROM agentledger.tasks t
        JOIN agentledger.tenants tn ON tn.id = t.tenant_id AND tn.status = 'active'
        WHERE t.status = 'running' AND t.lease_expires_at < now() AND t.queue = p_queue
        ORDER BY t.lease_expires_at LIMIT p_limit
        FOR UPDATE OF t SKIP LOCKED
    ), ready AS (
        SELECT c.tenant_id, c.id, c.rank FROM waiting w
        CROSS JOIN LATERAL (
            SELECT t.tenant_id, t.id, row_number() OVER () AS rank FROM (
                SELECT t.tenant_id, t.id FROM agentledger.tasks t
                WHERE t.tenant_id = w.tenant_id AND t.queue = p_queue
                  AND t.status = 'pending' AND t.run_after <= now()
                ORDER BY t.priority DESC, t.run_after, t.id
                LIMIT v_share
                FOR UPDATE SKIP LOCKED) t) c
    ), picked AS (
        SELECT tenant_id, id FROM (SELECT * FROM expired UNION ALL SELECT * FROM ready) u
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
            claim_token = md5(v_salt || t.id)::uuid,
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
    op.execute(FAIR_CLAIM)
    op.execute(
        f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC;\n"
        f'GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "' + app_role() + '";'
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE};")
