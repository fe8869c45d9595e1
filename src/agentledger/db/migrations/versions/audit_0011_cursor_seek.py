"""Feed reads seek to their cursor.

``read_events_v3`` returns what ``read_events_v2`` (audit_0006) returns, with the same
commit-safe horizon, planner settings and row shape. v2 joined the cursor event as a
subquery, so its position reached the events scan only as a join filter: the scan walked
the tenant's feed index from the start and dropped every event up to the cursor, and a
read's cost grew with the cursor's depth in the log. v3 looks the cursor up first and
compares its (commit_order, position) with the index's own columns, so the scan starts
just past the cursor and reads no more than the limit.

Revision ID: audit_0011
Revises: audit_0010
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "audit_0011"
down_revision = "audit_0010"
branch_labels = None
depends_on = None

READ = """
CREATE FUNCTION agentledger.read_events_v3(p_after bigint, p_types text[], p_limit integer)
    RETURNS TABLE (cursor_found bigint, event_id uuid, stream text, version bigint,
                   "position" bigint, type text, actor_type text, actor_id text,
                   payload jsonb, metadata jsonb, created_at timestamptz)
    LANGUAGE plpgsql VOLATILE
    SET enable_sort = off
    SET enable_bitmapscan = off
AS $fn$
-- The tenant's events after the cursor event (0: from the start), in commit-safe order.
-- One row with NULL event columns when nothing is readable; cursor_found says whether the
-- cursor exists. Each statement takes its own snapshot (read committed), so the look at the
-- feed's lock holders comes before the snapshot the events are read in.
#variable_conflict use_column
DECLARE
    v_tenant text := agentledger.current_tenant();
    v_key bigint := hashtextextended('agentledger.feed/' || v_tenant, 0);
    v_snap pg_snapshot := pg_current_snapshot();
    v_next bigint := pg_snapshot_xmax(v_snap)::text::bigint;
    v_horizon bigint := v_next;
    v_order xid8 := '0';  -- the cursor event's place in the feed (0, 0: before the first)
    v_position bigint := 0;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        -- One snapshot for the whole transaction: only what it saw finished is safe.
        v_horizon := pg_snapshot_xmin(v_snap)::text::bigint;
    ELSIF pg_snapshot_xmin(v_snap) <> pg_snapshot_xmax(v_snap) THEN
        -- Transactions are running: the oldest holding this feed's lock bounds the read.
        -- pg_locks shows 32-bit ids; each is widened against v_next (one 2^31 or more
        -- behind is at or past v_next, and so is its commit_order: it bounds nothing).
        SELECT least(v_horizon, min(v_next - held.d)) INTO v_horizon
        FROM (
            SELECT mod(mod(v_next - t.transactionid::text::bigint, 4294967296) + 4294967296,
                       4294967296) AS d
            FROM pg_locks f
            JOIN pg_locks t ON t.virtualtransaction = f.virtualtransaction
            WHERE f.locktype = 'advisory' AND f.granted AND f.objsubid = 1
              AND f.classid = ((v_key >> 32) & 4294967295)::text::oid
              AND f.objid = (v_key & 4294967295)::text::oid
              AND t.locktype = 'transactionid' AND t.mode = 'ExclusiveLock' AND t.granted
        ) held
        WHERE held.d < 2147483648;
    END IF;

    IF p_after <> 0 THEN
        SELECT c.commit_order, c.position INTO v_order, v_position
        FROM agentledger.events c
        WHERE c.tenant_id = v_tenant AND c.position = p_after;
        IF NOT FOUND THEN
            cursor_found := 0;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    -- The row comparison is on the index's own columns: the scan starts past the cursor.
    RETURN QUERY
    SELECT 1::bigint, e.event_id, e.stream, e.version, e.position, e.type, e.actor_type,
           e.actor_id, e.payload, e.metadata, e.created_at
    FROM agentledger.events e
    WHERE e.tenant_id = v_tenant
      AND (e.commit_order, e.position) > (v_order, v_position)
      AND e.commit_order < v_horizon::text::xid8
      AND (p_types IS NULL OR e.type = ANY(p_types))
    ORDER BY e.commit_order, e.position
    LIMIT p_limit;
    IF NOT FOUND THEN
        cursor_found := 1;
        RETURN NEXT;
    END IF;
END
$fn$;
"""

READ_SIGNATURE = "agentledger.read_events_v3(bigint, text[], integer)"


def upgrade() -> None:
    op.execute(READ)
    op.execute(
        f"REVOKE ALL ON FUNCTION {READ_SIGNATURE} FROM PUBLIC;"
        f' GRANT EXECUTE ON FUNCTION {READ_SIGNATURE} TO "{app_role()}"'
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {READ_SIGNATURE}")
