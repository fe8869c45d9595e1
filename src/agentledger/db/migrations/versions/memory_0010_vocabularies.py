"""Vocabularies: a tenant may declare the entity kinds and relationship types it allows.

One row per tenant and domain (``kind`` or ``relationship_type``) holds the allowed terms;
no row leaves the domain open. Row triggers check each inserted entity's kind and edge's
type, and each update that changes one, against the bound tenant's row, and raise
InvalidInput (SQLSTATE ALII0) naming the column and listing the allowed terms, so every
client that writes through the app role is held to it. A merge that keeps the kind skips
the check (the update trigger's WHEN), so the hot merge path pays nothing.

Revision ID: memory_0010
Revises: memory_0009
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, tenant_table

revision = "memory_0010"
down_revision = "memory_0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = app_role()
    # Only validated identifiers are interpolated (app_role, tenant_table).
    op.execute(f"""
    CREATE TABLE agentledger.memory_vocabularies (
        tenant_id  text NOT NULL REFERENCES agentledger.tenants (id),
        domain     text NOT NULL CONSTRAINT memory_vocabularies_domain
                   CHECK (domain IN ('kind', 'relationship_type')),
        terms      text[] NOT NULL CONSTRAINT memory_vocabularies_terms
                   CHECK (cardinality(terms) BETWEEN 1 AND 1000),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, domain)
    );
    {tenant_table("memory_vocabularies")}

    CREATE FUNCTION agentledger.memory_check_kind() RETURNS trigger
        LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp
    AS $fn$
    DECLARE
        v_terms text[];
    BEGIN
        SELECT v.terms INTO v_terms FROM agentledger.memory_vocabularies v
        WHERE v.tenant_id = NEW.tenant_id AND v.domain = 'kind';
        IF v_terms IS NOT NULL AND NOT NEW.kind = ANY(v_terms) THEN
            RAISE EXCEPTION USING ERRCODE = 'ALII0', COLUMN = 'kind',
                MESSAGE = 'kind ' || quote_literal(NEW.kind)
                    || ' is not in this tenant''s vocabulary; allowed: '
                    || array_to_string(v_terms, ', ');
        END IF;
        RETURN NEW;
    END
    $fn$;

    CREATE FUNCTION agentledger.memory_check_relationship_type() RETURNS trigger
        LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp
    AS $fn$
    DECLARE
        v_terms text[];
    BEGIN
        SELECT v.terms INTO v_terms FROM agentledger.memory_vocabularies v
        WHERE v.tenant_id = NEW.tenant_id AND v.domain = 'relationship_type';
        IF v_terms IS NOT NULL AND NOT NEW.type = ANY(v_terms) THEN
            RAISE EXCEPTION USING ERRCODE = 'ALII0', COLUMN = 'type',
                MESSAGE = 'relationship type ' || quote_literal(NEW.type)
                    || ' is not in this tenant''s vocabulary; allowed: '
                    || array_to_string(v_terms, ', ');
        END IF;
        RETURN NEW;
    END
    $fn$;

    CREATE TRIGGER memory_entities_kind_insert
        BEFORE INSERT ON agentledger.memory_entities
        FOR EACH ROW EXECUTE FUNCTION agentledger.memory_check_kind();
    CREATE TRIGGER memory_entities_kind_update
        BEFORE UPDATE OF kind ON agentledger.memory_entities
        FOR EACH ROW WHEN (NEW.kind IS DISTINCT FROM OLD.kind)
        EXECUTE FUNCTION agentledger.memory_check_kind();
    CREATE TRIGGER memory_relationships_type_insert
        BEFORE INSERT ON agentledger.memory_relationships
        FOR EACH ROW EXECUTE FUNCTION agentledger.memory_check_relationship_type();
    CREATE TRIGGER memory_relationships_type_update
        BEFORE UPDATE OF type ON agentledger.memory_relationships
        FOR EACH ROW WHEN (NEW.type IS DISTINCT FROM OLD.type)
        EXECUTE FUNCTION agentledger.memory_check_relationship_type();
    REVOKE ALL ON FUNCTION agentledger.memory_check_kind() FROM PUBLIC;
    REVOKE ALL ON FUNCTION agentledger.memory_check_relationship_type() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.memory_check_kind() TO "{role}";
    GRANT EXECUTE ON FUNCTION agentledger.memory_check_relationship_type() TO "{role}";
    """)


def downgrade() -> None:
    op.execute("""
    DROP TRIGGER memory_relationships_type_update ON agentledger.memory_relationships;
    DROP TRIGGER memory_relationships_type_insert ON agentledger.memory_relationships;
    DROP TRIGGER memory_entities_kind_update ON agentledger.memory_entities;
    DROP TRIGGER memory_entities_kind_insert ON agentledger.memory_entities;
    DROP FUNCTION agentledger.memory_check_relationship_type();
    DROP FUNCTION agentledger.memory_check_kind();
    DROP TABLE agentledger.memory_vocabularies;
    """)
