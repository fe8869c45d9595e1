"""The example's data, loaded with one command, at fixed times, so that every run gives
identical listings:

    python examples/sentinai_phase6/seed_data.py

Two tenants (finance, healthcare); global domain packs Finance and Healthcare at v1 and
v2; each tenant's policy pack at v1 and v2; 50 exceptions EX-2025-0001..0050 across
severities, statuses, domains and dates, some past their SLA at ``REFERENCE_NOW``; the
seed's events for each; two playbooks with ordered steps (one at v2); a global and a
tenant tool. A second run writes nothing: exceptions are upserted by id, events carry
fixed ids, and a pack version is written only when missing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import uuid
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agentledger import AsyncLedger, NotFound
from examples.sentinai_phase6.catalog import (
    DomainPackRepository,
    PlaybookRepository,
    TenantPolicyPackRepository,
    TenantRepository,
    ToolDefinitionRepository,
)
from examples.sentinai_phase6.config import initialize_database, phase6_settings
from examples.sentinai_phase6.events import EventEnvelope
from examples.sentinai_phase6.exceptions import ExceptionEventRepository, ExceptionRepository
from examples.sentinai_phase6.models import SEVERITIES, STATUSES
from examples.sentinai_phase6.session import unit_of_work

TENANTS = {"finance": "Finance Corp", "healthcare": "Healthcare Inc"}
BASE = dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC)
REFERENCE_NOW = dt.datetime(2025, 1, 21, tzinfo=dt.UTC)  # "now" for the SLA checks
SLA_HOURS = {"critical": 4, "high": 24, "medium": 72, "low": 168}
EVENT_IDS = uuid.UUID("0b6c3f5e-27d4-4b8e-a1f3-5c9d2e7a4b10")
EXCEPTIONS = 50
LOADERS = 4  # exceptions loaded at once
FINANCE_COUNT = 30  # EX-2025-0001..0030 belong to finance, the rest to healthcare

PROFILE: dict[str, dict[str, list[str]]] = {
    "finance": {
        "domains": ["Finance", "Treasury"],
        "types": ["SettlementFail", "MarginCall", "ReconBreak"],
        "sources": ["Murex", "Calypso"],
        "entities": ["counterparty:ACME", "counterparty:Globex", "account:ACC-001",
                     "trade:T-4411", "counterparty:Initech"],
    },
    "healthcare": {
        "domains": ["Healthcare", "Claims"],
        "types": ["ClaimDenied", "EligibilityMismatch", "PriorAuthMissing"],
        "sources": ["ClaimsApp", "EHR"],
        "entities": ["patient:P-100", "patient:P-200", "provider:PR-7", "claim:C-9001",
                     "patient:P-300"],
    },
}  # fmt: skip
DOMAIN_PACKS = {
    "Finance": [
        {"domain": "Finance", "exception_types": ["SettlementFail", "MarginCall"]},
        {"domain": "Finance", "exception_types": ["SettlementFail", "MarginCall", "ReconBreak"]},
    ],
    "Healthcare": [
        {"domain": "Healthcare", "exception_types": ["ClaimDenied"]},
        {"domain": "Healthcare", "exception_types": ["ClaimDenied", "EligibilityMismatch"]},
    ],
}
PLAYBOOKS: dict[str, tuple[str, str, dict[str, Any], list[list[dict[str, Any]]]]] = {
    "finance": ("settlement-fail", "Settlement fail", {"type": "SettlementFail"}, [
        [{"name": "Notify the desk", "action_type": "notify", "params": {"channel": "desk"}},
         {"name": "Retry in Murex", "action_type": "call_tool", "params": {"tool": "murex-rest"}}],
        [{"name": "Notify the desk", "action_type": "notify", "params": {"channel": "desk"}},
         {"name": "Retry in Murex", "action_type": "call_tool", "params": {"tool": "murex-rest"}},
         {"name": "Force settle", "action_type": "force_settle", "params": {}},
         {"name": "Escalate", "action_type": "escalate", "params": {"to": "ops-lead"}}],
    ]),
    "healthcare": ("claim-denied", "Claim denied", {"type": "ClaimDenied"}, [
        [{"name": "Email the provider", "action_type": "call_tool",
          "params": {"tool": "email-notify"}},
         {"name": "Escalate", "action_type": "escalate", "params": {"to": "claims-lead"}}],
    ]),
}  # fmt: skip
GLOBAL_TOOL: tuple[str, str, dict[str, Any]] = (
    "email-notify",
    "email",
    {"smtp": "smtp.example.com", "from": "ops@example.com"},
)
TENANT_TOOL: tuple[str, str, str, dict[str, Any]] = (
    "finance",
    "murex-rest",
    "REST",
    {"endpoint": "https://murex.example.com/api"},
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Step:
    """One timed step of an exception's history: an event, or a move to ``status``."""

    at: dt.datetime
    status: str | None = None
    event: EventEnvelope | None = None


