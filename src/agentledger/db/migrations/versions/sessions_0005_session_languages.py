"""A text-search configuration per session, and session search in every one in use.

**Per session.** ``sessions.text_config`` is the session's own configuration (NULL: the
tenant's, ``memory_settings``, memory_0013). The segment trigger (sessions_0004's, replaced
in place) gives a new segment of a chunk or an artifact its session's configuration, else
the tenant's, else ``english``; re-indexing after a change is an UPDATE of the segments'
``text_config``, as before. A partial index lists the configurations sessions chose.

**Queries.** ``session_text_configs_v1`` gives the configurations a search may meet: in one
session, its own (else the tenant's); across the tenant, the tenant's and every
configuration a session chose (read off the partial index, one probe per distinct
configuration). The searches are created anew (``session_search_chunks_v3``,
``session_search_artifacts_v3``): the query is ORed over those configurations
(``memory_tsquery_v1``, memory_0015), so the GIN index finds a segment by a word of its
own language, and each snippet is highlighted in its segment's configuration; the bounded
candidate set of sessions_0004 is kept as it was. The _v2 functions stay for callers of
the previous release.

Revision ID: sessions_0005
Revises: memory_0015
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "sessions_0005"
down_revision = "memory_0015"
branch_labels = None
depends_on = None

SCHEMA = """
ALTER TABLE agentledger.sessions
    ADD COLUMN text_config text
    CONSTRAINT sessions_text_config CHECK (length(text_config) BETWEEN 1 AND 200);
-- The configurations sessions chose, for the searches across the tenant.
CREATE INDEX sessions_text_config ON agentledger.sessions (tenant_id, text_config)
    WHERE text_config IS NOT NULL;
"""

DOWN_SCHEMA = """
DROP INDEX agentledger.sessions_text_config;
ALTER TABLE agentledger.sessions DROP COLUMN text_config;
"""

INDEXING = """
-- A segment's tsvector, in its text_config; a new segment takes its session's
-- configuration, else the tenant's (memory_settings), else english; an update keeps the
-- one it names.
CREATE OR REPLACE FUNCTION agentledger.session_segment_tsv() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_config text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- (The chunk or artifact may have been inserted by the same statement: this
        -- function is volatile, so its queries see it.)
        IF TG_TABLE_NAME = 'session_chunk_segments' THEN
            SELECT s.text_config INTO v_config
            FROM agentledger.session_chunks c
            JOIN agentledger.sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id
            WHERE c.tenant_id = NEW.tenant_id AND c.id = NEW.chunk_id;
        ELSE
            SELECT s.text_config INTO v_config
            FROM agentledger.session_artifacts a
            JOIN agentledger.sessions s ON s.tenant_id = a.tenant_id AND s.id = a.session_id
            WHERE a.tenant_id = NEW.tenant_id AND a.id = NEW.artifact_id;
        END IF;
        NEW.text_config := coalesce(v_config,
            (SELECT m.text_config FROM agentledger.memory_settings m
             WHERE m.tenant_id = NEW.tenant_id), 'english');
    END IF;
    NEW.tsv := to_tsvector(NEW.text_config::regconfig, NEW.body || NEW.overlap);
    RETURN NEW;
END
$fn$;
"""

# sessions_0004's body, which the downgrade puts back.
PREVIOUS_INDEXING = """
CREATE OR REPLACE FUNCTION agentledger.session_segment_tsv() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.text_config := coalesce((SELECT s.text_config FROM agentledger.memory_settings s
                                     WHERE s.tenant_id = NEW.tenant_id), 'english');
    END IF;
    NEW.tsv := to_tsvector(NEW.text_config::regconfig, NEW.body || NEW.overlap);
    RETURN NEW;
END
$fn$;
"""

CONFIGS = """
CREATE FUNCTION agentledger.session_text_configs_v1(p_session uuid)
    RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    -- Its callers turn plain index scans off for their own queries; these probes want them.
    SET enable_indexscan = on
