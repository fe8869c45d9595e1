"""The agent registry, on both faces."""

from __future__ import annotations

import time
import uuid

import pytest

from agentledger import InvalidInput, Ledger, NotFound


def test_register_merge_and_get(ledger: Ledger, tenant_id: str) -> None:
    agents = ledger.tenant(tenant_id).agents
    first = agents.register(
        "codex",
        agent_type="code",
        domain="eng",
        command="codex --yes",
        capabilities=["python", "sql"],
        config={"model": "x"},
    )
    assert first.status == "available" and first.capabilities == ["python", "sql"]
    assert first.last_heartbeat_at is not None
    # None keeps stored values: a partial update never erases.
    again = agents.register("codex", domain="platform")
    assert again.domain == "platform" and again.command == "codex --yes"
    assert again.config == {"model": "x"}
    assert agents.get("codex") == again


def test_heartbeat_status_and_runs(ledger: Ledger, tenant_id: str) -> None:
    agents = ledger.tenant(tenant_id).agents
    agents.register("r1", agent_type="research")
    busy = agents.heartbeat("r1", status="busy")
    assert busy.status == "busy" and busy.last_run_at is None
    ran = agents.record_run("r1", status="available")
    assert ran.last_run_at is not None and ran.status == "available"
    with pytest.raises(NotFound, match="'ghost'"):
        agents.heartbeat("ghost")
    with pytest.raises(InvalidInput) as info:
        agents.heartbeat("r1", status="sleeping")
    assert info.value.field == "status"


def test_silent_agent_is_shown_offline(ledger: Ledger, tenant_id: str) -> None:
    agents = ledger.tenant(tenant_id).agents
    agents.register("quiet", heartbeat_timeout=0.05)
    agents.register("alive", heartbeat_timeout=600)
    time.sleep(0.1)
    assert agents.get("quiet").status == "offline"
    assert [a.name for a in agents.list(status="offline")] == ["quiet"]
    assert [a.name for a in agents.list(status="available")] == ["alive"]
    assert agents.heartbeat("quiet").status == "available"


def test_list_filters_and_pages(ledger: Ledger, tenant_id: str) -> None:
    agents = ledger.tenant(tenant_id).agents
    for i in range(5):
        agents.register(f"a{i}", agent_type="code" if i % 2 else "doc", capabilities=[f"c{i}"])
    assert [a.name for a in agents.list(agent_type="code")] == ["a1", "a3"]
    assert [a.name for a in agents.list(capability="c4")] == ["a4"]
    page = agents.list(limit=2)
    assert [a.name for a in agents.list(after=page[-1].name, limit=2)] == ["a2", "a3"]
    assert agents.remove("a0") is True and agents.remove("a0") is False
    with pytest.raises(NotFound):
        agents.get("a0")


def test_agents_are_tenant_isolated(ledger: Ledger, tenant_id: str) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other)
    ledger.tenant(tenant_id).agents.register("secret-agent")
    assert ledger.tenant(other).agents.list() == []


def test_an_agent_without_a_heartbeat_shows_what_it_reported(
    ledger: Ledger, tenant_id: str
) -> None:
    agents = ledger.tenant(tenant_id).agents
    weekly = agents.register("weekly", agent_type="research", heartbeat_timeout="never")
    assert weekly.heartbeat_timeout is None and weekly.status == "available"
    agents.register("watched", heartbeat_timeout=0.05)
    time.sleep(0.1)
    assert agents.get("weekly").status == "available"  # silent, yet not offline
    assert agents.get("watched").status == "offline"
    assert [a.name for a in agents.list(status="available")] == ["weekly"]
    assert agents.heartbeat("weekly", status="error").status == "error"
    assert agents.record_run("weekly", status="available").status == "available"
    # Updating other fields keeps it unwatched; a number watches it again.
    assert agents.register("weekly", domain="market").heartbeat_timeout is None
    again = agents.register("weekly", heartbeat_timeout=0.05)
    assert again.heartbeat_timeout == 0.05
    with pytest.raises(InvalidInput) as info:
        agents.register("weekly", heartbeat_timeout="always")  # type: ignore[arg-type]
    assert info.value.field == "heartbeat_timeout"
    assert agents.get("weekly").heartbeat_timeout == 0.05  # nothing written


def test_updating_a_silent_agent_does_not_bring_it_back(ledger: Ledger, tenant_id: str) -> None:
    """Registering a new agent counts as its first heartbeat; updating a registered one is
    no sign of life: an offline agent stays offline, with its last heartbeat as it was."""
    agents = ledger.tenant(tenant_id).agents
    first = agents.register("silent", heartbeat_timeout=0.05, capabilities=["a"])
    assert first.status == "available" and first.last_heartbeat_at is not None
    agents.heartbeat("silent", status="busy")
    time.sleep(0.1)
    beat = agents.get("silent")
    assert beat.status == "offline"
    updated = agents.register("silent", config={"model": "x"}, capabilities=["a", "b"])
    assert updated.config == {"model": "x"} and updated.capabilities == ["a", "b"]
    assert updated.status == "offline" and updated.last_heartbeat_at == beat.last_heartbeat_at
    assert [a.name for a in agents.list(status="offline")] == ["silent"]
    assert agents.heartbeat("silent").status == "busy"  # a heartbeat does bring it back
