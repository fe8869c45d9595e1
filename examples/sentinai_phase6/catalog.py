"""Tenants, domain packs, tenant policy packs, playbooks with their steps and tool
definitions: agentledger's tenants and versioned catalog documents."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from agentledger import CatalogDocument, CatalogVersion, InvalidInput, NotFound
from agentledger.catalog.facade_async import AsyncCatalog
from examples.sentinai_phase6.models import (
    KIND,
    STATUSES,
    TENANT_STATUSES,
    TERMINAL,
    TOOL_TYPES,
    TRANSITIONS,
    PackVersion,
    Playbook,
    PlaybookStep,
    TenantRecord,
    ToolDefinition,
    require_mapping,
)
from examples.sentinai_phase6.session import Session, bound, ledger_of

DOMAIN_PACK, POLICY_PACK, PLAYBOOK, TOOL = "domain_pack", "policy_pack", "playbook", "tool"
PAGE = 1000  # the most list_documents returns at once
POLICY_NAME = "default"  # a tenant has one policy pack, versioned


class TenantRepository:
    """The seed's tenants. Creating one also defines its ``exception`` lifecycle."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def create_tenant(self, tenant_id: str, name: str) -> TenantRecord:
        """Create the tenant (active), or return it as it is when it exists; either way
        its `exception` lifecycle is defined."""
        ledger = ledger_of(self.session, "create_tenant")
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("name is required", field="name")
        tenant = await ledger.tenants.create(tenant_id, name, exist_ok=True)
        await ledger.tenant(tenant_id).cases.define_kind(
            KIND, list(STATUSES), transitions=TRANSITIONS, terminal=TERMINAL
        )
        return TenantRecord.of(tenant)

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        try:
            return TenantRecord.of(
                await ledger_of(self.session, "get_tenant").tenants.get(tenant_id)
            )
        except NotFound:
            return None

    async def list_tenants(self, *, status: str | None = None) -> list[TenantRecord]:
        if status is not None and status not in TENANT_STATUSES:
            raise InvalidInput(f"status {status!r} is not one of {TENANT_STATUSES}", field="status")
        found = await ledger_of(self.session, "list_tenants").tenants.list(status=status)
        return [TenantRecord.of(t) for t in found]

    async def update_status(self, tenant_id: str, status: str) -> TenantRecord:
        """active, suspended (reads only) or archived (neither reads nor writes)."""
        tenants = ledger_of(self.session, "update_status").tenants
        acts = {"active": tenants.activate, "suspended": tenants.suspend,
                "archived": tenants.archive}  # fmt: skip
        if status not in acts:
            raise InvalidInput(f"status {status!r} is not one of {TENANT_STATUSES}", field="status")
        return TenantRecord.of(await acts[status](tenant_id))


def _pack(version: CatalogVersion, *, domain: str | None, tenant_id: str | None) -> PackVersion:
    return PackVersion(
        domain=domain,
        tenant_id=tenant_id,
        version=version.version,
        pack_json=version.content,
        created_at=version.created_at,
    )


