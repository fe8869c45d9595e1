"""A caller's argument of the wrong kind is InvalidInput naming it, never a bare Python
error, and nothing is written: the library's own promise, beside the API's schemas."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agentledger import HashingEmbedder, InvalidInput, Ledger
from agentledger.ledger_sync import TenantScope

Call = Callable[[TenantScope], object]

CALLS: dict[str, tuple[Call, str]] = {
    # A string is not a collection of its characters, nor a mapping.
    "memory attrs text": (lambda s: s.memory.upsert("note", "n", attrs="text"), "attrs"),  # type: ignore[arg-type]
    "memory tags text": (lambda s: s.memory.upsert("note", "n", key="k", tags="ab"), "tags"),
    "memory tags number": (lambda s: s.memory.upsert("note", "n", tags=5), "tags"),  # type: ignore[arg-type]
    "memory embeddings": (
        lambda s: s.memory.upsert("note", "n", key="k", embeddings="v"),  # type: ignore[arg-type]
        "embeddings",
    ),
    "memory embedding": (lambda s: s.memory.upsert("note", "n", key="k", embedding=5), "embedding"),
    "memory batch": (lambda s: s.memory.upsert_many(5), "entities"),  # type: ignore[arg-type]
    "memory page cursor": (lambda s: s.memory.list(after="x"), "after"),  # type: ignore[arg-type]
    "memory space element": (
        lambda s: s.memory.declare_space("s", dimensions=3, element=["vector"]),  # type: ignore[arg-type]
        "element",
    ),
    "memory job input": (
        lambda s: s.memory.reembed_batch("x", HashingEmbedder()),  # type: ignore[arg-type]
        "task_input",
    ),
    "task input text": (lambda s: s.tasks.enqueue("q", "text"), "input"),  # type: ignore[arg-type]
    "task batch": (lambda s: s.tasks.enqueue_many("q", 5), "tasks"),  # type: ignore[arg-type]
    "task outcomes": (lambda s: s.tasks.settle(5), "outcomes"),  # type: ignore[arg-type]
    "task claims": (lambda s: s.tasks.heartbeat(5), "tasks"),  # type: ignore[arg-type]
    "task claim": (lambda s: s.tasks.heartbeat(["ab"]), "tasks[0]"),  # type: ignore[list-item]
    "event types text": (lambda s: s.events.read_all(0, types="Paid"), "types"),
    "event types number": (lambda s: s.events.recent(types=5), "types"),  # type: ignore[arg-type]
    "decision groups": (lambda s: s.decisions.acceptance_stats(by=5), "by"),  # type: ignore[arg-type]
    "expiry ids": (lambda s: s.expiry.refresh(5), "ids"),  # type: ignore[arg-type]
    "expiry ttls": (lambda s: s.expiry.set_ttls([], 5), "ttls"),  # type: ignore[arg-type]
    "checkpoint blobs": (
        lambda s: s.checkpoints.put(
            "thread",
            "",
            "1",
            type="json",
            checkpoint=b"{}",
            channel_versions={},
            blobs=5,  # type: ignore[arg-type]
        ),
        "blobs",
    ),
    "session action": (
        lambda s: s.sessions.transition(s.sessions.create("S").id, ["pause"]),  # type: ignore[arg-type]
        "action",
    ),
}


@pytest.mark.parametrize("case", sorted(CALLS))
def test_an_argument_of_the_wrong_kind_is_refused_by_name(
    ledger: Ledger, tenant_id: str, case: str
) -> None:
    call, field = CALLS[case]
    scope = ledger.tenant(tenant_id)
    with pytest.raises(InvalidInput) as info:
        call(scope)
    assert info.value.field == field
    assert scope.memory.list() == [] and scope.tasks.list() == []
    assert scope.events.recent() == [] or case == "session action"  # the session's own event
