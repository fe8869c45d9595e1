"""Each tenant's event feed waits only for transactions that appended to that tenant.

Readers of the feed (read_all, followers, the SSE stream) returned only events written by
transactions older than every transaction still running in the whole database, so one open
transaction anywhere (another tenant's, a report's, a session idle in transaction) held back
every tenant's feed. Now an appending transaction holds a shared, transaction-scoped advisory
lock on its tenant's feed (taken once it has a transaction id), and each event carries
``commit_order`` (the column was ``xid``, the writing transaction's id): the transaction's
id, or, when younger transactions had already finished by the time it took the lock (or
outside read committed, where its snapshot predates the lock), the id of a subtransaction
it takes after the lock and undoes (so that once it ends, readers' horizons pass its
events). ``read_events_v1`` looks first at
which transactions hold the tenant's feed lock, then reads, in a later snapshot, only events
ordered below the oldest holder's id and below the horizon of finished ids of its first
look. An event that commits later can still never sort before one already read, and only
the tenant's own appenders hold its feed back.

Revision ID: audit_0004
Revises: audit_0003
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "audit_0004"
down_revision = "audit_0003"
branch_labels = None
depends_on = None

RENAME = """
ALTER TABLE agentledger.events RENAME COLUMN xid TO commit_order;
COMMENT ON COLUMN agentledger.events.commit_order IS
    'Feed order: the appending transaction''s id, or past every id finished before its feed lock';
"""

APPEND = """
CREATE OR REPLACE FUNCTION agentledger.append_events_v1(p_events jsonb, p_expected jsonb)
    RETURNS TABLE (event_id uuid, stream text, version bigint, "position" bigint,
                   created_at timestamptz, already_appended boolean)
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan
AS $fn$
#variable_conflict use_column
DECLARE
    v_tenant text := agentledger.current_tenant();
    v_bad record;
    v_xid xid8 := pg_current_xact_id();  -- the transaction's id (taken now if it had none)
    v_mark text := current_setting('agentledger.feed_order', true);
    v_order xid8;
    v_step xid;  -- the id of a subtransaction taken (and undone) after the lock
BEGIN
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
    FROM (SELECT DISTINCT e ->> 'stream' AS s
          FROM jsonb_array_elements(p_events) e ORDER BY 1) streams;

    SELECT x.event_id INTO v_bad
    FROM jsonb_array_elements(p_events) e
    CROSS JOIN LATERAL (
        SELECT s.event_id, s.stream, s.type, s.payload FROM agentledger.events s
        WHERE s.tenant_id = v_tenant AND s.event_id = (e ->> 'event_id')::uuid
        LIMIT 1
    ) x
    WHERE x.stream <> e ->> 'stream' OR x.type <> e ->> 'type'
       OR x.payload <> coalesce(e -> 'payload', '{}')
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'ALCF0', COLUMN = 'event_id',
            MESSAGE = 'event ' || v_bad.event_id || ' was already appended with other content';
    END IF;

    IF p_expected IS NOT NULL THEN
        SELECT x.key AS stream, x.value::bigint AS expected, coalesce(h.head, 0) AS actual
        INTO v_bad
        FROM jsonb_each_text(p_expected) x
        LEFT JOIN LATERAL (
            SELECT max(v.version) AS head FROM agentledger.events v
            WHERE v.tenant_id = v_tenant AND v.stream = x.key
        ) h ON true
        WHERE coalesce(h.head, 0) <> x.value::bigint
          AND EXISTS (
            SELECT 1 FROM jsonb_array_elements(p_events) e
            WHERE e ->> 'stream' = x.key AND NOT EXISTS (
                SELECT 1 FROM agentledger.events d
                WHERE d.tenant_id = v_tenant AND d.event_id = (e ->> 'event_id')::uuid))
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'ALVC0', COLUMN = 'expected_version',
                MESSAGE = 'stream ' || quote_literal(v_bad.stream) || ' is at version '
                    || v_bad.actual || ', not the expected ' || v_bad.expected;
        END IF;
    END IF;

    RETURN QUERY
    WITH input AS (
        SELECT (e ->> 'event_id')::uuid AS event_id, e ->> 'stream' AS stream,
               e ->> 'type' AS type, e ->> 'actor_type' AS actor_type,
               e ->> 'actor_id' AS actor_id, coalesce(e -> 'payload', '{}') AS payload,
               coalesce(e -> 'metadata', '{}') AS metadata, t.ord
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, ord)
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
             commit_order)
        SELECT v_tenant, f.event_id, f.stream, h.head + f.n, f.type, f.actor_type, f.actor_id,
               f.payload, f.metadata, v_order
        FROM fresh f JOIN heads h ON h.stream = f.stream
        ORDER BY f.ord
        RETURNING ev.event_id, ev.stream, ev.version, ev.position, ev.created_at
    )
    SELECT a.event_id, a.stream, a.version, a.position, a.created_at, false FROM added a
    UNION ALL
    SELECT k.event_id, k.stream, k.version, k.position, k.created_at, true FROM known k;

    IF jsonb_array_length(p_events) > 0 THEN
        PERFORM pg_notify('agentledger_events', v_tenant);
    END IF;
