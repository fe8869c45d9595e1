"""Reading many cases on both faces: every filter alone and combined, every order, keyset
pages that return each match once while cases are added, cursors, the supervisor's
aggregates (kept by the database's tallies), SLA breaches, entity lookups and similar
cases; and one winner among concurrent changers."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from agentledger import Case, InvalidInput, Ledger, Settings, VersionConflict
from agentledger.cases import SEVERITIES
from agentledger.cases.facade_sync import Cases
from tests.test_cases import BOTTLENECK, EXCEPTION, T0

NOW = T0 + dt.timedelta(days=30)
RANK: dict[str | None, int] = {None: 0, **{s: i + 1 for i, s in enumerate(SEVERITIES)}}
FAR = dt.datetime.max.replace(tzinfo=dt.UTC)

# Each order's sort, as the listing promises it.
ORDER_KEYS: dict[str, tuple[Callable[[Case], Any], bool]] = {
    "score": (lambda c: (-1 if c.score is None else c.score, c.id), True),
    "created_at": (lambda c: (c.created_at, c.id), True),
    "updated_at": (lambda c: (c.updated_at, c.id), True),
    "severity": (lambda c: (RANK[c.severity], c.created_at, c.id), True),
    "sla_deadline": (lambda c: (c.sla_deadline or FAR, c.id), False),
}


def populate(cases: Cases, n: int = 60) -> list[Case]:
    """``n`` varied cases of both seed kinds, with fixed times (two share each creation
    time, so the id breaks ties); returns them as stored."""
    cases.define_kind("bottleneck", **BOTTLENECK)
    cases.define_kind("exception", **EXCEPTION)
    made = []
    for i in range(n):
        created = T0 + dt.timedelta(minutes=i // 2)
        kind = "bottleneck" if i % 3 == 0 else "exception"
        case = cases.create(
            kind,
            f"case {i} about settlement {'delay' if i % 2 else 'failure'}",
            severity=[None, *SEVERITIES][i % 5],
            score=None if i % 7 == 0 else (i * 37 % 101) / 10,
            domain=["Finance", "Healthcare", None][i % 3],
            owner=["ana", "bo", None, "cy"][i % 4],
            entity=f"acct:{i % 5}",
            source=["murex", "claims"][i % 2],
            type=["SettlementFail", "ClaimMismatch", None][i % 3],
            sla_deadline=None if i % 4 == 0 else NOW + dt.timedelta(hours=(i % 9) - 4),
            attrs={"n": i, "region": "eu" if i % 2 else "us"},
            at=created,
        )
        later = created + dt.timedelta(hours=1 + i % 5)
        if kind == "bottleneck" and i % 2:
            case = cases.transition(case.id, "in_progress", at=later)
            if i % 5 == 0:
                case = cases.transition(case.id, "resolved", at=later + dt.timedelta(hours=3))
        elif kind == "bottleneck" and i % 4 == 0:
            case = cases.transition(case.id, "ignored", at=later)
        elif kind == "exception" and i % 2 == 0:
            case = cases.transition(case.id, "analyzing", at=later)
            end = ["resolved", "escalated", None][i % 3]
            if end is not None:
                case = cases.transition(case.id, end, at=later + dt.timedelta(hours=i % 7))
        made.append(case)
    return made


def walk(cases: Cases, limit: int = 7, **filters: Any) -> list[Case]:
    """Every page of a listing, in order."""
    out: list[Case] = []
    cursor = None
    while True:
        page = cases.list(**filters, cursor=cursor, limit=limit)
        out.extend(page.items)
        assert page.items or cursor is None  # a cursor is given only when a page follows
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def matches(case: Case, f: dict[str, Any]) -> bool:
    statuses = f.get("status")
    severities = f.get("severity")
    checks = [
        "kind" not in f or case.kind == f["kind"],
        statuses is None or case.status in ([statuses] if isinstance(statuses, str) else statuses),
        severities is None
        or case.severity in ([severities] if isinstance(severities, str) else severities),
        all(
            getattr(case, k) == f[k]
            for k in ("domain", "owner", "entity", "source", "type")
            if k in f
        ),
        "open" not in f or case.is_open == f["open"],
        not f.get("sla_breached")
        or (case.is_open and case.sla_deadline is not None and case.sla_deadline < f["now"]),
        "created_after" not in f or case.created_at >= f["created_after"],
        "created_before" not in f or case.created_at < f["created_before"],
        "opened_after" not in f or case.opened_at >= f["opened_after"],
        "resolved_after" not in f
        or (case.resolved_at is not None and case.resolved_at >= f["resolved_after"]),
        "resolved_before" not in f
        or (case.resolved_at is not None and case.resolved_at < f["resolved_before"]),
        "attrs" not in f or all(case.attrs.get(k) == x for k, x in f["attrs"].items()),
        "where" not in f or case.attrs["n"] >= 30,
    ]
    return all(checks)


FILTERS: list[dict[str, Any]] = [
    {},
    {"kind": "exception"},
    {"status": "analyzing"},
    {"status": ["pending", "escalated"]},
    {"severity": "high"},
    {"severity": ["low", "critical"]},
    {"domain": "Finance"},
    {"owner": "bo"},
    {"entity": "acct:3"},
    {"source": "claims"},
    {"type": "SettlementFail"},
    {"open": True},
    {"open": False},
    {"sla_breached": True, "now": NOW},
    {
        "created_after": T0 + dt.timedelta(minutes=10),
        "created_before": T0 + dt.timedelta(minutes=20),
    },
    {"opened_after": T0 + dt.timedelta(minutes=25)},
    {"resolved_after": T0, "resolved_before": T0 + dt.timedelta(minutes=20, hours=8)},
    {"attrs": {"region": "eu"}},
    {"where": [("n", ">=", 30)]},
    {"kind": "bottleneck", "status": "pending"},
    {"kind": "exception", "domain": "Healthcare", "open": True},
    {"severity": ["high", "medium"], "owner": "ana", "attrs": {"region": "us"}},
    {"kind": "exception", "where": [("n", ">=", 30)], "sla_breached": True, "now": NOW},
]


def test_every_filter_and_order_walks_each_match_once(ledger: Ledger, tenant_id: str) -> None:
    cases = ledger.tenant(tenant_id).cases
    made = populate(cases)
    for f in FILTERS:
        expected = [c for c in made if matches(c, f)]
        key, desc = ORDER_KEYS["created_at"]
        walked = walk(cases, **f)
        assert walked == sorted(expected, key=key, reverse=desc), f
    assert len(walk(cases, kind="bottleneck", status="pending")) > 0
    # A page that ends exactly at the last match says no page follows.
    whole = cases.list(kind="bottleneck", limit=len(walk(cases, kind="bottleneck")))
    assert whole.items and whole.next_cursor is None
    for order, (key, desc) in ORDER_KEYS.items():
        for f in (FILTERS[0], FILTERS[19], FILTERS[20]):
            expected = sorted((c for c in made if matches(c, f)), key=key, reverse=desc)
            assert walk(cases, order=order, limit=4, **f) == expected, (order, f)


def _forged(cursor: str, **parts: object) -> str:
    """``cursor`` with ``parts`` changed (and its order made score's where ``n`` is)."""
    key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    key.update(parts, **({"o": "score"} if "n" in parts else {}))
    raw = json.dumps(key).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_cursors_belong_to_their_listing(ledger: Ledger, tenant_id: str) -> None:
    cases = ledger.tenant(tenant_id).cases
    populate(cases, 12)
    page = cases.list(kind="exception", limit=2)
    assert page.next_cursor is not None
    bads: list[dict[str, Any]] = [
        {"cursor": "garbage"},
        {"cursor": page.next_cursor, "order": "score"},
        {"cursor": page.next_cursor, "kind": "bottleneck"},
        {"cursor": page.next_cursor, "kind": None},
        {"cursor": "eyJvIjoiY3JlYXRlZF9hdCJ9"},  # {"o":"created_at"}
        # Forged: the right listing, parts of the wrong kind.
        {"cursor": _forged(page.next_cursor, i=5)},
        {"cursor": _forged(page.next_cursor, n=10**400), "order": "score"},
        {"cursor": _forged(page.next_cursor, n="nan"), "order": "score"},
    ]
    for bad in bads:
        with pytest.raises(InvalidInput) as info:
            cases.list(**{"kind": "exception", **bad})
        assert info.value.field == "cursor", bad
    last = cases.list(kind="exception", limit=100)
    assert last.next_cursor is None


def test_pages_stay_exact_while_cases_are_added(sync_ledger: Ledger) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    cases = sync_ledger.tenant(tid).cases
    made = populate(cases, 40)
    stop = threading.Event()
    added: list[Case] = []

    def add() -> None:
        rng = random.Random(7)
        while not stop.is_set():
            added.append(
                cases.create(
                    "exception",
                    "added meanwhile",
                    score=rng.uniform(0, 10),
                    attrs={"n": 99, "region": "eu"},
                    at=T0 + dt.timedelta(seconds=rng.uniform(0, 1200)),
                )
            )

    writer = threading.Thread(target=add)
    writer.start()
    try:
        for f in ({}, {"kind": "exception"}, {"attrs": {"region": "eu"}}, {"open": True}):
            for order in ("created_at", "score", "severity"):
                walked = walk(cases, limit=3, order=order, **f)
                ids = [c.id for c in walked]
                assert len(ids) == len(set(ids)), (f, order)
                before = {c.id for c in made if matches(c, f)}
                assert before <= set(ids), (f, order)
    finally:
        stop.set()
        writer.join()
    assert added


def test_aggregates_match_the_cases(ledger: Ledger, tenant_id: str, database_url: str) -> None:
    cases = ledger.tenant(tenant_id).cases
    made = populate(cases)
    stats = cases.aggregates(now=NOW, since=T0, until=NOW)
    assert stats.total == len(made) and stats.open == sum(c.is_open for c in made)
    assert stats.by_status == Counter(c.status for c in made)
    assert stats.by_severity == Counter(c.severity or "" for c in made)
    assert stats.by_kind == Counter(c.kind for c in made)
    assert stats.by_domain == Counter(c.domain or "" for c in made)
    breached = [c for c in made if c.is_open and c.sla_deadline and c.sla_deadline < NOW]
    assert stats.sla_breached == len(breached) > 0
    resolved = [c for c in made if c.resolved_at is not None]
    assert stats.resolution.count == len(resolved) > 0
    took = sorted((c.resolved_at - c.opened_at).total_seconds() for c in resolved if c.resolved_at)
    assert stats.resolution.max == took[-1] and stats.resolution.avg == pytest.approx(
        sum(took) / len(took)
    )
    ages = [(NOW - c.opened_at).total_seconds() for c in made if c.is_open]
    assert stats.open_age.count == len(ages) and stats.open_age.max == max(ages)
    finance = cases.aggregates(kind="exception", domain="Healthcare", now=NOW)
    wanted = [c for c in made if c.kind == "exception" and c.domain == "Healthcare"]
    assert finance.total == len(wanted) > 0 and set(finance.by_kind) == {"exception"}
    with pytest.raises(InvalidInput) as window:
        cases.aggregates(since=NOW, until=T0)
    assert window.value.field == "since"
    # The counts come from the tallies; the writes above folded some deltas into them.
    with psycopg.connect(database_url) as owner:
        row = owner.execute(
            "SELECT (SELECT coalesce(sum(n), 0) FROM agentledger.case_tallies"
            "        WHERE tenant_id = %(t)s),"
            "       (SELECT count(*) FROM agentledger.case_tally_deltas WHERE tenant_id = %(t)s)",
            {"t": tenant_id},
        ).fetchone()
    assert row is not None and row[0] > 0
    for case in made[:10]:
        cases.delete(case.id)
    assert cases.aggregates().total == len(made) - 10


def test_the_app_role_cannot_write_the_tallies(sync_ledger: Ledger, app_url: str) -> None:
    tid = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tid)
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT agentledger.bind_tenant(%s)", [tid])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "INSERT INTO agentledger.case_tallies VALUES (%s, 'k', 's', '', '', 5)", [tid]
            )


