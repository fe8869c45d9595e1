# Generated from src/agentledger/events/follow_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""Follow a tenant's event log as a named subscriber: catch up, then wait for more.

NOTIFY only wakes the follower; the log is the truth and it polls as well, so a lost
notification (a reconnect, or a commit that only unblocked older events) delays it by at
most ``poll_interval`` and never makes it skip an event.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Self

from agentledger import validation as v
from agentledger.db.binding import Binding
from agentledger.db.database_sync import Database
from agentledger.db.scoped_sync import Scoped
from agentledger.errors import InvalidInput
from agentledger.events import ops
from agentledger.events.records import EVENTS_CHANNEL, Event


class Follower(Scoped):
    """``with Follower(ledger.db, tenant, "projector") as f:`` then
    ``f.next_batch(timeout)`` until done; ``f.save()`` (or save ``f.position``
    with ``tx.events.save_checkpoint`` inside your own transaction) to remember progress.

    It starts from the subscriber's saved checkpoint and delivers every committed event of
    the tenant exactly once, in commit-safe order (see ``Events.read_all``).
    """

    def __init__(
        self,
        db: Database,
        tenant_id: str,
        subscriber: str | None,
        *,
        after: int | None = None,
        types: Sequence[str] | None = None,
        batch_size: int = 1000,
        poll_interval: float = 1.0,
    ) -> None:
        self._db = db
        self._binding = Binding.to_tenant(tenant_id)
        # No subscriber: an anonymous reader that starts ``after`` a position (0: the start)
        # and keeps no checkpoint (a browser following over SSE, say).
        self.subscriber = (
            None if subscriber is None else v.text("subscriber", subscriber, max_len=ops.MAX_NAME)
        )
        self._start = None if after is None else v.integer("after", after, low=0)
        self.types = ops.event_types(types)
        self.batch_size = v.integer("batch_size", batch_size, low=1, high=ops.MAX_PAGE)
        self.poll_interval = v.number("poll_interval", poll_interval, low=0.001, high=3600)
        self.position = 0
        self._listener = db.wakeups.subscribe(EVENTS_CHANNEL, tenant_id)

    def open(self) -> Self:
        # Listen before reading the checkpoint, so no wake-up falls between the two.
        self._listener.open()
        try:
            if self._start is not None or self.subscriber is None:
                self.position = self._start or 0
            else:
                self.position = self._db.run(ops.checkpoint(self.subscriber), self._binding)
        except BaseException:
            self._listener.close()
            raise
        return self

    def close(self) -> None:
        self._listener.close()

    def poll(self) -> list[Event]:
        """The events readable now after ``position`` (possibly none); advances ``position``."""
        batch = self._db.run(
            ops.read_all(self.position, types=self.types, limit=self.batch_size), self._binding
        )
        if batch:
            self.position = batch[-1].position
        return batch

    def next_batch(self, timeout: float) -> list[Event]:
        """The next events, waiting up to ``timeout`` seconds for some; [] when none came."""
        deadline = time.monotonic() + timeout
        while True:
            batch = self.poll()
            if batch:
                return batch
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            self._listener.wait(min(self.poll_interval, remaining))

    def save(self) -> None:
        """Save ``position`` as the subscriber's checkpoint, in its own transaction."""
        if self.subscriber is None:
            raise InvalidInput("an anonymous follower has no checkpoint", field="subscriber")
        self._db.run(ops.save_checkpoint(self.subscriber, self.position), self._binding)
