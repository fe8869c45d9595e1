"""The spool: writes accepted while PostgreSQL is really down, replayed exactly once, in
order, even when a replaying process is killed halfway."""

from __future__ import annotations

import asyncio
import datetime as dt
import decimal
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agentledger import (
    ConfigError,
    InvalidInput,
    Ledger,
    Settings,
    Spooled,
    VersionConflict,
)
from agentledger.db import migrate
from agentledger.db.binding import Binding
from agentledger.db.embedded import EmbeddedServer
from agentledger.db.spool import Spool
from agentledger.events import ops as events
from agentledger.runs import ops as runs
from tests.conftest import ROOT, server_dir
from tests.faces import opened
from tests.spool_ops import count_markers, insert_marker

pytestmark = pytest.mark.slow
# The spool replays the library's operations; these tests spool their own as well.
TEST_OPS = ("tests.",)


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    srv = EmbeddedServer(server_dir())
    srv.start()
    migrate.upgrade(srv.url())
    yield srv
    srv.stop(mode="immediate")
    shutil.rmtree(srv.data_dir, ignore_errors=True)


def _settings(server: EmbeddedServer, spool: Path) -> Settings:
    return Settings.build(
        database_url=server.url(),
        data_dir=spool.parent,
        spool_dir=spool,
        spool_replay_modules=TEST_OPS,
        pool_timeout=0.5,
        connect_timeout=1,
        retry_attempts=2,
        retry_backoff=0.05,
    )


def _write(ledger: Ledger, tenant: str, name: str) -> str:
    op = insert_marker(uuid.uuid4(), name)
    try:
        return ledger.db.run(op, Binding(tenant))
    except Spooled:
        return "spooled"


def _markers(ledger: Ledger, tenant: str) -> dict[str, Any]:
    return ledger.db.run(count_markers(), Binding(tenant))


def test_entries_survive_a_torn_last_line(tmp_path: Path) -> None:
    spool = Spool(tmp_path, replay_modules=TEST_OPS)
    spool.append(Binding("t"), insert_marker(uuid.uuid4(), "a"))
    with spool.journal.open("a") as fh:
        fh.write('{"id": "half')  # a crash mid-write: never acknowledged
    assert [e.op.rsplit(":", 1)[1] for e in spool.pending()] == ["insert_marker"]
    binding, op = spool.decode(spool.pending()[0])
    assert binding.tenant == "t" and op.args[1] == "a" and isinstance(op.args[0], uuid.UUID)
    # The next write starts a line of its own: the torn one never swallows it.
    after = spool.append(Binding("t"), insert_marker(uuid.uuid4(), "b"))
    assert [e.id for e in spool.pending()][1:] == [after]
    assert spool.decode(spool.pending()[1])[1].args[1] == "b"


def test_an_argument_the_journal_cannot_hold_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, replay_modules=TEST_OPS)
    with pytest.raises(InvalidInput, match="an argument of type frozenset cannot be spooled"):
        spool.append(Binding("t"), insert_marker(uuid.uuid4(), frozenset({"a"})))  # type: ignore[arg-type]
    assert spool.pending() == []


# Objects of one key that read as the journal's own tags, beside values it tags.
LOOKALIKES = {
    "when": {"$date": "2024-01-01"},
    "ref": {"$uuid": "not a uuid"},
    "wrapped": {"$object": {"$bytes": "x"}},
    "list": [{"$decimal": "1.5"}],
}


