"""Work that follows a change of a tenant's memory as tasks of the queue: re-indexing after
a language change and re-embedding into a new space, in keyset batches of entity ids.

Each batch is a task of ``(lo, hi]`` over the entities' ids (None: open), so the batches
cover every id there is, entities written meanwhile too. A batch is idempotent: it touches
only the entities still indexed in another language, or with no vector in the space, so a
batch run twice, or two overlapping ones, do the work once.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import InvalidInput
from agentledger.memory import languages, spaces
from agentledger.memory.records import EmbeddingSpace, LanguageStatus, ReembedStatus
from agentledger.sessions import content as session_text
from agentledger.tasks import NewTask, ops as tasks

Q = Queries.beside(__file__, "rebuild.sql")
LANGUAGES = Queries.beside(__file__, "languages.sql")
SPACES = Queries.beside(__file__, "spaces.sql")
REINDEX_QUEUE = "agentledger.reindex"
REEMBED_QUEUE = "agentledger.reembed"
# A batch that skipped rows others held comes back this much later for them.
AGAIN_AFTER = timedelta(seconds=1)
# Batches of one job go to a handler many times over their life: retry them patiently.
ATTEMPTS = 20
# Session segments (of chunks and artifacts) a re-index batch moves to the new language.
SEGMENTS = 500


def reembed_queue(space: str) -> str:
    """The queue of re-embedding into ``space``: one per space, so that a worker holding
    one model's embedder serves exactly that model's batches."""
    return f"{REEMBED_QUEUE}:{space}"


def _batches(queue: str, bounds: Sequence[UUID], input: Mapping[str, Any]) -> list[NewTask]:
    """Tasks covering every id: (None, b1], (b1, b2], ..., (bn, None)."""
    edges: list[UUID | None] = [None, *bounds, None]
    return [
        NewTask(
            input={**input, "lo": _text(lo), "hi": _text(hi)},
            task_type="batch",
            max_attempts=ATTEMPTS,
        )
        for lo, hi in itertools.pairwise(edges)
    ]


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def job_input(task_input: object) -> Mapping[str, Any]:
    """A re-index or re-embedding task's input, which must be a mapping."""
    if not isinstance(task_input, Mapping):
        raise InvalidInput(
            "task_input must be a re-index or re-embedding task's input (a mapping), "
            f"not {type(task_input).__name__}",
            field="task_input",
        )
    return task_input


def _bound(task_input: Mapping[str, Any], field: str) -> UUID | None:
    value = task_input.get(field)
    return None if value is None else v.uuid(field, value)


def unfinished(queue: str) -> Gen[int]:
    """The tasks of ``queue`` that wait or run (expired leases too)."""
    rows = yield from tasks.depth(queue).start()
    return sum(d.ready + d.scheduled + d.running + d.expired for d in rows)


# --- language ---------------------------------------------------------------------------


@operation()
def set_language(
    config: str | None, *, kind: str | None = None, batch_size: int = 2000
) -> Gen[LanguageStatus]:
    """Full-text search in ``config``, a text-search configuration of this server
    ("german", "spanish", "simple", ...), for new writes and queries: the tenant's, or with
    ``kind`` that kind's entities' own (None: the kind follows the tenant's again). The
    re-index of the stored entities concerned is enqueued (``REINDEX_QUEUE``) in the same
    transaction. InvalidInput naming ``language`` and the configurations there are when the
    server has no such one, or when None is given for the tenant's."""
    size = v.integer("batch_size", batch_size, low=1, high=100_000)
    if kind is None:
        if config is None:
            raise InvalidInput(
                "the tenant's language cannot be cleared (None clears a kind's): give a "
                "text-search configuration",
                field="language",
            )
        name = yield from languages.checked(config)
        yield LANGUAGES.set_text_config.none(config=name)
        return (yield from _plan_reindex(name, size, always=True))
    chosen = languages.kind_name(kind)
    if config is None:
        yield LANGUAGES.clear_kind_text_config.none(kind=chosen)
    else:
        yield LANGUAGES.set_kind_text_config.none(
            kind=chosen, config=(yield from languages.checked(config))
        )
    name = yield from languages.language(chosen).start()
    return (yield from _plan_reindex(name, size, kind=chosen))


@operation()
def plan_reindex(*, batch_size: int = 2000) -> Gen[LanguageStatus]:
    """Enqueue re-index batches for the entities still in another language, unless batches
    already wait or run (a run interrupted resumes with them)."""
    size = v.integer("batch_size", batch_size, low=1, high=100_000)
    name = yield from languages.language().start()
    return (yield from _plan_reindex(name, size))


