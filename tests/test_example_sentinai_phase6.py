"""Seed 004 end to end: the loader as one command, the check script's ticks, and the hard
cases: racing upserts and appends, a rolled-back agent step, initialize_database waiting
for a database that comes up late, and the seed's settings refused naming the variable."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentledger import AsyncLedger, ConfigError, InvalidInput, Settings
from agentledger.db import migrate
from agentledger.db.embedded import EmbeddedServer
from examples.sentinai_phase6 import (
    EventEnvelope,
    ExceptionEventRepository,
    ExceptionRepository,
    PlaybookRepository,
    TenantRepository,
    ToolDefinitionRepository,
    create_phase6_app,
    initialize_database,
    phase6_settings,
    seed_data,
    unit_of_work,
)
from examples.sentinai_phase6.proxy import Proxy
from tests.conftest import ROOT, server_dir

EXAMPLE = ROOT / "examples" / "sentinai_phase6"
CHECKS = 20


def test_the_loader_is_one_command(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """What ``python examples/sentinai_phase6/seed_data.py`` runs (the check script then
    runs it again and compares every listing)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    assert asyncio.run(seed_data.main()) == 0
    assert capsys.readouterr().out == "loaded 50 exceptions: finance 30, healthcare 20\n"


def test_the_script_prints_a_tick_per_criterion(database_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE / "scripts" / "check.py")],
        env={"DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == CHECKS and all(line.endswith("✓") for line in lines), result.stdout


@pytest.fixture
async def ledger(settings: Settings) -> AsyncIterator[AsyncLedger]:
    async with AsyncLedger(settings, migrate=False) as opened:
        yield opened


@pytest.fixture
async def tenant(ledger: AsyncLedger) -> str:
    tid = f"p6t-{uuid.uuid4().hex[:10]}"
    await TenantRepository(ledger).create_tenant(tid, "Test tenant")
    return tid


def _exception(ref: str, **fields: Any) -> dict[str, Any]:
    return {"exception_id": ref, "domain": "Finance", "severity": "high", **fields}


async def test_racing_upserts_of_a_new_exception_make_one(ledger: AsyncLedger, tenant: str) -> None:
    repo = ExceptionRepository(ledger)
    made = await asyncio.gather(
        *(repo.upsert_exception(tenant, _exception("EX-2025-9000", owner=f"o{i % 2}"))
          for i in range(8))
    )  # fmt: skip
    assert len({m.exception_id for m in made}) == 1
    page = await repo.list_exceptions(tenant)
    assert [x.exception_id for x in page.items] == ["EX-2025-9000"]
    events = await ExceptionEventRepository(ledger).get_events_for_exception(tenant, "EX-2025-9000")
    assert [e.event_type for e in events].count("CaseCreated") == 1


async def test_racing_appends_of_one_event_id_append_once(ledger: AsyncLedger, tenant: str) -> None:
    await ExceptionRepository(ledger).upsert_exception(tenant, _exception("EX-2025-9001"))
    event = EventEnvelope(
        tenant_id=tenant,
        exception_id="EX-2025-9001",
        event_type="TriageCompleted",
        actor_type="agent",
        payload={"severity": "high"},
    )
    events = ExceptionEventRepository(ledger)
    appended = await asyncio.gather(*(events.append_event_if_new(event) for _ in range(10)))
    assert sorted(appended) == [False] * 9 + [True]
    log = await events.get_events_for_exception(tenant, "EX-2025-9001")
    assert [e.event_type for e in log] == ["CaseCreated", "TriageCompleted"]


async def test_an_agent_step_that_fails_leaves_nothing(ledger: AsyncLedger, tenant: str) -> None:
    repo = ExceptionRepository(ledger)
    await repo.upsert_exception(tenant, _exception("EX-2025-9002"))
    event = EventEnvelope(
        tenant_id=tenant,
        exception_id="EX-2025-9002",
        event_type="PolicyEvaluated",
        payload={"decision": "allowed"},
    )
    with pytest.raises(InvalidInput) as refused:
        async with unit_of_work(ledger, tenant) as tx:
            await ExceptionEventRepository(tx).append_event_if_new(event)
            await ExceptionRepository(tx).update_exception(
                tenant, "EX-2025-9002", {"status": "analyzing"}
            )
            await ExceptionRepository(tx).update_exception(
                tenant, "EX-2025-9002", {"severity": "catastrophic"}
            )
    assert refused.value.field == "severity"
    stored = await repo.get_exception(tenant, "EX-2025-9002")
    assert stored is not None and (stored.status, stored.version) == ("open", 1)
    assert not await ExceptionEventRepository(ledger).event_exists(tenant, event.event_id)


async def test_a_new_exception_without_a_title_in_a_transaction(
    ledger: AsyncLedger, tenant: str
) -> None:
    async with unit_of_work(ledger, tenant) as tx:
        made = await ExceptionRepository(tx).upsert_exception(
            tenant, _exception("EX-2025-9003", type="MarginCall", entity="account:A1")
        )
    assert made.title == "MarginCall on account:A1"
    assert await ExceptionRepository(ledger).get_exception(tenant, "EX-2025-9003") == made


async def test_initialize_database_waits_for_a_database_that_comes_up_late(
    settings: Settings,
) -> None:
    target = settings.database_url or ""
    host_port = target.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    proxy = Proxy(host, int(port))
    await proxy.start()
    await proxy.stop()  # the port is known, nothing listens on it yet
    late = settings.with_(
        database_url=target.replace(host_port, f"127.0.0.1:{proxy.port}"),
        app_url=None,
        connect_timeout=1,
    )
    loop = asyncio.get_running_loop()
    loop.call_later(0.4, lambda: asyncio.ensure_future(proxy.start()))
    try:
        ledger = await initialize_database(late, attempts=6, backoff=0.2)
        try:
            assert (await ledger.health()).migrations_current
        finally:
            await ledger.close()
    finally:
        await proxy.stop()


def test_the_seed_settings_map_and_refuse_naming_the_variable() -> None:
    settings = phase6_settings(
        {"DATABASE_URL": "postgresql+asyncpg://u:p@db:5432/sentinai", "DB_POOL_SIZE": "4"}
    )
    assert settings.database_url == "postgresql://u:p@db:5432/sentinai"
    assert (settings.pool_max_size, settings.pool_timeout) == (4 + 5, 30.0)
    with pytest.raises(ConfigError) as bad:
        phase6_settings({"DB_POOL_TIMEOUT": "soon"})
    assert bad.value.field == "DB_POOL_TIMEOUT"


@pytest.mark.slow
async def test_a_real_database_restart_during_requests(tmp_path: Path) -> None:
    """The server itself stops (a crash: no clean shutdown) under running requests and
    starts again: /readyz answers 503 while it is down, the requests are retried and each
    write is stored once."""
    server = EmbeddedServer(server_dir())  # durable: we crash it
    await asyncio.to_thread(server.start)
    try:
        await asyncio.to_thread(migrate.upgrade, server.url())
        settings = Settings.build(
            database_url=server.url(),
            data_dir=tmp_path,
            pool_timeout=1.0,
            connect_timeout=2,
            retry_attempts=10,
            retry_backoff=0.3,
        )
        async with AsyncLedger(settings, migrate=False) as ledger:
            await TenantRepository(ledger).create_tenant("finance", "Finance Corp")
            key = (await ledger.tenant("finance").keys.create(role="writer")).secret
            headers = {"Authorization": f"Bearer {key}"}
            app = create_phase6_app(ledger=ledger)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://phase6", timeout=60
            ) as http:
                first = _exception("EX-2025-0001", type="SettlementFail")
                answer = await http.post("/api/exceptions/finance", json=first, headers=headers)
                assert answer.status_code == 200, answer.text
                await asyncio.to_thread(server.stop, mode="immediate")
                assert (await http.get("/readyz")).status_code == 503

                async def restart() -> None:
                    await asyncio.sleep(0.5)
                    await asyncio.to_thread(server.start)

                bodies = [_exception(f"EX-2025-00{i:02d}") for i in range(2, 8)]
                answers = await asyncio.gather(
                    restart(),
                    *(http.post("/api/exceptions/finance", json=b, headers=headers)
                      for b in bodies),
                    http.get("/api/exceptions/finance", headers=headers),
                )  # fmt: skip
                codes = [a.status_code for a in answers[1:] if a is not None]
                assert codes == [200] * 7, [a.text for a in answers[1:] if a is not None]
                assert (await http.get("/readyz")).status_code == 200
            events = ExceptionEventRepository(ledger)
            for body in [first, *bodies]:
                log = await events.get_events_for_exception("finance", body["exception_id"])
                assert [e.event_type for e in log] == ["CaseCreated", "ExceptionCreated"]
            page = await ExceptionRepository(ledger).list_exceptions("finance")
            assert len(page.items) == 7
    finally:
        await asyncio.to_thread(server.stop, mode="immediate")
        shutil.rmtree(server.data_dir, ignore_errors=True)


