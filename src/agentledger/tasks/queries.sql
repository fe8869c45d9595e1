-- name: enqueue
-- Add one task; returns nothing when an unfinished task has the same dedup key.
INSERT INTO agentledger.tasks (
    tenant_id, queue, task_type, agent_name, priority, input, max_attempts, retry_delay,
    run_after, session_id, entity_id, dedup_key)
VALUES (
    agentledger.current_tenant(), %(queue)s, %(task_type)s, %(agent_name)s, %(priority)s,
    %(input)s, %(max_attempts)s, %(retry_delay)s, coalesce(%(run_after)s, now()),
    %(session_id)s, %(entity_id)s, %(dedup_key)s)
ON CONFLICT (tenant_id, queue, dedup_key)
    WHERE dedup_key IS NOT NULL AND finished_at IS NULL
DO NOTHING
RETURNING *

-- name: find_unfinished
-- The unfinished task of a queue holding a dedup key.
SELECT * FROM agentledger.tasks
WHERE tenant_id = agentledger.current_tenant() AND queue = %(queue)s
  AND dedup_key = %(dedup_key)s AND finished_at IS NULL

-- fragment: task_arrays
-- A batch's task columns as arrays (batch.BATCH_ARRAYS), but for its dedup keys.
        %(queues)b::text[], %(task_types)b::text[], %(agent_names)b::text[],
        %(priorities)b::integer[], %(inputs)b::text[], %(attempt_limits)b::integer[],
        %(retry_delays)b::double precision[], %(run_afters)b::timestamptz[],
        %(session_ids)b::text[], %(entity_ids)b::text[]

