"""Seed 001 end to end: the check script on both backends, the importer's idempotency and
its handling of malformed files, and the lifecycle both backends share."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentledger import Ledger, NotFound
from agentledger.session_import import derived_id
from agentledger.sessions import SESSION_LIFECYCLE
from examples.collab_sessions import JsonBackend, StorageError, get_session_manager
from examples.collab_sessions.interface import SESSION_MOVES, SessionBackend
from examples.collab_sessions.migrate_json import import_sessions, main as migrate_main
from examples.collab_sessions.postgres_backend import PostgresBackend
from tests.conftest import ROOT

SCRIPT = ROOT / "examples" / "collab_sessions" / "scripts" / "test_postgres_backend.py"


@pytest.mark.parametrize("backend", ["postgres", "json"])
def test_the_script_passes_every_check(backend: str, database_url: str, tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": database_url,
        "AGENTLEDGER_DATA_DIR": str(tmp_path),
        "STORAGE_BACKEND": backend,
        "PATH": "",
    }
    result = subprocess.run(
        [sys.executable, str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    ticks = [line for line in lines if line.endswith("✓")]
    skipped = [line for line in lines if "skipped" in line]
    assert len(lines) == 12, result.stdout
    # Only the check about PostgreSQL itself is skipped, and only on the JSON backend.
    assert len(skipped) == (1 if backend == "json" else 0) and len(ticks) + len(skipped) == 12
    assert all("PostgreSQL" in line for line in skipped)


def _store(root: Path) -> tuple[JsonBackend, list[str]]:
    store = JsonBackend(root)
    sids = []
    for n in range(3):
        sid = store.create_session(f"Session {n}", ["ana"])["id"]
        store.add_conversation_chunk(sid, f"conversation {n} about the heron project")
        store.store_memory(sid, "idea", f"idea-{n}", {"text": f"idea {n}"}, tags=["x"])
        store.store_memory(sid, "risk", f"risk-{n}", "a risk")
        store.create_task(sid, "codex", "code", {"n": n}, priority=n)
        store.store_artifact(sid, "doc.md", f"document {n}")
        sids.append(sid)
    task = store.claim_task("codex", "control")
    assert task is not None
    store.fail_task(task["id"], "boom")
    store.save_session({**store.load_session(sids[0]), "status": "completed"})  # type: ignore[dict-item]
    return store, sids


def test_import_is_idempotent_and_skips_a_malformed_file(
    sync_ledger: Ledger, tmp_path: Path
) -> None:
    store, sids = _store(tmp_path / "store")
    broken_memories = tmp_path / "store" / "sessions" / sids[1] / "memories.json"
    good_memories = broken_memories.read_text()
    broken_memories.write_text("{not json")
    broken_session = tmp_path / "store" / "sessions" / sids[2] / "session.json"
    good_session = broken_session.read_text()
    broken_session.write_text('["a list, not a session"]')
    tenant = f"imp-{uuid.uuid4().hex[:8]}"

    first = import_sessions(sync_ledger, store.root, tenant=tenant)
    assert sorted(e.split(":")[0] for e in first.errors) == sorted(
        [str(broken_memories), str(broken_session)]
    )
    assert first.found == {"sessions": 2, "chunks": 2, "memories": 2, "tasks": 2, "artifacts": 2}
    assert first.imported == first.found

    broken_memories.write_text(good_memories)
    broken_session.write_text(good_session)
    second = import_sessions(sync_ledger, store.root, tenant=tenant)
    assert second.errors == []
    assert second.imported == {
        "sessions": 1,
        "chunks": 1,
        "memories": 4,
        "tasks": 1,
        "artifacts": 1,
    }
    third = import_sessions(sync_ledger, store.root, tenant=tenant)
    assert set(third.imported.values()) == {0}

    with PostgresBackend(sync_ledger, tenant=tenant) as pg:
        done = pg.load_session(derived_id(sids[0], "session"))
        assert done is not None and done["status"] == "completed"
        assert done["memory_count"] == 2 and done["task_count"] == 1
        assert pg.task_counts() == {
            "pending": 2,
            "claimed": 0,
            "completed": 0,
            "failed": 1,
            "cancelled": 0,
        }
        hits = pg.search_conversations("heron project")
        assert len(hits) == 3
        # The imported pending tasks are claimable, highest priority first.
        claimed = pg.claim_task("codex", "control")
        assert claimed is not None and claimed["input_data"] == {"n": 1}


def test_an_unreadable_file_or_a_refused_item_is_reported_and_the_rest_imported(
    sync_ledger: Ledger, tmp_path: Path
) -> None:
    store, sids = _store(tmp_path / "store")
    folders = [tmp_path / "store" / "sessions" / sid for sid in sids]
    # Session 0 (completed): its chunk's content is not UTF-8 (that chunk is skipped, the
    # rest imported).
    [chunk] = json.loads((folders[0] / "chunks.json").read_text())
    text = folders[0] / "chunks" / f"{chunk['id']}.txt"
    good_text = text.read_bytes()
    text.write_bytes(b"caf\xe9 in latin-1")
    # Session 1: a memory the database refuses (a tag that is not a string): the whole
    # session rolls back.
    memories = folders[1] / "memories.json"
    good_memories = memories.read_text()
    refused = json.loads(good_memories)
    refused["risk-1"]["tags"] = [{"not": "a tag"}]
    memories.write_text(json.dumps(refused))
    # Session 2: archived in the JSON store.
    session = json.loads((folders[2] / "session.json").read_text())
    (folders[2] / "session.json").write_text(json.dumps({**session, "status": "archived"}))
    tenant = f"imp-{uuid.uuid4().hex[:8]}"
    scope = sync_ledger.tenant(tenant)

    first = import_sessions(sync_ledger, store.root, tenant=tenant)
    assert len(first.errors) == 2, first.errors
    unreadable, rolled_back = sorted(first.errors, key=lambda e: e.startswith(str(folders[1])))
    assert unreadable.startswith(f"{text}:") and "utf-8" in unreadable
    assert rolled_back.startswith(f"{folders[1]}: InvalidInput") and "tags" in rolled_back
    assert first.imported["sessions"] == 2 and first.imported["chunks"] == 1
    with pytest.raises(NotFound):
        scope.sessions.get(derived_id(sids[1], "session"))
    assert scope.sessions.get(derived_id(sids[2], "session")).status == "archived"
    # Completed in the store, but left active while its chunk waits: a finished session
    # takes no more chunks, and the next run must be able to add it.
    partial = scope.sessions.get(derived_id(sids[0], "session"))
    assert (partial.status, partial.chunk_count) == ("active", 0)

    text.write_bytes(good_text)
    memories.write_text(good_memories)
    second = import_sessions(sync_ledger, store.root, tenant=tenant)
    assert second.errors == []
    assert (second.imported["sessions"], second.imported["chunks"]) == (1, 2)
    assert second.imported["memories"] == 2
    whole = scope.sessions.get(derived_id(sids[0], "session"))
    assert (whole.status, whole.chunk_count) == ("completed", 1)


def test_an_importer_killed_mid_session_leaves_whole_sessions(
    sync_ledger: Ledger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = _store(tmp_path / "store")
    tenant = f"kill-{uuid.uuid4().hex[:8]}"
    calls = {"n": 0}

    from agentledger import session_import

    original = session_import._SessionImport._artifacts

    def dying(self: session_import._SessionImport, tx: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the process is stopped in the second session
        original(self, tx)  # type: ignore[arg-type]

    monkeypatch.setattr(session_import._SessionImport, "_artifacts", dying)
    with pytest.raises(KeyboardInterrupt):
        import_sessions(sync_ledger, store.root, tenant=tenant)
    scope = sync_ledger.tenant(tenant)
    assert len(scope.sessions.list()) == 1  # the second session rolled back whole
    monkeypatch.setattr(session_import._SessionImport, "_artifacts", original)
    resumed = import_sessions(sync_ledger, store.root, tenant=tenant)
    assert resumed.imported["sessions"] == 2 and resumed.imported["chunks"] == 2
    assert len(scope.sessions.list()) == 3


def test_both_backends_share_the_library_lifecycle() -> None:
    assert SESSION_LIFECYCLE.table == SESSION_MOVES


def test_the_manager_picks_the_backend(tmp_path: Path) -> None:
    store = get_session_manager(env={"STORAGE_BACKEND": "json", "SESSIONS_DIR": str(tmp_path)})
    assert isinstance(store, JsonBackend) and store.root == tmp_path
    assert [a["status"] for a in store.list_agents()] == ["available"] * 4
    with pytest.raises(StorageError, match="'sqlite'"):
        get_session_manager(env={"STORAGE_BACKEND": "sqlite"})


@pytest.fixture
def backends(sync_ledger: Ledger, tmp_path: Path) -> list[SessionBackend]:
    """Both backends, each empty: a fresh JSON store and a fresh tenant."""
    return [JsonBackend(tmp_path / "json"), PostgresBackend(sync_ledger, tenant=_tenant("par"))]


def _tenant(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _titles(sessions: list[dict[str, Any]]) -> list[str]:
    return [s["title"] for s in sessions]


def test_a_limited_listing_is_the_head_of_the_whole_one(backends: list[SessionBackend]) -> None:
    for store in backends:
        a = store.create_session("A")["id"]
        store.store_memory(a, "idea", "k", "first")
        store.create_session("B")
        store.store_memory(a, "idea", "k", "second")  # an update: A is the latest activity
        assert _titles(store.list_sessions()) == ["A", "B"], store.backend
        assert _titles(store.list_sessions(limit=1)) == ["A"], store.backend
        assert _titles(store.list_active_sessions(limit=1)) == ["A"], store.backend
        # A task claimed and completed is activity in its session too.
        c = store.create_session("C")["id"]
        store.create_task(c, "codex", "code")
        store.create_session("D")
        task = store.claim_task("codex", "control")
        assert task is not None
        store.complete_task(task["id"], {"ok": True})
        assert _titles(store.list_sessions(limit=1)) == ["C"], store.backend
        assert _titles(store.list_sessions()) == ["C", "D", "A", "B"], store.backend


def _outcome(call: Callable[[], object]) -> object:
    """What a call answered ("a dict" for a record), or StorageError when it raised that
    (any other exception propagates and fails the test)."""
    try:
        found = call()
    except StorageError:
        return StorageError
    return "a dict" if isinstance(found, dict) and "pending" not in found else found


def _answers(store: SessionBackend, sid: Any) -> dict[str, object]:
    """Every call naming session (or chunk, task) ``sid``, with what it answered."""
    calls: dict[str, Callable[[], object]] = {
        "load_session": lambda: store.load_session(sid),
        "save_session": lambda: store.save_session({"id": sid, "title": "t"}),
        "summary": lambda: store.get_session_summary(sid),
        "delete_session": lambda: store.delete_session(sid),
        "add_chunk": lambda: store.add_conversation_chunk(sid, "x"),
        "get_chunk": lambda: store.get_conversation_chunk(sid),
        "search": lambda: store.search_conversations("x", session_id=sid),
        "store_memory": lambda: store.store_memory(sid, "idea", "k", "v"),
        "get_memory": lambda: store.get_memory(sid, "k"),
        "query_memories": lambda: store.query_memories(sid, text="x"),
        "create_task": lambda: store.create_task(sid, None, "code"),
        "get_task": lambda: store.get_task(sid),
        "complete_task": lambda: store.complete_task(sid),
        "list_tasks": lambda: store.list_tasks(sid),
        "task_counts": lambda: store.task_counts(sid),
        "store_artifact": lambda: store.store_artifact(sid, "n", "c"),
        "get_artifact": lambda: store.get_artifact(sid, "n"),
        "search_artifacts": lambda: store.search_artifacts("x", session_id=sid),
    }
    return {name: _outcome(call) for name, call in calls.items()}


def test_an_id_that_names_nothing_is_answered_as_on_json(
    backends: list[SessionBackend],
) -> None:
    json_store, pg = backends
    nothing: dict[str, object] = {"load_session": None, "delete_session": False}
    nothing |= {"get_memory": None, "list_tasks": [], "get_artifact": None, "search": []}
    ids: list[Any] = [str(uuid.uuid4()), "my-session", "../escape", ".hidden", "", 42]
    for sid in ids:
        answers = _answers(json_store, sid)
        assert _answers(pg, sid) == answers, sid
        if sid in ids[:2]:  # ids the JSON store could hold: nothing there
            assert answers.items() >= nothing.items(), (sid, answers)
        else:  # ids it refuses, everywhere
            assert set(answers.values()) == {StorageError}, (sid, answers)
    # Names that could not have been stored name nothing either.
    for store in backends:
        sid = store.create_session("S")["id"]
        assert store.get_memory(sid, "") is None and store.get_memory(sid, "k" * 3000) is None
        assert store.get_artifact(sid, "") is None
        assert store.get_artifact(sid, "n", version=0) is None


def test_a_migrated_store_keeps_its_ids(sync_ledger: Ledger, tmp_path: Path) -> None:
    source = JsonBackend(tmp_path / "store")
    sid = source.create_session("Mine", ["ana"], session_id="my-session")["id"]
    source.add_conversation_chunk(sid, "the heron chunk", chunk_id="chunk-1")
    source.store_memory(sid, "fact", "k", "a fact")
    source.create_task(sid, "codex", "code")
    source.store_artifact(sid, "doc", "the document")
    tenant = _tenant("ids")
    assert import_sessions(sync_ledger, source.root, tenant=tenant).errors == []
    with PostgresBackend(sync_ledger, tenant=tenant) as pg:
        loaded = pg.load_session("my-session")
        assert loaded is not None and loaded["id"] == derived_id("my-session", "session")
        memory = pg.get_memory("my-session", "k")
        assert memory is not None and memory["content"] == "a fact"
        assert [t["agent_name"] for t in pg.list_tasks("my-session")] == ["codex"]
        artifact = pg.get_artifact("my-session", "doc")
        assert artifact is not None and artifact["content"] == "the document"
        # The same chunk id again is the imported chunk (as on JSON), not a second one.
        again = pg.add_conversation_chunk("my-session", "the heron chunk", chunk_id="chunk-1")
        assert again["id"] == derived_id("chunk-1", loaded["id"], "chunk")
        # Creating the id again (another title) returns the stored session, as on JSON.
        for store in (source, pg):
            made = store.create_session("Another title", session_id="my-session")
            assert (made["title"], made["chunk_count"]) == ("Mine", 1), store.backend
        new = pg.create_session("New", session_id="new-one")
        assert new["id"] == derived_id("new-one", "session")
        assert pg.load_session("new-one") == pg.load_session(new["id"]) == new


def test_the_json_store_keeps_every_file_inside(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = JsonBackend(root)
    sid = store.create_session("S")["id"]
    # From sessions/<id>/chunks/, four levels up is tmp_path; an absolute path replaces it.
    for bad in ("../../../../escaped", str(tmp_path / "escaped"), ".hidden", "a/b", "."):
        with pytest.raises(StorageError, match="chunk_id"):
            store.add_conversation_chunk(sid, "outside?", chunk_id=bad)
    assert [p.name for p in tmp_path.iterdir()] == ["store"]
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == [".lock", "agents.json", f"sessions/{sid}/session.json"]
    # A chunks.json edited to point outside is refused, not followed.
    (tmp_path / "secret.txt").write_text("not the store's")
    chunks = tmp_path / "store" / "sessions" / sid / "chunks.json"
    (chunks.parent / "chunks").mkdir()  # so that the path resolves
    chunks.write_text(json.dumps([{"id": "../../../../secret", "session_id": sid, "seq": 1}]))
    with pytest.raises(StorageError):
        store.get_conversation_chunk("../../../../secret")
    with pytest.raises(StorageError):
        store.search_conversations("store")


def test_both_backends_read_back_alike(backends: list[SessionBackend]) -> None:
    seen = []
    for store in backends:
        sid = store.create_session("S", ["zoe", "ana", "zoe"])["id"]
        chunk = store.add_conversation_chunk(sid, "no items")
        read = store.get_conversation_chunk(chunk["id"])
        loaded = store.load_session(sid)
        assert loaded is not None
        seen.append((read["extracted_items"], loaded["participants"], store.list_agents()))
    assert seen[0] == seen[1]
    assert seen[0][:2] == ({}, ["ana", "zoe"])


def test_migrating_a_missing_directory_is_one_line(
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)  # were it to connect: the test's server
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    (tmp_path / "a-file").write_text("")
    for path in (tmp_path / "missing", tmp_path / "a-file"):
        assert migrate_main([str(path)]) == 2
        out, err = capsys.readouterr()
        assert (out, err) == ("", f"{path} is not a directory\n")
