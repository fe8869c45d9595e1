"""Case kinds (I/O-free): each tenant's kinds of case and their lifecycles.

A kind's lifecycle is a transition table, ``{status: [statuses it may move to]}``, held by
the database (``case_transitions``), which checks every status change against it whoever
writes (the ``cases_guard`` trigger of revision cases_0001).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from agentledger import validation as v
from agentledger.cases import fields
from agentledger.cases.ops import Q
from agentledger.cases.records import CaseKind
from agentledger.db.statements import Gen, operation
from agentledger.errors import Conflict, InvalidInput, NotFound

MAX_STATUSES = 50

Transitions = Mapping[str, Iterable[str]] | Iterable[tuple[str, str]]


def _names(field: str, values: object) -> list[str]:
    listed = v.items(field, values, what="statuses")
    return [fields.status_name(s, f"{field}[{i}]") for i, s in enumerate(listed)]


def _moves(transitions: object, statuses: Sequence[str]) -> list[tuple[str, str]]:
    """The moves of ``transitions`` (a mapping of status to statuses, or (from, to)
    pairs), checked against the statuses, without repeats, in the given order."""
    pairs: list[tuple[object, object]] = []
    if isinstance(transitions, Mapping):
        for source, targets in transitions.items():
            pairs.extend((source, t) for t in _names(f"transitions[{source!r}]", targets))
    elif isinstance(transitions, Iterable) and not isinstance(transitions, str):
        for item in transitions:
            if isinstance(item, str) or not isinstance(item, Sequence) or len(item) != 2:
                raise InvalidInput(
                    "transitions must map a status to the statuses it may move to, "
                    "or be a list of (from, to) pairs",
                    field="transitions",
                )
            pairs.append((item[0], item[1]))
    else:
        raise InvalidInput(
            "transitions must map a status to the statuses it may move to", field="transitions"
        )
    known, out = set(statuses), []
    for source, target in pairs:
        a = fields.status_name(source, "transitions")
        b = fields.status_name(target, "transitions")
        for end in (a, b):
            if end not in known:
                raise InvalidInput(
                    f"transitions name {end!r}, which is not among the statuses",
                    field="transitions",
                )
        if a == b:
            raise InvalidInput(f"a status cannot move to itself ({a!r})", field="transitions")
        if (a, b) not in out:
            out.append((a, b))
    return out


@operation(idempotent=True)
def define_kind(
    kind: str,
    statuses: Sequence[str],
    *,
    transitions: Transitions,
    initial: str | None = None,
    terminal: Sequence[str] = (),
) -> Gen[CaseKind]:
    """Define (or redefine) a kind of case: its ``statuses`` in order, the ``initial``
    one (default: the first), the ``terminal`` ones (a case in one is resolved), and the
    moves allowed between them, ``{"pending": ["in_progress", "ignored"], ...}`` or
    ``[("pending", "in_progress"), ...]``.

    A redefinition may add statuses and change the moves (what it leaves out can no longer
    be taken). It may drop a status only when no case is in it, and a status stays terminal
    or open as first defined: either is a Conflict naming the statuses at fault.
    """
    name = fields.kind_name(kind)
    names = _names("statuses", statuses)
    if not 1 <= len(names) <= MAX_STATUSES:
        raise InvalidInput(
            f"statuses has {len(names)} items; give 1 to {MAX_STATUSES}", field="statuses"
        )
    repeated = sorted({s for s in names if names.count(s) > 1})
    if repeated:
        raise InvalidInput(f"statuses repeats {', '.join(map(repr, repeated))}", field="statuses")
    start = names[0] if initial is None else fields.status_name(initial, "initial")
    if start not in names:
        raise InvalidInput(f"initial status {start!r} is not among the statuses", field="initial")
    final = set(_names("terminal", terminal))
    unknown = sorted(final - set(names))
    if unknown:
        raise InvalidInput(
            f"terminal names {', '.join(map(repr, unknown))}, not among the statuses",
            field="terminal",
        )
    moves = _moves(transitions, names)
    yield Q.save_kind.scalar(kind=name, initial=start)
    stranded = yield Q.statuses_in_use.all(kind=name, statuses=names)
    if stranded:
        held = ", ".join(repr(r["status"]) for r in stranded)
        raise Conflict(
            f"case kind {name!r} still has cases in {held}: move them before dropping it",
            field="statuses",
        )
    yield Q.drop_statuses.none(kind=name, statuses=names)
    yield Q.save_statuses.none(kind=name, statuses=names, terminal=[s in final for s in names])
    froms, tos = [a for a, _ in moves], [b for _, b in moves]
    yield Q.drop_transitions.none(kind=name, froms=froms, tos=tos)
    yield Q.save_transitions.none(kind=name, froms=froms, tos=tos)
    rows = yield Q.get_kinds.all(kind=name)
    return kind_from_row(rows[0])


def kind_from_row(row: Mapping[str, Any]) -> CaseKind:
    statuses = [str(s) for s, _ in row["statuses"]]
    transitions: dict[str, list[str]] = {s: [] for s in statuses}
    for source, target in row["moves"]:
        transitions[source].append(target)
    return CaseKind(
        kind=row["kind"],
        statuses=statuses,
        initial=row["initial"],
        terminal=[str(s) for s, final in row["statuses"] if final],
        transitions=transitions,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@operation(writes=False)
def kinds() -> Gen[list[CaseKind]]:
    """The tenant's case kinds, by name."""
    rows = yield Q.get_kinds.all(kind=None)
    return [kind_from_row(r) for r in rows]


@operation(writes=False)
def kind(name: str) -> Gen[CaseKind]:
    found = fields.kind_name(name, "kind")
    rows = yield Q.get_kinds.all(kind=found)
    if not rows:
        raise NotFound(f"case kind {found!r} is not defined", field="kind")
    return kind_from_row(rows[0])
