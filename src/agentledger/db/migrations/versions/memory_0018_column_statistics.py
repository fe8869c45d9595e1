"""The refresh after a bulk write analyzes the table's columns, not its index expressions.

``memory_refresh_stats_v2`` is ``memory_refresh_stats_v1`` (memory_0017) naming every
column of the entities table in its ANALYZE. Without a column list, ANALYZE also computes
statistics of the expression indexes, which evaluates the name-words expression
(``memory_name_lexemes``) for every sampled row: half of the refresh's time. Listings,
filters and their plans read the columns' statistics; autovacuum's own ANALYZE refreshes
the expression's. The columns are read from the catalog when it runs, so a column added
later is analyzed too.

Revision ID: memory_0018
Revises: memory_0017
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function

revision = "memory_0018"
down_revision = "memory_0017"
branch_labels = None
depends_on = None

REFRESH = """
CREATE FUNCTION agentledger.memory_refresh_stats_v2(p_written bigint) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tuples real := (SELECT c.reltuples FROM pg_class c
                      WHERE c.oid = 'agentledger.memory_entities'::regclass);
    v_columns text;
BEGIN
    IF v_tuples >= 0 AND p_written < greatest(v_tuples * 0.1, 1000) THEN
        RETURN false;  -- the planner's figures still hold
    END IF;
    IF NOT pg_try_advisory_xact_lock(hashtext('agentledger.memory_refresh_stats')) THEN
        RETURN false;  -- another caller is refreshing them
    END IF;
    PERFORM set_config('lock_timeout', '100ms', true);  -- autovacuum may be at it
    -- Named columns: ANALYZE then skips the expression indexes (see the revision).
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_columns
    FROM pg_attribute a
    WHERE a.attrelid = 'agentledger.memory_entities'::regclass
      AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE 'ANALYZE agentledger.memory_entities (' || v_columns || ')';
    RETURN true;
EXCEPTION WHEN lock_not_available THEN
    RETURN false;
END
$fn$
"""


def upgrade() -> None:
    op.execute(create_function("memory_refresh_stats_v2", REFRESH, (), app_role()))


def downgrade() -> None:
    op.execute("DROP FUNCTION agentledger.memory_refresh_stats_v2(bigint);")
