"""A single append keeps the plan of its stream-head lookup.

``append_event_v2`` appends one event as ``append_event_v1`` (audit_0008) does, with the
same feed lock and commit order (``events_feed_order_v1``), stream lock, idempotency by
event id, version check and errors. v1 planned its head lookup on every call (EXECUTE),
which was most of its server time besides the insert. v2 keeps that plan: the lookup reads
the stream's last version in the order of the (tenant_id, stream, version) index, so that
index is the cheapest path under any statistics, an empty log's included (any other index
would need a sort). The stored-event lookup after a conflict stays planned per call: its
generic plan for an empty log scans the feed index.

Revision ID: audit_0010
Revises: audit_0009
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "audit_0010"
down_revision = "audit_0009"
branch_labels = None
depends_on = None

APPEND_ONE = """
CREATE FUNCTION agentledger.append_event_v2(
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
    v_order xid8 := agentledger.events_feed_order_v1(v_tenant);
    v_known record;
    v_head bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(
        hashtextextended('agentledger.events/' || v_tenant || '/' || p_stream, 0));

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
$fn$;
"""

SIGNATURE = (
    "agentledger.append_event_v2(uuid, text, text, text, text, jsonb, jsonb, bigint, timestamptz)"
)


def upgrade() -> None:
    op.execute(APPEND_ONE)
    op.execute(
        f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC;"
        f' GRANT EXECUTE ON FUNCTION {SIGNATURE} TO "{app_role()}"'
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
