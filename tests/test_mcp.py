"""``agentledger mcp`` through the MCP SDK's own client, over both transports: stdio (the
command spawned as an MCP client would, with its key in the environment) and streamable
HTTP (``agentledger mcp --transport http`` on a free port, one client per key). Each server
runs once for the module; effects are checked through the library."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, TextContent, TextResourceContents
from typer.testing import CliRunner

from agentledger import AsyncLedger, Ledger, PermissionDenied, Settings
from agentledger.cli import app
from agentledger.integrations.mcp import serve_stdio
from agentledger.integrations.mcp.serve import http_app
from tests.http_server import serve
from tests.procs import ROOT

T = TypeVar("T")
TOOLS = {
    "memory_upsert",
    "memory_find_by_name",
    "memory_search",
    "memory_relate",
    "memory_neighbours",
    "events_append",
    "events_read_stream",
    "decisions_record",
    "decisions_feedback",
    "alerts_create",
    "alerts_pending",
    "alerts_acknowledge",
    "tasks_enqueue",
    "tasks_claim",
    "tasks_settle",
    "sessions_create",
    "sessions_add_chunk",
    "sessions_search",
    "sessions_summary",
    "cases_list",
    "cases_get",
    "cases_create",
    "cases_upsert",
    "cases_transition",
    "cases_comment",
    "cases_aggregates",
    "catalog_get",
    "catalog_list",
    "catalog_create_version",
}
IDEMPOTENT = {
    "memory_relate",
    "decisions_feedback",
    "alerts_acknowledge",
    "tasks_settle",
    "cases_upsert",
    "cases_transition",
    "catalog_create_version",
}
READS = {
    "memory_find_by_name",
    "memory_search",
    "memory_neighbours",
    "events_read_stream",
    "alerts_pending",
    "sessions_search",
    "sessions_summary",
    "cases_list",
    "cases_get",
    "cases_aggregates",
    "catalog_get",
    "catalog_list",
}


class Connected:
    """One MCP client session held open on the test loop across the module's tests."""

    def __init__(
        self, aio: asyncio.Runner, connect: Callable[[], AbstractAsyncContextManager[Client]]
    ) -> None:
        self._aio = aio
        self._connect = connect
        self._up = asyncio.Event()
        self._stop = asyncio.Event()
        self._client: Client | None = None
        self._task = aio.get_loop().create_task(self._hold())
        aio.run(self._started())

    async def _hold(self) -> None:
        try:
            async with self._connect() as client:
                self._client = client
                self._up.set()
                await self._stop.wait()
        finally:
            self._up.set()

    async def _started(self) -> None:
        await self._up.wait()
        if self._client is None:
            await self._task  # raises what the connection failed with

    @property
    def client(self) -> Client:
        assert self._client is not None
        return self._client

    def call(self, tool: str, **arguments: Any) -> CallToolResult:
        result = self._aio.run(self.client.call_tool(tool, arguments))
        assert isinstance(result, CallToolResult)
        return result

    def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """The structured result of a call that must succeed."""
        result = self.call(tool, **arguments)
        assert not result.is_error, _text(result)
        structured: dict[str, Any] | None = result.structured_content
        assert structured is not None
        return structured

    def error(self, tool: str, **arguments: Any) -> str:
        """The text of a call that must fail as a tool error."""
        result = self.call(tool, **arguments)
        assert result.is_error, result.structured_content
        return _text(result)

    def run(self, work: Callable[[Client], Awaitable[T]]) -> T:
        """``work`` done with the client, on the test loop."""
        return self._aio.run(_call(work, self.client))

    def read(self, uri: str) -> Any:
        result = self._aio.run(self.client.read_resource(uri))
        (content,) = result.contents
        assert isinstance(content, TextResourceContents)
        return json.loads(content.text)

    def close(self) -> None:
        self._stop.set()
        self._aio.run(_finish(self._task))


async def _call(work: Callable[[Client], Awaitable[T]], client: Client) -> T:
    return await work(client)


async def _finish(task: asyncio.Task[None]) -> None:
    await task


def _text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


