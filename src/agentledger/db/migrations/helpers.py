"""Shared pieces of migration SQL: the app role's grants and the tenant isolation policy.

Every revision keeps the same small ``upgrade()`` / ``downgrade()`` shape; these helpers only
return SQL text, so a revision reads top to bottom as the SQL it runs.
"""

from __future__ import annotations

import re

from alembic import op

VERSION_TABLE = "agentledger_version"
DEFAULT_APP_ROLE = "agentledger_app"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def app_role() -> str:
    """The application role's name (from the migration runner; validated, safe to quote)."""
    role = op.get_context().config.attributes.get("app_role", DEFAULT_APP_ROLE)  # type: ignore[union-attr]
    if not _IDENT.fullmatch(role):
        raise ValueError(f"app role {role!r} is not a plain identifier")
    return str(role)


def tenant_table(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> str:
    """SQL that puts ``agentledger.<table>`` under tenant isolation and grants the app role."""
    if not _IDENT.fullmatch(table):
        raise ValueError(f"table {table!r} is not a plain identifier")
    return f"""
    ALTER TABLE agentledger.{table} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE agentledger.{table} FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON agentledger.{table}
        USING (tenant_id = agentledger.current_tenant())
        WITH CHECK (tenant_id = agentledger.current_tenant());
    GRANT {privileges} ON agentledger.{table} TO "{app_role()}";
    """


def swap(text: str, old: str, new: str) -> str:
    """``text`` with its one occurrence of ``old`` replaced: how a revision derives a new
    version of an earlier revision's function (whose text never changes) without a copy."""
    if text.count(old) != 1:
        raise AssertionError(f"expected one occurrence of {old[:60]!r}")
    return text.replace(old, new)
