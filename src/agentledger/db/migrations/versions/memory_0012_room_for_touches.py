"""Room on each page of the entities table, so that recording an access is a HOT update.

A read with ``touch=True`` and a merge by key bump ``access_count`` and
``last_accessed_at``, columns no index covers. PostgreSQL can then write the new row
version on the same page without touching any index (a heap-only tuple), but only when the
page has room; on full pages every touch inserted into each of the table's indexes (the
GIN indexes of text, tags, attributes and names, and the HNSW index of embeddings), which
made a touched read cost nearly twice a plain one. A fill factor of 80 leaves a fifth of
each page for those versions. It applies to pages written from now on.

Revision ID: memory_0012
Revises: memory_0011
"""

from __future__ import annotations

from alembic import op

revision = "memory_0012"
down_revision = "memory_0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE agentledger.memory_entities SET (fillfactor = 80);")


def downgrade() -> None:
    op.execute("ALTER TABLE agentledger.memory_entities RESET (fillfactor);")
