"""Checkpoints of agent graphs (LangGraph's checkpointer contract): checkpoints per thread and
namespace, the channel values they read, and the pending writes of their tasks.

A checkpoint row holds the serialized checkpoint without its channel values; each value is
a blob stored once per (thread, namespace, channel, version) and read by every checkpoint
whose ``channel_versions`` names that version, so a step that changes one channel stores
one blob. Serialized data is opaque here: ``type`` is the serializer's tag, the bytes are
bytea. Identifiers compare in code point order (``COLLATE "C"``): checkpoint ids sort by
time that way, and pending writes come back in the order a graph applies them (task path,
task id, index).

Revision ID: langgraph_0001
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import tenant_table

revision = "langgraph_0001"
down_revision = "0001"
branch_labels = ("langgraph",)
depends_on = None

TABLES = """
CREATE TABLE agentledger.checkpoints (
    tenant_id            text NOT NULL REFERENCES agentledger.tenants (id),
    thread_id            text COLLATE "C" NOT NULL,
    checkpoint_ns        text COLLATE "C" NOT NULL DEFAULT '',
    checkpoint_id        text COLLATE "C" NOT NULL,
    parent_checkpoint_id text COLLATE "C",
    -- The run that wrote it (its metadata's run_id), so that a run's checkpoints can go.
    run_id               text,
    type                 text NOT NULL,
    checkpoint           bytea NOT NULL,
    -- The version of each channel value it reads from checkpoint_blobs, as text.
    channel_versions     jsonb NOT NULL DEFAULT '{}' CONSTRAINT checkpoints_channel_versions
                         CHECK (jsonb_typeof(channel_versions) = 'object'),
    metadata             jsonb NOT NULL DEFAULT '{}' CONSTRAINT checkpoints_metadata
                         CHECK (jsonb_typeof(metadata) = 'object'),
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, thread_id, checkpoint_ns, checkpoint_id)
);
-- Listing a tenant's checkpoints across threads, newest first.
CREATE INDEX checkpoints_newest ON agentledger.checkpoints (tenant_id, checkpoint_id);
CREATE INDEX checkpoints_runs ON agentledger.checkpoints (tenant_id, run_id)
    WHERE run_id IS NOT NULL;

CREATE TABLE agentledger.checkpoint_blobs (
    tenant_id     text NOT NULL REFERENCES agentledger.tenants (id),
    thread_id     text COLLATE "C" NOT NULL,
    checkpoint_ns text COLLATE "C" NOT NULL DEFAULT '',
    channel       text COLLATE "C" NOT NULL,
    version       text COLLATE "C" NOT NULL,
    type          text NOT NULL,
    -- NULL for a channel emptied at this version (type 'empty').
    blob          bytea,
    PRIMARY KEY (tenant_id, thread_id, checkpoint_ns, channel, version)
);

CREATE TABLE agentledger.checkpoint_writes (
    tenant_id     text NOT NULL REFERENCES agentledger.tenants (id),
    thread_id     text COLLATE "C" NOT NULL,
    checkpoint_ns text COLLATE "C" NOT NULL DEFAULT '',
    checkpoint_id text COLLATE "C" NOT NULL,
    task_id       text COLLATE "C" NOT NULL,
    idx           integer NOT NULL,
    task_path     text COLLATE "C" NOT NULL DEFAULT '',
    channel       text NOT NULL,
    type          text NOT NULL,
    blob          bytea NOT NULL,
    PRIMARY KEY (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
);
"""


def upgrade() -> None:
    op.execute(TABLES)
    for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
        op.execute(tenant_table(table))


def downgrade() -> None:
    op.execute("""
    DROP TABLE agentledger.checkpoint_writes;
    DROP TABLE agentledger.checkpoint_blobs;
    DROP TABLE agentledger.checkpoints;
    """)
