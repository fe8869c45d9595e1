"""Appends wake followers after their commit, not inside it.

``append_events_v3`` is ``append_events_v2`` (audit_0005) without its ``pg_notify``. A
transaction that notifies holds PostgreSQL's notification lock from its commit's start
until the commit is flushed, so concurrent appends each waited for the others' fsyncs
instead of sharing one. The library now wakes the channel's listeners itself, right after
the commit, in a transaction of its own with ``synchronous_commit`` off (the query
``wake_listeners`` in db/queries.sql, sent in the same round trip as the commit).
``append_events_v2`` keeps notifying, for SQL callers that rely on it.

Revision ID: audit_0007
Revises: audit_0006
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "audit_0007"
down_revision = "audit_0006"
branch_labels = None
depends_on = None

# append_events_v2 without the notification (see the docstring).
APPEND = """
CREATE FUNCTION agentledger.append_events_v3(
    p_events jsonb, p_expected jsonb, p_dated boolean
)
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
               coalesce(e -> 'metadata', '{}') AS metadata, t.ord,
               -- Folded to NULL when the batch carries no time (plans are custom).
               CASE WHEN p_dated THEN (e ->> 'at')::timestamptz END AS at
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
             commit_order, created_at)
        SELECT v_tenant, f.event_id, f.stream, h.head + f.n, f.type, f.actor_type, f.actor_id,
               f.payload, f.metadata, v_order,
               CASE WHEN p_dated THEN coalesce(f.at, now()) ELSE now() END
        FROM fresh f JOIN heads h ON h.stream = f.stream
        ORDER BY f.ord
        RETURNING ev.event_id, ev.stream, ev.version, ev.position, ev.created_at
    )
    SELECT a.event_id, a.stream, a.version, a.position, a.created_at, false FROM added a
    UNION ALL
    SELECT k.event_id, k.stream, k.version, k.position, k.created_at, true FROM known k;

END
$fn$;
"""

SIGNATURE = "agentledger.append_events_v3(jsonb, jsonb, boolean)"


def upgrade() -> None:
    op.execute(APPEND)
    op.execute(
        f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC;"
        f' GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "{app_role()}"'
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
