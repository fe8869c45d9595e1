"""A tenant's vocabularies (memory_0010): the entity kinds and relationship types it allows.

The database enforces them on every write; these operations declare and read them.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, Query, operation
from agentledger.errors import InvalidInput
from agentledger.memory.records import Vocabulary

Q = Queries.beside(__file__, "vocabulary.sql")
MAX_TERMS = 1000


@operation(idempotent=True)
def define(
    *, kinds: Sequence[str] | None, relationship_types: Sequence[str] | None
) -> Gen[Vocabulary]:
    """Restrict kinds and relationship types to the given terms (None: any). Refused, and
    nothing changed, when stored entities or edges already use a term left out."""
    domains = (  # both lists checked before any statement runs
        ("kind", "kinds", _terms("kinds", kinds), Q.kinds_outside),
        (
            "relationship_type",
            "relationship_types",
            _terms("relationship_types", relationship_types),
            Q.types_outside,
        ),
    )
    for domain, field, terms, outside in domains:
        if terms is None:
            yield Q.clear_vocabulary.none(domain=domain)
            continue
        yield from _refuse_stored(field, terms, outside)
        yield Q.set_vocabulary.none(domain=domain, terms=terms)
    return (yield from vocabulary())


@operation(writes=False)
def get() -> Gen[Vocabulary]:
    """The kinds and relationship types this tenant allows (None: any)."""
    return (yield from vocabulary())


def vocabulary() -> Gen[Vocabulary]:
    rows = yield Q.get_vocabulary.all()
    terms = {r["domain"]: list(r["terms"]) for r in rows}
    return Vocabulary(kinds=terms.get("kind"), relationship_types=terms.get("relationship_type"))


def _terms(field: str, given: Sequence[str] | None) -> list[str] | None:
    if given is None:
        return None
    given = v.items(field, given, what="names")
    if not 1 <= len(given) <= MAX_TERMS:
        raise InvalidInput(f"{field} holds 1 to {MAX_TERMS} names (None: any)", field=field)
    return list(dict.fromkeys(v.text(f"{field}[{i}]", t, max_len=100) for i, t in enumerate(given)))


def _refuse_stored(field: str, terms: list[str], outside: Query) -> Gen[None]:
    row = yield outside.one(terms=terms)
    used = list(row["terms"]) if row else []
    if used:
        raise InvalidInput(
            f"{field} leaves out {', '.join(used)}, which stored memory already uses",
            field=field,
        )
