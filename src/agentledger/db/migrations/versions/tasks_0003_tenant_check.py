"""Tasks: the tenant reference checked once per statement instead of once per row.

A foreign key checks each inserted row on its own (a lookup and a KEY SHARE lock of the
tenant, per row): for a batch enqueue of 20k tasks that was ~40% of the statement's server
time, all of it spent confirming the same tenant 20k times. The same guarantee now comes
from a statement trigger that locks each distinct tenant of the batch (KEY SHARE, as the
foreign key does, so a concurrent delete of the tenant waits for the batch and then sees its
tasks) and refuses the statement when one does not exist, plus row triggers for the rarer
paths: a task moved to another tenant, and a tenant deleted or renamed while it has tasks.
The errors keep the foreign key's SQLSTATE (23503) and constraint name.

Revision ID: tasks_0003
Revises: tasks_0002
"""

from __future__ import annotations

from alembic import op

revision = "tasks_0003"
down_revision = "tasks_0002"
branch_labels = None
depends_on = None

CHECKS = """
ALTER TABLE agentledger.tasks DROP CONSTRAINT tasks_tenant_id_fkey;

-- Raises the foreign key's error for a tenant that does not exist.
CREATE FUNCTION agentledger.tasks_tenant_missing(p_tenant text) RETURNS void
    LANGUAGE plpgsql
AS $fn$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
        CONSTRAINT = 'tasks_tenant_id_fkey', TABLE = 'tasks', SCHEMA = 'agentledger',
        MESSAGE = 'tenant ' || quote_literal(p_tenant) || ' does not exist';
END
$fn$;

-- SECURITY DEFINER: the writer need not see or lock tenants itself (a foreign key's checks
-- run as the table's owner too).
CREATE FUNCTION agentledger.tasks_tenants_exist() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_wanted text[];
    v_found text[];
BEGIN
    SELECT array_agg(DISTINCT a.tenant_id) INTO v_wanted FROM added a;
    SELECT coalesce(array_agg(l.id), '{}') INTO v_found
    FROM (SELECT t.id FROM agentledger.tenants t WHERE t.id = ANY(v_wanted)
          FOR KEY SHARE OF t) l;
    IF cardinality(v_found) < cardinality(v_wanted) THEN
        PERFORM agentledger.tasks_tenant_missing(
            (SELECT w FROM unnest(v_wanted) AS w WHERE w <> ALL(v_found) LIMIT 1));
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER tasks_tenants_exist AFTER INSERT ON agentledger.tasks
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.tasks_tenants_exist();

CREATE FUNCTION agentledger.tasks_tenant_moved() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
        PERFORM 1 FROM agentledger.tenants t WHERE t.id = NEW.tenant_id FOR KEY SHARE OF t;
        IF NOT FOUND THEN
            PERFORM agentledger.tasks_tenant_missing(NEW.tenant_id);
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER tasks_tenant_moved AFTER UPDATE OF tenant_id ON agentledger.tasks
    FOR EACH ROW EXECUTE FUNCTION agentledger.tasks_tenant_moved();

-- The other side of the reference: a tenant with tasks keeps its id.
CREATE FUNCTION agentledger.tenants_keep_tasks() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF (TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id)
       AND EXISTS (SELECT 1 FROM agentledger.tasks t WHERE t.tenant_id = OLD.id) THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            CONSTRAINT = 'tasks_tenant_id_fkey', TABLE = 'tasks', SCHEMA = 'agentledger',
            MESSAGE = 'tenant ' || quote_literal(OLD.id) || ' still has tasks';
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER tenants_keep_tasks AFTER DELETE OR UPDATE OF id ON agentledger.tenants
    FOR EACH ROW EXECUTE FUNCTION agentledger.tenants_keep_tasks();
"""


def upgrade() -> None:
    op.execute(CHECKS)


def downgrade() -> None:
    op.execute("""
    DROP TRIGGER tenants_keep_tasks ON agentledger.tenants;
    DROP FUNCTION agentledger.tenants_keep_tasks();
    DROP TRIGGER tasks_tenant_moved ON agentledger.tasks;
    DROP FUNCTION agentledger.tasks_tenant_moved();
    DROP TRIGGER tasks_tenants_exist ON agentledger.tasks;
    DROP FUNCTION agentledger.tasks_tenants_exist();
    DROP FUNCTION agentledger.tasks_tenant_missing(text);
    ALTER TABLE agentledger.tasks ADD CONSTRAINT tasks_tenant_id_fkey
        FOREIGN KEY (tenant_id) REFERENCES agentledger.tenants (id);
    """)
