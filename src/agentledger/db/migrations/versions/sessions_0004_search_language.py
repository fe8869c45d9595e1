"""Sessions search: a bounded candidate set, and the tenant's text-search language.

**Bounded search.** sessions_0001's searches ranked every matching segment before the
LIMIT: a query of common words matches nearly every segment of the tenant, so its time grew
with the data (ts_rank_cd reads each segment's tsvector). The searches the library calls
are created anew (``session_search_chunks_v2``, ``session_search_artifacts_v2``): the GIN
index finds the matching segments, of which at most ``greatest(1000, 10 x limit)`` are taken
in the order the scan yields them (no sort: the scan stops there) and only those ranked;
ts_headline runs on the returned page only. A query matching fewer segments than that
(a rare word, a phrase, a session, a format) is ranked exactly as before; a query matching
more gets the best of a bounded sample of its matches, in constant time. The _v1 functions
stay for callers of the previous release.

**Language.** The segments of chunks and artifacts are indexed in the tenant's
text-search configuration (``memory_settings.text_config``, memory_0013; ``english``
unless the tenant chose another), and the searches read it for the query and the
highlights. Each segment names its configuration in ``text_config`` (``english`` for every
existing row). ``tsv`` is no longer a generated column: its expression is dropped (no
rewrite; the stored vectors stay) and a BEFORE INSERT OR UPDATE trigger computes it from
``text_config``, which on insert it sets to the tenant's configuration. Re-indexing after a
language change is an UPDATE of ``text_config`` (sessions' ``reindex``, in batches).

Revision ID: sessions_0004
Revises: memory_0013
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "sessions_0004"
down_revision = "memory_0013"
branch_labels = None
depends_on = None

SEGMENTS = (
    ("session_chunk_segments", "session_chunk_segments_tsv"),
    ("session_artifact_segments", "session_artifact_segments_tsv"),
)

INDEXING = """
-- A segment's tsvector, in its text_config; a new segment takes the tenant's configuration
-- (memory_settings, english when unset), an update keeps the one it names.
CREATE FUNCTION agentledger.session_segment_tsv() RETURNS trigger
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

# One hit per chunk (its best segment among the candidates), ranked; ts_headline runs on
# the returned page only.
SEARCH_CHUNKS = """
CREATE FUNCTION agentledger.session_search_chunks_v2(
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
    -- The tenant's text-search configuration (memory_settings; english when unset).
    v_config regconfig := coalesce((
        SELECT s.text_config FROM agentledger.memory_settings s
        WHERE s.tenant_id = agentledger.current_tenant()), 'english')::regconfig;
    v_tsquery tsquery := websearch_to_tsquery(v_config, p_query);
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
    SELECT t.chunk_id, c.session_id, c.seq, c.format, t.ord, t.start_at, t.rank,
           ts_headline(v_config, g.body || g.overlap, v_tsquery,
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
CREATE FUNCTION agentledger.session_search_artifacts_v2(
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
    -- The tenant's text-search configuration (memory_settings; english when unset).
    v_config regconfig := coalesce((
        SELECT s.text_config FROM agentledger.memory_settings s
        WHERE s.tenant_id = agentledger.current_tenant()), 'english')::regconfig;
    v_tsquery tsquery := websearch_to_tsquery(v_config, p_query);
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
    SELECT t.artifact_id, t.session_id, t.name, t.version, t.artifact_type, t.ord,
           t.start_at, t.rank,
           ts_headline(v_config, g.body || g.overlap, v_tsquery,
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
    "session_search_chunks_v2(text, uuid, text, integer)",
    "session_search_artifacts_v2(text, uuid, text, boolean, integer)",
)


def upgrade() -> None:
    role = app_role()
    op.execute(INDEXING)
    # Only the validated app role is interpolated.
    op.execute(f"""
    REVOKE ALL ON FUNCTION agentledger.session_segment_tsv() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.session_segment_tsv() TO "{role}";
    """)
    for table, _ in SEGMENTS:
        op.execute(f"""
    ALTER TABLE agentledger.{table} ALTER COLUMN tsv DROP EXPRESSION;
    ALTER TABLE agentledger.{table}
        ADD COLUMN text_config text NOT NULL DEFAULT 'english'
        CONSTRAINT {table}_text_config CHECK (length(text_config) BETWEEN 1 AND 200);
    CREATE TRIGGER {table}_tsv BEFORE INSERT OR UPDATE ON agentledger.{table}
        FOR EACH ROW EXECUTE FUNCTION agentledger.session_segment_tsv();
    """)
    op.execute(SEARCH_CHUNKS)
    op.execute(SEARCH_ARTIFACTS)
    for function in SEARCH_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION agentledger.{function} FROM PUBLIC")
        op.execute(f'GRANT EXECUTE ON FUNCTION agentledger.{function} TO "{role}"')


def downgrade() -> None:
    op.execute(
        """
        DROP FUNCTION agentledger.session_search_chunks_v2(text, uuid, text, integer),
            agentledger.session_search_artifacts_v2(text, uuid, text, boolean, integer);
        """
    )
    # The generated column again (rewrites the tables; segments in another language are
    # indexed in english again).
    for table, index in SEGMENTS:
        op.execute(f"""
    DROP TRIGGER {table}_tsv ON agentledger.{table};
    ALTER TABLE agentledger.{table} DROP COLUMN text_config;
    ALTER TABLE agentledger.{table} DROP COLUMN tsv;
    ALTER TABLE agentledger.{table} ADD COLUMN tsv tsvector
        GENERATED ALWAYS AS (to_tsvector('english'::regconfig, body || overlap)) STORED;
    CREATE INDEX {index} ON agentledger.{table} USING gin (tsv);
    """)
    op.execute("DROP FUNCTION agentledger.session_segment_tsv();")