END
$fn$;
"""

READ = """
CREATE FUNCTION agentledger.read_events_v1(p_after bigint, p_types text[], p_limit integer)
    RETURNS TABLE (cursor_found bigint, event_id uuid, stream text, version bigint,
                   "position" bigint, type text, actor_type text, actor_id text,
                   payload jsonb, metadata jsonb, created_at timestamptz)
    LANGUAGE plpgsql VOLATILE
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

PREVIOUS_APPEND = """
CREATE OR REPLACE FUNCTION agentledger.append_events_v1(p_events jsonb, p_expected jsonb)
    RETURNS TABLE (event_id uuid, stream text, version bigint, "position" bigint,
                   created_at timestamptz, already_appended boolean)
    LANGUAGE plpgsql
AS $fn$
#variable_conflict use_column
DECLARE
    v_tenant text := agentledger.current_tenant();
    v_bad record;
BEGIN
    PERFORM pg_advisory_xact_lock(
        hashtextextended('agentledger.events/' || v_tenant || '/' || s, 0))
    FROM (SELECT DISTINCT e ->> 'stream' AS s
          FROM jsonb_array_elements(p_events) e ORDER BY 1) streams;

    SELECT x.event_id INTO v_bad
    FROM jsonb_array_elements(p_events) e
    CROSS JOIN LATERAL (
        SELECT s.event_id, s.stream, s.type, s.payload FROM agentledger.events s
        WHERE s.tenant_id = v_tenant AND s.event_id = (e ->> 'event_id')::uuid
        LIMIT 1
    ) x
    WHERE x.stream <> e ->> 'stream' OR x.type <> e ->> 'type'
       OR x.payload <> coalesce(e -> 'payload', '{}')
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'ALCF0', COLUMN = 'event_id',
            MESSAGE = 'event ' || v_bad.event_id || ' was already appended with other content';
    END IF;

    IF p_expected IS NOT NULL THEN
        SELECT x.key AS stream, x.value::bigint AS expected, coalesce(h.head, 0) AS actual
        INTO v_bad
        FROM jsonb_each_text(p_expected) x
        LEFT JOIN LATERAL (
            SELECT max(v.version) AS head FROM agentledger.events v
            WHERE v.tenant_id = v_tenant AND v.stream = x.key
        ) h ON true
        WHERE coalesce(h.head, 0) <> x.value::bigint
          AND EXISTS (
            SELECT 1 FROM jsonb_array_elements(p_events) e
            WHERE e ->> 'stream' = x.key AND NOT EXISTS (
                SELECT 1 FROM agentledger.events d
                WHERE d.tenant_id = v_tenant AND d.event_id = (e ->> 'event_id')::uuid))
        LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'ALVC0', COLUMN = 'expected_version',
                MESSAGE = 'stream ' || quote_literal(v_bad.stream) || ' is at version '
                    || v_bad.actual || ', not the expected ' || v_bad.expected;
        END IF;
    END IF;

    RETURN QUERY
    WITH input AS (
        SELECT (e ->> 'event_id')::uuid AS event_id, e ->> 'stream' AS stream,
               e ->> 'type' AS type, e ->> 'actor_type' AS actor_type,
               e ->> 'actor_id' AS actor_id, coalesce(e -> 'payload', '{}') AS payload,
               coalesce(e -> 'metadata', '{}') AS metadata, t.ord
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, ord)
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
            (tenant_id, event_id, stream, version, type, actor_type, actor_id, payload, metadata)
        SELECT v_tenant, f.event_id, f.stream, h.head + f.n, f.type, f.actor_type, f.actor_id,
               f.payload, f.metadata
        FROM fresh f JOIN heads h ON h.stream = f.stream
        ORDER BY f.ord
        RETURNING ev.event_id, ev.stream, ev.version, ev.position, ev.created_at
    )
    SELECT a.event_id, a.stream, a.version, a.position, a.created_at, false FROM added a
    UNION ALL
    SELECT k.event_id, k.stream, k.version, k.position, k.created_at, true FROM known k;

    IF jsonb_array_length(p_events) > 0 THEN
        PERFORM pg_notify('agentledger_events', v_tenant);
    END IF;
END
$fn$;
"""


def upgrade() -> None:
    op.execute(RENAME)
    op.execute(APPEND)
    op.execute(READ)
    op.execute(
        "REVOKE ALL ON FUNCTION agentledger.read_events_v1(bigint, text[], integer) FROM PUBLIC;"
        " GRANT EXECUTE ON FUNCTION agentledger.read_events_v1(bigint, text[], integer)"
        f' TO "{app_role()}"'
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION agentledger.read_events_v1(bigint, text[], integer)")
    op.execute(PREVIOUS_APPEND)
    op.execute(
        "ALTER FUNCTION agentledger.append_events_v1(jsonb, jsonb)"
        " SET plan_cache_mode = force_custom_plan"
    )
    op.execute("COMMENT ON COLUMN agentledger.events.commit_order IS NULL")
    op.execute("ALTER TABLE agentledger.events RENAME COLUMN commit_order TO xid")
