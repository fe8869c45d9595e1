"""The Sentinel pipeline's retrieval and store-back steps (the seed's Tasks 3 and 4).

``store_back`` is the seed's code, step for step; it never raises: a write PostgreSQL could
not take is kept in the spool (``Spooled``) or, failing that, logged, and the pipeline
completes. ``retrieve_context`` adds the structured context and similar interactions, and
returns empty context when the database is down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentledger import LedgerError, Spooled
from examples.sentinel_storeback.storeback import SentinelStoreBack

log = logging.getLogger("sentinel.pipeline")
TIERS = {"urgent": 1, "important": 2, "info": 3}


@dataclass(kw_only=True)
class TriggerEvent:
    """What woke the pipeline: an email, a message, a calendar event..."""

    type: str
    source_id: str
    content: str
    contact_id: str | None = None
    contact_name: str | None = None
    priority: str | None = None


@dataclass(kw_only=True)
class SentinelResponse:
    """What the model answered, as the seed's pipeline hands it to ``store_back``."""

    contact_updates: list[dict[str, Any]] = field(default_factory=list)
    decisions_log: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    summary: str = ""


@dataclass(kw_only=True)
class StoreBackReport:
    """What one store-back did: the trigger's id, how many writes were applied at once and
    how many wait in the spool, and the steps that failed outright (logged)."""

    trigger_id: str | None = None
    written: int = 0
    spooled: int = 0
    failed: list[str] = field(default_factory=list)


Responder = Callable[[TriggerEvent, dict[str, Any]], SentinelResponse]


class SentinelPipeline:
    def __init__(self, store: SentinelStoreBack | None = None) -> None:
        self.store = store if store is not None else SentinelStoreBack()

    def run(self, trigger: TriggerEvent, respond: Responder) -> SentinelResponse:
        """Retrieve context, let ``respond`` (the model) answer, store the outcome back."""
        started = time.monotonic()
        context = self.retrieve_context(trigger)
        response = respond(trigger, context)
        response.metadata.setdefault(
            "pipeline_duration_ms", int((time.monotonic() - started) * 1000)
        )
        self.store_back(trigger, response)
        return response

    def retrieve_context(self, trigger: TriggerEvent) -> dict[str, Any]:
        """Step 2: structured context from PostgreSQL and similar past interactions."""
        try:
            context = self.store.get_structured_context(trigger.contact_name)
            context["similar_interactions"] = self.store.similar_interactions(trigger.content)
        except LedgerError as exc:
            log.warning("retrieve_context: no structured context (%s)", exc)
            return {}
        return context

    def store_back(self, trigger: TriggerEvent, response: SentinelResponse) -> StoreBackReport:
        """Step 5: write the trigger, contacts, decisions, alerts and results. Never raises."""
        store = self.store
        report = StoreBackReport()
        written, spooled = store.written, store.spooled

        def attempt(step: str, call: Callable[..., Any], **kwargs: Any) -> Any:
            try:
                return call(**kwargs)
            except Spooled:
                pass  # kept in the spool, counted by the store; applied when PostgreSQL returns
            except LedgerError as exc:
                report.failed.append(step)
                log.warning("store_back %s failed: %s", step, exc)
            except Exception as exc:  # the pipeline must complete whatever the store does
                report.failed.append(step)
                log.warning("store_back %s failed unexpectedly: %r", step, exc)
            return None

        # 1. Log this trigger
        trigger_log_id = attempt(
            "log_trigger",
            store.log_trigger,
            trigger_type=trigger.type,
            source_id=trigger.source_id,
            content=trigger.content[:1000],
            contact_id=trigger.contact_id,
            priority=trigger.priority,
        )
        report.trigger_id = trigger_log_id

        # 2. Store contact updates
        for update in response.contact_updates:
            update = dict(update)  # the seed pops "name": leave the response intact
            contact_name = update.pop("name", None)
            if contact_name:
                attempt("upsert_contact", store.upsert_contact, name=contact_name, updates=update)

        # 3. Store decisions
        for decision in response.decisions_log:
            attempt(
                "log_decision",
                store.log_decision,
                decision=decision.get("decision", ""),
                reasoning=decision.get("reasoning", ""),
                confidence=decision.get("confidence", "medium"),
                trigger_type=trigger.type,
            )

        # 4. Create alerts from response
        for alert in response.alerts:
            attempt(
                "create_alert",
                store.create_alert,
                tier=TIERS.get(alert.get("tier", "info"), 3),
                title=alert.get("title", "Untitled alert"),
                body=alert.get("body", ""),
                action_required=alert.get("action_required", False),
                trigger_id=trigger_log_id,
            )

        if trigger_log_id is not None:
            # 5. Update trigger log with results
            attempt(
                "update_trigger_result",
                store.update_trigger_result,
                trigger_id=trigger_log_id,
                response_id=str(trigger_log_id),
                pipeline_ms=response.metadata.get("pipeline_duration_ms", 0),
                tokens_in=response.metadata.get("tokens_estimated", 0),
                tokens_out=0,  # filled from Claude response usage
            )
            # 6. The seed's Qdrant step: the interaction summary, embedded (pgvector)
            if response.summary:
                attempt(
                    "remember_interaction",
                    store.remember_interaction,
                    trigger_id=trigger_log_id,
                    summary=response.summary,
                    contact_name=trigger.contact_name,
                )
            # 7. One event on the trigger's stream
            attempt(
                "record_event",
                store.record_event,
                trigger_id=trigger_log_id,
                type="TriggerStored",
                payload={"type": trigger.type, "source_id": trigger.source_id},
            )

        report.written = store.written - written
        report.spooled = store.spooled - spooled
        if report.spooled:
            log.warning(
                "store_back: PostgreSQL is down; %d writes of trigger %s wait in the spool",
                report.spooled,
                trigger_log_id,
            )
        return report
