"""``ExceptionRepository`` (the system of record, with the Co-Pilot queries) and
``ExceptionEventRepository`` (the append-only log): cases of kind ``exception``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from agentledger import Case, CaseAggregates, InvalidInput, NotFound
from agentledger.ledger import AsyncModules
from examples.sentinai_phase6.events import EventEnvelope
from examples.sentinai_phase6.models import (
    CASE_FIELDS,
    KIND,
    ExceptionEvent,
    ExceptionPage,
    ExceptionRecord,
    require_mapping,
    seed_fields,
)
from examples.sentinai_phase6.session import Session, bound

ACCEPTED = (*CASE_FIELDS, "exception_id", "created_at")


def moment(field: str, value: object) -> dt.datetime | None:
    """A zoned datetime from a datetime or ISO-8601 text; None stays None."""
    if value is None or isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(f"{field} {value!r} is not an ISO-8601 time", field=field) from None
    else:
        raise InvalidInput(f"{field} must be a time", field=field)
    if when is not None and when.tzinfo is None:
        raise InvalidInput(f"{field} needs a time zone", field=field)
    return when


def _amount(value: object) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput("amount must be a number", field="amount")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"amount {value!r} is not a number", field="amount") from None
    if not number.is_finite():
        raise InvalidInput(f"amount {value!r} is not a finite number", field="amount")
    return number


def _case_values(exception: Mapping[str, Any]) -> dict[str, Any]:
    """The case fields of a seed ``exception`` mapping, checked; None values are left out."""
    unknown = sorted(k for k in exception if k not in ACCEPTED)
    if unknown:
        raise InvalidInput(f"unknown exception field {unknown[0]!r}", field=unknown[0])
    values: dict[str, Any] = {}
    for seed, case in CASE_FIELDS.items():
        if exception.get(seed) is not None:
            values[case] = exception[seed]
    if "amount" in values:
        values["amount"] = _amount(values["amount"])
    if "sla_deadline" in values:
        values["sla_deadline"] = moment("sla_deadline", values["sla_deadline"])
    return values


class ExceptionRepository:
    """The seed's exceptions, each a case of kind ``exception`` whose ``ref`` is the
    exception id (``EX-2025-0001``). Every method names its tenant; another tenant's
    exception is not found."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _cases(self, tenant_id: str) -> AsyncModules:
        return bound(self.session, tenant_id)

    async def _case(self, tenant_id: str, exception_id: str) -> Case:
        with seed_fields():
            return await self._cases(tenant_id).cases.get_by_ref(exception_id, kind=KIND)

    async def upsert_exception(
        self, tenant_id: str, exception: Mapping[str, Any], *, actor_id: str | None = None
    ) -> ExceptionRecord:
        """Create the exception, or change the fields given (None keeps a field; a new
        ``status`` must be a move of the lifecycle). The same content again changes
        nothing. ``created_at`` fixes the time of the write (imported history). A new
        exception without a ``title`` gets ``<type> on <entity>``."""
        exception = require_mapping("exception", exception)
        ref = exception.get("exception_id")
        if not isinstance(ref, str) or not ref.strip():
            raise InvalidInput("exception_id is required", field="exception_id")
        values = _case_values(exception)
        at = moment("created_at", exception.get("created_at"))
        cases = self._cases(tenant_id).cases
        with seed_fields():
            try:
                done = await cases.upsert(KIND, ref, **values, by=actor_id, at=at)
            except InvalidInput as exc:
                if exc.field != "title" or "title" in values:
                    raise
                title = f"{values.get('type') or 'Exception'} on {values.get('entity') or ref}"
                done = await cases.upsert(KIND, ref, title, **values, by=actor_id, at=at)
        return ExceptionRecord.of(tenant_id, done.case)

    async def get_exception(self, tenant_id: str, exception_id: str) -> ExceptionRecord | None:
        """The exception, or None (also for another tenant's)."""
        try:
            return ExceptionRecord.of(tenant_id, await self._case(tenant_id, exception_id))
        except NotFound:
            return None

    async def update_exception(
        self,
        tenant_id: str,
        exception_id: str,
        changes: Mapping[str, Any],
        *,
        actor_id: str | None = None,
    ) -> ExceptionRecord:
        """Change a stored exception (NotFound naming ``exception_id`` when there is none):
        the seed's "update exception state" step."""
        await self._case(tenant_id, exception_id)
        changes = require_mapping("changes", changes)
        if "exception_id" in changes:
            raise InvalidInput("exception_id cannot change", field="exception_id")
        return await self.upsert_exception(
            tenant_id, {**changes, "exception_id": exception_id}, actor_id=actor_id
        )

    async def delete_exception(self, tenant_id: str, exception_id: str) -> bool:
        """Delete the exception; False when there was none. Its events are kept in the
        ledger (``event_exists`` still finds their ids) but are no longer reachable by the
        exception id: ``get_events_for_exception`` raises NotFound afterwards, and an
        exception created again with the same id starts a new log (its own
        ``CaseCreated`` first)."""
        try:
            case = await self._case(tenant_id, exception_id)
        except NotFound:
            return False
        return await self._cases(tenant_id).cases.delete(case.id)

    async def list_exceptions(
        self,
        tenant_id: str,
        *,
        domain: str | None = None,
        status: str | Sequence[str] | None = None,
        severity: str | Sequence[str] | None = None,
        created_from: dt.datetime | str | None = None,
        created_to: dt.datetime | str | None = None,
        cursor: str | None = None,
        page_size: int = 50,
    ) -> ExceptionPage:
        """One page of the tenant's exceptions matching every filter given, newest first
        (ties by id): ``created_from`` inclusive, ``created_to`` exclusive. Pass the page's
        ``next_cursor`` back as ``cursor`` with the same filters for the next page."""
        with seed_fields(limit="page_size"):
            page = await self._cases(tenant_id).cases.list(
                kind=KIND,
                domain=domain,
                status=status,
                severity=severity,
                created_after=moment("created_from", created_from),
                created_before=moment("created_to", created_to),
                cursor=cursor,
                limit=page_size,
            )
        items = [ExceptionRecord.of(tenant_id, c) for c in page.items]
        return ExceptionPage(items=items, next_cursor=page.next_cursor)

    async def aggregates(self, tenant_id: str, *, now: dt.datetime | None = None) -> CaseAggregates:
        """The supervisor view's counts: by status, severity and domain, open, past SLA."""
        return await self._cases(tenant_id).cases.aggregates(kind=KIND, now=now)

    # --- the Co-Pilot's queries -------------------------------------------------------

    async def find_similar_exceptions(
        self, tenant_id: str, exception_id: str, *, limit: int = 5
    ) -> list[ExceptionRecord]:
        """Exceptions like one: the same entity first, then the same type, then by the
        words their titles and descriptions share."""
        case = await self._case(tenant_id, exception_id)
        with seed_fields():
            found = await self._cases(tenant_id).cases.similar(case.id, limit=limit)
        return [ExceptionRecord.of(tenant_id, s.case) for s in found if s.case.kind == KIND]

    async def find_sla_breaches(
        self,
        tenant_id: str,
        now: dt.datetime | None = None,
        *,
        domain: str | None = None,
        limit: int | None = 100,
    ) -> list[ExceptionRecord]:
        """Open exceptions past their SLA deadline at ``now`` (default: now), most overdue
        first: the first ``limit`` (1 to 1000), or with ``limit=None`` every one (read a
        page at a time)."""
        cases = self._cases(tenant_id).cases
        if limit is not None:
            with seed_fields():
                found = await cases.find_sla_breaches(now, kind=KIND, domain=domain, limit=limit)
            return [ExceptionRecord.of(tenant_id, c) for c in found]
        at = moment("now", now) or dt.datetime.now(dt.UTC)
        records: list[ExceptionRecord] = []
        cursor: str | None = None
        while True:
            with seed_fields():
                page = await cases.list(
                    kind=KIND,
                    domain=domain,
                    sla_breached=True,
                    now=at,
                    order="sla_deadline",
                    cursor=cursor,
                    limit=1000,
                )
            records.extend(ExceptionRecord.of(tenant_id, c) for c in page.items)
            if page.next_cursor is None:
                return records
            cursor = page.next_cursor

    async def find_by_entity(
        self, tenant_id: str, entity: str, *, open: bool | None = None, limit: int = 100
    ) -> list[ExceptionRecord]:
        """The exceptions about a business entity, newest first (``open``: only the open,
        or only the resolved)."""
        with seed_fields():
            found = await self._cases(tenant_id).cases.find_by_entity(
                entity, kind=KIND, open=open, limit=limit
            )
        return [ExceptionRecord.of(tenant_id, c) for c in found]


