"""Tenants: console sign-ins kept in the database, so that every process serving the
console knows them.

A browser signed in to the console holds its tenant's id and a random token in its cookie;
``sign_ins`` keeps the token's SHA-256 (reading the table signs no one in), the API key it
was opened with and the sign-in's CSRF token, keyed by tenant like every tenant table. A
sign-in is live until it expires, is ended, or its key is revoked; deleting the key deletes
its sign-ins. The functions run before any tenant is bound (hence SECURITY DEFINER), like
``authenticate_key``: ``sign_in`` opens one for a live key (and clears the tenant's expired
ones), ``signed_in`` reads a live one, ``sign_out`` ends one.

Revision ID: tenants_0001
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "tenants_0001"
down_revision = "0001"
branch_labels = ("tenants",)
depends_on = None


def upgrade() -> None:
    role = app_role()
    # Only the validated app role is interpolated.
    op.execute(f"""
    CREATE TABLE agentledger.sign_ins (
        tenant_id   text NOT NULL,
        token_hash  bytea NOT NULL,
        key_id      uuid NOT NULL,
        csrf        text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL,
        PRIMARY KEY (tenant_id, token_hash),
        CONSTRAINT sign_ins_key FOREIGN KEY (tenant_id, key_id)
            REFERENCES agentledger.api_keys (tenant_id, id) ON DELETE CASCADE
    );
    COMMENT ON TABLE agentledger.sign_ins IS
        'Console sign-ins: the SHA-256 of each browser''s session token, and its key';
    CREATE INDEX sign_ins_expiry ON agentledger.sign_ins (tenant_id, expires_at);
    CREATE INDEX sign_ins_key_id ON agentledger.sign_ins (tenant_id, key_id);
    ALTER TABLE agentledger.sign_ins ENABLE ROW LEVEL SECURITY;
    ALTER TABLE agentledger.sign_ins FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON agentledger.sign_ins
        USING (tenant_id = agentledger.current_tenant())
        WITH CHECK (tenant_id = agentledger.current_tenant());
    -- Written through the functions below only; a bound tenant may see its own.
    GRANT SELECT ON agentledger.sign_ins TO "{role}";
    -- A plain (non-superuser) owner is itself under the FORCEd tenant policy; this policy
    -- lets it, and so the definer functions below, open, read and end the sign-ins of every
    -- tenant (they find a sign-in by its token before a tenant is bound). Inert for a
    -- superuser owner; never created for the app role.
    DO $do$
    BEGIN
        IF current_user <> '{role}' THEN
            CREATE POLICY definer_sign_ins ON agentledger.sign_ins
                TO CURRENT_USER USING (true) WITH CHECK (true);
        END IF;
    END
    $do$;

    -- Open a sign-in for the live key with this hash, lasting p_seconds; its identity and
    -- expiry, or no row for a key unknown or revoked. The same token again (a retried call)
    -- renews it. The tenant's expired sign-ins are cleared on the way.
    CREATE FUNCTION agentledger.sign_in(
        p_key_hash bytea, p_token_hash bytea, p_csrf text, p_seconds double precision
    ) RETURNS TABLE (
        tenant_id text, key_id uuid, role text, tenant_status text, csrf text,
        expires_at timestamptz
    )
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
        WITH hit AS (
            SELECT k.tenant_id, k.id, k.role, t.status
            FROM agentledger.api_keys k JOIN agentledger.tenants t ON t.id = k.tenant_id
            WHERE k.hash = p_key_hash AND k.revoked_at IS NULL
        ), swept AS (
            DELETE FROM agentledger.sign_ins s USING hit
            WHERE s.tenant_id = hit.tenant_id AND s.expires_at <= now()
              AND s.token_hash <> p_token_hash
        ), opened AS (
            INSERT INTO agentledger.sign_ins AS s
                (token_hash, tenant_id, key_id, csrf, expires_at)
            SELECT p_token_hash, hit.tenant_id, hit.id, p_csrf,
                   now() + make_interval(secs => p_seconds)
            FROM hit
            ON CONFLICT (tenant_id, token_hash) DO UPDATE SET expires_at = EXCLUDED.expires_at
                WHERE s.key_id = EXCLUDED.key_id
            RETURNING s.csrf, s.expires_at
        ), touched AS (
            UPDATE agentledger.api_keys k SET last_used_at = now()
            FROM hit
            WHERE k.tenant_id = hit.tenant_id AND k.id = hit.id
              AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
        )
        SELECT hit.tenant_id, hit.id, hit.role, hit.status, opened.csrf, opened.expires_at
        FROM hit, opened
    $fn$;
    REVOKE ALL ON FUNCTION agentledger.sign_in(bytea, bytea, text, double precision)
        FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.sign_in(bytea, bytea, text, double precision)
        TO "{role}";

    -- The tenant's live sign-in with this token hash (not expired, its key not revoked):
    -- its identity, CSRF token and expiry; the key's use is noted at most once a minute.
    CREATE FUNCTION agentledger.signed_in(p_tenant text, p_token_hash bytea)
        RETURNS TABLE (
            tenant_id text, key_id uuid, role text, tenant_status text, csrf text,
            expires_at timestamptz
        )
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
        WITH hit AS (
            SELECT s.tenant_id, s.key_id, k.role, t.status, s.csrf, s.expires_at
            FROM agentledger.sign_ins s
            JOIN agentledger.api_keys k ON k.tenant_id = s.tenant_id AND k.id = s.key_id
            JOIN agentledger.tenants t ON t.id = s.tenant_id
            WHERE s.tenant_id = p_tenant AND s.token_hash = p_token_hash
              AND s.expires_at > now()
              AND k.revoked_at IS NULL
        ), touched AS (
            UPDATE agentledger.api_keys k SET last_used_at = now()
            FROM hit
            WHERE k.tenant_id = hit.tenant_id AND k.id = hit.key_id
              AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute')
        )
        SELECT tenant_id, key_id, role, status, csrf, expires_at FROM hit
    $fn$;
    REVOKE ALL ON FUNCTION agentledger.signed_in(text, bytea) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.signed_in(text, bytea) TO "{role}";

    -- End the tenant's sign-in with this token hash; whether there was one.
    CREATE FUNCTION agentledger.sign_out(p_tenant text, p_token_hash bytea) RETURNS boolean
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $fn$
        WITH ended AS (
            DELETE FROM agentledger.sign_ins s
            WHERE s.tenant_id = p_tenant AND s.token_hash = p_token_hash
            RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM ended)
    $fn$;
    REVOKE ALL ON FUNCTION agentledger.sign_out(text, bytea) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION agentledger.sign_out(text, bytea) TO "{role}";
    """)


def downgrade() -> None:
    op.execute("""
    DROP FUNCTION agentledger.sign_out(text, bytea);
    DROP FUNCTION agentledger.signed_in(text, bytea);
    DROP FUNCTION agentledger.sign_in(bytea, bytea, text, double precision);
    DROP TABLE agentledger.sign_ins;
    """)
