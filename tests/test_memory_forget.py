"""Forgetting a user: every entity it owns goes, with the relationships touching them, its
vectors and expiry; other users', the tenant's and another tenant's stay; a row another
transaction holds is waited for, not skipped."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from agentledger import Filter, InvalidInput, Ledger, NotFound, Settings, cli as cli_module
from agentledger.api import create_app
from tests.api_support import ADMIN, tenant_with_keys
from tests.conftest import new_tenant
from tests.http_server import client, serve


def _own(ledger: Ledger, tid: str, user: str) -> set[str]:
    return {e.name for e in ledger.tenant(tid).memory.list(Filter(user=user, scope="own"))}


@pytest.mark.pgvector
def test_a_user_is_forgotten_and_no_one_else(ledger: Ledger) -> None:
    tid, other = new_tenant(ledger), new_tenant(ledger)
    mem = ledger.tenant(tid).memory
    mem.declare_space("small", dimensions=3)
    session = ledger.tenant(tid).sessions.create("call")
    mine = [
        mem.upsert("fact", f"alice fact {n}", user="alice", session_id=session.id) for n in range(4)
    ]
    shared = mem.upsert(
        "fact", "alice shared", user="alice", shared=True, space="small", embedding=[0.1, 0.2, 0.3]
    )
    bobs = mem.upsert("fact", "bob fact", user="bob")
    tenants = mem.upsert("fact", "company fact")
    mem.relate(bobs.id, mine[0].id, "mentions")  # into alice's: goes with it
    mem.relate(shared.id, tenants.id, "about")  # out of alice's: goes too
    mem.relate(bobs.id, tenants.id, "about")  # neither: stays
    ledger.tenant(tid).expiry.set_ttls([mine[1].id], [3600.0])
    ledger.tenant(other).memory.upsert("fact", "the other tenant's alice", user="alice")
    assert ledger.tenant(tid).sessions.get(session.id).memory_count == 4

    assert mem.forget_user("alice", batch_size=2) == 5  # batches of 2, 2, 1
    assert _own(ledger, tid, "alice") == set()
    with pytest.raises(NotFound):
        mem.get(shared.id)
    assert _own(ledger, tid, "bob") == {"bob fact"}
    assert mem.get(tenants.id).name == "company fact"
    edges = mem.relationships([bobs.id, tenants.id])
    assert [(e.from_id, e.to_id) for e in edges] == [(bobs.id, tenants.id)]
    assert ledger.tenant(tid).sessions.get(session.id).memory_count == 0
    assert _own(ledger, other, "alice") == {"the other tenant's alice"}
    assert mem.forget_user("alice") == 0  # nothing left: repeatable


def test_bad_input_is_refused_and_nothing_is_deleted(ledger: Ledger) -> None:
    tid = new_tenant(ledger)
    mem = ledger.tenant(tid).memory
    mem.upsert("fact", "kept", user="alice")
    mem.upsert("fact", "the tenant's")
    for user, batch in ((None, 10), ("", 10), ("x" * 201, 10), ("alice", 0)):
        with pytest.raises(InvalidInput) as refused:
            mem.forget_user(user, batch_size=batch)  # type: ignore[arg-type]
        assert refused.value.field == ("batch_size" if batch == 0 else "user")
    assert _own(ledger, tid, "alice") == {"kept"}
    assert len(mem.list()) == 2


def test_a_row_another_transaction_holds_is_waited_for(sync_ledger: Ledger) -> None:
    """Retention skips what others hold; forgetting must not leave it behind."""
    tid = new_tenant(sync_ledger)
    scope = sync_ledger.tenant(tid)
    held = scope.memory.upsert("fact", "being written", user="alice")
    scope.memory.upsert("fact", "idle", user="alice")
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        with scope.transaction() as tx:
            tx.execute(
                "SELECT 1 FROM agentledger.memory_entities WHERE id = %(id)s FOR UPDATE",
                {"id": held.id},
            )
            locked.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(30)
    result: list[int] = []
    forgetting = threading.Thread(target=lambda: result.append(scope.memory.forget_user("alice")))
    forgetting.start()
    forgetting.join(1.0)
    assert forgetting.is_alive()  # waiting for the held row
    release.set()
    holder.join(30)
    forgetting.join(30)
    assert result == [2]  # the held one too, once its holder committed
    assert _own(sync_ledger, tid, "alice") == set()


def test_the_cli_asks_then_forgets(
    sync_ledger: Ledger, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = new_tenant(sync_ledger)
    for n in range(2):
        sync_ledger.tenant(tid).memory.upsert("fact", f"fact {n}", user="alice")
    monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
    runner = CliRunner()
    command = ["memory", "forget-user", "alice", "--tenant", tid]
    kept = runner.invoke(cli_module.app, command, input="n\n")
    assert kept.exit_code == 1 and "Delete the 2 entities alice owns" in kept.output
    assert _own(sync_ledger, tid, "alice") == {"fact 0", "fact 1"}
    done = runner.invoke(cli_module.app, [*command, "--yes"])
    assert done.exit_code == 0 and "deleted 2 entities of alice" in done.output
    assert _own(sync_ledger, tid, "alice") == set()


@pytest.fixture
def http(settings: Settings) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    with serve(create_app(settings.with_(admin_key=ADMIN))) as base, client(base, ADMIN) as p:
        yield client(base), tenant_with_keys(p)


def test_the_api_forgets_a_user_with_an_admin_key(
    http: tuple[httpx.Client, dict[str, Any]],
) -> None:
    web, tenant = http
    keys = tenant["keys"]
    writer = {"Authorization": f"Bearer {keys['writer']}"}
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    for n in range(3):
        body = {"kind": "fact", "name": f"fact {n}", "user": "alice"}
        assert web.post("/v1/memory/entities", json=body, headers=writer).status_code == 200
    assert web.delete("/v1/memory/users/alice", headers=writer).status_code == 403
    answer = web.delete("/v1/memory/users/alice", headers=admin)
    assert answer.status_code == 200 and answer.json() == {"deleted": 3}
    listed = web.get("/v1/memory/entities", params={"user": "alice"}, headers=admin)
    assert listed.json()["items"] == []