class ExceptionEventRepository:
    """The seed's append-only ``exception_event`` log: each exception's timeline."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def append_event_if_new(self, event: EventEnvelope) -> bool:
        """Append the event unless its ``event_id`` is already there: True when appended,
        False when it was (a retry, a replay). The same id with other content is a
        Conflict naming ``event_id``; an unknown exception is NotFound."""
        if not isinstance(event, EventEnvelope):
            raise InvalidInput("event must be an EventEnvelope", field="event")
        scope = bound(self.session, event.tenant_id)
        with seed_fields():
            case = await scope.cases.get_by_ref(event.exception_id, kind=KIND)
            done = await scope.cases.append_event(
                case.id,
                event.event_type,
                event.payload,
                event_id=event.event_id,
                by=event.actor_id,
                actor_type=event.actor_type,
                at=event.created_at,
            )
        return not done.already_appended

    async def event_exists(self, tenant_id: str, event_id: str) -> bool:
        """Whether the tenant's log holds an event with this id."""
        with seed_fields():
            return await bound(self.session, tenant_id).events.exists(event_id)

    async def get_events_for_exception(
        self,
        tenant_id: str,
        exception_id: str,
        *,
        event_types: Sequence[str] | None = None,
        after: int = 0,
        limit: int = 1000,
    ) -> list[ExceptionEvent]:
        """The exception's events in the order they were appended (``sequence``), after
        the sequence ``after``, at most ``limit`` of them (1 to 10000). ``event_types`` (a
        list of type names; a plain string is InvalidInput naming ``event_types``) keeps
        only those, filtered before ``limit`` applies: the first ``limit`` matching events
        after ``after``. For the next page pass the last event's ``sequence`` as ``after``.
        NotFound for an unknown exception, a deleted one included."""
        wanted: frozenset[str] | None = None
        if event_types is not None:
            if isinstance(event_types, str | bytes) or not isinstance(event_types, Sequence):
                raise InvalidInput(
                    "event_types must be a list of event types, not a string",
                    field="event_types",
                )
            if not all(isinstance(t, str) for t in event_types):
                raise InvalidInput("event_types must hold strings", field="event_types")
            wanted = frozenset(event_types)
        scope = bound(self.session, tenant_id)
        events: list[ExceptionEvent] = []
        with seed_fields():
            case = await scope.cases.get_by_ref(exception_id, kind=KIND)
            while True:
                found = await scope.cases.timeline(case.id, after=after, limit=limit)
                for e in found:
                    if wanted is None or e.type in wanted:
                        events.append(ExceptionEvent.of(tenant_id, exception_id, e))
                if wanted is None or len(events) >= limit or len(found) < limit:
                    return events[:limit]
                after = found[-1].version
