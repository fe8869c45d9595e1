# Generated from src/agentledger/memory/jobs_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The memory façade's background work (``rebuild.py``): the re-index after a language
change and re-embedding into a space, enqueued as batch tasks; any worker runs them with
the handlers here, and the caller can work the queue itself (``reindex``, ``reembed``)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from agentledger.db.forward import forward_sync
from agentledger.errors import LeaseLost
from agentledger.memory import rebuild, spaces
from agentledger.memory.embedder import Embedder
from agentledger.memory.records import EmbeddingSpace, ReembedStatus
from agentledger.tasks.records import Task
from agentledger.tasks.worker import TransactionalHandler

if TYPE_CHECKING:
    from agentledger.db.statements import Op
    from agentledger.tasks.facade_sync import Tasks

T = TypeVar("T")
# An embedder, or what makes one for a space (e.g. of the space's dimension).
EmbedderFor = Embedder | Callable[[EmbeddingSpace], Embedder]
# The caller's claims: long enough for a batch of a slow model; a crash frees it then.
LEASE = 300.0
# While another process runs the last batches, the caller looks again this often.
POLL = 0.2


def reindex_handler(task: Task, tx: Any) -> dict[str, Any]:
    """A transactional handler of ``agentledger.reindex`` batches: ``worker(REINDEX_QUEUE,
    reindex_handler, transactional=True)``; its re-index commits with the completion."""
    return dict(tx.memory.reindex_batch(task.input))


def reembed_handler(embedder: EmbedderFor) -> TransactionalHandler:
    """A transactional handler of re-embedding batches (and of the final flip), with
    ``embedder``: the model of the space whose queue it serves, or a callable that makes
    one for a space (``lambda s: HashingEmbedder(s.dimensions)``)."""

    def handle(task: Task, tx: Any) -> dict[str, Any]:
        return dict(tx.memory.reembed_batch(task.input, embedder))

    return handle


class Jobs:
    """Background work of a tenant's memory, as methods of its façade."""

    _tasks: Tasks[Any] | None

    if TYPE_CHECKING:

        def _run(self, op: Op[T]) -> T: ...

    language_status = forward_sync(rebuild.language_status)
    reembed_status = forward_sync(rebuild.reembed_status)
    reindex_batch = forward_sync(rebuild.reindex_range)

    def set_language(
        self,
        config: str | None,
        *,
        kind: str | None = None,
        batch_size: int = 2000,
        wait: bool = False,
    ) -> str:
        """Full-text search in ``config``, a text-search configuration of this server
        ("german", "spanish", "simple", ...; InvalidInput naming ``language`` and listing
        the server's otherwise, nothing changed): the tenant's, or with ``kind`` the one
        that kind's entities are indexed and searched in (``None`` clears the kind's, which
        then follows the tenant's again). New writes and queries use it at once. The stored
        entities concerned are re-indexed in the background: batches of ``batch_size``
        entities are enqueued (queue ``agentledger.reindex``) in the same transaction, for
        a worker (``reindex_handler``) or ``reindex()``; ``language_status()`` says what is
        left. ``wait=True`` works the batches here before returning (not inside
        ``transaction()``). Returns the language now in force (the kind's, with ``kind``)."""
        status = self._run(rebuild.set_language(config, kind=kind, batch_size=batch_size))
        if wait:
            self.reindex(batch_size=batch_size)
        return status.language

    def reindex(
        self, *, batch_size: int = 2000, progress: Callable[[int], object] | None = None
    ) -> int:
        """Finish the re-index after a language change here: enqueue batches for the
        entities still in another language unless some wait already, then work them until
        none is left (beside any worker); how many entities this call re-indexed.
        ``progress`` is called with that count after each batch."""
        self._run(rebuild.plan_reindex(batch_size=batch_size))
        done = 0

        def count(output: Mapping[str, Any]) -> None:
            nonlocal done
            done += int(output.get("reindexed", 0))
            if progress is not None:
                progress(done)

        self._work(rebuild.REINDEX_QUEUE, reindex_handler, count)
        return done

    def reembed(
        self,
        space: str,
        embedder: EmbedderFor | None = None,
        *,
        batch_size: int = 256,
        make_default: bool = False,
        progress: Callable[[int], object] | None = None,
    ) -> ReembedStatus:
        """Fill the declared ``space`` with vectors of every entity that has none there
        yet (its name, and summary on the next line), through the task queue: batches of
        ``batch_size`` entities are enqueued on ``agentledger.reembed:<space>`` (unless
        some wait already: a second call, or one after a crash, resumes with them), and
        ``make_default`` adds the flip, which makes the space the default in one
        transaction once every entity has its vector there. Searches use the current
        default space until then.

        With ``embedder`` (or a callable making one for the space) this call works the
        queue itself, beside any workers (``reembed_handler``), until no batch is left;
        ``progress`` gets the count it stored after each batch. An embedder's error
        releases its batch for a later run and is raised. Without, it returns at once.
        """
        status = self._run(
            rebuild.plan_reembed(space, batch_size=batch_size, make_default=make_default)
        )
        if embedder is None:
            return status
        stored = 0

        def count(output: Mapping[str, Any]) -> None:
            nonlocal stored
            stored += int(output.get("stored", 0))
            if progress is not None and "stored" in output:
                progress(stored)

        self._work(rebuild.reembed_queue(status.space), reembed_handler(embedder), count)
        return replace(self._run(rebuild.reembed_status(status.space)), stored=stored)

    def reembed_handler(self, embedder: EmbedderFor) -> TransactionalHandler:
        """A transactional handler of a space's re-embedding batches with ``embedder``
        (module-level ``reembed_handler``), for ``tasks.worker(queue, handler,
        transactional=True)``."""
        return reembed_handler(embedder)

    def reembed_batch(self, task_input: Mapping[str, Any], embedder: EmbedderFor) -> dict[str, Any]:
        """One re-embedding task: a batch's entities still without a vector in the space
        embedded and stored (a vector written meanwhile wins), or the flip."""
        if rebuild.job_input(task_input).get("flip"):
            return self._run(rebuild.reembed_flip(task_input))
        target, todo = self._run(rebuild.reembed_candidates(task_input))
        if target is None:
            return {"stored": 0, "dropped": True}  # the space went: nothing to fill
        model = embedder if isinstance(embedder, Embedder) else embedder(target)
        size = max(1, int(task_input.get("batch_size", 256)))
        stored = 0
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            vectors = model.embed([t for _, t in chunk])
            ids = [i for i, _ in chunk]
            stored += self._run(spaces.add_vectors(target.name, ids, vectors))
        return {"stored": stored}

    def _work(
        self,
        queue: str,
        handle: TransactionalHandler,
        done: Callable[[Mapping[str, Any]], None],
    ) -> None:
        """Claim ``queue``'s tasks one at a time and run each in the transaction that
        completes it, until none waits or runs; an error releases the task and is raised."""
        if self._tasks is None:
            raise RuntimeError("background work runs on a tenant scope, not in a transaction")
        tasks = self._tasks
        while True:
            claimed = tasks.claim(queue, limit=1, lease=LEASE)
            if not claimed:
                depth = tasks.depth(queue)
                if not any(d.ready + d.scheduled + d.running + d.expired for d in depth):
                    return
                time.sleep(POLL)
                continue
            task = claimed[0]
            output: dict[str, Any] | None = None
            try:
                with tasks.completing(task) as tx:
                    output = handle(task, tx)
            except LeaseLost:
                continue  # another worker holds it now
            except BaseException:
                with contextlib.suppress(Exception):
                    tasks.release(task)
                raise
            done(output or {})