async def _normalized(ledger: AsyncLedger, tenant: str, ref: str, count: int) -> None:
    """``ref`` with ``count`` ExceptionNormalized events after its CaseCreated."""
    await ExceptionRepository(ledger).upsert_exception(tenant, _exception(ref))
    async with unit_of_work(ledger, tenant) as tx:
        events = ExceptionEventRepository(tx)
        for i in range(count):
            envelope = EventEnvelope(
                tenant_id=tenant,
                exception_id=ref,
                event_type="ExceptionNormalized",
                payload={"i": i},
            )
            await events.append_event_if_new(envelope)


async def _writer(ledger: AsyncLedger, tenant: str) -> dict[str, str]:
    key = await ledger.tenant(tenant).keys.create(role="writer")
    return {"Authorization": f"Bearer {key.secret}"}


async def test_event_types_filter_before_the_limit_and_refuse_a_string(
    ledger: AsyncLedger, tenant: str
) -> None:
    await _normalized(ledger, tenant, "EX-2025-9100", 5)
    events = ExceptionEventRepository(ledger)
    await events.append_event_if_new(
        EventEnvelope(
            tenant_id=tenant,
            exception_id="EX-2025-9100",
            event_type="TriageCompleted",
            payload={"severity": "high"},
        )
    )
    got = await events.get_events_for_exception(
        tenant, "EX-2025-9100", event_types=["TriageCompleted"], limit=2
    )
    assert [e.event_type for e in got] == ["TriageCompleted"]
    two = await events.get_events_for_exception(
        tenant, "EX-2025-9100", event_types=["ExceptionNormalized"], limit=2
    )
    assert [e.payload["i"] for e in two] == [0, 1]
    rest = await events.get_events_for_exception(
        tenant, "EX-2025-9100", event_types=["ExceptionNormalized"], after=two[-1].sequence
    )
    assert [e.payload["i"] for e in rest] == [2, 3, 4]
    with pytest.raises(InvalidInput) as refused:
        await events.get_events_for_exception(tenant, "EX-2025-9100", event_types="Triage")
    assert refused.value.field == "event_types"


