"""An upsert resolves the space of vectors given without one itself.

A vector given to ``memory.upsert`` with no ``space`` belongs to the tenant's default
space: a declared space marked default, else the built-in column. The library read the
tenant's spaces in a round trip of its own before every such upsert, to choose and check
the space. ``memory_implied_space_v1`` makes that choice inside the upsert's statement
(``upsert_entities_implied``): it returns the declared default space's id, or NULL for the
built-in column, after checking every vector's dimension against the chosen space;
a vector of another dimension is InvalidInput (SQLSTATE ALII0) naming its field, raised
before anything is written, with the message the library's own check gives.

It reads the tenant's spaces under their row policy (an invoker function), so it sees
the bound tenant's only.

Revision ID: memory_0020
Revises: memory_0019
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function

revision = "memory_0020"
down_revision = "memory_0019"
branch_labels = None
depends_on = None

IMPLIED_SPACE = """
CREATE FUNCTION agentledger.memory_implied_space_v1(p_dimensions integer[], p_fields text[])
    RETURNS bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_space agentledger.memory_spaces;
    v_dimensions integer := 384;  -- the built-in column's (memory.records.EMBEDDING_DIMENSIONS)
    v_at integer;
BEGIN
    SELECT * INTO v_space FROM agentledger.memory_spaces s
    WHERE s.tenant_id = agentledger.current_tenant() AND s.is_default;
    IF FOUND THEN
        v_dimensions := v_space.dimensions;
    END IF;
    SELECT i INTO v_at FROM generate_subscripts(p_dimensions, 1) AS i
    WHERE p_dimensions[i] IS DISTINCT FROM v_dimensions
    ORDER BY i LIMIT 1;
    IF v_at IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'ALII0', COLUMN = p_fields[v_at],
            MESSAGE = p_fields[v_at] || ' has ' || p_dimensions[v_at] || ' dimensions; space '
                || quote_literal(coalesce(v_space.name, 'default'))
                || CASE WHEN coalesce(v_space.model, '') <> ''
                        THEN ' (' || v_space.model || ')' ELSE '' END
                || ' holds ' || v_dimensions;
    END IF;
    RETURN v_space.id;
END
$fn$
"""


def upgrade() -> None:
    op.execute(create_function("memory_implied_space_v1", IMPLIED_SPACE, (), app_role()))


def downgrade() -> None:
    op.execute("DROP FUNCTION agentledger.memory_implied_space_v1(integer[], text[]);")
