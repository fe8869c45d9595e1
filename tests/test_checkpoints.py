"""The checkpoints module on both faces: checkpoints with their channel values and pending
writes, listing, deleting by thread and by run, pruning, copying, bad input and tenants."""

from __future__ import annotations

import uuid

import pytest

from agentledger import ChannelBlob, InvalidInput, Ledger
from agentledger.checkpoints import EMPTY
from agentledger.checkpoints.facade_sync import Checkpoints


@pytest.fixture
def cps(ledger: Ledger, tenant_id: str) -> Checkpoints:
    return ledger.tenant(tenant_id).checkpoints


def blob(channel: str, version: str, data: bytes | None) -> ChannelBlob:
    return ChannelBlob(
        channel=channel, version=version, type=EMPTY if data is None else "bytes", blob=data
    )


def put(
    cps: Checkpoints,
    thread: str,
    cid: str,
    versions: dict[str, str],
    blobs: list[ChannelBlob],
    *,
    ns: str = "",
    parent: str | None = None,
    run: str | None = None,
    metadata: dict[str, object] | None = None,
) -> None:
    cps.put(
        thread,
        ns,
        cid,
        type="bytes",
        checkpoint=f"checkpoint {cid}".encode(),
        channel_versions=versions,
        metadata=metadata or {"step": int(cid[-1])},
        blobs=blobs,
        parent_id=parent,
        run_id=run,
    )


def test_a_checkpoint_reads_the_channel_values_of_its_versions(cps: Checkpoints) -> None:
    put(cps, "t", "c1", {"a": "1", "b": "1"}, [blob("a", "1", b"A1"), blob("b", "1", b"\x00B")])
    # The next checkpoint writes only what changed: "a" at version 2, "b" emptied.
    put(cps, "t", "c2", {"a": "2", "b": "2"}, [blob("a", "2", b"A2"), blob("b", "2", None)])
    cps.put_writes("t", "", "c2", "task-b", [(0, "x", "bytes", b"1"), (1, "y", "bytes", b"2")])
    cps.put_writes("t", "", "c2", "task-a", [(0, "x", "bytes", b"3")], task_path="~b")
    cps.put_writes("t", "", "c2", "task-a", [(0, "x", "bytes", b"again")], task_path="~b")
    cps.put_writes("t", "", "c2", "task-b", [(-1, "__error__", "bytes", b"e1")], replace=True)
    cps.put_writes("t", "", "c2", "task-b", [(-1, "__error__", "bytes", b"e2")], replace=True)
    first = cps.get("t", "", "c1")
    assert first is not None and first.checkpoint == b"checkpoint c1"
    assert {(b.channel, b.blob) for b in first.blobs} == {("a", b"A1"), ("b", b"\x00B")}
    latest = cps.get("t")
    assert latest is not None and latest.checkpoint_id == "c2" and latest.metadata == {"step": 2}
    assert {(b.channel, b.type, b.blob) for b in latest.blobs} == {
        ("a", "bytes", b"A2"),
        ("b", EMPTY, None),
    }
    # Writes come in the order a graph applies them: task path, task id, index; a write
    # is kept once, or replaced when asked.
    assert [(w.task_id, w.idx, w.blob) for w in latest.writes] == [
        ("task-b", -1, b"e2"),
        ("task-b", 0, b"1"),
        ("task-b", 1, b"2"),
        ("task-a", 0, b"3"),
    ]
    assert cps.get("t", "", "c9") is None and cps.get("t", "child") is None
    assert cps.get("nobody") is None


def test_listing_filters_and_pages_newest_first(cps: Checkpoints) -> None:
    for thread in ("t1", "t2"):
        for i in range(1, 6):
            put(cps, thread, f"c{i}", {}, [], run=f"r{i % 2}")
    put(cps, "t1", "c6", {}, [], ns="child")
    ids = [c.checkpoint_id for c in cps.list(thread_id="t1", checkpoint_ns="")]
    assert ids == ["c5", "c4", "c3", "c2", "c1"]
    assert [c.checkpoint_ns for c in cps.list(thread_id="t1")][:1] == ["child"]
    odd = cps.list(thread_id="t1", checkpoint_ns="", metadata={"step": 3})
    assert [c.checkpoint_id for c in odd] == ["c3"]
    assert [c.checkpoint_id for c in cps.list(thread_id="t2", before="c3")] == ["c2", "c1"]
    page = cps.list(limit=4)
    assert [(c.thread_id, c.checkpoint_id) for c in page] == [
        ("t1", "c6"),
        ("t2", "c5"),
        ("t1", "c5"),
        ("t2", "c4"),
    ]
    rest = cps.list(after=page[-1], limit=100)
    assert len(rest) == 7 and rest[0].checkpoint_id == "c4" and rest[0].thread_id == "t1"
    with pytest.raises(InvalidInput) as bad:
        cps.list(checkpoint_ns="")
    assert bad.value.field == "thread_id"


