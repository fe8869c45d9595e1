"""A session's own text-search language (sessions_0005): choosing it, which enqueues the
re-index of its chunks and artifacts on the memory's re-index queue, and how far that has
come."""

from __future__ import annotations

from uuid import UUID

from agentledger.db.statements import Gen, Queries, operation
from agentledger.memory import languages, rebuild
from agentledger.memory.records import LanguageStatus
from agentledger.sessions.ops import not_found, record, session_uuid
from agentledger.sessions.records import Session
from agentledger.tasks import ops as tasks

Q = Queries.beside(__file__)


@operation()
def set_language(session_id: UUID | str, config: str | None) -> Gen[Session]:
    """Index and search the session's chunks and artifacts in ``config``, a text-search
    configuration of this server ("german", ...; None: the tenant's again). New segments
    use it at once; the stored ones are re-indexed by a batch enqueued on
    ``agentledger.reindex`` in the same transaction. InvalidInput naming ``language`` and
    listing the server's when unknown; NotFound when the session does not exist."""
    found = session_uuid(session_id)
    name = None if config is None else (yield from languages.checked(config))
    row = yield Q.set_session_language.one(id=found, config=name)
    if row is None:
        raise not_found(session_id)
    yield from tasks.enqueue_many(rebuild.REINDEX_QUEUE, [rebuild.session_batch(found)]).start()
    return record(row)


@operation(writes=False, standby=False)
def language_status(session_id: UUID | str) -> Gen[LanguageStatus]:
    """The session's language (its own, else the tenant's), its segments still indexed in
    another, and the tenant's re-index batches left."""
    row = yield Q.session_language.one(id=session_uuid(session_id))
    if row is None:
        raise not_found(session_id)
    batches = yield from rebuild.unfinished(rebuild.REINDEX_QUEUE)
    return LanguageStatus(language=row["language"], pending=row["pending"], batches=batches)
