"""Appends take their commit order after their stream locks.

``append_event_v3`` and ``append_events_v5`` append as ``append_event_v2`` (audit_0010) and
``append_events_v4`` (audit_0009) do, with one change: the feed order
(``events_feed_order_v1``) is taken after the stream's lock, not before it. Taken before, an
append that then waited for the lock behind another append to the same stream ordered its
event (the next version) ahead of the one it waited for, and a reader of the feed received
version N+1 before version N. Taken after, it comes past the appends that held the stream,
so each stream's events reach the feed in version order when each append is a transaction
of its own.

Revision ID: audit_0013
Revises: audit_0012
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "audit_0013"
down_revision = "audit_0012"
branch_labels = None
depends_on = None

APPEND_ONE = """
CREATE FUNCTION agentledger.append_event_v3(
    p_event_id uuid, p_stream text, p_type text, p_actor_type text, p_actor_id text,
    p_payload jsonb, p_metadata jsonb, p_expected bigint, p_at timestamptz
)
    RETURNS TABLE (event_id uuid, stream text, version bigint, "position" bigint,
                   created_at timestamptz, already_appended boolean)
    LANGUAGE plpgsql
AS $fn$
-- Append one event (its time ``p_at``, NULL: now): idempotent by event id (a stored id
-- returns its event, already_appended; with other stream, type or payload: ALCF0), and,
-- for a new event, its stream at version ``p_expected`` when that is given (else ALVC0).
#variable_conflict use_column
DECLARE
    v_tenant text := agentledger.current_tenant();
    v_order xid8;
    v_known record;
    v_head bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(
        hashtextextended('agentledger.events/' || v_tenant || '/' || p_stream, 0));
    -- Ordered once the stream is ours: past the append that held it before.
    v_order := agentledger.events_feed_order_v1(v_tenant);

    -- The stream's head, read backwards along (tenant_id, stream, version): the plan is kept.
    SELECT v.version INTO v_head FROM agentledger.events v
    WHERE v.tenant_id = v_tenant AND v.stream = p_stream
    ORDER BY v.version DESC
    LIMIT 1;
    v_head := coalesce(v_head, 0);
    IF p_expected IS NULL OR v_head = p_expected THEN
        -- A stored id is found by the insert itself, through its unique index.
        RETURN QUERY
        INSERT INTO agentledger.events AS ev
            (tenant_id, event_id, stream, version, type, actor_type, actor_id, payload,
             metadata, commit_order, created_at)
        VALUES (v_tenant, p_event_id, p_stream, v_head + 1, p_type, p_actor_type,
                p_actor_id, p_payload, p_metadata, v_order, coalesce(p_at, now()))
        ON CONFLICT (tenant_id, event_id) DO NOTHING
        RETURNING ev.event_id, ev.stream, ev.version, ev.position, ev.created_at, false;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;

    -- Stored before, or the stream is not at the expected version (a stored id wins). Planned
    -- for this call (EXECUTE): a plan kept from an empty log scans the tenant's feed index.
    EXECUTE 'SELECT s.event_id, s.stream, s.type, s.payload, s.version, s.position,
                    s.created_at
             FROM agentledger.events s WHERE s.tenant_id = $1 AND s.event_id = $2'
    INTO v_known USING v_tenant, p_event_id;
    IF v_known.event_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'ALVC0', COLUMN = 'expected_version',
            MESSAGE = 'stream ' || quote_literal(p_stream) || ' is at version ' || v_head
                || ', not the expected ' || p_expected;
    END IF;
    IF v_known.stream <> p_stream OR v_known.type <> p_type OR v_known.payload <> p_payload
    THEN
        RAISE EXCEPTION USING ERRCODE = 'ALCF0', COLUMN = 'event_id',
            MESSAGE = 'event ' || p_event_id || ' was already appended with other content';
    END IF;
    RETURN QUERY SELECT v_known.event_id, v_known.stream, v_known.version, v_known.position,
                        v_known.created_at, true;
