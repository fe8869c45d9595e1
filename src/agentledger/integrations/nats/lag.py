"""The relay's lag: the events committed after its checkpoint that it has not published."""

from __future__ import annotations

from collections.abc import Sequence

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, operation
from agentledger.events import ops as events

Q = Queries.beside(__file__)


# Measured against the relay's checkpoint on the primary: a lagging count would under-report.
@operation(writes=False, standby=False)
def lag(after: int, types: Sequence[str] | None = None) -> Gen[int]:
    """How many of the bound tenant's events (of ``types``) sort after position ``after``
    in commit-safe order (``after`` 0: all of them)."""
    kinds = events.event_types(types)
    count = yield Q.relay_lag.scalar(after=v.integer("after", after, low=0), types=kinds)
    return int(count)