AS $fn$
    WITH RECURSIVE tenant AS (
        SELECT coalesce((SELECT m.text_config FROM agentledger.memory_settings m
                         WHERE m.tenant_id = agentledger.current_tenant()), 'english') AS config
    ), chosen(config) AS (
        -- The distinct configurations sessions chose, one index probe each.
        (SELECT s.text_config FROM agentledger.sessions s
         WHERE p_session IS NULL AND s.tenant_id = agentledger.current_tenant()
           AND s.text_config IS NOT NULL
         ORDER BY s.text_config LIMIT 1)
        UNION ALL
        SELECT (SELECT s.text_config FROM agentledger.sessions s
                WHERE s.tenant_id = agentledger.current_tenant() AND s.text_config > c.config
                ORDER BY s.text_config LIMIT 1)
        FROM chosen c
        WHERE c.config IS NOT NULL
    )
    SELECT CASE WHEN p_session IS NULL THEN
        ARRAY(SELECT t.config FROM tenant t
              UNION SELECT c.config FROM chosen c WHERE c.config IS NOT NULL
              ORDER BY 1)
    ELSE
        ARRAY[coalesce((SELECT s.text_config FROM agentledger.sessions s
                        WHERE s.tenant_id = agentledger.current_tenant() AND s.id = p_session),
                       (SELECT t.config FROM tenant t))]
    END
