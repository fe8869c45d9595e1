"""Regenerate ``src/agentledger/db/schema.sql``: the schema of a database migrated from empty.

Migrates a new database to the heads on a throwaway embedded server (or on DATABASE_URL's
server, which must let the caller create databases) and writes its normalized dump.
``--check`` writes nothing: it exits 1 with a diff when schema.sql disagrees with the
migrations, and 2 when this server cannot be compared (another PostgreSQL major version, or
other optional extensions).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from agentledger.db import migrate, schema
from agentledger.db.embedded import FAST_OPTIONS, EmbeddedServer


@contextmanager
def _server() -> Iterator[str]:
    """The maintenance URL of DATABASE_URL's server, or of a throwaway embedded one."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedServer(
        Path(tempfile.mkdtemp(prefix="agentledger-schema-")), options=FAST_OPTIONS
    )
    server.start()
    try:
        yield server.url("postgres")
    finally:
        server.stop(mode="immediate")
        shutil.rmtree(server.data_dir, ignore_errors=True)


@contextmanager
def _empty_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards."""
    name = f"al_schema_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server_url, dbname=name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def migrated_schema() -> str:
    """The normalized dump of a database migrated from empty to the heads."""
    with _server() as server_url, _empty_database(server_url) as url:
        migrate.upgrade(url)
        return schema.dump(url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing (exit 1 on a diff)"
    )
    args = parser.parse_args()
    path = schema.SCHEMA_SQL
    try:
        actual = migrated_schema()
        # Also when writing: a server unlike the one schema.sql came from (another major
        # version, other extensions) would rewrite it with differences of its own.
        difference = schema.compare(path.read_text(), actual) if path.exists() else actual
    except schema.Incomparable as exc:
        print(f"cannot compare with schema.sql: {exc}", file=sys.stderr)
        return 2
    if not args.check:
        path.write_text(actual)
        print(f"wrote {path.name} ({'changed' if difference else 'unchanged'})")
        return 0
    if difference:
        sys.stdout.write(difference)
        print(
            "schema.sql disagrees with the migrations: run python scripts/schema.py",
            file=sys.stderr,
        )
        return 1
    print("schema.sql matches the migrations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
