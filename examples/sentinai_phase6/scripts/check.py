"""Seed 004's exit criteria (§10) and test coverage areas (§8.4), checked: one tick per
check, non-zero exit on a failure.

    python examples/sentinai_phase6/scripts/check.py

Uses the embedded PostgreSQL unless ``DATABASE_URL`` is set. Loads the example's data
when it is missing (``seed_data.py``); checks that change data write to two scratch
tenants, archived at the end, and to global entries of their own names.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import sys
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import httpx

from agentledger import (
    AsyncLedger,
    Conflict,
    IllegalTransition,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unavailable,
)
from examples.sentinai_phase6 import (
    DomainPackRepository,
    EventEnvelope,
    ExceptionEventRepository,
    ExceptionRepository,
    PlaybookRepository,
    PlaybookStepRepository,
    TenantPolicyPackRepository,
    TenantRepository,
    ToolDefinitionRepository,
    create_phase6_app,
    initialize_database,
    phase6_settings,
    seed_data as data,
    unit_of_work,
)
from examples.sentinai_phase6.proxy import Proxy

Check = Callable[[], Awaitable[str | None]]
FIN, HC = "finance", "healthcare"


def refs(items: Any) -> list[str]:
    return [x.exception_id for x in items]


def expected(tenant: str, **match: Any) -> list[str]:
    """The loader's exceptions of ``tenant`` matching ``match``, newest first."""
    found = []
    for ex in data.exceptions_of(tenant):
        low, high = match.get("created_from"), match.get("created_to")
        if any(ex[k] != v for k, v in match.items() if k not in ("created_from", "created_to")):
            continue
        if (low and ex["created_at"] < low) or (high and ex["created_at"] >= high):
            continue
        found.append(ex)
    return [ex["exception_id"] for ex in sorted(found, key=lambda e: e["created_at"], reverse=True)]


async def refused(field: str, call: Awaitable[Any], error: type[Exception] = InvalidInput) -> None:
    """``call`` fails with ``error`` naming ``field``."""
    try:
        await call
    except error as exc:
        assert getattr(exc, "field", None) == field, f"named {exc.field!r}, not {field!r}: {exc}"  # type: ignore[attr-defined]
    else:
        raise AssertionError(f"accepted a bad {field}")


