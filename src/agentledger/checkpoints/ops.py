"""Checkpoint operations (I/O-free): store a checkpoint and its new channel values, store a
task's pending writes, read one or a page, and delete, prune or copy threads.

Serialized data stays opaque: each value travels as the serializer's type tag and bytes.
Storing is repeatable (the same checkpoint or write again leaves the same rows), so every
write here is idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentledger import validation as v
from agentledger.checkpoints.records import EMPTY, ChannelBlob, StoredCheckpoint, TaskWrite
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import InvalidInput

Q = Queries.beside(__file__)
MAX_ID = 1000
MAX_PAGE = 1000
MAX_THREADS = 10_000
PRUNE = ("keep_latest", "delete")

# One pending write as put_writes takes it: (index, channel, type tag, serialized value).
Write = tuple[int, str, str, bytes]


@operation(idempotent=True)
def put(
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str,
    *,
    type: str,
    checkpoint: bytes,
    channel_versions: Mapping[str, str],
    metadata: Mapping[str, Any] | None = None,
    blobs: Sequence[ChannelBlob] = (),
    parent_id: str | None = None,
    run_id: str | None = None,
) -> Gen[None]:
    """Store a checkpoint (replacing one with the same id) with the channel values it wrote.

    ``checkpoint`` is the serialized checkpoint without its channel values;
    ``channel_versions`` names the version of each value it reads, stored now in ``blobs``
    or by an earlier checkpoint of the thread and namespace (a value already stored under
    its channel and version stays). ``metadata`` must be a JSON object: list filters
    match it by containment. ``run_id`` marks the checkpoint as the run's, for
    ``delete_runs``.
    """
    versions = {
        v.text("channel_versions", ch, max_len=MAX_ID): v.text(
            "channel_versions", ver, max_len=MAX_ID
        )
        for ch, ver in _mapping("channel_versions", channel_versions).items()
    }
    blobs = v.items("blobs", blobs, what="ChannelBlob")
    for i, blob in enumerate(blobs):
        _check_blob(f"blobs[{i}]", blob)
    yield Q.put_checkpoint.none(
        **_where(thread_id, checkpoint_ns),
        checkpoint_id=_id("checkpoint_id", checkpoint_id),
        parent_id=None if parent_id is None else _id("parent_id", parent_id),
        run_id=None if run_id is None else _id("run_id", run_id),
        type=v.text("type", type, max_len=MAX_ID),
        checkpoint=_bytes("checkpoint", checkpoint),
        channel_versions=versions,
        metadata=v.json_object("metadata", metadata),
        channels=[b.channel for b in blobs],
        versions=[b.version for b in blobs],
        types=[b.type for b in blobs],
        blobs=[b.blob for b in blobs],
    ).alone()


@operation(idempotent=True)
def put_writes(
    thread_id: str,
    checkpoint_ns: str,
    checkpoint_id: str,
    task_id: str,
    writes: Sequence[Write],
    *,
    task_path: str = "",
    replace: bool = False,
) -> Gen[None]:
    """Store a task's pending writes to a checkpoint, each ``(index, channel, type, value)``.

    A write is known by (task, index): one stored before is kept, so a retried task adds
    nothing, or replaced with ``replace`` (for writes whose index is fixed by their
    channel, such as an error, which a later attempt of the task overwrites).
    """
    checked: list[Write] = []
    for i, write in enumerate(v.items("writes", writes, what="(index, channel, type, value)")):
        field = f"writes[{i}]"
        if not isinstance(write, tuple) or len(write) != 4:
            raise InvalidInput(f"{field} must be (index, channel, type, value)", field="writes")
        idx, channel, type_, blob = write
        checked.append(
            (
                v.integer(field, idx, low=-(2**31), high=2**31 - 1),
                v.text(field, channel, max_len=MAX_ID),
                v.text(field, type_, max_len=MAX_ID),
                _bytes(field, blob),
            )
        )
    if not checked:
        return
    yield Q.put_writes.none(
        **_where(thread_id, checkpoint_ns),
        checkpoint_id=_id("checkpoint_id", checkpoint_id),
        task_id=_id("task_id", task_id),
        task_path=v.text("task_path", task_path, max_len=MAX_ID, min_len=0),
        idxs=[w[0] for w in checked],
        channels=[w[1] for w in checked],
        types=[w[2] for w in checked],
        blobs=[w[3] for w in checked],
        replace=v.flag("replace", replace),
    ).alone()


# A graph resumes from it and writes the next checkpoint on top: the primary's, always.
@operation(writes=False, standby=False)
def get(
    thread_id: str, checkpoint_ns: str = "", checkpoint_id: str | None = None
) -> Gen[StoredCheckpoint | None]:
    """A checkpoint by id, or the thread's newest in the namespace; None when there is none."""
    where = _where(thread_id, checkpoint_ns)
    if checkpoint_id is None:
        row = yield Q.get_latest.one(**where).alone()
    else:
        row = yield Q.get_checkpoint.one(
            **where, checkpoint_id=_id("checkpoint_id", checkpoint_id)
        ).alone()
    return None if row is None else stored_from_row(row)