-- name: enqueue_many
-- Add a batch in one statement; one id per input row, in input order (an existing
-- unfinished task's id for a duplicate dedup key, or NULL if it finished meanwhile).
-- The arrays travel as binary parameters: no quoting and escaping of every element.
WITH input AS MATERIALIZED (
    SELECT nextval('agentledger.tasks_id_seq') AS id, x.*
    FROM unnest(
        %(dedup_keys)b::text[],
        -- include: task_arrays
    ) WITH ORDINALITY AS x(dedup_key, queue, task_type, agent_name, priority, input,
                           max_attempts, retry_delay, run_after, session_id, entity_id, ord)
), inserted AS (
    INSERT INTO agentledger.tasks (
        tenant_id, id, queue, task_type, agent_name, priority, input, max_attempts,
        retry_delay, run_after, session_id, entity_id, dedup_key)
    SELECT agentledger.current_tenant(), id, queue, task_type, agent_name, priority,
           input::jsonb, max_attempts, retry_delay, coalesce(run_after, now()), session_id,
           entity_id, dedup_key
    FROM input ORDER BY ord
    ON CONFLICT (tenant_id, queue, dedup_key)
        WHERE dedup_key IS NOT NULL AND finished_at IS NULL
    DO NOTHING
    RETURNING id, queue, dedup_key
)
SELECT coalesce(ins.id, twin.id, old.id) AS id
FROM input i
LEFT JOIN inserted ins ON ins.id = i.id
LEFT JOIN inserted twin
    ON ins.id IS NULL AND twin.queue = i.queue AND twin.dedup_key = i.dedup_key
LEFT JOIN agentledger.tasks old
    ON ins.id IS NULL AND i.dedup_key IS NOT NULL
   AND old.tenant_id = agentledger.current_tenant() AND old.queue = i.queue
   AND old.dedup_key = i.dedup_key AND old.finished_at IS NULL
ORDER BY i.ord

-- name: enqueue_many_plain
-- Add a batch with no dedup keys in one statement; its ids in input order. A column with one
-- value for the whole batch (its queue, most often its type and priority...) travels once,
-- as its scalar parameter, with a NULL array that unnest pads; the others as arrays.
WITH input AS MATERIALIZED (
    SELECT nextval('agentledger.tasks_id_seq') AS id, x.*
    FROM unnest(
        -- include: task_arrays
    ) WITH ORDINALITY AS x(queue, task_type, agent_name, priority, input, max_attempts,
                           retry_delay, run_after, session_id, entity_id, ord)
), inserted AS (
    INSERT INTO agentledger.tasks (
        tenant_id, id, queue, task_type, agent_name, priority, input, max_attempts,
        retry_delay, run_after, session_id, entity_id)
    SELECT agentledger.current_tenant(), id, coalesce(queue, %(queue)s::text),
           coalesce(task_type, %(task_type)s::text), coalesce(agent_name, %(agent_name)s::text),
           coalesce(priority, %(priority)s::integer), input::jsonb,
           coalesce(max_attempts, %(max_attempts)s::integer),
           coalesce(retry_delay, %(retry_delay)s::double precision),
           coalesce(run_after, %(run_after)s::timestamptz, now()),
           coalesce(session_id, %(session_id)s::text), coalesce(entity_id, %(entity_id)s::text)
    FROM input
)
SELECT id FROM input ORDER BY ord

-- name: notify_queues
-- Wake idle workers: new ready work in these queues (the payload is the queue name).
SELECT pg_notify('agentledger_tasks', q) FROM unnest(%(queues)s::text[]) AS q

-- name: settle_and_claim
-- plan: generic
-- A worker's cycle in one statement: settle outcomes, then claim up to limit tasks of a queue.
-- An outcome applies only to a running task still held under its claim token; a failure
-- retries after a jittered exponential backoff until its attempts are spent, then goes dead;
-- released work that is ready at once wakes idle workers. The claim takes ready unfinished
-- tasks in priority and age order, pending or running under an expired lease (a rescue,
-- which goes dead when its attempts are spent), never one settled here, SKIP LOCKED; every
-- task of a claim holds the claim's one random token. A rescue that goes dead takes no place
-- of the limit: as many tasks that run are picked in its stead. Settle only with limit 0,
-- claim only with no outcomes. Result: one summary row, then the claimed tasks
-- (tasks/cycle.py).
-- Why it has this shape, with the measurements: docs/notes/worker-cycle.md.
WITH completed AS (
    -- Plain completions: their ids and tokens arrive as two arrays, side by side. Neither
    -- these nor the other outcomes are joined with the table: a join of the batch costs a
    -- pass over it per row when the planner misjudges the table size; the batch is found
    -- by primary key. IS TRUE keeps the partial indexes out of that choice.
    UPDATE agentledger.tasks t
    SET status = %(completed)s, finished_at = now(), lease_expires_at = NULL,
        claim_token = NULL, updated_at = now()
    WHERE tenant_id = agentledger.current_tenant() AND id = ANY(%(done_ids)b::bigint[])
      AND (status = ANY(%(sources)s)) IS TRUE
      AND claim_token = (%(done_tokens)b::uuid[])[array_position(%(done_ids)b::bigint[], id)]
    RETURNING id, status, queue, false AS ready
), other AS (
    -- The other outcomes: one JSON object keyed by task id, read per row by key.
    UPDATE agentledger.tasks t
    SET (status, output, error, attempts, run_after, finished_at) = (
            SELECT CASE o.action
                    WHEN 'complete' THEN %(completed)s
                    WHEN 'release' THEN %(released)s
                    ELSE CASE WHEN o.retry AND t.attempts < t.max_attempts
                              THEN %(retried)s ELSE %(buried)s END END,
                CASE WHEN o.action = 'complete' THEN o.output ELSE t.output END,
                CASE WHEN o.action = 'fail' THEN o.error ELSE t.error END,
                t.attempts - (o.action = 'release')::integer,
                CASE WHEN o.action = 'fail' AND o.retry AND t.attempts < t.max_attempts
                    THEN now() + make_interval(secs => least(3600.0,
                        t.retry_delay * power(2.0, t.attempts - 1)) * (0.5 + random() / 2))
                    ELSE t.run_after END,
                CASE WHEN o.action = 'complete'
                    OR (o.action = 'fail' AND NOT (o.retry AND t.attempts < t.max_attempts))
                    THEN now() END
            FROM jsonb_to_record(b.outcomes -> t.id::text)
                AS o(action text, output jsonb, error text, retry boolean)),
        lease_expires_at = NULL,
        claim_token = NULL,
        updated_at = now()
    FROM (SELECT %(outcomes)s::jsonb AS outcomes) b
    WHERE t.tenant_id = agentledger.current_tenant() AND t.id = ANY(%(ids)b::bigint[])
      AND (t.status = ANY(%(sources)s)) IS TRUE
      AND t.claim_token = (b.outcomes -> t.id::text ->> 'token')::uuid
    RETURNING t.id, t.status, t.queue, t.run_after <= now() AS ready
), settled AS (
    SELECT * FROM completed UNION ALL SELECT * FROM other
), woken AS (
    SELECT pg_notify('agentledger_tasks', q.queue)
    FROM (SELECT DISTINCT queue FROM settled WHERE status = 'pending' AND ready) q
), picked AS (
    SELECT ctid, status = 'running' AND attempts >= max_attempts AS doomed
    FROM agentledger.tasks
    WHERE tenant_id = agentledger.current_tenant() AND queue = %(queue)s
      AND finished_at IS NULL AND run_after <= now()
      AND (status = 'pending' OR lease_expires_at < now())
      AND (agent_name IS NULL OR agent_name = %(agent)s)
      AND id <> ALL(%(ids)b::bigint[]) AND id <> ALL(%(done_ids)b::bigint[])
    ORDER BY priority DESC, run_after, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), topped AS (
    -- In the stead of each doomed rescue (the lease of its last attempt expired: it goes
    -- dead), a task that runs. Mostly none is doomed: a limit of 0 reads nothing. A task
    -- settled above is skipped by the lock (updated by this very command).
    SELECT ctid FROM agentledger.tasks
    WHERE tenant_id = agentledger.current_tenant() AND queue = %(queue)s
      AND finished_at IS NULL AND run_after <= now()
      AND (status = 'pending' OR lease_expires_at < now() AND attempts < max_attempts)
      AND (agent_name IS NULL OR agent_name = %(agent)s)
      AND ctid NOT IN (SELECT ctid FROM picked)
    ORDER BY priority DESC, run_after, id
    LIMIT (SELECT count(*) FROM picked WHERE doomed)
    FOR UPDATE SKIP LOCKED
), k AS MATERIALIZED (
    -- What every task of this claim shares: drawn or computed once.
    SELECT gen_random_uuid() AS token, agentledger.current_tenant() AS tenant_id,
           now() AS at, now() + make_interval(secs => %(lease)s) AS lease_expires_at
), claimed AS (
    -- No indexed column changes, so each row is rewritten in place (HOT), and found again
    -- by its physical address rather than by a second primary key lookup (the policy of
    -- the table keeps it to the bound tenant).
    UPDATE agentledger.tasks t
    SET status = CASE WHEN p.doomed THEN 'dead' ELSE 'running' END,
        error = CASE WHEN p.doomed THEN 'lease expired after the last attempt' ELSE error END,
        finished_at = CASE WHEN p.doomed THEN k.at END,
        rescues = rescues + (status = 'running')::integer,
        attempts = attempts + (NOT p.doomed)::integer,
        claim_token = k.token,
        claimed_by = %(worker)s,
        lease_expires_at = k.lease_expires_at,
        updated_at = k.at
    FROM k, (SELECT * FROM picked UNION ALL SELECT ctid, false FROM topped) p
    WHERE t.ctid = p.ctid
    -- Only what differs per task (tasks/cycle.py: CLAIMED_COLUMNS); the claim has the rest.
    RETURNING id, task_type, agent_name, priority, input, output, attempts, max_attempts,
              retry_delay, run_after, rescues, error, session_id, entity_id, dedup_key,
              created_at, status
)
-- FULL JOIN ON false: the summary row and the claimed rows. The one-time filter makes the
-- (otherwise unreferenced) notifications run.
SELECT c.*, s.*
FROM (SELECT * FROM claimed WHERE status = 'running') c
FULL JOIN (
    SELECT a.settled_ids, a.settled_statuses, k.tenant_id, k.at, k.lease_expires_at, k.token
    FROM k, (SELECT array_agg(id) AS settled_ids, array_agg(status) AS settled_statuses
             FROM settled) a
) s ON false
WHERE (SELECT count(*) FROM woken) >= 0
ORDER BY c.priority DESC, c.run_after, c.id

-- name: claim_fair
-- Claim across tenants, an equal share each (platform scope; see claim_tasks_fair_v4).
SELECT * FROM agentledger.claim_tasks_fair_v4(%(queue)s, %(limit)s, %(lease)s, %(worker)s)

-- name: heartbeat
-- Extend the leases of tasks still held under the given claim tokens; returns their ids.
UPDATE agentledger.tasks t
SET lease_expires_at = now() + make_interval(secs => %(lease)s)
FROM unnest(%(ids)s::bigint[], %(tokens)s::uuid[]) AS h(id, token)
WHERE t.tenant_id = agentledger.current_tenant() AND t.id = h.id
  AND t.status = 'running' AND t.claim_token = h.token
RETURNING t.id

-- name: get_task
-- One task by id.
SELECT * FROM agentledger.tasks
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s

-- name: list_tasks
-- Tasks after a keyset cursor (id order), optionally of one queue, status, session, the
-- agent they are addressed to, or the worker that claimed them.
SELECT * FROM agentledger.tasks
WHERE tenant_id = agentledger.current_tenant() AND id > %(after)s
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(session_id)s::text IS NULL OR session_id = %(session_id)s)
  AND (%(agent)s::text IS NULL OR agent_name = %(agent)s)
  AND (%(claimed_by)s::text IS NULL OR claimed_by = %(claimed_by)s)
