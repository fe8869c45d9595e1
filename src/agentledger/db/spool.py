"""The local spool: writes accepted while PostgreSQL is down, replayed in order later.

A journal of JSON lines (fsync'd before the caller hears back) and a log of the entries
already applied. Replay is safe to interrupt at any point: an entry applied but not yet
marked is applied again, which spoolable operations tolerate (client-side ids make them
idempotent), so every entry lands exactly once.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import fcntl
import importlib
import inspect
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentledger.db.binding import QUERIES, Binding
from agentledger.db.statements import Gen, Op, operation
from agentledger.errors import InvalidInput, NotFound

# A replay imports the operation an entry names; the library's own always qualify.
LIBRARY_MODULES = "agentledger."
log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class SpoolEntry:
    id: str
    tenant: str | None
    op: str
    args: list[Any]
    kwargs: dict[str, Any]
    at: str


@operation(writes=False, standby=False)
def tenant_created(tenant: str | None) -> Gen[dt.datetime | None]:
    """When the tenant of that id was created (None: there is none, or the platform)."""
    if tenant is None:
        return None
    created: dt.datetime | None = yield QUERIES.tenant_created.scalar(tenant=tenant)
    return created


def check_tenant_life(entry: SpoolEntry, created: dt.datetime | None) -> None:
    """NotFound when the entry's tenant was created after the write was accepted: the
    write was for an earlier tenant of that id, purged since, and never reaches the new one
    (a tenant that does not exist is refused by the binding itself)."""
    try:
        accepted = dt.datetime.fromisoformat(entry.at)
    except ValueError:
        return  # a damaged time: the operation's own checks decide
    if created is not None and accepted.tzinfo is not None and created > accepted:
        raise NotFound(
            f"spool entry {entry.id} was accepted at {entry.at} for tenant {entry.tenant!r}, "
            f"which was created since (at {created.isoformat()}): that write was for an "
            "earlier tenant of that id",
            field="tenant_id",
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class SpoolStatus:
    directory: Path
    pending: int
    dead: int
    oldest: str | None


class Spool:
    """One spool directory, shared safely by the threads and processes that use it.

    ``replay_modules`` are further module prefixes (``"myapp."``) whose operations a replay
    may import, for applications that define spoolable operations of their own.
    """

    def __init__(self, directory: Path, *, replay_modules: Iterable[str] = ()) -> None:
        self.replay_modules = (LIBRARY_MODULES, *replay_modules)
        self.directory = Path(directory).expanduser()
        self.journal = self.directory / "journal.jsonl"
        self.done = self.directory / "done.log"
        self.dead = self.directory / "dead.jsonl"

    # -- writing -----------------------------------------------------------------------
    def append(self, binding: Binding, op: Op[Any]) -> str:
        """Durably record ``op`` for ``binding``; returns the entry id. An operation that
        takes ``at`` (the time it dates its write by) and was given none is given the time
        it was accepted, so that its replay dates it then, not when the database is back."""
        if not op.spoolable:
            raise InvalidInput(f"{op.name} cannot be spooled", field="op")
        entry_id = uuid.uuid4().hex
        accepted = dt.datetime.now(dt.UTC)
        kwargs = dict(op.kwargs)
        signature = inspect.signature(op.fn)
        given = signature.bind_partial(*op.args, **kwargs).arguments
        if "at" in signature.parameters and given.get("at") is None:
            kwargs["at"] = accepted
        line = json.dumps(
            {
                "id": entry_id,
                "tenant": binding.tenant,
                "op": f"{op.fn.__module__}:{op.fn.__name__}",
                "args": _encode(list(op.args)),
                "kwargs": _encode(kwargs),
                "at": accepted.isoformat(),
            },
            separators=(",", ":"),
        )
        with self._lock("append"):
            _append_durably(self.journal, line)
        return entry_id

    def has_pending(self) -> bool:
        """Cheap: a non-empty journal (it is emptied once fully replayed)."""
        try:
            return self.journal.stat().st_size > 0
        except FileNotFoundError:
            return False

    def pending(self) -> list[SpoolEntry]:
        done = self._done_ids()
        return [e for e in self._entries(self.journal) if e.id not in done]

    def mark_done(self, entry_id: str) -> None:
        _append_durably(self.done, entry_id)

    def quarantine(self, entry: SpoolEntry, error: str) -> None:
        """Set aside an entry the database refused (not an outage), with the reason."""
        record = {**_entry_dict(entry), "error": error}
        _append_durably(self.dead, json.dumps(record, separators=(",", ":")))
        self.mark_done(entry.id)

    def compact(self) -> None:
        """Empty the journal once every entry in it has been applied."""
        with self._lock("append"):
            done = self._done_ids()
            if all(e.id in done for e in self._entries(self.journal)):
                for path in (self.journal, self.done):
                    with contextlib.suppress(FileNotFoundError):
                        os.truncate(path, 0)

    def status(self) -> SpoolStatus:
        pending = self.pending()
        return SpoolStatus(
            directory=self.directory,
            pending=len(pending),
            dead=sum(1 for _ in self._lines(self.dead)),
            oldest=pending[0].at if pending else None,
        )

    # -- replaying ---------------------------------------------------------------------
    @contextlib.contextmanager
    def replaying(self) -> Iterator[bool]:
        """Hold the replay lock if no one else does; yields whether we got it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "replay.lock").open("a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def decode(self, entry: SpoolEntry) -> tuple[Binding, Op[Any]]:
        """The binding and the operation an entry recorded; InvalidInput when the operation
        is not in a module this spool may replay from (``replay_modules``), or cannot be
        made from the entry (renamed or removed since, its arguments changed), so that a
        replay sets the entry aside instead of stopping at it."""
        module, _, name = entry.op.partition(":")
        if not module.startswith(self.replay_modules):
            raise InvalidInput(f"spool entry {entry.id} names a foreign operation {entry.op}")
        try:
            factory = getattr(importlib.import_module(module), name)
            op: Op[Any] = factory(*_decode(entry.args), **_decode(entry.kwargs))
            inspect.signature(op.fn).bind(*op.args, **op.kwargs)  # its own checks run later
        except (ImportError, AttributeError, TypeError, ValueError, ArithmeticError) as exc:
            # ArithmeticError: decimal's InvalidOperation, a damaged "$decimal"
            raise InvalidInput(
                f"spool entry {entry.id} cannot be read back as {entry.op}: {exc}"
            ) from exc
        return Binding(entry.tenant), op

    # -- internals ---------------------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self, name: str) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / f"{name}.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _done_ids(self) -> set[str]:
        return set(self._lines(self.done))

    def _entries(self, path: Path) -> Iterator[SpoolEntry]:
        for line in self._lines(path):
            try:
                raw = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash mid-write: never acknowledged
            if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                log.warning("spool %s: skipped a line that names no entry", path)
                continue
            # A damaged entry is still one: decode refuses it and a replay sets it aside.
            yield SpoolEntry(
                id=raw["id"],
                tenant=str(raw.get("tenant", "")),
                op=str(raw.get("op", "")),
                args=raw.get("args", []),
                kwargs=raw.get("kwargs", {}),
                at=str(raw.get("at", "")),
            )

    @staticmethod
    def _lines(path: Path) -> Iterator[str]:
        try:
            with path.open() as fh:
                for line in fh:
                    if line.endswith("\n") and line.strip():
                        yield line.rstrip("\n")
        except FileNotFoundError:
            return


def _entry_dict(entry: SpoolEntry) -> dict[str, Any]:
    return {k: getattr(entry, k) for k in ("id", "tenant", "op", "args", "kwargs", "at")}


def _append_durably(path: Path, line: str) -> None:
    """Append ``line`` and flush it to disk. A last line torn by a crash mid-write is ended
    first, so that it never swallows the line written after it."""
    new = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(fd).st_size
        torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        data = memoryview((("\n" if torn else "") + line + "\n").encode())
        while data:  # a write may be short
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:  # make the new directory entry durable too
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _encode(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        encoded = {str(k): _encode(v) for k, v in value.items()}
        if len(encoded) == 1 and next(iter(encoded)) in _TAGS:
            return {OBJECT: encoded}  # the caller's own object that reads as a tag
        return encoded
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise InvalidInput(f"an argument of type {type(value).__name__} cannot be spooled")


_DECODERS: dict[str, Any] = {
    "$uuid": uuid.UUID,
    "$datetime": dt.datetime.fromisoformat,
    "$date": dt.date.fromisoformat,
    "$decimal": decimal.Decimal,
    "$bytes": base64.b64decode,
}
# An object of one key that is a tag (a payload's {"$date": ...}) is journalled inside
# this one, and read back as it was, not as the value the tag stands for.
OBJECT = "$object"
_TAGS = frozenset((*_DECODERS, OBJECT))


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == OBJECT:
                return {k: _decode(v) for k, v in inner.items()}
            if key in _DECODERS:
                return _DECODERS[key](inner)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value
