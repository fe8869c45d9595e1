"""The JSON-file backend: one directory per session, a file per kind (no database).

Layout under the root directory (see the README)::

    agents.json                     the agent registry
    sessions/<id>/session.json      the session, its counters and last_activity
    sessions/<id>/chunks.json       chunk descriptions; content in chunks/<chunk id>.txt
    sessions/<id>/memories.json     memories by key
    sessions/<id>/tasks.json        tasks
    sessions/<id>/artifacts.json    artifact versions; content in artifacts/<artifact id>.txt

Every write happens under one exclusive lock (``.lock``, flock), so threads and processes
sharing the directory never lose an update; files are replaced atomically, so reads need
no lock. Search is a plain scan: every query word must occur (case-insensitive). An id
that names a file or a folder (a session's, a chunk's, an artifact's) must be
``checked_id``'s, so nothing is ever read or written outside the store.
"""

from __future__ import annotations

import fcntl
import json
import math
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentledger.session_import import memory_text
from examples.collab_sessions.interface import (
    ARTIFACT_TYPES,
    CHUNK_FORMATS,
    MEMORY_TYPES,
    SAMPLE_AGENTS,
    TASK_TYPES,
    StorageError,
    choice,
    next_status,
)

SNIPPET_CHARS = 120
# An id that names a file or folder: letters, digits, "_", "." and "-", not led by ".".
FILE_ID = re.compile(r"(?!\.)[\w.-]{1,200}")


def checked_id(field: str, value: object) -> str:
    """``value`` when it can name a file in the store (FILE_ID: no "/", no "..", no
    leading "."); else StorageError naming ``field``."""
    if not isinstance(value, str) or not FILE_ID.fullmatch(value):
        raise StorageError(f"{field} {value!r} is not a valid id")
    return value


def content_file(folder: Path, kind: str, item_id: object) -> Path:
    """Where a chunk's (``kind`` "chunks") or an artifact version's ("artifacts") content
    lives in the session's ``folder``; StorageError for an id that could lead outside."""
    return folder / kind / f"{checked_id('id', item_id)}.txt"


def chunk_info(chunk: dict[str, Any]) -> dict[str, Any]:
    """A stored chunk description as returned: no extracted items read as ``{}`` (as the
    PostgreSQL backend stores them; chunks.json of older versions holds null)."""
    items = chunk.get("extracted_items")
    return {**chunk, "extracted_items": {} if items is None else items}


