"""The JSON session importer on stores that go wrong: a run after a skipped file keeps the
store's order, a cancelled task stays cancelled, and a malformed item skips its file only."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from agentledger import Ledger
from agentledger.session_import import derived_id, import_sessions
from tests.conftest import new_tenant


def _store(root: Path, sid: str, **files: Any) -> Path:
    """A JSON store of one session ``sid``: ``files`` are its JSON files by name (``chunks``
    and ``artifacts`` items carry their ``text``, written beside them)."""
    folder = root / "sessions" / sid
    folder.mkdir(parents=True)
    (folder / "session.json").write_text(
        json.dumps({"id": sid, "title": "Imported", "status": "completed"})
    )
    for name, value in files.items():
        for sub in ("chunks", "artifacts"):
            if name == sub:
                (folder / sub).mkdir()
                for item in value:
                    (folder / sub / f"{item['id']}.txt").write_text(item.pop("text"))
        (folder / f"{name}.json").write_text(json.dumps(value))
    return folder


def test_a_run_after_the_fix_keeps_the_store_s_order(sync_ledger: Ledger, tmp_path: Path) -> None:
    sid = f"s-{uuid.uuid4().hex[:8]}"
    chunks = [{"id": f"c{n}", "seq": n, "text": f"chunk {n}"} for n in (1, 2, 3)]
    versions = [
        {"id": f"a{n}", "name": "plan.md", "type": "document", "version": n, "text": f"v{n}"}
        for n in (1, 2, 3)
    ]
    folder = _store(tmp_path, sid, chunks=chunks, artifacts=versions)
    hidden = [folder / "chunks" / "c2.txt", folder / "artifacts" / "a2.txt"]
    for path in hidden:  # unreadable on the first run
        path.rename(path.with_suffix(".later"))
    scope = sync_ledger.tenant(new_tenant(sync_ledger))

    first = import_sessions(scope, tmp_path)
    assert len(first.errors) == 2, first.errors
    assert (first.imported["chunks"], first.imported["artifacts"]) == (1, 1)  # up to the gap
    session = derived_id(sid, "session")
    assert scope.sessions.get(session).status == "active"  # it waits for the rest

    for path in hidden:
        path.with_suffix(".later").rename(path)
    second = import_sessions(scope, tmp_path)
    assert second.errors == [] and second.imported["chunks"] == 2
    listed = scope.sessions.list_chunks(session)
    texts = [scope.sessions.get_chunk(c.id).content for c in listed]
    assert [c.seq for c in listed] == [1, 2, 3] and texts == ["chunk 1", "chunk 2", "chunk 3"]
    stored = scope.sessions.artifact_versions(session, "plan.md")
    assert [(a.version, a.id) for a in stored] == [
        (n, uuid.UUID(derived_id(f"a{n}", session, "artifact"))) for n in (3, 2, 1)
    ]
    assert scope.sessions.get_artifact(session, "plan.md").content == "v3"
    assert scope.sessions.get(session).status == "completed"


def test_a_cancelled_task_stays_cancelled_and_unclaimed(
    sync_ledger: Ledger, tmp_path: Path
) -> None:
    sid = f"s-{uuid.uuid4().hex[:8]}"
    tasks = [
        {"id": "t1", "agent_name": "codex", "status": "cancelled", "input_data": {"n": 1}},
        {"id": "t2", "agent_name": "codex", "status": "pending", "input_data": {"n": 2}},
    ]
    _store(tmp_path, sid, tasks=tasks)
    scope = sync_ledger.tenant(new_tenant(sync_ledger))
    report = import_sessions(scope, tmp_path)
    assert report.errors == [] and report.imported["tasks"] == 2
    claimed = scope.tasks.claim("sessions", limit=10, agent="codex")
    assert [t.input for t in claimed] == [{"n": 2}]  # only the live one
    [history] = scope.tasks.list(queue="sessions-history")
    assert (history.status, history.input) == ("cancelled", {"n": 1})


def test_a_malformed_item_skips_its_file_and_the_rest_is_imported(
    sync_ledger: Ledger, tmp_path: Path
) -> None:
    sid = f"s-{uuid.uuid4().hex[:8]}"
    folder = _store(
        tmp_path,
        sid,
        chunks=[{"id": "c1", "seq": 1, "text": "fine"}],
        memories={"k": {"type": "fact", "content": "kept"}, "bad": "not an object"},
        tasks=[
            {"id": "t1", "status": "pending", "priority": "high"},
            {"id": "t2", "status": "pending", "input_data": [1, 2]},
            {"id": "t3", "status": "pending", "priority": 2},
        ],
    )
    scope = sync_ledger.tenant(new_tenant(sync_ledger))
    report = import_sessions(scope, tmp_path)
    assert report.errors[0].startswith(f"{folder / 'memories.json'}: item 1 is a str")
    assert [e.split(":")[0] for e in report.errors[1:]] == [str(folder / "tasks.json")] * 2
    assert (report.imported["sessions"], report.imported["chunks"]) == (1, 1)
    assert (report.imported["memories"], report.imported["tasks"]) == (0, 1)
    session = scope.sessions.get(derived_id(sid, "session"))
    assert session.status == "active" and session.chunk_count == 1
    bad_session = _store(tmp_path / "other", "s-list-metadata")
    data = json.loads((bad_session / "session.json").read_text())
    (bad_session / "session.json").write_text(json.dumps({**data, "metadata": [1]}))
    [problem] = import_sessions(scope, tmp_path / "other").errors
    assert problem == f"{bad_session / 'session.json'}: metadata is not a JSON dict"