@pytest.fixture(scope="module")
def keys(sync_ledger: Ledger) -> dict[str, Any]:
    """Tenant "home" with a writer and a reader key; tenant "away" with things of its own."""
    home, away = (f"t-{uuid.uuid4().hex[:10]}" for _ in range(2))
    sync_ledger.tenants.create(home)
    sync_ledger.tenants.create(away)
    created = {
        role: sync_ledger.tenant(home).keys.create(role=role).secret
        for role in ("writer", "reader")
    }
    return {"home": home, "away": away, **created}


def _environment(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": str(data_dir)}
    env.pop("AGENTLEDGER_API_KEY", None)
    return env | extra


@pytest.fixture(scope="module")
def stdio(
    aio: asyncio.Runner,
    database_url: str,
    keys: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Connected]:
    """``python -m agentledger.cli mcp`` spawned by the SDK's stdio client, as the writer."""
    env = _environment(
        database_url, tmp_path_factory.mktemp("stdio"), AGENTLEDGER_API_KEY=keys["writer"]
    )
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "agentledger.cli", "mcp"], env=env, cwd=ROOT
    )
    connected = Connected(aio, lambda: Client(params))
    yield connected
    connected.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def http_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``agentledger mcp --transport http`` on a free port, until the module ends."""
    port = _free_port()
    env = _environment(database_url, tmp_path_factory.mktemp("http"))
    log = tmp_path_factory.mktemp("http-log") / "stderr"
    command = [sys.executable, "-m", "agentledger.cli", "mcp", "--transport", "http"]
    with log.open("w") as stderr:
        proc = subprocess.Popen([*command, "--port", f"{port}"], cwd=ROOT, env=env, stderr=stderr)
    deadline = time.monotonic() + 60
    while not _listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the MCP server did not start: {log.read_text()}")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/mcp"
    # Ctrl-C, as a person stops it: the process leaves through its atexit handlers.
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _over_http(url: str, key: str | None, *, mode: str = "auto") -> Client:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    transport = streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers))
    return Client(transport, mode=mode)


@pytest.fixture(scope="module")
def http_as(aio: asyncio.Runner, http_url: str) -> Iterator[Callable[[str], Connected]]:
    """A client of the HTTP server for a key, made once per key."""
    made: dict[str, Connected] = {}

    def connect(key: str) -> Connected:
        if key not in made:
            made[key] = Connected(aio, lambda: _over_http(http_url, key))
        return made[key]

    yield connect
    for connected in made.values():
        connected.close()


@pytest.fixture(params=["stdio", "http"])
def writer(
    request: pytest.FixtureRequest, keys: dict[str, Any], http_as: Callable[[str], Connected]
) -> Connected:
    """The home tenant's writer, over each transport."""
    if request.param == "stdio":
        connected: Connected = request.getfixturevalue("stdio")
        return connected
    return http_as(keys["writer"])


@pytest.fixture
def home(sync_ledger: Ledger, keys: dict[str, Any]) -> Any:
    return sync_ledger.tenant(keys["home"])


