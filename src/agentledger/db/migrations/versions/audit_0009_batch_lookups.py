"""A batch append looks its ids up once, and answers in the batch's order.

``append_events_v4`` appends as ``append_events_v3`` (audit_0007) does, with the same locks,
commit order (``events_feed_order_v1``, audit_0008), idempotency, version check and errors.
It differs in three ways:

- one index scan (``event_id = ANY``) tells whether any event of the batch is stored
  already. A fresh batch, the common case, skips the per-event lookups that v3 made twice
  (once for the content check, once for the stored events' rows);
- each stream's head is looked up once; v3's inlined ``heads`` looked it up once per event;
- rows come back in the batch's order, so a caller pairs them with its events by position.

Revision ID: audit_0009
Revises: audit_0008
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "audit_0009"
down_revision = "audit_0008"
branch_labels = None
depends_on = None

APPEND = """
CREATE FUNCTION agentledger.append_events_v4(
    p_events jsonb, p_expected jsonb, p_dated boolean
)
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
    v_order xid8 := agentledger.events_feed_order_v1(v_tenant);
    v_ids uuid[];
    v_known boolean;  -- some event of the batch is stored already
    v_bad record;
BEGIN
    PERFORM pg_advisory_xact_lock(
        hashtextextended('agentledger.events/' || v_tenant || '/' || s, 0))
    FROM (SELECT DISTINCT e ->> 'stream' AS s
          FROM jsonb_array_elements(p_events) e ORDER BY 1) streams;

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
$fn$;
"""

SIGNATURE = "agentledger.append_events_v4(jsonb, jsonb, boolean)"


def upgrade() -> None:
    op.execute(APPEND)
    op.execute(
        f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC;"
        f' GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "{app_role()}"'
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
