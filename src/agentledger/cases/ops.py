"""Case operations (I/O-free): create, upsert by ref, read, update, transition, assign,
delete (comments, custom events and the timeline are in ``timeline.py``).

Every change appends its events to the stream ``case:<id>`` in the change's own
transaction, through the events module's append statement. Each event id derives from the
case's identity (its id and creation time) and the change (the version it made, the
comment's or the caller's id), so an operation retried after an unknown outcome finds the
change made and records nothing twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from agentledger import validation as v
from agentledger.attempts import after_unknown_commit
from agentledger.cases import fields
from agentledger.cases.records import (
    ASSIGNED,
    CREATED,
    DELETED,
    STATUS_CHANGED,
    UPDATED,
    Case,
    UpsertedCase,
)
from agentledger.db.statements import Gen, Queries, Stmt, operation
from agentledger.errors import Conflict, InvalidInput, NotFound, VersionConflict
from agentledger.events import ops as events
from agentledger.jsonvalues import same
from agentledger.records import from_row

Q = Queries.beside(__file__)


def stream(case_id: UUID) -> str:
    """The event stream of one case."""
    return f"case:{case_id}"


def case_uuid(value: object, field: str = "case_id") -> UUID:
    return v.uuid(field, value)


def not_found(case_id: object, field: str = "case_id") -> NotFound:
    return NotFound(f"case {case_id} does not exist", field=field)


def case_from_row(row: Mapping[str, Any]) -> Case:
    return from_row(Case, row)


def moment(at: object) -> dt.datetime | None:
    """A fixed time for imported history: aware, and not ahead of this clock."""
    return v.aware_datetime("at", at, not_future=True)


def event_uuid(case_id: UUID, created_at: dt.datetime, type: str, key: str) -> UUID:
    """A case event's id: the case's identity (id and creation), the type and ``key``."""
    return uuid.uuid5(case_id, f"{created_at.isoformat()}:{type}:{key}")


def event(
    case_id: UUID,
    created_at: dt.datetime,
    type: str,
    key: str,
    payload: dict[str, Any],
    *,
    by: str | None = None,
    actor_type: str | None = None,
    at: dt.datetime | None = None,
    event_id: UUID | None = None,
) -> dict[str, Any]:
    """One case event as ``append_events_v1`` takes it. Without ``event_id`` its id
    derives from the case's identity, the type and ``key``; ``at`` (a fixed time) travels
    in its metadata."""
    if event_id is None:
        event_id = event_uuid(case_id, created_at, type, key)
    return {
        "event_id": str(event_id),
        "stream": stream(case_id),
        "type": type,
        "actor_type": actor_type or ("agent" if by else "system"),
        "actor_id": by,
        "payload": payload,
        "metadata": {} if at is None else {"at": at.isoformat()},
    }


def record(*rows: dict[str, Any]) -> Stmt:
    """The statement appending case events (in the caller's transaction)."""
    return events.append_statement(list(rows))


def _created(case: Case, by: str | None, at: dt.datetime | None) -> Stmt:
    payload = {
        "case_id": str(case.id),
        "kind": case.kind,
        "ref": case.ref,
        "status": case.status,
        **fields.snapshot(case),
    }
    return record(event(case.id, case.created_at, CREATED, "", payload, by=by, at=at))


def _insert_values(
    kind: str, ref: str | None, status: str | None, given: dict[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {f: None for f in fields.FIELDS}
    values.update(given)
    values["body"] = given.get("body", "")
    values["attrs"] = given.get("attrs", {})
    return {**values, "kind": kind, "ref": ref, "status": status}


@operation(idempotent=True)
def create(
    kind: str,
    title: str,
    *,
    body: str = "",
    status: str | None = None,
    ref: str | None = None,
    type: str | None = None,
    severity: str | None = None,
    score: float | None = None,
    confidence: float | None = None,
    owner: str | None = None,
    domain: str | None = None,
    entity: str | None = None,
    source: str | None = None,
    amount: Decimal | float | None = None,
    sla_deadline: dt.datetime | None = None,
    playbook: str | None = None,
    playbook_step: int | None = None,
    attrs: dict[str, Any] | None = None,
    by: str | None = None,
    at: dt.datetime | None = None,
    id: UUID | str | None = None,
) -> Gen[Case]:
    """Open a case of a defined ``kind`` in its initial status (or ``status``, any of the
    kind's, for imported history). A repeated ``id`` returns the stored case (Conflict
    when it holds another kind, title or ref), so a retry is safe; a ``ref`` the kind
    already has is a Conflict (``upsert`` changes a case by ref). ``at`` fixes the
    creation time. Records ``CaseCreated``."""
    case_id = case_uuid(id, "id")
    name = fields.kind_name(kind)
    given = fields.given(locals())  # the field arguments, checked
    if "title" not in given:
        raise InvalidInput("title must be a string, not NoneType", field="title")
    key = None if ref is None else fields.ref(ref)
    start = None if status is None else fields.status_name(status)
    actor, when = fields.actor(by), moment(at)
    if start is not None:  # see hold_status
        yield Q.hold_status.none(kind=name, status=start)
    row = yield Q.insert_case.one(id=case_id, at=when, **_insert_values(name, key, start, given))
    if row is None:
        row = yield Q.get_case.one(id=case_id)
        if row is None:
            raise Conflict(
                f"a case of kind {name!r} with ref {key!r} already exists; "
                "upsert by ref to change it",
                field="ref",
            )
        stored = case_from_row(row)
        if (stored.kind, stored.title, stored.ref) != (name, given["title"], key):
            raise Conflict(f"case {case_id} already exists with other content", field="id")
        return stored
    created = case_from_row(row)
    yield _created(created, actor, when)
    return created


@operation(idempotent=True)
def upsert(
    kind: str,
    ref: str,
    title: str | None = None,
    *,
    body: str | None = None,
    status: str | None = None,
    type: str | None = None,
    severity: str | None = None,
    score: float | None = None,
    confidence: float | None = None,
    owner: str | None = None,
    domain: str | None = None,
    entity: str | None = None,
    source: str | None = None,
    amount: Decimal | float | None = None,
    sla_deadline: dt.datetime | None = None,
    playbook: str | None = None,
    playbook_step: int | None = None,
    attrs: dict[str, Any] | None = None,
    by: str | None = None,
    at: dt.datetime | None = None,
    id: UUID | str | None = None,
) -> Gen[UpsertedCase]:
    """The case of ``kind`` with external ``ref``: created when new (it needs a title),
    else changed where the given fields differ (None keeps a field; ``attrs`` merges key
    by key; a different ``status`` must be a move of the kind). The same content again
    changes nothing and records nothing, so a retry or a replay is safe. Records
    ``CaseCreated``, or ``CaseUpdated`` and ``CaseStatusChanged`` for what changed."""
    name, key = fields.kind_name(kind), fields.ref(ref)
    given = fields.given(locals())  # the field arguments, checked
    target = None if status is None else fields.status_name(status)
    case_id = case_uuid(id, "id")
    actor, when = fields.actor(by), moment(at)
    row = yield Q.lock_case_by_ref.one(kind=name, ref=key)
    if row is None:
        if "title" not in given:
            raise InvalidInput(f"a new case ({name} {key!r}) needs a title", field="title")
        values = _insert_values(name, key, target, given)
        if target is not None:
            yield Q.hold_status.none(kind=name, status=target)
        inserted = yield Q.insert_case.one(id=case_id, at=when, **values)
        if inserted is not None:
            created = case_from_row(inserted)
            yield _created(created, actor, when)
            return UpsertedCase(case=created, created=True, changed=[])
        row = yield Q.lock_case_by_ref.one(kind=name, ref=key)  # a concurrent upsert won
        if row is None:
            raise Conflict(f"case id {case_id} is taken by another case", field="id")
    case, changed = yield from apply(case_from_row(row), given, status=target, by=actor, at=when)
    return UpsertedCase(case=case, created=False, changed=changed)


def apply(
    current: Case,
    given: Mapping[str, Any],
    *,
    status: str | None = None,
    clear: Sequence[str] = (),
    by: str | None,
    at: dt.datetime | None,
    reason: str | None = None,
    update_type: str = UPDATED,
) -> Gen[tuple[Case, list[str]]]:
    """Change a locked case: ``clear`` empties fields, ``given`` sets fields (``attrs``
    merges key by key), ``status`` moves it. Nothing changes, and nothing is recorded, when
    the result equals what is stored. Returns the case and the names of changed fields
    (``status`` among them when it moved)."""
    new = {f: getattr(current, f) for f in fields.FIELDS}
    for f in clear:
        new[f] = fields.empty(f)
    for f, value in given.items():
        new[f] = {**new["attrs"], **value} if f == "attrs" else value
    changed = [f for f in fields.FIELDS if not same(new[f], getattr(current, f))]
    target = current.status if status is None else status
    if not changed and target == current.status:
        return current, []
    if target != current.status:  # see hold_status: a racing define_kind may drop it
        yield Q.hold_status.none(kind=current.kind, status=target)
    row = yield Q.update_case.one(id=current.id, status=target, at=at, **new)
    case = case_from_row(row)
    key, appended = str(case.version), []
    if changed:
        if update_type == ASSIGNED:
            payload: dict[str, Any] = {"from": current.owner, "to": case.owner}
        else:
            payload = {
                "changes": {
                    f: {
                        "from": fields.jsonable(getattr(current, f)),
                        "to": fields.jsonable(getattr(case, f)),
                    }
                    for f in changed
                }
            }
        payload = {"case_id": str(case.id), **payload}
        appended.append(event(case.id, case.created_at, update_type, key, payload, by=by, at=at))
    if case.status != current.status:
        payload = {"case_id": str(case.id), "from": current.status, "to": case.status}
        if reason is not None:
            payload["reason"] = reason
        appended.append(event(case.id, case.created_at, STATUS_CHANGED, key, payload, by=by, at=at))
        changed.append("status")
    yield record(*appended)
    return case, changed


def locked(case_id: UUID, expected_version: int | None) -> Gen[Case]:
    """The case, locked for a change; VersionConflict when it is not at the expected
    version (checked under the lock, so concurrent changers see exactly one winner). A
    repeat after a lost COMMIT may find it one version past: the change then goes on, and
    ``settled`` accepts it only if it was there already (the lost COMMIT's own)."""
    row = yield Q.lock_case.one(id=case_id)
    if row is None:
        raise not_found(case_id)
    case = case_from_row(row)
    past = after_unknown_commit() and case.version == (expected_version or 0) + 1
    if expected_version is not None and case.version != expected_version and not past:
        raise _behind(case, expected_version)
    return case


def settled(case: Case, changed: list[str], current: Case, expected_version: int | None) -> Case:
    """``case`` as the change left it; VersionConflict when ``current`` was past the expected
    version (see ``locked``) and the change was not there already."""
    if expected_version is not None and current.version != expected_version and changed:
        raise _behind(current, expected_version)
    return case


def _behind(case: Case, expected_version: int) -> VersionConflict:
    return VersionConflict(
        f"case {case.id} is at version {case.version}, not the expected {expected_version}",
        field="expected_version",
    )


def _version(value: object) -> int | None:
    return None if value is None else v.integer("expected_version", value, low=1, high=2**31 - 1)


@operation(writes=False)
def get(case_id: UUID | str) -> Gen[Case]:
    row = yield Q.get_case.one(id=case_uuid(case_id))
    if row is None:
        raise not_found(case_id)
    return case_from_row(row)


@operation(writes=False)
def get_by_ref(ref: str, kind: str | None = None) -> Gen[Case]:
    """The case with external ``ref`` (of ``kind``; without it, a ref that cases of two
    kinds share is a Conflict naming ``kind``)."""
    key = fields.ref(ref)
    name = None if kind is None else fields.kind_name(kind)
    rows = yield Q.get_case_by_ref.all(ref=key, kind=name)
    if not rows:
        raise NotFound(f"no case has ref {key!r}", field="ref")
    if len(rows) > 1:
        raise Conflict(f"cases of several kinds have ref {key!r}; give the kind", field="kind")
    return case_from_row(rows[0])


@operation(idempotent=True)
def update(
    case_id: UUID | str,
    *,
    title: str | None = None,
    body: str | None = None,
    type: str | None = None,
    severity: str | None = None,
    score: float | None = None,
    confidence: float | None = None,
    owner: str | None = None,
    domain: str | None = None,
    entity: str | None = None,
    source: str | None = None,
    amount: Decimal | float | None = None,
    sla_deadline: dt.datetime | None = None,
    playbook: str | None = None,
    playbook_step: int | None = None,
    attrs: dict[str, Any] | None = None,
    clear: Sequence[str] | None = None,
    expected_version: int | None = None,
    by: str | None = None,
    at: dt.datetime | None = None,
) -> Gen[Case]:
    """Change the given fields (None keeps a field; ``attrs`` merges key by key; ``clear``
    names fields to empty first). With ``expected_version``, VersionConflict unless the
    case is at that version. No difference, no change. Records ``CaseUpdated``."""
    found = case_uuid(case_id)
    given = fields.given(locals())  # the field arguments, checked
    cleared = fields.clearing(clear)
    version, actor, when = _version(expected_version), fields.actor(by), moment(at)
    current = yield from locked(found, version)
    case, changed = yield from apply(current, given, clear=cleared, by=actor, at=when)
    return settled(case, changed, current, version)


@operation(idempotent=True)
def transition(
    case_id: UUID | str,
    status: str,
    *,
    by: str | None = None,
    reason: str | None = None,
    expected_version: int | None = None,
    at: dt.datetime | None = None,
) -> Gen[Case]:
    """Move the case to ``status``: the database refuses a status outside its kind
    (InvalidInput) and a move its kind does not allow (IllegalTransition naming both
    statuses and the allowed moves). Moving to the status it has changes nothing (a retry
    is safe). Entering a terminal status sets ``resolved_at``; leaving one clears it and
    reopens the case. Records ``CaseStatusChanged`` (with ``reason``)."""
    found = case_uuid(case_id)
    target = fields.status_name(status)
    why = v.optional_text("reason", reason, max_len=10_000)
    version, actor, when = _version(expected_version), fields.actor(by), moment(at)
    current = yield from locked(found, version)
    case, changed = yield from apply(current, {}, status=target, by=actor, at=when, reason=why)
    return settled(case, changed, current, version)


@operation(idempotent=True)
def assign(
    case_id: UUID | str,
    owner: str | None,
    *,
    by: str | None = None,
    expected_version: int | None = None,
    at: dt.datetime | None = None,
) -> Gen[Case]:
    """Give the case to ``owner`` (None: to nobody). Records ``CaseAssigned``."""
    found = case_uuid(case_id)
    given = {} if owner is None else {"owner": fields.check("owner", owner)}
    clear = ["owner"] if owner is None else []
    version, actor, when = _version(expected_version), fields.actor(by), moment(at)
    current = yield from locked(found, version)
    case, changed = yield from apply(
        current, given, clear=clear, by=actor, at=when, update_type=ASSIGNED
    )
    return settled(case, changed, current, version)


def held(case_id: UUID) -> Gen[dt.datetime]:
    """The case's creation time, its row held against deletion for this transaction."""
    created_at = yield Q.hold_case.scalar(id=case_id)
    if created_at is None:
        raise not_found(case_id)
    return created_at  # type: ignore[no-any-return]


@operation(idempotent=True)
def delete(case_id: UUID | str, *, by: str | None = None) -> Gen[bool]:
    """Delete a case with its blocks and links (its timeline stays, ending in
    ``CaseDeleted``); False when it did not exist."""
    found = case_uuid(case_id)
    actor = fields.actor(by)
    created_at = yield Q.delete_case.scalar(id=found)
    if created_at is None:
        return False
    yield record(event(found, created_at, DELETED, "", {"case_id": str(found)}, by=actor))
    return True
