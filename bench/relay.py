"""Relay benchmark: the outbox relay to NATS JetStream, beside the broker's own ceiling.

- drain: ``--events`` events already committed, relayed until the lag is 0, in events/s,
  against nats-py publishing the same messages straight to JetStream (pipelined, acked),
  without reading them from PostgreSQL;
- end-to-end lag under 8 writers: from an append's commit to a JetStream subscriber
  receiving the message, p50 / p99, while the relay follows the log.

It needs JetStream at ``AGENTLEDGER_BENCH_NATS`` (default nats://127.0.0.1:4222); without
one it says so and measures nothing. Streams it creates are deleted afterwards.

    python -m bench.relay [--quick] [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
import uuid
from typing import Any

import nats
from rich.table import Table

from agentledger import AsyncLedger, NewEvent
from agentledger.integrations.nats import Relay, subject, subjects as msg
from bench.common import Timing, add_fast_flag, bench_database, console, machine, ratio_table
from bench.memory import percentiles

NATS_URL = os.environ.get("AGENTLEDGER_BENCH_NATS", "nats://127.0.0.1:4222")
WRITERS = 8
APPEND_BATCH = 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_fast_flag(parser)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--events", type=int, default=None, help="events for the drain")
    parser.add_argument("--lag-events", type=int, default=None, help="events for the lag run")
    args = parser.parse_args(argv)
    events = args.events or (10_000 if args.quick else 100_000)
    lag_events = args.lag_events or (2_000 if args.quick else 16_000)
    console.print(machine())
    asyncio.run(run(events, lag_events, fast=args.fast))


async def run(events: int, lag_events: int, *, fast: bool = False) -> None:
    try:
        nc = await asyncio.wait_for(
            nats.connect(
                NATS_URL,
                connect_timeout=2,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
            ),
            10,
        )
        await nc.jetstream().account_info()
        await nc.close()
    except Exception as exc:
        console.print(f"[yellow]NATS JetStream not reachable at {NATS_URL} ({exc}): skipped[/]")
        return
    with bench_database("relay", fast=fast) as db:
        async with AsyncLedger(db.settings, migrate=False) as ledger:
            await ledger.tenants.create("bench")
            relayed = await drain(ledger, events)
            ceiling = await broker_ceiling(events)
            console.print(ratio_table("Outbox relay to JetStream", [(relayed, ceiling)]))
            await ledger.tenants.create("lag")
            p50, p99, rate = await end_to_end_lag(ledger, lag_events)
            table = Table(title=f"End-to-end lag under {WRITERS} writers")
            for col in ("events", "events/s", "p50 ms", "p99 ms"):
                table.add_column(col, justify="right")
            table.add_row(f"{lag_events:,}", f"{rate:,.0f}", f"{p50:.1f}", f"{p99:.1f}")
            console.print(table)


async def _with_stream(fn: Any) -> Any:
    """Run ``fn(stream, prefix)`` with a stream of its own, deleted afterwards."""
    stream, prefix = f"AL_BENCH_{uuid.uuid4().hex[:10].upper()}", f"albench{uuid.uuid4().hex[:8]}"
    try:
        return await fn(stream, prefix)
    finally:
        nc = await nats.connect(NATS_URL, allow_reconnect=False)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(stream)
        await nc.close()


async def drain(ledger: AsyncLedger, events: int) -> Timing:
    scope = ledger.tenant("bench")
    for start in range(0, events, APPEND_BATCH):
        await scope.events.append_many(
            [
                NewEvent(stream=f"order:{i % 500}", type="placed", payload={"i": i})
                for i in range(start, min(events, start + APPEND_BATCH))
            ]
        )

    async def relay(stream: str, prefix: str) -> float:
        relay = Relay(
            ledger, NATS_URL, name="drain", tenants=["bench"], stream=stream, prefix=prefix
        )
        started = time.perf_counter()
        await relay.run(until_idle=True)
        elapsed = time.perf_counter() - started
        assert relay.stats.published == events, relay.stats
        return elapsed

    elapsed = await _with_stream(relay)
    return Timing(f"relay {events:,} committed events", [elapsed], units=events)


async def broker_ceiling(events: int) -> Timing:
    """The same messages published straight to JetStream, acked in batches as the relay does."""

    async def publish(stream: str, prefix: str) -> float:
        nc = await nats.connect(NATS_URL, allow_reconnect=False)
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[f"{prefix}.>"])
        body = b'{"payload":{"i":0}}' * 8
        started = time.perf_counter()
        for start in range(0, events, 500):
            futures = [
                await js.publish_async(
                    subject("bench", f"order:{i % 500}", prefix),
                    body,
                    headers={msg.MSG_ID: str(uuid.uuid4())},
                    stream=stream,
                )
                for i in range(start, min(events, start + 500))
            ]
            await asyncio.gather(*futures)
        elapsed = time.perf_counter() - started
        await nc.close()
        return elapsed

    elapsed = await _with_stream(publish)
    return Timing(f"nats-py publish {events:,} messages", [elapsed], units=events)


async def end_to_end_lag(ledger: AsyncLedger, events: int) -> tuple[float, float, float]:
    """p50 and p99 lag (ms) from commit to receipt, and the events/s the writers sustained."""

    async def scenario(stream: str, prefix: str) -> tuple[float, float, float]:
        relay = Relay(ledger, NATS_URL, name="lag", tenants=["lag"], stream=stream, prefix=prefix)
        stop = asyncio.Event()
        relaying = asyncio.create_task(relay.run(stop))
        nc = await nats.connect(NATS_URL, allow_reconnect=False)
        lags: list[float] = []
        done = asyncio.Event()
        per_writer = events // WRITERS // 10 * 10
        total = per_writer * WRITERS

        async def received(message: Any) -> None:
            sent = float(msg_payload(message)["t"])
            lags.append(time.time() - sent)
            if len(lags) >= total:
                done.set()

        while relay.stats.leader is False:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the stream exists once the relay leads
        sub = await nc.jetstream().subscribe(
            f"{prefix}.>", stream=stream, ordered_consumer=True, cb=received
        )
        scope = ledger.tenant("lag")

        async def writer(w: int) -> None:
            for _ in range(0, per_writer, 10):
                await scope.events.append_many(
                    [
                        NewEvent(stream=f"order:{w}", type="placed", payload={"t": time.time()})
                        for _ in range(10)
                    ]
                )

        started = time.perf_counter()
        await asyncio.gather(*(writer(w) for w in range(WRITERS)))
        rate = total / (time.perf_counter() - started)
        await asyncio.wait_for(done.wait(), 120)
        await sub.unsubscribe()
        await nc.close()
        stop.set()
        await relaying
        p50, p99 = percentiles(lags)
        return p50, p99, rate

    result: tuple[float, float, float] = await _with_stream(scenario)
    return result


def msg_payload(message: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(message.data)["payload"]
    return data


if __name__ == "__main__":
    main()
