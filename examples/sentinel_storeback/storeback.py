"""Seed 000's store-back layer (``SentinelStoreBack``) as a thin layer over agentledger.

The seed's six tables map onto agentledger's modules: contacts and deals are memory entities
(kinds ``contact`` and ``deal``, deduplicated by name), decisions are decisions, the
trigger log is the run log, alerts are alerts. Ids the seed returns as integers are UUID
strings here, made on the client, so a write can wait in the spool while PostgreSQL is
down and still hand its id back (see README.md).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from agentledger import (
    Alert,
    Embedder,
    Entity,
    Filter,
    HashingEmbedder,
    InvalidInput,
    Ledger,
    MiniLMEmbedder,
    NotFound,
    Settings,
    Spooled,
    Unavailable,
)
from agentledger.ledger import Transaction
from agentledger.memory import minilm

log = logging.getLogger("sentinel.storeback")
T = TypeVar("T")

TENANT = "sentinel"
CONTACT, DEAL, INTERACTION = "contact", "deal", "interaction"
CONFIDENCE = {"low": 0.25, "medium": 0.5, "high": 0.85}
FUZZY_THRESHOLD = 0.3
# Who gives feedback on Baker's decisions in the seed.
FEEDBACK_BY = "ceo"


def sentinel_settings(**overrides: Any) -> Settings:
    """Settings from the environment, tuned for a pipeline that must never stall: a spool
    beside the data directory, and reads that give up within about a second when
    PostgreSQL is down (a 0.5 s pool wait, 1 s connect timeout, two attempts)."""
    values: dict[str, Any] = {
        "pool_timeout": 0.5,
        "connect_timeout": 1,
        "retry_attempts": 2,
        "retry_backoff": 0.05,
        **overrides,
    }
    settings = Settings.from_env(**values)
    if settings.spool_dir is None:
        settings = settings.with_(spool_dir=Path(settings.data_dir) / "sentinel-spool")
    return settings


def default_embedder() -> Embedder:
    """The real model (all-MiniLM-L6-v2) when ``agentledger[embed]`` is installed, else
    the dependency-free HashingEmbedder (word overlap, not meaning)."""
    if minilm.available():
        return MiniLMEmbedder()
    log.info("agentledger[embed] is not installed: interactions use the HashingEmbedder")
    return HashingEmbedder()


class SentinelStoreBack:
    """Write layer for PostgreSQL structured memory (the seed's interface, on agentledger).

    Writes whose id is made here (triggers, decisions, alerts, interactions) return that id
    even when PostgreSQL is down: the write waits in the spool, a warning is logged and it
    is applied later, exactly once. Contact and deal upserts get their id from the
    database, so while it is down they raise ``Spooled`` (the write is kept all the same).
    Reads raise ``Unavailable`` within about a second.
    """

    def __init__(
        self,
        ledger: Ledger | None = None,
        *,
        tenant: str = TENANT,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        """Open the ledger (the connection pool) unless one is given; make the tenant."""
        self._own = ledger is None
        self.ledger = ledger if ledger is not None else Ledger(settings or sentinel_settings())
        if self._own:
            self.ledger.open()
        self.tenant = tenant
        self.scope = self.ledger.tenant(tenant)
        self.embedder = embedder if embedder is not None else default_embedder()
        self.written = 0  # writes applied at once
        self.spooled = 0  # writes kept in the spool for later
        self._ensure_tenant()

    def close(self) -> None:
        if self._own:
            self.ledger.close()

    def __enter__(self) -> SentinelStoreBack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- Contact Intelligence ---------------------------------------------------------
    def upsert_contact(self, name: str, updates: dict[str, Any]) -> str:
        """Update or insert a contact (by name, case- and space-insensitive). Fields merge;
        a None never overwrites a stored value. Returns the contact's UUID string.
        Raises Spooled while PostgreSQL is down (the update is kept and applied later)."""
        return self._upsert(CONTACT, name, updates)

    def get_contact_by_name(self, name: str) -> dict[str, Any] | None:
        """Fuzzy lookup (pg_trgm similarity >= 0.3): the most similar contact, or None."""
        hits = self.scope.memory.find_by_name(
            name, threshold=FUZZY_THRESHOLD, filter=Filter(kind=CONTACT), limit=1
        )
        if not hits:
            return None
        return {**entity_dict(hits[0].entity), "similarity": hits[0].score}

    # --- Decision Log -----------------------------------------------------------------
    def log_decision(
        self, decision: str, reasoning: str, confidence: str, trigger_type: str
    ) -> str:
        """Record a decision; returns its id (a UUID string). ``confidence`` is low, medium
        or high (kept as said, and as 0.25 / 0.5 / 0.85 for statistics) or a number 0..1."""
        did = uuid.uuid4()
        score, label = confidence_score(confidence)
        self._write(
            "log_decision",
            lambda: self.scope.decisions.record(
                decision,
                decision_type=trigger_type,
                reasoning=reasoning,
                confidence=score,
                data={"confidence": label},
                agent="baker",
                id=did,
            ),
        )
        return str(did)

    def record_feedback(
        self, decision_id: str, accepted: bool, rejection_reason: str | None = None
    ) -> None:
        """The CEO's feedback on a decision (set once; the same again is harmless)."""
        self._write(
            "record_feedback",
            lambda: self.scope.decisions.record_feedback(
                decision_id, accepted, reason=rejection_reason, by=FEEDBACK_BY
            ),
        )

    # --- Trigger Log ------------------------------------------------------------------
    def log_trigger(
        self,
        trigger_type: str,
        source_id: str,
        content: str,
        contact_id: str | None = None,
        priority: str | None = None,
    ) -> str:
        """Log a pipeline execution as a started run; returns its id (a UUID string)."""
        rid = uuid.uuid4()
        self._write(
            "log_trigger",
            lambda: self.scope.runs.start(
                trigger_type,
                source_id=source_id,
                content=content,
                priority=priority,
                entity_ref=None if contact_id is None else f"contact:{contact_id}",
                id=rid,
            ),
        )
        return str(rid)

    def update_trigger_result(
        self, trigger_id: str, response_id: str, pipeline_ms: int, tokens_in: int, tokens_out: int
    ) -> None:
        """Finish the trigger's run with the pipeline's timing and token counts."""
        self._write(
            "update_trigger_result",
            lambda: self.scope.runs.finish(
                trigger_id,
                response_id=response_id,
                duration_ms=pipeline_ms,
                tokens_in=tokens_in,
                tokens_out=tokens_out,
            ),
        )

    # --- Alerts -----------------------------------------------------------------------
    def create_alert(
        self,
        tier: int,
        title: str,
        body: str | None = None,
        action_required: bool = False,
        trigger_id: str | None = None,
        contact_id: str | None = None,
        deal_id: str | None = None,
    ) -> str:
        """A pending alert (tier 1 urgent, 2 important, 3 info); returns its id. The
        contact is kept as ``entity_ref`` ("contact:<id>"), the deal as ``case_ref``."""
        aid = uuid.uuid4()
        self._write(
            "create_alert",
            lambda: self.scope.alerts.create(
                tier,
                title,
                body=body or "",
                action_required=action_required,
                run_id=trigger_id,
                entity_ref=None if contact_id is None else f"contact:{contact_id}",
                case_ref=None if deal_id is None else f"deal:{deal_id}",
                id=aid,
            ),
        )
        return str(aid)

    def get_pending_alerts(self, tier: int | None = None) -> list[dict[str, Any]]:
        """Every unresolved alert (pending or acknowledged; of ``tier`` only, when given),
        most urgent tier first, oldest first within a tier. All of them are read, page by
        page, before sorting: none is left out however many there are."""
        with self.scope.transaction() as tx:
            alerts = unresolved_alerts(tx, tier)
        return [record_dict(a) for a in alerts]

    def acknowledge_alert(self, alert_id: str) -> None:
        self.scope.alerts.acknowledge(alert_id, by=FEEDBACK_BY)

    def resolve_alert(self, alert_id: str) -> None:
        self.scope.alerts.resolve(alert_id, by=FEEDBACK_BY)

    # --- Deals ------------------------------------------------------------------------
    def upsert_deal(self, name: str, updates: dict[str, Any]) -> str:
        """Update or insert a deal by name; returns its UUID string (Spooled while down)."""
        return self._upsert(DEAL, name, updates)

    def get_active_deals(self) -> list[dict[str, Any]]:
        """Every deal with status 'active' (a deal given no status counts as active, like
        the seed's column default), newest change first. All deals are read, page by page,
        however many there are."""
        with self.scope.transaction() as tx:
            return active_deals(tx)

    # --- Retrieval (the seed's Task 4) -------------------------------------------------
    def get_structured_context(self, contact_name: str | None = None) -> dict[str, Any]:
        """Contact profile, every active deal (as ``get_active_deals``), every unresolved
        alert (as ``get_pending_alerts``) and the ten most recent decisions, read in one
        transaction (one connection)."""
        with self.scope.transaction() as tx:
            hits = (
                tx.memory.find_by_name(
                    contact_name, threshold=FUZZY_THRESHOLD, filter=Filter(kind=CONTACT), limit=1
                )
                if contact_name
                else []
            )
            deals = active_deals(tx)
            alerts = unresolved_alerts(tx)
            decisions = tx.decisions.list(limit=10)
        profile = None
        if hits:
            profile = {**entity_dict(hits[0].entity), "similarity": hits[0].score}
        return {
            "contact_profile": profile,
            "active_deals": deals,
            "pending_alerts": [record_dict(a) for a in alerts],
            "recent_decisions": [record_dict(d) for d in decisions],
        }

    # --- Vector memory of interactions (the seed's Qdrant step) ------------------------
    def remember_interaction(
        self, trigger_id: str, summary: str, *, contact_name: str | None = None
    ) -> None:
        """Keep an interaction summary with its embedding (pgvector), keyed by trigger, so
        a replay or a retry never stores it twice. Without pgvector it is kept for text
        search only."""
        embedding = None
        if "vector" in self.ledger.db.extensions:
            (embedding,) = self.embedder.embed([summary])
        self._write(
            "remember_interaction",
            lambda: self.scope.memory.upsert(
                INTERACTION,
                f"interaction {trigger_id}",
                key=trigger_id,
                source="sentinel",
                summary=summary,
                attrs={"trigger_id": trigger_id, "contact": contact_name},
                embedding=embedding,
            ),
        )

    def similar_interactions(self, text: str, limit: int = 5) -> list[dict[str, Any]]:
        """Interactions most similar to ``text``: by embedding (cosine) with pgvector, else
        by full-text and fuzzy match."""
        memory = self.scope.memory.with_embedder(self.embedder)
        only = Filter(kind=INTERACTION)
        if "vector" in self.ledger.db.extensions:
            hits = memory.search_vector(text, filter=only, limit=limit)
        else:
            hits = self.scope.memory.search(text, filter=only, limit=limit)
        return [
            {
                "trigger_id": h.entity.key,
                "summary": h.entity.summary,
                "contact": h.entity.attrs.get("contact"),
                "score": h.score,
            }
            for h in hits
        ]

    def record_event(self, trigger_id: str, type: str, payload: dict[str, Any]) -> None:
        """Append an event to the trigger's stream ``trigger:<id>``; its id derives from the
        trigger's and the type, so a replay or a retry never appends it twice."""
        self._write(
            "record_event",
            lambda: self.scope.events.append(
                f"trigger:{trigger_id}",
                type,
                payload,
                event_id=uuid.uuid5(uuid.UUID(trigger_id), type),
                actor_type="agent",
                actor_id="baker",
            ),
        )

    # --- internals --------------------------------------------------------------------
    def _upsert(self, kind: str, name: str, updates: Mapping[str, Any]) -> str:
        attrs = {k: jsonable(x) for k, x in dict(updates).items() if k != "name"}
        entity = self._write(
            f"upsert_{kind}",
            lambda: self.scope.memory.upsert(kind, name, by_name=True, attrs=attrs),
            reraise=True,
        )
        assert entity is not None  # reraise: a spooled upsert raised
        return str(entity.id)

    def _write(self, what: str, call: Callable[[], T], *, reraise: bool = False) -> T | None:
        try:
            result = call()
        except Spooled as exc:
            self.spooled += 1
            log.warning("%s: PostgreSQL is down; kept in the spool (%s)", what, exc.message)
            if reraise:
                raise
            return None
        self.written += 1
        return result

    def _ensure_tenant(self) -> None:
        try:
            try:
                self.ledger.tenants.get(self.tenant)
            except NotFound:
                self.ledger.tenants.create(self.tenant, "Sentinel (Baker)")
        except Unavailable:
            log.warning("PostgreSQL is down: assuming tenant %s exists", self.tenant)


PAGE = 1000  # the largest page the library's listings return


def active_deals(tx: Transaction) -> list[dict[str, Any]]:
    """Every deal whose status is 'active' or not given, newest change first: every page
    of the tenant's deals is read (a deal's status is one of its attrs, and a deal with
    none counts as active, so the status cannot be the listing's only filter)."""
    deals: list[dict[str, Any]] = []
    last: Entity | None = None
    while True:
        page = tx.memory.list(Filter(kind=DEAL), after=last, limit=PAGE)
        deals += [d for d in map(entity_dict, page) if d.get("status", "active") == "active"]
        if len(page) < PAGE:
            return deals
        last = page[-1]


def unresolved_alerts(tx: Transaction, tier: int | None = None) -> list[Alert]:
    """Every pending or acknowledged alert (of ``tier`` only, when given), most urgent tier
    first, oldest first within a tier. Pending ones are read first, every page, then
    acknowledged ones: an alert acknowledged meanwhile is found once (by its id)."""
    found: dict[uuid.UUID, Alert] = {}
    for status in ("pending", "acknowledged"):
        last: Alert | None = None
        while True:
            page = tx.alerts.list(status=status, tier=tier, before=last, limit=PAGE)
            found.update((a.id, a) for a in page)
            if len(page) < PAGE:
                break
            last = page[-1]
    return sorted(found.values(), key=lambda a: (a.tier, a.created_at, a.id))


def confidence_score(confidence: str | float) -> tuple[float, str]:
    """The seed's confidence label as a 0..1 score, and the label kept as given."""
    if isinstance(confidence, str) and confidence.strip().lower() in CONFIDENCE:
        label = confidence.strip().lower()
        return CONFIDENCE[label], label
    try:
        score = float(confidence)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"confidence is {confidence!r}; expected low, medium, high or a number 0..1",
            field="confidence",
        ) from None
    return score, str(confidence)


def jsonable(value: Any) -> Any:
    """Attribute values as JSON: datetimes as ISO-8601 UTC text (e.g. last_contact)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def entity_dict(entity: Entity) -> dict[str, Any]:
    """A contact or deal as the seed's row: id, name, its fields, timestamps."""
    return {
        **entity.attrs,
        "id": str(entity.id),
        "name": entity.name,
        "created_at": entity.created_at,
        "updated_at": entity.updated_at,
    }


def record_dict(record: Any) -> dict[str, Any]:
    row: dict[str, Any] = asdict(record)
    for key, value in row.items():
        if isinstance(value, uuid.UUID):
            row[key] = str(value)
    return row