def test_deleting_runs_and_pruning_collect_the_values_nothing_reads(cps: Checkpoints) -> None:
    put(cps, "t", "c1", {"a": "1"}, [blob("a", "1", b"1")], run="r1")
    put(cps, "t", "c2", {"a": "2", "k": "1"}, [blob("a", "2", b"2"), blob("k", "1", b"k")])
    put(cps, "t", "c3", {"a": "3", "k": "1"}, [blob("a", "3", b"3")], run="r1")
    cps.put_writes("t", "", "c3", "task", [(0, "a", "bytes", b"w")])
    put(cps, "u", "c1", {"a": "1"}, [blob("a", "1", b"u")], run="r1")
    cps.delete_runs(["r1", "nothing"])
    left = cps.get("t")
    assert left is not None and left.checkpoint_id == "c2" and left.writes == []
    assert {b.version for b in left.blobs} == {"2", "1"}
    assert cps.get("u") is None
    put(cps, "t", "c4", {"a": "4", "k": "1"}, [blob("a", "4", b"4")])
    put(cps, "t", "c5", {"a": "5", "k": "1"}, [blob("a", "5", b"5")])
    cps.put_writes("t", "", "c5", "task", [(0, "a", "bytes", b"w")])
    cps.prune(["t", "ghost"])
    assert [c.checkpoint_id for c in cps.list(thread_id="t")] == ["c5"]
    kept = cps.get("t")
    assert kept is not None and len(kept.writes) == 1
    assert {(b.channel, b.blob) for b in kept.blobs} == {("a", b"5"), ("k", b"k")}
    # Put back an older checkpoint: the values it read are gone with the pruned ones.
    put(cps, "t", "c4", {"a": "4", "k": "1"}, [])
    older = cps.get("t", "", "c4")
    assert older is not None and {b.channel for b in older.blobs} == {"k"}
    cps.prune(["t"], strategy="delete")
    assert cps.get("t") is None
    with pytest.raises(InvalidInput) as bad:
        cps.prune(["t"], strategy="keep_some")
    assert bad.value.field == "strategy"


def test_copying_and_deleting_threads(cps: Checkpoints) -> None:
    put(cps, "src", "c1", {"a": "1"}, [blob("a", "1", b"1")])
    put(cps, "src", "c2", {"a": "1"}, [blob("a", "1", b"1")], parent="c1", ns="sub")
    cps.put_writes("src", "sub", "c2", "task", [(0, "a", "bytes", b"w")])
    cps.copy_thread("src", "dst")
    cps.copy_thread("src", "dst")  # again: nothing added
    copied = cps.get("dst", "sub")
    assert copied is not None and copied.parent_checkpoint_id == "c1"
    assert [w.blob for w in copied.writes] == [b"w"] and [b.blob for b in copied.blobs] == [b"1"]
    cps.delete_threads(["src"])
    assert cps.list(thread_id="src") == [] and len(cps.list(thread_id="dst")) == 2


def test_bad_input_names_the_field_and_stores_nothing(cps: Checkpoints) -> None:
    cases: list[tuple[str, dict[str, object]]] = [
        ("thread_id", {"thread_id": ""}),
        ("checkpoint_ns", {"checkpoint_ns": "a\x00b"}),
        ("metadata.when", {"metadata": {"when": object()}}),
        ("blobs", {"blobs": ["raw"]}),
        ("blobs", {"blobs": [ChannelBlob(channel="a", version="1", type="bytes", blob=None)]}),
        ("checkpoint", {"checkpoint": "text"}),
        ("channel_versions", {"channel_versions": ["a"]}),
    ]
    for field, change in cases:
        args: dict[str, object] = {
            "thread_id": "t",
            "checkpoint_ns": "",
            "checkpoint_id": "c1",
            "type": "bytes",
            "checkpoint": b"x",
            "channel_versions": {},
            "metadata": {},
            "blobs": [],
            **change,
        }
        with pytest.raises(InvalidInput) as bad:
            cps.put(**args)  # type: ignore[arg-type]
        assert bad.value.field == field, field
    with pytest.raises(InvalidInput) as bad:
        cps.put_writes("t", "", "c1", "task", [(0, "a", "bytes")])  # type: ignore[list-item]
    assert bad.value.field == "writes"
    assert cps.get("t") is None


def test_another_tenant_sees_none_of_it(ledger: Ledger, cps: Checkpoints) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other, "Other")
    theirs = ledger.tenant(other).checkpoints
    put(cps, "shared-name", "c1", {"a": "1"}, [blob("a", "1", b"mine")])
    assert theirs.get("shared-name") is None and theirs.list() == []
    theirs.delete_threads(["shared-name"])
    theirs.prune(["shared-name"])
    assert cps.get("shared-name") is not None
    theirs.copy_thread("shared-name", "stolen")
    assert theirs.list() == [] and cps.list(thread_id="stolen") == []