def test_breaches_entities_and_similar_cases(ledger: Ledger, tenant_id: str) -> None:
    cases = ledger.tenant(tenant_id).cases
    made = populate(cases, 30)
    breaches = cases.find_sla_breaches(NOW)
    expected = sorted(
        (c for c in made if c.is_open and c.sla_deadline and c.sla_deadline < NOW),
        key=lambda c: (c.sla_deadline, c.id),
    )
    assert breaches == expected and breaches
    assert cases.find_sla_breaches(NOW, kind="bottleneck") == [
        c for c in expected if c.kind == "bottleneck"
    ]
    about = cases.find_by_entity("acct:2")
    assert {c.id for c in about} == {c.id for c in made if c.entity == "acct:2"}
    assert all(c.is_open for c in cases.find_by_entity("acct:2", open=True))
    probe = cases.create(
        "exception",
        "Settlement failure at the custodian",
        entity="acct:4",
        type="ClaimMismatch",
    )
    similar = cases.similar(probe.id, limit=50)
    ranked = [(s.same_entity, s.same_type, s.same_kind) for s in similar]
    assert ranked == sorted(ranked, reverse=True)
    same = [s.case.id for s in similar if s.same_entity]
    assert set(same) == {c.id for c in made if c.entity == "acct:4" and c.kind == "exception"}
    assert similar[0].same_entity and similar[0].same_type
    worded = [s for s in similar if not s.same_entity]
    assert worded and all(s.text_rank > 0 for s in worded)
    assert probe.id not in {s.case.id for s in similar}
    lonely = cases.create("exception", "Quokka")
    assert cases.similar(lonely.id) == []