ORDER BY id
LIMIT %(limit)s

-- name: transition
-- Apply a lifecycle action (cancel, redrive, discard) to one task in a state it is allowed
-- from; a task sent back to pending only while no other unfinished task holds its dedup key.
UPDATE agentledger.tasks t
SET status = %(target)s,
    attempts = CASE WHEN %(target)s = 'pending' THEN 0 ELSE attempts END,
    run_after = CASE WHEN %(target)s = 'pending' THEN now() ELSE run_after END,
    finished_at = CASE WHEN %(target)s = 'pending' THEN NULL ELSE now() END,
    updated_at = now()
WHERE t.tenant_id = agentledger.current_tenant() AND t.id = %(id)s
  AND t.status = ANY(%(sources)s)
  AND (%(target)s <> 'pending' OR t.dedup_key IS NULL OR NOT EXISTS (
      SELECT FROM agentledger.tasks h
      WHERE h.tenant_id = t.tenant_id AND h.queue = t.queue AND h.dedup_key = t.dedup_key
        AND h.finished_at IS NULL))
RETURNING *

-- name: get_task_held
-- One task by id, with the id of another unfinished task holding its dedup key (held_by).
SELECT t.*, (SELECT h.id FROM agentledger.tasks h
             WHERE h.tenant_id = t.tenant_id AND h.queue = t.queue
               AND h.dedup_key = t.dedup_key AND h.finished_at IS NULL AND h.id <> t.id)
            AS held_by
