"""Event appends look up known event ids one by one, through the (tenant_id, event_id) index.

The first version joined the batch to the tenant's events; plpgsql keeps the plan it made
while the table was small (a hash join over every event of the tenant), so appends slowed
down as the log grew. A LATERAL lookup with LIMIT 1 is an index probe per event whatever the
statistics say, and each call is planned for the table as it is now. Same signature, same
behaviour.

Revision ID: audit_0003
Revises: audit_0002
"""

from __future__ import annotations

from alembic import op

revision = "audit_0003"
down_revision = "audit_0002"
branch_labels = None
depends_on = None

LATERAL = """
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

JOINED = """
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
    JOIN agentledger.events x
      ON x.tenant_id = v_tenant AND x.event_id = (e ->> 'event_id')::uuid
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
        FROM input i JOIN agentledger.events x
          ON x.tenant_id = v_tenant AND x.event_id = i.event_id
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
    op.execute(LATERAL)
    # Plan each call with the table's current size: a plan cached while the log was tiny
    # would keep scanning by tenant instead of probing (tenant_id, event_id).
    op.execute(
        "ALTER FUNCTION agentledger.append_events_v1(jsonb, jsonb)"
        " SET plan_cache_mode = force_custom_plan"
    )


def downgrade() -> None:
    op.execute(JOINED)
    op.execute("ALTER FUNCTION agentledger.append_events_v1(jsonb, jsonb) RESET plan_cache_mode")
