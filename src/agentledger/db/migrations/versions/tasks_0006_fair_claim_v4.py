"""Tasks: the cross-tenant claim takes only unaddressed tasks, and burials cost it nothing.

``claim_tasks_fair_v3`` had two faults, which ``claim_tasks_fair_v4`` mends:

- It took tasks addressed to a particular agent (``agent_name`` set), which a claim made
  without an agent must leave alone, as a tenant's claim does. v4 counts, orders and takes
  unaddressed tasks only.
- A rescue on its last attempt (a running task whose lease ran out with no attempt left)
  goes dead instead of being claimed, but it used up a place of the claim's limit: three
  such tasks ahead of ready ones made a claim of one return nothing. v4 buries what its
  first round picked, then, if it buried any, claims that many more in a second round that
  passes over such tasks, so a claim returns ready work whenever there is some.

v3 stays for clients that still call it; the library calls v4.

Revision ID: tasks_0006
Revises: tasks_0005
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "tasks_0006"
down_revision = "tasks_0005"
branch_labels = None
depends_on = None

SIGNATURE = "agentledger.claim_tasks_fair_v4(text, integer, double precision, text)"

# claim_tasks_fair_v3 (tasks_0004) with an agent_name IS NULL condition wherever it reads
# the queue, run in up to two rounds: the first takes rescues on their last attempt too
# (and buries them), the second, only when the first buried some, claims in their stead
# tasks that run. Every task of the claim holds the claim's one token.
FAIR_CLAIM = """
CREATE FUNCTION agentledger.claim_tasks_fair_v4(
    p_queue text, p_limit integer, p_lease double precision, p_worker text
) RETURNS SETOF agentledger.tasks
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenants integer;
    v_share integer;
    v_token uuid;
    v_left integer := p_limit;
    -- The first round also takes rescues with no attempt left, which go dead.
    v_bury boolean := true;
    v_claimed agentledger.tasks[];
    v_buried integer;
BEGIN
    IF NOT agentledger.is_platform() THEN
        RAISE EXCEPTION USING ERRCODE = 'ALII0',
            MESSAGE = 'cross-tenant claims need the platform scope';
    END IF;
    -- One random value per claim: the token of every task it takes.
    v_token := gen_random_uuid();
    LOOP
        SELECT count(*) INTO v_tenants FROM agentledger.tenants tn
        WHERE tn.status = 'active' AND EXISTS (
            SELECT 1 FROM agentledger.tasks t
            WHERE t.tenant_id = tn.id AND t.queue = p_queue AND t.finished_at IS NULL
              AND t.agent_name IS NULL AND t.run_after <= now()
              AND (t.status = 'pending' OR (t.lease_expires_at < now()
                   AND (v_bury OR t.attempts < t.max_attempts))));
        v_share := greatest(1, ceil(v_left::numeric / greatest(v_tenants, 1))::integer);
        WITH waiting AS (
            SELECT tn.id AS tenant_id, oldest.run_after
            FROM agentledger.tenants tn
            CROSS JOIN LATERAL (
                SELECT t.run_after FROM agentledger.tasks t
                WHERE t.tenant_id = tn.id AND t.queue = p_queue AND t.finished_at IS NULL
                  AND t.agent_name IS NULL AND t.run_after <= now()
                  AND (t.status = 'pending' OR (t.lease_expires_at < now()
                       AND (v_bury OR t.attempts < t.max_attempts)))
                ORDER BY t.priority DESC, t.run_after, t.id LIMIT 1) oldest
            WHERE tn.status = 'active'
            ORDER BY oldest.run_after
            LIMIT v_left
        ), ready AS (
            SELECT c.tenant_id, c.id, c.rank FROM waiting w
            CROSS JOIN LATERAL (
                SELECT t.tenant_id, t.id, row_number() OVER () AS rank FROM (
                    SELECT t.tenant_id, t.id FROM agentledger.tasks t
                    WHERE t.tenant_id = w.tenant_id AND t.queue = p_queue
                      AND t.finished_at IS NULL AND t.agent_name IS NULL
                      AND t.run_after <= now()
                      AND (t.status = 'pending' OR (t.lease_expires_at < now()
                           AND (v_bury OR t.attempts < t.max_attempts)))
                    ORDER BY t.priority DESC, t.run_after, t.id
                    LIMIT v_share
                    FOR UPDATE SKIP LOCKED) t) c
        ), picked AS (
            SELECT tenant_id, id FROM ready
            ORDER BY rank LIMIT v_left
        ), claimed AS (
            UPDATE agentledger.tasks t
            SET status = CASE WHEN t.status = 'running' AND t.attempts >= t.max_attempts
                              THEN 'dead' ELSE 'running' END,
                error = CASE WHEN t.status = 'running' AND t.attempts >= t.max_attempts
                             THEN 'lease expired after the last attempt' ELSE t.error END,
                finished_at = CASE WHEN t.status = 'running' AND t.attempts >= t.max_attempts
                                   THEN now() END,
                rescues = t.rescues + (t.status = 'running')::integer,
                attempts = t.attempts
                    + (t.status = 'pending' OR t.attempts < t.max_attempts)::integer,
                claim_token = v_token,
                claimed_by = p_worker,
                lease_expires_at = now() + make_interval(secs => p_lease),
                updated_at = now()
            FROM picked p
            WHERE t.tenant_id = p.tenant_id AND t.id = p.id
            RETURNING t AS task
        )
        SELECT coalesce(array_agg(c.task) FILTER (WHERE (c.task).status = 'running'), '{}'),
               count(*) FILTER (WHERE (c.task).status = 'dead')
        INTO v_claimed, v_buried
        FROM claimed c;
        RETURN QUERY SELECT * FROM unnest(v_claimed);
        v_left := v_left - cardinality(v_claimed);
        EXIT WHEN v_buried = 0 OR v_left <= 0 OR NOT v_bury;
        -- The second round: in the buried tasks' stead, only tasks that run.
        v_bury := false;
    END LOOP;
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