FROM agentledger.tasks t
WHERE t.tenant_id = agentledger.current_tenant() AND t.id = %(id)s

-- name: redrive_queue
-- Send up to limit dead tasks of a queue back to pending with fresh attempts, but for those
-- whose dedup key an unfinished task holds: these stay dead (up to limit of them listed
-- with the holder's id as held_by). Of dead tasks sharing a key, the first goes back and
-- holds the key for the others. The redriven ones are listed with held_by NULL.
WITH dead AS MATERIALIZED (
    SELECT d.tenant_id, d.id, d.dedup_key FROM agentledger.tasks d
    WHERE d.tenant_id = agentledger.current_tenant() AND d.queue = %(queue)s
      AND d.dead_letter
      AND NOT EXISTS (
          SELECT FROM agentledger.tasks h
          WHERE h.tenant_id = d.tenant_id AND h.queue = d.queue
            AND h.dedup_key = d.dedup_key AND h.finished_at IS NULL)
    ORDER BY d.id LIMIT %(limit)s FOR UPDATE OF d SKIP LOCKED
), firsts AS (
    SELECT tenant_id, id, CASE WHEN dedup_key IS NULL THEN id
                               ELSE min(id) OVER (PARTITION BY dedup_key) END AS holder
    FROM dead
), sent AS (
    UPDATE agentledger.tasks t
    SET status = 'pending', attempts = 0, run_after = now(), finished_at = NULL,
        updated_at = now()
    FROM firsts f
    WHERE t.tenant_id = f.tenant_id AND t.id = f.id AND f.holder = f.id
    RETURNING t.id
)
SELECT id, NULL::bigint AS held_by FROM sent
UNION ALL
SELECT id, holder FROM firsts WHERE holder <> id
UNION ALL (
    SELECT d.id, h.id FROM agentledger.tasks d
    JOIN agentledger.tasks h
      ON h.tenant_id = d.tenant_id AND h.queue = d.queue AND h.dedup_key = d.dedup_key
     AND h.finished_at IS NULL
    WHERE d.tenant_id = agentledger.current_tenant() AND d.queue = %(queue)s
      AND d.dead_letter
    ORDER BY d.id LIMIT %(limit)s)

-- name: stats
-- Depth by status, age of the oldest ready task, last-minute throughput, per queue.
SELECT queue,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'pending' AND run_after <= now()) AS ready,
       count(*) FILTER (WHERE status = 'running') AS running,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status = 'dead') AS dead,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       extract(epoch FROM now() - min(run_after)
               FILTER (WHERE status = 'pending' AND run_after <= now()))::float8
           AS oldest_ready_age,
       count(*) FILTER (WHERE status = 'completed'
                          AND finished_at > now() - interval '1 minute')
           AS completed_last_minute,
       coalesce(sum(rescues), 0)::bigint AS rescued
