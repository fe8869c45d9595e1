"""Collaborative sessions: sessions, conversation chunks, versioned artifacts, search.

Large text (a chunk, an artifact) is stored as ordered segments of about 32k characters
cut at whitespace, each with its own tsvector: PostgreSQL caps a tsvector at 1 MB and its
positions at 16383, and ts_headline over megabytes is slow, so search and highlighting
work one segment at a time. A segment's tsvector also covers ``overlap``, the start of the
next segment, so that a phrase across a cut is still found.

The database keeps what concurrent writers could get wrong: a chunk's ``seq`` and an
artifact's ``version`` are assigned under the session row's lock by BEFORE INSERT
triggers, which also keep the session's counters and ``last_activity``; a status change
must follow ``session_transitions`` (the lifecycle in ``sessions/records.py``), whoever
runs the UPDATE.

Search runs in SECURITY DEFINER functions, as memory's does (memory_0003): under the
tenant policy PostgreSQL may evaluate only leakproof operators before the policy's filter,
and ``@@`` is not leakproof, so through the app role the GIN indexes could never serve a
search. The functions run as the owner and filter ``tenant_id = current_tenant()``
themselves, with the query inline (folded to a constant per call) so that ``@@`` becomes
an index condition.

Revision ID: sessions_0001
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, tenant_table

revision = "sessions_0001"
down_revision = "0001"
branch_labels = ("sessions",)
depends_on = None

TABLES = """
-- The lifecycle as reference data (not per tenant): action from a state to the next.
CREATE TABLE agentledger.session_transitions (
    from_status text NOT NULL,
    action      text NOT NULL,
    to_status   text NOT NULL,
    PRIMARY KEY (from_status, action)
);
INSERT INTO agentledger.session_transitions (from_status, action, to_status) VALUES
    ('active', 'pause', 'paused'),
    ('active', 'complete', 'completed'),
    ('paused', 'resume', 'active'),
    ('paused', 'complete', 'completed'),
    ('completed', 'archive', 'archived');