END
$fn$
"""

APPEND_MANY = """
CREATE FUNCTION agentledger.append_events_v5(p_events jsonb, p_expected jsonb, p_dated boolean)
    RETURNS TABLE (event_id uuid, stream text, version bigint, "position" bigint,
                   created_at timestamptz, already_appended boolean)
    LANGUAGE plpgsql
    SET plan_cache_mode = force_custom_plan
AS $fn$
-- Append ``p_events`` (a JSON array of objects: event_id, stream, type, actor_type, actor_id,
-- payload, metadata, and ``at`` when ``p_dated``) atomically; one row per event, in the
-- array's order. A stored id returns its event (already_appended; with other stream, type
-- or payload: ALCF0). ``p_expected`` maps a stream to its version before the batch (else
-- ALVC0). Plans are custom per call, so the joins fit the batch and the false branches of
-- ``p_dated`` and ``v_known`` fold away.
#variable_conflict use_column
DECLARE
    v_tenant text := agentledger.current_tenant();
    v_order xid8;
    v_ids uuid[];
    v_known boolean;  -- some event of the batch is stored already
    v_bad record;
BEGIN
    PERFORM pg_advisory_xact_lock(
        hashtextextended('agentledger.events/' || v_tenant || '/' || s, 0))
    FROM (SELECT DISTINCT e ->> 'stream' AS s
          FROM jsonb_array_elements(p_events) e ORDER BY 1) streams;
    -- Ordered once the streams are ours: past the appends that held them before.
    v_order := agentledger.events_feed_order_v1(v_tenant);

    v_ids := ARRAY(SELECT (e ->> 'event_id')::uuid FROM jsonb_array_elements(p_events) e);
    v_known := EXISTS (SELECT 1 FROM agentledger.events s
                       WHERE s.tenant_id = v_tenant AND s.event_id = ANY (v_ids));

    IF v_known THEN
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
    END IF;

    IF p_expected IS NOT NULL THEN
        -- A stream the batch only repeats stored events of is not held to its expectation.
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
                WHERE v_known AND d.tenant_id = v_tenant
                  AND d.event_id = (e ->> 'event_id')::uuid))
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
               CASE WHEN p_dated THEN (e ->> 'at')::timestamptz END AS at
        FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, ord)
    ), known AS (
        SELECT x.event_id, x.stream, x.version, x.position, x.created_at
        FROM input i CROSS JOIN LATERAL (
            SELECT s.event_id, s.stream, s.version, s.position, s.created_at
            FROM agentledger.events s
            WHERE v_known AND s.tenant_id = v_tenant AND s.event_id = i.event_id
            LIMIT 1
        ) x
    ), fresh AS (
        SELECT i.*, row_number() OVER (PARTITION BY i.stream ORDER BY i.ord) AS n
        FROM input i WHERE i.event_id NOT IN (SELECT k.event_id FROM known k)
    ), heads AS MATERIALIZED (
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
    ), placed AS (
        SELECT a.event_id, a.stream, a.version, a.position, a.created_at,
               false AS already_appended
        FROM added a
        UNION ALL
        SELECT k.event_id, k.stream, k.version, k.position, k.created_at, true FROM known k
    )
    SELECT p.event_id, p.stream, p.version, p.position, p.created_at, p.already_appended
    FROM input i JOIN placed p ON p.event_id = i.event_id
    ORDER BY i.ord;
END
$fn$
"""

SIGNATURES = (
    "agentledger.append_event_v3(uuid, text, text, text, text, jsonb, jsonb, bigint, timestamptz)",
    "agentledger.append_events_v5(jsonb, jsonb, boolean)",
)


def upgrade() -> None:
    op.execute(APPEND_ONE)
    op.execute(APPEND_MANY)
    for signature in SIGNATURES:
        op.execute(
            f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC;"
            f' GRANT EXECUTE ON FUNCTION {signature} TO "{app_role()}"'
        )


def downgrade() -> None:
    for signature in SIGNATURES:
        op.execute(f"DROP FUNCTION {signature}")
