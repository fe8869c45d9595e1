"""The task queue, on both faces: enqueue, claim, settle, leases, retries, dead letters."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from agentledger import (
    Conflict,
    IllegalTransition,
    InvalidInput,
    Ledger,
    NewTask,
    NotFound,
    Outcome,
    Settings,
)
from agentledger.tasks.batch import batch_columns, plain_batch
from agentledger.tasks.ops import Q
from agentledger.tasks.records import TASK_LIFECYCLE
from tests.races import both, rivals


def test_enqueue_claim_complete(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    task = tasks.enqueue("mail", {"to": "a@example.com"}, task_type="send", priority=3)
    assert task.status == "pending" and task.attempts == 0 and task.input == {"to": "a@example.com"}
    [claimed] = tasks.claim("mail", limit=5, worker="w1")
    assert claimed.id == task.id and claimed.status == "running" and claimed.attempts == 1
    assert claimed.claimed_by == "w1" and claimed.claim_token is not None
    assert claimed.lease_expires_at is not None
    done = tasks.complete(claimed, {"sent": True})
    assert done.status == "completed" and done.output == {"sent": True}
    assert done.finished_at is not None
    assert tasks.claim("mail") == []


def test_claim_orders_by_priority_then_age_and_respects_run_after(
    ledger: Ledger, tenant_id: str
) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    low = tasks.enqueue("q", {"n": 1}, priority=0)
    high = tasks.enqueue("q", {"n": 2}, priority=10)
    later = tasks.enqueue(
        "q", {"n": 3}, priority=99, run_after=datetime.now(UTC) + timedelta(hours=1)
    )
    low2 = tasks.enqueue("q", {"n": 4}, priority=0)
    claimed = tasks.claim("q", limit=10)
    assert [t.id for t in claimed] == [high.id, low.id, low2.id]
    assert later.id not in [t.id for t in claimed]


def test_enqueue_many_in_one_statement_with_dedup(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    first = tasks.enqueue("batch", {"k": 0}, dedup_key="same")
    ids = tasks.enqueue_many(
        "batch",
        [
            {"k": 1},
            NewTask(input={"k": 2}, priority=5, task_type="t"),
            NewTask(input={"k": 3}, dedup_key="same"),
            NewTask(input={"k": 4}, dedup_key="new"),
            NewTask(input={"k": 5}, dedup_key="new"),
            NewTask(input={"k": 6}, queue="other"),
        ],
    )
    assert len(ids) == 6
    assert ids[2] == first.id  # the unfinished duplicate is returned
    assert ids[3] == ids[4]  # duplicates within the batch collapse
    assert len(set(ids)) == 5
    assert tasks.get(ids[1]).priority == 5
    assert tasks.get(ids[5]).queue == "other"
    assert tasks.enqueue("batch", {"again": 1}, dedup_key="same").id == first.id
    assert tasks.enqueue_many("batch", []) == []


def test_racing_batches_with_one_dedup_key_both_get_its_id(
    settings: Settings, sync_ledger: Ledger, tenant_id: str
) -> None:
    # The loser's statement cannot see the winner's rows (its snapshot came first): it
    # must still answer with their ids, never None.
    with rivals(settings, sync_ledger, tenant_id, "tasks") as faces:
        for round_ in range(8):
            batch = [NewTask(dedup_key=f"r{round_}-a"), NewTask(dedup_key=f"r{round_}-b")]
            first, second = both(faces, "enqueue_many", "race", batch)
            assert first == second and isinstance(first, list), (first, second)
            assert all(isinstance(i, int) for i in first)


def test_dedup_key_is_free_again_once_the_task_finished(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    first = tasks.enqueue("d", dedup_key="x")
    [claimed] = tasks.claim("d")
    tasks.complete(claimed)
    assert tasks.enqueue("d", dedup_key="x").id != first.id


def test_failure_retries_with_backoff_then_goes_dead_and_redrives(
    ledger: Ledger, tenant_id: str
) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    task = tasks.enqueue("f", max_attempts=2, retry_delay=0.0)
    [c1] = tasks.claim("f")
    retried = tasks.fail(c1, "boom")
    assert retried.status == "pending" and retried.error == "boom" and retried.attempts == 1
    [c2] = tasks.claim("f")
    assert c2.attempts == 2
    dead = tasks.fail(c2, "boom again")
    assert dead.status == "dead" and dead.finished_at is not None
    assert tasks.claim("f") == []
    assert tasks.stats("f")[0].dead == 1
    back = tasks.redrive(task.id)
    assert back.status == "pending" and back.attempts == 0
    with pytest.raises(IllegalTransition, match="cannot redrive task in state 'pending'"):
        tasks.redrive(task.id)


def test_backoff_delays_the_retry(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    tasks.enqueue("b", retry_delay=30.0)
    [c] = tasks.claim("b")
    failed = tasks.fail(c, "later")
    assert failed.run_after > datetime.now(UTC) + timedelta(seconds=10)
    assert tasks.claim("b") == []


def test_permanent_failure_goes_dead_at_once(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    tasks.enqueue("p", max_attempts=5)
    [c] = tasks.claim("p")
    assert tasks.fail(c, "bad input", retry=False).status == "dead"


def test_redrive_queue(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    tasks.enqueue_many("rq", [NewTask(max_attempts=1) for _ in range(3)])
    for c in tasks.claim("rq", limit=3):
        tasks.fail(c, "x")
    assert len(tasks.redrive_queue("rq")) == 3
    assert len(tasks.claim("rq", limit=10)) == 3


def test_cancel_only_pending(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    a = tasks.enqueue("c")
    assert tasks.cancel(a.id).status == "cancelled"
    b = tasks.enqueue("c")
    tasks.claim("c")
    with pytest.raises(IllegalTransition, match="cannot cancel task in state 'running'"):
        tasks.cancel(b.id)
    with pytest.raises(NotFound):
        tasks.cancel(10**12)


def test_release_returns_work_without_spending_an_attempt(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    tasks.enqueue("r")
    [c] = tasks.claim("r")
    released = tasks.release(c)
    assert released.status == "pending" and released.attempts == 0
    assert len(tasks.claim("r")) == 1


def test_expired_lease_is_rescued_and_the_old_holder_cannot_complete(
    ledger: Ledger, tenant_id: str
) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    tasks.enqueue("lease")
    [old] = tasks.claim("lease", lease=0.05, worker="slow")
    time.sleep(0.1)
    [new] = tasks.claim("lease", worker="fast")
    assert new.id == old.id and new.rescues == 1 and new.attempts == 2
    with pytest.raises(Conflict, match="lease was lost"):
        tasks.complete(old, {"late": True})
    assert tasks.complete(new).status == "completed"
    with pytest.raises(IllegalTransition, match="state 'completed'"):
        tasks.complete(new)
    assert tasks.stats("lease")[0].rescued == 1


def test_rescue_of_a_spent_task_buries_it(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    task = tasks.enqueue("spent", max_attempts=1)
    tasks.claim("spent", lease=0.05)
    time.sleep(0.1)
    assert tasks.claim("spent") == []
    dead = tasks.get(task.id)
    assert dead.status == "dead" and "lease expired" in (dead.error or "")


def test_heartbeat_extends_the_lease(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    tasks.enqueue("hb")
    [c] = tasks.claim("hb", lease=60)
    assert c.lease_expires_at is not None
    assert tasks.heartbeat([c], lease=3600) == [c.id]
    # Read on the server's clock: the lease now ends about an hour after the claim.
    extended = tasks.get(c.id).lease_expires_at
    assert extended is not None and extended - c.lease_expires_at > timedelta(minutes=50)
    assert tasks.claim("hb") == []  # still held
    assert tasks.complete(c).status == "completed"
    assert tasks.heartbeat([c]) == []  # no longer held


def test_settle_many_in_one_round_trip_refuses_lost_claims(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    tasks.enqueue_many("s", [{"i": i} for i in range(4)])
    a, b, c, d = tasks.claim("s", limit=4)
    assert a.claim_token and b.claim_token and c.claim_token and d.claim_token
    result = tasks.settle(
        [
            Outcome(id=a.id, token=a.claim_token, action="complete", output={"ok": 1}),
            Outcome(id=b.id, token=b.claim_token, action="fail", error="e", retry=False),
            Outcome(id=c.id, token=c.claim_token, action="release"),
            Outcome(id=d.id, token=uuid.uuid4(), action="complete"),
        ]
    )
    assert result.applied == {a.id: "completed", b.id: "dead", c.id: "pending"}
    assert result.refused == [d.id]


def test_settle_reads_each_outcome_by_its_task(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    tasks.enqueue_many("s2", [{"i": i} for i in range(3)])
    a, b = tasks.claim("s2", limit=2)
    [c] = tasks.claim("s2", limit=1)
    assert a.claim_token and b.claim_token and c.claim_token
    # Every task of a claim holds the claim's token; another claim has another.
    assert a.claim_token == b.claim_token != c.claim_token
    output = {"text": 'caf\u00e9 "quoted" \\ back', "nested": {"list": [1, 2.5, None, True]}}
    result = tasks.settle(
        [
            # Given out of order, with another claim's token, and one id twice (the first
            # outcome given for an id is the one applied).
            Outcome(id=c.id, token=c.claim_token, action="complete", output=output),
            Outcome(id=a.id, token=c.claim_token, action="complete"),
            Outcome(id=b.id, token=b.claim_token, action="fail", error="boom", retry=False),
            Outcome(id=b.id, token=b.claim_token, action="complete"),
        ]
    )
    assert result.applied == {c.id: "completed", b.id: "dead"}
    assert result.refused == [a.id]
    assert tasks.get(c.id).output == output
    assert tasks.get(b.id).error == "boom" and tasks.get(b.id).output is None
    assert tasks.get(a.id).status == "running"


def test_agent_addressed_tasks(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    mine = tasks.enqueue("agents", agent_name="codex")
    anyone = tasks.enqueue("agents")
    assert [t.id for t in tasks.claim("agents", limit=5)] == [anyone.id]
    [c] = tasks.claim("agents", agent="codex")
    assert c.id == mine.id and c.claimed_by == "codex"


def test_list_get_stats(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    ids = tasks.enqueue_many("ls", [{"i": i} for i in range(5)])
    page = tasks.list(queue="ls", limit=3)
    rest = tasks.list(queue="ls", after=page[-1].id)
    assert [t.id for t in page + rest] == ids
    tasks.claim("ls", limit=2)
    [stats] = tasks.stats("ls")
    assert (stats.pending, stats.running, stats.ready) == (3, 2, 3)
    assert stats.oldest_ready_age is not None and stats.oldest_ready_age >= 0
    assert tasks.list(status="running", queue="ls")[0].status == "running"
    with pytest.raises(NotFound):
        tasks.get(10**12)


def test_prune_moves_finished_tasks_to_the_archive(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    tasks.enqueue_many("old", [{"i": i} for i in range(3)])
    for c in tasks.claim("old", limit=3):
        tasks.complete(c)
    assert tasks.prune(older_than=0, limit=2) == 2
    assert tasks.prune(older_than=0, limit=2) == 1
    assert tasks.prune(older_than=0) == 0
    assert tasks.list(queue="old") == []
    archived = tasks.get(c.id)
    assert archived.status == "completed"


def test_enqueue_inside_a_transaction_with_other_writes(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    with pytest.raises(RuntimeError), scope.transaction() as tx:
        tx.tasks.enqueue("tx", {"a": 1})
        tx.keys.create(role="reader")
        raise RuntimeError("roll back")
    assert scope.tasks.list(queue="tx") == []
    with scope.transaction() as tx:
        tx.tasks.enqueue_many("tx", [{"a": 1}, {"a": 2}])
        tx.keys.create(role="reader")
    assert len(scope.tasks.list(queue="tx")) == 2


def test_claim_and_settle_inside_a_transaction(ledger: Ledger, tenant_id: str) -> None:
    """Outside a pipeline too, the compact claim result reads back as whole records."""
    scope = ledger.tenant(tenant_id)
    scope.tasks.enqueue_many("txc", [{"i": i} for i in range(3)])
    with scope.transaction() as tx:
        claimed = tx.tasks.claim("txc", limit=5, worker="tx")
        result = tx.tasks.settle(
            [
                Outcome(id=t.id, token=t.claim_token, action="complete")
                for t in claimed
                if t.claim_token
            ]
        )
    assert [t.input for t in claimed] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert all(t.claimed_by == "tx" and t.status == "running" for t in claimed)
    assert sorted(result.applied) == sorted(t.id for t in claimed) and result.refused == []
    assert all(scope.tasks.get(t.id).status == "completed" for t in claimed)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"queue": ""}, "queue"),
        ({"queue": "q", "input": {"x": "\x00"}}, "input.x"),
        ({"queue": "q", "input": "text"}, "input"),
        ({"queue": "q", "priority": "high"}, "priority"),
        ({"queue": "q", "max_attempts": 0}, "max_attempts"),
        ({"queue": "q", "run_after": datetime(2030, 1, 1)}, "run_after"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    ledger: Ledger, tenant_id: str, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        ledger.tenant(tenant_id).tasks.enqueue(**kwargs)
    assert info.value.field == field


def test_enqueue_many_without_dedup_keys_returns_ids_in_input_order(
    ledger: Ledger, tenant_id: str
) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    later = datetime.now(UTC) + timedelta(hours=1)
    batch: list[Any] = [{"i": i} for i in range(300)]
    batch[7] = NewTask(input={"i": 7}, priority=9, queue="side", run_after=later)
    batch[8] = NewTask(task_type="typed", agent_name="a1", session_id="s", entity_id="e")
    batch[9] = {"nested": {"list": [1, 2.5, None, True, "caf\u00e9"]}, "i": 9}
    ids = tasks.enqueue_many("order", batch)
    assert len(ids) == 300 and len(set(ids)) == 300
    for i in (0, 1, 150, 299):
        assert tasks.get(ids[i]).input == {"i": i}
    side = tasks.get(ids[7])
    assert (side.queue, side.priority, side.run_after, side.input) == ("side", 9, later, {"i": 7})
    typed = tasks.get(ids[8])
    assert (typed.task_type, typed.agent_name, typed.session_id, typed.entity_id) == (
        "typed",
        "a1",
        "s",
        "e",
    )
    assert typed.input == {} and typed.max_attempts == 5 and typed.retry_delay == 1.0
    assert tasks.get(ids[9]).input == batch[9]
    assert [t.id for t in tasks.claim("order", limit=3)] == ids[:3]


def test_enqueue_many_sends_shared_fields_once_and_keeps_them(
    ledger: Ledger, tenant_id: str
) -> None:
    """Fields every task of a batch shares travel as one value (plain_batch); each stored
    task still has them, and a field that differs in one task is kept per task."""
    tasks = ledger.tenant(tenant_id).tasks
    later = datetime.now(UTC) + timedelta(hours=1)
    shared: dict[str, Any] = {
        "task_type": "typed",
        "agent_name": "a9",
        "priority": 3,
        "run_after": later,
    }
    batch = [NewTask(input={"i": i}, max_attempts=7, **shared) for i in range(50)]
    params = plain_batch(batch_columns("q", batch))
    assert params["queues"] is None and params["queue"] == "q"
    assert params["priorities"] is None and params["priority"] == 3
    ids = tasks.enqueue_many("q", batch)
    for i in (0, 49):
        got = tasks.get(ids[i])
        assert (got.task_type, got.agent_name, got.priority, got.run_after) == tuple(
            shared.values()
        )
        assert (got.max_attempts, got.input, got.queue) == (7, {"i": i}, "q")
    batch[10] = NewTask(input={"i": 10}, max_attempts=2, **shared)
    mixed = plain_batch(batch_columns("q", batch))
    assert mixed["attempt_limits"] == [7] * 10 + [2] + [7] * 39 and mixed["max_attempts"] is None
    ids = tasks.enqueue_many("q", batch)
    assert [tasks.get(ids[i]).max_attempts for i in (9, 10, 11)] == [7, 2, 7]
    # Plain inputs share every other field; one task of their own among them does not.
    inputs: list[Any] = [{"i": i} for i in range(4)]
    plain = plain_batch(batch_columns("q", inputs))
    assert plain["priorities"] is None and plain["priority"] == 0 and plain["queue"] == "q"
    inputs[2] = NewTask(input={"i": 2}, priority=9)
    one = plain_batch(batch_columns("q", inputs))
    assert one["priorities"] == [0, 0, 9, 0] and one["queue"] == "q"
    ids = tasks.enqueue_many("q", inputs)
    assert [tasks.get(i).priority for i in ids] == [0, 0, 9, 0]


def test_enqueue_many_with_some_dedup_keys_still_deduplicates(
    ledger: Ledger, tenant_id: str
) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    ids = tasks.enqueue_many(
        "mixed",
        [{"i": 0}, NewTask(input={"i": 1}, dedup_key="k"), {"i": 2}, NewTask(dedup_key="k")],
    )
    assert ids[1] == ids[3] and len(set(ids)) == 3
    assert [tasks.get(i).input for i in ids[:3]] == [{"i": 0}, {"i": 1}, {"i": 2}]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"x": "\x00"}, "tasks[1].x"),
        ({"x": [1, float("nan")]}, "tasks[1].x[1]"),
        ({"x": {1: "int key"}}, "tasks[1].x"),
        ({"x": {"s": {1, 2}}}, "tasks[1].x.s"),
        ({"big": "x" * 1_000_001}, "tasks[1]"),
        (NewTask(input={"x": float("inf")}), "tasks[1].input.x"),
        (NewTask(input={"x": 1}, priority=2**40), "tasks[1].priority"),
        (NewTask(queue=""), "queue"),
        ("not a mapping", "tasks[1]"),
    ],
)
def test_enqueue_many_refuses_bad_items_naming_them(
    ledger: Ledger, tenant_id: str, item: Any, field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        ledger.tenant(tenant_id).tasks.enqueue_many("bad", [{"ok": 1}, item])
    assert info.value.field == field
    assert ledger.tenant(tenant_id).tasks.list(queue="bad") == []


def test_enqueue_many_takes_text_that_only_looks_like_an_escape(
    ledger: Ledger, tenant_id: str
) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(40):
        deep = {"d": deep}
    inputs: list[dict[str, Any]] = [{"s": "\\u0000 is not NUL"}, {"t": ("a", "b")}, deep]
    ids = tasks.enqueue_many("escape", inputs)
    assert tasks.get(ids[0]).input == inputs[0]
    assert tasks.get(ids[1]).input == {"t": ["a", "b"]}
    assert tasks.get(ids[2]).input == deep


def test_claim_limits_are_checked(ledger: Ledger, tenant_id: str) -> None:
    with pytest.raises(InvalidInput) as info:
        ledger.tenant(tenant_id).tasks.claim("q", limit=0)
    assert info.value.field == "limit"


def test_tenants_are_isolated(ledger: Ledger, tenant_id: str) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other)
    mine = ledger.tenant(tenant_id).tasks.enqueue("iso", {"secret": 1})
    assert ledger.tenant(other).tasks.claim("iso", limit=10) == []
    with pytest.raises(NotFound):
        ledger.tenant(other).tasks.get(mine.id)


def test_claimed_tasks_are_recorded_exactly_as_stored(ledger: Ledger, tenant_id: str) -> None:
    """A claim returns only what differs per task and fills in what the claim itself set
    (tenant, queue, status, claimed_by, lease, update time): the records must still be
    exactly the stored rows, fresh and rescued tasks alike."""
    tasks = ledger.tenant(tenant_id).tasks
    later = datetime.now(UTC) - timedelta(seconds=1)
    tasks.enqueue(
        "exact",
        {"k": [1, "two"]},
        task_type="t",
        priority=7,
        agent_name="codex",
        max_attempts=3,
        retry_delay=2.5,
        run_after=later,
        session_id="s1",
        entity_id="e1",
        dedup_key="d1",
    )
    tasks.enqueue_many("exact", [{"i": i} for i in range(3)])
    [old] = tasks.claim("exact", limit=1, lease=0.05, agent="codex")
    assert old.error is None and old.rescues == 0
    time.sleep(0.1)
    claimed = tasks.claim("exact", limit=10, worker="w9", agent="codex")
    assert [t.priority for t in claimed] == [7, 0, 0, 0]
    assert claimed[0].id == old.id and claimed[0].rescues == 1
    for task in claimed:
        assert task == tasks.get(task.id)
        assert task.status == "running" and task.claimed_by == "w9" and task.finished_at is None


def test_each_claim_gets_its_own_token(ledger: Ledger, tenant_id: str) -> None:
    tasks = ledger.tenant(tenant_id).tasks
    tasks.enqueue_many("tok", [{"i": i} for i in range(20)])
    first = tasks.claim("tok", limit=10)
    second = tasks.claim("tok", limit=10)
    tokens = [t.claim_token for t in first + second]
    assert None not in tokens
    assert {t.claim_token for t in first} != {t.claim_token for t in second}
    assert len({t.claim_token for t in first}) == len({t.claim_token for t in second}) == 1
    # The same task claimed again (released, then re-claimed) holds a new token, and the
    # old one no longer settles it.
    task = first[0]
    tasks.release(task)
    [again] = tasks.claim("tok", limit=1)
    assert again.id == task.id and again.claim_token not in tokens
    assert task.claim_token is not None
    assert tasks.settle([Outcome(id=task.id, token=task.claim_token, action="complete")]).refused
    assert tasks.complete(again).status == "completed"


def test_every_named_query_is_used() -> None:
    from pathlib import Path

    import agentledger.tasks.ops as ops_module

    source = Path(ops_module.__file__).read_text()
    for name in Q.by_name:
        assert f"Q.{name}." in source, name


def test_sql_guards_follow_the_lifecycle() -> None:
    assert TASK_LIFECYCLE.sources("complete") == ["running"]
    assert set(TASK_LIFECYCLE.sources("claim")) == {"pending", "running"}
    assert TASK_LIFECYCLE.target("retry") == TASK_LIFECYCLE.target("release") == "pending"
    claim = Q.settle_and_claim.sql
    assert "status = 'pending'" in claim and "status = 'running'" in claim
