"""The case tools: list and read cases with their timelines, open or upsert them by ref,
move them through their kind's lifecycle, comment on them, and the supervisor's counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from agentledger.errors import InvalidInput
from agentledger.integrations.mcp.auth import Access
from agentledger.integrations.mcp.shapes import (
    AggregatesResult,
    CaseDetail,
    CasePageResult,
    CaseResult,
    CommentResult,
    JsonObject,
    NewId,
    UpsertedCaseResult,
)
from agentledger.integrations.mcp.toolkit import READ, WRITE, WRITE_AGAIN, tool

Kind = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="The kind of case, as the tenant defined it (its lifecycle).",
        examples=["exception"],
    ),
]
Ref = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="The case's external id, unique within its kind.",
        examples=["EX-2025-0001"],
    ),
]
Severity = Literal["low", "medium", "high", "critical"]
By = Annotated[
    str | None, Field(max_length=200, description="Who is doing this.", examples=["triage-agent"])
]
Text = Annotated[str | None, Field(max_length=200)]
# How many timeline events cases_get shows unless asked otherwise.
TIMELINE = 100


def register(server: MCPServer, access: Access) -> None:
    @tool(server, READ)
    async def cases_list(
        kind: Annotated[str | None, Field(description="Only cases of this kind.")] = None,
        status: Annotated[
            list[str] | None,
            Field(description="Only cases in these statuses.", examples=[["open"]]),
        ] = None,
        severity: Annotated[
            list[Severity] | None, Field(description="Only cases of these severities.")
        ] = None,
        domain: Annotated[str | None, Field(description="Only cases of this domain.")] = None,
        owner: Annotated[str | None, Field(description="Only cases this owner holds.")] = None,
        entity: Annotated[
            str | None,
            Field(description="Only cases about this business entity.", examples=["acct:77"]),
        ] = None,
        open: Annotated[
            bool | None, Field(description="true: open cases only; false: resolved ones only.")
        ] = None,
        sla_breached: Annotated[
            bool, Field(description="Only open cases past their SLA deadline.")
        ] = False,
        order: Annotated[
            Literal["created_at", "score", "severity", "sla_deadline", "updated_at"],
            Field(
                description="created_at / updated_at: newest first; score: highest first; "
                "severity: most severe first; sla_deadline: soonest first."
            ),
        ] = "created_at",
        cursor: Annotated[
            str | None,
            Field(description="The previous page's next_cursor (with the same filters)."),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="At most this many cases.")] = 20,
    ) -> CasePageResult:
        """List the tenant's cases matching every filter given, one page at a time."""
        cases = (await access.scope("reader")).cases
        page = await cases.list(
            kind=kind,
            status=status,
            severity=severity,
            domain=domain,
            owner=owner,
            entity=entity,
            open=open,
            sla_breached=sla_breached,
            order=order,
            cursor=cursor,
            limit=limit,
        )
        return CasePageResult(cases=page.items, next_cursor=page.next_cursor)

    @tool(server, READ)
    async def cases_get(
        case_id: Annotated[UUID | None, Field(description="The case's id.")] = None,
        ref: Annotated[
            str | None, Field(description="Or its external id (with kind when kinds share it).")
        ] = None,
        kind: Annotated[str | None, Field(description="The kind, with ref.")] = None,
        timeline: Annotated[
            int, Field(ge=0, le=1000, description="How many of its first events to include.")
        ] = TIMELINE,
    ) -> CaseDetail:
        """One case by id or by ref, with the statuses it may move to next and its timeline
        (every change, comment and event, oldest first)."""
        cases = (await access.scope("reader")).cases
        if case_id is not None:
            found = await cases.get(case_id)
        elif ref is not None:
            found = await cases.get_by_ref(ref, kind=kind)
        else:
            raise InvalidInput("give the case's id or its ref", field="case_id")
        events: list[Any] = []
        if timeline:  # the case again with its timeline, the two read together
            found, events = await cases.detail(found.id, limit=timeline)
        lifecycle = await cases.kind(found.kind)
        return CaseDetail(
            case=found, next_statuses=lifecycle.transitions.get(found.status, []), timeline=events
        )

    @tool(server, WRITE)
    async def cases_create(
        kind: Kind,
        title: Annotated[
            str,
            Field(
                min_length=1,
                max_length=500,
                description="What the case is, in a line.",
                examples=["Settlement failed for ACME"],
            ),
        ],
        body: Annotated[str, Field(description="The long form: what is known so far.")] = "",
        ref: Annotated[str | None, Field(description="Its external id, if it has one.")] = None,
        type: Annotated[
            Text, Field(description="A finer type.", examples=["SettlementFail"])
        ] = None,
        severity: Annotated[Severity | None, Field(description="How bad it is.")] = None,
        score: Annotated[float | None, Field(ge=0, le=10, description="Impact, 0 to 10.")] = None,
        confidence: Annotated[
            float | None, Field(ge=0, le=1, description="How sure you are, 0 to 1.")
        ] = None,
        owner: Annotated[Text, Field(description="Who handles it.")] = None,
        domain: Annotated[
            Text, Field(description="Its business area.", examples=["Finance"])
        ] = None,
        entity: Annotated[
            Text, Field(description="The business object it is about.", examples=["acct:77"])
        ] = None,
        source: Annotated[Text, Field(description="The system or agent that found it.")] = None,
        amount: Annotated[
            Decimal | None, Field(description="An amount of money at stake, exact.")
        ] = None,
        sla_deadline: Annotated[
            dt.datetime | None,
            Field(description="When it must be resolved by (ISO 8601 with a zone)."),
        ] = None,
        attrs: JsonObject = None,
        by: By = None,
        id: NewId = None,
    ) -> CaseResult:
        """Open a case of a kind in its initial status. With an external id of its own,
        prefer cases_upsert, which also updates the case when it exists."""
        cases = (await access.scope("writer")).cases
        created = await cases.create(
            kind,
            title,
            body=body,
            ref=ref,
            type=type,
            severity=severity,
            score=score,
            confidence=confidence,
            owner=owner,
            domain=domain,
            entity=entity,
            source=source,
            amount=amount,
            sla_deadline=sla_deadline,
            attrs=attrs,
            by=by,
            id=id,
        )
        return CaseResult(case=created)

    @tool(server, WRITE_AGAIN)
    async def cases_upsert(
        kind: Kind,
        ref: Ref,
        title: Annotated[
            str | None, Field(max_length=500, description="Needed when the case is new.")
        ] = None,
        body: Annotated[str | None, Field(description="The long form.")] = None,
        status: Annotated[
            str | None, Field(description="Move it to this status (a move its kind allows).")
        ] = None,
        type: Annotated[Text, Field(description="A finer type.")] = None,
        severity: Annotated[Severity | None, Field(description="How bad it is.")] = None,
        score: Annotated[float | None, Field(ge=0, le=10, description="Impact, 0 to 10.")] = None,
        confidence: Annotated[
            float | None, Field(ge=0, le=1, description="How sure you are, 0 to 1.")
        ] = None,
        owner: Annotated[Text, Field(description="Who handles it.")] = None,
        domain: Annotated[Text, Field(description="Its business area.")] = None,
        entity: Annotated[Text, Field(description="The business object it is about.")] = None,
        source: Annotated[Text, Field(description="The system or agent that found it.")] = None,
        amount: Annotated[Decimal | None, Field(description="An amount at stake, exact.")] = None,
        sla_deadline: Annotated[
            dt.datetime | None, Field(description="Resolve by (ISO 8601 with a zone).")
        ] = None,
        attrs: Annotated[
            dict[str, object] | None,
            Field(description="Merged into its attrs key by key.", examples=[{"desk": "FX"}]),
        ] = None,
        by: By = None,
    ) -> UpsertedCaseResult:
        """The case of a kind with an external id: opened when new (it needs a title), else
        changed where the given fields differ (omitted ones are kept). The same content
        again changes nothing, so a retry is safe."""
        cases = (await access.scope("writer")).cases
        done = await cases.upsert(
            kind,
            ref,
            title,
            body=body,
            status=status,
            type=type,
            severity=severity,
            score=score,
            confidence=confidence,
            owner=owner,
            domain=domain,
            entity=entity,
            source=source,
            amount=amount,
            sla_deadline=sla_deadline,
            attrs=attrs,
            by=by,
        )
        return UpsertedCaseResult(case=done.case, created=done.created, changed=done.changed)

    @tool(server, WRITE_AGAIN)
    async def cases_transition(
        case_id: Annotated[UUID, Field(description="The case's id.")],
        status: Annotated[
            str,
            Field(
                min_length=1,
                description="The status to move to: one of cases_get's next_statuses.",
                examples=["analyzing"],
            ),
        ],
        reason: Annotated[str | None, Field(description="Why, for the timeline.")] = None,
        expected_version: Annotated[
            int | None,
            Field(
                ge=1,
                description="The case's version you last saw: if it has changed since, "
                "nothing moves and a version-conflict error says so.",
            ),
        ] = None,
        by: By = None,
    ) -> CaseResult:
        """Move a case to another status of its lifecycle. A move its kind does not allow
        is refused (illegal-transition, naming the moves allowed); moving to the status it
        already has changes nothing."""
        cases = (await access.scope("writer")).cases
        moved = await cases.transition(
            case_id, status, by=by, reason=reason, expected_version=expected_version
        )
        return CaseResult(case=moved)

    @tool(server, WRITE)
    async def cases_comment(
        case_id: Annotated[UUID, Field(description="The case's id.")],
        text: Annotated[
            str,
            Field(
                min_length=1,
                description="The comment.",
                examples=["Desk confirms the trade; retrying settlement."],
            ),
        ],
        by: By = None,
        id: Annotated[
            UUID | None,
            Field(description="Your id for it: commenting with the same id again adds nothing."),
        ] = None,
    ) -> CommentResult:
        """Add a comment to a case's timeline (the case itself is unchanged)."""
        cases = (await access.scope("writer")).cases
        added = await cases.comment(case_id, text, by=by, id=id)
        return CommentResult(comment=added)

    @tool(server, READ)
    async def cases_aggregates(
        kind: Annotated[str | None, Field(description="Only cases of this kind.")] = None,
        domain: Annotated[str | None, Field(description="Only cases of this domain.")] = None,
        since: Annotated[
            dt.datetime | None,
            Field(
                description="Resolution times of cases resolved from then (default: 30 "
                "days before until)."
            ),
        ] = None,
        until: Annotated[
            dt.datetime | None, Field(description="... until then (default: now).")
        ] = None,
    ) -> AggregatesResult:
        """The supervisor's view of the tenant's cases: how many in each status, severity,
        kind and domain, how many open and past their SLA deadline, how old the open ones
        are and how long resolving took (count, average and percentiles, in seconds)."""
        cases = (await access.scope("reader")).cases
        stats = await cases.aggregates(kind=kind, domain=domain, since=since, until=until)
        return AggregatesResult(aggregates=stats)
