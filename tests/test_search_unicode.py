"""A query typed with combining accents (as macOS input often is) finds text stored in the
composed form nearly all text is in: every text search reads its query as NFC."""

from __future__ import annotations

import unicodedata

from agentledger import Ledger

STORED = "Café Müller"
TYPED = unicodedata.normalize("NFD", STORED)


def test_a_decomposed_query_finds_composed_text_in_every_search(
    ledger: Ledger, tenant_id: str
) -> None:
    assert TYPED != STORED
    scope = ledger.tenant(tenant_id)
    made = scope.memory.upsert("place", STORED, summary=f"we met at {STORED} downtown")
    session = scope.sessions.create("Lunch")
    scope.sessions.add_chunk(session.id, f"lunch at {STORED} was great")
    scope.sessions.save_artifact(
        session.id, "notes", f"{STORED}: book a table", artifact_type="document"
    )
    memory = scope.memory
    for hits in (
        memory.search_text(TYPED),
        memory.search(TYPED),
        memory.find_by_name(TYPED),
        memory.find_by_substring(TYPED[:6]),
    ):
        assert [h.entity.id for h in hits] == [made.id]
    assert len(scope.sessions.search(TYPED)) == 1
    assert len(scope.sessions.search_artifacts(TYPED)) == 1
