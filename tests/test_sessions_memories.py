"""Memories of a session (sessions_0003): counted by the database, filtered in every search,
moved by a merge, deleted with the session on request, refused across tenants; both faces
and HTTP."""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from agentledger import EMBEDDING_DIMENSIONS, Filter, InvalidInput, Ledger, NewEntity, NotFound
from agentledger.memory import filters, ops
from tests.test_console_roles import _console
from tests.test_memory_plans import traced


def unit(seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(-1, 1) for _ in range(EMBEDDING_DIMENSIONS)]


def test_the_database_counts_a_sessions_memories(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    mem = scope.memory
    s, other = scope.sessions.create("planning"), scope.sessions.create("other")
    before = scope.sessions.get(s.id).last_activity
    one = mem.upsert("fact", "Budget is 10k", key="budget", session_id=s.id)
    assert one.session_id == s.id
    result = mem.upsert_many(
        [
            NewEntity(kind="fact", name="Ship on Monday", key="ship", session_id=str(s.id)),
            NewEntity(kind="fact", name="Ship on Monday!", key="ship", session_id=str(s.id)),
            NewEntity(kind="fact", name="Owner is Ana", key="owner", session_id=s.id),
            NewEntity(kind="fact", name="Elsewhere", key="else", session_id=other.id),
            NewEntity(kind="fact", name="Nowhere", key="none"),
        ]
    )
    assert result.inserted == 4
    got = scope.sessions.get(s.id)
    assert got.memory_count == 3 and got.last_activity > before
    assert scope.sessions.get(other.id).memory_count == 1
    # Every read of an entity carries its session.
    assert mem.get(one.id).session_id == s.id
    found = mem.get_by_key("owner")
    assert found is not None and found.session_id == s.id
    loose = mem.get_by_key("none")
    assert loose is not None and loose.session_id is None
    mem.relate(one.id, found.id, "relates_to")
    (near,) = mem.neighbours(one.id)
    assert near.entity.session_id == s.id
    (step,) = mem.traverse(one.id)
    assert step.entity.session_id == s.id
    # A merge without a session keeps it; with one, moves the entity and its count.
    kept = mem.upsert("fact", "Budget is 12k", key="budget")
    assert kept.session_id == s.id and scope.sessions.get(s.id).memory_count == 3
    moved = mem.upsert("fact", None, key="budget", session_id=other.id)
    assert moved.session_id == other.id and moved.name == "Budget is 12k"
    assert scope.sessions.get(s.id).memory_count == 2
    assert scope.sessions.get(other.id).memory_count == 2
    moved_many = mem.upsert_many(
        [NewEntity(kind="fact", name=None, key=k, session_id=other.id) for k in ("ship", "none")]
    )
    assert moved_many.merged == 2
    assert scope.sessions.get(s.id).memory_count == 1
    assert scope.sessions.get(other.id).memory_count == 4
    assert mem.delete(found.id)
    assert scope.sessions.get(s.id).memory_count == 0
    listed = mem.list(Filter(session=other.id))
    assert {e.name for e in listed} == {"Budget is 12k", "Ship on Monday!", "Elsewhere", "Nowhere"}


def test_concurrent_writers_are_all_counted(sync_ledger: Ledger) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    scope = sync_ledger.tenant(tid)
    a, b = scope.sessions.create("a").id, scope.sessions.create("b").id
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(8):
                scope.memory.upsert("fact", f"w{n} f{i}", key=f"{n}-{i}", session_id=a)
            scope.memory.upsert_many(
                NewEntity(kind="fact", name=f"w{n} b{i}", key=f"b{n}-{i}", session_id=(a, b)[i % 2])
                for i in range(10)
            )
            # Shared keys: every writer merges into the same entities, moving them to b.
            for i in range(3):
                scope.memory.upsert("fact", f"shared {i}", key=f"shared-{i}", session_id=b)
            scope.memory.upsert("fact", f"w{n} f0", key=f"{n}-0", session_id=b)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    in_a = scope.memory.list(Filter(session=a, include_archived=True), limit=1000)
    in_b = scope.memory.list(Filter(session=b, include_archived=True), limit=1000)
    assert len(in_a) == 6 * (7 + 5) and len(in_b) == 6 * (1 + 5) + 3
    assert scope.sessions.get(a).memory_count == len(in_a)
    assert scope.sessions.get(b).memory_count == len(in_b)


def test_the_session_filter_works_in_every_search(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    mem = scope.memory
    s, other = scope.sessions.create("s"), scope.sessions.create("other")
    vectors = "vector" in ledger.db.extensions
    for i, session in enumerate((s.id, other.id, None)):
        mem.upsert(
            "note",
            f"Quarterly budget review {i}",
            summary="the budget for the launch",
            key=f"n{i}",
            session_id=session,
            user="ana" if i == 0 else None,
            embedding=unit(i) if vectors else None,
        )
    only = Filter(session=s.id)
    searches: dict[str, Any] = {
        "list": lambda f: [(e, None) for e in mem.list(f)],
        "fuzzy": lambda f: mem.find_by_name("Quartrly budgt review", filter=f),
        "text": lambda f: mem.search_text("budget", filter=f),
        "substring": lambda f: mem.find_by_substring("budget review", filter=f),
        "hybrid": lambda f: mem.search("quarterly budget", filter=f),
    }
    if vectors:
        searches["vector"] = lambda f: mem.search_vector(unit(1), filter=f)
        searches["hybrid_vector"] = lambda f: mem.search("budget", embedding=unit(1), filter=f)
    for name, run in searches.items():
        assert len(run(None)) == 3, name
        hits = run(only)
        entities = [h[0] if isinstance(h, tuple) else h.entity for h in hits]
        assert [e.session_id for e in entities] == [s.id], name
        # With the user scopes: the session's memory is ana's own.
        assert len(run(Filter(session=s.id, user="ana", scope="own"))) == 1, name
        assert run(Filter(session=other.id, user="ana", scope="own")) == [], name
        assert run(Filter(session=uuid.uuid4())) == [], name
    with pytest.raises(InvalidInput) as bad:
        mem.list(Filter(session="not-a-session"))
    assert bad.value.field == "session"


def test_deleting_a_session_takes_its_memories_only_when_asked(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    mem = scope.memory
    keep, drop = scope.sessions.create("keep"), scope.sessions.create("drop")
    kept = mem.upsert("fact", "kept", session_id=keep.id)
    a = mem.upsert("fact", "dropped a", session_id=drop.id)
    b = mem.upsert("fact", "dropped b", session_id=drop.id)
    mem.relate(a.id, kept.id, "relates_to")
    summary = scope.sessions.get_summary(drop.id, memories=1)
    assert [e.id for e in summary.memories] == [b.id]
    assert len(scope.sessions.get_summary(drop.id).memories) == 2
    assert scope.sessions.get_summary(drop.id, memories=0).memories == []
    assert scope.sessions.delete(keep.id)  # its memory stays, in no session
    assert mem.get(kept.id).session_id is None
    assert scope.sessions.delete(drop.id, memories=True)
    for gone in (a, b):
        with pytest.raises(NotFound):
            mem.get(gone.id)
    assert mem.neighbours(kept.id) == []
    assert not scope.sessions.delete(drop.id, memories=True)


def test_a_missing_or_foreign_session_is_refused_naming_the_field(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    other_tenant = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other_tenant)
    foreign = ledger.tenant(other_tenant).sessions.create("theirs")
    mine = scope.sessions.create("mine")
    for session in (foreign.id, uuid.uuid4()):
        with pytest.raises(NotFound) as missing:
            scope.memory.upsert("fact", "x", key="k", session_id=session)
        assert missing.value.field == "session_id"
        with pytest.raises(NotFound) as batch:
            scope.memory.upsert_many(
                [
                    NewEntity(kind="fact", name="ok", session_id=mine.id),
                    NewEntity(kind="fact", name="bad", session_id=session),
                ]
            )
        assert batch.value.field == "session_id"
    with pytest.raises(InvalidInput) as bad:
        scope.memory.upsert("fact", "x", session_id="nope")
    assert bad.value.field == "session_id"
    assert scope.memory.stats().entities == 0  # nothing written
    assert scope.sessions.get(mine.id).memory_count == 0
    assert ledger.tenant(other_tenant).sessions.get(foreign.id).memory_count == 0


def test_session_memories_over_http(
    writer: httpx.Client, reader: httpx.Client, intruder: httpx.Client
) -> None:
    sid = writer.post("/v1/sessions", json={"title": "Launch"}).json()["id"]
    other = writer.post("/v1/sessions", json={"title": "Other"}).json()["id"]
    made = writer.post(
        "/v1/memory/entities",
        json={"kind": "fact", "name": "Launch budget agreed", "key": "lb", "session_id": sid},
    )
    assert made.status_code == 200, made.text
    assert made.json()["session_id"] == sid
    batch = writer.post(
        "/v1/memory/entities/batch",
        json={
            "entities": [
                {"kind": "fact", "name": "Launch date Monday", "session_id": sid},
                {"kind": "fact", "name": "Launch venue", "session_id": other},
            ]
        },
    )
    assert batch.status_code == 200, batch.text
    assert reader.get(f"/v1/sessions/{sid}").json()["memory_count"] == 2
    listed = reader.get("/v1/memory/entities", params={"session": sid}).json()["items"]
    assert {e["name"] for e in listed} == {"Launch budget agreed", "Launch date Monday"}
    for mode in ("hybrid", "fuzzy", "text", "substring"):
        hits = reader.post(
            "/v1/memory/search",
            json={"query": "Launch", "mode": mode, "filter": {"session": other}},
        )
        assert hits.status_code == 200, (mode, hits.text)
        assert [h["entity"]["name"] for h in hits.json()] == ["Launch venue"], mode
    summary = reader.get(f"/v1/sessions/{sid}/summary", params={"memories": 1}).json()
    assert [m["name"] for m in summary["memories"]] == ["Launch date Monday"]
    # Another tenant may not attach to this tenant's session: 404 naming the field.
    refused = intruder.post(
        "/v1/memory/entities", json={"kind": "fact", "name": "sneak", "session_id": sid}
    )
    assert refused.status_code == 404 and refused.json()["field"] == "session_id"
    assert refused.headers["content-type"] == "application/problem+json"
    bad = writer.post(
        "/v1/memory/entities", json={"kind": "fact", "name": "x", "session_id": "nope"}
    )
    assert bad.status_code == 422
    assert writer.delete(f"/v1/sessions/{sid}", params={"memories": "true"}).status_code == 204
    assert reader.get("/v1/memory/entities", params={"session": sid}).json()["items"] == []
    gone = reader.get(f"/v1/memory/entities/{made.json()['id']}")
    assert gone.status_code == 404


def test_the_console_session_page_lists_its_memories(
    writer: httpx.Client, base: str, tenants: Any
) -> None:
    sid = writer.post("/v1/sessions", json={"title": "Pricing"}).json()["id"]
    made = writer.post(
        "/v1/memory/entities",
        json={"kind": "fact", "name": "Tangerine <tier>", "summary": "cheap", "session_id": sid},
    ).json()
    browser, _ = _console(base, tenants[0]["keys"]["reader"])
    try:
        page = browser.get(f"/console/sessions/{sid}")
    finally:
        browser.close()
    assert page.status_code == 200
    assert "Tangerine &lt;tier&gt;" in page.text and f"/console/memory/{made['id']}" in page.text
    assert "Memories (latest 1 of 1)" in page.text


def test_a_small_sessions_searches_read_the_session_index(
    sync_ledger: Ledger, database_url: str
) -> None:
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant_id)
    scope = sync_ledger.tenant(tenant_id)
    sid = scope.sessions.create("small").id
    scope.memory.upsert_many(
        NewEntity(
            kind="note",
            name=f"budget item {i}",
            summary="budget review",
            session_id=sid if i % 500 == 0 else None,
        )
        for i in range(3000)
    )
    with psycopg.connect(database_url, autocommit=True) as owner:
        owner.execute("VACUUM ANALYZE agentledger.memory_entities")
    params = {**filters.params(Filter(session=sid)), "limit": 10}
    for statement, args in (
        (ops.Q.search_text, {**params, "query": "budget"}),
        (ops.Q.find_by_substring, {**params, "pattern": "%budget%"}),
        (ops.Q.list_entities, {**params, "after_updated": None, "after_id": None}),
    ):
        shown = traced(database_url, tenant_id, statement, args)
        assert "memory_entities_session_idx" in shown, shown
        assert "search_idx" not in shown and "trgm" not in shown, shown
        assert "Seq Scan on memory_entities" not in shown, shown
    assert len(scope.memory.search_text("budget", filter=Filter(session=sid), limit=100)) == 6
