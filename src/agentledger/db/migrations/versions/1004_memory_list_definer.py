"""Filtered memory listings through a SECURITY DEFINER function, like the searches.

Under the tenant policy PostgreSQL evaluates only leakproof operators before the policy;
``@>`` on tags and attrs and ``@@`` on jsonpath are not, so a listing filtered by tags or
attributes could not use their GIN indexes: it walked the tenant's rows newest first and
filtered each. In a definer function (which enforces the tenant itself, as memory_0003's
do) those filters are index conditions again. Same rows, same order, same keyset cursor.

Revision ID: memory_0005
Revises: memory_0004
"""

from __future__ import annotations

import importlib

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "memory_0005"
down_revision = "memory_0004"
branch_labels = None
depends_on = None

v1 = importlib.import_module("agentledger.db.migrations.versions.1002_memory_search_definer")

LIST_FN = (
    """
CREATE FUNCTION agentledger.memory_list_v1(p_after_updated timestamptz, p_after_id uuid,"""
    + v1.FILTER_ARGS
    + ")"
    + v1.HEADER
    + """AS $fn$
BEGIN
    RETURN QUERY
        SELECT """
    + v1.ENTITY
    + """,
               NULL::float8, NULL::float8, NULL::float8, NULL::float8, NULL::text
        FROM agentledger.memory_entities e
        WHERE (p_after_updated IS NULL OR (e.updated_at, e.id) < (p_after_updated, p_after_id))"""
    + v1.SCOPE
    + """
        ORDER BY e.updated_at DESC, e.id DESC
        LIMIT p_limit;
END
$fn$;
"""
)


def upgrade() -> None:
    op.execute(v1._create("memory_list_v1", LIST_FN, (), app_role()))


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS agentledger.memory_list_v1;")