FROM agentledger.tasks
WHERE tenant_id = agentledger.current_tenant()
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
GROUP BY queue
ORDER BY queue

-- name: dead_letters
-- Dead tasks newest first, optionally of one queue, before a keyset cursor (a task id).
SELECT * FROM agentledger.tasks
WHERE tenant_id = agentledger.current_tenant() AND dead_letter AND id < %(before)s
  AND (%(queue)s::text IS NULL OR queue = %(queue)s)
ORDER BY id DESC
LIMIT %(limit)s

-- name: queue_depth
-- What waits per queue, from indexes only: unfinished tasks by state (the ready index),
-- dead letters (their own index) and completions of the last minute (the finished index).
WITH waiting AS (
    SELECT queue,
           count(*) FILTER (WHERE status = 'pending' AND run_after <= now()) AS ready,
           count(*) FILTER (WHERE status = 'pending' AND run_after > now()) AS scheduled,
           count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS retrying,
           count(*) FILTER (WHERE status = 'running' AND (lease_expires_at < now()) IS NOT TRUE)
               AS running,
           count(*) FILTER (WHERE status = 'running' AND lease_expires_at < now()) AS expired,
           min(run_after) FILTER (WHERE status = 'pending' AND run_after <= now())
               AS oldest_ready
    FROM agentledger.tasks
    WHERE tenant_id = agentledger.current_tenant() AND finished_at IS NULL
      AND (%(queue)s::text IS NULL OR queue = %(queue)s)
    GROUP BY queue
), dead AS (
    SELECT queue, count(*) AS dead FROM agentledger.tasks
    WHERE tenant_id = agentledger.current_tenant() AND dead_letter
      AND (%(queue)s::text IS NULL OR queue = %(queue)s)
    GROUP BY queue
), done AS (
    SELECT queue, count(*) AS completed_last_minute FROM agentledger.tasks
    WHERE tenant_id = agentledger.current_tenant()
      AND finished_at > now() - interval '1 minute' AND status = 'completed'
      AND (%(queue)s::text IS NULL OR queue = %(queue)s)
    GROUP BY queue
)
SELECT coalesce(w.queue, d.queue, c.queue) AS queue,
       coalesce(w.ready, 0) AS ready, coalesce(w.scheduled, 0) AS scheduled,
       coalesce(w.retrying, 0) AS retrying, coalesce(w.running, 0) AS running,
       coalesce(w.expired, 0) AS expired, coalesce(d.dead, 0) AS dead,
       extract(epoch FROM now() - w.oldest_ready)::float8 AS oldest_ready_age,
       coalesce(c.completed_last_minute, 0) AS completed_last_minute
FROM waiting w
FULL JOIN dead d ON d.queue = w.queue
FULL JOIN done c ON c.queue = coalesce(w.queue, d.queue)
ORDER BY 1

-- name: prune
-- Move up to limit tasks finished (completed or cancelled) before the cutoff out of the
-- hot table into the archive; returns how many moved.
WITH doomed AS MATERIALIZED (
    SELECT tenant_id, id FROM agentledger.tasks
    WHERE tenant_id = agentledger.current_tenant()
      AND status IN ('completed', 'cancelled') AND finished_at IS NOT NULL
      AND finished_at < now() - make_interval(secs => %(older_than)s)
    ORDER BY finished_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM agentledger.tasks t USING doomed d
    WHERE t.tenant_id = d.tenant_id AND t.id = d.id
    RETURNING t.*
)
INSERT INTO agentledger.task_archive SELECT * FROM gone

-- name: get_archived
-- One archived task by id.
SELECT * FROM agentledger.task_archive
WHERE tenant_id = agentledger.current_tenant() AND id = %(id)s
