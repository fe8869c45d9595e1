"""Sessions search in the tenant's language or a session's own, and its bounded
candidate set."""

from __future__ import annotations

import itertools
import uuid

import pytest

from agentledger import InvalidInput, LanguageStatus, Ledger, NotFound
from agentledger.memory import jobs_sync, rebuild


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


def test_a_session_in_its_own_language_while_the_tenant_stays_english(
    ledger: Ledger, tenant_id: str
) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    umzug = sessions.create("Umzug", language="german")
    moving = sessions.create("moving")
    assert (umzug.language, moving.language) == ("german", None)
    assert sessions.get(umzug.id).language == "german"
    old = sessions.add_chunk(umzug.id, "Zwei alte Häuser am See.")
    lake = sessions.add_chunk(moving.id, "Two old houses by the lake.")
    doc = sessions.save_artifact(
        umzug.id, "notiz", "Die Gärten hinter den Häusern.", artifact_type="document"
    )
    # In the session, its language; across the tenant, the query in every one in use.
    assert [h.chunk_id for h in sessions.search("Haus", session_id=umzug.id)] == [old.id]
    hits = sessions.search("Haus")
    assert [h.chunk_id for h in hits] == [old.id]
    assert "<mark>Häuser</mark>" in hits[0].snippet  # highlighted in German
    assert [h.chunk_id for h in sessions.search("house")] == [lake.id]
    assert sessions.search("Haus", session_id=moving.id) == []
    assert [h.artifact_id for h in sessions.search_artifacts("Garten")] == [doc.id]
    assert [h.artifact_id for h in sessions.search_artifacts("Garten", session_id=umzug.id)] == [
        doc.id
    ]
    assert sessions.language_status(umzug.id) == LanguageStatus(
        language="german", pending=0, batches=0
    )
    assert sessions.language_status(moving.id).language == "english"


def test_a_session_language_change_reindexes_that_session_in_the_background(
    sync_ledger: Ledger,
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    sync_ledger.tenants.create(tenant)
    scope = sync_ledger.tenant(tenant)
    sessions = scope.sessions
    umzug = sessions.create("Umzug").id
    other = sessions.create("other").id
    old = [sessions.add_chunk(umzug, f"Die Häuser Nummer {i}.") for i in range(3)]
    sessions.save_artifact(umzug, "notiz", "Die Häuser am See.", artifact_type="document")
    sessions.add_chunk(other, "Die Häuser am Fluss.")
    assert sessions.search("Haus") == []  # English keeps "häuser"
    assert sessions.set_language(umzug, "german").language == "german"
    assert sessions.language_status(umzug) == LanguageStatus(
        language="german", pending=4, batches=1
    )
    fresh = sessions.add_chunk(umzug, "Das Haus am Markt.")  # in German at once
    assert [h.chunk_id for h in sessions.search("Häuser", session_id=umzug)] == [fresh.id]
    worker = scope.tasks.worker(
        rebuild.REINDEX_QUEUE, jobs_sync.reindex_handler, concurrency=2, transactional=True
    )
    assert worker.run(until_empty=True).completed == 1
    [task] = scope.tasks.list(queue=rebuild.REINDEX_QUEUE)
    assert task.output == {"reindexed": 0, "skipped": 0, "segments": 4}
    assert sessions.language_status(umzug) == LanguageStatus(
        language="german", pending=0, batches=0
    )
    found = {h.chunk_id for h in sessions.search("Häuser", session_id=umzug)}
    assert found == {fresh.id, *(c.id for c in old)}
    assert len(sessions.search_artifacts("Haus")) == 1
    # The other session was left alone, in the tenant's language.
    assert sessions.search("Haus", session_id=other) == []
    assert sessions.language_status(other).pending == 0
    # Cleared, the session follows the tenant again; reindex() can finish it directly.
    assert sessions.set_language(umzug, None).language is None
    assert sessions.language_status(umzug).pending == 5
    assert sessions.reindex(session_id=umzug) == 5
    assert sessions.language_status(umzug) == LanguageStatus(
        language="english", pending=0, batches=1
    )
    worker.run(until_empty=True)  # its batch finds nothing left
    assert sessions.language_status(umzug).batches == 0
    assert [h.chunk_id for h in sessions.search("Haus")] == [fresh.id]  # English again


def test_bad_session_language_input_changes_nothing(ledger: Ledger, tenant_id: str) -> None:
    sessions = ledger.tenant(tenant_id).sessions
    with pytest.raises(InvalidInput, match="german") as caught:
        sessions.create("Umzug", language="klingon")
    assert caught.value.field == "language"
    assert sessions.list() == []
    sid = sessions.create("Umzug").id
    with pytest.raises(InvalidInput, match="german") as caught:
        sessions.set_language(sid, "klingon")
    assert caught.value.field == "language"
    assert sessions.get(sid).language is None
    assert sessions.language_status(sid).batches == 0  # nothing enqueued
    for missing in (uuid.uuid4(), "not-a-uuid"):
        with pytest.raises((NotFound, InvalidInput)) as gone:
            sessions.set_language(missing, "german")
        assert gone.value.field == "session_id"
    with pytest.raises(NotFound):
        sessions.language_status(uuid.uuid4())
    # Another tenant's session is not found either, and stays as it was.
    other = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other)
    theirs = ledger.tenant(other).sessions.create("theirs").id
    with pytest.raises(NotFound):
        sessions.set_language(theirs, "german")
    with pytest.raises(NotFound):
        sessions.language_status(theirs)
    assert ledger.tenant(other).sessions.get(theirs).language is None


def test_another_tenant_does_not_search_in_a_sessions_language(
    ledger: Ledger, tenant_id: str
) -> None:
    german = ledger.tenant(tenant_id).sessions
    german.create("Umzug", language="german")
    other_id = f"t-{uuid.uuid4().hex[:12]}"
    ledger.tenants.create(other_id)
    other = ledger.tenant(other_id).sessions
    sid = other.create("moving").id
    other.add_chunk(sid, "Zwei alte Häuser.")
    assert other.search("Haus") == []  # its query is English only
    assert other.language_status(sid).language == "english"
