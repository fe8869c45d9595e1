"""The newest-first lists of decisions, runs and alerts page by position: the record passed
back as ``before`` (or its ListPosition), and the API's cursor, carry the last item's sort
key (time and id). Deleting that item between pages neither ends the listing early nor
skips anything older; a bare id that is gone is NotFound, never an empty page."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from psycopg import sql

from agentledger import Ledger, ListPosition
from agentledger.errors import InvalidInput, NotFound
from tests.api_support import ADMIN, tenant_with_keys
from tests.conftest import new_tenant
from tests.http_server import client

PROBLEM = "application/problem+json"
# Seconds after a base time of the items each walk lists: ties (the id breaks them) and
# times a microsecond apart (a cursor must keep every digit).
OFFSETS = (0.0, 1.0, 1.0, 1.0, 2.0, 2.000001, 3.0)


@dataclass(frozen=True)
class Kind:
    """One newest-first list: its façade, table, sort time, route and how to add an item."""

    name: str  # the tenant scope's attribute
    table: str
    key: str  # the sort time: created_at or started_at
    path: str
    make: Callable[[Any, dt.datetime], Any]
    body: Callable[[dt.datetime], dict[str, Any]]


KINDS = [
    Kind(
        "decisions",
        "decisions",
        "created_at",
        "/v1/decisions",
        lambda scope, at: scope.decisions.record("call", decision_type="paged", at=at),
        lambda at: {"decision": "call", "decision_type": "paged", "at": at.isoformat()},
    ),
    Kind(
        "runs",
        "runs",
        "started_at",
        "/v1/runs",
        lambda scope, at: scope.runs.start("paged", at=at),
        lambda at: {"trigger_type": "paged", "at": at.isoformat()},
    ),
    Kind(
        "alerts",
        "alerts",
        "created_at",
        "/v1/alerts",
        lambda scope, at: scope.alerts.create(2, "paged", at=at),
        lambda at: {"tier": 2, "title": "paged", "at": at.isoformat()},
    ),
]


@pytest.fixture(params=KINDS, ids=lambda k: k.name)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


def _times() -> list[dt.datetime]:
    base = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    return [base + dt.timedelta(seconds=s) for s in OFFSETS]


def _delete(database_url: str, table: str, tenant: str, item: UUID | str) -> None:
    """Delete one row as the database owner (the library deletes none of these: think of
    retention run by an operator, or a privacy request)."""
    statement = sql.SQL("DELETE FROM agentledger.{} WHERE tenant_id = %s AND id = %s").format(
        sql.Identifier(table)
    )
    with psycopg.connect(database_url, autocommit=True) as owner:
        assert owner.execute(statement, [tenant, UUID(str(item))]).rowcount == 1


def _newest_first(items: list[tuple[dt.datetime, UUID]]) -> list[UUID]:
    return [i for _, i in sorted(items, reverse=True)]


# --- the library -------------------------------------------------------------------------


def _walk(read: Callable[[Any], list[Any]], delete: Callable[[Any], None]) -> list[UUID]:
    """Page with limit 2 (``read(before)``), deleting each page's last item before reading
    the next; the ids reached, in order."""
    seen: list[UUID] = []
    page = read(None)
    for _ in range(len(OFFSETS) + 2):
        seen += [item.id for item in page]
        if len(page) < 2:
            return seen
        delete(page[-1])
        page = read(page[-1])
    raise AssertionError(f"the walk never ended: {seen}")


@pytest.mark.parametrize("form", ["record", "position"])
def test_a_page_goes_on_after_its_last_item_even_when_that_is_deleted(
    ledger: Ledger, tenant_id: str, database_url: str, kind: Kind, form: str
) -> None:
    scope = ledger.tenant(tenant_id)
    made = [kind.make(scope, at) for at in _times()]
    listing = getattr(scope, kind.name)

    def before(last: Any) -> Any:
        if last is None or form == "record":
            return last
        return ListPosition(at=getattr(last, kind.key), id=last.id)

    seen = _walk(
        lambda last: listing.list(before=before(last), limit=2),
        lambda last: _delete(database_url, kind.table, tenant_id, last.id),
    )
    # Every item once, newest first, though every second one was gone when its page was due.
    assert seen == _newest_first([(getattr(m, kind.key), m.id) for m in made])
    assert len(listing.list()) == len(made) - 3


def test_a_position_pages_with_any_offset_and_must_be_well_formed(
    ledger: Ledger, tenant_id: str, kind: Kind
) -> None:
    scope = ledger.tenant(tenant_id)
    made = [kind.make(scope, at) for at in _times()]
    listing = getattr(scope, kind.name)
    newest = _newest_first([(getattr(m, kind.key), m.id) for m in made])
    second = listing.list(limit=2)[-1]
    far = dt.timezone(dt.timedelta(hours=-9, minutes=-30))
    there = ListPosition(at=getattr(second, kind.key).astimezone(far), id=second.id)
    assert [i.id for i in listing.list(before=there)] == newest[2:]
    # A position needs an aware time; a record of another list is no position.
    naive = ListPosition(at=getattr(second, kind.key).replace(tzinfo=None), id=second.id)
    foreign = (
        scope.decisions.record("other", decision_type="other")
        if kind.name == "runs"
        else scope.runs.start("other")
    )
    for wrong in (naive, foreign, 7):
        with pytest.raises(InvalidInput) as err:
            listing.list(before=wrong)
        assert err.value.field == "before"


def test_a_bare_id_reads_its_position_and_one_that_is_gone_is_not_found(
    ledger: Ledger, tenant_id: str, database_url: str, kind: Kind
) -> None:
    scope = ledger.tenant(tenant_id)
    made = [kind.make(scope, at) for at in _times()]
    listing = getattr(scope, kind.name)
    newest = _newest_first([(getattr(m, kind.key), m.id) for m in made])
    assert [i.id for i in listing.list(before=str(newest[1]))] == newest[2:]
    assert [i.id for i in listing.list(before=newest[1], limit=2)] == newest[2:4]
    _delete(database_url, kind.table, tenant_id, newest[1])
    with pytest.raises(NotFound) as err:
        listing.list(before=newest[1])
    assert err.value.field == "before"
    other = new_tenant(ledger)  # another tenant's id is no position here either
    with pytest.raises(NotFound) as err:
        getattr(ledger.tenant(other), kind.name).list(before=newest[2])
    assert err.value.field == "before"


def test_an_alert_a_back_dated_repeat_moves_behind_the_position_shows_again(
    ledger: Ledger, tenant_id: str
) -> None:
    alerts = ledger.tenant(tenant_id).alerts
    t0, t1, t2, t3 = (_times()[0] + dt.timedelta(minutes=m) for m in range(4))
    moved = alerts.create(1, "repeats", dedup_key="k", at=t3)
    middle = alerts.create(1, "middle", at=t2)
    oldest = alerts.create(1, "oldest", at=t1)
    [page] = alerts.list(limit=1)
    assert page.id == moved.id
    alerts.create(1, "repeats", dedup_key="k", at=t0)  # created_at moves back to t0
    rest = alerts.list(before=page)
    assert [a.id for a in rest] == [middle.id, oldest.id, moved.id]


# --- the API -----------------------------------------------------------------------------


@pytest.fixture
def fresh(base: str) -> Iterator[Callable[[], tuple[str, httpx.Client]]]:
    """Each call: a new tenant, and a writer's client for it (closed after the test)."""
    with client(base, ADMIN) as platform, ExitStack() as clients:

        def make() -> tuple[str, httpx.Client]:
            tenant = tenant_with_keys(platform)
            return tenant["id"], clients.enter_context(client(base, tenant["keys"]["writer"]))

        yield make


