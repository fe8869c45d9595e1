"""Events: the tenant reference checked once per statement instead of once per row.

The foreign key looked the tenant up and locked its row (KEY SHARE) for every inserted
event: about a quarter of a 1,000-event batch's time, spent confirming the same tenant a
thousand times, and under concurrent single appends every writer of a tenant shared locks
on the one tenant row. The same guarantee now comes from triggers:

- a statement trigger refuses a statement whose events name a tenant that does not exist,
  with the foreign key's error (SQLSTATE 23503, constraint ``events_tenant_id_fkey``). It
  first takes the shared lock of each tenant's feed, which every append holds already
  (``events_feed_order_v1``), and keeps it until commit;
- a tenant deleted or renamed takes its feed's lock exclusively, so it waits for the
  appends in flight, and is refused while the tenant has events;
- an event moved to another tenant is checked as an insert is.

Under read committed, the library's isolation, each check reads after the lock it waits
for, so a delete and an append never both succeed.

Revision ID: audit_0012
Revises: audit_0011
"""

from __future__ import annotations

from alembic import op

revision = "audit_0012"
down_revision = "audit_0011"
branch_labels = None
depends_on = None

CHECKS = """
ALTER TABLE agentledger.events DROP CONSTRAINT events_tenant_id_fkey;

-- Raises the foreign key's error for a tenant that does not exist.
CREATE FUNCTION agentledger.events_tenant_missing(p_tenant text) RETURNS void
    LANGUAGE plpgsql
AS $fn$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
        CONSTRAINT = 'events_tenant_id_fkey', TABLE = 'events', SCHEMA = 'agentledger',
        MESSAGE = 'tenant ' || quote_literal(p_tenant) || ' does not exist';
END
$fn$;

-- Runs as the writer: tenant isolation has already held each row to the bound tenant, which
-- the writer sees (or to any tenant, for a platform or owner session, which sees them all).
CREATE FUNCTION agentledger.events_tenants_exist() RETURNS trigger
    LANGUAGE plpgsql
AS $fn$
DECLARE
    v_missing text;
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended('agentledger.feed/' || d.tenant_id, 0))
    FROM (SELECT DISTINCT a.tenant_id FROM added a) d;
    SELECT a.tenant_id INTO v_missing
    FROM added a
    WHERE NOT EXISTS (SELECT 1 FROM agentledger.tenants t WHERE t.id = a.tenant_id)
    LIMIT 1;
    IF FOUND THEN
        PERFORM agentledger.events_tenant_missing(v_missing);
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER events_tenants_exist AFTER INSERT ON agentledger.events
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION agentledger.events_tenants_exist();

CREATE FUNCTION agentledger.events_tenant_moved() RETURNS trigger
    LANGUAGE plpgsql
AS $fn$
BEGIN
    IF NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
        PERFORM pg_advisory_xact_lock_shared(
            hashtextextended('agentledger.feed/' || NEW.tenant_id, 0));
        PERFORM 1 FROM agentledger.tenants t WHERE t.id = NEW.tenant_id;
        IF NOT FOUND THEN
            PERFORM agentledger.events_tenant_missing(NEW.tenant_id);
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER events_tenant_moved AFTER UPDATE OF tenant_id ON agentledger.events
    FOR EACH ROW EXECUTE FUNCTION agentledger.events_tenant_moved();

-- The other side of the reference: a tenant with events keeps its id. Definer: the check
-- must see the tenant's events whoever deletes it.
CREATE FUNCTION agentledger.tenants_keep_events() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('agentledger.feed/' || OLD.id, 0));
        IF EXISTS (SELECT 1 FROM agentledger.events e WHERE e.tenant_id = OLD.id) THEN
            RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
                CONSTRAINT = 'events_tenant_id_fkey', TABLE = 'events', SCHEMA = 'agentledger',
                MESSAGE = 'tenant ' || quote_literal(OLD.id) || ' still has events';
        END IF;
    END IF;
    RETURN NULL;
END
$fn$;
CREATE TRIGGER tenants_keep_events AFTER DELETE OR UPDATE OF id ON agentledger.tenants
    FOR EACH ROW EXECUTE FUNCTION agentledger.tenants_keep_events();
"""


def upgrade() -> None:
    op.execute(CHECKS)


def downgrade() -> None:
    op.execute("""
    DROP TRIGGER tenants_keep_events ON agentledger.tenants;
    DROP FUNCTION agentledger.tenants_keep_events();
    DROP TRIGGER events_tenant_moved ON agentledger.events;
    DROP FUNCTION agentledger.events_tenant_moved();
    DROP TRIGGER events_tenants_exist ON agentledger.events;
    DROP FUNCTION agentledger.events_tenants_exist();
    DROP FUNCTION agentledger.events_tenant_missing(text);
    ALTER TABLE agentledger.events ADD CONSTRAINT events_tenant_id_fkey
        FOREIGN KEY (tenant_id) REFERENCES agentledger.tenants (id);
    """)
