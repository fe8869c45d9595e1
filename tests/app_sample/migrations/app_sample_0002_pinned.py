"""Pinned notes: a column and the index that lists them.

Revision ID: app_sample_0002
Revises: app_sample_0001
"""

from __future__ import annotations

from alembic import op

revision = "app_sample_0002"
down_revision = "app_sample_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    ALTER TABLE app_sample.notes ADD COLUMN pinned boolean NOT NULL DEFAULT false;
    CREATE INDEX notes_pinned ON app_sample.notes (tenant_id, created_at) WHERE pinned;
    """)


def downgrade() -> None:
    op.execute("""
    DROP INDEX app_sample.notes_pinned;
    ALTER TABLE app_sample.notes DROP COLUMN pinned;
    """)
