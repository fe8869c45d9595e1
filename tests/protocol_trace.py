"""What a ledger's one pooled connection sends: the protocol messages, for tests that count
round trips (a pool of size 1, so every operation goes through the traced connection)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from typing import Any

from psycopg.pq import Trace

from agentledger import Ledger
from agentledger.db.database_sync import Database


def traced(ledger: Ledger, run: Callable[[Database], Any]) -> str:
    """The protocol messages the pool's one connection exchanged while ``run`` ran."""
    db = ledger._db
    assert db is not None
    with tempfile.TemporaryFile("w+") as trace:
        with db.pool.connection() as conn:
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
        try:
            run(db)
        finally:
            with db.pool.connection() as conn:
                conn.pgconn.untrace()
        trace.seek(0)
        return trace.read()
