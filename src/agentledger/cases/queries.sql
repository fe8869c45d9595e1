-- name: save_kind
-- Create a case kind or change its initial status (its row lock serialises redefinitions).
INSERT INTO agentledger.case_kinds (tenant_id, kind, initial)
VALUES (agentledger.current_tenant(), %(kind)s, %(initial)s)
ON CONFLICT (tenant_id, kind) DO UPDATE SET initial = excluded.initial, updated_at = now()
RETURNING kind

-- name: statuses_in_use
-- The statuses of a kind that a new list leaves out but that still hold cases.
SELECT s.status FROM agentledger.case_statuses s
WHERE s.tenant_id = agentledger.current_tenant() AND s.kind = %(kind)s
  AND s.status <> ALL(%(statuses)s::text[])
  AND EXISTS (
      SELECT 1 FROM agentledger.cases c
      WHERE c.tenant_id = s.tenant_id AND c.kind = s.kind AND c.status = s.status)
ORDER BY s.position

-- name: drop_statuses
-- Remove a kind's statuses not in the new list (their moves go with them; the foreign key
-- from cases refuses one that still holds cases).
DELETE FROM agentledger.case_statuses s
WHERE s.tenant_id = agentledger.current_tenant() AND s.kind = %(kind)s
  AND s.status <> ALL(%(statuses)s::text[])

-- name: save_statuses
-- A kind's statuses in declared order (a status's terminal flag never changes: the
-- case_statuses_guard trigger refuses it).
INSERT INTO agentledger.case_statuses AS s (tenant_id, kind, status, terminal, position)
SELECT agentledger.current_tenant(), %(kind)s, x.status, x.terminal, x.ord::integer
FROM unnest(%(statuses)s::text[], %(terminal)s::boolean[]) WITH ORDINALITY
    AS x(status, terminal, ord)
ON CONFLICT (tenant_id, kind, status)
DO UPDATE SET terminal = excluded.terminal, position = excluded.position

-- name: drop_transitions
-- Remove a kind's moves that are not in the new table.
DELETE FROM agentledger.case_transitions t
WHERE t.tenant_id = agentledger.current_tenant() AND t.kind = %(kind)s
  AND (t.from_status, t.to_status) NOT IN (
      SELECT x.f, x.t FROM unnest(%(froms)s::text[], %(tos)s::text[]) AS x(f, t))

-- name: save_transitions
-- Add a kind's moves that are new.
INSERT INTO agentledger.case_transitions (tenant_id, kind, from_status, to_status)
SELECT agentledger.current_tenant(), %(kind)s, x.f, x.t
FROM unnest(%(froms)s::text[], %(tos)s::text[]) AS x(f, t)
ON CONFLICT DO NOTHING

-- name: get_kinds
-- One kind (or every kind, by name) with its statuses in order and its moves.
SELECT k.kind, k.initial, k.created_at, k.updated_at,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(s.status, s.terminal) ORDER BY s.position),
                        '[]')
        FROM agentledger.case_statuses s
        WHERE s.tenant_id = k.tenant_id AND s.kind = k.kind) AS statuses,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(t.from_status, t.to_status)
                                  ORDER BY f.position, s.position), '[]')
        FROM agentledger.case_transitions t
        JOIN agentledger.case_statuses f ON f.tenant_id = t.tenant_id AND f.kind = t.kind
            AND f.status = t.from_status
        JOIN agentledger.case_statuses s ON s.tenant_id = t.tenant_id AND s.kind = t.kind
            AND s.status = t.to_status
        WHERE t.tenant_id = k.tenant_id AND t.kind = k.kind) AS moves
FROM agentledger.case_kinds k
WHERE k.tenant_id = agentledger.current_tenant()
  AND (%(kind)s::text IS NULL OR k.kind = %(kind)s::text)
ORDER BY k.kind

-- fragment: case_columns
-- A case as every statement returns it (records.Case).
       c.id, c.kind, c.ref, c.status, c.title, c.body, c.type, c.severity, c.score,
       c.confidence, c.owner, c.domain, c.entity, c.source, c.amount, c.sla_deadline,
       c.playbook, c.playbook_step, c.attrs, c.version, c.created_at, c.updated_at,
       c.opened_at, c.resolved_at