def test_every_value_comes_back_as_it_was_given(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    given = {
        **LOOKALIKES,
        "id": uuid.uuid4(),
        "at": dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
        "day": dt.date(2024, 5, 6),
        "amount": decimal.Decimal("12.50"),
        "raw": b"\x00\xff",
    }
    op = events.append_fields("s", "T", given, event_id=uuid.uuid4())
    spool.append(Binding("t"), op)
    [entry] = spool.pending()
    _, back = spool.decode(entry)
    # Given no at, the write is dated when the spool accepted it.
    accepted = {"at": dt.datetime.fromisoformat(entry.at)}
    assert back.args == op.args and back.kwargs == {**op.kwargs, **accepted}
    assert type(back.args[2]["amount"]) is decimal.Decimal


def test_a_replay_imports_only_from_the_modules_it_was_given(tmp_path: Path) -> None:
    Spool(tmp_path, replay_modules=TEST_OPS).append(Binding("t"), insert_marker(uuid.uuid4(), "a"))
    entry = Spool(tmp_path).pending()[0]
    with pytest.raises(InvalidInput, match=r"foreign operation tests\.spool_ops:insert_marker"):
        Spool(tmp_path).decode(entry)  # by default, agentledger's own operations only
    forged = replace(entry, op="os:system", args=["echo owned"])
    with pytest.raises(InvalidInput, match="foreign operation os:system"):
        Spool(tmp_path, replay_modules=TEST_OPS).decode(forged)


def test_replay_modules_must_be_module_prefixes() -> None:
    assert Settings.build(spool_replay_modules=["my_app.ops."]).spool_replay_modules == (
        "my_app.ops.",
    )
    for bad in ("tests", "", ".", "my-app."):
        with pytest.raises(ConfigError, match="spool_replay_modules"):
            Settings.build(spool_replay_modules=[bad])


@pytest.mark.parametrize("face", ["sync", "async"])
def test_writes_during_an_outage_are_spooled_then_replayed_in_order(
    server: EmbeddedServer, tmp_path: Path, face: str, aio: asyncio.Runner
) -> None:
    settings = _settings(server, tmp_path / "spool")
    with opened(face, settings, aio) as ledger:
        tenant = ledger.tenants.create(f"s-{uuid.uuid4().hex[:8]}").id
        assert _write(ledger, tenant, "w00") == "w00"
        server.stop(mode="immediate")
        try:
            outcomes = [_write(ledger, tenant, f"w{i:02d}") for i in range(1, 41)]
            with pytest.raises(InvalidInput):  # bad input is refused, not spooled
                ledger.db.run(insert_marker(uuid.uuid4(), "nul\x00"), Binding(tenant))
            assert outcomes == ["spooled"] * 40
            status = ledger.spool_status()
            assert status is not None and status.pending == 40
        finally:
            server.start()
        # the next write queues behind the spool (it is applied with it, or spooled too if
        # the outage was seen a moment ago); a replay then applies everything, in order
        assert _write(ledger, tenant, "w41") in ("w41", "spooled")
        ledger.replay_spool()
        markers = _markers(ledger, tenant)
        assert markers["n"] == 42
        assert markers["names"] == [f"w{i:02d}" for i in range(42)]
        status = ledger.spool_status()
        assert status is not None and (status.pending, status.dead) == (0, 0)


def test_a_payload_that_looks_like_a_tag_is_stored_unchanged_by_the_replay(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    settings = _settings(server, tmp_path / "spool")
    with Ledger(settings, migrate=False) as ledger:
        tenant = ledger.tenants.create(f"s-{uuid.uuid4().hex[:8]}").id
        Spool(tmp_path / "spool").append(
            Binding(tenant), events.append_fields("tagged", "T", LOOKALIKES, event_id=uuid.uuid4())
        )
        assert ledger.replay_spool() == 1
        [stored] = ledger.tenant(tenant).events.read_stream("tagged")
        assert stored.payload == LOOKALIKES
        status = ledger.spool_status()
        assert status is not None and (status.pending, status.dead) == (0, 0)


def test_an_entry_that_cannot_be_read_back_is_set_aside_and_the_rest_replayed(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    """As after a deploy that renamed an operation or changed its arguments."""
    settings = _settings(server, tmp_path / "spool")
    spool = Spool(tmp_path / "spool")
    with Ledger(settings, migrate=False) as ledger:
        tenant = ledger.tenants.create(f"s-{uuid.uuid4().hex[:8]}").id
        for n in range(4):
            op = events.append_fields("kept", "T", {"n": n}, event_id=uuid.uuid4())
            spool.append(Binding(tenant), op)
        lines = spool.journal.read_text().splitlines()
        renamed, changed, damaged = (json.loads(line) for line in lines[:3])
        renamed["op"] = "agentledger.events.ops:append_renamed"
        changed["kwargs"]["event_uuid"] = changed["kwargs"].pop("event_id")
        damaged["args"][2] = {"n": {"$decimal": "not a number"}}  # a hand-damaged tag
        lines[:3] = [json.dumps(renamed), json.dumps(changed), json.dumps(damaged)]
        lines.insert(3, json.dumps({"id": "keys-lost"}))  # an entry with its keys lost
        spool.journal.write_text("\n".join(lines) + "\n")

        assert ledger.replay_spool() == 1
        [stored] = ledger.tenant(tenant).events.read_stream("kept")
        assert stored.payload == {"n": 3}
        status = ledger.spool_status()
        assert status is not None and (status.pending, status.dead) == (0, 4)
        dead = [json.loads(line) for line in spool.dead.read_text().splitlines()]
        assert [d["id"] for d in dead] == [renamed["id"], changed["id"], damaged["id"], "keys-lost"]
        assert "append_renamed" in dead[0]["error"] and "event_id" in dead[1]["error"]
        assert all("cannot be read back" in d["error"] for d in dead[:3])
        assert "foreign operation" in dead[3]["error"]


def test_a_write_spooled_for_a_tenant_purged_and_made_again_is_not_replayed_into_it(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    """The tenant of that id now is a new one, created after the write was accepted: the
    entry is set aside, and the new tenant stays empty."""
    settings = _settings(server, tmp_path / "spool")
    spool = Spool(tmp_path / "spool")
    with Ledger(settings, migrate=False) as ledger:
        tenant = ledger.tenants.create(f"s-{uuid.uuid4().hex[:8]}").id
        kept = ledger.tenants.create(f"s-{uuid.uuid4().hex[:8]}").id
        for owner in (tenant, kept):
            op = events.append_fields("secret", "T", {"card": "4111"}, event_id=uuid.uuid4())
            spool.append(Binding(owner), op)
        ledger.tenants.archive(tenant)
        ledger.tenants.purge(tenant)
        ledger.tenants.create(tenant)
        assert ledger.replay_spool() == 1
        assert ledger.tenant(tenant).events.read_all(0) == []
        assert [e.payload for e in ledger.tenant(kept).events.read_all(0)] == [{"card": "4111"}]
        [dead] = [json.loads(line) for line in spool.dead.read_text().splitlines()]
        assert dead["tenant"] == tenant and "created since" in dead["error"]


def test_a_spooled_write_is_dated_when_it_was_accepted(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    """A run started and finished during an outage keeps its times and its duration, though
    both are applied together when the database is back."""
    settings = _settings(server, tmp_path / "spool")
    spool = Spool(tmp_path / "spool")
    with Ledger(settings, migrate=False) as ledger:
        tenant = ledger.tenants.create(f"s-{uuid.uuid4().hex[:8]}").id
        run_id = uuid.uuid4()
        spool.append(Binding(tenant), runs.start("outage", id=run_id))
        time.sleep(0.3)  # the run lasts a moment: its finish is accepted later
        spool.append(Binding(tenant), runs.finish(run_id))
        given = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)  # a caller's own at is kept
        spool.append(
            Binding(tenant), events.append_fields("s", "T", {}, event_id=uuid.uuid4(), at=given)
        )
        accepted = [dt.datetime.fromisoformat(e.at) for e in spool.pending()]
        time.sleep(0.3)  # the replay comes later still
        assert ledger.replay_spool() == 3
        run = ledger.tenant(tenant).runs.get(run_id)
        assert (run.started_at, run.finished_at) == (accepted[0], accepted[1])
        exact_ms = (accepted[1] - accepted[0]).total_seconds() * 1000
        assert run.duration_ms is not None and abs(run.duration_ms - exact_ms) <= 0.5
        [event] = ledger.tenant(tenant).events.read_stream("s")
        assert event.created_at == given


@pytest.mark.parametrize("face", ["sync", "async"])
def test_a_write_queued_behind_the_spool_and_refused_raises_to_its_caller(
    server: EmbeddedServer, tmp_path: Path, face: str, aio: asyncio.Runner
) -> None:
    """Not Spooled (it will never apply) and not a dead letter (its caller was told)."""
    settings = _settings(server, tmp_path / "spool")
    with opened(face, settings, aio) as ledger:
        tenant = ledger.tenants.create(f"s-{uuid.uuid4().hex[:8]}").id
        earlier = events.append_fields("s", "Earlier", event_id=uuid.uuid4())
        Spool(tmp_path / "spool").append(Binding(tenant), earlier)  # left by an outage
        log = ledger.tenant(tenant).events
        with pytest.raises(VersionConflict):
            log.append("s", "Late", expected_version=5)
        assert [e.type for e in log.read_stream("s")] == ["Earlier"]
        assert log.append("s", "Next", expected_version=1).version == 2
        status = ledger.spool_status()
        assert status is not None and (status.pending, status.dead) == (0, 0)


def test_ledger_opens_while_the_database_is_down(server: EmbeddedServer, tmp_path: Path) -> None:
    settings = _settings(server, tmp_path / "spool")
    with Ledger(settings, migrate=False) as ledger:
        tenant = ledger.tenants.create(f"s-{uuid.uuid4().hex[:8]}").id
    server.stop(mode="immediate")
    try:
        with Ledger(settings) as ledger:  # migrate=True: the check is skipped, not fatal
            assert _write(ledger, tenant, "offline") == "spooled"
    finally:
        server.start()
    with Ledger(settings) as ledger:
        assert ledger.replay_spool() == 1
        assert _markers(ledger, tenant)["names"] == ["offline"]


REPLAYER = """
import sys
from agentledger import Ledger, Settings
settings = Settings.build(
    database_url=sys.argv[1], spool_dir=sys.argv[2], data_dir=sys.argv[3],
    spool_replay_modules=["tests."],
)
with Ledger(settings, migrate=False) as ledger:
    print(ledger.replay_spool())
"""


def test_replay_killed_halfway_then_resumed_is_exactly_once(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    spool_dir = tmp_path / "spool"
    settings = _settings(server, spool_dir)
    with Ledger(settings, migrate=False) as ledger:
        tenant = ledger.tenants.create(f"s-{uuid.uuid4().hex[:8]}").id
    spool = Spool(spool_dir)
    total = 400
    for i in range(total):
        spool.append(Binding(tenant), insert_marker(uuid.uuid4(), f"k{i:03d}"))
    proc = subprocess.Popen(
        [sys.executable, "-c", REPLAYER, server.url(), str(spool_dir), str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if spool.done.exists() and spool.done.stat().st_size > 20 * 33:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    replayed_before_kill = len(spool.done.read_text().split())
    assert 0 < replayed_before_kill < total, "the kill must land mid-replay"
    with Ledger(settings, migrate=False) as ledger:
        ledger.replay_spool()
        markers = _markers(ledger, tenant)
    assert markers["n"] == total
    assert markers["names"] == [f"k{i:03d}" for i in range(total)]
    assert spool.status().pending == 0
