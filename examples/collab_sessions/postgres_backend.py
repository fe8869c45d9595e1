"""The PostgreSQL backend: the session interface as a thin layer over agentledger.

Sessions, chunks and artifacts are the ``sessions`` module; memories are memory entities
of the memory's type attached to their session (``session_id``), keyed
``(source="collab:<session id>", key)`` and carrying the session id in ``attrs`` too;
tasks are one task queue (``collab``) with the task's ``session_id`` column set; agents
are the agent registry. See the README for the table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from agentledger import (
    ArtifactInfo,
    ChunkInfo,
    Entity,
    Filter,
    Ledger,
    LedgerError,
    NotFound,
    Session,
    Settings,
    Task,
)
from agentledger.session_import import memory_text
from examples.collab_sessions.interface import (
    ARTIFACT_TYPES,
    CHUNK_FORMATS,
    MEMORY_TYPES,
    SAMPLE_AGENTS,
    TASK_STATUSES,
    TASK_TYPES,
    StorageError,
    choice,
    next_status,
)

TENANT = "collab"
QUEUE = "collab"
# Tasks imported already finished (completed or failed) are settled in this queue, so the
# live queue only ever holds work to claim.
HISTORY_QUEUE = "collab-history"
QUEUES = (QUEUE, HISTORY_QUEUE)
# A claimed task stays the claimer's this long before another claim may take it over:
# agents are processes that may run for a long time.
LEASE_SECONDS = 6 * 3600.0
# Agents are spawned on demand rather than heartbeating: opening a backend renews the
# sample agents' registration, which holds them available for the longest timeout allowed.
AGENT_TIMEOUT = 30 * 86_400.0
STATUS_OF_TASK = {"running": "claimed", "dead": "failed"}
TASK_STATUS_OF = {"claimed": "running", "failed": "dead"}


# A session's memories live under the source "<MEMORY_PREFIX>:<session id>".
MEMORY_PREFIX = "collab"


def memory_source(session_id: str) -> str:
    """The memory ``source`` namespacing a session's memory keys."""
    return f"{MEMORY_PREFIX}:{session_id}"


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def session_dict(s: Session) -> dict[str, Any]:
    return {
        "id": str(s.id),
        "title": s.title,
        "participants": list(s.participants),
        "status": s.status,
        "summary": s.summary,
        "metadata": s.metadata,
        "created": iso(s.created_at),
        "last_activity": iso(s.last_activity),
        "chunk_count": s.chunk_count,
        "memory_count": s.memory_count,
        "task_count": s.task_count,
        "artifact_count": s.artifact_count,
    }


def chunk_dict(c: ChunkInfo) -> dict[str, Any]:
    return {
        "id": str(c.id),
        "session_id": str(c.session_id),
        "seq": c.seq,
        "format": c.format,
        "author": c.author,
        "extracted_items": c.extracted,
        "size": c.size,
        "created": iso(c.created_at),
    }


def artifact_dict(a: ArtifactInfo) -> dict[str, Any]:
    return {
        "id": str(a.id),
        "session_id": str(a.session_id),
        "name": a.name,
        "version": a.version,
        "type": a.artifact_type,
        "format": a.format,
        "metadata": a.metadata,
        "size": a.size,
        "created": iso(a.created_at),
    }


def memory_dict(e: Entity) -> dict[str, Any]:
    return {
        "id": str(e.id),
        "session_id": e.attrs.get("session_id"),
        "type": e.kind,
        "key": e.key,
        "content": e.attrs.get("content"),
        "tags": sorted(e.tags),
        "created": iso(e.created_at),
        "updated": iso(e.updated_at),
        "update_count": e.update_count,
    }


def task_dict(t: Task) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "session_id": t.session_id,
        "agent_name": t.agent_name,
        "task_type": t.task_type,
        "priority": t.priority,
        "status": STATUS_OF_TASK.get(t.status, t.status),
        "input_data": t.input,
        "output_data": t.output,
        "error": t.error,
        "claimed_by": t.claimed_by,
        "created": iso(t.created_at),
        "updated": iso(t.updated_at),
    }


def memory_filter(
    session_id: str, memory_type: str | None = None, tags: Sequence[str] | None = None
) -> Filter:
    return Filter(kind=memory_type, tags=list(tags) if tags else None, session=session_id)


@contextmanager
def storage_errors() -> Iterator[None]:
    """agentledger's refusals as the interface's StorageError (the message kept)."""
    try:
        yield
    except LedgerError as exc:
        raise StorageError(str(exc)) from exc


