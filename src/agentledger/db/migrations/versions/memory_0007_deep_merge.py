"""Deep merge of entity attributes: ``agentledger.jsonb_merge_deep``.

An upsert merges attrs shallowly (``e.attrs || EXCLUDED.attrs``): a nested object sent
again replaces the stored one whole. With ``merge="deep"`` it goes through this function
instead: objects merge key by key at every depth, a JSON null never overwrites (nor is it
stored), and arrays and scalars replace. ``memory.merging.merge_deep`` is its Python twin, for
the inputs of one batch that share a key.

Revision ID: memory_0007
Revises: memory_0006
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function

revision = "memory_0007"
down_revision = "memory_0006"
branch_labels = None
depends_on = None

# Recursive, so never inlined; the keys of both objects are walked once per level.
MERGE_FN = """
CREATE FUNCTION agentledger.jsonb_merge_deep(a jsonb, b jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT CASE
    WHEN b IS NULL OR jsonb_typeof(b) = 'null' THEN a
    WHEN jsonb_typeof(a) = 'object' AND jsonb_typeof(b) = 'object' THEN (
        SELECT coalesce(jsonb_object_agg(m.k, m.v), '{}'::jsonb)
        FROM (SELECT keys.k, agentledger.jsonb_merge_deep(a -> keys.k, b -> keys.k) AS v
              FROM (SELECT jsonb_object_keys(a) UNION SELECT jsonb_object_keys(b)) AS keys(k)
             ) AS m
        WHERE m.v IS NOT NULL)
    ELSE jsonb_strip_nulls(b)
END
$fn$
"""


def upgrade() -> None:
    op.execute(create_function("jsonb_merge_deep", MERGE_FN, (), app_role()))


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS agentledger.jsonb_merge_deep;")
