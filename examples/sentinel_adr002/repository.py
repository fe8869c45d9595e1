"""ADR-002's five areas (agents, bottlenecks, decisions, weekly plans, Notion sync) as one
repository over agentledger, with the seed's field names.

Agents are the agent registry (kept without a heartbeat: a weekly agent stays
``active``), bottlenecks are cases of kind ``bottleneck`` (the database holds them to
their lifecycle and their 0-10 / 0-1 ranges), decisions are decisions (never deleted),
weekly plans are ``weekly_plan`` catalog documents named by their start date, and Notion
sync attempts are ``NotionSynced`` events on the bottleneck's timeline.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from agentledger import Case, InvalidInput, Ledger, NotFound, validation as v
from agentledger.cases import CaseEvent
from examples.sentinel_adr002.records import (
    Agent,
    Bottleneck,
    Decision,
    NotionSync,
    WeeklyPlan,
)

TENANT = "sentinel-adr002"
KIND = "bottleneck"
PLAN = "weekly_plan"
SYNCED = "NotionSynced"
STATUSES = ("pending", "in_progress", "resolved", "ignored")
MOVES = {"pending": ["in_progress", "ignored"], "in_progress": ["resolved"]}
# The seed's agent statuses and the registry's.
AGENT_STATUS = {"active": "available", "running": "busy", "inactive": "offline", "error": "error"}
SEED_STATUS = {ours: seed for seed, ours in AGENT_STATUS.items()}


class SentinelRepository:
    """The seed's tables as calls, bound to one tenant of an open ``Ledger``."""

    def __init__(self, ledger: Ledger, *, tenant: str = TENANT) -> None:
        """Bind to ``tenant`` (created when missing) and define the bottleneck lifecycle."""
        self.ledger = ledger
        self.tenant = tenant
        ledger.tenants.create(tenant, "Sentinel (ADR-002)", exist_ok=True)
        self.scope = ledger.tenant(tenant)
        self.scope.cases.define_kind(
            KIND, list(STATUSES), transitions=MOVES, terminal=["resolved", "ignored"]
        )

    # --- agents -----------------------------------------------------------------------
    def register_agent(
        self,
        agent_id: str,
        agent_type: str,
        *,
        domain: str | None = None,
        config: Mapping[str, Any] | None = None,
        status: str | None = None,
    ) -> Agent:
        """Register an agent (``active`` unless ``status`` says otherwise), or update it:
        fields left None keep their value. Agents keep no heartbeat, so the status is the
        one last set, however long ago the last run was."""
        ours = None if status is None else AGENT_STATUS[v.choice("status", status, AGENT_STATUS)]
        with self.scope.transaction() as tx:
            registered = tx.agents.register(
                agent_id,
                agent_type=v.text("agent_type", agent_type, max_len=50),
                domain=domain,
                config=None if config is None else dict(config),
                heartbeat_timeout="never",
            )
            if ours is not None and registered.status != ours:
                registered = tx.agents.heartbeat(agent_id, status=ours)
        return _agent(registered)

    def get_agent(self, agent_id: str) -> Agent:
        """One agent; NotFound naming ``agent_id``."""
        try:
            return _agent(self.scope.agents.get(agent_id))
        except NotFound:
            raise NotFound(f"agent {agent_id!r} is not registered", field="agent_id") from None

    def list_agents(
        self, *, agent_type: str | None = None, status: str | None = None
    ) -> list[Agent]:
        """Agents by id, optionally of one type or status."""
        ours = None if status is None else AGENT_STATUS[v.choice("status", status, AGENT_STATUS)]
        return [
            _agent(a)
            for a in self.scope.agents.list(agent_type=agent_type, status=ours, limit=1000)
        ]

    def record_run(self, agent_id: str, *, started_at: dt.datetime | None = None) -> Agent:
        """The agent ran: its ``last_run`` is now, and the run is in the run log (trigger
        type ``agent_run``, source the agent) from ``started_at`` (default now) to now."""
        self.get_agent(agent_id)
        with self.scope.transaction() as tx:
            run = tx.runs.start("agent_run", source_id=agent_id, at=started_at)
            tx.runs.finish(run.id)
            return _agent(tx.agents.record_run(agent_id))

    def set_agent_status(self, agent_id: str, status: str) -> Agent:
        """Set an agent's status (active, running, inactive or error)."""
        ours = AGENT_STATUS[v.choice("status", status, AGENT_STATUS)]
        self.get_agent(agent_id)
        return _agent(self.scope.agents.heartbeat(agent_id, status=ours))

    # --- bottlenecks ------------------------------------------------------------------
    def report_bottleneck(
        self,
        agent_id: str,
        description: str,
        impact_score: float,
        confidence: float,
        *,
        blocking: Sequence[str] = (),
        recommended_action: str | None = None,
        reasoning: str | None = None,
        notion_page_id: str | None = None,
        identified_at: dt.datetime | None = None,
        id: str | uuid.UUID | None = None,
    ) -> Bottleneck:
        """A new ``pending`` bottleneck that blocks the bottlenecks in ``blocking``. Refused
        before anything is written: an impact outside 0-10 or a confidence outside 0-1
        (InvalidInput naming the field), an agent not registered (NotFound naming
        ``agent_id``). The same ``id`` again returns the stored bottleneck (a retry)."""
        score = v.number("impact_score", impact_score, low=0, high=10)
        sure = v.number("confidence", confidence, low=0, high=1)
        v.text("description", description, max_len=500)
        self.get_agent(agent_id)
        attrs = {
            "recommended_action": recommended_action,
            "reasoning": reasoning,
            "notion_page_id": notion_page_id,
        }
        with self.scope.transaction() as tx:
            case = tx.cases.create(
                KIND,
                description,
                source=agent_id,
                score=score,
                confidence=sure,
                attrs={k: x for k, x in attrs.items() if x is not None},
                by=agent_id,
                at=identified_at,
                id=uuid.uuid4() if id is None else id,
            )
            for other in blocking:
                tx.cases.block(case.id, other, by=agent_id)
            blocked = [str(c.id) for c in tx.cases.blocking(case.id)]
        return _bottleneck(case, blocked)

    def get_bottleneck(self, bottleneck_id: str | uuid.UUID) -> Bottleneck:
        """One bottleneck with the ids it blocks; NotFound naming the id."""
        with self.scope.transaction() as tx:
            case = _only_bottleneck(tx.cases.get(bottleneck_id))
            return _bottleneck(case, [str(c.id) for c in tx.cases.blocking(case.id)])

    def start_bottleneck(
        self,
        bottleneck_id: str | uuid.UUID,
        *,
        by: str | None = None,
        at: dt.datetime | None = None,
    ) -> Bottleneck:
        """pending → in_progress (at ``at`` for imported history)."""
        return self._move(bottleneck_id, "in_progress", by, at)

    def resolve_bottleneck(
        self,
        bottleneck_id: str | uuid.UUID,
        *,
        by: str | None = None,
        at: dt.datetime | None = None,
    ) -> Bottleneck:
        """in_progress → resolved; sets ``resolved_at`` (to ``at`` when given)."""
        return self._move(bottleneck_id, "resolved", by, at)

    def ignore_bottleneck(
        self,
        bottleneck_id: str | uuid.UUID,
        *,
        by: str | None = None,
        reason: str | None = None,
        at: dt.datetime | None = None,
    ) -> Bottleneck:
        """pending → ignored (an ignored bottleneck is closed too)."""
        return self._move(bottleneck_id, "ignored", by, at, reason)

    def set_status(self, bottleneck_id: str | uuid.UUID, status: str) -> Bottleneck:
        """Any move of the workflow; a move it does not allow (resolved → pending) is an
        IllegalTransition naming both statuses, and nothing changes."""
        return self._move(bottleneck_id, v.choice("status", status, STATUSES), None, None)

    def list_bottlenecks(
        self,
        *,
        status: str | None = None,
        agent_id: str | None = None,
        identified_from: dt.datetime | None = None,
        identified_to: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[Bottleneck]:
        """Bottlenecks by impact, highest first, filtered by status, reporting agent and the
        period they were identified in (``identified_from`` inclusive, ``identified_to``
        exclusive); the first ``limit`` (None: all; below 1 is InvalidInput naming
        ``limit``, as for decisions and plans)."""
        if limit is not None and v.integer("limit", limit) < 1:
            raise InvalidInput(f"limit is {limit}; it must be at least 1", field="limit")
        found: list[Bottleneck] = []
        with self.scope.transaction() as tx:
            for case in _walk(
                tx.cases.list,
                kind=KIND,
                status=None if status is None else v.choice("status", status, STATUSES),
                source=agent_id,
                created_after=identified_from,
                created_before=identified_to,
                order="score",
            ):
                found.append(_bottleneck(case, [str(c.id) for c in tx.cases.blocking(case.id)]))
                if limit is not None and len(found) >= limit:
                    break
        return found

    def blocking(self, bottleneck_id: str | uuid.UUID) -> list[Bottleneck]:
        """The bottlenecks this one blocks."""
        return [self.get_bottleneck(c.id) for c in self.scope.cases.blocking(bottleneck_id)]

    def blocked_by(self, bottleneck_id: str | uuid.UUID) -> list[Bottleneck]:
        """The bottlenecks that block this one."""
        return [self.get_bottleneck(c.id) for c in self.scope.cases.blocked_by(bottleneck_id)]

    def add_blocking(self, bottleneck_id: str | uuid.UUID, blocked_id: str | uuid.UUID) -> bool:
        """This bottleneck blocks another; False when it did already. A cycle is a Conflict."""
        return self.scope.cases.block(bottleneck_id, blocked_id)

    # --- decisions --------------------------------------------------------------------
    def log_decision(
        self,
        agent_id: str,
        decision_type: str,
        decision_data: Mapping[str, Any],
        *,
        reasoning: str | None = None,
        confidence: float | None = None,
        timestamp: dt.datetime | None = None,
        id: str | uuid.UUID | None = None,
    ) -> Decision:
        """Append a decision to the audit log (the same ``id`` again: the stored one). The
        log is never changed or deleted, by this repository or by SQL."""
        self.get_agent(agent_id)
        data = v.json_object("decision_data", decision_data)
        summary = str(data.get("decision") or data.get("action") or decision_type)
        stored = self.scope.decisions.record(
            summary[:1000],
            decision_type=v.text("decision_type", decision_type, max_len=100),
            reasoning=reasoning or "",
            confidence=None
            if confidence is None
            else v.number("confidence", confidence, low=0, high=1),
            data=data,
            agent=agent_id,
            at=timestamp,
            id=uuid.uuid4() if id is None else id,
        )
        return _decision(stored)

    def list_decisions(
        self, *, agent_id: str | None = None, decision_type: str | None = None, limit: int = 1000
    ) -> list[Decision]:
        """The log, newest first, optionally of one agent or one type."""
        return [
            _decision(d)
            for d in self.scope.decisions.list(
                agent=agent_id, decision_type=decision_type, limit=limit
            )
        ]

    # --- weekly plans -----------------------------------------------------------------
    def save_weekly_plan(
        self,
        week_start: dt.date,
        week_end: dt.date,
        priorities: Any,
        *,
        conflicts: Sequence[Any] = (),
        synthesis_reasoning: str | None = None,
        created_at: dt.datetime | None = None,
    ) -> WeeklyPlan:
        """The orchestrator's plan for the week starting ``week_start``. ``week_end``
        before ``week_start`` or no priorities is InvalidInput naming the field. Saving a
        week again keeps the earlier plan as an older version (the same plan again adds
        none)."""
        start, end = _day("week_start", week_start), _day("week_end", week_end)
        if end < start:
            raise InvalidInput(f"week_end {end} is before week_start {start}", field="week_end")
        if priorities is None:
            raise InvalidInput("priorities are required", field="priorities")
        content = {
            "week_start": start.isoformat(),
            "week_end": end.isoformat(),
            "priorities": priorities,
            "conflicts": list(conflicts),
            "synthesis_reasoning": synthesis_reasoning,
        }
        saved = self.scope.catalog.create_version(
            PLAN, start.isoformat(), content, created_by="orchestrator", at=created_at
        )
        return _plan(saved.content, saved.created_at, saved.version)

    def get_weekly_plan(self, week_start: dt.date) -> WeeklyPlan | None:
        """The latest plan of the week starting ``week_start``, or None."""
        try:
            saved = self.scope.catalog.get_latest(
                PLAN, _day("week_start", week_start).isoformat(), scope="tenant"
            )
        except NotFound:
            return None
        return _plan(saved.content, saved.created_at, saved.version)

    def list_weekly_plans(self, *, limit: int = 100) -> list[WeeklyPlan]:
        """The weeks' latest plans, newest week first."""
        docs = self.scope.catalog.list_documents(PLAN, scope="tenant", descending=True, limit=limit)
        plans = [self.get_weekly_plan(dt.date.fromisoformat(d.name)) for d in docs]
        return [p for p in plans if p is not None]

    # --- Notion sync ------------------------------------------------------------------
    def record_notion_sync(
        self,
        bottleneck_id: str | uuid.UUID,
        notion_page_id: str,
        sync_status: str,
        *,
        synced_at: dt.datetime | None = None,
        id: str | uuid.UUID | None = None,
    ) -> NotionSync:
        """One attempt to sync a bottleneck to a Notion page, on the bottleneck's timeline;
        a ``success`` also sets the bottleneck's ``notion_page_id``. The same ``id`` again
        records nothing more."""
        page = v.text("notion_page_id", notion_page_id, max_len=255)
        status = v.text("sync_status", sync_status, max_len=50)
        event_id = uuid.uuid4() if id is None else v.uuid("id", id)
        with self.scope.transaction() as tx:
            case = _only_bottleneck(tx.cases.get(bottleneck_id))
            appended = tx.cases.append_event(
                case.id,
                SYNCED,
                {"notion_page_id": page, "sync_status": status},
                event_id=event_id,
                by="notion-sync",
                actor_type="system",
                at=synced_at,
            )
            if status == "success" and case.attrs.get("notion_page_id") != page:
                tx.cases.update(case.id, attrs={"notion_page_id": page}, by="notion-sync")
        return NotionSync(
            id=str(appended.event_id),
            bottleneck_id=str(case.id),
            notion_page_id=page,
            synced_at=appended.created_at,
            sync_status=status,
        )

    def notion_sync_history(self, bottleneck_id: str | uuid.UUID) -> list[NotionSync]:
        """The bottleneck's sync attempts, oldest first."""
        _only_bottleneck(self.scope.cases.get(bottleneck_id))
        return [_sync(e) for e in self.scope.cases.timeline(bottleneck_id) if e.type == SYNCED]

    def latest_notion_sync(self, bottleneck_id: str | uuid.UUID) -> NotionSync | None:
        """The bottleneck's latest sync attempt, or None."""
        history = self.notion_sync_history(bottleneck_id)
        return history[-1] if history else None

    # --- internals --------------------------------------------------------------------
    def _move(
        self,
        bottleneck_id: str | uuid.UUID,
        status: str,
        by: str | None,
        at: dt.datetime | None,
        reason: str | None = None,
    ) -> Bottleneck:
        with self.scope.transaction() as tx:
            _only_bottleneck(tx.cases.get(bottleneck_id))
            case = tx.cases.transition(bottleneck_id, status, by=by, reason=reason, at=at)
            return _bottleneck(case, [str(c.id) for c in tx.cases.blocking(case.id)])


def _walk(list_page: Any, **filters: Any) -> Iterator[Case]:
    cursor = None
    while True:
        page = list_page(**filters, cursor=cursor, limit=500)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _day(field: str, value: object) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise InvalidInput(f"{field} must be a date, not {type(value).__name__}", field=field)
    return value


def _only_bottleneck(case: Case) -> Case:
    if case.kind != KIND:
        raise NotFound(f"bottleneck {str(case.id)!r} does not exist", field="id")
    return case


def _agent(agent: Any) -> Agent:
    return Agent(
        agent_id=agent.name,
        agent_type=agent.agent_type,
        domain=agent.domain or None,
        config=agent.config,
        created_at=agent.created_at,
        last_run=agent.last_run_at,
        status=SEED_STATUS[agent.status],
    )


def _bottleneck(case: Case, blocking: list[str]) -> Bottleneck:
    return Bottleneck(
        id=str(case.id),
        agent_id=case.source or "",
        description=case.title,
        impact_score=case.score if case.score is not None else 0.0,
        confidence=case.confidence if case.confidence is not None else 0.0,
        blocking=blocking,
        recommended_action=case.attrs.get("recommended_action"),
        reasoning=case.attrs.get("reasoning"),
        status=case.status,
        identified_at=case.created_at,
        resolved_at=case.resolved_at,
        notion_page_id=case.attrs.get("notion_page_id"),
    )


def _decision(d: Any) -> Decision:
    return Decision(
        id=str(d.id),
        agent_id=d.agent or "",
        decision_type=d.decision_type,
        decision_data=d.data,
        reasoning=d.reasoning or None,
        confidence=d.confidence,
        timestamp=d.created_at,
    )


def _plan(content: Mapping[str, Any], created_at: dt.datetime, version: int) -> WeeklyPlan:
    return WeeklyPlan(
        week_start=dt.date.fromisoformat(content["week_start"]),
        week_end=dt.date.fromisoformat(content["week_end"]),
        priorities=content["priorities"],
        conflicts=list(content.get("conflicts") or []),
        synthesis_reasoning=content.get("synthesis_reasoning"),
        created_at=created_at,
        version=version,
    )


def _sync(event: CaseEvent) -> NotionSync:
    return NotionSync(
        id=str(event.event_id),
        bottleneck_id=str(event.case_id),
        notion_page_id=event.payload["notion_page_id"],
        synced_at=event.at,
        sync_status=event.payload["sync_status"],
    )
