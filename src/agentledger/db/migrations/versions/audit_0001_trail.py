"""Audit trail: the append-only event log with subscriber checkpoints, runs, decisions, alerts.

Revision ID: audit_0001
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, tenant_table

revision = "audit_0001"
down_revision = "0001"
branch_labels = ("audit",)
depends_on = None

EVENTS = """
CREATE SEQUENCE agentledger.event_position AS bigint;

-- The log. ``xid`` is the writing transaction: subscribers read in (xid, position) order and
-- only below the oldest running transaction, so a late commit can never be skipped.
CREATE TABLE agentledger.events (
    tenant_id   text NOT NULL REFERENCES agentledger.tenants (id),
    position    bigint NOT NULL DEFAULT nextval('agentledger.event_position'),
    event_id    uuid NOT NULL,
    stream      text NOT NULL CONSTRAINT events_stream_length
                CHECK (length(stream) BETWEEN 1 AND 200),
    version     bigint NOT NULL CONSTRAINT events_version_positive CHECK (version > 0),
    type        text NOT NULL CONSTRAINT events_type_length CHECK (length(type) BETWEEN 1 AND 200),
    actor_type  text NOT NULL CONSTRAINT events_actor_type
                CHECK (actor_type IN ('agent', 'user', 'system')),
    actor_id    text,
    payload     jsonb NOT NULL DEFAULT '{}',
    metadata    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    PRIMARY KEY (tenant_id, position),
    CONSTRAINT events_event_id_unique UNIQUE (tenant_id, event_id),
    CONSTRAINT events_stream_version_unique UNIQUE (tenant_id, stream, version)
);
ALTER SEQUENCE agentledger.event_position OWNED BY agentledger.events.position;
CREATE INDEX events_commit_order ON agentledger.events (tenant_id, xid, position);

CREATE TABLE agentledger.event_checkpoints (
    tenant_id   text NOT NULL REFERENCES agentledger.tenants (id),
    subscriber  text NOT NULL CONSTRAINT event_checkpoints_subscriber_length
                CHECK (length(subscriber) BETWEEN 1 AND 200),
    position    bigint NOT NULL CONSTRAINT event_checkpoints_position CHECK (position >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subscriber)
);

-- Append a batch atomically. p_events: [{event_id, stream, type, actor_type, actor_id,
-- payload, metadata}], p_expected: {stream: version before this batch} or NULL.
-- Events whose id is already stored are reported (already_appended) instead of stored again;
-- an id stored with other content is a conflict. Writers of one stream queue on an advisory
-- lock (versions are per stream anyway); writers of different streams never wait.
CREATE FUNCTION agentledger.append_events_v1(p_events jsonb, p_expected jsonb)
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

RUNS = """
CREATE TABLE agentledger.runs (
    tenant_id     text NOT NULL REFERENCES agentledger.tenants (id),
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    trigger_type  text NOT NULL CONSTRAINT runs_trigger_type_length
                  CHECK (length(trigger_type) BETWEEN 1 AND 100),
    source_id     text,
    content       text,
    priority      text,
    entity_ref    text,
    status        text NOT NULL DEFAULT 'started'
                  CONSTRAINT runs_status CHECK (status IN ('started', 'succeeded', 'failed')),
    duration_ms   bigint CONSTRAINT runs_duration CHECK (duration_ms >= 0),
    tokens_in     bigint NOT NULL DEFAULT 0 CONSTRAINT runs_tokens_in CHECK (tokens_in >= 0),
    tokens_out    bigint NOT NULL DEFAULT 0 CONSTRAINT runs_tokens_out CHECK (tokens_out >= 0),
    response_id   text,
    error         text,
    metadata      jsonb NOT NULL DEFAULT '{}',
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX runs_started ON agentledger.runs (tenant_id, started_at DESC, id);
CREATE INDEX runs_trigger_started ON agentledger.runs (tenant_id, trigger_type, started_at);
"""