def _post(http: httpx.Client, kind: Kind, at: dt.datetime) -> tuple[dt.datetime, UUID]:
    response = http.post(kind.path, json=kind.body(at))
    assert response.status_code == 201, response.text
    item = response.json()
    return dt.datetime.fromisoformat(item[kind.key]), UUID(item["id"])


def _decoded(cursor: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return value


def _cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_api_pages_go_on_after_a_deleted_last_item(
    fresh: Callable[[], tuple[str, httpx.Client]], database_url: str, kind: Kind
) -> None:
    tenant, http = fresh()
    made = [_post(http, kind, at) for at in _times()]
    seen: list[UUID] = []
    issued: list[tuple[str, dict[str, Any]]] = []  # each cursor and the item it follows
    params: dict[str, Any] = {"limit": 2}
    for _ in range(len(OFFSETS) + 2):
        response = http.get(kind.path, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [UUID(i["id"]) for i in body["items"]]
        if body["next_cursor"] is None:
            break
        last = body["items"][-1]
        issued.append((body["next_cursor"], last))
        _delete(database_url, kind.table, tenant, last["id"])
        params["cursor"] = body["next_cursor"]
    else:
        raise AssertionError(f"the walk never ended: {seen}")
    # Every item once, newest first, though every second one was gone when its page was due.
    assert seen == _newest_first(made)
    for cursor, last in issued:  # each held its last item's time (offset and all) and id
        position = _decoded(cursor)
        assert set(position) == {"at", "id"} and position["id"] == last["id"]
        at = dt.datetime.fromisoformat(position["at"])
        assert at.tzinfo is not None and at == dt.datetime.fromisoformat(last[kind.key])


@pytest.mark.parametrize("path", [k.path for k in KINDS])
def test_api_a_forged_cursor_is_422_naming_it(
    fresh: Callable[[], tuple[str, httpx.Client]], path: str
) -> None:
    _, http = fresh()
    some_id, when = str(uuid.uuid4()), "2024-05-01T12:00:00.000001+02:00"
    forged: list[dict[str, Any]] = [
        {"before": some_id},  # an id alone is no position
        {"id": some_id},
        {"at": when},
        {"at": when, "id": "not-a-uuid"},
        {"at": when, "id": 7},
        {"at": when, "id": None},
        {"at": None, "id": some_id},
        {"at": "yesterday", "id": some_id},
        {"at": "2024-05-01T12:00:00", "id": some_id},  # no offset
        {"at": 1714557600, "id": some_id},
        {"at": "9999-12-31T23:59:59-14:00", "id": some_id},  # beyond any UTC clock
        {"at": "0001-01-01T00:00:00+01:00", "id": some_id},
    ]
    cursors = [_cursor(c) for c in forged]
    cursors += ["%%%", _cursor({}), base64.urlsafe_b64encode(b"[1]").decode()]
    for cursor in cursors:
        response = http.get(path, params={"cursor": cursor})
        assert response.status_code == 422, (cursor, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["field"] == "cursor", response.text


def test_api_another_tenants_cursor_reads_only_its_own_items(
    fresh: Callable[[], tuple[str, httpx.Client]], kind: Kind
) -> None:
    (_, mine), (_, theirs) = fresh(), fresh()
    times = _times()
    made = [_post(mine, kind, at + dt.timedelta(hours=1)) for at in times]
    page = mine.get(kind.path, params={"limit": 2}).json()
    cursor = page["next_cursor"]
    older = [_post(theirs, kind, at) for at in times[:3]]
    _post(theirs, kind, times[0] + dt.timedelta(hours=2))  # newer than the position: not shown
    response = theirs.get(kind.path, params={"cursor": cursor})
    assert response.status_code == 200, response.text
    assert [UUID(i["id"]) for i in response.json()["items"]] == _newest_first(older)
    rest = mine.get(kind.path, params={"cursor": cursor}).json()
    assert [UUID(i["id"]) for i in rest["items"]] == _newest_first(made)[2:]
