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

import importlib

from alembic import op

from agentledger.db.migrations.helpers import app_role, swap

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

v2 = importlib.import_module("agentledger.db.migrations.versions.3001_tasks_claim_tokens")

# v2 (tasks_0002) reading the unfinished tasks' index: a tenant has claimable work when it
# has a pending task or a running one whose lease expired, and both kinds are taken in
# priority order; every task of the claim holds the claim's token.
CLAIMABLE = "(t.status = 'pending' OR t.lease_expires_at < now())"
FAIR_CLAIM = v2.FAIR_CLAIM
for old, new in (
    ("claim_tasks_fair_v2(", "claim_tasks_fair_v3("),
    ("    v_salt text;\n", "    v_token uuid;\n"),
    (
        "    -- One random value per claim; each task's token is derived from it and the task id.\n"
        "    v_salt := gen_random_uuid()::text;\n",
        "    -- One random value per claim: the token of every task it takes.\n"
        "    v_token := gen_random_uuid();\n",
    ),
    ("claim_token = md5(v_salt || t.id)::uuid,", "claim_token = v_token,"),
    (
        "AND t.status = 'pending'\n          AND t.run_after <= now());",
        f"AND t.finished_at IS NULL\n          AND t.run_after <= now() AND {CLAIMABLE});",
    ),
    (
        "AND t.status = 'pending'\n              AND t.run_after <= now()\n",
        f"AND t.finished_at IS NULL\n              AND t.run_after <= now() AND {CLAIMABLE}\n",
    ),
    (
        "AND t.status = 'pending' AND t.run_after <= now()\n",
        f"AND t.finished_at IS NULL AND t.run_after <= now()\n                  AND {CLAIMABLE}\n",
    ),
    (
        "    ), expired AS (\n"
        "        SELECT t.tenant_id, t.id, 0 AS rank FROM agentledger.tasks t\n"
        "        JOIN agentledger.tenants tn ON tn.id = t.tenant_id AND tn.status = 'active'\n"
        "        WHERE t.status = 'running' AND t.lease_expires_at < now() AND t.queue = p_queue\n"
        "        ORDER BY t.lease_expires_at LIMIT p_limit\n"
        "        FOR UPDATE OF t SKIP LOCKED\n",
        "",
    ),
    (
        "SELECT tenant_id, id FROM (SELECT * FROM expired UNION ALL SELECT * FROM ready) u",
        "SELECT tenant_id, id FROM ready",
    ),
):
    FAIR_CLAIM = swap(FAIR_CLAIM, old, new)


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
