-- name: put_checkpoint
-- Store a checkpoint (replacing one with the same id) and the channel values it wrote; a
-- value already stored under its (channel, version) stays.
WITH blobs AS (
    INSERT INTO agentledger.checkpoint_blobs AS b
        (tenant_id, thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT agentledger.current_tenant(), %(thread_id)s, %(checkpoint_ns)s, u.channel, u.version,
           u.type, u.blob
    FROM unnest(%(channels)s::text[], %(versions)s::text[], %(types)s::text[],
                %(blobs)s::bytea[]) AS u(channel, version, type, blob)
    ON CONFLICT (tenant_id, thread_id, checkpoint_ns, channel, version) DO NOTHING
)
INSERT INTO agentledger.checkpoints AS c
    (tenant_id, thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, type,
     checkpoint, channel_versions, metadata)
VALUES (agentledger.current_tenant(), %(thread_id)s, %(checkpoint_ns)s, %(checkpoint_id)s,
        %(parent_id)s, %(run_id)s, %(type)s, %(checkpoint)s, %(channel_versions)s,
        %(metadata)s)
ON CONFLICT (tenant_id, thread_id, checkpoint_ns, checkpoint_id) DO UPDATE SET
    parent_checkpoint_id = EXCLUDED.parent_checkpoint_id,
    run_id = EXCLUDED.run_id,
    type = EXCLUDED.type,
    checkpoint = EXCLUDED.checkpoint,
    channel_versions = EXCLUDED.channel_versions,
    metadata = EXCLUDED.metadata

-- name: put_writes
-- Store a task's writes to a checkpoint by (task, index): a write stored before is kept, or
-- replaced when ``replace`` (the special channels, whose index is fixed).
INSERT INTO agentledger.checkpoint_writes AS w
    (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel,
     type, blob)
SELECT agentledger.current_tenant(), %(thread_id)s, %(checkpoint_ns)s, %(checkpoint_id)s,
       %(task_id)s, %(task_path)s, u.idx, u.channel, u.type, u.blob
FROM unnest(%(idxs)s::integer[], %(channels)s::text[], %(types)s::text[],
            %(blobs)s::bytea[]) AS u(idx, channel, type, blob)
ON CONFLICT (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO UPDATE SET
    task_path = EXCLUDED.task_path,
    channel = EXCLUDED.channel,
    type = EXCLUDED.type,
    blob = EXCLUDED.blob
WHERE %(replace)s

-- fragment: checkpoint_rows
-- A checkpoint as the reads return it: with the channel values it reads and its pending
-- writes (text travels as UTF-8 bytea beside the blobs, in arrays).
SELECT c.thread_id, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id, c.type,
       c.checkpoint, c.metadata, c.created_at,
       (SELECT array_agg(ARRAY[convert_to(b.channel, 'UTF8'), convert_to(b.version, 'UTF8'),
                               convert_to(b.type, 'UTF8'), b.blob])
        FROM jsonb_each_text(c.channel_versions) v
        JOIN agentledger.checkpoint_blobs b
          ON b.tenant_id = c.tenant_id AND b.thread_id = c.thread_id
         AND b.checkpoint_ns = c.checkpoint_ns AND b.channel = v.key AND b.version = v.value
       ) AS blobs,
       (SELECT array_agg(ARRAY[convert_to(w.task_id, 'UTF8'), convert_to(w.task_path, 'UTF8'),
                               convert_to(w.idx::text, 'UTF8'), convert_to(w.channel, 'UTF8'),
                               convert_to(w.type, 'UTF8'), w.blob]
                         ORDER BY w.task_path, w.task_id, w.idx)
        FROM agentledger.checkpoint_writes w
        WHERE w.tenant_id = c.tenant_id AND w.thread_id = c.thread_id
          AND w.checkpoint_ns = c.checkpoint_ns AND w.checkpoint_id = c.checkpoint_id
       ) AS writes
FROM agentledger.checkpoints c

-- name: get_latest
-- A thread's newest checkpoint in one namespace, with the channel values it reads and its
-- pending writes.
-- include: checkpoint_rows
WHERE c.tenant_id = agentledger.current_tenant() AND c.thread_id = %(thread_id)s
  AND c.checkpoint_ns = %(checkpoint_ns)s
ORDER BY c.checkpoint_id DESC
LIMIT 1

-- name: get_checkpoint
-- One checkpoint by id, with the channel values it reads and its pending writes.
-- include: checkpoint_rows
WHERE c.tenant_id = agentledger.current_tenant() AND c.thread_id = %(thread_id)s
  AND c.checkpoint_ns = %(checkpoint_ns)s AND c.checkpoint_id = %(checkpoint_id)s

-- name: list_thread
-- A thread's checkpoints (of one namespace, when given) newest first, matching metadata,
-- before a checkpoint id, after a keyset cursor (checkpoint id, namespace).
-- include: checkpoint_rows
WHERE c.tenant_id = agentledger.current_tenant() AND c.thread_id = %(thread_id)s
  AND (%(checkpoint_ns)s::text IS NULL OR c.checkpoint_ns = %(checkpoint_ns)s::text)
  AND (%(checkpoint_id)s::text IS NULL OR c.checkpoint_id = %(checkpoint_id)s::text)
  AND (%(metadata)s::jsonb IS NULL OR c.metadata @> %(metadata)s::jsonb)
  AND (%(before)s::text IS NULL OR c.checkpoint_id < %(before)s::text)
  AND (%(after_id)s::text IS NULL
       OR (c.checkpoint_id, c.checkpoint_ns) < (%(after_id)s::text, %(after_ns)s::text))
ORDER BY c.checkpoint_id DESC, c.checkpoint_ns DESC
LIMIT %(limit)s

-- name: list_all
-- The tenant's checkpoints across threads newest first, matching metadata, before a
-- checkpoint id, after a keyset cursor (checkpoint id, thread, namespace).
-- include: checkpoint_rows
WHERE c.tenant_id = agentledger.current_tenant()
  AND (%(metadata)s::jsonb IS NULL OR c.metadata @> %(metadata)s::jsonb)
  AND (%(before)s::text IS NULL OR c.checkpoint_id < %(before)s::text)
  AND (%(after_id)s::text IS NULL OR (c.checkpoint_id, c.thread_id, c.checkpoint_ns)
       < (%(after_id)s::text, %(after_thread)s::text, %(after_ns)s::text))
ORDER BY c.checkpoint_id DESC, c.thread_id DESC, c.checkpoint_ns DESC
LIMIT %(limit)s

-- name: delete_threads
-- Delete threads whole: their checkpoints, channel values and pending writes.
WITH checkpoints AS (
    DELETE FROM agentledger.checkpoints AS c
    WHERE c.tenant_id = agentledger.current_tenant() AND c.thread_id = ANY(%(thread_ids)s::text[])
), blobs AS (
    DELETE FROM agentledger.checkpoint_blobs AS b
    WHERE b.tenant_id = agentledger.current_tenant() AND b.thread_id = ANY(%(thread_ids)s::text[])
)
DELETE FROM agentledger.checkpoint_writes AS w
WHERE w.tenant_id = agentledger.current_tenant() AND w.thread_id = ANY(%(thread_ids)s::text[])

-- name: delete_runs
-- Delete the checkpoints the given runs wrote and their pending writes; the threads they
-- were in come back (their unread channel values go next, by collect_blobs).
WITH gone AS (
    DELETE FROM agentledger.checkpoints AS c
    WHERE c.tenant_id = agentledger.current_tenant() AND c.run_id = ANY(%(run_ids)s::text[])
    RETURNING c.thread_id, c.checkpoint_ns, c.checkpoint_id
), writes AS (
    DELETE FROM agentledger.checkpoint_writes AS w
    USING gone g
    WHERE w.tenant_id = agentledger.current_tenant() AND w.thread_id = g.thread_id
      AND w.checkpoint_ns = g.checkpoint_ns AND w.checkpoint_id = g.checkpoint_id
)
SELECT DISTINCT g.thread_id FROM gone g

-- name: keep_latest
-- Delete all but the newest checkpoint of each namespace of the given threads, and the
-- pending writes of those deleted.
WITH latest AS (
    SELECT DISTINCT ON (c.thread_id, c.checkpoint_ns) c.thread_id, c.checkpoint_ns, c.checkpoint_id
    FROM agentledger.checkpoints c
    WHERE c.tenant_id = agentledger.current_tenant() AND c.thread_id = ANY(%(thread_ids)s::text[])
    ORDER BY c.thread_id, c.checkpoint_ns, c.checkpoint_id DESC
), checkpoints AS (
    DELETE FROM agentledger.checkpoints AS c
    WHERE c.tenant_id = agentledger.current_tenant() AND c.thread_id = ANY(%(thread_ids)s::text[])
      AND NOT EXISTS (SELECT 1 FROM latest l WHERE l.thread_id = c.thread_id
                      AND l.checkpoint_ns = c.checkpoint_ns AND l.checkpoint_id = c.checkpoint_id)
)
DELETE FROM agentledger.checkpoint_writes AS w
WHERE w.tenant_id = agentledger.current_tenant() AND w.thread_id = ANY(%(thread_ids)s::text[])
  AND NOT EXISTS (SELECT 1 FROM latest l WHERE l.thread_id = w.thread_id
                  AND l.checkpoint_ns = w.checkpoint_ns AND l.checkpoint_id = w.checkpoint_id)

-- name: collect_blobs
-- Delete the channel values of the given threads that no remaining checkpoint reads.
WITH used AS (
    SELECT c.thread_id, c.checkpoint_ns, v.key AS channel, v.value AS version
    FROM agentledger.checkpoints c CROSS JOIN LATERAL jsonb_each_text(c.channel_versions) v
    WHERE c.tenant_id = agentledger.current_tenant() AND c.thread_id = ANY(%(thread_ids)s::text[])
)
DELETE FROM agentledger.checkpoint_blobs AS b
WHERE b.tenant_id = agentledger.current_tenant() AND b.thread_id = ANY(%(thread_ids)s::text[])
  AND NOT EXISTS (SELECT 1 FROM used u WHERE u.thread_id = b.thread_id
                  AND u.checkpoint_ns = b.checkpoint_ns AND u.channel = b.channel
                  AND u.version = b.version)

-- name: copy_thread
-- Copy a thread's checkpoints, channel values and pending writes to another thread (rows
-- the target already has stay).
WITH checkpoints AS (
    INSERT INTO agentledger.checkpoints
        (tenant_id, thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, run_id, type,
         checkpoint, channel_versions, metadata, created_at)
    SELECT c.tenant_id, %(target)s, c.checkpoint_ns, c.checkpoint_id, c.parent_checkpoint_id,
           c.run_id, c.type, c.checkpoint, c.channel_versions, c.metadata, c.created_at
    FROM agentledger.checkpoints c
    WHERE c.tenant_id = agentledger.current_tenant() AND c.thread_id = %(source)s
    ON CONFLICT DO NOTHING
), blobs AS (
    INSERT INTO agentledger.checkpoint_blobs
        (tenant_id, thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT b.tenant_id, %(target)s, b.checkpoint_ns, b.channel, b.version, b.type, b.blob
    FROM agentledger.checkpoint_blobs b
    WHERE b.tenant_id = agentledger.current_tenant() AND b.thread_id = %(source)s
    ON CONFLICT DO NOTHING
)
INSERT INTO agentledger.checkpoint_writes
    (tenant_id, thread_id, checkpoint_ns, checkpoint_id, task_id, idx, task_path, channel, type,
     blob)
SELECT w.tenant_id, %(target)s, w.checkpoint_ns, w.checkpoint_id, w.task_id, w.idx, w.task_path,
       w.channel, w.type, w.blob
FROM agentledger.checkpoint_writes w
WHERE w.tenant_id = agentledger.current_tenant() AND w.thread_id = %(source)s
ON CONFLICT DO NOTHING
