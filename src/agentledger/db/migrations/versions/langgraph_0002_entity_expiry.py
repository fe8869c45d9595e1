"""Expiry of memory entities (LangGraph's store TTL): when an entity stops being visible and
is due for deletion.

A row gives one entity a time to live, in minutes, and the moment it runs out. It holds for
the write that set it: ``written_count`` is the entity's ``update_count`` then, so a later
write that gives no TTL (and bumps the count) leaves the row stale, which reads ignore and
the sweep drops, without a statement of its own. An entity is hidden from the store's reads
once a current row's ``expires_at`` has passed, before any sweep deletes it. Rows go with
their entity (the foreign key cascades).

Revision ID: langgraph_0002
Revises: langgraph_0001
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import tenant_table

revision = "langgraph_0002"
down_revision = "langgraph_0001"
branch_labels = None
depends_on = "memory_0001"

TABLE = """
CREATE TABLE agentledger.entity_expiry (
    tenant_id     text NOT NULL,
    entity_id     uuid NOT NULL,
    ttl_minutes   double precision NOT NULL CONSTRAINT entity_expiry_ttl
                  CHECK (ttl_minutes > 0 AND ttl_minutes < 'Infinity'),
    -- The entity's update_count when the TTL was set: the row holds while they agree.
    written_count integer NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, entity_id),
    FOREIGN KEY (tenant_id, entity_id)
        REFERENCES agentledger.memory_entities (tenant_id, id) ON DELETE CASCADE
);
-- What has run out, oldest first: the sweep's batches and the count a read pads its page by.
CREATE INDEX entity_expiry_due ON agentledger.entity_expiry (tenant_id, expires_at);
"""


def upgrade() -> None:
    op.execute(TABLE)
    op.execute(tenant_table("entity_expiry"))


def downgrade() -> None:
    op.execute("DROP TABLE agentledger.entity_expiry;")