def test_one_winner_among_twenty_concurrent_changers(settings: Settings) -> None:
    with Ledger(settings.with_(pool_max_size=24), migrate=False) as wide:
        tid = f"t-{uuid.uuid4().hex[:12]}"
        wide.tenants.create(tid)
        cases = wide.tenant(tid).cases
        cases.define_kind("bottleneck", **BOTTLENECK)
        case = cases.create("bottleneck", "contended")
        other = cases.create("bottleneck", "also contended")
        start = threading.Barrier(20)
        outcomes: list[str] = []

        def change(target: Case, expected: int | None) -> None:
            start.wait()
            try:
                cases.transition(target.id, "in_progress", expected_version=expected)
                outcomes.append("won")
            except VersionConflict:
                outcomes.append("stale")

        for target, expected in ((case, 1), (other, None)):
            outcomes.clear()
            threads = [threading.Thread(target=change, args=(target, expected)) for _ in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if expected is not None:
                assert Counter(outcomes) == {"won": 1, "stale": 19}
            else:  # without a version, the others find the move made: nothing more changes
                assert outcomes == ["won"] * 20
            moved = cases.get(target.id)
            assert moved.status == "in_progress" and moved.version == 2
            assert [e.type for e in cases.timeline(target.id)] == [
                "CaseCreated",
                "CaseStatusChanged",
            ]
        assert cases.aggregates().by_status == {"in_progress": 2}
