"""The seed's behaviour, checked: one tick per check, non-zero exit on a failure.

    python examples/memory_graph/scripts/check.py [--nodes 5000 --edges 20000]

Uses the embedded PostgreSQL unless ``POSTGRES_HOST`` or ``DATABASE_URL`` is set. Writes
go to fresh users of the ``memory_graph`` tenant, deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from agentledger import AsyncLedger, InvalidInput, NotFound
from examples.memory_graph import seed_data
from examples.memory_graph.backend import PostgresMemoryBackend
from examples.memory_graph.factory import (
    DisabledMemoryBackend,
    close_postgres_backend,
    get_postgres_backend,
)
from examples.memory_graph.graph import ContextualMemoryGraph
from examples.memory_graph.local import LocalStore
from examples.memory_graph.models import ContextType, MemoryNode, RelationshipType

Check = Callable[[], Awaitable[str | None]]
RELATES = RelationshipType.RELATES_TO


def node(
    entity_id: str,
    summary: str,
    kind: ContextType = ContextType.DOMAIN_ENTITY,
    system: str = "salesforce",
    **data: object,
) -> MemoryNode:
    return MemoryNode(
        content={
            "entity_id": entity_id,
            "entity_system": system,
            "entity_type": "Thing",
            "entity_name": summary,
            "entity_data": dict(data),
        },
        context_type=kind,
        summary=summary,
    )


class Checks:
    """The checks, sharing one backend and a set of fresh users."""

    def __init__(self, backend: PostgresMemoryBackend, nodes: int, edges: int) -> None:
        self.b = backend
        run = uuid.uuid4().hex[:8]
        self.a, self.other = f"check-{run}-a", f"check-{run}-b"
        self.users = [self.a, self.other]
        self.sizes = nodes, edges
        self.queries = 0

    def fresh_user(self, label: str) -> str:
        user = f"{self.a}-{label}"
        self.users.append(user)
        return user

    async def health(self) -> None:
        async with self.b.acquire() as tx:  # a pooled connection, a round trip on it
            await tx.memory.stats(user=self.a)
        assert await self.b.health_check(), "PostgreSQL does not answer or is not migrated"

    async def dedup(self) -> None:
        first = await self.b.store_node(seed_data.account_first(), self.a)
        stored = await self.b.get_node(first, self.a)
        assert stored is not None and stored.content["update_count"] == 0
        second = await self.b.store_node(seed_data.account_second(), self.a)
        assert second == first, "the second store made a second node"
        merged = await self.b.get_node(first, self.a)
        assert merged is not None
        content = merged.content
        assert content["entity_data"] == {"name": "Acme Corp", "revenue": 1000000}, content
        assert (content["entity_id"], content["entity_system"]) == ("ACC-001", "salesforce")
        assert (content["entity_type"], content["entity_name"]) == ("Account", "Acme Corp")
        assert (
            content["update_count"] == 1
            and content["last_updated"] >= stored.content["last_updated"]
        )
        assert merged.summary == seed_data.account_first().summary  # kept: none given
        assert merged.access_count == stored.access_count + 1  # the seed's trigger
        assert merged.last_accessed is not None

    async def dedup_key(self) -> None:
        mine = await self.b.store_node(seed_data.account_first(), self.a)
        theirs = await self.b.store_node(seed_data.account_first(), self.other)
        elsewhere_node = seed_data.account_first()
        elsewhere_node.content["entity_system"] = "hubspot"
        elsewhere = await self.b.store_node(elsewhere_node, self.a)
        assert len({mine, theirs, elsewhere}) == 3, "(user, entity_id, entity_system) is the key"
        again = await self.b.store_node(seed_data.account_first(), self.other)
        assert again == theirs

    async def isolation(self) -> None:
        theirs = await self.b.store_node(node("ISO-1", "Acme Isolation Ltd"), self.other)
        mine = await self.b.store_node(node("ISO-2", "Acme Mine Ltd"), self.a)
        found = await self.b.search_nodes(self.a, "Acme")
        assert found and all(n.user_id == self.a for n in found), "search crossed users"
        assert theirs not in {n.node_id for n in found}
        listed = await self.b.get_nodes_by_user(self.a)
        assert listed and all(n.user_id == self.a for n in listed), "listing crossed users"
        assert await self.b.get_node(theirs, self.a) is None
        try:
            await self.b.store_relationship(self.a, mine, theirs, RELATES)
        except NotFound:
            pass
        else:
            raise AssertionError("a user related to another user's node")
        await self.b.store_relationship(
            self.other,
            theirs,
            theirs_too := await self.b.store_node(node("ISO-3", "Acme Third"), self.other),
            RELATES,
        )
        assert await self.b.get_relationships(theirs, self.a) == []
        assert not await self.b.delete_node(theirs, self.a)
        assert await self.b.get_node(theirs_too, self.other) is not None

    async def search(self) -> None:
        user = self.fresh_user("search")
        summary_hit = await self.b.store_node(node("S-1", "Acme Corp renewal"), user)
        await self.b.store_node(
            node("S-2", "Globex", ContextType.TOOL_OUTPUT, customer="Acme Corp"), user
        )
        content_hit = await self.b.store_node(node("S-3", "Initech", customer="Acme Corp"), user)
        await self.b.store_node(node("S-4", "Umbrella Acme", ContextType.TOOL_OUTPUT), user)
        hits = await self.b.search_nodes(user, "Acme Corp", {ContextType.DOMAIN_ENTITY})
        assert [n.node_id for n in hits] == [summary_hit, content_hit], hits
        assert all(n.context_type is ContextType.DOMAIN_ENTITY for n in hits)
        everything = await self.b.search_nodes(user, "Acme")
        assert len(everything) == 4 and everything[0].summary is not None
        assert [("acme" in (n.summary or "").lower()) for n in everything] == [
            True,
            True,
            False,
            False,
        ], "summary matches come first"
        assert len(await self.b.search_nodes(user, "Acme", limit=2)) == 2
        fragment = await self.b.search_nodes(user, "cme")
        assert {n.summary for n in fragment} >= {"Acme Corp renewal", "Umbrella Acme"}

    async def relationships(self) -> None:
        user = self.fresh_user("edges")
        account = await self.b.store_node(seed_data.account_first(), user)
        person = await self.b.store_node(seed_data.contact(), user)
        first = await self.b.store_relationship(user, account, person, RELATES, strength=0.8)
        again = await self.b.store_relationship(user, account, person, "relates_to", 0.3)
        assert again == first, "one edge per (from, to, type)"
        edges = await self.b.get_relationships(account, user)
        assert [e["to_node_id"] for e in edges] == [person]
        assert abs(edges[0]["strength"] - 0.3) < 1e-6  # a REAL, as in the seed
        assert edges[0]["relationship_type"] == "relates_to"
        try:
            await self.b.store_relationship(user, account, person, "is_friends_with")
        except InvalidInput as exc:
            assert exc.field == "type" and "relates_to" in str(exc), exc
        else:
            raise AssertionError("an unknown relationship type was accepted")
        assert await self.b.delete_node(person, user)
        assert await self.b.get_relationships(account, user) == []

    async def stats(self) -> None:
        user = self.fresh_user("stats")
        empty = await self.b.get_user_stats(user)
        assert (empty["total_nodes"], empty["total_relationships"]) == (0, 0)
        one = await self.b.store_node(node("ST-1", "one"), user)
        two = await self.b.store_node(node("ST-2", "two", ContextType.TOOL_OUTPUT), user)
        await self.b.store_relationship(user, one, two, RelationshipType.PRODUCES)
        stats = await self.b.get_user_stats(user)
        assert (stats["total_nodes"], stats["total_relationships"]) == (2, 1)
        assert stats["nodes_by_context_type"] == {"domain_entity": 1, "tool_output": 1}
        assert stats["last_activity"] is not None
        await self.b.delete_node(two, user)
        after = await self.b.get_user_stats(user)
        assert (after["total_nodes"], after["total_relationships"]) == (1, 0)

    async def cleanup(self) -> None:
        user, bystander = self.fresh_user("old"), self.fresh_user("bystander")
        old = datetime.now(UTC) - timedelta(days=120)
        for i in range(3):
            await self.b.store_node(node(f"OLD-{i}", f"old {i}"), user, at=old)
            await self.b.store_node(node(f"OLD-{i}", f"old {i}"), bystander, at=old)
        await self.b.store_node(node("NEW-1", "recent"), user)
        assert await self.b.cleanup_old_nodes(user, days=90) == 3
        assert [n.summary for n in await self.b.get_nodes_by_user(user)] == ["recent"]
        assert len(await self.b.get_nodes_by_user(bystander)) == 3
        assert await self.b.cleanup_old_nodes(user, days=90) == 0

    async def invalid_context_type(self) -> None:
        bad = MemoryNode(content={"note": "x"}, context_type="long_term_memory")  # type: ignore[arg-type]
        try:
            await self.b.store_node(bad, self.a)
        except InvalidInput as exc:
            assert exc.field == "kind" and "domain_entity" in str(exc), exc
        else:
            raise AssertionError("an invalid context type was accepted")
        vocabulary = await self.b.scope.memory.vocabulary()  # the database enforces it
        assert set(vocabulary.kinds or ()) == set(ContextType), vocabulary
        assert set(vocabulary.relationship_types or ()) == set(RelationshipType), vocabulary

    async def disabled(self) -> None:
        with environment(POSTGRES_ENABLED="false"):
            await close_postgres_backend()
            backend = await get_postgres_backend()
        try:
            assert isinstance(backend, DisabledMemoryBackend) and not backend.enabled
            local = LocalStore()
            graph = ContextualMemoryGraph(self.a, backend=backend, local=local)
            assert await graph.start() == 0
            account = await graph.remember(seed_data.account_first())
            person = await graph.remember(seed_data.contact())
            await graph.relate(account, person, RELATES)
            assert [n.node_id for n in graph.search("technology")] == [account]
            assert {n.node_id for n in graph.search("cme")} == {account, person}
            assert local.counts(self.a) == {"local": 2} and len(local.edges(self.a)) == 1
            bad = MemoryNode(content={}, context_type="long_term_memory")  # type: ignore[arg-type]
            try:
                await graph.remember(bad)
            except InvalidInput as exc:  # the local schema's CHECK, as the seed's
                assert exc.field == "context_type", exc
            else:
                raise AssertionError("the local store took an invalid context type")
        finally:
            await close_postgres_backend()

    async def stopped(self) -> None:
        user = self.fresh_user("outage")
        with tempfile.TemporaryDirectory() as spool:
            down = self.b.ledger.settings.with_(
                database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres",
                app_url=None,
                spool_dir=spool,
            )
            async with PostgresMemoryBackend(settings=down, tenant=self.b.tenant) as offline:
                graph = ContextualMemoryGraph(user, backend=offline, local=LocalStore())
                for n in [
                    seed_data.account_first(),
                    seed_data.account_second(),
                    seed_data.contact(),
                ]:
                    await graph.remember(n)
                assert graph.local.counts(user) == {"spooled": 3}
            back = self.b.ledger.settings.with_(spool_dir=spool)
            async with AsyncLedger(back, migrate=False) as ledger:
                assert await ledger.replay_spool() == 3
                assert await ledger.replay_spool() == 0
        nodes = {n.content["entity_id"]: n for n in await self.b.get_nodes_by_user(user)}
        assert sorted(nodes) == ["ACC-001", "CON-042"], "replayed exactly once"
        account = nodes["ACC-001"].content
        assert account["entity_data"] == {"name": "Acme Corp", "revenue": 1000000}
        assert account["update_count"] == 1

    async def pool(self) -> None:
        user = self.fresh_user("pool")
        assert self.b.ledger.settings.pool_max_size == 20
        ids = await asyncio.gather(
            *(self.b.store_node(node(f"P-{i}", f"pool {i}"), user) for i in range(50))
        )
        same = await asyncio.gather(
            *(self.b.store_node(node("P-SAME", "same", n=i), user) for i in range(50))
        )
        assert len(set(ids)) == 50 and len(set(same)) == 1
        stored = await self.b.get_node(same[0], user)
        assert stored is not None and stored.content["update_count"] == 49

    async def load(self) -> str:
        user = self.fresh_user("load")
        nodes, edges = self.sizes
        await seed_data.load_graph(self.b, user, nodes, edges)
        started = time.monotonic()
        memories = await self.b.load_user_memories(user)
        elapsed = time.monotonic() - started
        assert len(memories.nodes) == nodes and len(memories.relationships) == edges
        assert len({r["id"] for r in memories.relationships}) == edges
        assert memories.incomplete == []
        self.queries = memories.queries
        return f"{nodes} nodes, {edges} edges in {memories.queries} queries, {elapsed:.2f} s"

    async def remove_users(self) -> None:
        for user in self.users:
            await self.b.cleanup_old_nodes(user, days=0)

    def all(self) -> list[tuple[str, Check]]:
        return [
            ("Health check: a pooled connection answers", self.health),
            ("Entity dedup: ACC-001 twice is one node, entity_data merged", self.dedup),
            ("Dedup key is per user and per entity system", self.dedup_key),
            ("User isolation: search, list, get, relate and delete", self.isolation),
            ("Search: context filter, summary first, limit, substring", self.search),
            ("Relationships: one per triple, strength, type, cascade", self.relationships),
            ("Stats change after a store and a delete", self.stats),
            ("Cleanup deletes only the user's old nodes, returns the count", self.cleanup),
            ("An invalid context type is refused", self.invalid_context_type),
            ("Fallback: PostgreSQL disabled runs on SQLite alone", self.disabled),
            ("Fallback: PostgreSQL down spools, replays exactly once", self.stopped),
            ("Pool: 50 concurrent store_node on pool_size=20", self.pool),
            ("load_user_memories: bounded queries for a large graph", self.load),
        ]


async def run(backend: PostgresMemoryBackend, nodes: int = 5000, edges: int = 20000) -> bool:
    """Run every check against ``backend``, printing a tick or a cross for each."""
    checks = Checks(backend, nodes, edges)
    ok = True
    try:
        for i, (name, check) in enumerate(checks.all(), 1):
            try:
                note = await check()
            except Exception as exc:
                ok = False
                print(f"{i}. {name} ✗ {type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stderr)
            else:
                print(f"{i}. {name}{f' ({note})' if note else ''} ✓")
    finally:
        await checks.remove_users()
    return ok


@contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def closed_port() -> int:
    """A local port nothing listens on (a stopped server's)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--edges", type=int, default=20000)
    args = parser.parse_args(argv)
    async with PostgresMemoryBackend(pool_size=20) as backend:
        ok = await run(backend, args.nodes, args.edges)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
