"""Tenants and API keys, on both faces."""

from __future__ import annotations

import uuid
from typing import get_args

import pytest

from agentledger import (
    Conflict,
    IllegalTransition,
    InvalidInput,
    Ledger,
    NotFound,
    TenantInactive,
)
from agentledger.tenants.records import TENANT_LIFECYCLE, TenantStatus


def test_the_status_type_is_the_lifecycles_states() -> None:
    """``TenantStatus`` (the API's enum) restates the lifecycle's states: they agree."""
    assert set(get_args(TenantStatus)) == set(TENANT_LIFECYCLE.states)


def test_create_get_and_list(ledger: Ledger) -> None:
    tid = f"acme-{uuid.uuid4().hex[:8]}"
    created = ledger.tenants.create(tid, "Acme Corp", {"plan": "pro"})
    assert created.status == "active"
    assert created.metadata == {"plan": "pro"}
    assert ledger.tenants.get(tid) == created
    assert tid in [t.id for t in ledger.tenants.list(limit=1000)]


def test_create_twice_conflicts_unless_exist_ok(ledger: Ledger, tenant_id: str) -> None:
    with pytest.raises(Conflict, match=tenant_id):
        ledger.tenants.create(tenant_id)
    assert ledger.tenants.create(tenant_id, exist_ok=True).id == tenant_id


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "-leading", "nul\x00"])
def test_bad_tenant_ids_are_refused_naming_the_field(ledger: Ledger, bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        ledger.tenants.create(bad)
    assert info.value.field == "tenant_id"


def test_keyset_pagination(ledger: Ledger) -> None:
    prefix = f"page-{uuid.uuid4().hex[:6]}"
    ids = sorted(f"{prefix}-{i:02d}" for i in range(5))
    for tid in ids:
        ledger.tenants.create(tid)
    first = ledger.tenants.list(after=f"{prefix}-", limit=2)
    second = ledger.tenants.list(after=first[-1].id, limit=2)
    assert [t.id for t in first + second] == ids[:4]


def test_suspended_tenant_reads_but_cannot_write(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    scope.keys.create(role="reader")
    ledger.tenants.suspend(tenant_id)
    assert len(scope.keys.list()) == 1
    with pytest.raises(TenantInactive, match="suspended"):
        scope.keys.create(role="reader")
    ledger.tenants.activate(tenant_id)
    scope.keys.create(role="reader")
    assert len(scope.keys.list()) == 2


def test_archived_tenant_can_neither_read_nor_write(ledger: Ledger, tenant_id: str) -> None:
    ledger.tenants.archive(tenant_id)
    scope = ledger.tenant(tenant_id)
    with pytest.raises(TenantInactive, match="archived"):
        scope.keys.list()
    with pytest.raises(TenantInactive, match="archived"):
        scope.keys.create(role="admin")


def test_illegal_transition_names_action_and_state(ledger: Ledger, tenant_id: str) -> None:
    ledger.tenants.archive(tenant_id)
    with pytest.raises(IllegalTransition, match="cannot suspend tenant in state 'archived'"):
        ledger.tenants.suspend(tenant_id)


def test_unknown_tenant_is_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        ledger.tenants.get("no-such-tenant")
    with pytest.raises(NotFound, match="does not exist"):
        ledger.tenant("no-such-tenant").keys.list()


def test_keys_are_hashed_scoped_and_revocable(ledger: Ledger, tenant_id: str) -> None:
    other = ledger.tenants.create(f"o-{uuid.uuid4().hex[:8]}").id
    created = ledger.tenant(tenant_id).keys.create(role="writer", name="ci")
    ledger.tenant(other).keys.create(role="admin")
    assert created.secret.startswith("al_")
    identity = ledger.tenants.authenticate(created.secret)
    assert identity is not None
    assert (identity.tenant_id, identity.role) == (tenant_id, "writer")
    assert [k.id for k in ledger.tenant(tenant_id).keys.list()] == [created.key.id]
    ledger.tenant(tenant_id).keys.revoke(created.key.id)
    assert ledger.tenants.authenticate(created.secret) is None
    assert ledger.tenant(tenant_id).keys.list() == []
    assert len(ledger.tenant(tenant_id).keys.list(include_revoked=True)) == 1


def test_revoking_another_tenants_key_is_not_found(ledger: Ledger, tenant_id: str) -> None:
    other = ledger.tenants.create(f"o-{uuid.uuid4().hex[:8]}").id
    theirs = ledger.tenant(other).keys.create(role="admin")
    with pytest.raises(NotFound):
        ledger.tenant(tenant_id).keys.revoke(theirs.key.id)
    assert ledger.tenants.authenticate(theirs.secret) is not None


def test_bad_key_role_is_refused(ledger: Ledger, tenant_id: str) -> None:
    with pytest.raises(InvalidInput, match="role") as info:
        ledger.tenant(tenant_id).keys.create(role="root")
    assert info.value.field == "role"
    assert ledger.tenant(tenant_id).keys.list() == []


def test_transaction_commits_all_or_nothing(ledger: Ledger, tenant_id: str) -> None:
    scope = ledger.tenant(tenant_id)
    with scope.transaction() as tx:
        tx.keys.create(role="reader")
        tx.keys.create(role="writer")
        assert len(tx.keys.list()) == 2
    assert len(scope.keys.list()) == 2

    class Boom(Exception):
        pass

    with pytest.raises(Boom), scope.transaction() as tx:
        tx.keys.create(role="admin")
        raise Boom
    assert len(scope.keys.list()) == 2

    with pytest.raises(InvalidInput), scope.transaction() as tx:
        tx.keys.create(role="admin")
        tx.keys.create(role="nope")
    assert len(scope.keys.list()) == 2
