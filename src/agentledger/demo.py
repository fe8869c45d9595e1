"""The demo data set: a small sales team's agent, a month of its work, ready to browse."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Callable

from agentledger.ledger import Ledger, TenantScope
from agentledger.memory import NewEntity

CONTACTS = [
    ("John Smith", "Acme Corp", "CFO", "email", "formal, data-driven"),
    ("Maria Garcia", "Globex", "Head of Procurement", "phone", "direct, quick replies"),
    ("Wei Chen", "Initech", "CTO", "slack", "technical, asks for docs"),
    ("Amara Okafor", "Umbrella Health", "COO", "email", "relationship-first"),
    ("Lukas Becker", "Stark Logistics", "VP Operations", "phone", "prefers calls before noon"),
    ("Sofia Rossi", "Acme Corp", "Procurement Lead", "email", "detail-oriented"),
    ("Daniel Kim", "Wayne Retail", "CEO", "email", "brief, decisive"),
    ("Priya Patel", "Globex", "Finance Director", "email", "cautious on pricing"),
    ("Tom O'Brien", "Hooli", "Head of Data", "slack", "informal, fast"),
    ("Elena Petrova", "Umbrella Health", "IT Manager", "email", "security-minded"),
    ("Kenji Watanabe", "Stark Logistics", "CEO", "meeting", "wants in-person reviews"),
    ("Grace Liu", "Hooli", "Legal Counsel", "email", "slow but thorough"),
]
DEALS = [
    ("Acme renewal 2026", "Acme Corp", 180_000, "negotiation"),
    ("Globex expansion", "Globex", 95_000, "proposal"),
    ("Initech pilot", "Initech", 24_000, "qualification"),
    ("Umbrella platform", "Umbrella Health", 240_000, "negotiation"),
    ("Stark fleet analytics", "Stark Logistics", 130_000, "proposal"),
    ("Wayne stores rollout", "Wayne Retail", 310_000, "discovery"),
    ("Hooli data contract", "Hooli", 72_000, "closed_won"),
]
TRIGGERS = ["email", "slack", "calendar", "crm_update", "meeting_notes"]
DECISION_TYPES = ["follow_up", "escalation", "pricing", "scheduling"]


def load(
    ledger: Ledger,
    tenant_id: str,
    *,
    days: int = 30,
    seed: int = 7,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Load the data set into ``tenant_id``; returns what was written, by kind."""
    rnd = random.Random(seed)
    step = progress or (lambda _label, _n: None)
    scope = ledger.tenant(tenant_id)
    counts = {
        "entities": 0,
        "relationships": 0,
        "runs": 0,
        "decisions": 0,
        "alerts": 0,
        "events": 0,
        "tasks": 0,
    }

    companies = sorted({c[1] for c in CONTACTS})
    accounts = scope.memory.upsert_many(
        [
            NewEntity(
                kind="account",
                name=name,
                by_name=True,
                tags=["customer"],
                summary=f"{name}: customer account",
                attrs={"segment": rnd.choice(["enterprise", "mid-market"])},
            )
            for name in companies
        ]
    )
    account_id = dict(zip(companies, accounts.ids, strict=True))
    contacts = scope.memory.upsert_many(
        [
            NewEntity(
                kind="contact",
                name=name,
                by_name=True,
                tags=["contact"],
                summary=f"{role} at {company}; {style}",
                attrs={
                    "company": company,
                    "role": role,
                    "preferred_channel": channel,
                    "communication_style": style,
                    "response_pattern": rnd.choice(["same day", "within 2 days", "needs a nudge"]),
                },
            )
            for name, company, role, channel, style in CONTACTS
        ]
    )
    deals = scope.memory.upsert_many(
        [
            NewEntity(
                kind="deal",
                name=name,
                by_name=True,
                tags=["deal", stage],
                summary=f"{stage} with {company}, {value:,} USD",
                attrs={
                    "company": company,
                    "value": value,
                    "stage": stage,
                    "close_date": (
                        dt.date.today() + dt.timedelta(days=rnd.randint(10, 90))
                    ).isoformat(),
                },
            )
            for name, company, value, stage in DEALS
        ]
    )
    counts["entities"] = len(accounts.ids) + len(contacts.ids) + len(deals.ids)
    step("memory", counts["entities"])
    for (_name, company, *_), cid in zip(CONTACTS, contacts.ids, strict=True):
        scope.memory.relate(cid, account_id[company], "works_at")
        counts["relationships"] += 1
    for (_deal, company, *_), did in zip(DEALS, deals.ids, strict=True):
        scope.memory.relate(did, account_id[company], "belongs_to")
        owner = rnd.choice(
            [cid for (n, c, *_), cid in zip(CONTACTS, contacts.ids, strict=True) if c == company]
        )
        scope.memory.relate(owner, did, "decides_on")
        counts["relationships"] += 2
    step("relationships", counts["relationships"])

    now = dt.datetime.now(dt.UTC)
    for day in range(days, -1, -1):
        base = (now - dt.timedelta(days=day)).replace(hour=8, minute=0, second=0, microsecond=0)
        for _ in range(rnd.randint(6, 18)):
            at = min(base + dt.timedelta(minutes=rnd.randint(0, 600)), now)
            trigger = rnd.choice(TRIGGERS)
            contact = rnd.choice(CONTACTS)
            run = scope.runs.start(
                trigger,
                at=at,
                entity_ref=f"contact:{contact[0]}",
                source_id=f"{trigger}-{uuid.uuid4().hex[:8]}",
                content=f"{trigger} from {contact[0]} ({contact[1]})",
            )
            duration = int(rnd.lognormvariate(7.2, 0.5))
            failed = rnd.random() < 0.06
            scope.runs.finish(
                run.id,
                at=min(at + dt.timedelta(milliseconds=duration), now),
                error="model timeout" if failed else None,
                tokens_in=rnd.randint(400, 3000),
                tokens_out=rnd.randint(80, 700),
            )
            counts["runs"] += 1
            if failed or rnd.random() < 0.45:
                continue
            kind = rnd.choice(DECISION_TYPES)
            confidence = round(rnd.uniform(0.55, 0.97), 2)
            decision = scope.decisions.record(
                f"{kind.replace('_', ' ').capitalize()} with {contact[0]}",
                decision_type=kind,
                reasoning=f"Triggered by {trigger}; {contact[4]}.",
                confidence=confidence,
                agent="sentinel",
                run_id=run.id,
                at=at,
            )
            counts["decisions"] += 1
            if day > 1 and rnd.random() < 0.85:
                # the learning loop: acceptance improves over the month
                p_accept = 0.55 + 0.35 * (days - day) / days
                scope.decisions.record_feedback(
                    decision.id, rnd.random() < p_accept, by=rnd.choice(["ceo", "sales-lead"])
                )
        step("activity", day)

    alerts = [
        (1, "Acme renewal at risk", "John Smith has not replied in 9 days; renewal in 3 weeks."),
        (1, "Payment overdue: Globex", "Invoice 2231 is 30 days overdue."),
        (2, "Stark wants an on-site review", "Kenji Watanabe asked for an in-person review."),
        (2, "Pricing exception requested", "Umbrella asks for 18% discount on platform deal."),
        (3, "New contact at Hooli", "Grace Liu joined the thread as legal counsel."),
        (3, "Weekly pipeline summary ready", "7 active deals, 1.05M USD weighted."),
        (2, "Calendar conflict Thursday", "Two customer calls overlap at 10:00."),
    ]
    for n, (tier, title, body) in enumerate(alerts):
        alert = scope.alerts.create(
            tier, title, body=body, action_required=tier == 1, dedup_key=f"demo-{n}"
        )
        if n == 5:
            scope.alerts.resolve(alert.id, by="sales-lead")
        counts["alerts"] += 1
    for n in range(6):
        case = f"case:EX-2026-{1200 + n}"
        scope.events.append(
            case,
            "ExceptionRaised",
            {"amount": rnd.randint(500, 9000)},
            actor_type="agent",
            actor_id="sentinel",
        )
        scope.events.append(
            case,
            "PlaybookStepCompleted",
            {"step": "verify invoice"},
            actor_type="agent",
            actor_id="sentinel",
        )
        counts["events"] += 2
    scope.agents.register(
        "sentinel", agent_type="pipeline", domain="sales", capabilities=["email", "crm", "calendar"]
    )
    scope.agents.heartbeat("sentinel", status="available")
    counts["tasks"] = len(
        scope.tasks.enqueue_many(
            "follow-ups", [{"contact": c[0], "reason": "no reply"} for c in CONTACTS[:5]]
        )
    )
    step("alerts and events", counts["alerts"])
    return counts


def is_loaded(scope: TenantScope) -> bool:
    return scope.memory.stats().entities > 0