DECISIONS = """
CREATE TABLE agentledger.decisions (
    tenant_id        text NOT NULL REFERENCES agentledger.tenants (id),
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    decision         text NOT NULL CONSTRAINT decisions_decision_length
                     CHECK (length(decision) BETWEEN 1 AND 10000),
    reasoning        text NOT NULL DEFAULT '',
    confidence       double precision CONSTRAINT decisions_confidence
                     CHECK (confidence BETWEEN 0 AND 1),
    decision_type    text NOT NULL CONSTRAINT decisions_type_length
                     CHECK (length(decision_type) BETWEEN 1 AND 100),
    data             jsonb NOT NULL DEFAULT '{}',
    agent            text,
    run_id           uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    accepted         boolean,
    feedback_reason  text,
    feedback_by      text,
    feedback_at      timestamptz,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT decisions_run_fk FOREIGN KEY (tenant_id, run_id)
        REFERENCES agentledger.runs (tenant_id, id),
    CONSTRAINT decisions_feedback_complete
        CHECK ((accepted IS NULL) = (feedback_at IS NULL))
);
CREATE INDEX decisions_created ON agentledger.decisions (tenant_id, created_at DESC, id DESC);
CREATE INDEX decisions_type_created
    ON agentledger.decisions (tenant_id, decision_type, created_at);
CREATE INDEX decisions_agent_created ON agentledger.decisions (tenant_id, agent, created_at);
"""

ALERTS = """
CREATE TABLE agentledger.alerts (
    tenant_id        text NOT NULL REFERENCES agentledger.tenants (id),
    id               uuid NOT NULL DEFAULT gen_random_uuid(),
    tier             smallint NOT NULL CONSTRAINT alerts_tier CHECK (tier BETWEEN 1 AND 3),
    title            text NOT NULL CONSTRAINT alerts_title_length
                     CHECK (length(title) BETWEEN 1 AND 500),
    body             text NOT NULL DEFAULT '',
    action_required  boolean NOT NULL DEFAULT false,
    run_id           uuid,
    entity_ref       text,
    case_ref         text,
    dedup_key        text,
    occurrences      integer NOT NULL DEFAULT 1,
    status           text NOT NULL DEFAULT 'pending'
                     CONSTRAINT alerts_status
                     CHECK (status IN ('pending', 'acknowledged', 'resolved')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    resolved_at      timestamptz,
    resolved_by      text,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT alerts_run_fk FOREIGN KEY (tenant_id, run_id)
        REFERENCES agentledger.runs (tenant_id, id)
);
-- At most one open alert per dedup key: a repeat bumps its counter (ON CONFLICT arbiter).
CREATE UNIQUE INDEX alerts_open_dedup ON agentledger.alerts (tenant_id, dedup_key)
    WHERE dedup_key IS NOT NULL AND status <> 'resolved';
CREATE INDEX alerts_pending ON agentledger.alerts (tenant_id, tier, created_at)
    WHERE status = 'pending';
CREATE INDEX alerts_created ON agentledger.alerts (tenant_id, created_at DESC, id DESC);
"""


def upgrade() -> None:
    role = app_role()
    op.execute(EVENTS)
    # The log is append-only for the application: no UPDATE, DELETE or TRUNCATE grant.
    op.execute(tenant_table("events", "SELECT, INSERT"))
    op.execute(f'GRANT USAGE ON SEQUENCE agentledger.event_position TO "{role}"')
    op.execute(tenant_table("event_checkpoints", "SELECT, INSERT, UPDATE"))
    op.execute(
        "REVOKE ALL ON FUNCTION agentledger.append_events_v1(jsonb, jsonb) FROM PUBLIC;"
        f' GRANT EXECUTE ON FUNCTION agentledger.append_events_v1(jsonb, jsonb) TO "{role}"'
    )
    op.execute(RUNS)
    op.execute(tenant_table("runs", "SELECT, INSERT, UPDATE"))
    # Decisions are never deleted: the app role may record feedback but not delete.
    op.execute(DECISIONS)
    op.execute(tenant_table("decisions", "SELECT, INSERT, UPDATE"))
    op.execute(ALERTS)
    op.execute(tenant_table("alerts", "SELECT, INSERT, UPDATE"))


def downgrade() -> None:
    op.execute(
        "DROP TABLE agentledger.alerts, agentledger.decisions, agentledger.runs,"
        " agentledger.event_checkpoints, agentledger.events;"
        " DROP FUNCTION agentledger.append_events_v1(jsonb, jsonb)"
    )
