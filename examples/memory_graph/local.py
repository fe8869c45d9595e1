"""The application's own local store (stdlib sqlite3): the session's working graph and
transient processing state, and which nodes still wait for PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentledger import InvalidInput
from examples.memory_graph.models import ContextType, MemoryNode, RelationshipType, term

CONTEXT_TYPES = ", ".join(f"'{t}'" for t in ContextType)
RELATIONSHIP_TYPES = ", ".join(f"'{t}'" for t in RelationshipType)
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS nodes (
    node_id      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    context_type TEXT NOT NULL CHECK (context_type IN ({CONTEXT_TYPES})),
    summary      TEXT,
    content      TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '[]',
    metadata     TEXT NOT NULL DEFAULT '{{}}',
    created_at   TEXT NOT NULL,
    stored_as    TEXT,            -- the PostgreSQL node id, once stored there
    state        TEXT NOT NULL    -- local (SQLite only), stored, spooled
);
CREATE INDEX IF NOT EXISTS nodes_user ON nodes (user_id, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS nodes_stored ON nodes (stored_as);
CREATE TABLE IF NOT EXISTS edges (
    user_id           TEXT NOT NULL,
    from_node_id      TEXT NOT NULL,
    to_node_id        TEXT NOT NULL,
    relationship_type TEXT NOT NULL CHECK (relationship_type IN ({RELATIONSHIP_TYPES})),
    strength          REAL NOT NULL DEFAULT 1.0,
    PRIMARY KEY (user_id, from_node_id, to_node_id, relationship_type)
);
-- a local id whose node PostgreSQL merged into another row's: it resolves to that row
CREATE TABLE IF NOT EXISTS aliases (
    alias   TEXT PRIMARY KEY,
    node_id TEXT NOT NULL
);
"""
STATES = ("local", "stored", "spooled")


