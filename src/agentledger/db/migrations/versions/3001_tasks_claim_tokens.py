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

import importlib

from alembic import op

from agentledger.db.migrations.helpers import app_role, swap

revision = "tasks_0002"
down_revision = "tasks_0001"
branch_labels = None
depends_on = None

SIGNATURE = "agentledger.claim_tasks_fair_v2(text, integer, double precision, text)"

v1 = importlib.import_module("agentledger.db.migrations.versions.3000_tasks")

# v1 (tasks_0001) with its tokens drawn once per claim: SECURITY DEFINER, platform scope
# only; every tenant with ready work gets an equal share of the batch (at least one),
# longest-waiting tenants first.
FAIR_CLAIM = v1.FAIR_CLAIM
for old, new in (
    ("claim_tasks_fair_v1(", "claim_tasks_fair_v2("),
    ("    v_share integer;\n", "    v_share integer;\n    v_salt text;\n"),
    (
        "::integer);\n    RETURN QUERY",
        "::integer);\n"
        "    -- One random value per claim; each task's token is derived from it and the task id.\n"
        "    v_salt := gen_random_uuid()::text;\n"
        "    RETURN QUERY",
    ),
    ("claim_token = gen_random_uuid(),", "claim_token = md5(v_salt || t.id)::uuid,"),
):
    FAIR_CLAIM = swap(FAIR_CLAIM, old, new)


def upgrade() -> None:
    op.execute(FAIR_CLAIM)
    op.execute(
        f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC;\n"
        f'GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "' + app_role() + '";'
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE};")
