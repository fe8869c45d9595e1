"""Feed reads walk the feed index in order.

``read_events_v2`` is ``read_events_v1`` (audit_0004) planned so that it reads the
``(tenant_id, commit_order, position)`` index in order and stops at the limit. Before the
table's statistics caught up (a new or fast-growing tenant), v1 was planned as a bitmap scan
of every event of the tenant past the cursor followed by a sort, so a catch-up read of 1,000
events from the start cost as much as the tenant's whole log. With sorts and bitmap scans
off inside the function, the only plans left are the ordered index scans.

Revision ID: audit_0006
Revises: audit_0005
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "audit_0006"
down_revision = "audit_0005"
branch_labels = None
depends_on = None

# read_events_v1 with its plan held to the index order (see the docstring).
READ = """
CREATE FUNCTION agentledger.read_events_v2(p_after bigint, p_types text[], p_limit integer)
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

    RETURN QUERY
    WITH cur AS (
        SELECT c.commit_order, c.position FROM agentledger.events c
        WHERE c.tenant_id = v_tenant AND c.position = p_after
        UNION ALL
        SELECT '0'::xid8, 0::bigint WHERE p_after = 0
    )
    SELECT (SELECT count(*) FROM cur), e.*
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
        SELECT e.event_id, e.stream, e.version, e.position, e.type, e.actor_type, e.actor_id,
               e.payload, e.metadata, e.created_at
        FROM cur, agentledger.events e
        WHERE e.tenant_id = v_tenant
          AND (e.commit_order, e.position) > (cur.commit_order, cur.position)
          AND e.commit_order < v_horizon::text::xid8
          AND (p_types IS NULL OR e.type = ANY(p_types))
        ORDER BY e.commit_order, e.position
        LIMIT p_limit
    ) e ON true;
END
$fn$;
"""

READ_SIGNATURE = "agentledger.read_events_v2(bigint, text[], integer)"


def upgrade() -> None:
    op.execute(READ)
    op.execute(
        f"REVOKE ALL ON FUNCTION {READ_SIGNATURE} FROM PUBLIC;"
        f' GRANT EXECUTE ON FUNCTION {READ_SIGNATURE} TO "{app_role()}"'
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {READ_SIGNATURE}")