class PostgresBackend:
    """Sessions in PostgreSQL through agentledger, in one tenant (default ``collab``).

    Pass an open ``Ledger`` to share it; otherwise one is opened from the environment
    (``DATABASE_URL``, else the embedded PostgreSQL) with a pool of 10 and closed by
    :meth:`close`.
    """

    backend = "postgres"

    def __init__(
        self,
        ledger: Ledger | None = None,
        *,
        tenant: str = TENANT,
        settings: Settings | None = None,
    ) -> None:
        self._owned = ledger is None
        if ledger is None:
            ledger = Ledger(settings or Settings.from_env(pool_max_size=10)).open()
        self.ledger = ledger
        ledger.tenants.create(tenant, f"Collaborative sessions ({tenant})", exist_ok=True)
        self.scope = ledger.tenant(tenant)
        for agent in SAMPLE_AGENTS:
            self.scope.agents.register(
                agent["name"],
                agent_type=agent["type"],
                command=agent["command"],
                capabilities=agent["capabilities"],
                heartbeat_timeout=AGENT_TIMEOUT,
            )

    def close(self) -> None:
        if self._owned:
            self.ledger.close()

    def __enter__(self) -> PostgresBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- sessions ----------------------------------------------------------------------

    def _session(self, session_id: str) -> Session:
        with storage_errors():
            return self.scope.sessions.get(session_id)

    def _with_counts(self, sessions: list[Session]) -> list[dict[str, Any]]:
        """Sessions with last_activity covering changes to their memories: the database
        keeps every counter, and the activity of new chunks, artifacts, tasks and memories,
        itself; a memory stored again (an update) is the latest memory's change."""
        rows = []
        for s in sessions:
            row = session_dict(s)
            latest = self.scope.memory.list(memory_filter(row["id"]), limit=1)
            moments = [s.last_activity, *(e.updated_at for e in latest)]
            row.update(last_activity=iso(max(moments)))
            rows.append(row)
        return rows

    def create_session(
        self,
        title: str,
        participants: Sequence[str] = (),
        *,
        session_id: str | None = None,
        summary: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        with storage_errors():
            made = self.scope.sessions.create(
                title,
                participants=list(participants),
                summary=summary,
                metadata=dict(metadata or {}),
                id=session_id or uuid.uuid4(),
            )
        return self._with_counts([made])[0]

    def load_session(self, session_id: str) -> dict[str, Any] | None:
        try:
            found = self.scope.sessions.get(session_id)
        except NotFound:
            return None
        return self._with_counts([found])[0]

    def save_session(self, session: Mapping[str, Any]) -> dict[str, Any]:
        sid = str(session["id"])
        stored = session_dict(self._session(sid))
        changes = {
            k: session[k]
            for k in ("title", "participants", "summary", "metadata")
            if k in session and session[k] != stored[k]
        }
        action = next_status(stored["status"], str(session.get("status", stored["status"])))
        with storage_errors(), self.scope.transaction() as tx:
            moved = tx.sessions.update(sid, **changes) if changes else tx.sessions.get(sid)
            if action is not None:
                moved = tx.sessions.transition(sid, action)
        return self._with_counts([moved])[0]

    def list_sessions(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        with storage_errors():
            found = self.scope.sessions.list(status=status, limit=limit)
        rows = self._with_counts(found)
        rows.sort(key=lambda s: (s["last_activity"], s["id"]), reverse=True)
        return rows

    def list_active_sessions(self, limit: int = 100) -> list[dict[str, Any]]:
        return self.list_sessions("active", limit)

    def get_session_summary(self, session_id: str) -> dict[str, Any]:
        with storage_errors():
            summary = self.scope.sessions.get_summary(session_id)
        return {
            "session": self._with_counts([summary.session])[0],
            "recent_chunks": [chunk_dict(c) for c in summary.recent_chunks],
            "artifacts": [artifact_dict(a) for a in summary.artifacts],
            "tasks": self.task_counts(session_id),
        }

    def delete_session(self, session_id: str) -> bool:
        """The session with its chunks, artifacts, memories and tasks (archived ones too)."""
        with storage_errors():
            return self.scope.sessions.delete(session_id, tasks=True, memories=True)

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
        choice("format", format, CHUNK_FORMATS)
        with storage_errors():
            info = self.scope.sessions.add_chunk(
                session_id,
                content,
                format=format,
                author=author,
                extracted=extracted_items,
                id=chunk_id or uuid.uuid4(),
            )
        return chunk_dict(info)

    def get_conversation_chunk(self, chunk_id: str) -> dict[str, Any]:
        with storage_errors():
            chunk = self.scope.sessions.get_chunk(chunk_id)
        return {**chunk_dict(chunk), "content": chunk.content}

    def search_conversations(
        self, query: str, *, session_id: str | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        with storage_errors():
            hits = self.scope.sessions.search(query, session_id=session_id, limit=limit)
        return [
            {
                "chunk_id": str(h.chunk_id),
                "session_id": str(h.session_id),
                "seq": h.seq,
                "format": h.format,
                "rank": h.rank,
                "snippet": h.snippet,
            }
            for h in hits
        ]

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
        sid = str(self._session(session_id).id)
        with storage_errors():
            entity = self.scope.memory.upsert(
                memory_type,
                key,
                key=key,
                source=memory_source(sid),
                summary=memory_text(content),
                attrs={"session_id": sid, "content": content},
                tags=list(tags),
                session_id=sid,
            )
        return memory_dict(entity)

    def get_memory(self, session_id: str, key: str) -> dict[str, Any] | None:
        with storage_errors():
            found = self.scope.memory.get_by_key(key, source=memory_source(session_id))
        return None if found is None else memory_dict(found)

    def query_memories(
        self,
        session_id: str,
        *,
        memory_type: str | None = None,
        tags: Sequence[str] | None = None,
        text: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        where = memory_filter(session_id, memory_type, tags)
        with storage_errors():
            if text is None:
                return [memory_dict(e) for e in self.scope.memory.list(where, limit=limit)]
            hits = self.scope.memory.search_text(text, filter=where, limit=limit)
        return [{**memory_dict(h.entity), "rank": h.score, "highlight": h.highlight} for h in hits]

    # --- tasks -------------------------------------------------------------------------

    def _tasks(self, session_id: str) -> Iterator[Task]:
        """The session's tasks, both queues, in id order (the library lists by session)."""
        after = 0
        while True:
            with storage_errors():
                page = self.scope.tasks.list(session_id=session_id, after=after, limit=1000)
            yield from page
            if len(page) < 1000:
                break
            after = page[-1].id

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
        sid = str(self._session(session_id).id)
        with storage_errors():
            task = self.scope.tasks.enqueue(
                QUEUE,
                dict(input_data or {}),
                task_type=task_type,
                priority=priority,
                agent_name=agent_name,
                session_id=sid,
                max_attempts=1,
            )
        return task_dict(task)

    def claim_task(self, agent_name: str, control_agent: str) -> dict[str, Any] | None:
        with storage_errors():
            claimed = self.scope.tasks.claim(
                QUEUE, limit=1, lease=LEASE_SECONDS, worker=control_agent, agent=agent_name
            )
        return task_dict(claimed[0]) if claimed else None

    def _task(self, task_id: str) -> Task:
        try:
            number = int(task_id)
        except ValueError:
            raise StorageError(f"task {task_id!r} does not exist") from None
        with storage_errors():
            return self.scope.tasks.get(number)

    def complete_task(
        self, task_id: str, output_data: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        task = self._task(task_id)
        with storage_errors():
            return task_dict(self.scope.tasks.complete(task, dict(output_data or {})))

    def fail_task(self, task_id: str, error: str) -> dict[str, Any]:
        task = self._task(task_id)
        with storage_errors():
            return task_dict(self.scope.tasks.fail(task, error, retry=False))

    def get_task(self, task_id: str) -> dict[str, Any]:
        return task_dict(self._task(task_id))

    def list_tasks(self, session_id: str, *, status: str | None = None) -> list[dict[str, Any]]:
        rows = [task_dict(t) for t in self._tasks(session_id)]
        return [t for t in rows if status is None or t["status"] == status]

    def task_counts(self, session_id: str | None = None) -> dict[str, int]:
        counts = dict.fromkeys(TASK_STATUSES, 0)
        if session_id is None:  # the whole queue: the library's per-status counts
            for stats in self.scope.tasks.stats():
                if stats.queue in QUEUES:
                    counts["pending"] += stats.pending
                    counts["claimed"] += stats.running
                    counts["completed"] += stats.completed
                    counts["failed"] += stats.dead
                    counts["cancelled"] += stats.cancelled
            return counts
        for task in self.list_tasks(session_id):
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
        with storage_errors():
            info = self.scope.sessions.save_artifact(
                session_id,
                name,
                content,
                artifact_type=artifact_type,
                format=format,
                metadata=dict(metadata or {}),
            )
        return artifact_dict(info)

    def get_artifact(
        self, session_id: str, name: str, *, version: int | None = None
    ) -> dict[str, Any] | None:
        try:
            found = self.scope.sessions.get_artifact(session_id, name, version=version)
        except NotFound:
            return None
        return {**artifact_dict(found), "content": found.content}

    def search_artifacts(
        self, query: str, *, session_id: str | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        with storage_errors():
            hits = self.scope.sessions.search_artifacts(query, session_id=session_id, limit=limit)
        return [
            {
                "id": str(h.artifact_id),
                "session_id": str(h.session_id),
                "name": h.name,
                "version": h.version,
                "type": h.artifact_type,
                "rank": h.rank,
                "snippet": h.snippet,
            }
            for h in hits
        ]

    # --- agents ------------------------------------------------------------------------

    def list_agents(self, status: str | None = None) -> list[dict[str, Any]]:
        with storage_errors():
            agents = self.scope.agents.list(status=status)
        return [
            {
                "name": a.name,
                "type": a.agent_type,
                "command": a.command,
                "capabilities": list(a.capabilities),
                "status": a.status,
            }
            for a in agents
        ]
