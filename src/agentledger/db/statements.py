"""Statements and operations: the I/O-free vocabulary every module speaks.

A module operation is a generator that yields :class:`Stmt` objects, receives each one's
result, and returns a record. It never touches a connection, so one implementation serves
the sync and the async driver, and its logic is testable by feeding it rows.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, Literal, LiteralString, ParamSpec, TypeVar, cast

T = TypeVar("T")
P = ParamSpec("P")

Row = dict[str, Any]
Params = Mapping[str, Any]
Fetch = Literal["none", "one", "all", "tuples", "scalar", "rowcount"]
Gen = Generator["Stmt", Any, T]


@dataclass(frozen=True, slots=True)
class Query:
    """A named SQL statement loaded from a module's ``queries.sql``."""

    name: str
    sql: LiteralString
    doc: str = ""
    # Always run with the generic plan (``-- plan: generic``), see Queries.
    generic: bool = False
    # The channel whose listeners its transaction wakes once committed (``-- notifies:``).
    notifies: str | None = None

    def none(self, **params: Any) -> Stmt:
        return Stmt(self, params, "none")

    def one(self, **params: Any) -> Stmt:
        """Result: the first row as a dict, or None."""
        return Stmt(self, params, "one")

    def all(self, **params: Any) -> Stmt:
        """Result: a list of dict rows."""
        return Stmt(self, params, "all")

    def tuples(self, **params: Any) -> Stmt:
        """Result: a list of plain tuples, columns in the statement's order, sent in binary
        (for hot paths that read rows by position and should not pay for a dict per row)."""
        return Stmt(self, params, "tuples")

    def scalar(self, **params: Any) -> Stmt:
        """Result: the first column of the first row, or None."""
        return Stmt(self, params, "scalar")

    def rowcount(self, **params: Any) -> Stmt:
        return Stmt(self, params, "rowcount")

    def many(self, rows: Iterable[Params]) -> Stmt:
        """Run once per parameter set (``executemany``, pipelined); result: None."""
        return Stmt(self, list(rows), "none", many=True)


@dataclass(frozen=True, slots=True)
class Stmt:
    """One statement to run, its parameters, and the shape of the result wanted."""

    query: Query
    params: Params | Sequence[Params]
    fetch: Fetch
    many: bool = False
    lone: bool = False  # see alone()
    last: bool = False  # see final()

    def alone(self) -> Stmt:
        """This statement, marked as its operation's only one.

        Run as its own transaction, it travels with its binding and no BEGIN or COMMIT, in
        one round trip (the driver's ``run_lone``); a connection lost on the way leaves the
        outcome unknown, as one lost during COMMIT does. Inside a caller's transaction it
        runs like any other. The operation must yield nothing after it.
        """
        if self.many:
            raise ValueError(f"{self.query.name}: a statement run many times is never alone")
        return replace(self, lone=True)

    def final(self) -> Stmt:
        """This statement, marked as its operation's last one.

        When an idempotent operation runs as its own transaction, COMMIT travels with this
        statement in its round trip (a lost connection then retries the operation, as one
        lost during COMMIT does). Inside a caller's transaction, or in an operation that is
        not idempotent, it runs like any other. The operation must yield nothing after it.
        """
        if self.many:
            raise ValueError(f"{self.query.name}: a statement run many times is never final")
        return replace(self, last=True)


@dataclass(frozen=True, slots=True)
class Op(Generic[T]):
    """A restartable operation: the generator function and its arguments.

    ``writes`` tells the database the operation changes data; ``idempotent`` that running it
    again after an unknown outcome (a connection lost during COMMIT) is harmless;
    ``spoolable`` that, when the database is down, it may wait in the local spool and be
    replayed later (its arguments are JSON-encodable and carry client-side ids); ``standby``
    that a streaming standby, a little behind the primary, may serve it (docs/scaling.md),
    unless its keyword argument named ``primary_if`` is true. ``single`` that its function
    yields at most one statement (see :func:`yields_once`).
    """

    fn: Callable[..., Gen[T]]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    writes: bool = True
    idempotent: bool = False
    spoolable: bool = False
    standby: bool = False
    primary_if: str | None = None
    single: bool = False

    def start(self) -> Gen[T]:
        return self.fn(*self.args, **self.kwargs)

    @property
    def on_standby(self) -> bool:
        """Whether this call may run on a standby."""
        return self.standby and not (self.primary_if and self.kwargs.get(self.primary_if))

    def with_kwargs(self, **changes: Any) -> Op[T]:
        """The same call with some keyword arguments changed."""
        return replace(self, kwargs={**self.kwargs, **changes})

    @property
    def name(self) -> str:
        return f"{self.fn.__module__.rsplit('.', 2)[-2]}.{self.fn.__name__}"