async def test_playbooks_and_tools_are_listed_past_a_thousand(
    ledger: AsyncLedger, tenant: str
) -> None:
    async with unit_of_work(ledger, tenant) as tx:
        playbooks, tools = PlaybookRepository(tx), ToolDefinitionRepository(tx)
        for i in range(1005):
            await playbooks.create_version(tenant, f"pb-{i:05d}", steps=[])
            await tools.create_tool(f"tool-{i:05d}", "email", {}, tenant_id=tenant)
    listed = await PlaybookRepository(ledger).list_playbooks(tenant)
    assert [p.playbook_id for p in listed] == [f"pb-{i:05d}" for i in range(1005)]
    own = [t.tool_id for t in await ToolDefinitionRepository(ledger).list_tools(tenant)]
    assert [t for t in own if t.startswith("tool-")] == [f"tool-{i:05d}" for i in range(1005)]


async def test_the_supervisor_lists_every_sla_breach(ledger: AsyncLedger, tenant: str) -> None:
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    async with unit_of_work(ledger, tenant) as tx:
        repo = ExceptionRepository(tx)
        for i in range(130):
            await repo.upsert_exception(
                tenant, _exception(f"EX-S{i:04d}", sla_deadline=past + dt.timedelta(minutes=i))
            )
    app = create_phase6_app(ledger=ledger)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        body = (
            await c.get(f"/api/supervisor/{tenant}", headers=await _writer(ledger, tenant))
        ).json()
    assert body["counts"]["sla_breached"] == 130
    assert [b["exception_id"] for b in body["sla_breaches"]] == [f"EX-S{i:04d}" for i in range(130)]
    every = await ExceptionRepository(ledger).find_sla_breaches(tenant, limit=None)
    assert len(every) == 130


async def test_http_timelines_page_with_after_and_limit(ledger: AsyncLedger, tenant: str) -> None:
    await _normalized(ledger, tenant, "EX-2025-9101", 4)  # sequences 1 (CaseCreated) to 5
    app = create_phase6_app(ledger=ledger)
    headers = await _writer(ledger, tenant)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        first = await c.get("/api/exceptions/EX-2025-9101/events?limit=2", headers=headers)
        assert [e["sequence"] for e in first.json()] == [1, 2]
        assert first.headers["Next-After"] == "2"
        last = await c.get("/api/exceptions/EX-2025-9101/events?after=4&limit=2", headers=headers)
        assert [e["sequence"] for e in last.json()] == [5]
        assert "Next-After" not in last.headers
        detail = (
            await c.get(f"/api/exceptions/{tenant}/EX-2025-9101?after=1&limit=3", headers=headers)
        ).json()
        assert [e["sequence"] for e in detail["events"]] == [2, 3, 4]
        assert detail["next_after"] == 4
        detail = (
            await c.get(f"/api/exceptions/{tenant}/EX-2025-9101?after=4", headers=headers)
        ).json()
        assert [e["sequence"] for e in detail["events"]] == [5]
        assert detail["next_after"] is None


def test_an_envelope_refuses_created_at_text_naming_it() -> None:
    with pytest.raises(InvalidInput) as refused:
        EventEnvelope(
            tenant_id="t",
            exception_id="EX-1",
            event_type="ExceptionNormalized",
            created_at="2025-01-01T00:00:00+00:00",  # type: ignore[arg-type]
        )
    assert refused.value.field == "created_at"
