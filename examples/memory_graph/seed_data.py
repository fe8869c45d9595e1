"""The seed's example data, loaded with one command:

    python examples/memory_graph/seed_data.py

The ``ACC-001`` / salesforce Account "Acme Corp" (a first store with its name, a second
with its revenue), a contact related to it, the same entity id held by a second user, and
a node of every context type. Loading is idempotent: every node has a natural key.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.memory_graph.backend import PostgresMemoryBackend
from examples.memory_graph.models import ContextType, MemoryNode, RelationshipType

USER_A, USER_B = "user123", "user456"
DOMAIN = ContextType.DOMAIN_ENTITY


def account_first() -> MemoryNode:
    """The seed's first store: creates the entity."""
    return MemoryNode(
        content={
            "entity_id": "ACC-001",
            "entity_system": "salesforce",
            "entity_type": "Account",
            "entity_data": {"name": "Acme Corp"},
        },
        context_type=DOMAIN,
        summary="Acme Corp, a technology account in Salesforce",
        tags=["account"],
    )


def account_second() -> MemoryNode:
    """The seed's second store: merges the revenue into the same entity."""
    return MemoryNode(
        content={
            "entity_id": "ACC-001",
            "entity_system": "salesforce",
            "entity_data": {"revenue": 1000000},
        },
        context_type=DOMAIN,
    )


def contact() -> MemoryNode:
    return MemoryNode(
        content={
            "entity_id": "CON-042",
            "entity_system": "salesforce",
            "entity_type": "Contact",
            "entity_name": "Jane Roe",
            "entity_data": {"title": "CTO", "email": "jane.roe@acme.example"},
        },
        context_type=DOMAIN,
        summary="Jane Roe, CTO at Acme Corp",
        tags=["contact"],
    )


def every_context_type() -> list[MemoryNode]:
    """One node of each of the seven context types (keyed, so a reload merges)."""
    texts = {
        ContextType.SEARCH_RESULT: "Search results for Acme renewals",
        ContextType.USER_SELECTION: "The user picked the Acme Corp account",
        ContextType.TOOL_OUTPUT: "get_account returned Acme Corp's profile",
        ContextType.DOMAIN_ENTITY: "Opportunity: Acme Corp renewal 2025",
        ContextType.COMPLETED_ACTION: "Sent the renewal quote to Jane Roe",
        ContextType.CONVERSATION_FACT: "The user prefers quarterly billing",
        ContextType.TEMPORARY_STATE: "Drafting an email to Jane Roe",
    }
    return [
        MemoryNode(
            content={
                "entity_id": f"demo-{kind.value}",
                "entity_system": "assistant",
                "entity_type": kind.value,
                "entity_name": text,
                "entity_data": {"text": text},
            },
            context_type=kind,
            summary=text,
        )
        for kind, text in texts.items()
    ]


async def load(backend: PostgresMemoryBackend) -> dict[str, Any]:
    """Store the seed's example for two users; the node ids by name."""
    account = await backend.store_node(account_first(), USER_A)
    again = await backend.store_node(account_second(), USER_A)
    assert again == account
    person = await backend.store_node(contact(), USER_A)
    await backend.store_relationship(
        USER_A, account, person, RelationshipType.RELATES_TO, strength=0.8
    )
    other = await backend.store_node(account_first(), USER_B)
    kinds = [await backend.store_node(n, USER_A) for n in every_context_type()]
    return {"account": account, "contact": person, "account_user_b": other, "kinds": kinds}


def graph_nodes(count: int, label: str = "bulk") -> list[MemoryNode]:
    """``count`` keyed nodes for the load check, cycling through the context types."""
    kinds = list(ContextType)
    return [
        MemoryNode(
            content={
                "entity_id": f"{label}-{i:05d}",
                "entity_system": "loadtest",
                "entity_type": "Item",
                "entity_name": f"{label} item {i}",
                "entity_data": {"n": i},
            },
            context_type=kinds[i % len(kinds)],
            summary=f"{label} item {i}",
        )
        for i in range(count)
    ]


def graph_edges(ids: list[str], per_node: int) -> list[tuple[str, str, RelationshipType]]:
    """``per_node`` out-edges from each node to the next ones (a ring), types cycling."""
    types = list(RelationshipType)
    n = len(ids)
    return [
        (ids[i], ids[(i + k) % n], types[(i + k) % len(types)])
        for i in range(n)
        for k in range(1, per_node + 1)
    ]


async def load_graph(
    backend: PostgresMemoryBackend, user_id: str, nodes: int, edges: int, workers: int = 8
) -> list[str]:
    """A user with ``nodes`` nodes (one statement) and ``edges`` edges (``workers``
    transactions side by side, one ``relate`` each); the node ids."""
    ids = await backend.store_nodes(graph_nodes(nodes), user_id)
    todo = graph_edges(ids, -(-edges // max(1, nodes)))[:edges]

    async def work(share: list[tuple[str, str, RelationshipType]]) -> None:
        async with backend.acquire() as tx:
            for source, target, kind in share:
                await tx.memory.relate(source, target, kind.value, user=user_id, scope="own")

    await asyncio.gather(*(work(todo[w::workers]) for w in range(workers)))
    return ids


async def main() -> int:
    async with PostgresMemoryBackend() as backend:
        await load(backend)
        for user in (USER_A, USER_B):
            stats = await backend.get_user_stats(user)
            print(
                f"{user}: {stats['total_nodes']} nodes, "
                f"{stats['total_relationships']} relationships (tenant {backend.tenant!r})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
