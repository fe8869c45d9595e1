"""A downstream service following agentledger's events through NATS JetStream, applying
each event exactly once to its own store (SQLite here; any database with transactions).

Idempotence comes from the event id: the projection records every applied id in the same
transaction as the change it makes, and skips an id it already holds. So a redelivery
(the consumer died before its ack), a repeat the relay published past JetStream's
duplicate window, or a replay of the whole stream leaves the projection as it was. The
message is acknowledged only after that transaction commits.

    python -m examples.nats_consumer.consumer nats://127.0.0.1:4222 AGENTLEDGER orders.db
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

SCHEMA = """
CREATE TABLE IF NOT EXISTS applied_events (event_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS order_totals (
    tenant_id TEXT NOT NULL,
    stream TEXT NOT NULL,
    events INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    last_version INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, stream)
);
"""


class Projection:
    """Per order stream: how many events and the sum of their ``amount``."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path)
        self.db.executescript(SCHEMA)

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one event (the relay's JSON body); False when it was applied before."""
        with self.db:  # one transaction: the id and the effect commit together
            cur = self.db.execute(
                "INSERT OR IGNORE INTO applied_events (event_id) VALUES (?)", (event["event_id"],)
            )
            if cur.rowcount == 0:
                return False
            self.db.execute(
                """
                INSERT INTO order_totals (tenant_id, stream, events, amount, last_version)
                VALUES (?, ?, 1, ?, ?)
                ON CONFLICT (tenant_id, stream) DO UPDATE SET
                    events = events + 1,
                    amount = amount + excluded.amount,
                    last_version = excluded.last_version
                """,
                (
                    event["tenant_id"],
                    event["stream"],
                    int(event["payload"].get("amount", 0)),
                    event["version"],
                ),
            )
        return True

    def totals(self) -> dict[tuple[str, str], tuple[int, int, int]]:
        rows = self.db.execute(
            "SELECT tenant_id, stream, events, amount, last_version FROM order_totals"
        )
        return {(t, s): (n, a, v) for t, s, n, a, v in rows}


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
    seconds; how many changed the projection. The durable consumer remembers what was
    acknowledged, so the next call resumes after it."""
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
                applied += projection.apply(json.loads(message.data))
                await message.ack()
    finally:
        await nc.close()


if __name__ == "__main__":
    url, stream, path = sys.argv[1:4]
    print(asyncio.run(consume(url, stream, Projection(path), idle_timeout=5.0)), "applied")
