"""The outbox relay against the machine's NATS JetStream: each event exactly once, in order
per subject, through relay crashes (SIGKILL), a standby taking over, and broker outages
(a TCP proxy in front of the broker, stopped and started again)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import pytest
from chaos.tcp_proxy import TcpProxy

from agentledger import AsyncLedger, Ledger, NewEvent, Settings
from agentledger.db.binding import Binding
from agentledger.errors import ConfigError, InvalidInput
from tests.nats_fixtures import NATS_URL
from tests.procs import ROOT

nats = pytest.importorskip("nats", reason="the nats extra (nats-py) is not installed")

from agentledger.integrations.nats import (  # noqa: E402
    Relay,
    category,
    lag as lag_ops,
    subject,
    token,
)
from agentledger.integrations.nats.subjects import captures  # noqa: E402

# The crash test's size. The suite runs it small; docs/relay.md gives the command and the
# figures of a run at 100k events, a kill every few seconds and a 30 s broker outage.
EVENTS = int(os.environ.get("AGENTLEDGER_TEST_RELAY_EVENTS", "6000"))
KILLS = int(os.environ.get("AGENTLEDGER_TEST_RELAY_KILLS", "3"))
OUTAGE = float(os.environ.get("AGENTLEDGER_TEST_RELAY_OUTAGE", "0.5"))  # seconds, mid-run


def _prefix() -> str:
    return f"agentledger_test_{uuid.uuid4().hex[:10]}"


def _new_tenant(ledger: Ledger) -> str:
    tid = f"relay-{uuid.uuid4().hex[:10]}"
    ledger.tenants.create(tid, tid)
    return tid


async def _stored(url: str, stream: str) -> list[Any]:
    """Every message the stream holds, in stream order."""
    nc = await nats.connect(url, allow_reconnect=False)
    try:
        js = nc.jetstream()
        total = (await js.stream_info(stream)).state.messages
        sub = await js.subscribe(">", stream=stream, ordered_consumer=True)
        found: list[Any] = []
        while len(found) < total:
            found.append(await sub.next_msg(timeout=10))
        await sub.unsubscribe()
        return found
    finally:
        await nc.close()


def _log(ledger: Ledger, tenant: str) -> list[Any]:
    """The tenant's events in commit-safe order."""
    events: list[Any] = []
    scope = ledger.tenant(tenant)
    while batch := scope.events.read_all(events[-1].position if events else 0, limit=5000):
        events.extend(batch)
    return events


def _lag(ledger: Ledger, tenant: str, name: str) -> int:
    position = ledger.tenant(tenant).events.checkpoint(f"relay:{name}")
    return ledger.db.run(lag_ops.lag(position), Binding.to_tenant(tenant))


