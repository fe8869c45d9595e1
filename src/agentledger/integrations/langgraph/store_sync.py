# Generated from src/agentledger/integrations/langgraph/store_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""LangGraph store operations run on the bound tenant's memory and expiry modules (the sync
twin, ``store_sync.py``, is generated from this file)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

from langgraph.store.base import (
    GetOp,
    Item,
    ListNamespacesOp,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    validate_op_namespace,
)

from agentledger import validation as v
from agentledger.errors import InvalidInput, TenantInactive
from agentledger.expiry import Found
from agentledger.expiry.ops import ttl_minutes
from agentledger.integrations.langgraph import items
from agentledger.ledger_sync import TenantScope
from agentledger.memory.embedder import Embedder
from agentledger.memory.filters import MAX_LIMIT, Filter
from agentledger.memory.ops import MAX_ATTRS_BYTES
from agentledger.memory.records import NewEntity

# Sources read per page while listing namespaces.
SOURCES_PAGE = 1000
# memory's limit on a summary, which holds the text an item was embedded from.
MAX_SUMMARY = 100_000


class StoreCore:
    """A batch of LangGraph store operations, each on memory: reads in order, then the
    batch's writes (the last write of each item wins), as LangGraph's stores apply them.

    Reads go through the expiry module, which leaves out items whose TTL has run out; the
    TTLs of the items a batch read with ``refresh_ttl`` restart in one statement after its
    reads, and puts with a ``ttl`` set theirs after the batch's upsert.

    Each put's value (a JSON object, as memory's attrs take it) and TTL are checked before
    anything is read, embedded or written: bad ones are InvalidInput naming ``attrs...`` or
    ``ttl``, and the batch does nothing."""

    def __init__(
        self,
        tenant: TenantScope,
        *,
        embedder: Embedder | None,
        fields: Sequence[str],
        kind: str,
        user: str | None,
    ) -> None:
        self._tenant = tenant
        self._memory = tenant.memory
        self._expiry = tenant.expiry
        self._embedder = embedder
        self._fields = items.paths("fields", fields)
        self._kind = kind
        self._user = user
        self._scope = "tenant" if user is None else "own"

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        todo = list(ops)
        for op in todo:
            validate_op_namespace(op)
            if isinstance(op, PutOp) and op.value is not None:
                # LangGraph's index text (json.dumps) would choke on a non-JSON value.
                v.json_object("attrs", op.value, max_bytes=MAX_ATTRS_BYTES)
                if op.index is not None and op.index is not False:
                    items.paths("index", op.index)
                if op.ttl is not None:
                    ttl_minutes(op.ttl)
        results: list[Result] = []
        writes: dict[tuple[tuple[str, ...], str], PutOp] = {}
        refresh: list[Found] = []
        for op in todo:
            if isinstance(op, GetOp):
                results.append(self._get(op, refresh))
            elif isinstance(op, SearchOp):
                results.append(self._search(op, refresh))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            elif isinstance(op, PutOp):
                writes[(tuple(op.namespace), op.key)] = op
                results.append(None)
            else:
                raise InvalidInput(f"unknown store operation {type(op).__name__}", field="ops")
        expiring = {f.entity.id for f in refresh if f.ttl_minutes is not None}
        if expiring:
            # A suspended tenant reads but does not write: its TTLs stand still, its reads
            # go on (and nothing sweeps its items meanwhile).
            with contextlib.suppress(TenantInactive):
                self._expiry.refresh(sorted(expiring))
        if writes:
            self._write(list(writes.values()))
        return results

    def _get(self, op: GetOp, refresh: list[Found]) -> Item | None:
        found = self._expiry.get_by_key(op.key, source=items.source(op.namespace), user=self._user)
        if found is None:
            return None
        if op.refresh_ttl:
            refresh.append(found)
        return items.item(found.entity)

    def _search(self, op: SearchOp, refresh: list[Found]) -> list[SearchItem]:
        if op.limit < 0 or op.offset < 0:
            raise InvalidInput("limit and offset must not be negative", field="limit")
        if op.limit == 0:
            return []
        size = op.offset + op.limit
        if size > MAX_LIMIT:
            raise InvalidInput(
                f"offset + limit is {size}; a search reads at most {MAX_LIMIT}", field="limit"
            )
        where, contained = items.conditions(op.filter)
        scope = Filter(
            user=self._user,
            scope=self._scope,
            kind=self._kind,
            tags=[items.source(op.namespace_prefix)] if op.namespace_prefix else None,
            attrs=contained or None,
            where=where or None,
        )
        if op.query and self._embedder is not None:
            (vector,) = self._embedder.embed([op.query])
            found = self._expiry.search_vector(vector, filter=scope, limit=size)
        else:
            found = self._expiry.list(scope, limit=size)
        page = found[op.offset :]
        if op.refresh_ttl:
            refresh.extend(page)
        return [items.search_item(f.entity, f.score) for f in page]

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        """Every namespace under the conditions' literal prefix is read (a page of sources
        at a time, skipping the descendants of a namespace cut to ``max_depth``), then the
        matching ones are cut, sorted as tuples and paged."""
        if op.limit < 0 or op.offset < 0:
            raise InvalidInput("limit and offset must not be negative", field="limit")
        conditions = op.match_conditions or ()
        start = items.SOURCE_PREFIX + ".".join(items.literal_prefix(conditions))
        found: set[tuple[str, ...]] = set()
        after: str | None = None
        while True:
            page = self._expiry.sources(
                start,
                kind=self._kind,
                user=self._user,
                scope=self._scope,
                after=after,
                limit=SOURCES_PAGE,
            )
            skip = ""
            for text in page:
                ns = items.namespace(text)
                if not all(items.matches(c, ns) for c in conditions):
                    continue
                if op.max_depth is not None and len(ns) > op.max_depth:
                    ns = ns[: op.max_depth]
                    skip = items.source(ns) + items.PAST_DESCENDANTS
                found.add(ns)
            if len(page) < SOURCES_PAGE:
                break
            after = max(page[-1], skip)
        return sorted(found)[op.offset : op.offset + op.limit]

    def _write(self, writes: list[PutOp]) -> None:
        """Values replace the stored ones whole, in one statement; when some come with a TTL,
        the TTLs are set in the same transaction, so an item never outlives a failed put.
        Deletes go one by one."""
        puts = [w for w in writes if w.value is not None]
        texts = [
            items.index_text(w.value, self._fields if w.index is None else w.index)
            if w.value is not None and w.index is not False and self._embedder is not None
            else ""
            for w in puts
        ]
        wanted = [i for i, text in enumerate(texts) if text]
        vectors: list[list[float] | None] = [None] * len(puts)
        if wanted and self._embedder is not None:
            embedded = self._embedder.embed([texts[i] for i in wanted])
            for i, vector in zip(wanted, embedded, strict=True):
                vectors[i] = vector
        if puts:
            entities = [
                NewEntity(
                    kind=self._kind,
                    name=w.key if w.key.strip() else "(blank key)",
                    key=w.key,
                    source=items.source(w.namespace),
                    summary=text[:MAX_SUMMARY],
                    attrs=dict(w.value or {}),
                    tags=items.prefix_tags(w.namespace),
                    user_id=self._user,
                    embedding=vector,
                )
                for w, text, vector in zip(puts, texts, vectors, strict=True)
            ]
            timed = [(i, w.ttl) for i, w in enumerate(puts) if w.ttl is not None]
            if timed:
                with self._tenant.transaction() as tx:
                    upserted = tx.memory.upsert_many(entities, merge="replace")
                    tx.expiry.set_ttls([upserted.ids[i] for i, _ in timed], [t for _, t in timed])
            else:
                self._memory.upsert_many(entities, merge="replace")
        for w in writes:
            if w.value is None:
                self._memory.delete_by_key(w.key, source=items.source(w.namespace), user=self._user)