def _plan_reindex(
    name: str, size: int, *, always: bool = False, kind: str | None = None
) -> Gen[LanguageStatus]:
    """Batches over every id, balanced on the entities (of ``kind``) still to re-index:
    after a change of the tenant's language ``always`` (sessions' segments are re-indexed
    by the batches too, whether or not an entity is); after a kind's, when any of its
    entities is (batches already waiting may have passed their range); else only when
    none waits (resuming an interrupted run)."""
    waiting = yield from unfinished(REINDEX_QUEUE)
    found = yield Q.reindex_bounds.one(batch=size, kind=kind)
    if always or (found["pending"] and (kind is not None or not waiting)):
        batches = _batches(REINDEX_QUEUE, found["bounds"], {"batch_size": size})
        waiting += len((yield from tasks.enqueue_many(REINDEX_QUEUE, batches).start()))
    return LanguageStatus(language=name, pending=found["pending"], batches=waiting, kind=kind)


@operation(writes=False, standby=False)
def language_status(*, kind: str | None = None) -> Gen[LanguageStatus]:
    """The tenant's language (with ``kind``: that kind's), the entities (of that kind)
    still indexed in another language than their own, and the re-index batches left."""
    chosen = None if kind is None else languages.kind_name(kind)
    name = yield from languages.language(chosen).start()
    pending: int = yield Q.reindex_pending.scalar(kind=chosen)
    waiting = yield from unfinished(REINDEX_QUEUE)
    return LanguageStatus(language=name, pending=pending, batches=waiting, kind=chosen)


def session_batch(session_id: UUID) -> NewTask:
    """The re-index task of one session's segments, after its language changed."""
    return NewTask(input={"session": str(session_id)}, task_type="session", max_attempts=ATTEMPTS)


@operation()
def reindex_range(task_input: Mapping[str, Any]) -> Gen[dict[str, int]]:
    """One re-index batch (a task's input: ``lo``, ``hi``): the range's entities still in
    another language are re-indexed, and up to ``SEGMENTS`` session segments, skipping rows
    other transactions hold; when some were skipped, or segments may be left, a batch of
    the same range is enqueued to come back for them. A session's batch (input:
    ``session``) re-indexes that session's segments only, the same way."""
    task_input = job_input(task_input)
    if task_input.get("session") is not None:
        session = v.uuid("session", task_input["session"])
        segments = yield from session_text.reindex_batch(
            batch_size=SEGMENTS, session_id=session
        ).start()
        if segments == SEGMENTS:
            yield from tasks.enqueue_many(REINDEX_QUEUE, [session_batch(session)]).start()
        return {"reindexed": 0, "skipped": 0, "segments": segments}
    lo, hi = _bound(task_input, "lo"), _bound(task_input, "hi")
    row = yield Q.reindex_range.one(lo=lo, hi=hi)
    left = row["pending"] - row["done"]
    # And a batch of the tenant's session segments still in another language (any batch
    # takes some: they have no entity range).
    segments = yield from session_text.reindex_batch(batch_size=SEGMENTS).start()
    if left > 0 or segments == SEGMENTS:
        again = NewTask(
            input=dict(task_input),
            task_type="batch",
            max_attempts=ATTEMPTS,
            run_after=datetime.now(UTC) + (AGAIN_AFTER if left > 0 else timedelta(0)),
        )
        yield from tasks.enqueue_many(REINDEX_QUEUE, [again]).start()
    return {"reindexed": row["done"], "skipped": left, "segments": segments}


# --- re-embedding -----------------------------------------------------------------------


def _declared(name: str) -> Gen[EmbeddingSpace]:
    found = yield SPACES.vector_spaces.one(feature="re-embedding")
    target = spaces.resolve(found["spaces"], spaces.space_name("space", name), "space")
    if target.id is None:
        raise InvalidInput(
            "re-embedding fills a declared space; declare one for the new model", field="space"
        )
    return target


def _still_declared(task_input: Mapping[str, Any]) -> Gen[EmbeddingSpace | None]:
    """The space of a task, or None when it was dropped since (its tasks have nothing
    left to do)."""
    name = spaces.space_name("space", task_input.get("space"))
    found = yield SPACES.vector_spaces.one(feature="re-embedding")
    if not any(row["name"] == name for row in found["spaces"]):
        return None
    return (yield from _declared(name))


