"""The planner's figures for the entities table, refreshed after a bulk write (memory_0017,
memory_0018)."""

from __future__ import annotations

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, operation

Q = Queries.beside(__file__)
# A batch that inserts this many rows may outdate the planner's figures.
BULK_ROWS = 1000


@operation()
def refresh_stats(written: int) -> Gen[bool]:
    """After a bulk write of ``written`` rows: analyze the entities table if the planner's
    figures no longer describe it (a listing right after a large import is otherwise planned
    for a table a tenth of its size); whether it did."""
    refreshed: bool = yield Q.refresh_stats.scalar(
        written=v.integer("written", written, low=0, high=2**62)
    )
    return refreshed
