"""Tasks: dead letters found through an index of their own, and claims still heap-only.

Listing a tenant's dead tasks, or counting them per queue, read every task of the tenant
still in the table: nothing indexed tells a dead task from a completed one but the
status, and no index may read the status, which a claim changes (a claim is a heap-only
update only while no index reads a column it changes: revision ``tasks_0004``).

``dead_letter`` is a stored generated column, ``status = 'dead'``. PostgreSQL decides
whether an update is heap-only by comparing the values of the indexed columns, and a
claim (pending to running) leaves ``dead_letter`` false: indexing it keeps claims and
heartbeats heap-only. ``tasks_dead_letters`` holds the dead tasks only, newest first, with
their queue, so the list and the per-queue counts read that small index alone.

The archive keeps the hot table's shape (pruning copies rows whole), so it gains a plain
column of the same name; it only ever holds finished tasks that are not dead.

Adding a stored column rewrites the tasks table once, under an exclusive lock.

Revision ID: tasks_0005
Revises: sessions_0002
"""

from __future__ import annotations

from alembic import op

revision = "tasks_0005"
down_revision = "sessions_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE agentledger.tasks
        ADD COLUMN dead_letter boolean GENERATED ALWAYS AS (status = 'dead') STORED;
    ALTER TABLE agentledger.task_archive
        ADD COLUMN dead_letter boolean NOT NULL DEFAULT false;
    -- Dead letters, newest first, with their queue (read alone for counts per queue).
    CREATE INDEX tasks_dead_letters ON agentledger.tasks (tenant_id, id DESC) INCLUDE (queue)
        WHERE dead_letter;
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX agentledger.tasks_dead_letters;
    ALTER TABLE agentledger.task_archive DROP COLUMN dead_letter;
    ALTER TABLE agentledger.tasks DROP COLUMN dead_letter;
    """)