class RelayProcess:
    """``agentledger relay`` in a process of its own; its log says whether it leads."""

    def __init__(
        self, settings: Settings, url: str, name: str, tenant: str, stream: str, prefix: str
    ) -> None:
        assert settings.database_url is not None
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "AGENTLEDGER_DATA_DIR": str(settings.data_dir),
        }
        args = ["--nats", url, "--name", name, "--tenant", tenant, "--stream", stream]
        args += ["--prefix", prefix, "--batch-size", "200", "--poll-interval", "0.1"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agentledger.cli", "relay", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.ready = False
        self.leading = False
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if line.rstrip().endswith(": leading"):
                self.ready = self.leading = True
            elif line.rstrip().endswith(": standing by"):
                self.ready, self.leading = True, False

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.leading = False


def _wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_the_lag_counts_the_events_after_the_checkpoint(sync_ledger: Ledger) -> None:
    """From the start, from an event deep in the log, of some types only, and from a
    checkpoint that names no event of the tenant (nothing to count from)."""
    tenant = _new_tenant(sync_ledger)
    written = sync_ledger.tenant(tenant).events.append_many(
        [NewEvent(stream=f"s{i % 3}", type="Odd" if i % 2 else "Even") for i in range(300)]
    )
    binding = Binding.to_tenant(tenant)

    def lag(after: int, types: list[str] | None = None) -> int:
        return sync_ledger.db.run(lag_ops.lag(after, types), binding)

    assert lag(0) == 300
    assert lag(written[249].position) == 50
    assert lag(written[249].position, ["Odd"]) == 25
    assert lag(written[-1].position) == 0
    assert lag(written[-1].position + 1_000_000) == 0


def test_what_a_batch_counts_as_acknowledged_is_a_prefix(
    sync_ledger: Ledger, async_ledger: AsyncLedger, aio: asyncio.Runner
) -> None:
    """A publish that failed, was cancelled or got no answer in time ends the acknowledged
    prefix, and the publishes behind it are cancelled. The broker's futures are stood in
    for, to reach the outcomes a live broker gives only by chance."""
    from nats.js.api import PubAck

    from agentledger.integrations.nats.relay import BrokerError

    tenant = _new_tenant(sync_ledger)
    sync_ledger.tenant(tenant).events.append_many(
        [NewEvent(stream="order:1", type="t", payload={"i": i}) for i in range(3)]
    )
    batch = sync_ledger.tenant(tenant).events.read_all(0)
    relay = Relay(async_ledger, NATS_URL, ack_timeout=0.2)

    async def publish(outcomes: list[str]) -> tuple[int, BaseException | None, list[bool]]:
        futures: list[asyncio.Future[PubAck]] = []

        class Broker:  # answers each publish with the next outcome
            async def publish_async(self, *args: Any, **kwargs: Any) -> asyncio.Future[PubAck]:
                future: asyncio.Future[PubAck] = asyncio.get_running_loop().create_future()
                outcome = outcomes[len(futures)]
                if outcome == "acked":
                    future.set_result(PubAck(stream="S", seq=len(futures) + 1))
                elif outcome == "cancelled":
                    future.cancel()
                elif outcome == "refused":
                    future.set_exception(OSError("refused"))
                futures.append(future)
                return future

        acked, failure = await relay._publish(Broker(), tenant, batch)  # type: ignore[arg-type]
        return acked, failure, [f.cancelled() for f in futures]

    assert aio.run(publish(["acked"] * 3)) == (3, None, [False] * 3)
    acked, failure, cancelled = aio.run(publish(["acked", "cancelled", "acked"]))
    assert (acked, cancelled) == (1, [False, True, False])  # the third was answered already
    assert isinstance(failure, BrokerError) and "cancelled" in str(failure)
    acked, failure, cancelled = aio.run(publish(["acked", "acked", "refused"]))
    assert (acked, cancelled, str(failure)) == (2, [False] * 3, "refused")
    acked, failure, cancelled = aio.run(publish(["acked", "silent", "silent"]))
    assert (acked, cancelled) == (1, [False, True, True])
    assert isinstance(failure, BrokerError) and "no acknowledgement" in str(failure)


def test_subject_mapping() -> None:
    assert category("order:42") == "order"
    assert category("order-42:x") == "order"
    assert category("ledger") == "ledger"
    assert token("acme.eu") == "acme_eu"
    assert token("a*b>c d") == "a_b_c_d"
    assert token("") == "_"
    assert subject("acme.eu", "invoice:7") == "agentledger.acme_eu.invoice"
    assert subject("acme", "user.profile-9", prefix="x.y") == "x.y.acme.user_profile"


def test_a_stream_captures_the_relays_subjects_through_one_of_its_patterns() -> None:
    for patterns in (["x.y.>"], [">"], ["x.>"], ["x.y.*.*"], ["x.*.*.*", "x.y.*.>"]):
        assert captures(patterns, "x.y"), patterns
    for patterns in ([], ["x.y"], ["x.y.*"], ["x.y.a.*"], ["x.y.*.*.*"], ["z.>"], ["x.z.>"]):
        assert not captures(patterns, "x.y"), patterns


def test_a_stream_that_does_not_take_the_prefix_is_refused_once(
    async_ledger: AsyncLedger, aio: asyncio.Runner, jetstream: str, stream_name: str
) -> None:
    """Not a broker outage retried for ever: ConfigError naming the stream's subjects."""

    async def made() -> None:
        nc = await nats.connect(jetstream, allow_reconnect=False)
        try:
            await nc.jetstream().add_stream(name=stream_name, subjects=[f"{_prefix()}.>"])
        finally:
            await nc.close()

    aio.run(made())
    relay = Relay(async_ledger, jetstream, name=stream_name, stream=stream_name, prefix=_prefix())
    with pytest.raises(ConfigError) as refused:
        aio.run(asyncio.wait_for(relay.run(until_idle=True), 60))
    assert refused.value.field == "stream"
    assert "not the relay's" in str(refused.value)
    assert relay.stats.broker_failures == 0


def test_bad_options_name_the_field(sync_ledger: Ledger, async_ledger: AsyncLedger) -> None:
    with pytest.raises(InvalidInput) as bad:
        Relay(async_ledger, prefix="a..b")
    assert bad.value.field == "prefix"
    with pytest.raises(InvalidInput) as bad:
        Relay(async_ledger, tenants=["no spaces"])
    assert bad.value.field == "tenant_id"
    with pytest.raises(InvalidInput) as bad:
        Relay(async_ledger, batch_size=0)
    assert bad.value.field == "batch_size"
    for stream in ("a.b", "with space", "x*", "x>", "", "nul\x00"):  # JetStream refuses them
        with pytest.raises(InvalidInput) as bad:
            Relay(async_ledger, stream=stream)
        assert bad.value.field == "stream", stream
    assert Relay(async_ledger, stream="EVENTS-2").stream == "EVENTS-2"


def test_one_leader_per_relay_name(async_ledger: AsyncLedger, aio: asyncio.Runner) -> None:
    async def scenario() -> list[bool]:
        db = async_ledger.db
        name = f"relay/{uuid.uuid4().hex}"
        async with db.leader_lock(name) as first, db.leader_lock(name) as second:
            seen = [await first.acquire(), await second.acquire(), await first.held()]
            await first.release()
            seen += [await first.held(), await second.acquire(), await first.acquire()]
            async with db.leader_lock(f"{name}-other") as other:
                seen.append(await other.acquire())
        return seen

    assert aio.run(scenario()) == [True, False, True, False, True, False, True]


def test_filters_by_tenant_and_type(
    sync_ledger: Ledger,
    async_ledger: AsyncLedger,
    aio: asyncio.Runner,
    jetstream: str,
    stream_name: str,
) -> None:
    ours, theirs = _new_tenant(sync_ledger), _new_tenant(sync_ledger)
    for tenant in (ours, theirs):
        sync_ledger.tenant(tenant).events.append_many(
            [NewEvent(stream=f"order:{i}", type="kept" if i % 2 else "dropped") for i in range(10)]
        )
    prefix = _prefix()
    relay = Relay(
        async_ledger,
        jetstream,
        name="filtered",
        tenants=[ours],
        types=["kept"],
        stream=stream_name,
        prefix=prefix,
    )
    aio.run(relay.run(until_idle=True))
    stored = aio.run(_stored(jetstream, stream_name))
    assert {m.headers["Agentledger-Tenant"] for m in stored} == {ours}
    assert {m.headers["Agentledger-Type"] for m in stored} == {"kept"}
    assert [m.subject for m in stored] == [f"{prefix}.{ours}.order"] * 5
    assert aio.run(relay.lag()) == {ours: 0}
    # Run again: nothing new is published, the checkpoint holds.
    aio.run(relay.run(until_idle=True))
    assert len(aio.run(_stored(jetstream, stream_name))) == 5
    assert relay.stats.published == 5


def test_all_tenants_through_the_platform_scope(
    sync_ledger: Ledger,
    async_ledger: AsyncLedger,
    aio: asyncio.Runner,
    jetstream: str,
    stream_name: str,
) -> None:
    """Without ``tenants`` a relay serves every active tenant; a suspended or archived
    tenant's events wait (it can save no checkpoint) until it is active again."""
    active, suspended, archived = (_new_tenant(sync_ledger) for _ in range(3))
    for tenant in (active, suspended, archived):
        sync_ledger.tenant(tenant).events.append("order:1", "placed")
    sync_ledger.tenants.suspend(suspended)
    sync_ledger.tenants.archive(archived)
    relay = Relay(async_ledger, jetstream, name="everyone", stream=stream_name, prefix=_prefix())
    aio.run(relay.run(until_idle=True))
    stored = {m.headers["Agentledger-Tenant"] for m in aio.run(_stored(jetstream, stream_name))}
    assert active in stored
    assert suspended not in stored and archived not in stored
    lag = aio.run(relay.lag())
    assert lag[active] == 0 and suspended not in lag
    sync_ledger.tenants.activate(suspended)
    aio.run(relay.run(until_idle=True))
    stored = {m.headers["Agentledger-Tenant"] for m in aio.run(_stored(jetstream, stream_name))}
    assert suspended in stored and archived not in stored
    assert set(aio.run(relay.lag()).values()) == {0}


def test_the_relay_command_publishes_then_stops_on_sigterm(
    sync_ledger: Ledger, settings: Settings, aio: asyncio.Runner, stream_name: str, jetstream: str
) -> None:
    tenant = _new_tenant(sync_ledger)
    name = f"cli-{uuid.uuid4().hex[:6]}"
    relay = RelayProcess(settings, jetstream, name, tenant, stream_name, _prefix())
    try:
        _wait_for(lambda: relay.leading, 60, "the relay leading")
        sync_ledger.tenant(tenant).events.append_many(
            [NewEvent(stream="order:1", type="t", payload={"i": i}) for i in range(3)]
        )
        _wait_for(lambda: _lag(sync_ledger, tenant, name) == 0, 60, "the events published")
        relay.process.send_signal(signal.SIGTERM)
        assert relay.process.wait(timeout=60) == 0, "".join(relay.lines)
    finally:
        if relay.process.poll() is None:
            relay.kill()
    stored = aio.run(_stored(jetstream, stream_name))
    assert [m.headers["Agentledger-Tenant"] for m in stored] == [tenant] * 3
    _wait_for(
        lambda: any("stopped after publishing 3 events" in line for line in relay.lines),
        10,
        "the relay's last line",
    )


@pytest.mark.slow
def test_every_event_once_in_order_through_crashes_and_outages(
    sync_ledger: Ledger, settings: Settings, aio: asyncio.Runner, stream_name: str, jetstream: str
) -> None:
    tenant = _new_tenant(sync_ledger)
    prefix, name = _prefix(), f"crash-{uuid.uuid4().hex[:6]}"
    streams = ["order:1", "order-2", "invoice:1", "user.profile:7", "audit"]
    written = threading.Event()

    def write() -> None:
        scope = sync_ledger.tenant(tenant)
        for start in range(0, EVENTS, 50):
            scope.events.append_many(
                [
                    NewEvent(stream=streams[i % len(streams)], type="t", payload={"i": i})
                    for i in range(start, start + 50)
                ]
            )
            time.sleep(0.05)  # a steady stream, so relays die and the broker goes mid-way
        written.set()

    def checkpoint() -> int:
        return sync_ledger.tenant(tenant).events.checkpoint(f"relay:{name}")

    def moved(before: int) -> bool:
        """The checkpoint moved, or there is nothing left to move it."""
        if checkpoint() != before:
            return True
        return written.is_set() and _lag(sync_ledger, tenant, name) == 0

    host, port = NATS_URL.removeprefix("nats://").split(":")
    writer = threading.Thread(target=write)
    relays: list[RelayProcess] = []

    def leader() -> RelayProcess | None:
        return next((r for r in relays if r.leading), None)

    with TcpProxy(host, int(port)) as proxy:
        try:
            # A leader and three standbys, started together: each round kills the leader
            # and a warm standby takes over.
            for _ in range(4):
                relays.append(RelayProcess(settings, proxy.url, name, tenant, stream_name, prefix))
            _wait_for(lambda: all(r.ready for r in relays) and leader(), 120, "relays ready")
            writer.start()
            for round_ in range(KILLS):
                before = checkpoint()
                _wait_for(lambda b=before: moved(b), 60, f"progress in round {round_}")
                victim = leader()
                assert victim is not None
                victim.kill()
                relays.remove(victim)
                # A new standby replaces it, so that every round has one to take over.
                relays.append(RelayProcess(settings, proxy.url, name, tenant, stream_name, prefix))
                before = checkpoint()
                _wait_for(lambda b=before: moved(b), 60, f"takeover in round {round_}")
                # The broker goes away (the longest outage mid-run), then comes back on the
                # same address.
                proxy.stop()
                time.sleep(OUTAGE if round_ == KILLS // 2 else 0.5)
                proxy.start()
            writer.join()
            _wait_for(lambda: _lag(sync_ledger, tenant, name) == 0, 60, "the lag to reach 0")
        finally:
            for relay in relays:
                relay.kill()
            if writer.is_alive():
                writer.join()

    log = _log(sync_ledger, tenant)
    assert len(log) == EVENTS
    stored = aio.run(_stored(jetstream, stream_name))
    ids = [m.headers["Nats-Msg-Id"] for m in stored]
    assert len(ids) == len(set(ids)) == EVENTS  # each event id exactly once
    assert set(ids) == {str(e.event_id) for e in log}
    # Per subject, messages are in the log's commit-safe order.
    by_subject: dict[str, list[str]] = {}
    for message in stored:
        by_subject.setdefault(message.subject, []).append(message.headers["Nats-Msg-Id"])
    expected: dict[str, list[str]] = {}
    for event in log:
        expected.setdefault(subject(tenant, event.stream, prefix), []).append(str(event.event_id))
    assert by_subject == expected
    assert sorted(by_subject) == sorted(
        f"{prefix}.{tenant}.{c}" for c in ("order", "invoice", "user_profile", "audit")
    )


def test_unreachable_broker_keeps_the_checkpoint(
    sync_ledger: Ledger, async_ledger: AsyncLedger, aio: asyncio.Runner
) -> None:
    """A relay pointed at a closed port publishes nothing and saves no checkpoint."""
    tenant = _new_tenant(sync_ledger)
    sync_ledger.tenant(tenant).events.append("order:1", "t")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    relay = Relay(
        async_ledger,
        f"nats://127.0.0.1:{closed}",
        name="nowhere",
        tenants=[tenant],
        connect_timeout=0.2,
        retry_backoff=0.05,
    )

    async def for_a_while() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        await relay.run(stop)

    aio.run(for_a_while())
    assert relay.stats.broker_failures >= 1
    assert relay.stats.published == 0
    assert aio.run(relay.lag()) == {tenant: 1}
