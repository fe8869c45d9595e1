"""The record-keeping tools: append to and read event streams, record decisions and their
feedback, raise, list and acknowledge alerts."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from agentledger.integrations.mcp.auth import Access
from agentledger.integrations.mcp.shapes import (
    AlertResult,
    Alerts,
    AppendResult,
    DecisionResult,
    JsonObject,
    StreamEvents,
)
from agentledger.integrations.mcp.toolkit import READ, WRITE, WRITE_AGAIN, tool

Stream = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="The stream's name: one per thing whose history it is.",
        examples=["order:1042"],
    ),
]
By = Annotated[
    str | None, Field(max_length=200, description="Who is doing this.", examples=["ops-agent"])
]
Tier = Literal[1, 2, 3, "urgent", "important", "info"]


def register(server: MCPServer, access: Access) -> None:
    @tool(server, WRITE)
    async def events_append(
        stream: Stream,
        type: Annotated[
            str,
            Field(
                min_length=1,
                max_length=200,
                description="What happened, as a past-tense name.",
                examples=["OrderShipped"],
            ),
        ],
        payload: Annotated[
            dict[str, object] | None,
            Field(description="The event's data.", examples=[{"carrier": "DHL"}]),
        ] = None,
        actor_type: Annotated[
            Literal["agent", "user", "system"], Field(description="Who caused it.")
        ] = "agent",
        actor_id: Annotated[
            str | None, Field(description="Which agent or user.", examples=["shipping-agent"])
        ] = None,
        event_id: Annotated[
            UUID | None,
            Field(
                description="Your id for the event: appending the same id again stores "
                "nothing and answers already_appended, so a retry is safe."
            ),
        ] = None,
        expected_version: Annotated[
            int | None,
            Field(
                ge=0,
                description="The stream's version you last saw (0: the stream must be new); "
                "if it has moved on, nothing is written and a version-conflict error says so.",
            ),
        ] = None,
    ) -> AppendResult:
        """Record that something happened, at the end of an append-only event stream (events
        are never changed or deleted). Returns the event's version in its stream."""
        events = (await access.scope("writer")).events
        appended = await events.append(
            stream,
            type,
            payload,
            event_id=event_id,
            actor_type=actor_type,
            actor_id=actor_id,
            expected_version=expected_version,
        )
        return AppendResult(event=appended)

    @tool(server, READ)
    async def events_read_stream(
        stream: Stream,
        from_version: Annotated[
            int | None,
            Field(
                ge=0,
                description="Start at this version (default: the first, or the last when "
                "backwards).",
            ),
        ] = None,
        backwards: Annotated[bool, Field(description="Newest first.")] = False,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many events.")] = 50,
    ) -> StreamEvents:
        """Read an event stream's history in order (or newest first with backwards=true).
        A stream nothing was appended to reads as empty."""
        events = (await access.scope("reader")).events
        found = await events.read_stream(
            stream, from_version=from_version, backwards=backwards, limit=limit
        )
        return StreamEvents(stream=stream, events=found)

    @tool(server, WRITE)
    async def decisions_record(
        decision: Annotated[
            str,
            Field(
                min_length=1,
                description="What was decided, as an action.",
                examples=["Escalate the Acme renewal to the account owner"],
            ),
        ],
        decision_type: Annotated[
            str,
            Field(
                min_length=1,
                max_length=100,
                description="The kind of decision, for acceptance statistics.",
                examples=["escalation"],
            ),
        ],
        reasoning: Annotated[
            str,
            Field(
                description="Why, for the person who reviews it.",
                examples=["Renewal is in 5 days and the champion has not replied"],
            ),
        ] = "",
        confidence: Annotated[
            float | None, Field(ge=0, le=1, description="How sure, 0 to 1.", examples=[0.8])
        ] = None,
        data: JsonObject = None,
        agent: Annotated[
            str | None, Field(max_length=200, description="The deciding agent's name.")
        ] = None,
        id: Annotated[
            UUID | None,
            Field(description="Your id for it: recording the same id again returns it."),
        ] = None,
    ) -> DecisionResult:
        """Record a decision with its reasoning and confidence, for people to review and
        accept or reject later (decisions_feedback). Decisions are never deleted."""
        decisions = (await access.scope("writer")).decisions
        recorded = await decisions.record(
            decision,
            decision_type=decision_type,
            reasoning=reasoning,
            confidence=confidence,
            data=data,
            agent=agent,
            id=id,
        )
        return DecisionResult(decision=recorded)

    @tool(server, WRITE_AGAIN)
    async def decisions_feedback(
        decision_id: Annotated[UUID, Field(description="The decision's id.")],
        accepted: Annotated[bool, Field(description="Was the decision right?")],
        reason: Annotated[
            str | None, Field(description="Why.", examples=["Right call, and in time"])
        ] = None,
        by: By = None,
    ) -> DecisionResult:
        """Record whether a decision was accepted. Feedback is set once: the same again
        changes nothing, different feedback is refused with a conflict error."""
        decisions = (await access.scope("writer")).decisions
        updated = await decisions.record_feedback(decision_id, accepted, reason=reason, by=by)
        return DecisionResult(decision=updated)

    @tool(server, WRITE)
    async def alerts_create(
        tier: Annotated[
            Tier,
            Field(description="1 or urgent, 2 or important, 3 or info.", examples=["urgent"]),
        ],
        title: Annotated[
            str,
            Field(
                min_length=1,
                max_length=500,
                description="One line a person sees first.",
                examples=["Acme renewal overdue"],
            ),
        ],
        body: Annotated[str, Field(description="Details and what to do.")] = "",
        action_required: Annotated[bool, Field(description="A person has to act on it.")] = False,
        entity_ref: Annotated[
            str | None, Field(description="The memory entity or record it is about.")
        ] = None,
        case_ref: Annotated[str | None, Field(description="The case it belongs to.")] = None,
        dedup_key: Annotated[
            str | None,
            Field(
                description="Raising again with the key of a still-open alert counts another "
                "occurrence of it instead of a new alert.",
                examples=["renewal-overdue:acme"],
            ),
        ] = None,
    ) -> AlertResult:
        """Raise an alert for people to see (tier 1 urgent, 2 important, 3 info). It stays
        pending until acknowledged."""
        alerts = (await access.scope("writer")).alerts
        raised = await alerts.create(
            tier,
            title,
            body=body,
            action_required=action_required,
            entity_ref=entity_ref,
            case_ref=case_ref,
            dedup_key=dedup_key,
        )
        return AlertResult(alert=raised)

    @tool(server, READ)
    async def alerts_pending(
        tier: Annotated[Tier | None, Field(description="Only alerts of this tier.")] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many.")] = 50,
    ) -> Alerts:
        """The alerts nobody has acknowledged yet, most urgent first."""
        alerts = (await access.scope("reader")).alerts
        return Alerts(alerts=await alerts.pending(tier, limit=limit))

    @tool(server, WRITE_AGAIN)
    async def alerts_acknowledge(
        alert_id: Annotated[UUID, Field(description="The alert's id.")],
        by: By = None,
    ) -> AlertResult:
        """Mark a pending alert as seen and being handled. An alert already acknowledged
        or resolved is refused with an illegal-transition error naming its state."""
        alerts = (await access.scope("writer")).alerts
        return AlertResult(alert=await alerts.acknowledge(alert_id, by=by))