class Checks:
    """The checks, sharing a ledger, the app, keys and two scratch tenants."""

    def __init__(self, ledger: AsyncLedger) -> None:
        self.ledger = ledger
        run = uuid.uuid4().hex[:8]
        self.a, self.b = f"p6-{run}-a", f"p6-{run}-b"
        self.run = run
        self.exceptions = ExceptionRepository(ledger)
        self.events = ExceptionEventRepository(ledger)
        self.tenants = TenantRepository(ledger)
        self.packs = DomainPackRepository(ledger)
        self.policies = TenantPolicyPackRepository(ledger)
        self.playbooks = PlaybookRepository(ledger)
        self.steps = PlaybookStepRepository(ledger)
        self.tools = ToolDefinitionRepository(ledger)
        self.keys: dict[str, str] = {}
        self.key_ids: list[tuple[str, Any]] = []
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_phase6_app(ledger=ledger)),
            base_url="http://phase6",
        )
        self.snapshot: str = ""

    async def setup(self) -> None:
        for tenant in (self.a, self.b):
            await self.tenants.create_tenant(tenant, f"Scratch {tenant}")
        for tenant in (FIN, HC, self.a, self.b):
            if await self.tenants.get_tenant(tenant) is not None:
                created = await self.ledger.tenant(tenant).keys.create(role="writer", name="check")
                self.keys[tenant] = created.secret
                self.key_ids.append((tenant, created.key.id))

    async def teardown(self) -> None:
        await self.http.aclose()
        for tenant, key_id in self.key_ids:
            await self.ledger.tenant(tenant).keys.revoke(key_id)
        for name in (f"Check{self.run}",):
            await self.packs_delete(name)
        for tenant in (self.a, self.b):
            await self.tenants.update_status(tenant, "archived")

    async def packs_delete(self, domain: str) -> None:
        await self.ledger.platform_catalog.delete_document("domain_pack", domain)

    def as_(self, tenant: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tenant]}"}

    async def get(self, path: str, tenant: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.as_(tenant), params=params)

    def ex(self, ref: str, **fields: Any) -> dict[str, Any]:
        base = {
            "exception_id": ref,
            "domain": "Finance",
            "type": "SettlementFail",
            "severity": "high",
            "source_system": "Murex",
            "entity": f"counterparty:{self.run}",
            "amount": "1250.50",
            "sla_deadline": "2025-01-10T00:00:00+00:00",
        }
        return {**base, **fields}

    # --- the checks -------------------------------------------------------------------

    async def health(self) -> None:
        health = await self.ledger.health()
        assert health.database and health.migrations_current, health
        for path in ("/healthz", "/readyz"):
            answer = await self.http.get(path)
            assert answer.status_code == 200, (path, answer.text)
        await self.exceptions.list_exceptions(FIN, page_size=1)
        await self.events.event_exists(FIN, str(uuid.uuid4()))
        await self.tenants.list_tenants()
        await self.packs.get_latest("Finance")
        await self.policies.get_latest(FIN)
        await self.playbooks.list_playbooks(FIN)
        await self.steps.get_steps(FIN, "settlement-fail")
        await self.tools.list_tools(FIN)

    async def loaded(self) -> str:
        if (await self.exceptions.aggregates(FIN)).total < 30:
            await data.load(self.ledger)
        self.snapshot = await self.dump()
        totals = {t: (await self.exceptions.aggregates(t)).total for t in data.TENANTS}
        assert totals == {FIN: 30, HC: 20}, totals
        names = {t.tenant_id: t.name for t in await self.tenants.list_tenants()}
        assert {t: names.get(t) for t in data.TENANTS} == data.TENANTS
        for domain in data.DOMAIN_PACKS:
            assert (await self.packs.get_latest(domain)).version == 2
        for tenant in data.TENANTS:
            assert (await self.policies.get_latest(tenant)).version == 2
        assert [p.version for p in await self.playbooks.list_playbooks(FIN)] == [2]
        assert [len(p.steps) for p in await self.playbooks.list_playbooks(HC)] == [2]
        tools = {t.tool_id: t.tenant_id for t in await self.tools.list_tools(FIN)}
        assert tools == {"email-notify": None, "murex-rest": FIN}, tools
        events = sum(len(data.history(i)) for i in range(1, 51))
        return f"50 exceptions, their history of {events} steps"

    async def exception_crud(self) -> None:
        ref = f"EX-{self.run}-1"
        made = await self.exceptions.upsert_exception(self.a, self.ex(ref))
        assert (made.status, made.amount, made.version) == ("open", Decimal("1250.50"), 1)
        assert made.title == f"SettlementFail on counterparty:{self.run}"
        got = await self.exceptions.get_exception(self.a, ref)
        assert got == made
        moved = await self.exceptions.update_exception(
            self.a, ref, {"status": "analyzing", "owner": "triage-agent", "current_step": 1}
        )
        assert (moved.status, moved.owner, moved.current_step) == ("analyzing", "triage-agent", 1)
        bad = {
            "severity": self.ex(f"EX-{self.run}-x", severity="urgent"),
            "amount": self.ex(f"EX-{self.run}-x", amount="lots"),
            "status": self.ex(f"EX-{self.run}-x", status="closed"),
            "sla_deadline": self.ex(f"EX-{self.run}-x", sla_deadline="tomorrow"),
            "exception_id": self.ex(""),
            "colour": self.ex(f"EX-{self.run}-x", colour="red"),
        }
        for field, exception in bad.items():
            await refused(field, self.exceptions.upsert_exception(self.a, exception))
        assert await self.exceptions.get_exception(self.a, f"EX-{self.run}-x") is None
        await refused(
            "exception_id",
            self.exceptions.update_exception(self.a, f"EX-{self.run}-none", {"owner": "x"}),
            NotFound,
        )
        try:
            await self.exceptions.update_exception(self.a, ref, {"status": "open"})
        except IllegalTransition:
            pass
        else:
            raise AssertionError("analyzing -> open was allowed")
        await refused("created_from", self.exceptions.list_exceptions(self.a, created_from="x"))
        await refused("page_size", self.exceptions.list_exceptions(self.a, page_size=0))
        assert await self.exceptions.delete_exception(self.a, ref)
        assert await self.exceptions.get_exception(self.a, ref) is None
        assert not await self.exceptions.delete_exception(self.a, ref)

    async def event_crud(self) -> None:
        ref = f"EX-{self.run}-2"
        await self.exceptions.upsert_exception(self.a, self.ex(ref))
        event = EventEnvelope(
            tenant_id=self.a,
            exception_id=ref,
            event_type="TriageCompleted",
            actor_type="agent",
            actor_id="triage-agent",
            payload={"severity": "high"},
        )
        assert await self.events.append_event_if_new(event)
        assert await self.events.event_exists(self.a, event.event_id)
        log = await self.events.get_events_for_exception(self.a, ref)
        assert [e.event_type for e in log] == ["CaseCreated", "TriageCompleted"]
        assert log[1].payload == {"severity": "high"} and log[1].actor_id == "triage-agent"
        base: dict[str, Any] = {"tenant_id": self.a, "exception_id": ref}
        bad: dict[str, dict[str, Any]] = {
            "event_type": {"event_type": "Shrugged"},
            "actor_type": {"event_type": "ExceptionCreated", "actor_type": "robot"},
            "event_id": {"event_type": "ExceptionCreated", "event_id": "nope"},
            "payload.severity": {"event_type": "TriageCompleted", "payload": {}},
        }
        for field, values in bad.items():
            try:
                EventEnvelope(**base, **values)
            except InvalidInput as exc:
                assert exc.field == field, (field, exc.field)
            else:
                raise AssertionError(f"an envelope with a bad {field} was made")
        other = EventEnvelope(
            tenant_id=self.a, exception_id="EX-none", event_type="ExceptionCreated"
        )
        await refused("exception_id", self.events.append_event_if_new(other), NotFound)
        assert not await self.events.event_exists(self.a, other.event_id)

    async def tenant_crud(self) -> None:
        found = await self.tenants.get_tenant(self.a)
        assert found is not None and found.status == "active" and found.name == f"Scratch {self.a}"
        assert await self.tenants.get_tenant(f"p6-{self.run}-none") is None
        assert self.a in [t.tenant_id for t in await self.tenants.list_tenants(status="active")]
        await refused("status", self.tenants.update_status(self.a, "paused"))
        await refused("name", self.tenants.create_tenant(f"p6-{self.run}-c", ""))
        suspended = await self.tenants.update_status(self.b, "suspended")
        assert suspended.status == "suspended"
        assert (await self.tenants.update_status(self.b, "active")).status == "active"

    async def catalog_crud(self) -> None:
        domain, tool = f"Check{self.run}", f"check-{self.run}"
        pack = await self.packs.create_version(domain, {"domain": domain})
        assert (pack.version, pack.pack_json) == (1, {"domain": domain})
        await refused("pack_json", self.packs.create_version(domain, ["not", "an", "object"]))  # type: ignore[arg-type]
        policy = await self.policies.create_version(self.a, {"approval_threshold": 5})
        assert policy.version == 1 and policy.tenant_id == self.a
        playbook = await self.playbooks.create_version(
            self.a,
            "pb",
            name="Check playbook",
            conditions={"type": "SettlementFail"},
            steps=[{"name": "Notify", "action_type": "notify"}],
        )
        assert [s.step_id for s in playbook.steps] == ["pb:1"]
        await self.steps.add_step(self.a, "pb", name="Escalate", action_type="escalate")
        await self.steps.add_step(self.a, "pb", name="Call", action_type="call_tool", step_order=2)
        changed = await self.steps.update_step(self.a, "pb", 3, params={"to": "lead"})
        assert [(s.step_order, s.name) for s in changed.steps] == [
            (1, "Notify"),
            (2, "Call"),
            (3, "Escalate"),
        ]
        assert changed.steps[2].params == {"to": "lead"} and changed.version == 4
        after = await self.steps.delete_step(self.a, "pb", 1)
        assert [s.name for s in after.steps] == ["Call", "Escalate"] and after.version == 5
        assert (await self.steps.get_step(self.a, "pb", 2)).name == "Escalate"
        await refused("step_order", self.steps.get_step(self.a, "pb", 9), NotFound)
        await refused("step_order", self.steps.delete_step(self.a, "pb", 0))
        await refused("action_type", self.steps.add_step(self.a, "pb", name="x", action_type=""))
        await refused(
            "name", self.playbooks.create_version(self.a, "pb2", steps=[{"action_type": "notify"}])
        )
        made = await self.tools.create_tool(tool, "webhook", {"url": "https://hooks.example.com"})
        assert made.tenant_id is None and made.version == 1
        await refused("type", self.tools.create_tool(tool, "carrier-pigeon", {}))
        await refused("config", self.tools.create_tool(tool, "email", "smtp"))  # type: ignore[arg-type]
        assert await self.tools.delete_tool(None, tool)
        assert await self.tools.get_tool(self.a, tool) is None
        assert await self.playbooks.delete_playbook(self.a, "pb")
        await refused("name", self.playbooks.get_latest(self.a, "pb"), NotFound)

    async def isolation_repositories(self) -> None:
        ref = f"EX-{self.run}-3"
        await self.exceptions.upsert_exception(self.a, self.ex(ref))
        event = EventEnvelope(
            tenant_id=self.a, exception_id=ref, event_type="FeedbackCaptured",
            payload={"feedback": "ok"},
        )  # fmt: skip
        await self.events.append_event_if_new(event)
        b, entity = self.b, f"counterparty:{self.run}"
        assert await self.exceptions.get_exception(b, ref) is None
        assert (await self.exceptions.list_exceptions(b)).items == []
        assert await self.exceptions.find_by_entity(b, entity) == []
        assert await self.exceptions.find_sla_breaches(b) == []
        assert (await self.exceptions.aggregates(b)).total == 0
        await refused("exception_id", self.exceptions.find_similar_exceptions(b, ref), NotFound)
        await refused(
            "exception_id", self.exceptions.update_exception(b, ref, {"owner": "b"}), NotFound
        )
        assert not await self.exceptions.delete_exception(b, ref)
        assert not await self.events.event_exists(b, event.event_id)
        await refused("exception_id", self.events.get_events_for_exception(b, ref), NotFound)
        stolen = EventEnvelope(tenant_id=b, exception_id=ref, event_type="ExceptionCreated")
        await refused("exception_id", self.events.append_event_if_new(stolen), NotFound)
        await refused("name", self.policies.get_latest(b), NotFound)  # a's policy is a's
        await refused("name", self.playbooks.get_latest(b, "settlement-fail"), NotFound)
        assert await self.steps.playbooks.list_playbooks(b) == []
        assert await self.tools.get_tool(b, "murex-rest") is None
        assert await self.tools.get_tool(HC, "murex-rest") is None
        for tenant in (FIN, HC, b):  # the global packs and the global tool, for everyone
            assert (await self.packs.get_latest("Finance", tenant_id=tenant)).version == 2
            assert (await self.tools.get_tool(tenant, "email-notify")) is not None
        try:
            await self.ledger.tenant(b).catalog.create_version(
                "domain_pack", "Finance", {}, scope="global"
            )
        except PermissionDenied:
            pass
        else:
            raise AssertionError("a tenant wrote a global pack")
        assert (await self.exceptions.get_exception(self.a, ref)) is not None
        async with unit_of_work(self.ledger, self.a) as tx:
            await refused("tenant_id", ExceptionRepository(tx).get_exception(b, ref))

    async def isolation_routes(self) -> None:
        ref = f"EX-{self.run}-3"
        b = self.b
        for path in (
            f"/api/exceptions/{self.a}",
            f"/api/exceptions/{self.a}/{ref}",
            f"/api/exceptions/{ref}/events",
            f"/api/playbooks/{FIN}",
            f"/api/playbooks/{FIN}/settlement-fail",
            f"/api/tools/{FIN}",
            f"/api/tools/{FIN}/murex-rest",
            f"/api/tools/{b}/murex-rest",
            f"/api/supervisor/{self.a}",
        ):
            answer = await self.get(path, b)
            assert answer.status_code == 404, (path, answer.status_code, answer.text)
        posts = {
            f"/api/exceptions/{self.a}": self.ex(f"EX-{self.run}-b"),
            f"/api/exceptions/{self.a}/{ref}/events": {"event_type": "ExceptionCreated"},
            f"/api/exceptions/{b}/{ref}/events": {"event_type": "ExceptionCreated"},
            f"/api/playbooks/{self.a}": {"playbook_id": "stolen"},
            f"/api/tools/{self.a}": {"name": "stolen", "type": "email"},
        }
        for path, body in posts.items():
            answer = await self.http.post(path, json=body, headers=self.as_(b))
            assert answer.status_code == 404, (path, answer.status_code, answer.text)
        answer = await self.get(f"/api/tools/{b}/email-notify", b)
        assert answer.status_code == 200, answer.text
        assert (await self.http.get(f"/api/exceptions/{b}")).status_code == 401
        assert await self.exceptions.get_exception(self.a, f"EX-{self.run}-b") is None

    async def filters(self) -> str:
        jan10, jan13 = (
            dt.datetime(2025, 1, 10, tzinfo=dt.UTC),
            dt.datetime(2025, 1, 13, tzinfo=dt.UTC),
        )
        cases: list[dict[str, Any]] = [
            {"domain": "Treasury"},
            {"status": "open"},
            {"severity": "critical"},
            {"created_from": jan10},
            {"created_to": jan10},
            {"domain": "Finance", "status": "escalated"},
            {"domain": "Treasury", "severity": "high", "created_from": jan10},
            {"status": "resolved", "severity": "low", "created_from": jan10, "created_to": jan13},
            {"domain": "Claims", "status": "analyzing"},
            {"domain": "Nowhere"},
        ]
        for match in cases:
            tenant = HC if match.get("domain") == "Claims" else FIN
            want = expected(tenant, **match)
            got = refs(
                (await self.exceptions.list_exceptions(tenant, **match, page_size=500)).items
            )
            assert got == want, (match, got, want)
            params = {
                k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in match.items()
            }
            answer = await self.get(f"/api/exceptions/{tenant}", tenant, page_size=500, **params)
            assert answer.status_code == 200, answer.text
            assert [x["exception_id"] for x in answer.json()["items"]] == want, match
        several = await self.exceptions.list_exceptions(FIN, status=["open", "escalated"])
        both = expected(FIN, status="open") + expected(FIN, status="escalated")
        assert sorted(refs(several.items)) == sorted(both)
        return f"{len(cases)} filter sets, repository and route"

    async def paging(self) -> None:
        for tenant, match in ((FIN, {}), (FIN, {"domain": "Finance"}), (HC, {"severity": "high"})):
            seen: list[str] = []
            cursor = None
            pages = 0
            while True:
                page = await self.exceptions.list_exceptions(
                    tenant, **match, cursor=cursor, page_size=7
                )
                seen += refs(page.items)
                pages += 1
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert seen == expected(tenant, **match), (match, seen)
            assert len(set(seen)) == len(seen)
            http_seen: list[str] = []
            params: dict[str, Any] = {**match, "page_size": 7}
            while True:
                body = (await self.get(f"/api/exceptions/{tenant}", tenant, **params)).json()
                http_seen += [x["exception_id"] for x in body["items"]]
                if body["next_cursor"] is None:
                    break
                params["cursor"] = body["next_cursor"]
            assert http_seen == seen
        await refused(
            "cursor",
            self.exceptions.list_exceptions(
                FIN, domain="Treasury", cursor=page.next_cursor or cursor or "x"
            ),
        )

    async def versioning(self) -> None:
        domain = f"Check{self.run}"
        await self.packs.create_version(domain, {"domain": domain, "rules": 2})
        assert (await self.packs.get_latest(domain)).version == 2
        assert (await self.packs.get_version(domain, 1)).pack_json == {"domain": domain}
        assert (await self.packs.get_latest(domain, tenant_id=self.b)).version == 2
        await self.policies.create_version(self.a, {"approval_threshold": 9})
        assert (await self.policies.get_latest(self.a)).pack_json == {"approval_threshold": 9}
        assert (await self.policies.get_version(self.a, 1)).pack_json == {"approval_threshold": 5}
        steps = [{"name": "Notify", "action_type": "notify"}]
        v1 = await self.playbooks.create_version(self.a, "vb", steps=steps, expected_version=0)
        v2 = await self.playbooks.create_version(self.a, "vb", steps=[*steps, *steps])
        assert (v1.version, v2.version) == (1, 2)
        assert (await self.playbooks.get_latest(self.a, "vb")).version == 2
        assert len((await self.playbooks.get_version(self.a, "vb", 1)).steps) == 1
        await refused("version", self.playbooks.get_version(self.a, "vb", 3), NotFound)
        for domain_name in data.DOMAIN_PACKS:  # the loaded ones
            first = await self.packs.get_version(domain_name, 1)
            assert first.pack_json == data.DOMAIN_PACKS[domain_name][0]
        v1_steps = await self.steps.get_steps(FIN, "settlement-fail", version=1)
        assert [s.name for s in v1_steps] == [s["name"] for s in data.PLAYBOOKS[FIN][3][0]]

    async def idempotency(self) -> None:
        ref = f"EX-{self.run}-4"
        first = await self.exceptions.upsert_exception(self.a, self.ex(ref))
        again = await self.exceptions.upsert_exception(self.a, self.ex(ref))
        assert again.version == first.version == 1, "the same content changed the exception"
        updated = await self.exceptions.upsert_exception(self.a, self.ex(ref, severity="critical"))
        assert (updated.severity, updated.version) == ("critical", 2)
        listed = refs((await self.exceptions.list_exceptions(self.a, page_size=500)).items)
        assert listed.count(ref) == 1
        event = EventEnvelope(
            tenant_id=self.a, exception_id=ref, event_type="PolicyEvaluated",
            payload={"decision": "allowed"},
        )  # fmt: skip
        assert await self.events.append_event_if_new(event) is True
        assert await self.events.append_event_if_new(event) is False
        log = await self.events.get_events_for_exception(self.a, ref)
        assert [e.event_id for e in log].count(event.event_id) == 1
        changed = EventEnvelope(**{**asdict(event), "payload": {"decision": "denied"}})
        try:
            await self.events.append_event_if_new(changed)
        except Conflict:
            pass
        else:
            raise AssertionError("the same event id with other content was accepted")
        assert len(await self.events.get_events_for_exception(self.a, ref)) == len(log)
        body = self.ex(f"EX-{self.run}-5")
        for _ in range(2):
            answer = await self.http.post(
                f"/api/exceptions/{self.a}", json=body, headers=self.as_(self.a)
            )
            assert answer.status_code == 200, answer.text
        log = await self.events.get_events_for_exception(self.a, body["exception_id"])
        assert [e.event_type for e in log] == ["CaseCreated", "ExceptionCreated"]

    async def transaction(self) -> None:
        ref = f"EX-{self.run}-6"
        await self.exceptions.upsert_exception(self.a, self.ex(ref))
        event = EventEnvelope(
            tenant_id=self.a, exception_id=ref, event_type="TriageCompleted",
            actor_type="agent", payload={"severity": "critical"},
        )  # fmt: skip

        async def agent(fail: bool) -> None:
            async with unit_of_work(self.ledger, self.a) as tx:
                loaded = await ExceptionRepository(tx).get_exception(self.a, ref)
                assert loaded is not None
                await ExceptionEventRepository(tx).append_event_if_new(event)
                await ExceptionRepository(tx).update_exception(
                    self.a, ref, {"status": "analyzing", "severity": "critical"}
                )
                if fail:
                    raise RuntimeError("the agent failed after the append")

        with contextlib.suppress(RuntimeError):
            await agent(fail=True)
        left = await self.exceptions.get_exception(self.a, ref)
        assert left is not None and (left.status, left.version) == ("open", 1)
        assert not await self.events.event_exists(self.a, event.event_id)
        await agent(fail=False)
        done = await self.exceptions.get_exception(self.a, ref)
        assert done is not None and (done.status, done.severity) == ("analyzing", "critical")
        assert await self.events.event_exists(self.a, event.event_id)

    async def timelines(self) -> None:
        for i in (3, 7, 35):
            tenant, ref = data.tenant_of(i), f"EX-2025-{i:04d}"
            steps = data.history(i)
            want = [s.event.event_type if s.event else "CaseStatusChanged" for s in steps]
            log = await self.events.get_events_for_exception(tenant, ref)
            assert [e.event_type for e in log] == ["CaseCreated", *want], (ref, log)
            assert [e.created_at for e in log[1:]] == [s.at for s in steps]
            assert [e.sequence for e in log] == list(range(1, len(log) + 1))
            detail = (await self.get(f"/api/exceptions/{tenant}/{ref}", tenant)).json()
            events = (await self.get(f"/api/exceptions/{ref}/events", tenant)).json()
            assert detail["exception"]["exception_id"] == ref
            assert [e["event_id"] for e in detail["events"]] == [e.event_id for e in log]
            assert events == detail["events"]
        answer = await self.get(f"/api/exceptions/{FIN}/EX-none", FIN)
        assert answer.status_code == 404 and answer.json()["field"] == "exception_id"

    async def sla(self) -> str:
        now = data.REFERENCE_NOW
        for tenant in data.TENANTS:
            want = sorted(
                (ex["sla_deadline"], ex["exception_id"])
                for ex in data.exceptions_of(tenant)
                if ex["status"] != "resolved" and ex["sla_deadline"] < now
            )
            got = await self.exceptions.find_sla_breaches(tenant, now)
            assert refs(got) == [ref for _, ref in want], (tenant, refs(got))
            assert (await self.exceptions.aggregates(tenant, now=now)).sla_breached == len(want)
        return f"at {now:%Y-%m-%d}"

    async def copilot(self) -> None:
        ex3 = data.exception(3)
        similar = await self.exceptions.find_similar_exceptions(FIN, "EX-2025-0003")
        assert similar and "EX-2025-0003" not in refs(similar)
        assert similar[0].entity == ex3["entity"], similar[0]
        by_entity = await self.exceptions.find_by_entity(FIN, ex3["entity"])
        want = [e["exception_id"] for e in sorted(
            (e for e in data.exceptions_of(FIN) if e["entity"] == ex3["entity"]),
            key=lambda e: e["created_at"], reverse=True)]  # fmt: skip
        assert refs(by_entity) == want
        still_open = await self.exceptions.find_by_entity(FIN, ex3["entity"], open=True)
        assert all(e.status != "resolved" for e in still_open)

    async def routes(self) -> None:
        body = (
            await self.get(f"/api/supervisor/{FIN}", FIN, now=data.REFERENCE_NOW.isoformat())
        ).json()
        counts = await self.exceptions.aggregates(FIN, now=data.REFERENCE_NOW)
        for key in ("by_status", "by_severity", "by_domain", "sla_breached", "total", "open"):
            assert body["counts"][key] == getattr(counts, key), key
        assert len(body["sla_breaches"]) == counts.sla_breached
        playbook = (await self.get(f"/api/playbooks/{FIN}/settlement-fail", FIN, version=1)).json()
        assert playbook["version"] == 1 and len(playbook["steps"]) == 2
        tools = (await self.get(f"/api/tools/{FIN}", FIN)).json()
        assert [t["tool_id"] for t in tools] == ["email-notify", "murex-rest"]
        made = await self.http.post(
            f"/api/tools/{self.a}",
            json={"name": "pager", "type": "webhook"},
            headers=self.as_(self.a),
        )
        assert made.status_code == 200 and made.json()["tenant_id"] == self.a, made.text
        bad = await self.http.post(
            f"/api/exceptions/{self.a}", json={**self.ex("EX-bad"), "severity": "urgent"},
            headers=self.as_(self.a),
        )  # fmt: skip
        assert bad.status_code == 422 and "severity" in bad.text, bad.text
        bad = await self.http.post(
            f"/api/exceptions/{self.a}/EX-{self.run}-5/events",
            json={"event_type": "Shrugged"}, headers=self.as_(self.a),
        )  # fmt: skip
        assert bad.status_code == 422 and bad.json()["field"] == "event_type", bad.text
        event = {"event_type": "CopilotQuestionAsked", "payload": {"question": "why?"},
                 "event_id": str(uuid.uuid4()), "actor_type": "user"}  # fmt: skip
        path = f"/api/exceptions/{self.a}/EX-{self.run}-5/events"
        codes = [(await self.http.post(path, json=event, headers=self.as_(self.a))).status_code
                 for _ in range(2)]  # fmt: skip
        assert codes == [201, 200], codes
        reader = await self.ledger.tenant(FIN).keys.create(role="reader", name="check")
        self.key_ids.append((FIN, reader.key.id))
        denied = await self.http.post(
            f"/api/exceptions/{FIN}", json=self.ex("EX-denied"),
            headers={"Authorization": f"Bearer {reader.secret}"},
        )  # fmt: skip
        assert denied.status_code == 403, denied.text

    async def configuration(self) -> None:
        env = {
            "DATABASE_URL": "postgresql+asyncpg://sentinai:sentinai@db:5432/sentinai",
            "DB_POOL_SIZE": "7",
            "DB_MAX_OVERFLOW": "3",
            "DB_POOL_TIMEOUT": "12.5",
        }
        settings = phase6_settings(env)
        assert settings.database_url == "postgresql://sentinai:sentinai@db:5432/sentinai"
        assert (settings.pool_max_size, settings.pool_timeout) == (10, 12.5)
        for name, value in (
            ("DB_POOL_SIZE", "many"),
            ("DB_POOL_TIMEOUT", "0"),
            ("DATABASE_URL", "mysql://x"),
        ):
            try:
                phase6_settings({**env, name: value})
            except Exception as exc:
                assert getattr(exc, "field", None) == name, exc
            else:
                raise AssertionError(f"{name}={value} was accepted")
        closed = self.ledger.settings.with_(
            database_url="postgresql://postgres@127.0.0.1:9/postgres",
            app_url=None,
            connect_timeout=1,
        )
        try:
            await initialize_database(closed, attempts=2, backoff=0.05)
        except Unavailable as exc:
            assert "2 attempts" in str(exc), exc
        else:
            raise AssertionError("initialize_database opened a closed port")

    async def restart(self) -> str:
        """Requests through a proxy in front of PostgreSQL; the proxy stops (every
        connection cut, new ones refused) and starts again on the same port."""
        target = urlsplit(self.ledger.db.url)
        proxy = Proxy(target.hostname or "127.0.0.1", target.port or 5432)
        await proxy.start()
        netloc = target.netloc.rsplit(":", 1)[0] + f":{proxy.port}"
        url = urlunsplit(target._replace(netloc=netloc))
        settings = self.ledger.settings.with_(
            database_url=url, app_url=None, pool_timeout=1.0, connect_timeout=2,
            retry_attempts=10, retry_backoff=0.2,
        )  # fmt: skip
        ledger = AsyncLedger(settings, migrate=False)
        await ledger.open()
        app = create_phase6_app(ledger=ledger)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://phase6", timeout=60
        ) as http:
            try:
                headers = self.as_(self.a)
                assert (
                    await http.get(f"/api/exceptions/{self.a}", headers=headers)
                ).status_code == 200
                await proxy.stop()
                ready = await http.get("/readyz")
                assert ready.status_code == 503, ready.text
                loop = asyncio.get_running_loop()
                loop.call_later(0.5, lambda: asyncio.ensure_future(proxy.start()))
                bodies = [self.ex(f"EX-{self.run}-r{i}") for i in range(5)]
                answers = await asyncio.gather(
                    *(
                        http.post(f"/api/exceptions/{self.a}", json=b, headers=headers)
                        for b in bodies
                    ),
                    http.get(
                        f"/api/exceptions/{FIN}", headers=self.as_(FIN), params={"page_size": 500}
                    ),
                )
                assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
                assert len(answers[-1].json()["items"]) == 30
                assert (await http.get("/readyz")).status_code == 200
            finally:
                await ledger.close()
                await proxy.stop()
        for body in bodies:
            log = await self.events.get_events_for_exception(self.a, body["exception_id"])
            assert [e.event_type for e in log] == ["CaseCreated", "ExceptionCreated"], log
        return f"{proxy.cut} connections cut"

    async def dump(self) -> str:
        """Every listing the loader's data feeds, as JSON (the scratch tenants left out)."""
        out: dict[str, Any] = {}
        for tenant in data.TENANTS:
            page = await self.exceptions.list_exceptions(tenant, page_size=500)
            out[tenant] = [asdict(x) for x in page.items]
            out[f"{tenant}-events"] = [
                [
                    asdict(e)
                    for e in await self.events.get_events_for_exception(tenant, x.exception_id)
                ]
                for x in page.items
            ]
            out[f"{tenant}-policy"] = asdict(await self.policies.get_latest(tenant))
            out[f"{tenant}-playbooks"] = [
                asdict(p) for p in await self.playbooks.list_playbooks(tenant)
            ]
            out[f"{tenant}-tools"] = [asdict(t) for t in await self.tools.list_tools(tenant)]
        out["packs"] = [asdict(await self.packs.get_latest(d)) for d in data.DOMAIN_PACKS]
        return json.dumps(out, default=str, sort_keys=True)

    async def second_run(self) -> str:
        await data.load(self.ledger)
        again = await self.dump()
        assert again == self.snapshot, "the second run changed what the listings show"
        return f"{len(again)} bytes of listings identical"

    def all(self) -> list[tuple[str, Check]]:
        def plain(check: Callable[[], Awaitable[None]]) -> Check:
            async def run() -> str | None:
                await check()
                return None

            return run

        return [
            (
                "Schema and health: migrations current, /healthz, /readyz, each repository answers",
                plain(self.health),
            ),
            (
                "Data loaded: 2 tenants, 50 exceptions, packs, policies, playbooks, tools",
                self.loaded,
            ),
            (
                "ExceptionRepository CRUD; invalid input refused naming the field",
                plain(self.exception_crud),
            ),
            (
                "ExceptionEventRepository and EventEnvelope; invalid events refused",
                plain(self.event_crud),
            ),
            ("TenantRepository CRUD; an invalid status refused", plain(self.tenant_crud)),
            (
                "Packs, playbooks, steps, tools: CRUD; invalid input refused",
                plain(self.catalog_crud),
            ),
            (
                "Tenant isolation through every repository call; globals seen by all",
                plain(self.isolation_repositories),
            ),
            (
                "Tenant isolation through every route: another tenant answers 404",
                plain(self.isolation_routes),
            ),
            ("Filters alone and combined match the data exactly", self.filters),
            (
                "Every page walked: each exception exactly once, in a stable order",
                plain(self.paging),
            ),
            ("Versioning: domain packs, policy packs, playbooks", plain(self.versioning)),
            (
                "Idempotency: upsert, append_event_if_new, other content refused",
                plain(self.idempotency),
            ),
            (
                "Load + append event + state change in one transaction, rolled back whole",
                plain(self.transaction),
            ),
            ("Timelines in order over both routes", plain(self.timelines)),
            ("SLA breaches: exactly the open exceptions past their deadline", self.sla),
            ("Co-Pilot: similar exceptions and exceptions by entity", plain(self.copilot)),
            (
                "Routes: supervisor counts = aggregates, playbooks, tools, events, roles",
                plain(self.routes),
            ),
            (
                "Configuration: DATABASE_URL, DB_POOL_*; initialize_database retries",
                plain(self.configuration),
            ),
            ("A database restart during requests: retried, /readyz 503 while down", self.restart),
            ("A second run of the loader: identical listings", self.second_run),
        ]


async def run(ledger: AsyncLedger) -> bool:
    """Run every check, printing a tick or a cross for each."""
    checks = Checks(ledger)
    ok = True
    await checks.setup()
    try:
        for i, (name, check) in enumerate(checks.all(), 1):
            try:
                note = await check()
            except Exception as exc:
                ok = False
                print(f"{i}. {name} ✗ {type(exc).__name__}: {exc}", flush=True)
                traceback.print_exc(file=sys.stderr)
            else:
                print(f"{i}. {name}{f' ({note})' if note else ''} ✓", flush=True)
    finally:
        await checks.teardown()
    return ok


async def main() -> int:
    ledger = await initialize_database(phase6_settings())
    try:
        if await TenantRepository(ledger).get_tenant(FIN) is None:
            await data.load(ledger)
        ok = await run(ledger)
    finally:
        await ledger.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