def now() -> str:
    return datetime.now(UTC).isoformat()


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def write_json(path: Path, value: Any) -> None:
    """Replace ``path`` atomically (a reader sees the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(value, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(text.encode("utf-8"))
    tmp.replace(path)


def search_text(query: str, text: str) -> tuple[float, str] | None:
    """(rank, snippet) when every word of ``query`` occurs in ``text``, else None."""
    words = [w for w in re.findall(r"\w+", query.lower()) if w]
    if not words:
        return None
    counts, first = [], None
    for word in words:
        pattern = re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)
        found = pattern.search(text)
        if found is None:
            return None
        first = found.start() if first is None else min(first, found.start())
        counts.append(len(pattern.findall(text)))
    assert first is not None
    start = max(0, first - SNIPPET_CHARS // 2)
    window = text[start : start + SNIPPET_CHARS]
    alternatives = "|".join(re.escape(w) for w in words)
    snippet = re.sub(rf"\b({alternatives})\b", r"<mark>\1</mark>", window, flags=re.I)
    rank = sum(counts) / (1 + math.log(1 + len(text)))
    return rank, snippet


class JsonBackend:
    """Sessions kept as JSON files under ``root``."""

    backend = "json"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        (self.root / "sessions").mkdir(parents=True, exist_ok=True)
        with self._locked():
            if not (self.root / "agents.json").exists():
                agents = {a["name"]: {**a, "status": "available"} for a in SAMPLE_AGENTS}
                write_json(self.root / "agents.json", agents)

    def close(self) -> None:
        pass

    def __enter__(self) -> JsonBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # A new open file per acquisition: flock then excludes other threads too.
        with (self.root / ".lock").open("a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _dir(self, session_id: str) -> Path:
        return self.root / "sessions" / checked_id("session_id", session_id)

    def _session_ids(self) -> list[str]:
        return sorted(p.name for p in (self.root / "sessions").iterdir() if p.is_dir())

    def _open(self, session_id: str) -> tuple[Path, dict[str, Any]]:
        folder = self._dir(session_id)
        session = read_json(folder / "session.json")
        if session is None:
            raise StorageError(f"session {session_id!r} does not exist")
        return folder, session

    def _touch(self, folder: Path, session: dict[str, Any], **counts: int) -> None:
        for name, delta in counts.items():
            session[name] = session.get(name, 0) + delta
        session["last_activity"] = now()
        write_json(folder / "session.json", session)

    # --- sessions ----------------------------------------------------------------------

    def create_session(
        self,
        title: str,
        participants: Sequence[str] = (),
        *,
        session_id: str | None = None,
        summary: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        sid = session_id or str(uuid.uuid4())
        folder = self._dir(sid)
        with self._locked():
            stored = read_json(folder / "session.json")
            if stored is not None:
                return dict(stored)
            stamp = now()
            session = {
                "id": sid,
                "title": title,
                "participants": sorted(set(participants)),
                "status": "active",
                "summary": summary,
                "metadata": dict(metadata or {}),
                "created": stamp,
                "last_activity": stamp,
                "chunk_count": 0,
                "memory_count": 0,
                "task_count": 0,
                "artifact_count": 0,
            }
            write_json(folder / "session.json", session)
        return session

    def load_session(self, session_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = read_json(self._dir(session_id) / "session.json")
        return found

    def save_session(self, session: Mapping[str, Any]) -> dict[str, Any]:
        with self._locked():
            folder, stored = self._open(str(session["id"]))
            changes = {
                k: session[k]
                for k in ("title", "participants", "summary", "metadata")
                if k in session and session[k] != stored.get(k)
            }
            if "participants" in changes:
                changes["participants"] = sorted(set(changes["participants"]))
            if next_status(stored["status"], str(session.get("status", stored["status"]))):
                changes["status"] = session["status"]
            if changes:
                stored.update(changes)
                self._touch(folder, stored)
        return dict(stored)

    def list_sessions(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        found = [
            read_json(self.root / "sessions" / sid / "session.json") for sid in self._session_ids()
        ]
        rows = [s for s in found if s is not None and (status is None or s["status"] == status)]
        rows.sort(key=lambda s: (s["last_activity"], s["id"]), reverse=True)
        return rows[:limit]

    def list_active_sessions(self, limit: int = 100) -> list[dict[str, Any]]:
        return self.list_sessions("active", limit)

    def get_session_summary(self, session_id: str) -> dict[str, Any]:
        folder, session = self._open(session_id)
        chunks = read_json(folder / "chunks.json", [])
        latest: dict[str, dict[str, Any]] = {}
        for version in read_json(folder / "artifacts.json", []):
            latest[version["name"]] = version
        return {
            "session": session,
            "recent_chunks": [chunk_info(c) for c in sorted(chunks, key=lambda c: -c["seq"])[:5]],
            "artifacts": [latest[name] for name in sorted(latest)],
            "tasks": self.task_counts(session_id),
        }

    def delete_session(self, session_id: str) -> bool:
        folder = self._dir(session_id)
        with self._locked():
            if not folder.exists():
                return False
            for path in sorted(folder.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            folder.rmdir()
        return True

    # --- conversation chunks -----------------------------------------------------------

    def add_conversation_chunk(
        self,
        session_id: str,
        content: str,
        *,
        format: str = "dialogue",
        extracted_items: Any = None,
        author: str | None = None,
        chunk_id: str | None = None,
    ) -> dict[str, Any]:
        """Append a chunk; the same ``chunk_id`` again returns the stored one. A chunk id
        must be ``checked_id``'s (it names the content's file)."""
        choice("format", format, CHUNK_FORMATS)
        cid = checked_id("chunk_id", chunk_id) if chunk_id else str(uuid.uuid4())
        with self._locked():
            folder, session = self._open(session_id)
            chunks = read_json(folder / "chunks.json", [])
            for chunk in chunks:
                if chunk["id"] == cid:
                    return chunk_info(chunk)
            info = {
                "id": cid,
                "session_id": session_id,
                "seq": max((c["seq"] for c in chunks), default=0) + 1,
                "format": format,
                "author": author,
                "extracted_items": {} if extracted_items is None else extracted_items,
                "size": len(content),
                "created": now(),
            }
            write_text(content_file(folder, "chunks", cid), content)
            write_json(folder / "chunks.json", [*chunks, info])
            self._touch(folder, session, chunk_count=1)
        return info

    def _chunks(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        for sid in self._session_ids():
            folder = self.root / "sessions" / sid
            for chunk in read_json(folder / "chunks.json", []):
                yield folder, chunk

    def get_conversation_chunk(self, chunk_id: str) -> dict[str, Any]:
        for folder, chunk in self._chunks():
            if chunk["id"] == chunk_id:
                content = content_file(folder, "chunks", chunk_id).read_bytes().decode("utf-8")
                return {**chunk_info(chunk), "content": content}
        raise StorageError(f"chunk {chunk_id!r} does not exist")

    def search_conversations(
        self, query: str, *, session_id: str | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        if session_id is not None:
            checked_id("session_id", session_id)
        hits = []
        for folder, chunk in self._chunks():
            if session_id is not None and chunk["session_id"] != session_id:
                continue
            text = content_file(folder, "chunks", chunk["id"]).read_text(encoding="utf-8")
            found = search_text(query, text)
            if found is not None:
                hits.append(
                    {
                        "chunk_id": chunk["id"],
                        "session_id": chunk["session_id"],
                        "seq": chunk["seq"],
                        "format": chunk["format"],
                        "rank": found[0],
                        "snippet": found[1],
                    }
                )
        hits.sort(key=lambda h: -h["rank"])
        return hits[:limit]

    # --- memories ----------------------------------------------------------------------

    def store_memory(
        self,
        session_id: str,
        memory_type: str,
        key: str,
        content: Any,
        tags: Sequence[str] = (),
    ) -> dict[str, Any]:
        choice("memory_type", memory_type, MEMORY_TYPES)
        with self._locked():
            folder, session = self._open(session_id)
            memories = read_json(folder / "memories.json", {})
            stamp, old = now(), memories.get(key)
            memory = {
                "id": old["id"] if old else str(uuid.uuid4()),
                "session_id": session_id,
                "type": memory_type,
                "key": key,
                "content": content,
                "tags": sorted(set(old["tags"] if old else []) | set(tags)),
                "created": old["created"] if old else stamp,
                "updated": stamp,
                "update_count": old["update_count"] + 1 if old else 0,
            }
            memories[key] = memory
            write_json(folder / "memories.json", memories)
            self._touch(folder, session, memory_count=0 if old else 1)
        return memory

    def get_memory(self, session_id: str, key: str) -> dict[str, Any] | None:
        memories = read_json(self._dir(session_id) / "memories.json", {})
        found: dict[str, Any] | None = memories.get(key)
        return found

    def query_memories(
        self,
        session_id: str,
        *,
        memory_type: str | None = None,
        tags: Sequence[str] | None = None,
        text: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        rows = []
        for memory in read_json(self._dir(session_id) / "memories.json", {}).values():
            if memory_type is not None and memory["type"] != memory_type:
                continue
            if tags and not set(tags) <= set(memory["tags"]):
                continue
            if text is not None:
                found = search_text(text, f"{memory['key']}\n{memory_text(memory['content'])}")
                if found is None:
                    continue
                memory = {**memory, "rank": found[0], "highlight": found[1]}
            rows.append(memory)
        if text is not None:
            rows.sort(key=lambda m: -m["rank"])
        else:
            rows.sort(key=lambda m: m["updated"], reverse=True)
        return rows[:limit]

    # --- tasks -------------------------------------------------------------------------

    def create_task(
        self,
        session_id: str,
        agent_name: str | None,
        task_type: str,
        input_data: Mapping[str, Any] | None = None,
        *,
        priority: int = 0,
    ) -> dict[str, Any]:
        choice("task_type", task_type, TASK_TYPES)
        with self._locked():
            folder, session = self._open(session_id)
            tasks = read_json(folder / "tasks.json", [])
            stamp = now()
            task = {
                "id": str(uuid.uuid4()),
                "session_id": session_id,
                "agent_name": agent_name,
                "task_type": task_type,
                "priority": priority,
                "status": "pending",
                "input_data": dict(input_data or {}),
                "output_data": None,
                "error": None,
                "claimed_by": None,
                "created": stamp,
                "updated": stamp,
            }
            write_json(folder / "tasks.json", [*tasks, task])
            self._touch(folder, session, task_count=1)
        return task

    def claim_task(self, agent_name: str, control_agent: str) -> dict[str, Any] | None:
        with self._locked():
            best: tuple[Path, int, dict[str, Any]] | None = None
            for sid in self._session_ids():
                folder = self.root / "sessions" / sid
                for i, task in enumerate(read_json(folder / "tasks.json", [])):
                    if task["status"] != "pending" or task["agent_name"] not in (None, agent_name):
                        continue
                    order = (-task["priority"], task["created"], task["id"])
                    if best is None or order < (
                        -best[2]["priority"],
                        best[2]["created"],
                        best[2]["id"],
                    ):
                        best = (folder, i, task)
            if best is None:
                return None
            folder, index, task = best
            task.update(status="claimed", claimed_by=control_agent, updated=now())
            return self._replace_task(folder, index, task)

    def _replace_task(self, folder: Path, index: int, task: dict[str, Any]) -> dict[str, Any]:
        tasks = read_json(folder / "tasks.json", [])
        tasks[index] = task
        write_json(folder / "tasks.json", tasks)
        self._touch(folder, read_json(folder / "session.json"))
        return task

    def _find_task(self, task_id: str) -> tuple[Path, int, dict[str, Any]]:
        for sid in self._session_ids():
            folder = self.root / "sessions" / sid
            for i, task in enumerate(read_json(folder / "tasks.json", [])):
                if task["id"] == task_id:
                    return folder, i, task
        raise StorageError(f"task {task_id!r} does not exist")

    def _settle(self, task_id: str, status: str, **fields: Any) -> dict[str, Any]:
        with self._locked():
            folder, index, task = self._find_task(task_id)
            if task["status"] != "claimed":
                raise StorageError(f"cannot settle task {task_id} in state {task['status']!r}")
            task.update(status=status, updated=now(), **fields)
            return self._replace_task(folder, index, task)

    def complete_task(
        self, task_id: str, output_data: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return self._settle(task_id, "completed", output_data=dict(output_data or {}))

    def fail_task(self, task_id: str, error: str) -> dict[str, Any]:
        return self._settle(task_id, "failed", error=error)

    def get_task(self, task_id: str) -> dict[str, Any]:
        return self._find_task(task_id)[2]

    def list_tasks(self, session_id: str, *, status: str | None = None) -> list[dict[str, Any]]:
        tasks = read_json(self._dir(session_id) / "tasks.json", [])
        return [t for t in tasks if status is None or t["status"] == status]

    def task_counts(self, session_id: str | None = None) -> dict[str, int]:
        counts = dict.fromkeys(("pending", "claimed", "completed", "failed", "cancelled"), 0)
        sids = self._session_ids() if session_id is None else [session_id]
        for sid in sids:
            for task in read_json(self._dir(sid) / "tasks.json", []):
                counts[task["status"]] = counts.get(task["status"], 0) + 1
        return counts

    # --- artifacts ---------------------------------------------------------------------

    def store_artifact(
        self,
        session_id: str,
        name: str,
        content: str,
        *,
        artifact_type: str = "document",
        format: str = "markdown",
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        choice("artifact_type", artifact_type, ARTIFACT_TYPES)
        with self._locked():
            folder, session = self._open(session_id)
            versions = read_json(folder / "artifacts.json", [])
            same = [a["version"] for a in versions if a["name"] == name]
            info = {
                "id": str(uuid.uuid4()),
                "session_id": session_id,
                "name": name,
                "version": max(same, default=0) + 1,
                "type": artifact_type,
                "format": format,
                "metadata": dict(metadata or {}),
                "size": len(content),
                "created": now(),
            }
            write_text(content_file(folder, "artifacts", info["id"]), content)
            write_json(folder / "artifacts.json", [*versions, info])
            self._touch(folder, session, artifact_count=0 if same else 1)
        return info

    def get_artifact(
        self, session_id: str, name: str, *, version: int | None = None
    ) -> dict[str, Any] | None:
        folder = self._dir(session_id)
        versions = [
            a
            for a in read_json(folder / "artifacts.json", [])
            if a["name"] == name and (version is None or a["version"] == version)
        ]
        if not versions:
            return None
        info = max(versions, key=lambda a: a["version"])
        content = content_file(folder, "artifacts", info["id"]).read_bytes().decode("utf-8")
        return {**info, "content": content}

    def search_artifacts(
        self, query: str, *, session_id: str | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        hits = []
        for sid in self._session_ids() if session_id is None else [session_id]:
            folder = self._dir(sid)
            latest: dict[str, dict[str, Any]] = {}
            for info in read_json(folder / "artifacts.json", []):
                if info["version"] > latest.get(info["name"], {"version": 0})["version"]:
                    latest[info["name"]] = info
            for info in latest.values():
                text = content_file(folder, "artifacts", info["id"]).read_text(encoding="utf-8")
                found = search_text(query, f"{info['name']}\n{text}")
                if found is not None:
                    keys = ("id", "session_id", "name", "version", "type")
                    hits.append(
                        {**{k: info[k] for k in keys}, "rank": found[0], "snippet": found[1]}
                    )
        hits.sort(key=lambda h: -h["rank"])
        return hits[:limit]

    # --- agents ------------------------------------------------------------------------

    def list_agents(self, status: str | None = None) -> list[dict[str, Any]]:
        """The registry by name; capabilities sorted (as the PostgreSQL registry keeps them)."""
        agents = read_json(self.root / "agents.json", {})
        return [
            {**a, "capabilities": sorted(a["capabilities"])}
            for _, a in sorted(agents.items())
            if status is None or a["status"] == status
        ]
