"""Foundation: schema, app role, tenant binding, tenants and API keys.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role, tenant_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = app_role()
    # Only validated identifiers are interpolated (app_role, tenant_table).
    op.execute(f"""
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        END IF;
    END $$;

    DO $$
    DECLARE ext text;
    BEGIN
        FOREACH ext IN ARRAY ARRAY['pg_trgm', 'vector'] LOOP
            IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = ext) THEN
                EXECUTE 'CREATE EXTENSION IF NOT EXISTS ' || quote_ident(ext);
            END IF;
        END LOOP;
    END $$;

    CREATE SCHEMA agentledger;
    GRANT USAGE ON SCHEMA agentledger TO "{role}";

    -- The tenant a transaction is bound to ('' or NULL when unbound: matches no row).
    CREATE FUNCTION agentledger.current_tenant() RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE
        RETURN current_setting('agentledger.tenant_id', true);

    CREATE FUNCTION agentledger.is_platform() RETURNS boolean
        LANGUAGE sql STABLE PARALLEL SAFE
        RETURN coalesce(current_setting('agentledger.platform', true), '') = 'on';

    CREATE TABLE agentledger.tenants (
        id          text PRIMARY KEY
                    CONSTRAINT tenants_id_format
                    CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{{0,63}}$'),
        name        text NOT NULL CONSTRAINT tenants_name_length
                    CHECK (length(name) BETWEEN 1 AND 200),
        status      text NOT NULL DEFAULT 'active'
                    CONSTRAINT tenants_status CHECK (status IN ('active', 'suspended', 'archived')),
        metadata    jsonb NOT NULL DEFAULT '{{}}',
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now()
    );
    ALTER TABLE agentledger.tenants ENABLE ROW LEVEL SECURITY;
    CREATE POLICY tenant_visibility ON agentledger.tenants
        USING (id = agentledger.current_tenant() OR agentledger.is_platform())
        WITH CHECK (agentledger.is_platform());
    GRANT SELECT, INSERT, UPDATE ON agentledger.tenants TO "{role}";

    -- Bind the current transaction to a tenant. Suspended tenants get a read-only
    -- transaction (PostgreSQL itself refuses their writes); archived tenants nothing.
    CREATE FUNCTION agentledger.bind_tenant(p_tenant text) RETURNS text
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
    DECLARE
        v_status text;
    BEGIN
        SELECT status INTO v_status FROM agentledger.tenants WHERE id = p_tenant;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'ALNF0', COLUMN = 'tenant_id',
                MESSAGE = 'tenant ' || quote_literal(p_tenant) || ' does not exist';
        END IF;
        IF v_status = 'archived' THEN
            RAISE EXCEPTION USING ERRCODE = 'ALTI0', MESSAGE = 'tenant '
                || quote_literal(p_tenant) || ' is archived: it can neither read nor write';
        END IF;
        PERFORM set_config('agentledger.tenant_id', p_tenant, true);
        PERFORM set_config('agentledger.platform', 'off', true);
        IF v_status = 'suspended' THEN
            SET LOCAL transaction_read_only = on;
        END IF;
        RETURN v_status;
    END
    $fn$;
    REVOKE ALL ON FUNCTION agentledger.bind_tenant(text) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.bind_tenant(text) TO "{role}";

    CREATE TABLE agentledger.api_keys (
        tenant_id    text NOT NULL REFERENCES agentledger.tenants (id),
        id           uuid NOT NULL DEFAULT gen_random_uuid(),
        name         text NOT NULL DEFAULT '',
        role         text NOT NULL
                     CONSTRAINT api_keys_role CHECK (role IN ('admin', 'writer', 'reader')),
        prefix       text NOT NULL,
        hash         bytea NOT NULL CONSTRAINT api_keys_hash_unique UNIQUE,
        created_at   timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at   timestamptz,
        PRIMARY KEY (tenant_id, id)
    );
    {tenant_table("api_keys", "SELECT, INSERT, UPDATE")}

    -- Find the live key with this hash, before any tenant is bound (hence SECURITY DEFINER),
    -- and note its use at most once a minute.
    CREATE FUNCTION agentledger.authenticate_key(p_hash bytea)
        RETURNS TABLE (tenant_id text, key_id uuid, role text, tenant_status text)
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
        WITH hit AS (
            SELECT k.tenant_id, k.id, k.role, t.status
            FROM agentledger.api_keys k JOIN agentledger.tenants t ON t.id = k.tenant_id
            WHERE k.hash = p_hash AND k.revoked_at IS NULL
        ), touched AS (
            UPDATE agentledger.api_keys k SET last_used_at = now()
            FROM hit
            WHERE k.tenant_id = hit.tenant_id AND k.id = hit.id
              AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
        )
        SELECT tenant_id, id, role, status FROM hit
    $fn$;
    REVOKE ALL ON FUNCTION agentledger.authenticate_key(bytea) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.authenticate_key(bytea) TO "{role}";
    """)


def downgrade() -> None:
    op.execute("DROP SCHEMA agentledger CASCADE")
