-- name: create_session
-- Start a session with the client-side id (a repeated id returns nothing).
INSERT INTO agentledger.sessions
    (tenant_id, id, title, participants, summary, metadata, text_config)
VALUES (agentledger.current_tenant(), %(id)s, %(title)s, %(participants)s::text[],
        %(summary)s, %(metadata)s::jsonb, %(language)s::text)
ON CONFLICT (tenant_id, id) DO NOTHING
RETURNING *

-- name: get_session
-- One session by id.
SELECT * FROM agentledger.sessions
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s

-- name: list_sessions
-- Sessions by latest activity, newest first, after a (last_activity, id) keyset cursor,
-- optionally of one status, with one participant, active within a range.
SELECT * FROM agentledger.sessions
WHERE tenant_id = agentledger.current_tenant()
  AND (%(status)s::text IS NULL OR status = %(status)s::text)
  AND (%(participant)s::text IS NULL OR participants @> ARRAY[%(participant)s::text])
  AND (%(active_since)s::timestamptz IS NULL OR last_activity >= %(active_since)s::timestamptz)
  AND (%(active_until)s::timestamptz IS NULL OR last_activity < %(active_until)s::timestamptz)
  AND (%(before_at)s::timestamptz IS NULL
       OR (last_activity, id) < (%(before_at)s::timestamptz, %(before_id)s::uuid))
ORDER BY last_activity DESC, id DESC
LIMIT %(limit)s

-- name: update_session
-- Change a session's title, participants, summary or metadata (NULL keeps the stored value).
UPDATE agentledger.sessions s
SET title = coalesce(%(title)s, s.title),
    participants = coalesce(%(participants)s::text[], s.participants),
    summary = coalesce(%(summary)s, s.summary),
    metadata = coalesce(%(metadata)s::jsonb, s.metadata),
    last_activity = now()
WHERE s.tenant_id = agentledger.current_tenant() AND s.id = %(id)s
RETURNING s.*

-- name: set_session_language
-- Choose a session's text-search configuration (NULL: the tenant's).
UPDATE agentledger.sessions SET text_config = %(config)s::text
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s
RETURNING *

-- name: session_language
-- A session's text-search configuration (its own, else the tenant's; NULL: english) and
-- how many of its segments are indexed in another.
WITH s AS (
    SELECT s.id, coalesce(s.text_config,
                          (SELECT m.text_config FROM agentledger.memory_settings m
                           WHERE m.tenant_id = s.tenant_id), 'english') AS config
    FROM agentledger.sessions s
    WHERE s.tenant_id = agentledger.current_tenant() AND s.id = %(id)s
)
SELECT s.config AS language,
       (SELECT count(*) FROM agentledger.session_chunks c
        JOIN agentledger.session_chunk_segments g
            ON g.tenant_id = c.tenant_id AND g.chunk_id = c.id
        WHERE c.tenant_id = agentledger.current_tenant() AND c.session_id = s.id
          AND g.text_config <> s.config)
     + (SELECT count(*) FROM agentledger.session_artifacts a
        JOIN agentledger.session_artifact_segments g
            ON g.tenant_id = a.tenant_id AND g.artifact_id = a.id
        WHERE a.tenant_id = agentledger.current_tenant() AND a.session_id = s.id
          AND g.text_config <> s.config) AS pending
FROM s

-- name: transition_session
-- Move a session to the action's target from one of its source states.
UPDATE agentledger.sessions SET status = %(target)s::text
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s AND status = ANY(%(sources)s)
RETURNING *

-- name: delete_session
-- Delete a session with its chunks and artifacts (the foreign keys cascade).
DELETE FROM agentledger.sessions
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s
RETURNING created_at

-- name: delete_session_tasks
-- The tasks naming a session, finished and archived ones included (on request, with it).
WITH live AS (
    DELETE FROM agentledger.tasks t
    WHERE t.tenant_id = agentledger.current_tenant() AND t.session_id = %(session_id)s
    RETURNING 1
), archived AS (
    DELETE FROM agentledger.task_archive a
    WHERE a.tenant_id = agentledger.current_tenant() AND a.session_id = %(session_id)s
    RETURNING 1
)
SELECT (SELECT count(*) FROM live) + (SELECT count(*) FROM archived) AS deleted

-- name: lock_session_for_delete
-- Take the session row for its delete before anything else (its own statement): memory
-- writers, whose foreign-key check and count trigger both need it, queue behind the delete
-- rather than deadlock with it, and then find no session.
SELECT 1 FROM agentledger.sessions
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s
FOR UPDATE

-- name: delete_session_memories
-- The memory entities of a session (on request, before it; their relationships go too).
DELETE FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant() AND e.session_id = %(session_id)s

-- name: session_memories
-- A session's latest memories, newest change first (read on the session index).
SELECT e.id, e.kind, e.name, e.summary, e.attrs, e.tags, e.status,
       coalesce(e.relevance, 0.5)::float8 AS relevance, nullif(e.user_id, '') AS user_id,
       e.shared, e.source, e.key, e.update_count, e.access_count, e.last_accessed_at,
       e.created_at, e.updated_at, e.session_id
FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant() AND e.session_id = %(session_id)s
ORDER BY e.updated_at DESC, e.id DESC
LIMIT %(limit)s

-- name: purge_sessions
-- One batch of retention: completed or archived sessions idle since before the cutoff,
-- oldest first; rows another transaction holds are left for the next pass.
DELETE FROM agentledger.sessions s
WHERE s.tenant_id = agentledger.current_tenant() AND (s.tenant_id, s.id) IN (
    SELECT o.tenant_id, o.id FROM agentledger.sessions o
    WHERE o.tenant_id = agentledger.current_tenant()
      AND o.status IN ('completed', 'archived') AND o.last_activity < %(cutoff)s
    ORDER BY o.last_activity
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED)

-- name: session_transitions
-- The lifecycle as the database enforces it (for the test that it matches the code's).
SELECT from_status, action, to_status FROM agentledger.session_transitions
ORDER BY from_status, action

-- fragment: segment_rows
-- The segments a write sends (s), as three arrays side by side, numbered from 1.
unnest(%(bodies)s::text[], %(overlaps)s::text[], %(starts)s::bigint[])
    WITH ORDINALITY AS s(body, overlap, start_at, ord)

-- fragment: more_segments
-- The rows of more of a new chunk's or artifact's segments (of id), numbered from first_ord.
SELECT agentledger.current_tenant(), %(id)s, %(first_ord)s + s.ord::integer - 1, s.start_at,
       s.body, s.overlap
FROM
    -- include: segment_rows

-- name: lock_for_insert
-- Wait for the session's other writers, taking the lock its insert triggers take. The id
-- check of the insert that follows (its own statement, so its own snapshot) then sees a
-- racing retry's committed row: the retry returns it, rather than breaking the key.
SELECT 1 FROM agentledger.sessions
WHERE tenant_id = agentledger.current_tenant() AND id = %(session_id)s
FOR NO KEY UPDATE

-- name: add_chunk
-- Add a chunk and its segments (a repeated id returns nothing); the insert trigger locks
-- the session, assigns seq and counts the chunk.
WITH c AS (
    INSERT INTO agentledger.session_chunks AS c
        (tenant_id, session_id, id, seq, format, author, extracted, size, segment_count)
    SELECT agentledger.current_tenant(), %(session_id)s, %(id)s, 0, %(format)s, %(author)s,
           %(extracted)s::jsonb, %(size)s, %(segment_count)s
    WHERE NOT EXISTS (
        SELECT 1 FROM agentledger.session_chunks x
        WHERE x.tenant_id = agentledger.current_tenant() AND x.id = %(id)s)
    RETURNING c.*
), g AS (
    INSERT INTO agentledger.session_chunk_segments
        (tenant_id, chunk_id, ord, start_at, body, overlap)
    SELECT c.tenant_id, c.id, s.ord::integer - 1, s.start_at, s.body, s.overlap
    FROM c,
        -- include: segment_rows
)
SELECT * FROM c

-- name: add_chunk_segments
-- More of a new chunk's segments, numbered from first_ord.
INSERT INTO agentledger.session_chunk_segments (tenant_id, chunk_id, ord, start_at, body, overlap)
-- include: more_segments

-- name: get_chunk
-- One chunk's description by id.
SELECT * FROM agentledger.session_chunks
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s

-- name: list_chunks
-- A session's chunks in seq order after a seq, optionally of one format.
SELECT * FROM agentledger.session_chunks
WHERE tenant_id = agentledger.current_tenant() AND session_id = %(session_id)s
  AND seq > %(after)s AND (%(format)s::text IS NULL OR format = %(format)s::text)
ORDER BY seq
LIMIT %(limit)s

-- name: recent_chunks
-- A session's latest chunks, newest first.
SELECT * FROM agentledger.session_chunks
WHERE tenant_id = agentledger.current_tenant() AND session_id = %(session_id)s
ORDER BY seq DESC
LIMIT %(limit)s

-- name: chunk_segments
-- A run of a chunk's segment texts in order, from segment ord onwards.
SELECT body FROM agentledger.session_chunk_segments
WHERE tenant_id = agentledger.current_tenant() AND chunk_id = %(id)s AND ord >= %(ord)s
ORDER BY ord
LIMIT %(limit)s

-- name: search_chunks
-- Chunks matching a web-style query, best first, one hit per chunk at its best segment
-- with a highlighted snippet (a definer function, so the GIN index serves it under RLS).
SELECT * FROM agentledger.session_search_chunks_v3(
    %(query)s, %(session_id)s::uuid, %(format)s::text, %(limit)s)

-- name: save_artifact
-- Save a version of a named artifact and its segments (a repeated id returns nothing); the
-- insert trigger locks the session and assigns the version.
WITH a AS (
    INSERT INTO agentledger.session_artifacts AS a
        (tenant_id, session_id, id, name, version, artifact_type, format, metadata, author,
         size, segment_count)
    SELECT agentledger.current_tenant(), %(session_id)s, %(id)s, %(name)s, 0,
           %(artifact_type)s, %(format)s, %(metadata)s::jsonb, %(author)s, %(size)s,
           %(segment_count)s
    WHERE NOT EXISTS (
        SELECT 1 FROM agentledger.session_artifacts x
        WHERE x.tenant_id = agentledger.current_tenant() AND x.id = %(id)s)
    RETURNING a.*
), g AS (
    INSERT INTO agentledger.session_artifact_segments
        (tenant_id, artifact_id, ord, start_at, body, overlap)
    SELECT a.tenant_id, a.id, s.ord::integer - 1, s.start_at, s.body, s.overlap
    FROM a,
        -- include: segment_rows
)
SELECT * FROM a

-- name: add_artifact_segments
-- More of a new artifact version's segments, numbered from first_ord.
INSERT INTO agentledger.session_artifact_segments
    (tenant_id, artifact_id, ord, start_at, body, overlap)
-- include: more_segments

-- name: get_artifact
-- One artifact version's description by its id.
SELECT * FROM agentledger.session_artifacts
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s

-- name: find_artifact
-- A named artifact of a session: the given version, or the latest.
SELECT * FROM agentledger.session_artifacts
WHERE tenant_id = agentledger.current_tenant() AND session_id = %(session_id)s
  AND name = %(name)s AND (%(version)s::integer IS NULL OR version = %(version)s::integer)
ORDER BY version DESC
LIMIT 1

-- name: artifact_versions
-- Every version of a named artifact, newest first.
SELECT * FROM agentledger.session_artifacts
WHERE tenant_id = agentledger.current_tenant() AND session_id = %(session_id)s
  AND name = %(name)s
ORDER BY version DESC

-- name: latest_artifacts
-- The latest version of each of a session's artifacts, by name.
SELECT DISTINCT ON (name) * FROM agentledger.session_artifacts
WHERE tenant_id = agentledger.current_tenant() AND session_id = %(session_id)s
ORDER BY name, version DESC

-- name: artifact_segments
-- A run of an artifact version's segment texts in order, from segment ord onwards.
SELECT body FROM agentledger.session_artifact_segments
WHERE tenant_id = agentledger.current_tenant() AND artifact_id = %(id)s AND ord >= %(ord)s
ORDER BY ord
LIMIT %(limit)s

-- name: search_artifacts
-- Artifact versions matching a web-style query, best first (each name's latest version
-- unless all_versions), with a highlighted snippet of the best segment.
SELECT * FROM agentledger.session_search_artifacts_v3(
    %(query)s, %(session_id)s::uuid, %(artifact_type)s::text, %(all_versions)s::boolean,
    %(limit)s)

-- name: reindex_chunk_segments
-- Re-index one batch of the tenant's chunk segments (of one session, or of any) indexed in
-- another text-search configuration than their own (their session's, else the tenant's;
-- the insert-and-update trigger rebuilds the tsvector), skipping rows others hold.
WITH cfg AS (
    SELECT coalesce((SELECT m.text_config FROM agentledger.memory_settings m
                     WHERE m.tenant_id = agentledger.current_tenant()), 'english') AS config
), todo AS (
    SELECT g.tenant_id, g.chunk_id, g.ord, coalesce(s.text_config, cfg.config) AS config
    FROM agentledger.session_chunks c
    JOIN agentledger.sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id
    JOIN agentledger.session_chunk_segments g ON g.tenant_id = c.tenant_id AND g.chunk_id = c.id
    CROSS JOIN cfg
    WHERE c.tenant_id = agentledger.current_tenant()
      AND (%(session)s::uuid IS NULL OR c.session_id = %(session)s::uuid)
      AND g.text_config <> coalesce(s.text_config, cfg.config)
    LIMIT %(batch)s
    FOR UPDATE OF g SKIP LOCKED
)
UPDATE agentledger.session_chunk_segments AS g SET text_config = t.config
FROM todo t
WHERE g.tenant_id = t.tenant_id AND g.chunk_id = t.chunk_id AND g.ord = t.ord

-- name: reindex_artifact_segments
-- The same for the tenant's artifact segments.
WITH cfg AS (
    SELECT coalesce((SELECT m.text_config FROM agentledger.memory_settings m
                     WHERE m.tenant_id = agentledger.current_tenant()), 'english') AS config
), todo AS (
    SELECT g.tenant_id, g.artifact_id, g.ord, coalesce(s.text_config, cfg.config) AS config
    FROM agentledger.session_artifacts a
    JOIN agentledger.sessions s ON s.tenant_id = a.tenant_id AND s.id = a.session_id
    JOIN agentledger.session_artifact_segments g
        ON g.tenant_id = a.tenant_id AND g.artifact_id = a.id
    CROSS JOIN cfg
    WHERE a.tenant_id = agentledger.current_tenant()
      AND (%(session)s::uuid IS NULL OR a.session_id = %(session)s::uuid)
      AND g.text_config <> coalesce(s.text_config, cfg.config)
    LIMIT %(batch)s
    FOR UPDATE OF g SKIP LOCKED
)
UPDATE agentledger.session_artifact_segments AS g SET text_config = t.config
FROM todo t
WHERE g.tenant_id = t.tenant_id AND g.artifact_id = t.artifact_id AND g.ord = t.ord
