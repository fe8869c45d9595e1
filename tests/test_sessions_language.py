"""Sessions search in the tenant's language, and its bounded candidate set."""

from __future__ import annotations

import itertools
import uuid

import pytest

from agentledger import InvalidInput, Ledger


def test_chunks_and_artifacts_are_searched_in_the_tenant_language(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    sessions = scope.sessions
    sid = sessions.create("Umzug").id
    old = sessions.add_chunk(sid, "Zwei alte Häuser am See.")
    assert sessions.search("Haus") == []  # english stems neither word to the other
    scope.memory.set_language("german")
    new = sessions.add_chunk(sid, "Das Haus mit dem Garten.")
    doc = sessions.save_artifact(
        sid, "notiz", "Die Gärten hinter den Häusern.", artifact_type="document"
    )
    # New text is indexed in German; stored text keeps its english index until re-indexed.
    assert [h.chunk_id for h in sessions.search("Häuser")] == [new.id]
    assert sessions.reindex(batch_size=1) == 1
    assert sessions.reindex() == 0
    hits = sessions.search("Häuser")
    assert {h.chunk_id for h in hits} == {old.id, new.id}
    assert all("<mark>" in h.snippet for h in hits)
    assert [h.artifact_id for h in sessions.search_artifacts("Garten")] == [doc.id]
    assert [h.chunk_id for h in sessions.search('"alte Haus"')] == [old.id]


def test_a_language_change_reindexes_session_text_with_the_entities(
    ledger: Ledger, tenant_id: str
) -> None:
    scope = ledger.tenant(tenant_id)
    sid = scope.sessions.create("Umzug").id
    old = scope.sessions.add_chunk(sid, "Zwei alte Häuser am See.")
    note = scope.sessions.save_artifact(sid, "notiz", "Die Gärten.", artifact_type="document")
    scope.memory.set_language("german")
    assert scope.sessions.search("Haus") == []  # its batch waits in the queue
    scope.memory.reindex()  # what a worker of agentledger.reindex does
    assert [h.chunk_id for h in scope.sessions.search("Haus")] == [old.id]
    assert [h.artifact_id for h in scope.sessions.search_artifacts("Garten")] == [note.id]
    assert scope.sessions.reindex() == 0  # nothing left for the manual way
    assert scope.memory.language_status().batches == 0


def test_another_tenant_keeps_its_language(ledger: Ledger, tenant_id: str) -> None:
    german = ledger.tenant(tenant_id)
    german.memory.set_language("german")
    other_id = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other_id)
    other = ledger.tenant(other_id).sessions
    sid = other.create("moving").id
    houses = other.add_chunk(sid, "Two old houses by the lake; zwei alte Häuser.")
    assert [h.chunk_id for h in other.search("house")] == [houses.id]  # english stems
    assert other.search("Haus") == []  # no German here
    assert other.reindex() == 0
    gid = german.sessions.create("Umzug").id
    german.sessions.add_chunk(gid, "Das Haus am See.")
    assert [h.chunk_id for h in other.search("Haus")] == []


def test_reindex_refuses_a_bad_batch_size(ledger: Ledger, tenant_id: str) -> None:
    with pytest.raises(InvalidInput) as info:
        ledger.tenant(tenant_id).sessions.reindex(batch_size=0)
    assert info.value.field == "batch_size"


def test_a_rare_word_is_found_among_many_common_word_matches(
    sync_ledger: Ledger,
) -> None:
    """More segments match the common word than a search reads: the hits for it are the
    best of a sample, while a rare word, a phrase or an OR with it still finds every match
    of its own, written last."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    sessions = sync_ledger.tenant(tenant).sessions
    crowd = sessions.create("crowd").id
    with sync_ledger.tenant(tenant).transaction() as tx:
        for i in range(3_100):
            tx.sessions.add_chunk(crowd, f"common filler words, entry {i}")
    small = sessions.create("small").id
    needles = [
        sessions.add_chunk(small, f"common words near the rare needle number {i}") for i in range(3)
    ]
    wanted = {n.id for n in needles}
    apart = sessions.add_chunk(small, "a needle, and rare words after it", format="summary")
    assert {h.chunk_id for h in sessions.search("needle")} == wanted | {apart.id}
    assert {h.chunk_id for h in sessions.search("common needle")} == wanted
    # The phrase is checked on the segments holding its words: the words apart do not match.
    assert {h.chunk_id for h in sessions.search('"rare needle"')} == wanted
    assert {h.chunk_id for h in sessions.search('needle -"rare needle"')} == {apart.id}
    either = sessions.search("needle or nothing")
    assert {h.chunk_id for h in either} == wanted | {apart.id}
    common = sessions.search("common", limit=50)
    assert len(common) == 50
    assert all(a.rank >= b.rank for a, b in itertools.pairwise(common))
    # In one session every match is ranked.
    assert {h.chunk_id for h in sessions.search("common", session_id=small)} == wanted
    assert [h.chunk_id for h in sessions.search("needle", format="summary")] == [apart.id]
