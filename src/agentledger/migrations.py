"""What an application's own revisions build with: a schema of its own, tenant tables, the
application role.

A revision registered with agentledger (docs/app-tables.md) imports these the way the
core's revisions import ``db/migrations/helpers.py``::

    from agentledger.migrations import create_schema, create_tenant_table

Every identifier is checked against a plain lowercase name and quoted; the column
definitions are the revision's own SQL, written in its file, never built from input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from alembic import op

from agentledger.db.migrations.helpers import app_role

__all__ = ["PRIVILEGES", "app_role", "create_schema", "create_tenant_table", "tenant_table_sql"]

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Schemas an application's tables stay out of: the core's, and PostgreSQL's own.
_RESERVED = re.compile(r"^(agentledger|information_schema|pg_.*)$")
# A column definition (at the start, or after a comma) named tenant_id.
_TENANT_COLUMN = re.compile(r'(?:^|,)\s*"?tenant_id"?\s+\w', re.IGNORECASE)


def create_schema(schema: str) -> None:
    """Create ``schema`` for the application's tables and let the app role use it.

    Its downgrade is the revision's own ``DROP SCHEMA <schema>``."""
    name = _schema(schema)
    op.execute(f'CREATE SCHEMA "{name}";\nGRANT USAGE ON SCHEMA "{name}" TO "{app_role()}";')


def create_tenant_table(
    table: str,
    columns: str,
    *,
    primary_key: str | Sequence[str] = ("id",),
    privileges: Sequence[str] = PRIVILEGES,
) -> None:
    """Create a table that belongs to tenants, as every table of the core does.

    ``table`` is ``"<schema>.<name>"``, in a schema of the application's own (see
    :func:`create_schema`); ``columns`` are the table's column definitions and table
    constraints, without ``tenant_id``, which the table gets first: ``text NOT NULL``,
    defaulting to the tenant the transaction is bound to, referencing
    ``agentledger.tenants``. The primary key is ``tenant_id`` then ``primary_key``. Row-level
    security is enabled and forced, with the core's policy (a row is visible and writable
    only in a transaction bound to its tenant), and the app role is granted ``privileges``
    (some of SELECT, INSERT, UPDATE, DELETE). The downgrade is the revision's own
    ``DROP TABLE``.
    """
    op.execute(tenant_table_sql(table, columns, primary_key=primary_key, privileges=privileges))


def tenant_table_sql(
    table: str,
    columns: str,
    *,
    primary_key: str | Sequence[str] = ("id",),
    privileges: Sequence[str] = PRIVILEGES,
    role: str | None = None,
) -> str:
    """The SQL :func:`create_tenant_table` runs (ValueError naming what is wrong); the
    grants go to ``role``, by default the app role of the migration running."""
    schema, _, name = table.partition(".")
    if not name:
        raise ValueError(f"table {table!r} is not <schema>.<name>: name its schema")
    qualified = f'"{_schema(schema)}"."{_ident(name, "table name")}"'
    if not isinstance(columns, str) or not columns.strip():
        raise ValueError("columns must be the table's column definitions, as SQL text")
    if _TENANT_COLUMN.search(columns.strip()):
        raise ValueError("columns define tenant_id: leave it out, the table gets it first")
    keys = [primary_key] if isinstance(primary_key, str) else list(primary_key)
    for key in keys:
        if _ident(key, "primary key column") == "tenant_id":
            raise ValueError("primary_key names tenant_id: the key starts with it already")
    grants = [_privilege(p) for p in privileges]
    if not grants:
        raise ValueError(f"privileges is empty: grant some of {', '.join(PRIVILEGES)}")
    key = ", ".join(["tenant_id", *(f'"{k}"' for k in keys)])
    body = columns.strip().rstrip(",")
    granted = ", ".join(dict.fromkeys(grants))
    grantee = _ident(role, "role") if role is not None else app_role()
    # Only checked identifiers and the revision's own column SQL are interpolated.
    return f"""
    CREATE TABLE {qualified} (
        tenant_id text NOT NULL DEFAULT agentledger.current_tenant()
                  REFERENCES agentledger.tenants (id),
        {body},
        PRIMARY KEY ({key})
    );
    ALTER TABLE {qualified} ENABLE ROW LEVEL SECURITY;
    ALTER TABLE {qualified} FORCE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON {qualified}
        USING (tenant_id = agentledger.current_tenant())
        WITH CHECK (tenant_id = agentledger.current_tenant());
    GRANT {granted} ON {qualified} TO "{grantee}";
    """


def _schema(schema: str) -> str:
    name = _ident(schema, "schema")
    if _RESERVED.fullmatch(name):
        raise ValueError(
            f"schema {name!r} is not the application's: put its tables in a schema of its own"
        )
    return name


def _ident(value: str, what: str) -> str:
    if not isinstance(value, str) or not _IDENT.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a plain lowercase identifier")
    return value


def _privilege(value: str) -> str:
    upper = value.upper() if isinstance(value, str) else value
    if upper not in PRIVILEGES:
        raise ValueError(f"privilege {value!r} is not one of {', '.join(PRIVILEGES)}")
    return str(upper)
