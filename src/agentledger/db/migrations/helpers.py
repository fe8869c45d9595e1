"""Shared pieces of migration SQL: the app role, tenant isolation, functions on extensions.

Every revision keeps the same small ``upgrade()`` / ``downgrade()`` shape; these helpers only
return SQL text around what the revision itself writes, so a revision reads top to bottom as
the SQL it runs. No revision reads another revision's text.
"""

from __future__ import annotations

import re

from alembic import op

VERSION_TABLE = "agentledger_version"
DEFAULT_APP_ROLE = "agentledger_app"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# The extensions create_function resolves the schema of (the DO block declares v_<name>).
_EXTENSIONS = ("pg_trgm", "vector")


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


def create_function(name: str, ddl: str, needs: tuple[str, ...], role: str) -> str:
    """A DO block that runs ``ddl`` (one function's full ``CREATE [OR REPLACE] FUNCTION``)
    when the extensions in ``needs`` are installed, then revokes it from PUBLIC and grants
    EXECUTE on ``agentledger.<name>`` to ``role``. Without them it does nothing: the library
    checks the extension before calling such a function and raises MissingExtension.

    Extensions may live in any schema, and the function's ``search_path`` is only
    ``pg_catalog, pg_temp``, so ``ddl`` names their objects through tokens replaced by the
    installed schema: ``@trgm@`` (pg_trgm's, e.g. ``@trgm@.similarity``), ``@vector@``
    (pgvector's) and ``@similar@`` (pg_trgm's similarity operator, written
    ``OPERATOR(<schema>.%)`` with ``chr(37)`` so that no percent sign reaches the migration
    runner). ``ddl`` never holds ``$body$``; ``role`` is the validated app role.
    """
    for ident in (name, role):
        if not _IDENT.fullmatch(ident):
            raise ValueError(f"{ident!r} is not a plain identifier")
    unknown = set(needs) - set(_EXTENSIONS)
    if unknown:
        raise ValueError(f"no schema token for extensions {sorted(unknown)}")
    present = " AND ".join(f"v_{ext} IS NOT NULL" for ext in needs) or "true"
    # Only validated identifiers and the revision's own DDL are interpolated (S608).
    return (
        """
    DO $do$
    DECLARE
        v_pg_trgm text := (SELECT extnamespace::regnamespace::text FROM pg_extension
                           WHERE extname = 'pg_trgm');
        v_vector text := (SELECT extnamespace::regnamespace::text FROM pg_extension
                          WHERE extname = 'vector');
    BEGIN
        IF """  # noqa: S608
        + present
        + """ THEN
            EXECUTE replace(replace(replace($body$"""
        + ddl
        + """$body$,
                '@similar@', 'OPERATOR(' || v_pg_trgm || '.' || chr(37) || ')'),
                '@trgm@', coalesce(v_pg_trgm, 'public')),
                '@vector@', coalesce(v_vector, 'public'));
            REVOKE ALL ON FUNCTION agentledger."""
        + name
        + """ FROM PUBLIC;
            GRANT EXECUTE ON FUNCTION agentledger."""
        + name
        + ' TO "'
        + role
        + """";
        END IF;
    END
    $do$;
    """
    )