def operation(
    *,
    writes: bool = True,
    idempotent: bool | None = None,
    spoolable: bool = False,
    standby: bool | None = None,
    primary_if: str | None = None,
) -> Callable[[Callable[P, Gen[T]]], Callable[P, Op[T]]]:
    """Turn a generator function into a factory of restartable :class:`Op` objects.

    Reads are idempotent by nature; writes say so when client-side ids make them safe to
    repeat. A spoolable operation must be idempotent. Reads may run on a standby; one
    that decides a write or must see the latest commit says ``standby=False`` (a write
    never runs there). ``primary_if`` names a keyword argument of a read that, when true,
    makes the call write as well (``touch=True`` records the access): such a call runs on
    the primary.

    An idempotent operation (every read) whose function :func:`yields_once` runs, on its
    own, as one round trip: its statement is its whole transaction (as if marked
    :meth:`Stmt.alone`). Its statement commits before the function resumes, so an error it
    raises after the statement must be one that follows a statement that wrote nothing
    (no row found); a non-idempotent write keeps BEGIN and COMMIT, so that a connection
    lost before the statement reached the server can be retried.
    """
    if spoolable and (not writes or idempotent is False):
        raise ValueError("a spoolable operation is an idempotent write")
    if writes and standby:
        raise ValueError("a write never runs on a standby")

    def wrap(fn: Callable[P, Gen[T]]) -> Callable[P, Op[T]]:
        single = yields_once(fn)

        @functools.wraps(fn)
        def make(*args: P.args, **kwargs: P.kwargs) -> Op[T]:
            return Op(
                fn,
                args,
                kwargs,
                writes=writes,
                idempotent=(not writes) if idempotent is None else idempotent,
                spoolable=spoolable,
                standby=(not writes) if standby is None else standby,
                primary_if=primary_if,
                single=single,
            )

        return make

    return wrap


