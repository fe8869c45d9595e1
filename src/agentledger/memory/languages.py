"""Which text-search configuration indexes what: the tenant's (memory_0013), an entity
kind's own (memory_0015), and a name checked against the configurations of the server.
Choosing one (and the re-index that follows) is in ``rebuild.py``."""

from __future__ import annotations

from agentledger import validation as v
from agentledger.db.statements import Gen, Queries, operation
from agentledger.errors import InvalidInput
from agentledger.memory.records import Languages

Q = Queries.beside(__file__, "languages.sql")
DEFAULT = "english"


def kind_name(value: object) -> str:
    """An entity kind, as the upsert takes it."""
    return v.text("kind", value, max_len=100, strip=True)


def checked(config: object) -> Gen[str]:
    """``config`` when the server has such a text-search configuration ("german",
    "spanish", "simple", a custom one schema-qualified); else InvalidInput naming
    ``language`` and listing the server's."""
    name = v.text("language", config, max_len=200, strip=True)
    known: list[str] = yield Q.text_configs.scalar()
    if name not in known:
        raise InvalidInput(
            f"language {name!r} is not a text-search configuration of this server; "
            f"it has: {', '.join(known)}",
            field="language",
        )
    return name


@operation(writes=False)
def language(kind: str | None = None) -> Gen[str]:
    """The tenant's text-search configuration ("english" until it chooses another); with
    ``kind``, the one that kind's entities are indexed in (its own, else the tenant's)."""
    name: str | None = yield Q.get_text_config.scalar(
        kind=None if kind is None else kind_name(kind)
    )
    return name or DEFAULT


@operation(writes=False)
def languages() -> Gen[Languages]:
    """The tenant's text-search configuration and the kinds that have their own."""
    row = yield Q.text_config_choices.one()
    return Languages(language=row["language"] or DEFAULT, kinds=dict(sorted(row["kinds"].items())))
