"""The seed's test suite: one tick per check, non-zero on failure.

    STORAGE_BACKEND=postgres python examples/collab_sessions/scripts/test_postgres_backend.py
    STORAGE_BACKEND=json python examples/collab_sessions/scripts/test_postgres_backend.py

``postgres`` (the default here) uses DATABASE_URL, else the embedded PostgreSQL, in a
scratch tenant archived at the end; ``json`` uses a scratch directory. On ``json`` the one
check about PostgreSQL itself (connection, migrations, pool size) is skipped; the importer
check writes the JSON store and imports it into PostgreSQL on either backend.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import traceback
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from agentledger import Ledger, Settings
from examples.collab_sessions.interface import MEMORY_TYPES, SessionBackend
from examples.collab_sessions.json_backend import JsonBackend
from examples.collab_sessions.manager import get_session_manager
from examples.collab_sessions.migrate_json import import_sessions

WORDS = [
    "agent",
    "plan",
    "build",
    "review",
    "ship",
    "data",
    "model",
    "test",
    "queue",
    "merge",
    "note",
    "draft",
]
PHRASE = "quantum walrus negotiates the marmalade treaty"


def big_text(size: int) -> str:
    rng = random.Random(7)
    parts: list[str] = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(12)) + ".\n"
        parts.append(line)
        total += len(line)
    parts.insert(len(parts) // 2, f"Then the {PHRASE}, and everyone agreed.\n")
    return "".join(parts)


def checks(store: SessionBackend, scratch: Path, ledger: Ledger | None) -> list[tuple[str, Any]]:
    """The checks, in order: (name, callable or None when skipped on this backend)."""
    state: dict[str, Any] = {}
    agents = ["claude_code", "codex", "gemini_cli", "researcher"]

    def connect() -> None:
        assert ledger is not None
        health = ledger.health()
        assert health.database and health.migrations_current, health
        assert ledger.pool_stats()["pool_max"] == 10, ledger.pool_stats()

    def sessions() -> None:
        made = store.create_session("Plan the launch", ["ana", "claude_code"])
        state["sid"] = sid = made["id"]
        loaded = store.load_session(sid)
        assert loaded is not None and loaded["title"] == "Plan the launch"
        assert loaded["participants"] == ["ana", "claude_code"] and loaded["status"] == "active"
        assert sid in [s["id"] for s in store.list_sessions()]
        assert store.load_session(str(uuid.uuid4())) is None
        saved = store.save_session({**loaded, "title": "Plan the big launch", "summary": "v1"})
        assert (saved["title"], saved["summary"]) == ("Plan the big launch", "v1")
        again = store.load_session(sid)
        assert again is not None and again["title"] == "Plan the big launch"

    def chunk() -> None:
        text = big_text(5 * 1024 * 1024)
        info = store.add_conversation_chunk(state["sid"], text, format="transcript")
        back = store.get_conversation_chunk(info["id"])
        assert back["content"].encode() == text.encode(), "the chunk came back changed"
        hits = store.search_conversations(f'"{PHRASE}"', session_id=state["sid"])
        assert hits and hits[0]["chunk_id"] == info["id"] and hits[0]["rank"] > 0, hits
        assert "<mark>" in hits[0]["snippet"] and "walrus" in hits[0]["snippet"].lower()

    def memories() -> None:
        sid = state["sid"]
        for i, kind in enumerate(MEMORY_TYPES):
            content = {"text": f"{kind} number {i} about the zebra launch", "n": i}
            store.store_memory(sid, kind, f"{kind}-key", content, tags=["launch", kind])
        for kind in MEMORY_TYPES:
            got = store.get_memory(sid, f"{kind}-key")
            assert got is not None and got["type"] == kind, got
            (typed,) = store.query_memories(sid, memory_type=kind)
            assert typed["key"] == f"{kind}-key"
            (tagged,) = store.query_memories(sid, tags=["launch", kind])
            assert tagged["key"] == f"{kind}-key"
        assert len(store.query_memories(sid, tags=["launch"])) == len(MEMORY_TYPES)
        found = store.query_memories(sid, text="zebra launch")
        assert len(found) == len(MEMORY_TYPES), found
        store.store_memory(sid, "decision", "decision-key", {"text": "ship on friday"})
        again = store.get_memory(sid, "decision-key")
        assert again is not None and again["content"] == {"text": "ship on friday"}
        assert again["update_count"] == 1
        assert len(store.query_memories(sid)) == len(MEMORY_TYPES)
        (hit,) = store.query_memories(sid, text="friday")
        assert hit["key"] == "decision-key"

    def tasks() -> None:
        sid = state["sid"]
        low = store.create_task(sid, "codex", "code", {"do": "low"}, priority=1)
        high = store.create_task(sid, "codex", "code", {"do": "high"}, priority=9)
        other = store.create_task(sid, "researcher", "research", {"do": "read"}, priority=50)
        assert {low["status"], high["status"], other["status"]} == {"pending"}
        first = store.claim_task("codex", "control")
        assert first is not None and first["id"] == high["id"], first
        assert (first["status"], first["claimed_by"]) == ("claimed", "control")
        second = store.claim_task("codex", "control")
        assert second is not None and second["id"] == low["id"]
        assert store.claim_task("codex", "control") is None
        done = store.complete_task(first["id"], {"result": "ok"})
        failed = store.fail_task(second["id"], "compile error")
        assert (done["status"], done["output_data"]) == ("completed", {"result": "ok"})
        assert (failed["status"], failed["error"]) == ("failed", "compile error")
        assert store.get_task(first["id"])["status"] == "completed"
        assert [t["id"] for t in store.list_tasks(sid, status="pending")] == [other["id"]]

    def claims() -> None:
        sid = store.create_session("Claim race")["id"]
        made = {
            store.create_task(sid, "gemini_cli", "analysis", {"i": i})["id"] for i in range(100)
        }
        got: list[str] = []
        lock = threading.Lock()

        def claimer(n: int) -> None:
            while (task := store.claim_task("gemini_cli", f"control-{n}")) is not None:
                with lock:
                    got.append(task["id"])

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(claimer, range(8)))
        assert len(got) == 100 and set(got) == made, (len(got), len(set(got)))
        state["claims"] = sid

    def artifacts() -> None:
        sid = state["sid"]
        body = "# Launch PRD\n\nThe flamingo rollout starts in Lisbon.\n" + "detail " * 5000
        first = store.store_artifact(sid, "prd.md", body, artifact_type="prd")
        second = store.store_artifact(sid, "prd.md", body + "\nRevised.", artifact_type="prd")
        assert (first["version"], second["version"]) == (1, 2)
        back = store.get_artifact(sid, "prd.md")
        assert back is not None and back["content"] == body + "\nRevised."
        old = store.get_artifact(sid, "prd.md", version=1)
        assert old is not None and old["content"] == body
        hits = store.search_artifacts("flamingo Lisbon", session_id=sid)
        assert [(h["name"], h["version"]) for h in hits] == [("prd.md", 2)], hits
        assert "<mark>" in hits[0]["snippet"]

    def counters() -> None:
        sid = state["sid"]
        before = store.load_session(sid)
        assert before is not None
        counts = (
            before["chunk_count"],
            before["memory_count"],
            before["task_count"],
            before["artifact_count"],
        )
        assert counts == (1, len(MEMORY_TYPES), 3, 1), counts
        store.add_conversation_chunk(sid, "A short follow-up.", format="dialogue")
        after = store.load_session(sid)
        assert after is not None and after["chunk_count"] == 2
        assert after["last_activity"] > before["last_activity"]
        store.store_memory(sid, "risk", "new-risk", "late vendor")
        latest = store.load_session(sid)
        assert latest is not None and latest["memory_count"] == len(MEMORY_TYPES) + 1
        assert latest["last_activity"] > after["last_activity"]
        summary = store.get_session_summary(sid)
        assert summary["session"]["chunk_count"] == 2
        assert [a["name"] for a in summary["artifacts"]] == ["prd.md"]

    def views() -> None:
        done = store.create_session("Finished work")
        store.save_session({**done, "status": "completed"})
        active = [s["id"] for s in store.list_active_sessions()]
        assert state["sid"] in active and done["id"] not in active
        assert store.load_session(done["id"])["status"] == "completed"  # type: ignore[index]
        view = store.task_counts(state["sid"])
        assert (view["pending"], view["completed"], view["failed"]) == (1, 1, 1), view
        assert store.task_counts(state["claims"])["claimed"] == 100
        everything = store.task_counts()
        assert everything["claimed"] == 100 and everything["pending"] == 1, everything

    def listed_agents() -> None:
        found = store.list_agents(status="available")
        assert [a["name"] for a in found] == agents, found

    def workers() -> None:
        sid = store.create_session("Busy session")["id"]
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                store.add_conversation_chunk(sid, f"worker {n} says hello")
                store.store_memory(sid, "fact", f"fact-{n}", {"worker": n}, tags=["busy"])
                task = store.create_task(sid, agents[n % 4], "analysis", {"n": n})
                store.get_memory(sid, f"fact-{n}")
                store.list_tasks(sid)
                assert task["status"] == "pending"
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "a worker did not finish"
        assert not errors, errors
        loaded = store.load_session(sid)
        assert loaded is not None
        assert (loaded["chunk_count"], loaded["memory_count"], loaded["task_count"]) == (20, 20, 20)

    def importer() -> None:
        source = JsonBackend(scratch / "to-import")
        if isinstance(store, JsonBackend):  # this run's own sessions
            source = store
        else:
            sid = source.create_session("Imported", ["ana"])["id"]
            source.add_conversation_chunk(sid, big_text(100_000))
            for kind in MEMORY_TYPES:
                source.store_memory(sid, kind, kind, {"text": kind}, tags=[kind])
            source.create_task(sid, "codex", "code", {"a": 1}, priority=3)
            done = source.claim_task("codex", "control")
            assert done is not None
            source.complete_task(done["id"], {"ok": True})
            source.create_task(sid, "codex", "code", {"a": 2})
            source.store_artifact(sid, "notes.md", "imported notes")
            source.store_artifact(sid, "notes.md", "imported notes, second version")
        tenant = f"collab-import-{uuid.uuid4().hex[:8]}"
        with Ledger(Settings.from_env(pool_max_size=10)) as target:
            first = import_sessions(target, source.root, tenant=tenant)
            second = import_sessions(target, source.root, tenant=tenant)
            target.tenants.archive(tenant)
        assert not first.errors and not second.errors, first.errors + second.errors
        assert first.imported == first.found, (first.found, first.imported)
        assert second.found == first.found and set(second.imported.values()) == {0}

    return [
        ("Connect to PostgreSQL (migrations current, pool of 10)", connect if ledger else None),
        ("Session create, load and list", sessions),
        ("A 5 MB chunk round-trips and a phrase in it is found", chunk),
        ("Memories of each type by key, type, tag and text; a key updates", memories),
        ("Tasks: pending, claimed by priority, completed and failed", tasks),
        ("8 threads claiming 100 tasks get 100 distinct tasks", claims),
        ("Artifacts round-trip, version and are found by search", artifacts),
        ("Counters and last_activity keep themselves", counters),
        ("Active sessions exclude completed; the task view counts", views),
        ("The four sample agents are available", listed_agents),
        ("20 concurrent workers all finish", workers),
        ("The JSON importer's counts match, and a second run adds nothing", importer),
    ]


def main() -> int:
    backend = os.environ.get("STORAGE_BACKEND", "postgres").strip().lower()
    ok = True
    with tempfile.TemporaryDirectory(prefix="collab-check-") as tmp:
        scratch = Path(tmp)
        tenant = f"collab-check-{uuid.uuid4().hex[:10]}"
        env = {**os.environ, "SESSIONS_DIR": str(scratch / "store"), "COLLAB_TENANT": tenant}
        store = get_session_manager(backend, env=env)
        ledger = getattr(store, "ledger", None)
        try:
            for i, (name, check) in enumerate(checks(store, scratch, ledger), 1):
                if check is None:
                    print(f"{i}. {name} - skipped on the {backend} backend")
                    continue
                try:
                    check()
                except Exception as exc:
                    ok = False
                    print(f"{i}. {name} ✗ {type(exc).__name__}: {exc}"[:500])
                    traceback.print_exc(file=sys.stderr)
                else:
                    print(f"{i}. {name} ✓")
        finally:
            if ledger is not None:
                ledger.tenants.archive(tenant)
            store.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