class DomainPackRepository:
    """Versioned domain packs, global: written by the platform, read by every tenant."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def create_version(
        self, domain: str, pack_json: Mapping[str, Any], *, at: dt.datetime | None = None
    ) -> PackVersion:
        """The domain's next version (1 for a new domain); the same pack as the latest
        adds no version and returns the latest."""
        pack = require_mapping("pack_json", pack_json)
        catalog = ledger_of(self.session, "a global domain pack").platform_catalog
        stored = await catalog.create_version(DOMAIN_PACK, domain, dict(pack), title=domain, at=at)
        return _pack(stored, domain=domain, tenant_id=None)

    async def get_latest(self, domain: str, *, tenant_id: str | None = None) -> PackVersion:
        """The latest version, read as ``tenant_id`` when given (globals are visible to
        every tenant), else by the platform. NotFound naming ``name`` when unknown."""
        stored = await self._catalog_get(domain, None, tenant_id)
        return _pack(stored, domain=domain, tenant_id=None)

    async def get_version(
        self, domain: str, version: int, *, tenant_id: str | None = None
    ) -> PackVersion:
        stored = await self._catalog_get(domain, version, tenant_id)
        return _pack(stored, domain=domain, tenant_id=None)

    async def _catalog_get(
        self, domain: str, version: int | None, tenant_id: str | None
    ) -> CatalogVersion:
        if tenant_id is None:
            platform = ledger_of(self.session, "a read without tenant_id").platform_catalog
            if version is None:
                return await platform.get_latest(DOMAIN_PACK, domain)
            return await platform.get_version(DOMAIN_PACK, domain, version)
        catalog = bound(self.session, tenant_id).catalog
        if version is None:
            return await catalog.get_latest(DOMAIN_PACK, domain, scope="global")
        return await catalog.get_version(DOMAIN_PACK, domain, version, scope="global")


class TenantPolicyPackRepository:
    """A tenant's policy pack overlay, versioned; only that tenant sees it."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def create_version(
        self, tenant_id: str, pack_json: Mapping[str, Any], *, at: dt.datetime | None = None
    ) -> PackVersion:
        pack = require_mapping("pack_json", pack_json)
        catalog = bound(self.session, tenant_id).catalog
        stored = await catalog.create_version(POLICY_PACK, POLICY_NAME, dict(pack), at=at)
        return _pack(stored, domain=None, tenant_id=tenant_id)

    async def get_latest(self, tenant_id: str) -> PackVersion:
        catalog = bound(self.session, tenant_id).catalog
        stored = await catalog.get_latest(POLICY_PACK, POLICY_NAME, scope="tenant")
        return _pack(stored, domain=None, tenant_id=tenant_id)

    async def get_version(self, tenant_id: str, version: int) -> PackVersion:
        catalog = bound(self.session, tenant_id).catalog
        stored = await catalog.get_version(POLICY_PACK, POLICY_NAME, version, scope="tenant")
        return _pack(stored, domain=None, tenant_id=tenant_id)


