"""Appends take typed arrays and keep one plan per session; feed reads walk the index.

``append_events_v3`` is ``append_events_v2`` (audit_0005) with the batch as one typed array
per column (ids, streams, types, actor types, actor ids, payloads, metadata, times) and the
expected versions as two arrays, instead of JSON the function walks again for each step.
Its statements are index probes by construction (each known-id look-up is a LATERAL with
LIMIT 1, each stream head a max over the stream's index), so it runs with the generic
plan, made once per session, where v2 planned every call anew (about half the server time
of a single append). ``p_at`` is NULL when no event carries its own time, else one time or
NULL per event. Locks, feed order, idempotency, content conflicts, version checks and the
wake-up are v2's, step for step. v2 and v1 stay for callers that still use them.

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

# Append a batch atomically, as append_events_v2 does, from one array per column.
APPEND = """
CREATE FUNCTION agentledger.append_events_v3(
    p_ids uuid[], p_streams text[], p_types text[], p_actor_types text[], p_actor_ids text[],
    p_payloads jsonb[], p_metadata jsonb[], p_at timestamptz[],
    p_expected_streams text[], p_expected_versions bigint[]
)
    RETURNS TABLE (event_id uuid, stream text, version bigint, "position" bigint,
                   created_at timestamptz, already_appended boolean)
    LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
DECLARE
    v_tenant text := agentledger.current_tenant();
    v_count integer := coalesce(cardinality(p_ids), 0);
    v_bad record;
    v_xid xid8;
    v_mark text;
    v_order xid8;
    v_step xid;  -- the id of a subtransaction taken (and undone) after the lock