@operation(writes=False, standby=False)
def list_(
    *,
    thread_id: str | None = None,
    checkpoint_ns: str | None = None,
    checkpoint_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    before: str | None = None,
    after: StoredCheckpoint | None = None,
    limit: int = 100,
) -> Gen[list[StoredCheckpoint]]:
    """Checkpoints newest first (by id): a thread's (in one namespace, or one checkpoint,
    when given), or without ``thread_id`` the tenant's; those whose metadata contains
    ``metadata``, with ids below ``before``. Pass the last one back as ``after`` for the
    next page."""
    if thread_id is None and (checkpoint_ns is not None or checkpoint_id is not None):
        raise InvalidInput("checkpoint_ns and checkpoint_id need a thread_id", field="thread_id")
    if after is not None and not isinstance(after, StoredCheckpoint):
        raise InvalidInput("after must be a checkpoint of the previous page", field="after")
    common = {
        "metadata": None if metadata is None else v.json_object("metadata", metadata),
        "before": None if before is None else _id("before", before),
        "after_id": None if after is None else after.checkpoint_id,
        "after_ns": None if after is None else after.checkpoint_ns,
        "limit": v.integer("limit", limit, low=1, high=MAX_PAGE),
    }
    if thread_id is None:
        rows = yield Q.list_all.all(
            **common, after_thread=None if after is None else after.thread_id
        ).alone()
    else:
        rows = yield Q.list_thread.all(
            **common,
            thread_id=_id("thread_id", thread_id),
            checkpoint_ns=None
            if checkpoint_ns is None
            else v.text("checkpoint_ns", checkpoint_ns, max_len=MAX_ID, min_len=0),
            checkpoint_id=None if checkpoint_id is None else _id("checkpoint_id", checkpoint_id),
        ).alone()
    return [stored_from_row(r) for r in rows]


@operation(idempotent=True)
def delete_threads(thread_ids: Sequence[str]) -> Gen[None]:
    """Delete threads whole: every checkpoint, channel value and pending write."""
    threads = _threads(thread_ids)
    if threads:
        yield Q.delete_threads.none(thread_ids=threads).alone()


@operation(idempotent=True)
def delete_runs(run_ids: Sequence[str]) -> Gen[None]:
    """Delete the checkpoints the given runs wrote (their metadata's run id), their pending
    writes, and the channel values no remaining checkpoint of their threads reads."""
    runs = _list_of_ids("run_ids", run_ids)
    if not runs:
        return
    rows = yield Q.delete_runs.all(run_ids=runs)
    if rows:
        yield Q.collect_blobs.none(thread_ids=[r["thread_id"] for r in rows])


