"""One event appended by a function of typed arguments.

``append_event_v1`` appends one event as ``append_events_v3`` (audit_0007) appends a batch
of one: the same feed lock and commit order, the same stream lock, the same idempotency by
event id and the same version check, with the same errors. Its arguments are the event's
fields, so it parses no JSON array. It looks up the stream's head, then inserts with
``ON CONFLICT (tenant_id, event_id) DO NOTHING``, so a stored id is found by the unique
index itself; the stored event is read only when the insert wrote nothing. The insert
keeps its plan across calls; the head lookup is planned per call. The batch function
plans all its statements afresh on every call (custom plans keep its joins right for any
batch size), which made most of a single append's time on the server.

``events_feed_order_v1`` is the feed lock and commit order of ``append_events_v3``, as a
function of its own for the appends that come after it.

Revision ID: audit_0008
Revises: audit_0007
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "audit_0008"
down_revision = "audit_0007"
branch_labels = None
depends_on = None

FEED_ORDER = """
CREATE FUNCTION agentledger.events_feed_order_v1(p_tenant text)
    RETURNS xid8
    LANGUAGE plpgsql
AS $fn$
-- The commit order of this transaction's events in ``p_tenant``'s feed; takes the feed's
-- shared lock, held until commit. The first call of a transaction places its events past
-- every transaction a reader may have seen unfinished; later calls give the same order.
DECLARE
    v_xid xid8 := pg_current_xact_id();  -- the transaction's id (taken now if it had none)
    v_mark text := current_setting('agentledger.feed_order', true);
    v_order xid8;
    v_step xid;  -- the id of a subtransaction taken (and undone) after the lock
BEGIN
    -- Held until commit, and taken with an id already assigned: a reader of this tenant's
    -- feed that sees the lock also sees the id, and reads nothing ordered at or past it.
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('agentledger.feed/' || p_tenant, 0));
    IF split_part(coalesce(v_mark, ''), ' ', 1) = p_tenant THEN
        RETURN split_part(v_mark, ' ', 2)::xid8;  -- this transaction's earlier append
    END IF;
    -- A reader that looked before the lock read only ids older than the first one not
    -- finished then: place the events at or past that (pg_snapshot_xmax, now).
    v_order := greatest(v_xid, pg_snapshot_xmax(pg_current_snapshot()));
    IF v_order > v_xid OR current_setting('transaction_isolation') <> 'read committed' THEN
        -- Take one more id, after the lock, and undo it. It is past every id assigned before
        -- the lock (outside read committed the snapshot above is the transaction's own,
        -- older than the lock), and, undone, it is finished: once this transaction ends
        -- too, readers' horizons pass it.
        BEGIN
            INSERT INTO agentledger.event_checkpoints (tenant_id, subscriber, position)
            VALUES (p_tenant, 'agentledger:feed-order:' || gen_random_uuid(), 0)
            RETURNING xmin INTO v_step;
            RAISE EXCEPTION USING ERRCODE = 'ALFO0';
        EXCEPTION WHEN SQLSTATE 'ALFO0' THEN
            NULL;
        END;
        v_order := greatest(v_order, (v_xid::text::bigint + mod(mod(
            v_step::text::bigint - mod(v_xid::text::bigint, 4294967296), 4294967296)
            + 4294967296, 4294967296))::text::xid8);
    END IF;
    PERFORM set_config('agentledger.feed_order', p_tenant || ' ' || v_order, true);
    RETURN v_order;
END
$fn$;
"""

APPEND_ONE = """
CREATE FUNCTION agentledger.append_event_v1(
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

    -- The stream's head is looked up with a plan made for this call (EXECUTE): a plan kept
    -- from when the log was small may walk the tenant's whole log along its feed index.
    EXECUTE 'SELECT coalesce(max(v.version), 0) FROM agentledger.events v
             WHERE v.tenant_id = $1 AND v.stream = $2'
    INTO v_head USING v_tenant, p_stream;
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

    -- Stored before, or the stream is not at the expected version (a stored id wins).
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

SIGNATURES = (
    "agentledger.events_feed_order_v1(text)",
    "agentledger.append_event_v1(uuid, text, text, text, text, jsonb, jsonb, bigint, timestamptz)",
)


def upgrade() -> None:
    op.execute(FEED_ORDER)
    op.execute(APPEND_ONE)
    for signature in SIGNATURES:
        op.execute(
            f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC;"
            f' GRANT EXECUTE ON FUNCTION {signature} TO "{app_role()}"'
        )


def downgrade() -> None:
    for signature in reversed(SIGNATURES):
        op.execute(f"DROP FUNCTION {signature}")
