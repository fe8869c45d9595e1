"""Memory search at scale: a partial index on shared entities, for user-scoped searches.

A user sees the tenant's rows, their own and shared ones. With this index the three ways in
combine as one bitmap of index scans (tenant rows and own rows through the user index,
shared rows through this one) instead of a sequential scan of the tenant.

Revision ID: memory_0002
Revises: memory_0001
"""

from __future__ import annotations

from alembic import op

revision = "memory_0002"
down_revision = "memory_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE INDEX memory_entities_shared_idx
        ON agentledger.memory_entities (tenant_id) WHERE shared;
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX agentledger.memory_entities_shared_idx;
    """)