def yields_once(fn: Callable[..., Any]) -> bool:
    """Whether ``fn``'s source has one ``yield``, outside any loop, and no ``yield from``:
    then every run of it yields at most one statement, and the driver may send that
    statement with its binding and the commit in one round trip. False when in doubt (no
    source to read)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return False
    if not tree.body or not isinstance(tree.body[0], ast.FunctionDef):
        return False
    found = 0

    def visit(node: ast.AST, in_loop: bool) -> None:
        nonlocal found
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue  # its yields are its own
            if isinstance(child, ast.YieldFrom) or (isinstance(child, ast.Yield) and in_loop):
                found += 2
            elif isinstance(child, ast.Yield):
                found += 1
            visit(child, in_loop or isinstance(child, (ast.For, ast.AsyncFor, ast.While)))

    visit(tree.body[0], False)
    return found == 1


def run_offline(op: Op[T], results: Iterable[Any]) -> tuple[T, list[Stmt]]:
    """Run ``op`` feeding it canned ``results``; returns its value and the statements it sent.

    For unit tests of an operation's logic and row shaping (never a stand-in for the database
    in behaviour tests).
    """
    gen, sent, feed = op.start(), [], iter(results)
    try:
        stmt = next(gen)
        while True:
            sent.append(stmt)
            stmt = gen.send(next(feed))
    except StopIteration as stop:
        return cast(T, stop.value), sent


def compact(sql: str) -> str:
    """``sql`` without its comment lines and indentation, when no line can start inside a
    quoted string (no line break in a literal, no dollar quoting); otherwise unchanged.

    Shorter text keeps a statement within the size the driver caches its parsing for."""
    lines = sql.splitlines()
    if "$" in sql or any(line.count("'") % 2 or line.count('"') % 2 for line in lines):
        return sql
    kept = (line.strip() for line in lines if not line.lstrip().startswith("--"))
    return "\n".join(line for line in kept if line)


@dataclass(slots=True)
class _Block:
    """One block of a queries file as written: a named statement or a fragment."""

    kind: Literal["query", "fragment"]
    name: str
    doc: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    generic: bool = False
    notifies: str | None = None

    def add(self, line: str) -> None:
        """Directives and purpose comments come before the SQL; then every line is SQL."""
        if self.body or _is_include(line) or not line.startswith("--"):
            self.body.append(line)
        elif line.strip() == "-- plan: generic":
            self.generic = True
        elif line.startswith("-- notifies:"):
            self.notifies = line.split(":", 1)[1].strip()
        else:
            self.doc.append(line.lstrip("- "))


def _is_include(line: str) -> bool:
    return line.strip().startswith("-- include:")


class Queries:
    """The named queries of one ``.sql`` file, loaded once: ``queries.claim_tasks``.

    Blocks start with ``-- name: <identifier>`` and optional ``-- purpose`` comment lines;
    the SQL runs to the next block, and is kept :func:`compact`. A comment line
    ``-- plan: generic`` marks a statement whose plan does not depend on its parameters'
    values: the driver always runs it with its generic plan, never one planned anew for
    the values at hand. ``-- notifies: <channel>`` marks a statement after whose
    transaction the database wakes that channel's listeners, the tenant id as payload
    (db/waker.py, after the commit: a NOTIFY inside a transaction holds the server's
    notification lock through the commit's flush, so concurrent writers would commit one
    at a time).

    A block ``-- fragment: <identifier>`` holds lines that several statements of the file
    share (a column list, a filter): a line that is only ``-- include: <identifier>``, in a
    statement or in another fragment, stands for the fragment's lines. Fragments are text
    of the same file and take no input, so every statement stays as literal as the file;
    a fragment that is unknown, empty, never included or included in itself is an error
    at load.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.by_name: dict[str, Query] = {}
        queries: dict[str, _Block] = {}
        fragments: dict[str, _Block] = {}
        block: _Block | None = None
        for line in path.read_text().splitlines():
            if line.startswith(("-- name:", "-- fragment:")):
                kind: Literal["query", "fragment"] = (
                    "query" if line.startswith("-- name:") else "fragment"
                )
                name = line.split(":", 1)[1].strip()
                blocks = queries if kind == "query" else fragments
                if name in blocks:
                    raise ValueError(f"{path}: {kind} {name} is defined twice")
                block = blocks[name] = _Block(kind, name)
            elif block is not None:
                block.add(line)
        for fragment in fragments.values():
            if fragment.generic or fragment.notifies:
                raise ValueError(f"{path}: fragment {fragment.name} takes no directives")
            if not any(_is_include(line) for line in fragment.body) and not compact(
                "\n".join(fragment.body)
            ):
                raise ValueError(f"{path}: fragment {fragment.name} is empty")
        included: set[str] = set()
        for name, query in queries.items():
            lines = self._expand(query.body, name, fragments, included, ())
            sql = compact("\n".join(lines).strip().rstrip(";"))
            if not sql:
                raise ValueError(f"{path}: query {name} is empty")
            # Package files only: the text is as literal as a constant in code.
            self.by_name[name] = Query(
                name, sql, " ".join(query.doc), query.generic, query.notifies
            )
        if unused := sorted(set(fragments) - included):
            raise ValueError(f"{path}: fragment {', '.join(unused)} is never included")

    def _expand(
        self,
        lines: list[str],
        where: str,
        fragments: dict[str, _Block],
        included: set[str],
        within: tuple[str, ...],
    ) -> list[str]:
        """``lines`` with each include line replaced by its fragment's lines, expanded."""
        out: list[str] = []
        for line in lines:
            if not _is_include(line):
                out.append(line)
                continue
            name = line.split(":", 1)[1].strip()
            if name not in fragments:
                raise ValueError(f"{self.path}: {where} includes an unknown fragment {name!r}")
            if name in within:
                raise ValueError(f"{self.path}: fragment {name} includes itself")
            included.add(name)
            body = fragments[name].body
            out += self._expand(body, where, fragments, included, (*within, name))
        return out

    @classmethod
    def beside(cls, module_file: str, filename: str = "queries.sql") -> Queries:
        return cls(Path(module_file).with_name(filename))

    def __getattr__(self, name: str) -> Query:
        try:
            return self.by_name[name]
        except KeyError:
            raise AttributeError(f"{self.path.name} has no query named {name!r}") from None