def test_every_tool_is_listed_with_its_arguments_described(writer: Connected) -> None:
    tools = writer.run(lambda c: c.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    for t in tools:
        assert t.description and "\n    " not in t.description, t.name
        assert t.output_schema is not None, t.name
        for name, field in t.input_schema["properties"].items():
            assert field.get("description"), f"{t.name}.{name}"
        assert t.annotations is not None
        assert t.annotations.read_only_hint is (t.name in READS), t.name
        if t.name not in READS:
            assert t.annotations.idempotent_hint is (t.name in IDEMPOTENT), t.name
    upsert = next(t for t in tools if t.name == "memory_upsert")
    assert upsert.input_schema["required"] == ["kind"]
    assert upsert.input_schema["properties"]["merge"]["enum"] == ["shallow", "deep"]
    templates = writer.run(lambda c: c.list_resource_templates()).resource_templates
    assert {t.uri_template for t in templates} == {
        "agentledger://memory/entities/{id}",
        "agentledger://streams/{stream}",
    }


def test_memory_tools_merge_find_search_and_link(writer: Connected, home: Any) -> None:
    key = uuid.uuid4().hex
    word = f"x{key[:8]}"  # names of this run only
    first = writer.ok(
        "memory_upsert",
        kind="person",
        name=f"Augusta {word}",
        key=key,
        source="crm",
        attrs={"city": "London"},
        tags=["vip"],
    )["entity"]
    again = writer.ok(
        "memory_upsert", kind="person", key=key, source="crm", attrs={"role": "analyst"}
    )["entity"]
    assert again["id"] == first["id"] and again["name"] == f"Augusta {word}"
    stored = home.memory.get(first["id"])
    assert stored.attrs == {"city": "London", "role": "analyst"} and stored.update_count == 1
    company = writer.ok("memory_upsert", kind="company", name=f"Engines {word}", by_name=True)[
        "entity"
    ]

    found = writer.ok("memory_find_by_name", name=f"Augsta {word}", kind=["person"])["hits"]
    assert found[0]["entity"]["id"] == first["id"]
    searched = writer.ok("memory_search", query=f"engines {word}")["hits"]
    assert searched[0]["entity"]["id"] == company["id"]
    text = writer.ok("memory_search", query=word, mode="text", tags=["vip"])["hits"]
    assert [h["entity"]["id"] for h in text] == [first["id"]]
    substring = writer.ok("memory_search", query=word[1:], mode="substring")["hits"]
    assert {h["entity"]["id"] for h in substring} == {first["id"], company["id"]}

    edge = writer.ok(
        "memory_relate", from_id=first["id"], to_id=company["id"], type="works_at", weight=0.5
    )["relationship"]
    assert edge["type"] == "works_at"
    (stored_edge,) = home.memory.relationships([first["id"]])
    assert str(stored_edge.to_id) == company["id"] and stored_edge.weight == 0.5
    (near,) = writer.ok("memory_neighbours", id=company["id"])["neighbours"]
    assert near["entity"]["id"] == first["id"] and near["direction"] == "in"

    entity = writer.read(f"agentledger://memory/entities/{first['id']}")
    assert entity["name"] == f"Augusta {word}" and entity["attrs"]["role"] == "analyst"


def test_events_decisions_and_alerts(writer: Connected, home: Any) -> None:
    stream = f"order:{uuid.uuid4().hex[:8]}"
    event_id = str(uuid.uuid4())
    appended = writer.ok(
        "events_append", stream=stream, type="OrderPlaced", payload={"total": 12}, event_id=event_id
    )["event"]
    assert appended["version"] == 1 and not appended["already_appended"]
    again = writer.ok(
        "events_append", stream=stream, type="OrderPlaced", payload={"total": 12}, event_id=event_id
    )
    assert again["event"]["already_appended"]
    changed = writer.error("events_append", stream=stream, type="Other", event_id=event_id)
    assert changed.startswith("conflict:") and changed.endswith("(field: event_id)")
    writer.ok("events_append", stream=stream, type="OrderShipped", expected_version=1)
    stored, _ = home.events.read_stream(stream)
    assert stored.payload == {"total": 12} and stored.actor_type == "agent"
    read = writer.ok("events_read_stream", stream=stream, backwards=True, limit=1)
    assert [e["type"] for e in read["events"]] == ["OrderShipped"]
    conflict = writer.error("events_append", stream=stream, type="Late", expected_version=1)
    assert conflict.startswith("version-conflict:")
    resource = writer.read(f"agentledger://streams/{stream.replace(':', '%3A')}")
    assert resource["version"] == 2
    assert [e["type"] for e in resource["events"]] == ["OrderPlaced", "OrderShipped"]

    decision = writer.ok(
        "decisions_record",
        decision="Refund the order",
        decision_type="refund",
        reasoning="Damaged in transit",
        confidence=0.9,
    )["decision"]
    writer.ok("decisions_feedback", decision_id=decision["id"], accepted=True, by="ops")
    recorded = home.decisions.get(decision["id"])
    assert recorded.accepted is True and recorded.feedback_by == "ops"
    assert recorded.confidence == 0.9

    alert = writer.ok(
        "alerts_create", tier="urgent", title=f"Refund due {stream}", action_required=True
    )["alert"]
    assert alert["tier"] == 1
    pending = writer.ok("alerts_pending", tier=1)["alerts"]
    assert alert["id"] in {a["id"] for a in pending}
    writer.ok("alerts_acknowledge", alert_id=alert["id"], by="ops")
    assert home.alerts.get(alert["id"]).status == "acknowledged"
    twice = writer.error("alerts_acknowledge", alert_id=alert["id"])
    assert twice.startswith("illegal-transition:") and "acknowledged" in twice


def test_tasks_and_sessions(writer: Connected, home: Any) -> None:
    queue = f"q-{uuid.uuid4().hex[:8]}"
    task = writer.ok("tasks_enqueue", queue=queue, input={"url": "x"}, task_type="fetch")["task"]
    (claimed,) = writer.ok("tasks_claim", queue=queue, worker="claude")["tasks"]
    assert claimed["id"] == task["id"] and claimed["claimed_by"] == "claude"
    done = writer.ok(
        "tasks_settle",
        task_id=claimed["id"],
        token=claimed["claim_token"],
        action="complete",
        output={"pages": 3},
    )["task"]
    assert done["status"] == "completed"
    assert home.tasks.get(task["id"]).output == {"pages": 3}
    assert writer.ok("tasks_claim", queue=queue)["tasks"] == []
    doomed = writer.ok("tasks_enqueue", queue=queue, max_attempts=1)["task"]
    (held,) = writer.ok("tasks_claim", queue=queue, lease=30)["tasks"]
    failed = writer.ok(
        "tasks_settle", task_id=held["id"], token=held["claim_token"], action="fail", error="404"
    )["task"]
    assert held["id"] == doomed["id"] and failed["status"] == "dead"
    assert home.tasks.get(doomed["id"]).error == "404"

    session = writer.ok("sessions_create", title="Launch plan", participants=["ana"])["session"]
    chunk = writer.ok(
        "sessions_add_chunk",
        session_id=session["id"],
        content="ana: we ship the heliotrope build on Monday",
        author="ana",
    )["chunk"]
    assert chunk["seq"] == 1
    assert home.sessions.get_chunk(chunk["id"]).content.endswith("on Monday")
    (hit,) = writer.ok("sessions_search", query="heliotrope", session_id=session["id"])["hits"]
    assert "<mark>heliotrope</mark>" in hit["snippet"]
    digest = writer.ok("sessions_summary", session_id=session["id"])
    assert digest["session"]["chunk_count"] == 1
    assert [c["id"] for c in digest["recent_chunks"]] == [chunk["id"]]


def test_cases_open_move_comment_list_and_count(writer: Connected, home: Any) -> None:
    home.cases.define_kind(
        "exception",
        ["open", "analyzing", "resolved", "escalated"],
        transitions={"open": ["analyzing"], "analyzing": ["resolved", "escalated"]},
        terminal=["resolved"],
    )
    ref, domain = f"EX-{uuid.uuid4().hex[:8]}", f"d-{uuid.uuid4().hex[:8]}"
    fields = {"kind": "exception", "ref": ref, "severity": "high", "domain": domain}
    opened = writer.ok("cases_upsert", title="Settlement failed", amount="1250000.50", **fields)
    assert opened["created"] and opened["case"]["status"] == "open"
    again = writer.ok("cases_upsert", **fields)
    assert again["changed"] == [] and again["case"]["version"] == 1
    worse = writer.ok("cases_upsert", **{**fields, "severity": "critical"})
    assert worse["changed"] == ["severity"] and worse["case"]["version"] == 2
    case_id = opened["case"]["id"]
    assert home.cases.get(case_id).amount == Decimal("1250000.50")

    detail = writer.ok("cases_get", ref=ref, kind="exception")
    assert detail["case"]["id"] == case_id and detail["next_statuses"] == ["analyzing"]
    assert [e["type"] for e in detail["timeline"]] == ["CaseCreated", "CaseUpdated"]
    moved = writer.ok(
        "cases_transition", case_id=case_id, status="analyzing", reason="triage", expected_version=2
    )["case"]
    assert moved["status"] == "analyzing" and moved["version"] == 3
    illegal = writer.error("cases_transition", case_id=case_id, status="open")
    assert illegal.startswith("illegal-transition:") and "'analyzing'" in illegal
    stale = writer.error("cases_transition", case_id=case_id, status="resolved", expected_version=2)
    assert stale.startswith("version-conflict:")
    note = writer.ok("cases_comment", case_id=case_id, text="Desk called back", by="claude")
    assert note["comment"]["payload"]["text"] == "Desk called back"
    assert home.cases.timeline(case_id)[-1].actor_id == "claude"

    other = writer.ok("cases_create", kind="exception", title="Margin call", domain=domain)["case"]
    page = writer.ok("cases_list", domain=domain, limit=1)
    rest = writer.ok("cases_list", domain=domain, limit=1, cursor=page["next_cursor"])
    assert [c["id"] for c in page["cases"] + rest["cases"]] == [other["id"], case_id]
    only = writer.ok("cases_list", domain=domain, status=["analyzing"], severity=["critical"])
    assert [c["id"] for c in only["cases"]] == [case_id] and only["next_cursor"] is None
    counted = writer.ok("cases_aggregates", domain=domain)["aggregates"]
    assert counted["by_status"] == home.cases.aggregates(domain=domain).by_status
    assert counted["by_status"] == {"open": 1, "analyzing": 1} and counted["open"] == 2


def test_catalog_documents_by_version(writer: Connected, home: Any, sync_ledger: Ledger) -> None:
    name = f"settle-{uuid.uuid4().hex[:8]}"
    steps = {"steps": [{"order": 1, "name": "Notify desk"}]}
    first = writer.ok("catalog_create_version", doc_type="playbook", name=name, content=steps)
    assert first["document"]["version"] == 1 and not first["document"]["is_global"]
    steps["steps"].append({"order": 2, "name": "Escalate"})
    second = writer.ok(
        "catalog_create_version",
        doc_type="playbook",
        name=name,
        content=steps,
        title="Settlement fail",
        expected_version=1,
    )["document"]
    assert second["version"] == 2
    same = writer.ok(
        "catalog_create_version",
        doc_type="playbook",
        name=name,
        content=steps,
        title="Settlement fail",
    )
    assert same["document"]["version"] == 2
    late = writer.error(
        "catalog_create_version", doc_type="playbook", name=name, content={}, expected_version=1
    )
    assert late.startswith("version-conflict:")
    assert home.catalog.get_latest("playbook", name).content == steps
    latest = writer.ok("catalog_get", doc_type="playbook", name=name)["document"]
    assert latest["version"] == 2 and latest["content"] == steps
    old = writer.ok("catalog_get", doc_type="playbook", name=name, version=1)["document"]
    assert len(old["content"]["steps"]) == 1
    assert writer.error("catalog_get", doc_type="playbook", name=name, version=9).endswith(
        "(field: version)"
    )

    pack = f"pack-{uuid.uuid4().hex[:8]}"
    sync_ledger.platform_catalog.create_version("domain_pack", pack, {"domain": "Finance"})
    shared = writer.ok("catalog_get", doc_type="domain_pack", name=pack)["document"]
    assert shared["is_global"] and shared["content"] == {"domain": "Finance"}
    assert writer.error(
        "catalog_get", doc_type="domain_pack", name=pack, scope="tenant"
    ).startswith("not-found:")
    listed = writer.ok("catalog_list", doc_type="playbook", scope="tenant", limit=1)
    walked = [d["name"] for d in listed["documents"]]
    while listed["next_after"] is not None:
        listed = writer.ok(
            "catalog_list", doc_type="playbook", scope="tenant", limit=1, after=listed["next_after"]
        )
        walked += [d["name"] for d in listed["documents"]]
    assert walked == [d.name for d in home.catalog.list_documents("playbook", scope="tenant")]
    assert name in walked


def test_bad_arguments_are_tool_errors_naming_the_field(writer: Connected) -> None:
    assert writer.error("memory_upsert", name="no kind").startswith("invalid-input: kind:")
    limit = writer.error("memory_find_by_name", name="x", limit=0)
    assert limit.startswith("invalid-input: limit:")
    bad_id = writer.error("decisions_feedback", decision_id="nope", accepted=True)
    assert "decision_id" in bad_id and "nope" not in bad_id
    assert "tier" in writer.error("alerts_create", tier=7, title="x")
    # Refused by the library, past the schema: a new entity needs a name.
    nameless = writer.error("memory_upsert", kind="person", key=uuid.uuid4().hex)
    assert nameless.startswith("invalid-input:") and nameless.endswith("(field: name)")
    short = writer.error("memory_search", query="ab", mode="substring")
    assert short.endswith("(field: query)")
    failing = writer.error("tasks_settle", task_id=1, token=str(uuid.uuid4()), action="fail")
    assert failing.endswith("(field: error)")
    assert "Traceback" not in nameless + short + failing
    assert writer.error("memory_forget", id=str(uuid.uuid4())).startswith("Unknown tool")
    with pytest.raises(MCPError) as not_an_id:
        writer.read("agentledger://memory/entities/nope")
    assert "not a UUID (field: id)" in str(not_an_id.value)


def test_another_tenants_ids_are_not_found(
    writer: Connected, sync_ledger: Ledger, keys: dict[str, Any]
) -> None:
    away = sync_ledger.tenant(keys["away"])
    entity = away.memory.upsert("person", "Far Away")
    other = away.memory.upsert("person", "Further")
    decision = away.decisions.record("x", decision_type="t")
    alert = away.alerts.create(2, "theirs")
    session = away.sessions.create("theirs")
    task = away.tasks.enqueue("q")
    away.cases.define_kind("theirs", ["open", "done"], transitions={"open": ["done"]})
    ref = f"T-{uuid.uuid4().hex[:8]}"
    case = away.cases.create("theirs", "Their case", ref=ref)
    away.catalog.create_version("playbook", "their-playbook", {"steps": []})
    calls: list[tuple[str, dict[str, Any]]] = [
        ("memory_neighbours", {"id": str(entity.id)}),
        ("memory_relate", {"from_id": str(entity.id), "to_id": str(other.id), "type": "x"}),
        ("decisions_feedback", {"decision_id": str(decision.id), "accepted": False}),
        ("alerts_acknowledge", {"alert_id": str(alert.id)}),
        ("sessions_summary", {"session_id": str(session.id)}),
        ("sessions_add_chunk", {"session_id": str(session.id), "content": "hi"}),
        ("tasks_settle", {"task_id": task.id, "token": str(uuid.uuid4()), "action": "release"}),
        ("cases_get", {"case_id": str(case.id)}),
        ("cases_get", {"ref": ref}),
        ("cases_transition", {"case_id": str(case.id), "status": "done"}),
        ("cases_comment", {"case_id": str(case.id), "text": "mine now"}),
        ("catalog_get", {"doc_type": "playbook", "name": "their-playbook"}),
    ]
    for tool, arguments in calls:
        assert writer.error(tool, **arguments).startswith("not-found:"), tool
    with pytest.raises(MCPError) as refused:
        writer.read(f"agentledger://memory/entities/{entity.id}")
    assert "not-found" in str(refused.value)
    assert away.decisions.get(decision.id).accepted is None
    assert away.alerts.get(alert.id).status == "pending"
    assert [e.type for e in away.cases.timeline(case.id)] == ["CaseCreated"]


def test_a_reader_key_reads_and_is_refused_writes(
    http_as: Callable[[str], Connected], keys: dict[str, Any], home: Any
) -> None:
    reader = http_as(keys["reader"])
    stream = f"audit:{uuid.uuid4().hex[:8]}"
    refused = reader.error("events_append", stream=stream, type="Tried")
    assert refused.startswith("permission-denied:") and "writer role" in refused
    assert "reader" in refused
    assert home.events.read_stream(stream) == []
    assert reader.ok("events_read_stream", stream=stream)["events"] == []
    assert "hits" in reader.ok("memory_search", query="anything")
    writes: list[tuple[str, dict[str, Any]]] = [
        ("cases_create", {"kind": "exception", "title": "Tried"}),
        ("catalog_create_version", {"doc_type": "playbook", "name": "tried", "content": {}}),
    ]
    for tool, arguments in writes:
        assert reader.error(tool, **arguments).startswith("permission-denied:"), tool
    assert "cases" in reader.ok("cases_list")
    assert reader.ok("cases_aggregates")["aggregates"]["total"] >= 0


def test_clients_of_the_initialize_handshake_are_served_as_their_key(
    aio: asyncio.Runner, http_url: str, keys: dict[str, Any], home: Any
) -> None:
    """Clients speaking the handshake-era protocol (most desktop clients today) reach the
    same tools, each request as its own key."""
    stream = f"legacy:{uuid.uuid4().hex[:8]}"
    writer = Connected(aio, lambda: _over_http(http_url, keys["writer"], mode="legacy"))
    reader = Connected(aio, lambda: _over_http(http_url, keys["reader"], mode="legacy"))
    try:
        assert writer.client.protocol_version < "2026"
        assert writer.ok("events_append", stream=stream, type="Handshook")["event"]["version"] == 1
        assert "writer role" in reader.error("events_append", stream=stream, type="Nope")
        assert [e["type"] for e in reader.ok("events_read_stream", stream=stream)["events"]] == [
            "Handshook"
        ]
    finally:
        writer.close()
        reader.close()
    assert [e.type for e in home.events.read_stream(stream)] == ["Handshook"]


@pytest.mark.parametrize("key", [None, "al_not-a-real-key"])
def test_http_without_a_live_key_is_refused(
    aio: asyncio.Runner, http_url: str, key: str | None
) -> None:
    headers = {"Accept": "application/json, text/event-stream"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    ping = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    answer = httpx.post(http_url, json=ping, headers=headers, timeout=30)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")

    async def connect() -> None:
        async with _over_http(http_url, key) as client:
            await client.list_tools()

    with pytest.raises(Exception):  # noqa: B017 (the SDK wraps the 401 in task groups)
        aio.run(connect())


def test_http_holds_to_the_body_size_and_rate_limits(
    settings: Settings, keys: dict[str, Any]
) -> None:
    limited = settings.with_(rate_limit="3/minute", max_body_bytes=2_000)
    headers = {
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {keys['reader']}",
    }
    ping = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    with serve(http_app(AsyncLedger(limited))) as base:  # type: ignore[arg-type]
        url = f"{base}/mcp"
        big = httpx.post(url, json={**ping, "params": {"pad": "x" * 3_000}}, headers=headers)
        assert big.status_code == 413
        assert big.headers["content-type"] == "application/problem+json"
        answers = [httpx.post(url, json=ping, headers=headers, timeout=30) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert "tools" in answers[0].json()["result"]
    assert all(a.headers["x-request-id"] for a in answers)


def _run_cli(env: dict[str, str], *prelude: str) -> subprocess.CompletedProcess[str]:
    code = "; ".join([*prelude, "import sys", "from agentledger.cli import main", "main()"])
    return subprocess.run(
        [sys.executable, "-c", code, "mcp"],
        cwd=ROOT,
        env=env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_stdio_without_a_live_key_is_refused_before_serving(
    aio: asyncio.Runner, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTLEDGER_API_KEY", raising=False)
    missing = CliRunner().invoke(app, ["mcp"])
    assert missing.exit_code == 2 and "AGENTLEDGER_API_KEY" in missing.output
    with pytest.raises(PermissionDenied, match="unknown or revoked"):
        aio.run(serve_stdio(settings, "al_0000_not-a-key"))


def test_without_the_extra_the_command_names_it(database_url: str, tmp_path: Path) -> None:
    done = _run_cli(_environment(database_url, tmp_path), "import sys", "sys.modules['mcp'] = None")
    assert done.returncode == 2
    assert "pip install 'agentledger[mcp]'" in done.stderr