def tenant_of(i: int) -> str:
    return "finance" if i <= FINANCE_COUNT else "healthcare"


def exception(i: int) -> dict[str, Any]:
    """Exception ``i`` (1..50) as the seed's columns, at its final status."""
    tenant = tenant_of(i)
    p = PROFILE[tenant]
    severity = SEVERITIES[(i * 3) % 4]
    created = BASE + dt.timedelta(hours=7 * i)
    kind = p["types"][i % 3]
    entity = p["entities"][(i // 2) % 5]
    source = p["sources"][i % 2]
    status = STATUSES[i % 5 % 4]  # open, analyzing, resolved, escalated, open...
    playbook = PLAYBOOKS[tenant][0] if kind == PLAYBOOKS[tenant][2]["type"] else None
    return {
        "exception_id": f"EX-2025-{i:04d}",
        "domain": p["domains"][(i // 3) % 2],
        "type": kind,
        "severity": severity,
        "status": status,
        "source_system": source,
        "entity": entity,
        "amount": Decimal(f"{(i * 7919) % 100000}.{i:02d}") if tenant == "finance" else None,
        "sla_deadline": created + dt.timedelta(hours=SLA_HOURS[severity]),
        "owner": None if status == "open" else "triage-agent",
        "current_playbook_id": playbook if status != "open" else None,
        "current_step": 1 if playbook and status != "open" else None,
        "title": f"{kind} on {entity}",
        "description": f"{kind} reported by {source} for {entity}.",
        "created_at": created,
    }


def history(i: int) -> list[Step]:
    """The exception's events and status moves, in time order."""
    ex = exception(i)
    tenant, ref, t0, final = tenant_of(i), ex["exception_id"], ex["created_at"], ex["status"]

    def event(minutes: int, kind: str, actor: str, actor_id: str, **payload: Any) -> Step:
        at = t0 + dt.timedelta(minutes=minutes)
        envelope = EventEnvelope(
            tenant_id=tenant,
            exception_id=ref,
            event_type=kind,
            actor_type=actor,
            actor_id=actor_id,
            payload=payload,
            event_id=str(uuid.uuid5(EVENT_IDS, f"{tenant}/{ref}/{kind}")),
            created_at=at,
        )
        return Step(at=at, event=envelope)

    def move(minutes: int, status: str) -> Step:
        return Step(at=t0 + dt.timedelta(minutes=minutes), status=status)

    steps = [
        event(0, "ExceptionCreated", "system", "ingestion", source_system=ex["source_system"]),
        event(2, "ExceptionNormalized", "agent", "intake-agent", normalized=True),
        event(5, "TriageCompleted", "agent", "triage-agent", severity=ex["severity"]),
    ]
    if final != "open":
        steps += [
            move(8, "analyzing"),
            event(10, "PolicyEvaluated", "agent", "policy-agent", decision="allowed"),
            event(
                12,
                "LLMDecisionProposed",
                "agent",
                "resolution-agent",
                decision="retry" if final == "resolved" else "escalate",
                reasoning=f"{ex['type']} on {ex['entity']}: similar cases were "
                + ("resolved by a retry." if final == "resolved" else "escalated to a person."),
            ),
            event(15, "ResolutionSuggested", "agent", "resolution-agent", suggestion="retry"),
        ]
    if final == "escalated":
        steps.append(move(20, "escalated"))
    if final == "resolved":
        steps += [
            event(30, "ResolutionApproved", "user", "ops-lead", approved_by="ops-lead"),
            move(31, "resolved"),
            event(35, "FeedbackCaptured", "user", "ops-lead", feedback="helpful"),
        ]
    if i % 7 == 0:
        steps += [
            event(40, "CopilotQuestionAsked", "user", "analyst", question="Seen this before?"),
            event(41, "CopilotAnswerGiven", "agent", "copilot", answer="Yes, twice this week."),
        ]
    return steps


def exceptions_of(tenant: str) -> Iterator[dict[str, Any]]:
    for i in range(1, EXCEPTIONS + 1):
        if tenant_of(i) == tenant:
            yield exception(i)


def version_time(n: int) -> dt.datetime:
    """Version ``n`` of a pack, playbook or tool was written this long before the data."""
    return BASE - dt.timedelta(days=30 - 10 * n)


async def missing(read: Awaitable[Any]) -> bool:
    """Whether the version ``read`` looks for is not stored yet."""
    try:
        await read
    except NotFound:
        return True
    return False


async def load_catalog(ledger: AsyncLedger) -> None:
    """Packs, playbooks and tools; a version is written only when it is missing."""
    packs = DomainPackRepository(ledger)
    for domain, versions in DOMAIN_PACKS.items():
        for n, pack in enumerate(versions, 1):
            if await missing(packs.get_version(domain, n)):
                await packs.create_version(domain, pack, at=version_time(n))
    policies = TenantPolicyPackRepository(ledger)
    for tenant_id in TENANTS:
        for n in (1, 2):
            if await missing(policies.get_version(tenant_id, n)):
                policy = {"tenant": tenant_id, "approval_threshold": 10_000 * n,
                          "auto_resolve": n > 1}  # fmt: skip
                await policies.create_version(tenant_id, policy, at=version_time(n))
    playbooks = PlaybookRepository(ledger)
    for tenant_id, (pid, name, conditions, step_lists) in PLAYBOOKS.items():
        for n, steps in enumerate(step_lists, 1):
            if await missing(playbooks.get_version(tenant_id, pid, n)):
                await playbooks.create_version(
                    tenant_id,
                    pid,
                    name=name,
                    conditions=conditions,
                    steps=steps,
                    expected_version=n - 1,
                    at=version_time(n),
                )
    tools = ToolDefinitionRepository(ledger)
    await tools.create_tool(*GLOBAL_TOOL, at=version_time(1))
    tenant, name, kind, config = TENANT_TOOL
    await tools.create_tool(name, kind, config, tenant_id=tenant, at=version_time(1))


async def load_exception(ledger: AsyncLedger, i: int) -> None:
    """Exception ``i`` and its history, in one transaction; the moves already taken (a
    second run) are skipped, the events are appended once by their fixed ids."""
    ex = exception(i)
    tenant, final = tenant_of(i), ex["status"]
    path = ["open", "analyzing", final] if final != "open" else ["open"]
    async with unit_of_work(ledger, tenant) as tx:
        repo, events = ExceptionRepository(tx), ExceptionEventRepository(tx)
        stored = await repo.get_exception(tenant, ex["exception_id"])
        if stored is None:
            stored = await repo.upsert_exception(tenant, {**ex, "status": "open"})
        done = path.index(stored.status) if stored.status in path else len(path)
        for step in history(i):
            if step.event is not None:
                await events.append_event_if_new(step.event)
            elif step.status is not None and path.index(step.status) > done:
                changes = {"status": step.status, "created_at": step.at}
                await repo.update_exception(tenant, ex["exception_id"], changes)


async def load(ledger: AsyncLedger) -> dict[str, int]:
    """Load everything (idempotent); returns what the tenants hold."""
    tenants = TenantRepository(ledger)
    for tenant_id, name in TENANTS.items():
        await tenants.create_tenant(tenant_id, name)
    await load_catalog(ledger)
    gate = asyncio.Semaphore(LOADERS)

    async def one(i: int) -> None:
        async with gate:
            await load_exception(ledger, i)

    # Each exception is its own transaction with fixed times: the order they commit in
    # changes no listing, so several load at once.
    await asyncio.gather(*(one(i) for i in range(1, EXCEPTIONS + 1)))
    repo = ExceptionRepository(ledger)
    return {t: (await repo.aggregates(t)).total for t in TENANTS}


async def main() -> int:
    ledger = await initialize_database(phase6_settings())
    try:
        counts = await load(ledger)
    finally:
        await ledger.close()
    print(f"loaded {sum(counts.values())} exceptions: " + ", ".join(
        f"{tenant} {n}" for tenant, n in counts.items()))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