class LocalStore:
    """One SQLite file (or ``":memory:"``). Its calls are short local statements run on
    the caller's thread, the event loop's included; a file store syncs each write to disk,
    so an application storing at a high rate would move them to a thread."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def put(self, node: MemoryNode, user_id: str, *, state: str, stored_as: str | None) -> str:
        """Keep the node; returns its id, which resolves to its row from then on.

        A node with the id of a row replaces it. A node stored as the PostgreSQL node of
        another row (PostgreSQL merged them: the same entity stored twice) replaces that
        row's data and keeps its id; the node's own id becomes an alias of it, so both ids
        resolve (``resolve``, ``stored_id``, ``relate``) and the row's edges stay."""
        assert state in STATES
        created = (node.created_at or datetime.now(UTC)).isoformat()
        with _checked("context_type", node.context_type, CONTEXT_TYPES), self.db:
            row_id = self.resolve(node.node_id) or node.node_id
            if stored_as is not None:
                holder = self.db.execute(
                    "SELECT node_id FROM nodes WHERE stored_as = ?", (stored_as,)
                ).fetchone()
                if holder is not None and holder["node_id"] != row_id:
                    self._merge(row_id, holder["node_id"])
                    row_id = holder["node_id"]
            self.db.execute(
                "INSERT OR REPLACE INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row_id,
                    user_id,
                    term(node.context_type),
                    node.summary,
                    json.dumps(node.content, default=str),
                    json.dumps(node.tags),
                    json.dumps(node.metadata, default=str),
                    created,
                    stored_as,
                    state,
                ),
            )
        return node.node_id

    def alias(self, node_id: str, stored_as: str) -> bool:
        """Make ``node_id`` resolve to the row stored as ``stored_as`` (keeping that row's
        data); False when no row is."""
        holder = self.db.execute(
            "SELECT node_id FROM nodes WHERE stored_as = ?", (stored_as,)
        ).fetchone()
        if holder is None:
            return False
        with self.db:
            self._merge(self.resolve(node_id) or node_id, holder["node_id"])
        return True

    def _merge(self, old: str, into: str) -> None:
        """Fold row ``old`` (if any) into row ``into``: its id, aliases and edges move."""
        if old == into:
            return
        self.db.execute("DELETE FROM nodes WHERE node_id = ?", (old,))
        self.db.execute("UPDATE aliases SET node_id = ? WHERE node_id = ?", (into, old))
        self.db.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?)", (old, into))
        for end in ("from_node_id", "to_node_id"):
            self.db.execute(
                f"UPDATE OR REPLACE edges SET {end} = ? WHERE {end} = ?",  # noqa: S608
                (into, old),
            )

    def resolve(self, node_id: str) -> str | None:
        """The id of the row ``node_id`` names (its own, an alias's, or a PostgreSQL id's);
        None when no row does."""
        row = self.db.execute(
            "SELECT node_id FROM nodes WHERE node_id = ?"
            " UNION ALL SELECT node_id FROM aliases WHERE alias = ?"
            " UNION ALL SELECT node_id FROM nodes WHERE stored_as = ?",
            (node_id, node_id, node_id),
        ).fetchone()
        return None if row is None else str(row["node_id"])

    def relate(self, user_id: str, from_id: str, to_id: str, type: str, strength: float) -> None:
        """Keep an edge between two nodes (ids as ``resolve`` reads them; an id no row has
        is kept as given). One edge per (from, to, type): its strength is updated."""
        ends = self.resolve(from_id) or from_id, self.resolve(to_id) or to_id
        with _checked("relationship_type", type, RELATIONSHIP_TYPES), self.db:
            self.db.execute(
                "INSERT INTO edges VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE"
                " SET strength = excluded.strength",
                (user_id, *ends, type, strength),
            )

    def nodes(self, user_id: str, *, state: str | None = None) -> list[MemoryNode]:
        rows = self.db.execute(
            "SELECT * FROM nodes WHERE user_id = ? AND (? IS NULL OR state = ?)"
            " ORDER BY created_at DESC",
            (user_id, state, state),
        ).fetchall()
        return [_node(r) for r in rows]

    def search(self, user_id: str, query: str, limit: int = 50) -> list[MemoryNode]:
        """The seed's search on the local copy: summary or content holding ``query``,
        summary matches first, newest first."""
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self.db.execute(
            "SELECT * FROM nodes WHERE user_id = ?"
            " AND (summary LIKE ? ESCAPE '\\' OR content LIKE ? ESCAPE '\\')"
            " ORDER BY (summary LIKE ? ESCAPE '\\') DESC, created_at DESC LIMIT ?",
            (user_id, pattern, pattern, pattern, limit),
        ).fetchall()
        return [_node(r) for r in rows]

    def edges(self, user_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT * FROM edges WHERE user_id = ?", (user_id,)).fetchall()
        return [dict(r) for r in rows]

    def stored_id(self, node_id: str) -> str | None:
        """The PostgreSQL id of the node ``node_id`` resolves to; None when it is not
        stored there (or no row is)."""
        row_id = self.resolve(node_id)
        if row_id is None:
            return None
        row = self.db.execute("SELECT stored_as FROM nodes WHERE node_id = ?", (row_id,)).fetchone()
        return None if row is None else row["stored_as"]

    def counts(self, user_id: str) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT state, count(*) AS n FROM nodes WHERE user_id = ? GROUP BY state", (user_id,)
        ).fetchall()
        return {r["state"]: r["n"] for r in rows}


@contextmanager
def _checked(field: str, value: object, allowed: str) -> Iterator[None]:
    """The schema's CHECK refusal as InvalidInput naming the field and the allowed values."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if "CHECK" not in str(exc):
            raise
        raise InvalidInput(
            f"{field} is {value!r}; expected one of {allowed}", field=field
        ) from None


def _node(row: sqlite3.Row) -> MemoryNode:
    return MemoryNode(
        node_id=row["node_id"],
        user_id=row["user_id"],
        context_type=ContextType(row["context_type"]),
        summary=row["summary"],
        content=json.loads(row["content"]),
        tags=json.loads(row["tags"]),
        metadata=json.loads(row["metadata"]),
        created_at=datetime.fromisoformat(row["created_at"]),
    )
