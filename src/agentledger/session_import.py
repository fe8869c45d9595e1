"""Import a JSON session store into a tenant, idempotently and resumably.

The store's layout (one folder per session)::

    sessions/<id>/session.json      the session: id, title, participants, status, summary
    sessions/<id>/chunks.json       [chunk]: id, seq, format, author, extracted_items;
                                    content in chunks/<chunk id>.txt
    sessions/<id>/memories.json     {key: memory}: type, content, tags, updated
    sessions/<id>/tasks.json        [task]: id, agent_name, task_type, input_data,
                                    priority, status, output_data, error
    sessions/<id>/artifacts.json    [artifact version]: id, name, type, format, metadata,
                                    version; content in artifacts/<artifact id>.txt

Each session is imported in one transaction with everything it holds, so a killed run
leaves whole sessions behind and the next run carries on. Ids come from the JSON ids (a
UUID as is, anything else through uuid5), memories by their (source, key) and tasks by a
``dedup_key`` naming their JSON id, so a second run finds everything and imports nothing.
A malformed file is reported with its path and skipped; the rest is imported, and the
session stays active (a finished session takes no more chunks or artifacts) until a run
after the fix has imported everything and applies its status. Chunks and each artifact's
versions are imported in their JSON order up to the first whose content cannot be read (the
database numbers them as they come): the rest wait for that run, so seq and version come
out as in the store. A cancelled task is kept, cancelled, in the history queue.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import Progress

from agentledger import Filter, NewEntity, NewTask, NotFound, Outcome, Task
from agentledger.ledger import TenantScope, Transaction

# uuid5 namespace of ids derived from JSON ids that are not UUIDs already.
ID_NAMESPACE = uuid.UUID("5b0c7c35-3a55-4f8e-9b7a-0c2f7d1e6a41")

KINDS = ("sessions", "chunks", "memories", "tasks", "artifacts")
IMPORTER = "json-import"
FINISHED = {"completed": "complete", "failed": "fail"}
CANCELLED = "cancelled"


@dataclass(frozen=True, kw_only=True, slots=True)
class StoreLayout:
    """Where imported items land: live tasks in ``queue``; tasks that had already finished,
    settled as they ended, in ``history_queue`` (so the live queue only holds work to
    claim); a session's memories attached to it, under the source
    ``<memory_prefix>:<session id>``."""

    queue: str = "sessions"
    history_queue: str = "sessions-history"
    memory_prefix: str = "session"

    def memory_source(self, session_id: str) -> str:
        return f"{self.memory_prefix}:{session_id}"


def derived_id(value: str, *scope: str) -> str:
    """A UUID string for a JSON id: the id itself when it is a UUID, else a uuid5 of the
    scope and the id, so re-importing the same file always yields the same id."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return str(uuid.uuid5(ID_NAMESPACE, "/".join((*scope, value))))


def memory_text(content: Any) -> str:
    """The searchable text of a memory's content: a string as is, else its string values."""
    if isinstance(content, str):
        return content
    words: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            words.append(value)
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif value is not None:
            words.append(json.dumps(value))

    walk(content)
    return "\n".join(words)


@dataclass
class ImportReport:
    """What a run found in the JSON files and how much of it was new to PostgreSQL, per
    kind; ``errors`` holds ``"<path>: <problem>"`` for each file skipped."""

    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    imported: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    errors: list[str] = field(default_factory=list)


class Malformed(Exception):
    """A JSON file that cannot be imported (the message names what is wrong)."""


def _load(path: Path, kind: type, default: Any) -> Any:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Malformed(f"{path}: {exc}") from None
    if not isinstance(value, kind):
        raise Malformed(f"{path}: expected a JSON {kind.__name__}, found {type(value).__name__}")
    return value