CREATE TABLE agentledger.sessions (
    tenant_id         text NOT NULL REFERENCES agentledger.tenants (id),
    id                uuid NOT NULL,
    title             text NOT NULL CONSTRAINT sessions_title_length
                      CHECK (length(title) BETWEEN 1 AND 500),
    participants      text[] NOT NULL DEFAULT '{}',
    status            text NOT NULL DEFAULT 'active' CONSTRAINT sessions_status
                      CHECK (status IN ('active', 'paused', 'completed', 'archived')),
    summary           text NOT NULL DEFAULT '',
    metadata          jsonb NOT NULL DEFAULT '{}',
    chunk_count       integer NOT NULL DEFAULT 0,
    artifact_count    integer NOT NULL DEFAULT 0,
    memory_count      integer NOT NULL DEFAULT 0,
    task_count        integer NOT NULL DEFAULT 0,
    -- The last chunk seq handed out (chunk_count falls when a chunk is deleted; seq never).
    chunk_seq         integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_activity     timestamptz NOT NULL DEFAULT now(),
    status_changed_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
-- Lists: newest activity first, optionally of one status (retention reads it too).
CREATE INDEX sessions_activity ON agentledger.sessions (tenant_id, last_activity DESC, id DESC);
CREATE INDEX sessions_status_activity
    ON agentledger.sessions (tenant_id, status, last_activity DESC, id DESC);
CREATE INDEX sessions_participants ON agentledger.sessions USING gin (participants);

CREATE TABLE agentledger.session_chunks (
    tenant_id     text NOT NULL,
    session_id    uuid NOT NULL,
    id            uuid NOT NULL,
    seq           integer NOT NULL,
    format        text NOT NULL CONSTRAINT session_chunks_format
                  CHECK (format IN ('dialogue', 'summary', 'transcript')),
    author        text,
    extracted     jsonb NOT NULL DEFAULT '{}',
    size          bigint NOT NULL,
    segment_count integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT session_chunks_seq UNIQUE (tenant_id, session_id, seq),
    CONSTRAINT session_chunks_session_fk FOREIGN KEY (tenant_id, session_id)
        REFERENCES agentledger.sessions (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE agentledger.session_chunk_segments (
    tenant_id text NOT NULL,
    chunk_id  uuid NOT NULL,
    ord       integer NOT NULL,
    start_at  bigint NOT NULL,
    body      text NOT NULL,
    overlap   text NOT NULL DEFAULT '',
    tsv       tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, body || overlap))
              STORED,
    PRIMARY KEY (tenant_id, chunk_id, ord),
    CONSTRAINT session_chunk_segments_chunk_fk FOREIGN KEY (tenant_id, chunk_id)
        REFERENCES agentledger.session_chunks (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX session_chunk_segments_tsv ON agentledger.session_chunk_segments USING gin (tsv);

CREATE TABLE agentledger.session_artifacts (
    tenant_id     text NOT NULL,
    session_id    uuid NOT NULL,
    id            uuid NOT NULL,
    name          text NOT NULL CONSTRAINT session_artifacts_name_length
                  CHECK (length(name) BETWEEN 1 AND 300),
    version       integer NOT NULL,
    artifact_type text NOT NULL CONSTRAINT session_artifacts_type
                  CHECK (artifact_type IN ('code', 'document', 'research', 'prd', 'report')),
    format        text NOT NULL,
    metadata      jsonb NOT NULL DEFAULT '{}',
    author        text,
    size          bigint NOT NULL,
    segment_count integer NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT session_artifacts_version UNIQUE (tenant_id, session_id, name, version),
    CONSTRAINT session_artifacts_session_fk FOREIGN KEY (tenant_id, session_id)
        REFERENCES agentledger.sessions (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE agentledger.session_artifact_segments (
    tenant_id   text NOT NULL,
    artifact_id uuid NOT NULL,
    ord         integer NOT NULL,
    start_at    bigint NOT NULL,
    body        text NOT NULL,
    overlap     text NOT NULL DEFAULT '',
    tsv         tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, body || overlap))
                STORED,
    PRIMARY KEY (tenant_id, artifact_id, ord),
    CONSTRAINT session_artifact_segments_artifact_fk FOREIGN KEY (tenant_id, artifact_id)
        REFERENCES agentledger.session_artifacts (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX session_artifact_segments_tsv
    ON agentledger.session_artifact_segments USING gin (tsv);
"""

TRIGGERS = """
-- A status change must be a move of the lifecycle table, whoever runs the UPDATE.
CREATE FUNCTION agentledger.sessions_guard_status() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (SELECT 1 FROM agentledger.session_transitions t
                       WHERE t.from_status = OLD.status AND t.to_status = NEW.status) THEN
            RAISE EXCEPTION USING ERRCODE = 'ALIT0', COLUMN = 'status',
                MESSAGE = 'session ' || OLD.id || ' cannot move from ' || quote_literal(OLD.status)
                    || ' to ' || quote_literal(NEW.status);
        END IF;
        NEW.status_changed_at := now();
        NEW.last_activity := now();
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER sessions_guard_status BEFORE UPDATE OF status ON agentledger.sessions
    FOR EACH ROW EXECUTE FUNCTION agentledger.sessions_guard_status();

-- Lock the session a new chunk or artifact belongs to (serialising its writers), refuse a
-- missing or closed one, count p_chunks more chunks and note its activity; returns the
-- session's last chunk seq.
CREATE FUNCTION agentledger.session_touch(p_tenant text, p_session uuid, p_chunks integer)
    RETURNS integer
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_seq integer;
    v_status text;
BEGIN
    UPDATE agentledger.sessions s
    SET chunk_count = s.chunk_count + p_chunks, chunk_seq = s.chunk_seq + p_chunks,
        last_activity = now()
    WHERE s.tenant_id = p_tenant AND s.id = p_session
    RETURNING s.chunk_seq, s.status INTO v_seq, v_status;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'ALNF0', COLUMN = 'session_id',
            MESSAGE = 'session ' || p_session || ' does not exist';
    END IF;
    IF v_status NOT IN ('active', 'paused') THEN
        RAISE EXCEPTION USING ERRCODE = 'ALCF0', COLUMN = 'session_id',
            MESSAGE = 'session ' || p_session || ' is ' || v_status
                || ': it takes no more chunks or artifacts';
    END IF;
    RETURN v_seq;
END
$fn$;

-- A chunk's seq: the session's next, under its row lock, so concurrent writers never share one.
CREATE FUNCTION agentledger.session_chunks_assign() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    NEW.seq := agentledger.session_touch(NEW.tenant_id, NEW.session_id, 1);
    RETURN NEW;
END
$fn$;
CREATE TRIGGER session_chunks_assign BEFORE INSERT ON agentledger.session_chunks
    FOR EACH ROW EXECUTE FUNCTION agentledger.session_chunks_assign();

-- An artifact's version: one past its name's latest, read after taking the session's row
-- lock (a fresh snapshot per statement sees the version a writer before us committed).
CREATE FUNCTION agentledger.session_artifacts_assign() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM agentledger.session_touch(NEW.tenant_id, NEW.session_id, 0);
    SELECT coalesce(max(a.version), 0) + 1 INTO NEW.version FROM agentledger.session_artifacts a
    WHERE a.tenant_id = NEW.tenant_id AND a.session_id = NEW.session_id AND a.name = NEW.name;
    IF NEW.version = 1 THEN
        UPDATE agentledger.sessions s SET artifact_count = s.artifact_count + 1
        WHERE s.tenant_id = NEW.tenant_id AND s.id = NEW.session_id;
    END IF;
    RETURN NEW;
END
$fn$;
CREATE TRIGGER session_artifacts_assign BEFORE INSERT ON agentledger.session_artifacts
    FOR EACH ROW EXECUTE FUNCTION agentledger.session_artifacts_assign();

-- Deleted chunks and artifacts leave the counters (a session's own delete cascades here
-- after its row is gone, and then updates nothing).
CREATE FUNCTION agentledger.session_chunks_deleted() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE agentledger.sessions s SET chunk_count = s.chunk_count - d.n
    FROM (SELECT o.tenant_id, o.session_id, count(*)::integer AS n FROM gone o
          GROUP BY o.tenant_id, o.session_id) d
    WHERE s.tenant_id = d.tenant_id AND s.id = d.session_id;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER session_chunks_deleted AFTER DELETE ON agentledger.session_chunks
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.session_chunks_deleted();

CREATE FUNCTION agentledger.session_artifacts_deleted() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    UPDATE agentledger.sessions s SET artifact_count = (
        SELECT count(DISTINCT a.name)::integer FROM agentledger.session_artifacts a
        WHERE a.tenant_id = s.tenant_id AND a.session_id = s.id)
    FROM (SELECT DISTINCT o.tenant_id, o.session_id FROM gone o) d
    WHERE s.tenant_id = d.tenant_id AND s.id = d.session_id;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER session_artifacts_deleted AFTER DELETE ON agentledger.session_artifacts
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.session_artifacts_deleted();
"""

# One hit per chunk (its best segment), ranked; ts_headline runs on the few hits only.
SEARCH_CHUNKS = """
CREATE FUNCTION agentledger.session_search_chunks_v1(
    p_query text, p_session uuid, p_format text, p_limit integer)
    RETURNS TABLE (chunk_id uuid, session_id uuid, seq integer, format text, segment integer,
                   "offset" bigint, rank real, snippet text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH best AS (
        SELECT DISTINCT ON (g.chunk_id) g.chunk_id, g.ord, g.start_at, c.session_id, c.seq,
               c.format, ts_rank_cd(g.tsv, websearch_to_tsquery('english', p_query)) AS rank
        FROM agentledger.session_chunk_segments g
        JOIN agentledger.session_chunks c ON c.tenant_id = g.tenant_id AND c.id = g.chunk_id
        WHERE g.tsv @@ websearch_to_tsquery('english', p_query)
          AND g.tenant_id = agentledger.current_tenant()
          AND (p_session IS NULL OR c.session_id = p_session)
          AND (p_format IS NULL OR c.format = p_format)
        ORDER BY g.chunk_id, rank DESC, g.ord
    ), top AS (
        SELECT * FROM best b ORDER BY b.rank DESC, b.chunk_id LIMIT p_limit
    )
    SELECT t.chunk_id, t.session_id, t.seq, t.format, t.ord, t.start_at, t.rank,
           ts_headline('english', g.body || g.overlap, websearch_to_tsquery('english', p_query),
               'StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MinWords=8, MaxWords=30')
    FROM top t
    JOIN agentledger.session_chunk_segments g
        ON g.tenant_id = agentledger.current_tenant() AND g.chunk_id = t.chunk_id
       AND g.ord = t.ord
    ORDER BY t.rank DESC, t.chunk_id;
END
$fn$;
"""

# The same over artifact versions: each name's latest version unless p_all_versions.
SEARCH_ARTIFACTS = """
CREATE FUNCTION agentledger.session_search_artifacts_v1(
    p_query text, p_session uuid, p_type text, p_all_versions boolean, p_limit integer)
    RETURNS TABLE (artifact_id uuid, session_id uuid, name text, version integer,
                   artifact_type text, segment integer, "offset" bigint, rank real,
                   snippet text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH best AS (
        SELECT DISTINCT ON (g.artifact_id) g.artifact_id, g.ord, g.start_at, a.session_id,
               a.name, a.version, a.artifact_type,
               ts_rank_cd(g.tsv, websearch_to_tsquery('english', p_query)) AS rank
        FROM agentledger.session_artifact_segments g
        JOIN agentledger.session_artifacts a
            ON a.tenant_id = g.tenant_id AND a.id = g.artifact_id
        WHERE g.tsv @@ websearch_to_tsquery('english', p_query)
          AND g.tenant_id = agentledger.current_tenant()
          AND (p_session IS NULL OR a.session_id = p_session)
          AND (p_type IS NULL OR a.artifact_type = p_type)
          AND (p_all_versions OR NOT EXISTS (
              SELECT 1 FROM agentledger.session_artifacts n
              WHERE n.tenant_id = a.tenant_id AND n.session_id = a.session_id
                AND n.name = a.name AND n.version > a.version))
        ORDER BY g.artifact_id, rank DESC, g.ord
    ), top AS (
        SELECT * FROM best b ORDER BY b.rank DESC, b.artifact_id LIMIT p_limit
    )
    SELECT t.artifact_id, t.session_id, t.name, t.version, t.artifact_type, t.ord,
           t.start_at, t.rank,
           ts_headline('english', g.body || g.overlap, websearch_to_tsquery('english', p_query),
               'StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MinWords=8, MaxWords=30')
    FROM top t
    JOIN agentledger.session_artifact_segments g
        ON g.tenant_id = agentledger.current_tenant() AND g.artifact_id = t.artifact_id
       AND g.ord = t.ord
    ORDER BY t.rank DESC, t.artifact_id;
END
$fn$;
"""

SEARCH_FUNCTIONS = (
    "session_search_chunks_v1(text, uuid, text, integer)",
    "session_search_artifacts_v1(text, uuid, text, boolean, integer)",
)
# The tables the search functions read as their owner.
SEARCHED = (
    "session_chunks",
    "session_chunk_segments",
    "session_artifacts",
    "session_artifact_segments",
)

TENANT_TABLES = (
    "sessions",
    "session_chunks",
    "session_chunk_segments",
    "session_artifacts",
    "session_artifact_segments",
)


def upgrade() -> None:
    op.execute(TABLES)
    for table in TENANT_TABLES:
        op.execute(tenant_table(table, "SELECT, INSERT, UPDATE, DELETE"))
    op.execute(f'GRANT SELECT ON agentledger.session_transitions TO "{app_role()}"')
    op.execute(TRIGGERS)
    role = app_role()
    op.execute(SEARCH_CHUNKS)
    op.execute(SEARCH_ARTIFACTS)
    for function in SEARCH_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION agentledger.{function} FROM PUBLIC")
        op.execute(f'GRANT EXECUTE ON FUNCTION agentledger.{function} TO "{role}"')
    # A plain (non-superuser) owner is itself under the FORCEd tenant policy; these policies
    # let it, and so the search functions, read every tenant's rows (the functions filter
    # the tenant themselves). Inert for a superuser owner; never created for the app role.
    for table in SEARCHED:
        op.execute(
            "DO $do$ BEGIN IF current_user <> '"
            + role
            + "' THEN CREATE POLICY definer_search ON agentledger."
            + table
            + " FOR SELECT TO CURRENT_USER USING (true); END IF; END $do$;"
        )


def downgrade() -> None:
    op.execute(
        """
        DROP FUNCTION agentledger.session_search_chunks_v1(text, uuid, text, integer),
            agentledger.session_search_artifacts_v1(text, uuid, text, boolean, integer);
        DROP TABLE agentledger.session_artifact_segments, agentledger.session_artifacts,
            agentledger.session_chunk_segments, agentledger.session_chunks;
        DROP FUNCTION agentledger.session_chunks_assign(), agentledger.session_artifacts_assign(),
            agentledger.session_chunks_deleted(), agentledger.session_artifacts_deleted(),
            agentledger.session_touch(text, uuid, integer);
        DROP TABLE agentledger.sessions, agentledger.session_transitions;
        DROP FUNCTION agentledger.sessions_guard_status();
        """
    )
