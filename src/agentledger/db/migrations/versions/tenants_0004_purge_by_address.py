"""Tenants: a purge deletes only the purged tenant's rows, finishes with self-references,
and copes with a row written late.

``purge_tenant_v1`` (tenants_0003) had three faults, which ``purge_tenant_v2`` mends:

- It deleted a batch by ``ctid`` alone. Through a partitioned (or inherited) table the same
  ``ctid`` names a row in every partition, and an owner that row-level security does not
  hold (a superuser, ``BYPASSRLS``) deleted other tenants' rows with it. v2 reads each
  row's ``(tableoid, ctid)`` and deletes per partition with ``tableoid``, ``ctid`` and
  ``tenant_id`` all matched, in every table it deletes from.
- A table that references itself (a thread of replies) was emptied in disk order, parents
  before their children, so a batch that split a chain failed its foreign key on every
  attempt. v2 deletes such a table's rows leaves first: rows no other remaining row of the
  tenant references, then those whose children went, up to the batch; rows that reference
  each other in a cycle go together, the whole cycle in one batch (a cycle longer than the
  batch is refused with Conflict, naming the table: purge it with a larger batch).
- A transaction opened while the tenant was active may commit a row after the purge
  passed its table (its lock on the row it references made the purge wait for it), which
  failed the batch with a foreign key's error. v2 checks foreign keys at each statement
  and, on such a failure, undoes the batch and scans again from the first table, so the
  late row is deleted first; after three failures in one call it raises Conflict (ALCF0)
  saying what happened and that running the purge again resumes it.

v1 stays for clients that still call it; the library calls v2.

Revision ID: tenants_0004
Revises: tenants_0003
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "tenants_0004"
down_revision = "tenants_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = app_role()
    # Only the validated app role is interpolated.
    op.execute(f"""
    -- Delete up to p_batch of p_tenant's rows from the first table of tenant_tables_v1()
    -- that holds some: that table and the count; when none does, the tenant itself
    -- ('agentledger.tenants', 1). Platform scope only; the tenant must be archived.
    -- A batch's rows are found through the table's tenant index (sequential scans off),
    -- then deleted by address (index scans off for that statement: a TID scan), each row
    -- matched on tableoid, ctid and tenant_id, one statement per partition. A table that
    -- references itself is emptied leaves first, each round of its batch in one statement.
    -- The SET clauses keep these changes to the call.
    CREATE FUNCTION agentledger.purge_tenant_v2(p_tenant text, p_batch integer)
        RETURNS TABLE (table_name text, deleted bigint)
        LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp SET enable_seqscan = off
        SET enable_indexscan = on SET enable_bitmapscan = on
    AS $fn$
    DECLARE
        v_status text;
        v_relation regclass;
        v_target text;
        v_count bigint;
        v_found integer;
        v_rows bigint;
        v_part oid;
        v_oids oid[];
        v_tids tid[];
        v_up_oids oid[];
        v_up_tids tid[];
        v_refs text[];
        v_xrefs text[];
        v_leaf text;
        v_only text;
        v_any text;
        -- A query's rows (o, t) as two arrays, empty for none.
        v_arrays constant text := 'SELECT coalesce(array_agg(o), ''{{}}''), '
            || 'coalesce(array_agg(t), ''{{}}'') FROM (';
        v_error text;
        v_done boolean := false;
        v_bound text := current_setting('agentledger.tenant_id', true);
    BEGIN
        IF NOT agentledger.is_platform() THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                MESSAGE = 'a tenant is purged only through the platform scope';
        END IF;
        IF p_batch IS NULL OR p_batch < 1 THEN
            RAISE EXCEPTION USING ERRCODE = 'ALII0', COLUMN = 'batch_size',
                MESSAGE = 'batch_size must be a positive number of rows';
        END IF;
        -- Bound to the tenant for this call, so the tables' tenant policies admit its rows.
        PERFORM set_config('agentledger.tenant_id', p_tenant, true);
        -- Locked: an activation waits for this batch, and the next call sees it.
        SELECT t.status INTO v_status FROM agentledger.tenants t WHERE t.id = p_tenant
            FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'ALNF0', COLUMN = 'id',
                MESSAGE = 'tenant ' || quote_literal(p_tenant) || ' does not exist';
        END IF;
        IF v_status <> 'archived' THEN
            RAISE EXCEPTION USING ERRCODE = 'ALIT0', COLUMN = 'id',
                MESSAGE = 'tenant ' || quote_literal(p_tenant) || ' is ' || v_status
                    || ': archive it before purging';
        END IF;
        -- Deferred foreign keys are checked at each statement, inside the block below.
        SET CONSTRAINTS ALL IMMEDIATE;
        FOR v_attempt IN 1..3 LOOP
            BEGIN
                v_target := NULL;
                v_count := 0;
                v_found := 0;
                FOREACH v_relation IN ARRAY agentledger.tenant_tables_v1() LOOP
                    v_target := v_relation::text;
                    -- The table's references to itself, each as "c (or x) references p":
                    -- column names from the catalog, quoted by quote_ident.
                    SELECT array_agg(cond ORDER BY oid), array_agg(xcond ORDER BY oid)
                        INTO v_refs, v_xrefs
                    FROM (
                        SELECT f.oid,
                               string_agg('c.' || quote_ident(fa.attname) || ' = p.'
                                   || quote_ident(pa.attname), ' AND ' ORDER BY k.i) AS cond,
                               string_agg('x.' || quote_ident(fa.attname) || ' = p.'
                                   || quote_ident(pa.attname), ' AND ' ORDER BY k.i) AS xcond
                        FROM pg_constraint f
                        CROSS JOIN LATERAL unnest(f.conkey, f.confkey)
                            WITH ORDINALITY AS k (fk, pk, i)
                        JOIN pg_attribute fa ON fa.attrelid = f.conrelid AND fa.attnum = k.fk
                        JOIN pg_attribute pa ON pa.attrelid = f.confrelid AND pa.attnum = k.pk
                        WHERE f.contype = 'f' AND f.conrelid = v_relation
                          AND f.confrelid = v_relation AND f.conparentid = 0
                        GROUP BY f.oid
                    ) s;
                    -- With such references: p is a leaf (no other row of its tenant
                    -- references it); c is p's only child; c references p. All NULL without
                    -- them. Rows are looked up from the row at hand (a correlated subquery,
                    -- kept one by OFFSET 0, or a TID), never by the purged tenant's id, whose
                    -- statistics may say it holds nothing.
                    SELECT string_agg('NOT EXISTS (SELECT FROM ' || v_target || ' x WHERE '
                               || 'x.tenant_id = p.tenant_id AND ' || xc || ' AND (x.tableoid,'
                               || ' x.ctid) <> (p.tableoid, p.ctid) OFFSET 0)', ' AND '),
                           string_agg('NOT EXISTS (SELECT FROM ' || v_target || ' x WHERE '
                               || 'x.tenant_id = p.tenant_id AND ' || xc || ' AND (x.tableoid,'
                               || ' x.ctid) <> (p.tableoid, p.ctid) AND (x.tableoid, x.ctid) <>'
                               || ' (c.tableoid, c.ctid) OFFSET 0)', ' AND '),
                           string_agg('(' || cc || ')', ' OR ')
                        INTO v_leaf, v_only, v_any
                    FROM unnest(v_refs, v_xrefs) r (cc, xc);
                    v_found := 0;
                    v_up_oids := NULL;
                    LOOP
                        IF v_leaf IS NULL THEN
                            EXECUTE v_arrays || 'SELECT tableoid, ctid FROM ' || v_target
                                || ' WHERE tenant_id = $1 LIMIT $4) s (o, t)'
                                INTO v_oids, v_tids USING p_tenant, NULL::tid[], NULL::oid[],
                                    p_batch;
                        ELSE
                            -- Leaves (at first any of the tenant's, then among the parents
                            -- of the rows just deleted, at ($2, $3)), and the rows above them
                            -- whose only child is in the batch: a chain goes in one statement.
                            EXECUTE v_arrays || 'WITH RECURSIVE up (o, t) AS ((SELECT '
                                || 'p.tableoid, p.ctid FROM ' || v_target || ' p WHERE '
                                || CASE WHEN v_up_oids IS NULL THEN 'p.tenant_id = $1'
                                        ELSE 'p.ctid = ANY ($2) AND (p.tableoid, p.ctid) IN '
                                            || '(SELECT * FROM unnest($3, $2))' END
                                || ' AND ' || v_leaf || ' LIMIT $4) UNION SELECT q.o, q.t '
                                || 'FROM up d CROSS JOIN LATERAL (SELECT p.tableoid, p.ctid '
                                || 'FROM ' || v_target || ' c JOIN ' || v_target || ' p ON '
                                || 'p.tenant_id = c.tenant_id AND (' || v_any || ') WHERE '
                                || 'c.tableoid = d.o AND c.ctid = d.t AND ' || v_only
                                || ' OFFSET 0) q (o, t)) SELECT o, t FROM up LIMIT $4) s (o, t)'
                                INTO v_oids, v_tids
                                USING p_tenant, v_up_tids, v_up_oids, p_batch - v_found;
                            IF cardinality(v_oids) = 0 AND v_up_oids IS NULL THEN
                                -- No leaf, yet maybe rows: each lies in or above a cycle,
                                -- which goes whole: the rows at and below the first one.
                                EXECUTE v_arrays || 'WITH RECURSIVE down (o, t) AS ((SELECT '
                                    || 'tableoid, ctid FROM ' || v_target || ' WHERE '
                                    || 'tenant_id = $1 LIMIT 1) UNION SELECT q.o, q.t FROM '
                                    || 'down d CROSS JOIN LATERAL (SELECT c.tableoid, c.ctid '
                                    || 'FROM ' || v_target || ' p JOIN ' || v_target || ' c ON '
                                    || 'c.tenant_id = p.tenant_id AND (' || v_any || ') WHERE '
                                    || 'p.tableoid = d.o AND p.ctid = d.t OFFSET 0) q (o, t)) '
                                    || 'SELECT o, t FROM down LIMIT $4) s (o, t)'
                                    INTO v_oids, v_tids
                                    USING p_tenant, NULL::tid[], NULL::oid[], p_batch + 1;
                                IF cardinality(v_oids) > p_batch THEN
                                    RAISE EXCEPTION USING ERRCODE = 'ALCF0',
                                        COLUMN = 'batch_size',
                                        MESSAGE = 'rows of tenant ' || quote_literal(p_tenant)
                                            || ' in ' || v_target || ' reference each other'
                                            || ' in a cycle of more than ' || p_batch
                                            || ' rows: purge it with a larger batch_size';
                                END IF;
                            END IF;
                        END IF;
                        EXIT WHEN cardinality(v_oids) = 0;
                        v_found := v_found + cardinality(v_oids);
                        IF v_leaf IS NOT NULL THEN
                            -- The parents of this round's rows: the next round's candidates.
                            EXECUTE v_arrays || 'SELECT DISTINCT q.o, q.t FROM ' || v_target
                                || ' c CROSS JOIN LATERAL (SELECT p.tableoid, p.ctid FROM '
                                || v_target || ' p WHERE p.tenant_id = c.tenant_id AND ('
                                || v_any || ') OFFSET 0) q (o, t) WHERE c.ctid = ANY ($2) AND '
                                || '(c.tableoid, c.ctid) IN (SELECT * FROM unnest($3, $2))'
                                || ') s (o, t)'
                                INTO v_up_oids, v_up_tids USING p_tenant, v_tids, v_oids;
                        END IF;
                        PERFORM set_config('enable_indexscan', 'off', true),
                            set_config('enable_bitmapscan', 'off', true);
                        IF v_leaf IS NULL THEN
                            -- One statement per partition, its rows matched on tableoid.
                            FOR v_part IN SELECT DISTINCT o FROM unnest(v_oids) o LOOP
                                -- The relation's name comes from the catalog, quoted by
                                -- regclass's output.
                                EXECUTE 'DELETE FROM ' || v_target || ' WHERE tableoid = $3'
                                    || ' AND ctid = ANY ($1) AND tenant_id = $2'
                                    USING array(SELECT t FROM unnest(v_oids, v_tids) u (o, t)
                                                WHERE o = v_part), p_tenant, v_part;
                                GET DIAGNOSTICS v_rows = ROW_COUNT;
                                v_count := v_count + v_rows;
                            END LOOP;
                        ELSE
                            -- One statement: a child and its parent may lie in two partitions.
                            EXECUTE 'DELETE FROM ' || v_target || ' WHERE ctid = ANY ($1) AND '
                                || 'tenant_id = $2 AND (tableoid, ctid) IN (SELECT * FROM '
                                || 'unnest($3, $1))'
                                USING v_tids, p_tenant, v_oids;
                            GET DIAGNOSTICS v_rows = ROW_COUNT;
                            v_count := v_count + v_rows;
                        END IF;
                        PERFORM set_config('enable_indexscan', 'on', true),
                            set_config('enable_bitmapscan', 'on', true);
                        EXIT WHEN v_leaf IS NULL OR v_found >= p_batch
                            OR cardinality(v_up_oids) = 0;
                    END LOOP;
                    EXIT WHEN v_found > 0;
                END LOOP;
                IF v_found = 0 THEN
                    v_target := 'agentledger.tenants';
                    DELETE FROM agentledger.tenants WHERE id = p_tenant;
                    v_count := 1;
                END IF;
                v_done := true;
            EXCEPTION WHEN foreign_key_violation OR restrict_violation THEN
                -- A row committed after this call's scan (by a transaction opened while
                -- the tenant was active) references what the batch deleted: the batch is
                -- undone, and the next attempt's scan, in a new snapshot, finds that row.
                GET STACKED DIAGNOSTICS v_error = MESSAGE_TEXT;
            END;
            EXIT WHEN v_done;
        END LOOP;
        IF NOT v_done THEN
            RAISE EXCEPTION USING ERRCODE = 'ALCF0', COLUMN = 'id',
                MESSAGE = 'the purge of tenant ' || quote_literal(p_tenant)
                    || ' could not delete from ' || v_target || ': ' || v_error
                    || '; the rows that reference them were written during the purge (by a'
                    || ' transaction opened before the tenant was archived) or belong to'
                    || ' another tenant. This batch deleted nothing: running the purge'
                    || ' again resumes it';
        END IF;
        PERFORM set_config('agentledger.tenant_id', coalesce(v_bound, ''), true);
        RETURN QUERY SELECT v_target, v_count;
    END
    $fn$;
    REVOKE ALL ON FUNCTION agentledger.purge_tenant_v2(text, integer) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.purge_tenant_v2(text, integer) TO "{role}";
    """)


def downgrade() -> None:
    op.execute("DROP FUNCTION agentledger.purge_tenant_v2(text, integer);")
