"""Notes: the sample application's own tenant table, in a schema of its own.

Revision ID: app_sample_0001
Revises:
Depends on: 0001
"""

from __future__ import annotations

from alembic import op

from agentledger.migrations import create_schema, create_tenant_table

revision = "app_sample_0001"
down_revision = None
branch_labels = ("app_sample",)
depends_on = "0001"


def upgrade() -> None:
    create_schema("app_sample")
    create_tenant_table(
        "app_sample.notes",
        """
        id         bigint NOT NULL,
        body       text NOT NULL CONSTRAINT notes_body_length CHECK (length(body) <= 10000),
        created_at timestamptz NOT NULL DEFAULT now()
        """,
        primary_key=("id",),
    )


def downgrade() -> None:
    op.execute("""
    DROP TABLE app_sample.notes;
    DROP SCHEMA app_sample;
    """)
