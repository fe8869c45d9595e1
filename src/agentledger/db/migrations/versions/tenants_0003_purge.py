"""Tenants: purge an archived tenant, every row it holds and then the tenant itself.

``tenant_tables_v1()`` lists the tables that hold tenants' rows, in the order a purge
empties them: the application's own tables first (those outside the ``agentledger`` schema
with a ``tenant_id`` column and a foreign key to ``agentledger.tenants``, each before the
ones it references), then the core's, each before the tables it references, API keys and
sign-ins first so that nothing can sign in once a purge has begun.

``purge_tenant_v1`` deletes up to ``p_batch`` of the tenant's rows from the first of those
tables that still holds some, and returns that table and the count: each call is one short
transaction, so a tenant of millions of rows is purged without a long lock or a long
transaction. When no table holds any, it deletes the tenant (its reporting grants go with
it) and returns ``agentledger.tenants``. ``tenant_rows_v1`` counts the rows per table.
Both run in the platform scope only, as the owner (SECURITY DEFINER: the app role may not
delete events or decisions), bound to the purged tenant for the call, so the tables'
tenant policies hold; the purge needs the tenant archived, checked and locked on every call.

The functions name the other modules' tables only when called, so this revision needs
none of them to exist when it runs.

Revision ID: tenants_0003
Revises: tenants_0002
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "tenants_0003"
down_revision = "tenants_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = app_role()
    # Only the validated app role is interpolated.
    op.execute(f"""
    CREATE FUNCTION agentledger.tenant_tables_v1() RETURNS regclass[]
        LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $fn$
        WITH RECURSIVE app AS (
            SELECT DISTINCT c.conrelid AS relation
            FROM pg_constraint c
            JOIN pg_class r ON r.oid = c.conrelid
            WHERE c.contype = 'f' AND c.confrelid = 'agentledger.tenants'::regclass
              AND c.conparentid = 0
              AND r.relnamespace <> 'agentledger'::regnamespace
              AND EXISTS (
                  SELECT 1 FROM pg_attribute a
                  WHERE a.attrelid = c.conrelid AND a.attname = 'tenant_id'
                    AND NOT a.attisdropped)
        ), depth (relation, depth) AS (
            SELECT relation, 0 FROM app
            UNION ALL
            -- A table that references another one of the application's is emptied first.
            SELECT f.conrelid, d.depth + 1
            FROM depth d
            JOIN pg_constraint f ON f.contype = 'f' AND f.confrelid = d.relation
            WHERE f.conrelid IN (SELECT relation FROM app) AND f.conrelid <> f.confrelid
              AND d.depth < 32
        ), core (name, ord) AS (
            SELECT name, ord FROM unnest(ARRAY[
                'sign_ins', 'api_keys',
                'alert_requests', 'alerts', 'decisions', 'runs', 'agents',
                'case_blocks', 'case_links', 'cases', 'case_tally_deltas', 'case_tallies',
                'case_transitions', 'case_statuses', 'case_kinds',
                'catalog_versions', 'catalog_documents', 'catalog_schemas',
                'checkpoint_writes', 'checkpoint_blobs', 'checkpoints',
                'entity_expiry', 'memory_relationships', 'memory_vectors', 'memory_entities',
                'memory_name_terms', 'memory_spaces', 'memory_kind_languages',
                'memory_vocabularies', 'memory_settings',
                'session_artifact_segments', 'session_artifacts',
                'session_chunk_segments', 'session_chunks', 'sessions',
                'tasks', 'task_archive', 'event_checkpoints', 'events'
            ]) WITH ORDINALITY AS t (name, ord)
        )
        SELECT array_agg(relation ORDER BY grp, depth DESC, ord, relation::text)
        FROM (
            SELECT relation, 0 AS grp, max(depth) AS depth, 0::bigint AS ord
            FROM depth GROUP BY relation
            UNION ALL
            -- A table a missing extension left out (memory_vectors without pgvector) is not.
            SELECT to_regclass('agentledger.' || name), 1, 0, ord FROM core
            WHERE to_regclass('agentledger.' || name) IS NOT NULL
        ) t
    $fn$;
    REVOKE ALL ON FUNCTION agentledger.tenant_tables_v1() FROM PUBLIC;

    -- Delete up to p_batch of p_tenant's rows from the first table of tenant_tables_v1()
    -- that holds some: that table and the count; when none does, the tenant itself
    -- ('agentledger.tenants', 1). Platform scope only; the tenant must be archived.
    -- A batch's rows are found through the table's tenant index (sequential scans off),
    -- then deleted by TID alone (index scans off for that statement): a plan that read the
    -- tenant's rows again and tested each against the batch's TIDs took seconds a batch
    -- once the table's statistics lagged. The SET clauses keep both changes to the call.
    CREATE FUNCTION agentledger.purge_tenant_v1(p_tenant text, p_batch integer)
        RETURNS TABLE (table_name text, deleted bigint)
        LANGUAGE plpgsql SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp SET enable_seqscan = off
        SET enable_indexscan = on SET enable_bitmapscan = on
    AS $fn$
    DECLARE
        v_status text;
        v_relation regclass;
        v_rows tid[];
        v_count bigint;
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
        FOREACH v_relation IN ARRAY agentledger.tenant_tables_v1() LOOP
            -- The relation's name comes from the catalog, quoted by regclass's output.
            EXECUTE 'SELECT array(SELECT ctid FROM ' || v_relation::text
                || ' WHERE tenant_id = $1 LIMIT $2)' INTO v_rows USING p_tenant, p_batch;
            CONTINUE WHEN cardinality(v_rows) = 0;
            PERFORM set_config('enable_indexscan', 'off', true),
                set_config('enable_bitmapscan', 'off', true);
            EXECUTE 'DELETE FROM ' || v_relation::text || ' WHERE ctid = ANY ($1)'
                USING v_rows;
            GET DIAGNOSTICS v_count = ROW_COUNT;
            PERFORM set_config('agentledger.tenant_id', coalesce(v_bound, ''), true);
            RETURN QUERY SELECT v_relation::text, v_count;
            RETURN;
        END LOOP;
        DELETE FROM agentledger.tenants WHERE id = p_tenant;
        PERFORM set_config('agentledger.tenant_id', coalesce(v_bound, ''), true);
        RETURN QUERY SELECT 'agentledger.tenants'::text, 1::bigint;
    END
    $fn$;
    REVOKE ALL ON FUNCTION agentledger.purge_tenant_v1(text, integer) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.purge_tenant_v1(text, integer) TO "{role}";

    -- How many rows p_tenant holds in each table of tenant_tables_v1(), in that order.
    -- Platform scope only; any status.
    CREATE FUNCTION agentledger.tenant_rows_v1(p_tenant text)
        RETURNS TABLE (table_name text, row_count bigint)
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
    DECLARE
        v_relation regclass;
        v_bound text := current_setting('agentledger.tenant_id', true);
    BEGIN
        IF NOT agentledger.is_platform() THEN
            RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
                MESSAGE = 'tenants'' rows are counted only through the platform scope';
        END IF;
        PERFORM set_config('agentledger.tenant_id', p_tenant, true);
        PERFORM 1 FROM agentledger.tenants t WHERE t.id = p_tenant;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'ALNF0', COLUMN = 'id',
                MESSAGE = 'tenant ' || quote_literal(p_tenant) || ' does not exist';
        END IF;
        FOREACH v_relation IN ARRAY agentledger.tenant_tables_v1() LOOP
            table_name := v_relation::text;
            EXECUTE 'SELECT count(*) FROM ' || v_relation::text || ' WHERE tenant_id = $1'
                INTO row_count USING p_tenant;
            RETURN NEXT;
        END LOOP;
        PERFORM set_config('agentledger.tenant_id', coalesce(v_bound, ''), true);
    END
    $fn$;
    REVOKE ALL ON FUNCTION agentledger.tenant_rows_v1(text) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.tenant_rows_v1(text) TO "{role}";
    """)


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION agentledger.tenant_rows_v1(text);
    DROP FUNCTION agentledger.purge_tenant_v1(text, integer);
    DROP FUNCTION agentledger.tenant_tables_v1();
    """)