@operation()
def plan_reembed(
    space: str, *, batch_size: int = 256, make_default: bool = False
) -> Gen[ReembedStatus]:
    """Enqueue re-embedding batches for the entities with no vector in ``space`` (unless
    its batches already wait or run: an interrupted run resumes with them), and with
    ``make_default`` the flip, a task that makes the space the default once every entity
    has its vector there. With nothing missing, the flip is made at once."""
    target = yield from _declared(space)
    size = v.integer("batch_size", batch_size, low=1, high=10_000)
    queue = reembed_queue(target.name)
    waiting = yield from unfinished(queue)
    found = yield Q.reembed_bounds.one(space=target.id, batch=size)
    if found["missing"] == 0 and waiting == 0:
        if make_default and not target.default:
            target = yield from spaces.set_default(target.name).start()
        return ReembedStatus(space=target.name, missing=0, batches=0, default=target.default)
    work: list[NewTask] = []
    if not waiting:
        work += _batches(queue, found["bounds"], {"space": target.name, "batch_size": size})
    if make_default and not target.default:
        work.append(_flip(target.name, size))
    if work:
        waiting += len((yield from tasks.enqueue_many(queue, work).start()))
    return ReembedStatus(
        space=target.name, missing=found["missing"], batches=waiting, default=target.default
    )


def _flip(space: str, size: int, *, later: bool = False) -> NewTask:
    """The task that makes ``space`` the default once it is full: after every batch (a
    lower priority), and again ``AGAIN_AFTER`` later while batches still run."""
    return NewTask(
        input={"space": space, "batch_size": size, "flip": True},
        task_type="flip",
        priority=-1,
        max_attempts=ATTEMPTS,
        dedup_key=None if later else f"flip:{space}",
        run_after=datetime.now(UTC) + AGAIN_AFTER if later else None,
    )


@operation(writes=False, standby=False)
def reembed_status(space: str) -> Gen[ReembedStatus]:
    """The entities with no vector in ``space`` yet, and the batches left."""
    target = yield from _declared(space)
    missing: int = yield Q.reembed_missing.scalar(space=target.id)
    waiting = yield from unfinished(reembed_queue(target.name))
    return ReembedStatus(
        space=target.name, missing=missing, batches=waiting, default=target.default
    )


@operation(writes=False, standby=False)
def reembed_candidates(
    task_input: Mapping[str, Any],
) -> Gen[tuple[EmbeddingSpace | None, list[tuple[UUID, str]]]]:
    """The space of a re-embedding batch (a task's input: ``space``, ``lo``, ``hi``) and
    the range's entities with no vector there yet, each with the text to embed (name, and
    summary on the next line); None and nothing when the space was dropped since."""
    target = yield from _still_declared(job_input(task_input))
    if target is None:
        return None, []
    rows = yield Q.reembed_candidates.all(
        space=target.id, lo=_bound(task_input, "lo"), hi=_bound(task_input, "hi")
    )
    texts = [
        (r["id"], r["name"] if r["summary"] is None else f"{r['name']}\n{r['summary']}")
        for r in rows
    ]
    return target, texts


@operation()
def reembed_flip(task_input: Mapping[str, Any]) -> Gen[dict[str, Any]]:
    """The flip of a re-embedding (a task's input: ``space``): the space becomes the
    default, in this transaction, when every entity has its vector there. While batches
    still wait or run, the flip comes back later; when none do and entities written
    meanwhile still miss a vector, batches for them are enqueued first."""
    task_input = job_input(task_input)
    target = yield from _still_declared(task_input)
    if target is None:
        return {"flipped": False, "dropped": True}
    size = v.integer("batch_size", task_input.get("batch_size", 256), low=1, high=10_000)
    queue = reembed_queue(target.name)
    found = yield Q.reembed_bounds.one(space=target.id, batch=size)
    if found["missing"] == 0:
        if not target.default:
            yield from spaces.set_default(target.name).start()
        return {"flipped": True, "missing": 0}
    batches: int = yield Q.unfinished_batches.scalar(queue=queue)
    work = [_flip(target.name, size, later=True)]
    if batches == 0:
        work[:0] = _batches(queue, found["bounds"], {"space": target.name, "batch_size": size})
    yield from tasks.enqueue_many(queue, work).start()
    return {"flipped": False, "missing": found["missing"]}
