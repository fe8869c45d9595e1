"""Entity listings ordered by an index to the last key, so ties on the change time stop early.

Listings page newest change first by ``(updated_at, id)``. The btree indexes of memory_0001
end at ``updated_at``, and every entity written by one transaction shares it (``now()``):
a batch of 5,000 is one tie. The planner then walked the index to order the tie by id,
and, to know that the tie had ended, went on through every older entity that failed the
filter — a whole tenant read for ten rows. Each index now ends with ``id``, in the order
the listings ask for (descending), so the first ten matches end the walk.

Revision ID: memory_0016
Revises: sessions_0005
"""

from __future__ import annotations

from alembic import op

revision = "memory_0016"
down_revision = "sessions_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        DROP INDEX agentledger.memory_entities_updated_idx;
        CREATE INDEX memory_entities_updated_idx
            ON agentledger.memory_entities (tenant_id, updated_at DESC, id DESC);
        DROP INDEX agentledger.memory_entities_kind_idx;
        CREATE INDEX memory_entities_kind_idx
            ON agentledger.memory_entities (tenant_id, kind, updated_at DESC, id DESC);
        DROP INDEX agentledger.memory_entities_user_idx;
        CREATE INDEX memory_entities_user_idx
            ON agentledger.memory_entities (tenant_id, user_id, updated_at DESC, id DESC);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX agentledger.memory_entities_updated_idx;
        CREATE INDEX memory_entities_updated_idx
            ON agentledger.memory_entities (tenant_id, updated_at);
        DROP INDEX agentledger.memory_entities_kind_idx;
        CREATE INDEX memory_entities_kind_idx
            ON agentledger.memory_entities (tenant_id, kind, updated_at);
        DROP INDEX agentledger.memory_entities_user_idx;
        CREATE INDEX memory_entities_user_idx
            ON agentledger.memory_entities (tenant_id, user_id, updated_at);
        """
    )
