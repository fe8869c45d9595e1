"""Seed 002 end to end: the check script, and the hard cases: a real outage spooled and
replayed once, concurrent stores, user isolation, and load_user_memories' statement count."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from agentledger import ConfigError, InvalidInput, NotFound, Settings
from agentledger.db import migrate
from agentledger.db.database_async import AsyncSession
from agentledger.db.embedded import EmbeddedServer
from examples.memory_graph import (
    ContextType,
    ContextualMemoryGraph,
    LocalStore,
    MemoryNode,
    PostgresMemoryBackend,
    RelationshipType,
    memory_settings,
    seed_data,
)
from examples.memory_graph.config import connection_string
from tests.conftest import ROOT, server_dir

EXAMPLE = ROOT / "examples" / "memory_graph"
CHECKS = 13


def _settings(url: str, tmp: Path, **kw: Any) -> Settings:
    return memory_settings(url, data_dir=tmp, spool_dir=tmp / "spool", **kw)


@pytest.fixture
async def backend(database_url: str, tmp_path: Path) -> AsyncIterator[PostgresMemoryBackend]:
    async with PostgresMemoryBackend(settings=_settings(database_url, tmp_path)) as b:
        yield b


def test_the_script_prints_a_tick_per_check(database_url: str, tmp_path: Path) -> None:
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
    # 1 count + 5 pages of nodes + 25 slices of out-edges
    assert "5000 nodes, 20000 edges in 31 queries" in lines[-1], lines[-1]


def test_the_readme_example_runs(database_url: str, tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", (EXAMPLE / "README.md").read_text(), re.DOTALL)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": str(tmp_path), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "'user_id': 'user123', 'total_nodes'" in result.stdout, result.stdout


def test_the_seed_data_loads_with_one_command_idempotently(
    database_url: str, tmp_path: Path
) -> None:
    outputs = []
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, str(EXAMPLE / "seed_data.py")],
            env={"DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": str(tmp_path), "PATH": ""},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert "user123: 9 nodes, 1 relationships" in outputs[0], outputs[0]
    assert "user456: 1 nodes, 0 relationships" in outputs[0], outputs[0]


def test_the_seed_environment_maps_onto_settings(tmp_path: Path) -> None:
    env = {
        "POSTGRES_HOST": "db.internal",
        "POSTGRES_PORT": "6432",
        "POSTGRES_DB": "consultant_assistant",
        "POSTGRES_USER": "memory",
        "POSTGRES_PASSWORD": "p@ss word",
        "POSTGRES_SSL": "true",
        "POSTGRES_POOL_SIZE": "7",
    }
    url = connection_string(env)
    assert url == (
        "postgresql://memory:p%40ss%20word@db.internal:6432/consultant_assistant?sslmode=require"
    )
    settings = memory_settings(env=env, data_dir=tmp_path)
    assert (settings.database_url, settings.pool_max_size, settings.pool_min_size) == (url, 7, 2)
    assert settings.statement_timeout_ms == 60_000 and settings.spool_dir is not None
    assert connection_string({}) is None
    # A pool of one keeps one open; none is refused, naming the variable the user set.
    small = memory_settings(env={**env, "POSTGRES_POOL_SIZE": "1"}, data_dir=tmp_path)
    assert (small.pool_min_size, small.pool_max_size) == (1, 1)
    with pytest.raises(ConfigError, match="POSTGRES_POOL_SIZE"):
        memory_settings(env={**env, "POSTGRES_POOL_SIZE": "0"}, data_dir=tmp_path)


async def test_load_user_memories_takes_the_statements_it_states(
    backend: PostgresMemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = f"load-{uuid.uuid4().hex[:8]}"
    ids = await seed_data.load_graph(backend, user, 1500, 4000)
    # a node with more out-edges than a slice can hold makes the slices split
    for target in ids[1:1200]:
        await backend.store_relationship(user, ids[0], target, RelationshipType.DEPENDS_ON)
    statements = 0
    run = AsyncSession.run

    async def counted(self: AsyncSession, op: Any) -> Any:
        nonlocal statements
        statements += 1
        return await run(self, op)

    monkeypatch.setattr(AsyncSession, "run", counted)
    memories = await backend.load_user_memories(user)
    monkeypatch.undo()
    stats = await backend.get_user_stats(user)
    assert statements == memories.queries
    assert len(memories.nodes) == 1500 and memories.incomplete == [ids[0]]
    # ids[0] has 3 ring edges out, one of them (to ids[2], depends_on) stored again by the
    # loop: 1201 out-edges, of which the heaviest 1000 are loaded
    assert len(memories.relationships) == stats["total_relationships"] - 201
    assert memories.queries < 40  # not one per node


async def test_no_call_crosses_users(backend: PostgresMemoryBackend) -> None:
    a, b = f"iso-{uuid.uuid4().hex[:8]}", f"iso-{uuid.uuid4().hex[:8]}"
    mine = await backend.store_node(seed_data.account_first(), a)
    theirs = await backend.store_node(seed_data.account_first(), b)
    their_contact = await backend.store_node(seed_data.contact(), b)
    await backend.store_relationship(b, theirs, their_contact, RelationshipType.RELATES_TO)
    assert mine != theirs
    # what the shared scope would let A see: B's shared entity and a tenant-wide one
    memory = backend.scope.memory
    await memory.upsert(
        "domain_entity", "Acme Shared", key="SH-1", source="crm", user=b, shared=True
    )
    await memory.upsert("domain_entity", "Acme Tenant-wide", key="TW-1", source="crm")
    assert [n.node_id for n in await backend.search_nodes(a, "Acme")] == [mine]
    assert [n.node_id for n in await backend.get_nodes_by_user(a)] == [mine]
    assert await backend.get_node(theirs, a) is None
    assert await backend.get_relationships(theirs, a) == []
    with pytest.raises(NotFound):
        await backend.store_relationship(a, mine, theirs, RelationshipType.RELATES_TO)
    with pytest.raises(NotFound):
        await backend.store_relationship(a, theirs, their_contact, RelationshipType.LED_TO)
    assert not await backend.delete_node(theirs, a)
    assert (await backend.get_user_stats(a))["total_nodes"] == 1
    assert (await backend.load_user_memories(a)).relationships == []
    assert await backend.cleanup_old_nodes(a, days=0) == 1
    assert len(await backend.get_nodes_by_user(b)) == 3  # two nodes and the shared one


async def test_concurrent_stores_of_one_entity_merge_into_one_node(
    backend: PostgresMemoryBackend,
) -> None:
    user = f"conc-{uuid.uuid4().hex[:8]}"

    def part(i: int) -> MemoryNode:
        return MemoryNode(
            content={
                "entity_id": "ACC-9",
                "entity_system": "salesforce",
                "entity_name": "Busy Corp",
                "entity_data": {f"field_{i}": i},
            },
            context_type=ContextType.DOMAIN_ENTITY,
        )

    ids = await asyncio.gather(*(backend.store_node(part(i), user) for i in range(60)))
    assert len(set(ids)) == 1
    stored = await backend.get_node(ids[0], user)
    assert stored is not None and stored.content["update_count"] == 59
    assert stored.content["entity_data"] == {f"field_{i}": i for i in range(60)}


# --- a real outage -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    srv = EmbeddedServer(server_dir())
    srv.start()
    migrate.upgrade(srv.url())
    yield srv
    srv.stop(mode="immediate")
    shutil.rmtree(srv.data_dir, ignore_errors=True)


@pytest.mark.slow
async def test_stores_while_postgres_is_stopped_land_exactly_once(
    server: EmbeddedServer, tmp_path: Path
) -> None:
    settings = _settings(server.url(), tmp_path)
    user = f"down-{uuid.uuid4().hex[:8]}"
    local = LocalStore(tmp_path / "local.db")
    async with PostgresMemoryBackend(settings=settings) as backend:
        graph = ContextualMemoryGraph(user, backend=backend, local=local)
        before = await graph.remember(seed_data.account_first())
        await asyncio.to_thread(server.stop, mode="immediate")
        try:
            for node in [seed_data.account_second(), seed_data.contact(), *_temporary(3)]:
                await graph.remember(node)
            await graph.relate(before, local.nodes(user, state="spooled")[0].node_id, "led_to")
            assert local.counts(user) == {"stored": 1, "spooled": 2, "local": 3}
            assert [n.summary for n in graph.search("Roe")][:1] == ["Jane Roe, CTO at Acme Corp"]
        finally:
            await asyncio.to_thread(server.start)
        assert await _replay(backend) == 2
        assert await backend.ledger.replay_spool() == 0
        nodes = await backend.get_nodes_by_user(user)
        assert sorted(n.content["entity_id"] for n in nodes) == ["ACC-001", "CON-042"]
        account = next(n for n in nodes if n.content["entity_id"] == "ACC-001")
        assert account.node_id == local.stored_id(before)
        assert account.content["entity_data"] == {"name": "Acme Corp", "revenue": 1000000}
        assert account.content["update_count"] == 1
        fresh = ContextualMemoryGraph(user, backend=backend, local=LocalStore())
        assert await fresh.start() == 2  # the next session loads both
    local.close()


def _temporary(n: int) -> list[MemoryNode]:
    return [
        MemoryNode(content={"step": i}, context_type=ContextType.TEMPORARY_STATE) for i in range(n)
    ]


async def _replay(backend: PostgresMemoryBackend) -> int:
    """Replay the spool once the restarted server answers (the pool's first connections
    after a crash may be broken; a replay that sees that stops and leaves the entries)."""
    replayed = 0
    for _ in range(50):
        replayed += await backend.ledger.replay_spool()
        status = backend.ledger.spool_status()
        if status is not None and status.pending == 0:
            break
        await asyncio.sleep(0.1)
    return replayed


# --- merges, search and input checks ---------------------------------------------------


async def test_an_entity_stored_twice_keeps_both_ids_and_its_edges(
    backend: PostgresMemoryBackend,
) -> None:
    user = f"merge-{uuid.uuid4().hex[:8]}"
    local = LocalStore()
    graph = ContextualMemoryGraph(user, backend=backend, local=local)
    first = await graph.remember(seed_data.account_first())
    second = await graph.remember(seed_data.account_second())
    person = await graph.remember(seed_data.contact())
    assert local.stored_id(first) == local.stored_id(second) is not None
    assert await graph.relate(first, person, RelationshipType.RELATES_TO) is True
    assert await graph.relate(second, person, "led_to") is True
    stats = await backend.get_user_stats(user)
    assert (stats["total_nodes"], stats["total_relationships"]) == (2, 2)
    assert len(local.edges(user)) == 2 and local.counts(user) == {"stored": 2}
    (account,) = graph.search("technology account")  # the merged node, both stores' data
    assert account.content["entity_data"] == {"name": "Acme Corp", "revenue": 1000000}
    with pytest.raises(NotFound):
        await graph.relate(first, str(uuid.uuid4()), "relates_to")
    assert len(local.edges(user)) == 2
    local.close()


async def test_search_gives_the_newest_matches(
    backend: PostgresMemoryBackend,
) -> None:
    user = f"find-{uuid.uuid4().hex[:8]}"
    for i in range(5):  # older nodes say "zebra" more often: full-text ranks them higher
        text = "zebra " * (5 - i) + f"item{i}"
        node = MemoryNode(
            content={"text": text}, summary=f"s{i}", context_type=ContextType.CONVERSATION_FACT
        )
        await backend.store_node(node, user)
    assert [n.summary for n in await backend.search_nodes(user, "zebra", limit=2)] == [
        "s4",
        "s3",
    ]


async def test_search_finds_short_substrings_and_the_entitys_id_and_system(
    backend: PostgresMemoryBackend,
) -> None:
    user = f"find-{uuid.uuid4().hex[:8]}"
    account = MemoryNode(
        content={"entity_id": "ACC-001", "entity_system": "salesforce", "entity_name": "Acme"},
        context_type=ContextType.DOMAIN_ENTITY,
        summary="Acme Corp account",
    )
    await backend.store_node(account, user)
    for query in ("Ac", "ACC-001", "salesforce"):
        assert [n.summary for n in await backend.search_nodes(user, query)] == [
            "Acme Corp account"
        ], query


async def test_search_skips_a_made_up_name(backend: PostgresMemoryBackend) -> None:
    user = f"find-{uuid.uuid4().hex[:8]}"
    # stored under the name "conversation_fact <node_id>", which the caller never gave
    bare = MemoryNode(content={"note": "likes blue"}, context_type=ContextType.CONVERSATION_FACT)
    await backend.store_node(bare, user)
    for query in ("conversation", bare.node_id[:8]):
        assert await backend.search_nodes(user, query) == [], query
    assert len(await backend.search_nodes(user, "blue")) == 1


async def test_search_takes_one_context_type_as_a_string(backend: PostgresMemoryBackend) -> None:
    user = f"find-{uuid.uuid4().hex[:8]}"
    node = MemoryNode(content={"note": "likes blue"}, context_type=ContextType.CONVERSATION_FACT)
    await backend.store_node(node, user)
    assert len(await backend.search_nodes(user, "blue", "conversation_fact")) == 1
    assert await backend.search_nodes(user, "blue", "domain_entity") == []


async def test_a_long_summary_is_stored_in_full(backend: PostgresMemoryBackend) -> None:
    user = f"long-{uuid.uuid4().hex[:8]}"
    summary = "User asked about quarterly revenue. " * 30  # 1080 characters
    for content in ({"fact": "revenue"}, {"entity_id": "Y-1", "entity_system": "crm"}):
        node = MemoryNode(content=content, summary=summary, context_type=ContextType.TOOL_OUTPUT)
        stored = await backend.get_node(await backend.store_node(node, user), user)
        assert stored is not None and stored.summary == summary


async def test_bad_arguments_get_clean_errors(backend: PostgresMemoryBackend) -> None:
    user = f"args-{uuid.uuid4().hex[:8]}"
    for call, field in [
        (backend.search_nodes(user, None), "query"),  # type: ignore[arg-type]
        (backend.search_nodes(user, "x", limit=0), "limit"),
        (backend.get_nodes_by_user(user, limit="3"), "limit"),  # type: ignore[arg-type]
    ]:
        with pytest.raises(InvalidInput) as caught:
            await call
        assert caught.value.field == field
    node = MemoryNode(content=None, tags=None, context_type=ContextType.TOOL_OUTPUT)  # type: ignore[arg-type]
    assert (node.content, node.tags, node.metadata) == ({}, [], {})
    with pytest.raises(InvalidInput, match="content"):
        MemoryNode(content="text", context_type=ContextType.TOOL_OUTPUT)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="tags"):
        MemoryNode(content={}, tags="urgent", context_type=ContextType.TOOL_OUTPUT)  # type: ignore[arg-type]
