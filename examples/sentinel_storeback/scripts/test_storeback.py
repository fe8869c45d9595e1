"""The seed's verification script (Task 5): nine checks, a tick each, non-zero on failure.

    python examples/sentinel_storeback/scripts/test_storeback.py

Uses the embedded PostgreSQL unless DATABASE_URL is set. Loads the seed contacts into the
``sentinel`` tenant when they are missing (the seed's Task 1 setup). The test writes go to
a scratch tenant that is cleaned up at the end: its entities are deleted and the tenant is
archived (decisions and the trigger log are append-only audit records, never deleted).
"""

from __future__ import annotations

import sys
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from agentledger import Filter, Ledger
from examples.sentinel_storeback.seed_data import BEHAVIOURAL, CONTACTS, load, seed_contacts
from examples.sentinel_storeback.storeback import TENANT, SentinelStoreBack, sentinel_settings

PROBE = "Storeback Probe Contact"


def main(argv: list[str] | None = None) -> int:
    tenant = (argv or sys.argv[1:] or [TENANT])[0]
    scratch = f"sentinel-check-{uuid.uuid4().hex[:10]}"
    ok = True
    with Ledger(sentinel_settings()) as ledger:
        store = SentinelStoreBack(ledger, tenant=tenant)
        test = SentinelStoreBack(ledger, tenant=scratch, embedder=store.embedder)
        state: dict[str, str] = {}

        def connect() -> None:
            health = ledger.health()
            assert health.database, "PostgreSQL does not answer"

        def tables() -> None:
            # contacts, deals (and preferences) -> memory entities; decisions; trigger_log ->
            # runs; alerts. Migrations current means every table exists; each answers.
            assert ledger.health().migrations_current, "migrations are not current"
            store.scope.memory.stats()
            store.scope.decisions.list(limit=1)
            store.scope.runs.list(limit=1)
            store.scope.alerts.list(limit=1)

        def seed() -> None:
            if len(seed_contacts(store)) < len(CONTACTS):
                load(store)
            contacts = seed_contacts(store)
            assert len(contacts) == 10, f"{len(contacts)} seed contacts, expected 10"
            for contact in contacts:
                missing = [f for f in BEHAVIOURAL if f not in contact]
                assert not missing, f"{contact['name']} lacks {missing}"

        def trigger() -> None:
            tid = test.log_trigger("email", "msg-check-1", "Hello from the check", None, "high")
            test.update_trigger_result(tid, tid, 1234, 500, 120)
            run = test.scope.runs.get(tid)
            assert (run.status, run.duration_ms, run.tokens_in) == ("succeeded", 1234, 500)
            state["trigger"] = tid

        def decision() -> None:
            did = test.log_decision("Reply tomorrow", "CEO travelling", "high", "email")
            test.record_feedback(did, False, "Reply today")
            stored = test.scope.decisions.get(did)
            assert (stored.accepted, stored.feedback_reason) == (False, "Reply today")
            assert stored.data["confidence"] == "high"

        def alert() -> None:
            aid = test.create_alert(1, "Check alert", "body", True, state["trigger"])
            assert [a["id"] for a in test.get_pending_alerts(tier=1)] == [aid]
            test.acknowledge_alert(aid)
            test.resolve_alert(aid)
            assert test.get_pending_alerts() == []
            assert test.scope.alerts.get(aid).status == "resolved"

        def contact() -> None:
            cid = test.upsert_contact(PROBE, {"communication_style": "brief", "role": "tester"})
            again = test.upsert_contact(PROBE, {"communication_style": None, "role": "lead"})
            assert again == cid, "the upsert made a second contact"
            found = test.get_contact_by_name(PROBE)
            assert found is not None and found["communication_style"] == "brief"
            assert found["role"] == "lead"

        def fuzzy() -> None:
            found = test.get_contact_by_name("Storebak Probe Contct")
            assert found is not None and found["name"] == PROBE
            assert test.get_contact_by_name("Xylophone Quartz") is None

        def cleanup() -> None:
            memory = test.scope.memory
            for entity in memory.list(Filter(include_archived=True), limit=1000):
                memory.delete(entity.id)
            assert memory.stats().entities == 0
            ledger.tenants.archive(scratch)

        checks: list[tuple[str, Callable[[], None]]] = [
            ("Connect to PostgreSQL", connect),
            ("Verify all 6 tables exist", tables),
            ("Verify seed data (10 contacts)", seed),
            ("Insert a test trigger_log entry", trigger),
            ("Insert a test decision", decision),
            ("Create and resolve a test alert", alert),
            ("Upsert a contact with behavioral update", contact),
            ("Fuzzy match a contact name", fuzzy),
            ("Clean up test data", cleanup),
        ]
        for i, (name, check) in enumerate(checks, 1):
            try:
                check()
            except Exception as exc:
                ok = False
                print(f"{i}. {name} ✗ {type(exc).__name__}: {exc}")
                traceback.print_exc(file=sys.stderr)
            else:
                print(f"{i}. {name} ✓")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
