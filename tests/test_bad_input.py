"""A caller's argument of the wrong kind is InvalidInput naming it, never a bare Python
error, and nothing is written: the library's own promise, beside the API's schemas."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from agentledger import HashingEmbedder, InvalidInput, Ledger, LedgerError
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
    # Text a Python str may hold but UTF-8 and jsonb cannot: refused by path, not by the server.
    "event payload half pair": (
        lambda s: s.events.append("s", "t", {"a": {"b": "x\ud800"}}),
        "payload.a.b",
    ),
    "event payload key": (lambda s: s.events.append("s", "t", {"\udc80": 1}), "payload"),
    "task input half pair": (lambda s: s.tasks.enqueue("q", {"a": "\udfff"}), "input.a"),
    "memory attrs half pair": (
        lambda s: s.memory.upsert("note", "n", key="k", attrs={"a": "\ud800"}),
        "attrs.a",
    ),
    "memory attrs huge integer": (
        lambda s: s.memory.upsert("note", "n", key="k", attrs={"n": 10**5000}),
        "attrs.n",
    ),
    "task input huge integer": (lambda s: s.tasks.enqueue("q", {"n": [10**5000]}), "input.n[0]"),
    "memory relevance underflow": (
        lambda s: s.memory.upsert("note", "n", key="k", relevance=1e-50),
        "relevance",
    ),
    "flag given as text": (
        lambda s: s.sessions.search_artifacts("x", all_versions="false"),  # type: ignore[arg-type]
        "all_versions",
    ),
    "artifact version past integer": (
        lambda s: s.sessions.get_artifact(uuid.uuid4(), "x", version=2**31),
        "version",
    ),
    "event payload falsy list": (lambda s: s.events.append("s", "t", []), "payload"),  # type: ignore[arg-type]
    "event metadata empty text": (
        lambda s: s.events.append("s", "t", {}, metadata=""),  # type: ignore[arg-type]
        "metadata",
    ),
    "follow types text": (lambda s: s.follow(types="Paid"), "types"),
    "task output text": (
        lambda s: s.tasks.complete(1, "done", token=uuid.uuid4()),  # type: ignore[arg-type]
        "output",
    ),
    "task retry text": (
        lambda s: s.tasks.fail(1, "x", retry="false", token=uuid.uuid4()),  # type: ignore[arg-type]
        "outcomes[0].retry",
    ),
    "task claim agent": (lambda s: s.tasks.claim("q", agent="a" * 300), "agent"),
    "task prune past the calendar": (lambda s: s.tasks.prune(older_than=1e12), "older_than"),
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


# Every method of every module's façade and of the platform's, each parameter in turn
# given a value of the wrong kind (the others a plausible one, by their annotation): a
# LedgerError or a TypeError from the call's own signature, never an error from inside
# the library. Left out: what waits for work or holds a transaction open.
MODULES = (
    "events",
    "memory",
    "tasks",
    "cases",
    "catalog",
    "sessions",
    "decisions",
    "alerts",
    "runs",
    "agents",
    "checkpoints",
    "expiry",
    "keys",
)
PLATFORM = ("tenants", "platform_tasks", "platform_catalog")
WAITS = {"worker", "follow", "listener", "subscribe", "completing", "transaction", "work"}
WRONG: tuple[object, ...] = (object(), 5, "text", [object()], {"k": object()})
SIGNATURE = ("unexpected keyword argument", "missing", "positional argument")


def _plausible(parameter: inspect.Parameter, session_id: object) -> object:
    annotation = str(parameter.annotation)
    if parameter.name == "session_id":
        return session_id
    if parameter.name == "kind":
        return "incident"
    for marker, value in (
        ("UUID", uuid.uuid4()),
        ("datetime", datetime.now(UTC)),
        ("bool", False),
        ("float", 1.0),
        ("int", 1),
        ("Sequence", []),
        ("Iterable", []),
        ("list", []),
        ("Mapping", {}),
        ("dict", {}),
    ):
        if marker in annotation:
            return value
    return "x"


def _methods(ledger: Ledger, scope: TenantScope) -> Iterator[tuple[str, Callable[..., object]]]:
    faces = [(m, getattr(scope, m)) for m in MODULES] + [(p, getattr(ledger, p)) for p in PLATFORM]
    for module, face in faces:
        for name in sorted(dir(face)):
            method = getattr(face, name)
            if name.startswith("_") or name in WAITS or not inspect.ismethod(method):
                continue
            yield f"{module}.{name}", method


def test_no_method_fails_inside_on_an_argument_of_the_wrong_kind(sync_ledger: Ledger) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    scope = sync_ledger.tenant(tenant)
    scope.cases.define_kind("incident", ["open", "closed"], transitions={"open": ["closed"]})
    session_id = scope.sessions.create("S").id
    inside: list[str] = []
    tried = 0
    for where, method in _methods(sync_ledger, scope):
        parameters = [
            p
            for p in inspect.signature(method).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        for target in parameters:
            for wrong in WRONG:
                arguments = {
                    p.name: wrong if p is target else _plausible(p, session_id)
                    for p in parameters
                    if p is target or p.default is p.empty
                }
                tried += 1
                try:
                    method(**arguments)
                except LedgerError:
                    pass
                except TypeError as exc:
                    if not any(marker in str(exc) for marker in SIGNATURE):
                        inside.append(f"{where}({target.name}={wrong!r}): {exc!r}")
                except Exception as exc:
                    inside.append(f"{where}({target.name}={wrong!r}): {exc!r}")
    assert tried > 1000  # the methods were found
    assert inside == [], "\n".join(inside)
