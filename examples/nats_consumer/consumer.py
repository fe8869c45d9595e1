"""A downstream service following agentledger's events through NATS JetStream, applying
each event exactly once to its own store (SQLite here; any database with transactions).

Idempotence comes from the event id: the projection records every applied id in the same
transaction as the change it makes, and skips an id it already holds. So a redelivery
(the consumer died before its ack), a repeat the relay published past JetStream's
duplicate window, or a replay of the whole stream leaves the projection as it was. The
message is acknowledged only after that transaction commits.

Amounts are kept exactly (``Decimal``: 9.99 stays 9.99, a numeric string such as "12.50"
is read as that number). A message that cannot be read — not JSON, a field missing, an
amount that is not a finite number — is recorded in ``dead_events`` with the reason, in
its own transaction, and acknowledged: it is never applied, and the events after it go
on. Any other failure (the database's) leaves the message unacknowledged, to come again.

    python -m examples.nats_consumer.consumer nats://127.0.0.1:4222 AGENTLEDGER orders.db
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

SCHEMA = """
CREATE TABLE IF NOT EXISTS applied_events (event_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS order_totals (
    tenant_id TEXT NOT NULL,
    stream TEXT NOT NULL,
    events INTEGER NOT NULL,
    amount TEXT NOT NULL,
    last_version INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, stream)
);
CREATE TABLE IF NOT EXISTS dead_events (
    key TEXT PRIMARY KEY,
    event_id TEXT,
    subject TEXT NOT NULL,
    data TEXT NOT NULL,
    reason TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
"""


class Unreadable(ValueError):
    """An event this projection cannot read; its message is the reason."""


@dataclass(frozen=True)
class OrderEvent:
    """What the projection uses of a relayed event."""

    event_id: str
    tenant_id: str
    stream: str
    version: int
    amount: Decimal


def parse(data: bytes | str) -> dict[str, Any]:
    """A message body as JSON, numbers with a fraction as exact ``Decimal``s; Unreadable
    when it is not a JSON object."""
    try:
        body = json.loads(data, parse_float=Decimal)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise Unreadable(f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Unreadable(f"not a JSON object: {type(body).__name__}")
    return body


def read_event(event: dict[str, Any]) -> OrderEvent:
    """The fields the projection needs, checked; Unreadable saying which is wrong. A
    payload without ``amount`` counts 0; an amount is an integer, a number with a
    fraction or a numeric string, kept exactly, and must be finite."""
    for field in ("event_id", "tenant_id", "stream"):
        if not isinstance(event.get(field), str) or not event[field]:
            raise Unreadable(f"{field} is {event.get(field)!r}: expected a non-empty string")
    version = event.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise Unreadable(f"version is {version!r}: expected an integer")
    payload = event.get("payload")
    if not isinstance(payload, dict):
        raise Unreadable(f"payload is {payload!r}: expected a JSON object")
    return OrderEvent(
        event["event_id"], event["tenant_id"], event["stream"], version, amount(payload)
    )


def amount(payload: dict[str, Any]) -> Decimal:
    """The payload's ``amount`` as an exact Decimal (0 when absent); Unreadable otherwise."""
    value = payload.get("amount", 0)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise Unreadable(f"amount is {value!r}: expected a number")
    try:
        exact = Decimal(str(value).strip()) if isinstance(value, str | float) else Decimal(value)
    except InvalidOperation:
        raise Unreadable(f"amount is {value!r}: expected a number") from None
    if not exact.is_finite():
        raise Unreadable(f"amount is {value!r}: expected a finite number")
    return exact


class Projection:
    """Per order stream: how many events and the exact sum of their ``amount``; and the
    events that could not be read (``dead_events``)."""

    def __init__(self, path: str) -> None:
        """Open (or create) the projection's SQLite database. ValueError for a database
        made by an earlier version of this example (amounts kept as integers): replay the
        stream into a new file."""
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)
        columns = {row[1]: row[2] for row in self.db.execute("PRAGMA table_info(order_totals)")}
        if columns.get("amount") != "TEXT":
            raise ValueError(
                f"{path}: order_totals.amount is {columns.get('amount')}, not TEXT (made by an "
                "earlier version, which truncated amounts): replay the stream into a new file"
            )

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one event (the relay's JSON body); False when it was applied before.
        Unreadable, with nothing written, when the event cannot be read."""
        order = read_event(event)
        with self.db:  # one transaction: the id and the effect commit together
            cur = self.db.execute(
                "INSERT OR IGNORE INTO applied_events (event_id) VALUES (?)", (order.event_id,)
            )
            if cur.rowcount == 0:
                return False
            row = self.db.execute(
                "SELECT amount FROM order_totals WHERE tenant_id = ? AND stream = ?",
                (order.tenant_id, order.stream),
            ).fetchone()
            total = order.amount + (Decimal(row[0]) if row else 0)
            self.db.execute(
                """
                INSERT INTO order_totals (tenant_id, stream, events, amount, last_version)
                VALUES (?, ?, 1, ?, ?)
                ON CONFLICT (tenant_id, stream) DO UPDATE SET
                    events = events + 1,
                    amount = excluded.amount,
                    last_version = excluded.last_version
                """,
                (order.tenant_id, order.stream, str(total), order.version),
            )
        return True

    def record_dead(
        self, key: str, *, subject: str, data: bytes, reason: str, event_id: str | None = None
    ) -> bool:
        """Keep an event that cannot be read, with why, once per ``key`` (its event id,
        else its place in the JetStream stream); False when it was kept before."""
        with self.db:
            cur = self.db.execute(
                """
                INSERT OR IGNORE INTO dead_events
                    (key, event_id, subject, data, reason, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                (
                    key,
                    event_id,
                    subject,
                    data.decode("utf-8", "replace"),
                    reason,
                    datetime.now(UTC).isoformat(),
                ),
            )
        return cur.rowcount == 1

    def totals(self) -> dict[tuple[str, str], tuple[int, Decimal, int]]:
        """Per (tenant, stream): events applied, the exact sum of amounts, last version."""
        rows = self.db.execute(
            "SELECT tenant_id, stream, events, amount, last_version FROM order_totals"
        )
        return {(t, s): (n, Decimal(a), v) for t, s, n, a, v in rows}

    def dead(self) -> dict[str, str]:
        """The events kept as unreadable: key (event id, else stream:sequence) -> reason."""
        return dict(self.db.execute("SELECT key, reason FROM dead_events ORDER BY recorded_at"))


def handle(projection: Projection, message: Msg) -> bool:
    """Apply one message, or keep it as dead when it cannot be read; True when it changed
    the totals. Any other error is raised (and the message is not acknowledged)."""
    event_id: str | None = None
    try:
        event = parse(message.data)
        if isinstance(event.get("event_id"), str) and event["event_id"]:
            event_id = event["event_id"]
        return projection.apply(event)
    except Unreadable as exc:
        meta = message.metadata
        projection.record_dead(
            event_id or f"{meta.stream}:{meta.sequence.stream}",
            subject=message.subject,
            data=message.data,
            reason=str(exc),
            event_id=event_id,
        )
        return False


async def consume(
    url: str,
    stream: str,
    projection: Projection,
    *,
    subject: str = "agentledger.*.order",
    durable: str = "order-totals",
    idle_timeout: float = 1.0,
) -> int:
    """Apply the stream's messages on ``subject`` until none arrives for ``idle_timeout``
    seconds; how many changed the projection. A message that cannot be read is kept in
    ``dead_events`` and acknowledged, so it never blocks the ones after it. The durable
    consumer remembers what was acknowledged, so the next call resumes after it."""
    nc = await nats.connect(url)
    applied = 0
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(
            subject,
            durable=durable,
            stream=stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
        )
        while True:
            try:
                messages = await sub.fetch(100, timeout=idle_timeout)
            except (TimeoutError, nats.errors.TimeoutError):
                return applied
            for message in messages:
                applied += handle(projection, message)
                await message.ack()
    finally:
        await nc.close()


if __name__ == "__main__":
    url, stream, path = sys.argv[1:4]
    print(asyncio.run(consume(url, stream, Projection(path), idle_timeout=5.0)), "applied")