-- name: insert_case
-- A new case (nothing when its id, or its kind and ref, is taken); the cases_guard trigger
-- checks its kind and status and sets version, opened_at and resolved_at.
INSERT INTO agentledger.cases AS c
    (tenant_id, id, kind, ref, status, title, body, type, severity, score, confidence, owner,
     domain, entity, source, amount, sla_deadline, playbook, playbook_step, attrs, created_at)
VALUES (agentledger.current_tenant(), %(id)s, %(kind)s, %(ref)s, %(status)s, %(title)s,
        %(body)s, %(type)s, %(severity)s, %(score)s, %(confidence)s, %(owner)s, %(domain)s,
        %(entity)s, %(source)s, %(amount)s, %(sla_deadline)s, %(playbook)s,
        %(playbook_step)s, %(attrs)s::jsonb, coalesce(%(at)s::timestamptz, now()))
ON CONFLICT DO NOTHING
RETURNING
    -- include: case_columns

-- name: get_case
-- One case by id.
SELECT
    -- include: case_columns
FROM agentledger.cases c
WHERE c.tenant_id = agentledger.current_tenant() AND c.id = %(id)s

-- name: lock_case
-- One case by id, locked for a change in this transaction.
SELECT
    -- include: case_columns
FROM agentledger.cases c
WHERE c.tenant_id = agentledger.current_tenant() AND c.id = %(id)s
FOR UPDATE

-- name: lock_case_by_ref
-- One case by kind and ref, locked for a change in this transaction.
SELECT
    -- include: case_columns
FROM agentledger.cases c
WHERE c.tenant_id = agentledger.current_tenant() AND c.kind = %(kind)s AND c.ref = %(ref)s
FOR UPDATE

-- name: get_case_by_ref
-- The cases with a ref (of one kind, or of any: then more than one is ambiguous).
SELECT
    -- include: case_columns
FROM agentledger.cases c
WHERE c.tenant_id = agentledger.current_tenant() AND c.ref = %(ref)s
  AND (%(kind)s::text IS NULL OR c.kind = %(kind)s::text)
ORDER BY c.kind
LIMIT 2

-- name: hold_status
-- Hold a status of a kind against a concurrent define_kind dropping it, before a case moves
-- into it: define_kind's delete waits for this transaction (and then fails on the cases in
-- it), or this waits for define_kind's and finds nothing; the statement that moves the case
-- then reads the kind as redefined and refuses the status as not of its kind.
SELECT s.status FROM agentledger.case_statuses s
WHERE s.tenant_id = agentledger.current_tenant() AND s.kind = %(kind)s AND s.status = %(status)s
FOR KEY SHARE

-- name: hold_case
-- A case's creation time, its row held against deletion until this transaction ends
-- (for events added beside it).
SELECT c.created_at FROM agentledger.cases c
WHERE c.tenant_id = agentledger.current_tenant() AND c.id = %(id)s
FOR KEY SHARE

-- name: hold_cases
-- Several cases' creation times, held against deletion, in id order.
SELECT c.id, c.created_at FROM agentledger.cases c
WHERE c.tenant_id = agentledger.current_tenant() AND c.id = ANY(%(ids)s::uuid[])
ORDER BY c.id
FOR KEY SHARE

-- name: update_case
-- Write a locked case's fields and status as computed by the operation (the cases_guard
-- trigger checks a status change against the kind's moves and bumps the version).
UPDATE agentledger.cases c
SET status = %(status)s, title = %(title)s, body = %(body)s, type = %(type)s,
    severity = %(severity)s, score = %(score)s, confidence = %(confidence)s,
    owner = %(owner)s, domain = %(domain)s, entity = %(entity)s, source = %(source)s,
    amount = %(amount)s, sla_deadline = %(sla_deadline)s, playbook = %(playbook)s,
    playbook_step = %(playbook_step)s, attrs = %(attrs)s::jsonb,
    updated_at = coalesce(%(at)s::timestamptz, now())
WHERE c.tenant_id = agentledger.current_tenant() AND c.id = %(id)s
RETURNING
    -- include: case_columns

-- name: delete_case
-- Delete a case (its blocks and links go with it; its events stay).
DELETE FROM agentledger.cases c
WHERE c.tenant_id = agentledger.current_tenant() AND c.id = %(id)s
RETURNING c.created_at

-- name: lock_blocks
-- Serialise changes to the tenant's blocks for this transaction, so the cycle check holds.
SELECT pg_advisory_xact_lock(
    hashtextextended('agentledger.case_blocks/' || agentledger.current_tenant(), 0))

