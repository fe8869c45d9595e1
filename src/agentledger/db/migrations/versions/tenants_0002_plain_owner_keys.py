"""Tenants: API keys found by a plain (non-superuser) migration owner.

``authenticate_key`` finds a key by its hash before any tenant is bound, reading
``api_keys`` and ``tenants`` and noting the key's use. It runs as the migration owner
(SECURITY DEFINER); a superuser owner bypasses row-level security, but a plain one (a
managed service's administrator: RDS, Cloud SQL, Azure) is under the tables' FORCEd tenant
policies like anyone else, and without these policies would find no key. They let the
owner, and so the definer functions, read every tenant's keys and tenants and note a key's
use. Inert for a superuser owner; never created for the app role.

Revision ID: tenants_0002
Revises: tenants_0001
"""

from __future__ import annotations

from alembic import op

from agentledger.db.migrations.helpers import app_role

revision = "tenants_0002"
down_revision = "tenants_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    role = app_role()
    # Only the validated app role is interpolated.
    op.execute(f"""
    DO $do$
    BEGIN
        IF current_user <> '{role}' THEN
            CREATE POLICY definer_keys ON agentledger.api_keys
                FOR SELECT TO CURRENT_USER USING (true);
            CREATE POLICY definer_key_use ON agentledger.api_keys
                FOR UPDATE TO CURRENT_USER USING (true) WITH CHECK (true);
            CREATE POLICY definer_keys ON agentledger.tenants
                FOR SELECT TO CURRENT_USER USING (true);
        END IF;
    END
    $do$;
    """)


def downgrade() -> None:
    op.execute("""
    DROP POLICY IF EXISTS definer_keys ON agentledger.tenants;
    DROP POLICY IF EXISTS definer_key_use ON agentledger.api_keys;
    DROP POLICY IF EXISTS definer_keys ON agentledger.api_keys;
    """)
