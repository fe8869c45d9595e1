"""Statistics of the entities table refreshed after a bulk write, before autovacuum's turn.

A batch loaded into a table the planner last measured when it was small (or never) is
planned for blind: it took a listing that matched a few thousand of 38,000 new rows for a
handful, chose to read the whole tenant, and ran 20 times slower than it does once the
table is analyzed. autovacuum analyzes such a table within a minute or so; readers that
come at once paid until then. ``memory_refresh_stats_v1(p_written)`` analyzes the table
when a write of ``p_written`` rows is a tenth of what the planner believes it holds (or it
has never been measured). It runs as the owner (the app role may not ANALYZE), never
queues behind another ANALYZE or a second caller (it returns false instead), and is
called by the library in a transaction of its own after a large batch commits.

Revision ID: memory_0017
Revises: memory_0016
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, create_function

revision = "memory_0017"
down_revision = "memory_0016"
branch_labels = None
depends_on = None

REFRESH = """
CREATE FUNCTION agentledger.memory_refresh_stats_v1(p_written bigint) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tuples real := (SELECT c.reltuples FROM pg_class c
                      WHERE c.oid = 'agentledger.memory_entities'::regclass);
BEGIN
    IF v_tuples >= 0 AND p_written < greatest(v_tuples * 0.1, 1000) THEN
        RETURN false;  -- the planner's figures still hold
    END IF;
    IF NOT pg_try_advisory_xact_lock(hashtext('agentledger.memory_refresh_stats')) THEN
        RETURN false;  -- another caller is refreshing them
    END IF;
    PERFORM set_config('lock_timeout', '100ms', true);  -- autovacuum may be at it
    ANALYZE agentledger.memory_entities;
    RETURN true;
EXCEPTION WHEN lock_not_available THEN
    RETURN false;
END
$fn$
"""


def upgrade() -> None:
    op.execute(create_function("memory_refresh_stats_v1", REFRESH, (), app_role()))


def downgrade() -> None:
    op.execute("DROP FUNCTION agentledger.memory_refresh_stats_v1(bigint);")
