"""Alembic environment: runs revisions on the connection agentledger hands it."""

from __future__ import annotations

from alembic import context

from agentledger.db.migrations.helpers import VERSION_TABLE

config = context.config

if context.is_offline_mode():
    context.configure(
        url="postgresql://",
        dialect_name="postgresql",
        literal_binds=True,
        version_table=VERSION_TABLE,
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection, version_table=VERSION_TABLE, transaction_per_migration=True
    )
    with context.begin_transaction():
        context.run_migrations()
