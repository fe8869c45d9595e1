"""The memory's background work through the task queue: the re-index after a language
change and re-embedding into a space, by workers and by the caller, resumable, once."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest

from agentledger import HashingEmbedder, Ledger, NewEntity
from agentledger.config import Settings
from agentledger.memory import jobs_sync, rebuild
from agentledger.memory.facade_sync import Memory
from agentledger.memory.records import LanguageStatus
from tests.procs import spawn_cli, stop_when


@pytest.fixture
def tid(sync_ledger: Ledger) -> str:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    return tenant


@pytest.fixture
def needs_vector(sync_ledger: Ledger) -> None:
    if "vector" not in sync_ledger.db.extensions:
        pytest.skip("pgvector is not installed on this server")


def facts(memory: Memory, n: int) -> list[uuid.UUID]:
    result = memory.upsert_many(
        NewEntity(kind="fact", name=f"Das Haus Nummer {i}", summary="mit Gärten") for i in range(n)
    )
    return list(result.ids)


def test_a_language_change_returns_at_once_and_a_worker_reindexes(
    sync_ledger: Ledger, tid: str
) -> None:
    scope = sync_ledger.tenant(tid)
    memory = scope.memory
    facts(memory, 7)
    assert memory.set_language("german", batch_size=3) == "german"
    assert memory.language_status() == LanguageStatus(language="german", pending=7, batches=3)
    [depth] = scope.tasks.depth(rebuild.REINDEX_QUEUE)
    assert depth.ready == 3
    # New writes are indexed in German at once; the stored ones wait for their batch.
    fresh = memory.upsert("fact", "Die Gärten am See")
    assert memory.language_status().pending == 7
    worker = scope.tasks.worker(
        rebuild.REINDEX_QUEUE, jobs_sync.reindex_handler, concurrency=2, transactional=True
    )
    assert worker.run(until_empty=True).completed == 3
    assert memory.language_status() == LanguageStatus(language="german", pending=0, batches=0)
    outputs = [t.output for t in scope.tasks.list(queue=rebuild.REINDEX_QUEUE)]
    assert sum(o["reindexed"] for o in outputs if o) == 7
    assert fresh.id in {h.entity.id for h in memory.search_text("Gärten", limit=20)}
    assert len(memory.search_text("Gärten", limit=20)) == 8  # every one, stemmed in German
    # A batch run twice (here: the whole range again) changes nothing the second time.
    again = scope.tasks.enqueue(rebuild.REINDEX_QUEUE, {"lo": None, "hi": None})
    worker.run(until_empty=True)
    assert scope.tasks.get(again.id).output == {"reindexed": 0, "skipped": 0, "segments": 0}


def test_a_batch_skips_rows_others_hold_and_comes_back_for_them(
    sync_ledger: Ledger, tid: str
) -> None:
    scope = sync_ledger.tenant(tid)
    memory = scope.memory
    ids = facts(memory, 4)
    memory.set_language("german", batch_size=10)
    with scope.transaction() as tx:  # another transaction holds one entity
        tx.fetch(
            "SELECT id FROM agentledger.memory_entities WHERE id = %(id)s FOR UPDATE",
            {"id": ids[2]},
        )
        [task] = scope.tasks.claim(rebuild.REINDEX_QUEUE)
        with scope.tasks.completing(task) as held:
            assert held.memory.reindex_batch(task.input) == {
                "reindexed": 3,
                "skipped": 1,
                "segments": 0,
            }
    status = memory.language_status()
    assert (status.pending, status.batches) == (1, 1)  # the batch comes back for it
    assert memory.reindex() == 1  # waits for that batch's turn, then does it here
    assert memory.language_status() == LanguageStatus(language="german", pending=0, batches=0)


def test_set_language_can_wait_and_reindex_resumes_an_interrupted_run(
    ledger: Ledger, tenant_id: str
) -> None:
    memory = ledger.tenant(tenant_id).memory
    facts(memory, 5)
    assert memory.set_language("german", batch_size=2, wait=True) == "german"
    assert memory.language_status() == LanguageStatus(language="german", pending=0, batches=0)
    # Batches left by a process that stopped are picked up by the next reindex().
    memory.set_language("spanish", batch_size=2)
    assert memory.language_status().batches == 3
    assert memory.reindex(batch_size=100) == 5  # the waiting batches, not new ones
    assert memory.language_status() == LanguageStatus(language="spanish", pending=0, batches=0)


class Counting:
    """An embedder that counts the texts it embedded and sees which space is the default
    at each call, through a handle of its own."""

    def __init__(self, memory: Memory, dimensions: int) -> None:
        self.inner = HashingEmbedder(dimensions=dimensions)
        self.memory = memory
        self.texts: Counter[str] = Counter()
        self.defaults: set[str] = set()
        self.lock = threading.Lock()

    def embed(self, texts: Any) -> Any:
        defaults = {s.name for s in self.memory.spaces() if s.default}
        with self.lock:
            self.texts.update(texts)
            self.defaults |= defaults
        return self.inner.embed(texts)


@pytest.mark.usefixtures("needs_vector")
def test_two_workers_reembed_each_entity_once_and_flip_at_the_end(
    sync_ledger: Ledger, tid: str
) -> None:
    scope = sync_ledger.tenant(tid)
    memory = scope.memory
    facts(memory, 40)
    memory.declare_space("h48", dimensions=48)
    status = memory.reembed("h48", batch_size=4, make_default=True)  # enqueues, returns
    # Ten batches of 4, the open range after the last id, and the flip.
    assert (status.missing, status.batches, status.default, status.stored) == (40, 12, False, 0)
    embedder = Counting(memory, 48)
    queue = rebuild.reembed_queue("h48")
    workers = [
        scope.tasks.worker(
            queue, memory.reembed_handler(embedder), concurrency=2, transactional=True
        )
        for _ in range(2)
    ]
    threads = [threading.Thread(target=w.run, kwargs={"until_empty": True}) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    while memory.reembed_status("h48").batches:  # a flip that came back: let it finish
        workers[0].run(until_empty=True)
        time.sleep(0.1)
    assert sum(w.stats.completed for w in workers) >= 12
    assert len(embedder.texts) == 40 and set(embedder.texts.values()) == {1}  # once each
    assert embedder.defaults == {"default"}  # searches kept the old space while embedding
    done = memory.reembed_status("h48")
    assert (done.missing, done.batches, done.default) == (0, 0, True)
    assert [s.name for s in memory.spaces() if s.default] == ["h48"]


@pytest.mark.usefixtures("needs_vector")
def test_an_abandoned_batch_is_taken_again_and_a_second_call_resumes(
    sync_ledger: Ledger, tid: str
) -> None:
    scope = sync_ledger.tenant(tid)
    memory = scope.memory
    facts(memory, 9)
    memory.declare_space("h40", dimensions=40)
    memory.reembed("h40", batch_size=3)
    queue = rebuild.reembed_queue("h40")
    [abandoned] = scope.tasks.claim(queue, lease=0.2)  # a worker that died holding it
    time.sleep(0.4)  # its lease runs out
    embedder = Counting(memory, 40)
    seen: list[int] = []
    done = memory.reembed("h40", embedder, batch_size=3, progress=seen.append)
    assert (done.stored, done.missing, done.batches, done.default) == (9, 0, 0, False)
    assert seen[-1] == 9 and seen == sorted(seen)
    assert set(embedder.texts.values()) == {1} and len(embedder.texts) == 9
    retried = scope.tasks.get(abandoned.id)
    assert (retried.status, retried.attempts) == ("completed", 2)
    # Entities written after the batches were made are found by a later call.
    late = memory.upsert("fact", "late fact")
    again = memory.reembed("h40", embedder, make_default=True)
    assert (again.stored, again.missing, again.default) == (1, 0, True)
    assert memory.embedding(late.id, space="h40") is not None


@pytest.mark.usefixtures("needs_vector")
def test_the_flip_waits_for_entities_written_during_the_switch(
    sync_ledger: Ledger, tid: str
) -> None:
    scope = sync_ledger.tenant(tid)
    memory = scope.memory
    facts(memory, 3)
    memory.declare_space("h24", dimensions=24)
    memory.reembed("h24", batch_size=10, make_default=True)
    queue = rebuild.reembed_queue("h24")
    handler = memory.reembed_handler(HashingEmbedder(dimensions=24))
    [batch] = scope.tasks.claim(queue)  # the batch first (the flip ranks after it)
    assert batch.task_type == "batch"
    with scope.tasks.completing(batch) as tx:
        assert handler(batch, tx) == {"stored": 3}
    memory.upsert("fact", "written during the switch")  # no vector in h24
    [flip] = scope.tasks.claim(queue)
    with scope.tasks.completing(flip) as tx:
        assert handler(flip, tx) == {"flipped": False, "missing": 1}
    assert not next(s for s in memory.spaces() if s.name == "h24").default
    # The flip enqueued a batch for it and comes back after it.
    done = memory.reembed("h24", HashingEmbedder(dimensions=24))
    assert (done.stored, done.missing, done.batches, done.default) == (1, 0, 0, True)


@pytest.mark.slow
def test_the_worker_command_has_the_reindex_handler_built_in(
    settings: Settings, sync_ledger: Ledger, tid: str
) -> None:
    memory = sync_ledger.tenant(tid).memory
    facts(memory, 6)
    memory.set_language("german", batch_size=2)
    proc = spawn_cli(settings, "worker", rebuild.REINDEX_QUEUE, "--platform", "--concurrency", "2")
    out = stop_when(proc, lambda: not memory.language_status().pending)
    assert proc.returncode == 0, out
    assert memory.language_status() == LanguageStatus(language="german", pending=0, batches=0)


def test_the_memory_cli_switches_the_language_and_reindexes(
    sync_ledger: Ledger, tid: str, database_url: str, tmp_path: Any, monkeypatch: Any
) -> None:
    from rich.console import Console
    from typer.testing import CliRunner

    from agentledger import cli
    from agentledger.cli import common

    facts(sync_ledger.tenant(tid).memory, 3)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(common, "out", Console(width=200))
    runner = CliRunner()
    switched = runner.invoke(cli.app, ["memory", "language", "german", "--tenant", tid])
    assert switched.exit_code == 0, switched.output
    assert "language german: 3 entities to re-index, 1 batches left" in switched.output
    done = runner.invoke(cli.app, ["memory", "reindex", "--tenant", tid])
    assert done.exit_code == 0, done.output
    assert "re-indexed 3 entities" in done.output
    shown = runner.invoke(cli.app, ["memory", "language", "--tenant", tid])
    assert "language german: 0 entities to re-index, 0 batches left" in shown.output
    sync_ledger.tenant(tid).memory.upsert("receta", "Una canción")
    args = ["memory", "language", "spanish", "--kind", "receta", "--tenant", tid, "--wait"]
    kind = runner.invoke(cli.app, args)
    assert kind.exit_code == 0, kind.output
    assert "language of kind receta spanish: 0 entities to re-index" in kind.output
    listed = runner.invoke(cli.app, ["memory", "language", "--tenant", tid])
    assert "kind receta: spanish" in listed.output
    clear = ["memory", "language", "--kind", "receta", "--clear", "--tenant", tid]
    assert "language of kind receta german: 1 entities" in runner.invoke(cli.app, clear).output
    assert (
        "kind receta" not in runner.invoke(cli.app, ["memory", "language", "--tenant", tid]).output
    )
    misused = runner.invoke(cli.app, ["memory", "language", "--clear", "--tenant", tid])
    assert misused.exit_code != 0


@pytest.mark.usefixtures("needs_vector")
def test_batches_of_a_dropped_space_complete_with_nothing_to_do(
    sync_ledger: Ledger, tid: str
) -> None:
    scope = sync_ledger.tenant(tid)
    memory = scope.memory
    facts(memory, 4)
    memory.declare_space("gone", dimensions=16)
    memory.reembed("gone", batch_size=10, make_default=True)
    assert memory.drop_space("gone")
    queue = rebuild.reembed_queue("gone")
    handler = memory.reembed_handler(HashingEmbedder(dimensions=16))
    worker = scope.tasks.worker(queue, handler, concurrency=1, transactional=True)
    assert worker.run(until_empty=True).completed == 2  # the batch and the flip
    outputs = [t.output for t in scope.tasks.list(queue=queue)]
    assert outputs == [{"stored": 0, "dropped": True}, {"flipped": False, "dropped": True}]
    assert [s.name for s in memory.spaces() if s.default] == ["default"]
