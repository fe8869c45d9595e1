# Generated from src/agentledger/db/pool_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The application's pools: how a connection is made, set up and handed out, and why none
could be made."""

from __future__ import annotations

from psycopg import Connection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from agentledger.config import Settings
from agentledger.db.adapters import VECTOR_TYPES, register_adapters, register_vector
from agentledger.db.connect import RecentFirst, connection_kwargs
from agentledger.db.translate import is_driver_error, refused_connection
from agentledger.errors import LedgerError, Unavailable


def new_pool(
    settings: Settings, conninfo: str, name: str, *, standby: bool = False
) -> ConnectionPool[Connection[DictRow]]:
    """The application's pool of connections to the primary, or to the standby (a short
    wait for a connection: past it, the read goes to the primary)."""
    pool = ConnectionPool(
        conninfo,
        connection_class=Connection[DictRow],
        kwargs={**connection_kwargs(settings), "row_factory": dict_row},
        configure=_configure,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.read_pool_timeout if standby else settings.pool_timeout,
        # While the server is unreachable the pool retries with a doubling delay; ending
        # each series of attempts after pool_timeout (not psycopg_pool's 5 minutes) keeps
        # that delay short, so requests are served again within seconds of the server's
        # return instead of after the last, longest delay.
        reconnect_timeout=max(1.0, settings.pool_timeout),
        name=name,
        open=False,
    )
    pool._pool = RecentFirst()  # psycopg_pool's idle deque, most recent first
    return pool


def _configure(conn: Connection[DictRow]) -> None:
    register_adapters(conn)
    # pgvector's types have per-database oids: looked up once per connection (autocommit).
    row = (conn.execute(VECTOR_TYPES)).fetchone()
    if row is not None:
        register_vector(conn, row["oid"], row["typarray"])


def why_unreachable(settings: Settings, conninfo: str, exc: Unavailable) -> LedgerError:
    """Why a pool got no connection, from one attempt of its own (a pool's timeout names
    no cause): the server's refusal, or ``exc`` when the attempt succeeds."""
    try:
        conn = Connection.connect(conninfo, **connection_kwargs(settings))
    except Exception as attempt:
        if not is_driver_error(attempt):
            raise
        return refused_connection(attempt, conninfo)
    conn.close()
    return exc