-- name: block_would_cycle
-- Whether the blocked case already blocks the blocker, directly or through others.
WITH RECURSIVE reach (id) AS (
    SELECT b.blocked FROM agentledger.case_blocks b
    WHERE b.tenant_id = agentledger.current_tenant() AND b.blocker = %(blocked)s
    UNION
    SELECT b.blocked FROM agentledger.case_blocks b JOIN reach r ON b.blocker = r.id
    WHERE b.tenant_id = agentledger.current_tenant()
)
SELECT EXISTS (SELECT 1 FROM reach WHERE reach.id = %(blocker)s)

-- name: add_block
-- One case blocks another (nothing when it already does).
INSERT INTO agentledger.case_blocks (tenant_id, blocker, blocked)
VALUES (agentledger.current_tenant(), %(blocker)s, %(blocked)s)
ON CONFLICT DO NOTHING
RETURNING created_at

-- name: remove_block
-- One case no longer blocks another.
DELETE FROM agentledger.case_blocks b
WHERE b.tenant_id = agentledger.current_tenant() AND b.blocker = %(blocker)s
  AND b.blocked = %(blocked)s
RETURNING b.created_at

-- name: blocking
-- The cases a case blocks, oldest first.
SELECT
    -- include: case_columns
FROM agentledger.case_blocks b
JOIN agentledger.cases c ON c.tenant_id = b.tenant_id AND c.id = b.blocked
WHERE b.tenant_id = agentledger.current_tenant() AND b.blocker = %(id)s
ORDER BY c.created_at, c.id

-- name: blocked_by
-- The cases that block a case, oldest first.
SELECT
    -- include: case_columns
FROM agentledger.case_blocks b
JOIN agentledger.cases c ON c.tenant_id = b.tenant_id AND c.id = b.blocker
WHERE b.tenant_id = agentledger.current_tenant() AND b.blocked = %(id)s
ORDER BY c.created_at, c.id

-- name: hold_entity
-- A memory entity of the tenant, held against deletion until this transaction ends.
SELECT e.id FROM agentledger.memory_entities e
WHERE e.tenant_id = agentledger.current_tenant() AND e.id = %(entity_id)s
FOR KEY SHARE

-- name: add_link
-- Link a case to a memory entity in a role (nothing when already linked so).
INSERT INTO agentledger.case_links (tenant_id, case_id, entity_id, role)
VALUES (agentledger.current_tenant(), %(case_id)s, %(entity_id)s, %(role)s)
ON CONFLICT DO NOTHING
RETURNING created_at

-- name: remove_link
-- Unlink a case from a memory entity in a role.
DELETE FROM agentledger.case_links l
WHERE l.tenant_id = agentledger.current_tenant() AND l.case_id = %(case_id)s
  AND l.entity_id = %(entity_id)s AND l.role = %(role)s
RETURNING l.created_at

-- name: case_links
-- The memory entities a case is linked to (those that still exist), in the order they
-- were linked.
SELECT l.case_id, l.entity_id, l.role, l.created_at, e.kind AS entity_kind,
       e.name AS entity_name
FROM agentledger.case_links l
JOIN agentledger.memory_entities e ON e.tenant_id = l.tenant_id AND e.id = l.entity_id
WHERE l.tenant_id = agentledger.current_tenant() AND l.case_id = %(case_id)s
ORDER BY l.created_at, l.entity_id, l.role

-- name: linked_cases
-- The cases linked to a memory entity, newest first (none once the entity is deleted).
SELECT DISTINCT ON (c.created_at, c.id)
    -- include: case_columns
FROM agentledger.case_links l
JOIN agentledger.cases c ON c.tenant_id = l.tenant_id AND c.id = l.case_id
WHERE l.tenant_id = agentledger.current_tenant() AND l.entity_id = %(entity_id)s
  AND EXISTS (SELECT 1 FROM agentledger.memory_entities e
              WHERE e.tenant_id = l.tenant_id AND e.id = l.entity_id)
ORDER BY c.created_at DESC, c.id DESC
LIMIT %(limit)s