@operation(idempotent=True)
def prune(thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> Gen[None]:
    """Shrink threads: ``"keep_latest"`` keeps each namespace's newest checkpoint with its
    pending writes and the channel values it reads; ``"delete"`` deletes the threads.

    Keeping only the latest drops the history a channel that stores deltas rebuilds its
    value from; prune such threads with ``"delete"`` or not at all.
    """
    chosen = v.choice("strategy", strategy, PRUNE)
    threads = _threads(thread_ids)
    if not threads:
        return
    if chosen == "delete":
        yield Q.delete_threads.none(thread_ids=threads)
        return
    yield Q.keep_latest.none(thread_ids=threads)
    yield Q.collect_blobs.none(thread_ids=threads)


@operation(idempotent=True)
def copy_thread(source: str, target: str) -> Gen[None]:
    """Copy a thread (every checkpoint, channel value and pending write, ids kept) to
    another thread id; rows the target already holds stay as they are."""
    yield Q.copy_thread.none(source=_id("source", source), target=_id("target", target)).alone()


# --- shaping input and rows ---------------------------------------------------------------


def stored_from_row(row: Mapping[str, Any]) -> StoredCheckpoint:
    """A stored checkpoint from a row whose blobs and writes travel as arrays of bytea."""
    return StoredCheckpoint(
        thread_id=row["thread_id"],
        checkpoint_ns=row["checkpoint_ns"],
        checkpoint_id=row["checkpoint_id"],
        parent_checkpoint_id=row["parent_checkpoint_id"],
        type=row["type"],
        checkpoint=bytes(row["checkpoint"]),
        metadata=row["metadata"],
        blobs=[
            ChannelBlob(
                channel=channel.decode(),
                version=version.decode(),
                type=type_.decode(),
                blob=None if blob is None else bytes(blob),
            )
            for channel, version, type_, blob in row["blobs"] or []
        ],
        writes=[
            TaskWrite(
                task_id=task_id.decode(),
                task_path=task_path.decode(),
                idx=int(idx),
                channel=channel.decode(),
                type=type_.decode(),
                blob=bytes(blob),
            )
            for task_id, task_path, idx, channel, type_, blob in row["writes"] or []
        ],
        created_at=row["created_at"],
    )


def _where(thread_id: object, checkpoint_ns: object) -> dict[str, str]:
    return {
        "thread_id": _id("thread_id", thread_id),
        "checkpoint_ns": v.text("checkpoint_ns", checkpoint_ns, max_len=MAX_ID, min_len=0),
    }


def _id(field: str, value: object) -> str:
    return v.text(field, value, max_len=MAX_ID)


def _bytes(field: str, value: object) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise InvalidInput(f"{field} must be bytes, not {type(value).__name__}", field=field)
    return bytes(value)


def _mapping(field: str, value: object) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{field} must be a mapping", field=field)
    return value


def _check_blob(field: str, blob: object) -> None:
    if not isinstance(blob, ChannelBlob):
        raise InvalidInput(f"{field} must be a ChannelBlob", field="blobs")
    v.text(f"{field}.channel", blob.channel, max_len=MAX_ID)
    v.text(f"{field}.version", blob.version, max_len=MAX_ID)
    v.text(f"{field}.type", blob.type, max_len=MAX_ID)
    if blob.blob is None:
        if blob.type != EMPTY:
            raise InvalidInput(f"{field}: only an {EMPTY!r} value has no bytes", field="blobs")
    else:
        _bytes(f"{field}.blob", blob.blob)


def _list_of_ids(field: str, values: object) -> list[str]:
    values = v.items(field, values, what="ids")
    if len(values) > MAX_THREADS:
        raise InvalidInput(
            f"{field} has {len(values)} ids; the limit is {MAX_THREADS}", field=field
        )
    return [_id(f"{field}[{i}]", x) for i, x in enumerate(values)]


def _threads(thread_ids: object) -> list[str]:
    return _list_of_ids("thread_ids", thread_ids)