$fn$;
"""

# One hit per chunk (its best segment among the candidates), ranked; ts_headline runs on
# the returned page only.
SEARCH_CHUNKS = """
CREATE FUNCTION agentledger.session_search_chunks_v3(
    p_query text, p_session uuid, p_format text, p_limit integer)
    RETURNS TABLE (chunk_id uuid, session_id uuid, seq integer, format text, segment integer,
                   "offset" bigint, rank real, snippet text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
    SET enable_indexscan = off
    SET enable_seqscan = off
AS $fn$
#variable_conflict use_column
DECLARE
    -- The query in the session's configuration, or across the tenant in every one in use.
    v_tsquery tsquery := agentledger.memory_tsquery_v1(
        agentledger.session_text_configs_v1(p_session), p_query);
    -- The query with its phrases loosened to "every word" (a negated one left as it is):
    -- GIN answers it without reading the rows, so a phrase is checked, and the matches
    -- ranked, on at most v_examined segments holding its words: a bounded sample of the
    -- matches of common words.
    v_words tsquery := CASE WHEN strpos(v_tsquery::text, '!') = 0
        THEN regexp_replace(v_tsquery::text, '<(-|[0-9]+)>', '&', 'g')::tsquery
        ELSE v_tsquery END;
    v_examined integer := greatest(3000, p_limit * 20);
BEGIN
    RETURN QUERY
    WITH found AS (
        SELECT p.chunk_id, p.ord, p.start_at, ts_rank_cd(p.tsv, v_tsquery) AS rank
        FROM (
            SELECT g.chunk_id, g.ord, g.start_at, g.tsv
            FROM agentledger.session_chunk_segments g
            WHERE p_session IS NULL AND p_format IS NULL
              AND g.tsv @@ v_words
              AND g.tenant_id = agentledger.current_tenant()
            UNION ALL
            SELECT g.chunk_id, g.ord, g.start_at, g.tsv
            FROM agentledger.session_chunks c
            JOIN agentledger.session_chunk_segments g
                ON g.tenant_id = c.tenant_id AND g.chunk_id = c.id
            WHERE NOT (p_session IS NULL AND p_format IS NULL)
              AND g.tsv @@ v_words
              AND c.tenant_id = agentledger.current_tenant()
              AND (p_session IS NULL OR c.session_id = p_session)
              AND (p_format IS NULL OR c.format = p_format)
            LIMIT v_examined
        ) p
        WHERE v_words = v_tsquery OR p.tsv @@ v_tsquery
    ), best AS (
        SELECT DISTINCT ON (f.chunk_id) f.*
        FROM found f
        ORDER BY f.chunk_id, f.rank DESC, f.ord
    ), top AS (
        SELECT * FROM best b ORDER BY b.rank DESC, b.chunk_id LIMIT p_limit
    )
    -- Each snippet highlighted in the configuration its segment is indexed in.
    SELECT t.chunk_id, c.session_id, c.seq, c.format, t.ord, t.start_at, t.rank,
           ts_headline(g.text_config::regconfig, g.body || g.overlap, v_tsquery,
               'StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MinWords=8, MaxWords=30')
    FROM top t
    JOIN agentledger.session_chunks c
        ON c.tenant_id = agentledger.current_tenant() AND c.id = t.chunk_id
    JOIN agentledger.session_chunk_segments g
        ON g.tenant_id = agentledger.current_tenant() AND g.chunk_id = t.chunk_id
       AND g.ord = t.ord
    ORDER BY t.rank DESC, t.chunk_id;
END
$fn$;
"""

# The same over artifact versions: each name's latest version unless p_all_versions.
SEARCH_ARTIFACTS = """
CREATE FUNCTION agentledger.session_search_artifacts_v3(
    p_query text, p_session uuid, p_type text, p_all_versions boolean, p_limit integer)
    RETURNS TABLE (artifact_id uuid, session_id uuid, name text, version integer,
                   artifact_type text, segment integer, "offset" bigint, rank real,
                   snippet text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_custom_plan
    SET enable_indexscan = off
    SET enable_seqscan = off
AS $fn$
#variable_conflict use_column
DECLARE
    -- The query in the session's configuration, or across the tenant in every one in use.
    v_tsquery tsquery := agentledger.memory_tsquery_v1(
        agentledger.session_text_configs_v1(p_session), p_query);
    -- The query with its phrases loosened to "every word" (a negated one left as it is):
    -- GIN answers it without reading the rows, so a phrase is checked, and the matches
    -- ranked, on at most v_examined segments holding its words: a bounded sample of the
    -- matches of common words.
    v_words tsquery := CASE WHEN strpos(v_tsquery::text, '!') = 0
        THEN regexp_replace(v_tsquery::text, '<(-|[0-9]+)>', '&', 'g')::tsquery
        ELSE v_tsquery END;
    v_examined integer := greatest(3000, p_limit * 20);
BEGIN
    RETURN QUERY
    WITH found AS (
        SELECT p.artifact_id, p.ord, p.start_at, p.session_id, p.name, p.version,
               p.artifact_type, ts_rank_cd(p.tsv, v_tsquery) AS rank
        FROM (
            SELECT g.artifact_id, g.ord, g.start_at, g.tsv, a.session_id, a.name, a.version,
                   a.artifact_type
            FROM agentledger.session_artifact_segments g
            JOIN agentledger.session_artifacts a
                ON a.tenant_id = g.tenant_id AND a.id = g.artifact_id
            WHERE g.tsv @@ v_words
              AND g.tenant_id = agentledger.current_tenant()
              AND (p_session IS NULL OR a.session_id = p_session)
              AND (p_type IS NULL OR a.artifact_type = p_type)
              AND (p_all_versions OR NOT EXISTS (
                  SELECT 1 FROM agentledger.session_artifacts n
                  WHERE n.tenant_id = a.tenant_id AND n.session_id = a.session_id
                    AND n.name = a.name AND n.version > a.version))
            LIMIT v_examined
        ) p
        WHERE v_words = v_tsquery OR p.tsv @@ v_tsquery
    ), best AS (
        SELECT DISTINCT ON (f.artifact_id) f.*
        FROM found f
        ORDER BY f.artifact_id, f.rank DESC, f.ord
    ), top AS (
        SELECT * FROM best b ORDER BY b.rank DESC, b.artifact_id LIMIT p_limit
    )
    -- Each snippet highlighted in the configuration its segment is indexed in.
    SELECT t.artifact_id, t.session_id, t.name, t.version, t.artifact_type, t.ord,
           t.start_at, t.rank,
           ts_headline(g.text_config::regconfig, g.body || g.overlap, v_tsquery,
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
    "session_search_chunks_v3(text, uuid, text, integer)",
    "session_search_artifacts_v3(text, uuid, text, boolean, integer)",
)


def upgrade() -> None:
    role = app_role()
    op.execute(SCHEMA)
    op.execute(INDEXING)
    op.execute(CONFIGS)
    # A building block of the searches, for their owner only.
    op.execute("REVOKE ALL ON FUNCTION agentledger.session_text_configs_v1(uuid) FROM PUBLIC")
    op.execute(SEARCH_CHUNKS)
    op.execute(SEARCH_ARTIFACTS)
    for function in SEARCH_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION agentledger.{function} FROM PUBLIC")
        op.execute(f'GRANT EXECUTE ON FUNCTION agentledger.{function} TO "{role}"')


def downgrade() -> None:
    op.execute(
        """
        DROP FUNCTION agentledger.session_search_chunks_v3(text, uuid, text, integer),
            agentledger.session_search_artifacts_v3(text, uuid, text, boolean, integer),
            agentledger.session_text_configs_v1(uuid);
        """
    )
    op.execute(PREVIOUS_INDEXING)
    op.execute(DOWN_SCHEMA)