def _moment(value: object) -> datetime | None:
    """An imported time, when it is one (never in the future, as the memory needs)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(moment, datetime.now(UTC))


def session_dirs(directory: Path) -> list[Path]:
    """The session folders of a JSON store (its root, or its ``sessions`` folder)."""
    root = directory / "sessions" if (directory / "sessions").is_dir() else directory
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _import_key(sid: str, json_id: object) -> str:
    return f"import:{sid}:{json_id}"


def _imported_tasks(scope: TenantScope, layout: StoreLayout) -> set[str]:
    """The dedup keys of tasks imported before (one pass over the two queues)."""
    keys: set[str] = set()
    for queue in (layout.queue, layout.history_queue):
        after = 0
        while True:
            page = scope.tasks.list(queue=queue, after=after, limit=1000)
            keys.update(t.dedup_key for t in page if t.dedup_key is not None)
            if len(page) < 1000:
                break
            after = page[-1].id
    return keys


class _SessionImport:
    """One session folder, read and then written in one transaction."""

    def __init__(self, folder: Path, report: ImportReport, layout: StoreLayout) -> None:
        self.folder = folder
        self.report = report
        self.layout = layout
        self.session: dict[str, Any] = _load(folder / "session.json", dict, None)
        if self.session is None:
            raise Malformed(f"{folder / 'session.json'}: missing")
        if not isinstance(self.session.get("id"), str) or not self.session.get("title"):
            raise Malformed(f"{folder / 'session.json'}: no id or title")
        for name, kind in (("metadata", dict), ("participants", list)):
            if not isinstance(self.session.get(name) or kind(), kind):
                raise Malformed(f"{folder / 'session.json'}: {name} is not a JSON {kind.__name__}")
        self.sid = derived_id(self.session["id"], "session")
        # Something of it could not be read: it is left active (a finished session takes
        # no more chunks or artifacts), for the run after the fix to finish.
        self.incomplete = False
        self.chunks = self._part("chunks.json", list)
        self.memories = self._part("memories.json", dict)
        self.tasks = self._part("tasks.json", list)
        self.artifacts = self._part("artifacts.json", list)

    def _part(self, name: str, kind: type) -> Any:
        """The file's items (a list, or a dict by key), each a JSON object; a file that is
        not that is reported and skipped whole."""
        path = self.folder / name
        try:
            found = _load(path, kind, kind())
            items = found.values() if isinstance(found, dict) else found
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    raise Malformed(f"{path}: item {i} is a {type(item).__name__}, not an object")
            return found
        except Malformed as exc:
            self.report.errors.append(str(exc))
            self.incomplete = True
            return kind()

    def _content(self, sub: str, item: dict[str, Any]) -> str | None:
        path = self.folder / sub / f"{item.get('id')}.txt"
        try:
            return path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.report.errors.append(f"{path}: {exc}")
            self.incomplete = True
            return None

    def _unstored(
        self,
        sub: str,
        label: str,
        items: list[dict[str, Any]],
        stored: set[str],
        line: Callable[[dict[str, Any]], str],
    ) -> Iterator[tuple[dict[str, Any], str, str]]:
        """Each item (in order) whose derived id is not ``stored`` yet, with that id and its
        content. An item whose content cannot be read is reported, and it and the later
        items of its ``line`` (the chunks, one artifact's versions) wait for a later run."""
        waiting: set[str] = set()
        for item in items:
            item_id = derived_id(str(item.get("id")), self.sid, label)
            if item_id in stored:
                continue
            if line(item) in waiting:
                continue
            content = self._content(sub, item)
            if content is None:
                waiting.add(line(item))
                continue
            yield item, item_id, content

    def count(self) -> None:
        found = self.report.found
        found["sessions"] += 1
        found["chunks"] += len(self.chunks)
        found["memories"] += len(self.memories)
        found["tasks"] += len(self.tasks)
        found["artifacts"] += len(self.artifacts)

    def write(self, tx: Transaction, known_tasks: set[str]) -> None:
        new = self.report.imported
        s = self.session
        try:
            tx.sessions.get(self.sid)
        except NotFound:
            tx.sessions.create(
                s["title"],
                participants=list(s.get("participants") or []),
                summary=str(s.get("summary") or ""),
                metadata={**(s.get("metadata") or {}), "json_id": s["id"]},
                id=self.sid,
            )
            new["sessions"] += 1
        self._chunks(tx)
        self._memories(tx)
        self._artifacts(tx)
        self._tasks(tx, known_tasks)
        if self.incomplete:
            return
        status = s.get("status")
        current = tx.sessions.get(self.sid).status
        if status in ("paused", "completed", "archived") and current == "active":
            if status != "paused":
                tx.sessions.complete(self.sid, by=IMPORTER)
            else:
                tx.sessions.pause(self.sid, by=IMPORTER)
            if status == "archived":
                tx.sessions.archive(self.sid, by=IMPORTER)

    def _chunks(self, tx: Transaction) -> None:
        stored: set[str] = set()
        after = 0
        while True:
            page = tx.sessions.list_chunks(self.sid, after=after, limit=1000)
            stored.update(str(c.id) for c in page)
            if len(page) < 1000:
                break
            after = page[-1].seq
        chunks = sorted(self.chunks, key=lambda c: c.get("seq", 0))
        by_seq = self._unstored("chunks", "chunk", chunks, stored, lambda _: "")
        for chunk, cid, content in by_seq:
            tx.sessions.add_chunk(
                self.sid,
                content,
                format=chunk.get("format") or "dialogue",
                author=chunk.get("author"),
                extracted=chunk.get("extracted_items"),
                id=cid,
            )
            self.report.imported["chunks"] += 1

    def _memories(self, tx: Transaction) -> None:
        stored: set[str | None] = set()
        after = None
        while True:
            page = tx.memory.list(Filter(attrs={"session_id": self.sid}), after=after, limit=1000)
            stored.update(e.key for e in page)
            if len(page) < 1000:
                break
            after = page[-1]
        batch = [
            NewEntity(
                kind=str(m.get("type")),
                name=key,
                key=key,
                source=self.layout.memory_source(self.sid),
                summary=memory_text(m.get("content")),
                attrs={"session_id": self.sid, "content": m.get("content")},
                tags=list(m.get("tags") or []),
                at=_moment(m.get("updated")),
                session_id=self.sid,
            )
            for key, m in self.memories.items()
            if key not in stored
        ]
        if batch:
            self.report.imported["memories"] += tx.memory.upsert_many(batch).inserted

    def _artifacts(self, tx: Transaction) -> None:
        stored: set[str] = set()
        for name in {str(a.get("name")) for a in self.artifacts}:
            try:
                versions = tx.sessions.artifact_versions(self.sid, name)
            except NotFound:
                continue
            stored.update(str(a.id) for a in versions)
        infos = sorted(self.artifacts, key=lambda a: (str(a.get("name")), a.get("version", 0)))
        by_version = self._unstored(
            "artifacts", "artifact", infos, stored, lambda a: str(a.get("name"))
        )
        for info, aid, content in by_version:
            tx.sessions.save_artifact(
                self.sid,
                str(info.get("name")),
                content,
                artifact_type=info.get("type") or "document",
                format=info.get("format") or "text",
                metadata=info.get("metadata") or {},
                id=aid,
            )
            self.report.imported["artifacts"] += 1

    def _tasks(self, tx: Transaction, known: set[str]) -> None:
        live: list[NewTask] = []
        done: list[tuple[NewTask, dict[str, Any]]] = []
        for task in self.tasks:
            key = _import_key(self.sid, task.get("id"))
            if key in known:
                continue
            try:
                new = NewTask(
                    input=dict(task.get("input_data") or {}),
                    task_type=str(task.get("task_type") or ""),
                    priority=int(task.get("priority") or 0),
                    agent_name=task.get("agent_name"),
                    max_attempts=1,
                    session_id=self.sid,
                    dedup_key=key,
                )
            except (TypeError, ValueError) as exc:  # input_data a list, priority "high"...
                self.report.errors.append(f"{self.folder / 'tasks.json'}: task {key}: {exc}")
                self.incomplete = True
                continue
            if task.get("status") in FINISHED or task.get("status") == CANCELLED:
                done.append((new, task))
            else:  # pending, or claimed by a process of the JSON era: to be claimed again
                live.append(new)
        if live:
            tx.tasks.enqueue_many(self.layout.queue, live)
        if done:
            self._settled(tx, done)
        self.report.imported["tasks"] += len(live) + len(done)
        known.update(t.dedup_key for t in live if t.dedup_key)
        known.update(t.dedup_key for t, _ in done if t.dedup_key)

    def _settled(self, tx: Transaction, done: list[tuple[NewTask, dict[str, Any]]]) -> None:
        """Finished tasks, settled as they ended: enqueued to the history queue, claimed and
        completed or failed, in this transaction (no other can see them meanwhile)."""
        history = self.layout.history_queue
        ids = tx.tasks.enqueue_many(history, [t for t, _ in done])
        by_id = {i: task for i, (_, task) in zip(ids, done, strict=True)}
        for task_id, source in by_id.items():
            if source.get("status") == CANCELLED:
                tx.tasks.cancel(task_id)  # before the claims below: never claimed
        claimed: list[Task] = []
        for agent in {t.agent_name for t, _ in done}:
            while batch := tx.tasks.claim(history, limit=1000, worker=IMPORTER, agent=agent):
                claimed += batch
        outcomes = []
        for task in claimed:
            source = by_id[task.id]
            assert task.claim_token is not None
            outcomes.append(
                Outcome(
                    id=task.id,
                    token=task.claim_token,
                    action=FINISHED[source["status"]],
                    output=source.get("output_data") or {},
                    error=source.get("error") or "failed",
                    retry=False,
                )
            )
        tx.tasks.settle(outcomes)


def _each(folders: list[Path], progress: bool) -> Iterator[Path]:
    with Progress(disable=not progress, transient=False) as bar:
        job = bar.add_task("importing sessions", total=len(folders))
        for folder in folders:
            yield folder
            bar.advance(job)


def import_sessions(
    scope: TenantScope,
    directory: str | Path,
    *,
    layout: StoreLayout | None = None,
    progress: bool = False,
) -> ImportReport:
    """Import every session under ``directory`` (a JSON store's root, or its ``sessions``
    folder) into the tenant of ``scope``. Returns what was found and what was new; never
    raises for a malformed file (see ``errors``)."""
    layout = layout or StoreLayout()
    report = ImportReport()
    known_tasks = _imported_tasks(scope, layout)
    for folder in _each(session_dirs(Path(directory)), progress):
        try:
            session = _SessionImport(folder, report, layout)
        except Malformed as exc:
            report.errors.append(str(exc))
            continue
        session.count()
        before = dict(report.imported)
        pending = set(known_tasks)
        try:
            with scope.transaction() as tx:
                session.write(tx, pending)
        except Exception as exc:  # the session rolled back: report it, go on
            report.imported = before
            report.errors.append(f"{folder}: {type(exc).__name__}: {exc}")
            continue
        known_tasks = pending
    return report