def _text(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required", field=field)
    return value


def _steps(steps: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Steps checked and numbered 1, 2, 3... in the order given."""
    if isinstance(steps, str | bytes) or not isinstance(steps, Sequence):
        raise InvalidInput("steps must be a list", field="steps")
    checked = []
    for i, step in enumerate(steps, 1):
        step = require_mapping(f"steps[{i - 1}]", step)
        params = step.get("params") or {}
        require_mapping("params", params)
        checked.append(
            {
                "step_order": i,
                "name": _text("name", step.get("name")),
                "action_type": _text("action_type", step.get("action_type")),
                "params": dict(params),
            }
        )
    return checked


def _playbook(tenant_id: str, stored: CatalogVersion) -> Playbook:
    content = stored.content
    steps = [
        PlaybookStep(
            step_id=f"{stored.name}:{s['step_order']}",
            playbook_id=stored.name,
            step_order=s["step_order"],
            name=s["name"],
            action_type=s["action_type"],
            params=s["params"],
            created_at=stored.created_at,
        )
        for s in content["steps"]
    ]
    return Playbook(
        playbook_id=stored.name,
        tenant_id=tenant_id,
        name=stored.title or stored.name,
        version=stored.version,
        conditions=content["conditions"],
        steps=steps,
        created_at=stored.created_at,
    )


class PlaybookRepository:
    """A tenant's playbooks: one versioned document each (``playbook_id`` is its key),
    holding its matching conditions and ordered steps; every change is a new version."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def create_version(
        self,
        tenant_id: str,
        playbook_id: str,
        *,
        name: str | None = None,
        conditions: Mapping[str, Any] | None = None,
        steps: Sequence[Mapping[str, Any]] = (),
        expected_version: int | None = None,
        at: dt.datetime | None = None,
    ) -> Playbook:
        """The playbook's next version with these conditions and steps (1 for a new one;
        ``expected_version=0`` insists it is new). The same content again adds nothing."""
        content = {
            "conditions": dict(require_mapping("conditions", conditions or {})),
            "steps": _steps(steps),
        }
        catalog = bound(self.session, tenant_id).catalog
        stored = await catalog.create_version(
            PLAYBOOK,
            playbook_id,
            content,
            title=name or playbook_id,
            expected_version=expected_version,
            at=at,
        )
        return _playbook(tenant_id, stored)

    async def get_latest(self, tenant_id: str, playbook_id: str) -> Playbook:
        catalog = bound(self.session, tenant_id).catalog
        return _playbook(tenant_id, await catalog.get_latest(PLAYBOOK, playbook_id, scope="tenant"))

    async def get_version(self, tenant_id: str, playbook_id: str, version: int) -> Playbook:
        catalog = bound(self.session, tenant_id).catalog
        stored = await catalog.get_version(PLAYBOOK, playbook_id, version, scope="tenant")
        return _playbook(tenant_id, stored)

    async def list_playbooks(self, tenant_id: str) -> list[Playbook]:
        """Every one of the tenant's playbooks at its latest version, by id (read page by
        page, so there is no cap)."""
        catalog = bound(self.session, tenant_id).catalog
        documents = await _all_documents(catalog, PLAYBOOK, scope="tenant")
        return [await self.get_latest(tenant_id, d.name) for d in documents]

    async def delete_playbook(self, tenant_id: str, playbook_id: str) -> bool:
        """Delete the playbook with all its versions; False when there was none."""
        return await bound(self.session, tenant_id).catalog.delete_document(PLAYBOOK, playbook_id)


class PlaybookStepRepository:
    """A playbook's ordered steps; adding, changing or removing one makes a new version
    of the playbook (the steps are renumbered 1, 2, 3...)."""

    def __init__(self, session: Session) -> None:
        self.playbooks = PlaybookRepository(session)

    async def get_steps(
        self, tenant_id: str, playbook_id: str, *, version: int | None = None
    ) -> list[PlaybookStep]:
        if version is None:
            return (await self.playbooks.get_latest(tenant_id, playbook_id)).steps
        return (await self.playbooks.get_version(tenant_id, playbook_id, version)).steps

    async def get_step(self, tenant_id: str, playbook_id: str, step_order: int) -> PlaybookStep:
        for step in await self.get_steps(tenant_id, playbook_id):
            if step.step_order == step_order:
                return step
        raise NotFound(f"playbook {playbook_id!r} has no step {step_order}", field="step_order")

    async def add_step(
        self,
        tenant_id: str,
        playbook_id: str,
        *,
        name: str,
        action_type: str,
        params: Mapping[str, Any] | None = None,
        step_order: int | None = None,
    ) -> Playbook:
        """Insert a step at ``step_order`` (default: last)."""
        current = await self.playbooks.get_latest(tenant_id, playbook_id)
        steps = [_as_input(s) for s in current.steps]
        at = len(steps) + 1 if step_order is None else _order(step_order, len(steps) + 1)
        steps.insert(at - 1, {"name": name, "action_type": action_type, "params": params or {}})
        return await self._save(tenant_id, current, steps)

    async def update_step(
        self,
        tenant_id: str,
        playbook_id: str,
        step_order: int,
        *,
        name: str | None = None,
        action_type: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Playbook:
        current = await self.playbooks.get_latest(tenant_id, playbook_id)
        steps = [_as_input(s) for s in current.steps]
        step = steps[_order(step_order, len(steps)) - 1]
        changes = {"name": name, "action_type": action_type, "params": params}
        step.update({k: v for k, v in changes.items() if v is not None})
        return await self._save(tenant_id, current, steps)

    async def delete_step(self, tenant_id: str, playbook_id: str, step_order: int) -> Playbook:
        current = await self.playbooks.get_latest(tenant_id, playbook_id)
        steps = [_as_input(s) for s in current.steps]
        del steps[_order(step_order, len(steps)) - 1]
        return await self._save(tenant_id, current, steps)

    async def _save(
        self, tenant_id: str, current: Playbook, steps: list[dict[str, Any]]
    ) -> Playbook:
        return await self.playbooks.create_version(
            tenant_id,
            current.playbook_id,
            name=current.name,
            conditions=current.conditions,
            steps=steps,
            expected_version=current.version,  # a concurrent change is a VersionConflict
        )


def _as_input(step: PlaybookStep) -> dict[str, Any]:
    return {"name": step.name, "action_type": step.action_type, "params": dict(step.params)}


def _order(value: object, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise InvalidInput(f"step_order must be 1 to {high}, not {value!r}", field="step_order")
    return value


async def _all_documents(
    catalog: AsyncCatalog, doc_type: str, *, scope: str = "any"
) -> list[CatalogDocument]:
    """Every document of ``doc_type`` in ``scope``, by name, read a page at a time
    (``list_documents`` returns at most 1000 per call)."""
    documents: list[CatalogDocument] = []
    after: tuple[str, str] | None = None
    while True:
        page = await catalog.list_documents(doc_type, scope=scope, after=after, limit=PAGE)
        documents.extend(page)
        if len(page) < PAGE:
            return documents
        after = (page[-1].doc_type, page[-1].name)


def _tool(stored: CatalogVersion, tenant_id: str | None) -> ToolDefinition:
    return ToolDefinition(
        tool_id=stored.name,
        name=stored.title or stored.name,
        tenant_id=None if stored.is_global else tenant_id,
        type=stored.content["type"],
        config=stored.content["config"],
        version=stored.version,
        created_at=stored.created_at,
    )


class ToolDefinitionRepository:
    """Tool definitions: global (the platform's, every tenant sees them) or a tenant's
    own, which shadows a global tool of the same name for that tenant."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def create_tool(
        self,
        name: str,
        type: str,
        config: Mapping[str, Any],
        *,
        tenant_id: str | None = None,
        at: dt.datetime | None = None,
    ) -> ToolDefinition:
        """Define the tool (``tenant_id`` None: global), or its next version when it
        exists; the same definition again changes nothing."""
        if type not in TOOL_TYPES:
            raise InvalidInput(f"type {type!r} is not one of {', '.join(TOOL_TYPES)}", field="type")
        content = {"type": type, "config": dict(require_mapping("config", config))}
        if tenant_id is None:
            catalog = ledger_of(self.session, "a global tool").platform_catalog
            return _tool(await catalog.create_version(TOOL, name, content, at=at), None)
        stored = await bound(self.session, tenant_id).catalog.create_version(
            TOOL, name, content, at=at
        )
        return _tool(stored, tenant_id)

    async def get_tool(self, tenant_id: str, tool_id: str) -> ToolDefinition | None:
        """The tenant's tool, else the global one of that name, else None."""
        try:
            stored = await bound(self.session, tenant_id).catalog.get_latest(TOOL, tool_id)
        except NotFound:
            return None
        return _tool(stored, tenant_id)

    async def list_tools(self, tenant_id: str) -> list[ToolDefinition]:
        """Every tool the tenant can use, global and its own, by name (read page by page,
        so there is no cap)."""
        catalog = bound(self.session, tenant_id).catalog
        documents = await _all_documents(catalog, TOOL)
        tools = [await catalog.get_latest(TOOL, d.name) for d in documents]
        return [_tool(t, tenant_id) for t in tools]

    async def delete_tool(self, tenant_id: str | None, tool_id: str) -> bool:
        if tenant_id is None:
            catalog = ledger_of(self.session, "a global tool").platform_catalog
            return await catalog.delete_document(TOOL, tool_id)
        return await bound(self.session, tenant_id).catalog.delete_document(TOOL, tool_id)
