"""Queue depth and dead letters, on both faces and over HTTP: what waits per queue, the
dead tasks newest first, and a dead task redriven or discarded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from agentledger import IllegalTransition, InvalidInput, Ledger, NewTask, NotFound, Outcome
from agentledger.ledger import TenantScope


def _bury(scope: TenantScope, queue: str, count: int, error: str | None = "boom") -> list[int]:
    """``count`` tasks of ``queue`` gone dead on their only attempt (failed with ``error``,
    or with no message); their ids, oldest first."""
    tasks = scope.tasks
    tasks.enqueue_many(queue, [NewTask(max_attempts=1, input={"n": n}) for n in range(count)])
    claimed = tasks.claim(queue, limit=count)
    assert len(claimed) == count
    outcomes = []
    for t in claimed:
        assert t.claim_token is not None
        outcomes.append(Outcome(id=t.id, token=t.claim_token, action="fail", error=error))
    assert set(tasks.settle(outcomes).applied.values()) == {"dead"}
    return sorted(t.id for t in claimed)


def test_depth_counts_each_state_per_queue(
    ledger: Ledger, tenant_id: str, database_url: str
) -> None:
    scope = ledger.tenant(tenant_id)
    tasks = scope.tasks
    later = datetime.now(UTC) + timedelta(hours=1)
    tasks.enqueue_many("mail", [{"n": n} for n in range(5)])
    tasks.enqueue_many("mail", [NewTask(run_after=later) for _ in range(2)])
    [held, lapsed, failing, done] = tasks.claim("mail", limit=4, lease=600)
    tasks.fail(failing, "flaky")  # back to pending, after a backoff
    tasks.complete(done)
    with psycopg.connect(database_url) as owner:  # one lease ran out
        owner.execute(
            "UPDATE agentledger.tasks SET lease_expires_at = now() - interval '1 second' "
            "WHERE tenant_id = %s AND id = %s",
            (tenant_id, lapsed.id),
        )
    dead = _bury(scope, "reports", 3)
    [mail, reports] = tasks.depth()
    assert (mail.queue, reports.queue) == ("mail", "reports")
    assert (mail.ready + mail.scheduled, mail.retrying, mail.running, mail.expired) == (4, 1, 1, 1)
    assert mail.scheduled >= 2 and mail.dead == 0 and mail.completed_last_minute == 1
    assert mail.oldest_ready_age is not None and mail.oldest_ready_age >= 0
    assert (reports.ready, reports.running, reports.dead, reports.oldest_ready_age) == (
        0,
        0,
        3,
        None,
    )
    assert held.id not in dead
    # The same numbers as the full count, where both count.
    stats = {s.queue: s for s in tasks.stats()}
    assert stats["reports"].dead == reports.dead
    assert stats["mail"].ready == mail.ready
    assert stats["mail"].running == mail.running + mail.expired
    assert tasks.depth("reports") == [reports]
    assert tasks.depth("nothing-here") == []


def test_dead_letters_newest_first_by_queue_and_page(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    first = _bury(scope, "a", 3)
    second = _bury(scope, "b", 2, error=None)  # a failure without a message goes dead too
    scope.tasks.enqueue("a")  # pending: no dead letter
    letters = scope.tasks.dead_letters()
    assert [t.id for t in letters] == sorted(first + second, reverse=True)
    assert {t.status for t in letters} == {"dead"}
    assert [t.id for t in scope.tasks.dead_letters("a")] == first[::-1]
    page = scope.tasks.dead_letters(limit=2)
    rest = scope.tasks.dead_letters(before=page[-1].id, limit=10)
    assert [t.id for t in page + rest] == [t.id for t in letters]
    assert scope.tasks.dead_letters(before=min(first)) == []


def test_redrive_and_discard_take_a_letter_out(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    retried, dropped, kept = _bury(scope, "q", 3)
    back = scope.tasks.redrive(retried)
    assert back.status == "pending" and back.attempts == 0
    gone = scope.tasks.discard(dropped)
    assert gone.status == "cancelled" and gone.error == "boom" and gone.finished_at is not None
    assert [t.id for t in scope.tasks.dead_letters()] == [kept]
    [depth] = scope.tasks.depth("q")
    assert (depth.dead, depth.ready) == (1, 1)
    with pytest.raises(IllegalTransition, match="cannot discard task in state 'pending'"):
        scope.tasks.discard(retried)
    with pytest.raises(IllegalTransition, match="cannot discard task in state 'cancelled'"):
        scope.tasks.discard(dropped)
    with pytest.raises(NotFound):
        scope.tasks.discard(10**12)


def test_another_tenant_sees_no_letters_and_cannot_touch_them(
    ledger: Ledger, tenant_id: str
) -> None:
    [letter] = _bury(ledger.tenant(tenant_id), "q", 1)
    other = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other)
    stranger = ledger.tenant(other).tasks
    assert stranger.dead_letters() == [] and stranger.depth() == []
    with pytest.raises(NotFound):
        stranger.discard(letter)
    assert [t.id for t in ledger.tenant(tenant_id).tasks.dead_letters()] == [letter]


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda t: t.dead_letters(limit=0), "limit"),
        (lambda t: t.dead_letters(before=0), "before"),
        (lambda t: t.dead_letters(""), "queue"),
        (lambda t: t.depth(""), "queue"),
    ],
)
def test_bad_input_names_the_field(
    ledger: Ledger, tenant_id: str, call: object, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        call(ledger.tenant(tenant_id).tasks)  # type: ignore[operator]
    assert caught.value.field == field


def test_depth_and_dead_letters_over_http(
    writer: httpx.Client, reader: httpx.Client, intruder: httpx.Client
) -> None:
    queue = f"h-{uuid.uuid4().hex[:6]}"
    ids = []
    for _ in range(3):
        task = writer.post(f"/v1/queues/{queue}/tasks", json={"max_attempts": 1}).json()
        [claimed] = writer.post(f"/v1/queues/{queue}/claim", json={}).json()
        outcome = {"id": claimed["id"], "token": claimed["claim_token"], "action": "fail"}
        assert writer.post("/v1/tasks/settle", json={"outcomes": [outcome]}).status_code == 200
        ids.append(task["id"])
    [depth] = reader.get("/v1/tasks/depth", params={"queue": queue}).json()
    assert depth["queue"] == queue and depth["dead"] == 3
    page = reader.get("/v1/tasks/dead", params={"queue": queue, "limit": 2}).json()
    assert [t["id"] for t in page["items"]] == ids[:0:-1] and page["next_cursor"]
    rest = reader.get("/v1/tasks/dead", params={"queue": queue, "cursor": page["next_cursor"]})
    assert [t["id"] for t in rest.json()["items"]] == ids[:1]
    assert reader.post(f"/v1/tasks/{ids[0]}/discard").status_code == 403
    assert intruder.post(f"/v1/tasks/{ids[0]}/discard").status_code == 404
    assert intruder.get("/v1/tasks/dead").json()["items"] == []
    discarded = writer.post(f"/v1/tasks/{ids[0]}/discard")
    assert discarded.status_code == 200 and discarded.json()["status"] == "cancelled"
    again = writer.post(f"/v1/tasks/{ids[0]}/discard")
    assert again.status_code == 409 and "cannot discard" in again.json()["detail"]
    assert reader.get("/v1/tasks/depth", params={"queue": queue}).json()[0]["dead"] == 2