-- name: list_cases
-- One page of cases matching the filters in one of the orders, after a keyset cursor
-- (through a definer function: under RLS the attribute filters could not use their index).
SELECT * FROM agentledger.cases_list_v1(
    p_order => %(order)s, p_after_num => %(after_num)s::float8,
    p_after_at => %(after_at)s::timestamptz, p_after_id => %(after_id)s::uuid,
    p_kind => %(kind)s::text, p_statuses => %(statuses)s::text[],
    p_severities => %(severities)s::text[], p_domain => %(domain)s::text,
    p_owner => %(owner)s::text, p_entity => %(entity)s::text, p_source => %(source)s::text,
    p_type => %(type)s::text, p_open => %(open)s::boolean,
    p_breached_at => %(breached_at)s::timestamptz,
    p_created_after => %(created_after)s::timestamptz,
    p_created_before => %(created_before)s::timestamptz,
    p_opened_after => %(opened_after)s::timestamptz,
    p_opened_before => %(opened_before)s::timestamptz,
    p_resolved_after => %(resolved_after)s::timestamptz,
    p_resolved_before => %(resolved_before)s::timestamptz,
    p_attrs => %(attrs)s::jsonb, p_where => %(where)s::jsonpath, p_limit => %(limit)s::integer)

-- name: similar_cases
-- The cases most like one (cases_similar_v1: same kind and entity, type, then text).
SELECT * FROM agentledger.cases_similar_v1(%(id)s, %(limit)s)

-- name: case_counts
-- Case counts by kind, status, severity and domain: the folded tallies plus the deltas not
-- folded yet (never a scan of the cases), with whether each status is terminal.
SELECT x.kind, x.status, x.severity, x.domain, sum(x.n)::bigint AS n,
       coalesce(bool_or(s.terminal), false) AS terminal
FROM (
    SELECT t.kind, t.status, t.severity, t.domain, t.n FROM agentledger.case_tallies t
    WHERE t.tenant_id = agentledger.current_tenant()
    UNION ALL
    SELECT d.kind, d.status, d.severity, d.domain, d.n FROM agentledger.case_tally_deltas d
    WHERE d.tenant_id = agentledger.current_tenant()
) x
LEFT JOIN agentledger.case_statuses s ON s.tenant_id = agentledger.current_tenant()
    AND s.kind = x.kind AND s.status = x.status
WHERE (%(kind)s::text IS NULL OR x.kind = %(kind)s::text)
  AND (%(domain)s::text IS NULL OR x.domain = %(domain)s::text)
GROUP BY x.kind, x.status, x.severity, x.domain
HAVING sum(x.n) <> 0

-- name: case_durations
-- Open cases past their deadline and how long open cases have been open (through the
-- open-only index: the cost follows the open cases), and how long the cases resolved in
-- a window took (through the resolved_at index: it follows the window), in seconds.
WITH open_age AS (
    SELECT extract(epoch FROM %(now)s::timestamptz - c.opened_at)::float8 AS age,
           coalesce(c.sla_deadline, 'infinity'::timestamptz) < %(now)s::timestamptz AS late
    FROM agentledger.cases c
    WHERE c.tenant_id = agentledger.current_tenant() AND c.resolved_at IS NULL
      AND (%(kind)s::text IS NULL OR c.kind = %(kind)s::text)
      AND (%(domain)s::text IS NULL OR c.domain = %(domain)s::text)
), took AS (
    SELECT extract(epoch FROM c.resolved_at - c.opened_at)::float8 AS took
    FROM agentledger.cases c
    WHERE c.tenant_id = agentledger.current_tenant() AND c.resolved_at IS NOT NULL
      AND c.resolved_at >= %(since)s::timestamptz AND c.resolved_at < %(until)s::timestamptz
      AND (%(kind)s::text IS NULL OR c.kind = %(kind)s::text)
      AND (%(domain)s::text IS NULL OR c.domain = %(domain)s::text)
)
SELECT o.n AS open_n, o.late, o.avg AS open_avg, o.p[1] AS open_p50, o.p[2] AS open_p90,
       o.p[3] AS open_p99, o.max AS open_max, r.n AS took_n, r.avg AS took_avg,
       r.p[1] AS took_p50, r.p[2] AS took_p90, r.p[3] AS took_p99, r.max AS took_max
FROM (SELECT count(*) AS n, count(*) FILTER (WHERE late) AS late, avg(age) AS avg,
             max(age) AS max,
             percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY age) AS p
      FROM open_age) o,
     (SELECT count(*) AS n, avg(took) AS avg, max(took) AS max,
             percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY took) AS p
      FROM took) r