BEGIN
    IF coalesce(cardinality(p_streams), 0) <> v_count
       OR coalesce(cardinality(p_types), 0) <> v_count
       OR coalesce(cardinality(p_actor_types), 0) <> v_count
       OR coalesce(cardinality(p_actor_ids), 0) <> v_count
       OR coalesce(cardinality(p_payloads), 0) <> v_count
       OR coalesce(cardinality(p_metadata), 0) <> v_count
       OR (p_at IS NOT NULL AND cardinality(p_at) <> v_count)
       OR coalesce(cardinality(p_expected_streams), 0)
          <> coalesce(cardinality(p_expected_versions), 0)
    THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'events',
            MESSAGE = 'append_events_v3 takes arrays of one length per event';
    END IF;
    v_xid := pg_current_xact_id();  -- the transaction's id (taken now if it had none)
    v_mark := current_setting('agentledger.feed_order', true);
    -- Held until commit, and taken with an id already assigned: a reader of this tenant's
    -- feed that sees the lock also sees the id, and reads nothing ordered at or past it.
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('agentledger.feed/' || v_tenant, 0));
    IF split_part(coalesce(v_mark, ''), ' ', 1) = v_tenant THEN
        v_order := split_part(v_mark, ' ', 2)::xid8;  -- this transaction's earlier append
    ELSE
        -- A reader that looked before the lock read only ids older than the first one not
        -- finished then: place the events at or past that (pg_snapshot_xmax, now).
        v_order := greatest(v_xid, pg_snapshot_xmax(pg_current_snapshot()));
        IF v_order > v_xid OR current_setting('transaction_isolation') <> 'read committed'
        THEN
            -- Take one more id, after the lock, and undo it. It is past every id assigned
            -- before the lock (outside read committed the snapshot above is the
            -- transaction's own, older than the lock), and, undone, it is finished: once
            -- this transaction ends too, readers' horizons pass it.
            BEGIN
                INSERT INTO agentledger.event_checkpoints (tenant_id, subscriber, position)
                VALUES (v_tenant, 'agentledger:feed-order:' || gen_random_uuid(), 0)
                RETURNING xmin INTO v_step;
                RAISE EXCEPTION USING ERRCODE = 'ALFO0';
            EXCEPTION WHEN SQLSTATE 'ALFO0' THEN
                NULL;
            END;
            v_order := greatest(v_order, (v_xid::text::bigint + mod(mod(
                v_step::text::bigint - mod(v_xid::text::bigint, 4294967296), 4294967296)
                + 4294967296, 4294967296))::text::xid8);
        END IF;
        PERFORM set_config('agentledger.feed_order', v_tenant || ' ' || v_order, true);
    END IF;

    PERFORM pg_advisory_xact_lock(
        hashtextextended('agentledger.events/' || v_tenant || '/' || s, 0))
    FROM (SELECT DISTINCT s FROM unnest(p_streams) AS s ORDER BY 1) streams;

    SELECT x.event_id INTO v_bad
    FROM unnest(p_ids, p_streams, p_types, p_payloads) AS i(event_id, stream, type, payload)
    CROSS JOIN LATERAL (
        SELECT s.event_id, s.stream, s.type, s.payload FROM agentledger.events s
        WHERE s.tenant_id = v_tenant AND s.event_id = i.event_id
        LIMIT 1
    ) x
    WHERE x.stream <> i.stream OR x.type <> i.type
       OR x.payload <> coalesce(i.payload, '{}')
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'ALCF0', COLUMN = 'event_id',
            MESSAGE = 'event ' || v_bad.event_id || ' was already appended with other content';
    END IF;

    IF p_expected_streams IS NOT NULL THEN
        SELECT x.stream, x.expected, coalesce(h.head, 0) AS actual
        INTO v_bad
        FROM unnest(p_expected_streams, p_expected_versions) AS x(stream, expected)
        LEFT JOIN LATERAL (
            SELECT max(v.version) AS head FROM agentledger.events v
            WHERE v.tenant_id = v_tenant AND v.stream = x.stream
        ) h ON true
        WHERE coalesce(h.head, 0) <> x.expected
          AND EXISTS (
            SELECT 1 FROM unnest(p_streams, p_ids) AS e(stream, event_id)
            WHERE e.stream = x.stream AND NOT EXISTS (
                SELECT 1 FROM agentledger.events d
                WHERE d.tenant_id = v_tenant AND d.event_id = e.event_id))
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'ALVC0', COLUMN = 'expected_version',
                MESSAGE = 'stream ' || quote_literal(v_bad.stream) || ' is at version '
                    || v_bad.actual || ', not the expected ' || v_bad.expected;
        END IF;
    END IF;

    RETURN QUERY
    WITH input AS (
        SELECT t.event_id, t.stream, t.type, t.actor_type, t.actor_id,
               coalesce(t.payload, '{}') AS payload, coalesce(t.metadata, '{}') AS metadata,
               t.ord
        FROM unnest(p_ids, p_streams, p_types, p_actor_types, p_actor_ids, p_payloads,
                    p_metadata) WITH ORDINALITY
             AS t(event_id, stream, type, actor_type, actor_id, payload, metadata, ord)
    ), known AS (
        SELECT x.event_id, x.stream, x.version, x.position, x.created_at
        FROM input i CROSS JOIN LATERAL (
            SELECT s.event_id, s.stream, s.version, s.position, s.created_at
            FROM agentledger.events s
            WHERE s.tenant_id = v_tenant AND s.event_id = i.event_id
            LIMIT 1
        ) x
    ), fresh AS (
        SELECT i.*, row_number() OVER (PARTITION BY i.stream ORDER BY i.ord) AS n
        FROM input i WHERE i.event_id NOT IN (SELECT k.event_id FROM known k)
    ), heads AS (
        SELECT s.stream, coalesce((
            SELECT max(v.version) FROM agentledger.events v
            WHERE v.tenant_id = v_tenant AND v.stream = s.stream), 0) AS head
        FROM (SELECT DISTINCT f.stream FROM fresh f) s
    ), added AS (
        INSERT INTO agentledger.events AS ev
            (tenant_id, event_id, stream, version, type, actor_type, actor_id, payload, metadata,
             commit_order, created_at)
        SELECT v_tenant, f.event_id, f.stream, h.head + f.n, f.type, f.actor_type, f.actor_id,
               f.payload, f.metadata, v_order, coalesce(p_at[f.ord], now())
        FROM fresh f JOIN heads h ON h.stream = f.stream
        ORDER BY f.ord
        RETURNING ev.event_id, ev.stream, ev.version, ev.position, ev.created_at
    )
    SELECT a.event_id, a.stream, a.version, a.position, a.created_at, false FROM added a
    UNION ALL
    SELECT k.event_id, k.stream, k.version, k.position, k.created_at, true FROM known k;

    IF v_count > 0 THEN
        PERFORM pg_notify('agentledger_events', v_tenant);
    END IF;
END
$fn$;
"""

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

SIGNATURE = (
    "agentledger.append_events_v3(uuid[], text[], text[], text[], text[], jsonb[], jsonb[],"
    " timestamptz[], text[], bigint[])"
)


def upgrade() -> None:
    op.execute(APPEND)
    op.execute(
        f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC;"
        f' GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "{app_role()}"'
    )
    op.execute(READ)
    op.execute(
        f"REVOKE ALL ON FUNCTION {READ_SIGNATURE} FROM PUBLIC;"
        f' GRANT EXECUTE ON FUNCTION {READ_SIGNATURE} TO "{app_role()}"'
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {READ_SIGNATURE}")
    op.execute(f"DROP FUNCTION {SIGNATURE}")
