"""The PostgreSQL backend: the session interface as a thin layer over agentledger.

Sessions, chunks and artifacts are the ``sessions`` module; memories are memory entities
of the memory's type attached to their session (``session_id``), keyed
``(source="collab:<session id>", key)`` and carrying the session id in ``attrs`` too;
tasks are one task queue (``collab``) with the task's ``session_id`` column set; agents
are the agent registry. See the README for the table.

Ids are the importer's (``agentledger.session_import.derived_id``): a session id, or a
chunk id given to ``add_conversation_chunk``, that is not a UUID stands for the uuid5 the
importer gives it, so the ids of a JSON store keep naming its sessions once imported. An
id the JSON backend would refuse (``json_backend.checked_id``) is refused here too, with
StorageError; an id that names nothing answers as on JSON (None, False, empty). Every
write through this backend, a memory stored again or a task claimed or settled included,
moves the session's ``last_activity`` in the database, so listings are ordered, and cut
at their limit, by the database alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

from agentledger import (
    ArtifactInfo,
    ChunkInfo,
    Conflict,
    Entity,
    Filter,
    InvalidInput,
    Ledger,
    LedgerError,
    NotFound,
    Session,
    Settings,
    Task,
)
from agentledger.ledger import Transaction
from agentledger.session_import import derived_id, memory_text
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
from examples.collab_sessions.json_backend import checked_id

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


def sid(value: str, *scope: str, field: str = "session_id") -> str:
    """The database id of a session id (or, with a ``scope``, of a chunk id): a UUID as
    is, any other id the JSON backend takes as the importer's uuid5 of it (``derived_id``
    with the importer's scope, ``"session"`` for a session); StorageError naming ``field``
    for an id the JSON backend refuses."""
    return derived_id(checked_id(field, value), *(scope or ("session",)))


def touch(tx: Transaction, session_id: str | None) -> None:
    """Note activity in the session ``session_id`` (no session, or one deleted since:
    nothing)."""
    if session_id is not None:
        # Neither aborts the transaction: NotFound is a row not returned, InvalidInput a
        # refusal before any SQL runs.
        with suppress(NotFound, InvalidInput):
            tx.sessions.update(session_id)


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
        """The session ``session_id`` names; StorageError when none (or a refused id)."""
        with storage_errors():
            return self.scope.sessions.get(sid(session_id))

    def create_session(
        self,
        title: str,
        participants: Sequence[str] = (),
        *,
        session_id: str | None = None,
        summary: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A new active session; an id already taken returns the stored session, as on
        JSON (whatever its title)."""
        key = sid(session_id) if session_id else str(uuid.uuid4())
        with storage_errors():
            try:
                made = self.scope.sessions.create(
                    title,
                    participants=list(participants),
                    summary=summary,
                    metadata=dict(metadata or {}),
                    id=key,
                )
            except Conflict:  # taken, under another title
                made = self.scope.sessions.get(key)
        return session_dict(made)

    def load_session(self, session_id: str) -> dict[str, Any] | None:
        """The session, or None when the id names none (StorageError for a refused id)."""
        key = sid(session_id)
        with storage_errors():
            try:
                found = self.scope.sessions.get(key)
            except NotFound:
                return None
        return session_dict(found)

    def save_session(self, session: Mapping[str, Any]) -> dict[str, Any]:
        key = sid(str(session["id"]))
        stored = session_dict(self._session(key))
        changes = {
            k: session[k]
            for k in ("title", "participants", "summary", "metadata")
            if k in session and session[k] != stored[k]
        }
        action = next_status(stored["status"], str(session.get("status", stored["status"])))
        with storage_errors(), self.scope.transaction() as tx:
            moved = tx.sessions.update(key, **changes) if changes else tx.sessions.get(key)
            if action is not None:
                moved = tx.sessions.transition(key, action)
        return session_dict(moved)

    def list_sessions(self, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest activity first, the first ``limit``: one query, the database's order (its
        last_activity covers every write of this backend, see the module docstring)."""
        with storage_errors():
            found = self.scope.sessions.list(status=status, limit=limit)
        return [session_dict(s) for s in found]

    def list_active_sessions(self, limit: int = 100) -> list[dict[str, Any]]:
        return self.list_sessions("active", limit)

    def get_session_summary(self, session_id: str) -> dict[str, Any]:
        key = sid(session_id)
        with storage_errors():
            summary = self.scope.sessions.get_summary(key, memories=0)
        return {
            "session": session_dict(summary.session),
            "recent_chunks": [chunk_dict(c) for c in summary.recent_chunks],
            "artifacts": [artifact_dict(a) for a in summary.artifacts],
            "tasks": self.task_counts(key),
        }

    def delete_session(self, session_id: str) -> bool:
        """The session with its chunks, artifacts, memories and tasks (archived ones too);
        False when the id names none."""
        key = sid(session_id)
        with storage_errors():
            return self.scope.sessions.delete(key, tasks=True, memories=True)

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
        """A ``chunk_id`` that is not a UUID stands for the uuid5 of it in its session, as
        the importer makes it: the chunk's ``id`` is that UUID."""
        choice("format", format, CHUNK_FORMATS)
        key = sid(session_id)
        cid = sid(chunk_id, key, "chunk", field="chunk_id") if chunk_id else uuid.uuid4()
        with storage_errors():
            info = self.scope.sessions.add_chunk(
                key, content, format=format, author=author, extracted=extracted_items, id=cid
            )
        return chunk_dict(info)

    def get_conversation_chunk(self, chunk_id: str) -> dict[str, Any]:
        """The chunk with this UUID; StorageError when there is none (a chunk id that is not
        a UUID names none here: chunks are found by the id ``add_conversation_chunk``
        returned)."""
        with storage_errors():
            chunk = self.scope.sessions.get_chunk(chunk_id)
        return {**chunk_dict(chunk), "content": chunk.content}

    def search_conversations(
        self, query: str, *, session_id: str | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        key = None if session_id is None else sid(session_id)
        with storage_errors():
            hits = self.scope.sessions.search(query, session_id=key, limit=limit)
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
        """Store or update the memory, and note it in the session's last_activity (the
        database notes only a new memory itself)."""
        choice("memory_type", memory_type, MEMORY_TYPES)
        owner = str(self._session(session_id).id)
        with storage_errors(), self.scope.transaction() as tx:
            entity = tx.memory.upsert(
                memory_type,
                key,
                key=key,
                source=memory_source(owner),
                summary=memory_text(content),
                attrs={"session_id": owner, "content": content},
                tags=list(tags),
                session_id=owner,
            )
            touch(tx, owner)
        return memory_dict(entity)

    def get_memory(self, session_id: str, key: str) -> dict[str, Any] | None:
        """The memory, or None when there is none (a key the database could not hold, such
        as an empty one, names none)."""
        source = memory_source(sid(session_id))
        with storage_errors():
            try:
                found = self.scope.memory.get_by_key(key, source=source)
            except InvalidInput:
                return None
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
        where = memory_filter(sid(session_id), memory_type, tags)
        with storage_errors():
            if text is None:
                return [memory_dict(e) for e in self.scope.memory.list(where, limit=limit)]
            hits = self.scope.memory.search_text(text, filter=where, limit=limit)
        return [{**memory_dict(h.entity), "rank": h.score, "highlight": h.highlight} for h in hits]

    # --- tasks -------------------------------------------------------------------------

    def _tasks(self, session_id: str) -> Iterator[Task]:
        """The session's tasks, both queues, in id order (the library lists by session)."""
        session_id = sid(session_id)
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
        owner = str(self._session(session_id).id)
        with storage_errors():
            task = self.scope.tasks.enqueue(
                QUEUE,
                dict(input_data or {}),
                task_type=task_type,
                priority=priority,
                agent_name=agent_name,
                session_id=owner,
                max_attempts=1,
            )
        return task_dict(task)

    def claim_task(self, agent_name: str, control_agent: str) -> dict[str, Any] | None:
        """Claim the next task; the claim is activity in its session (as on JSON)."""
        with storage_errors(), self.scope.transaction() as tx:
            claimed = tx.tasks.claim(
                QUEUE, limit=1, lease=LEASE_SECONDS, worker=control_agent, agent=agent_name
            )
            for task in claimed:
                touch(tx, task.session_id)
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
        """Settle a claimed task as completed; activity in its session (as on JSON)."""
        task = self._task(task_id)
        with storage_errors(), self.scope.transaction() as tx:
            done = tx.tasks.complete(task, dict(output_data or {}))
            touch(tx, done.session_id)
        return task_dict(done)

    def fail_task(self, task_id: str, error: str) -> dict[str, Any]:
        """Settle a claimed task as failed; activity in its session (as on JSON)."""
        task = self._task(task_id)
        with storage_errors(), self.scope.transaction() as tx:
            failed = tx.tasks.fail(task, error, retry=False)
            touch(tx, failed.session_id)
        return task_dict(failed)

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
        key = sid(session_id)
        with storage_errors():
            info = self.scope.sessions.save_artifact(
                key,
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
        """The version asked for (default the latest) with its content, or None when the
        session, the name or the version names none (one the database could not hold, such
        as an empty name or version 0, included)."""
        key = sid(session_id)
        with storage_errors():
            try:
                found = self.scope.sessions.get_artifact(key, name, version=version)
            except (NotFound, InvalidInput):
                return None
        return {**artifact_dict(found), "content": found.content}

    def search_artifacts(
        self, query: str, *, session_id: str | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        key = None if session_id is None else sid(session_id)
        with storage_errors():
            hits = self.scope.sessions.search_artifacts(query, session_id=key, limit=limit)
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
