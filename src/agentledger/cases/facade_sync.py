# Generated from src/agentledger/cases/facade_async.py by scripts/async_to_sync.py.
# Edit the source and rerun the script; CI fails when this file is stale.
"""The bound tenant's cases: async façade."""

from __future__ import annotations

from agentledger.cases import kinds as kind_ops, listing, ops, relations, timeline as timelines
from agentledger.db.facade_sync import Facade
from agentledger.db.forward import forward_sync


class Cases(Facade):
    """System-of-record cases (exceptions, bottlenecks...) of kinds the tenant defines,
    each with a lifecycle the database enforces and a timeline of events (the stream
    ``case:<id>``) that every change appends to in its own transaction."""

    define_kind = forward_sync(kind_ops.define_kind)
    kinds = forward_sync(kind_ops.kinds)
    kind = forward_sync(kind_ops.kind)

    create = forward_sync(ops.create, new_id="id")
    upsert = forward_sync(ops.upsert, new_id="id")
    get = forward_sync(ops.get)
    get_by_ref = forward_sync(ops.get_by_ref)
    update = forward_sync(ops.update)
    transition = forward_sync(ops.transition)
    assign = forward_sync(ops.assign)
    comment = forward_sync(timelines.comment, new_id="id")
    append_event = forward_sync(timelines.append_event, new_id="event_id")
    timeline = forward_sync(timelines.timeline)
    detail = forward_sync(timelines.detail)
    delete = forward_sync(ops.delete)

    link_entity = forward_sync(relations.link_entity)
    unlink_entity = forward_sync(relations.unlink_entity)
    linked_entities = forward_sync(relations.linked_entities)
    linked_to = forward_sync(relations.linked_to)
    block = forward_sync(relations.block)
    unblock = forward_sync(relations.unblock)
    blocking = forward_sync(relations.blocking)
    blocked_by = forward_sync(relations.blocked_by)

    find_sla_breaches = forward_sync(listing.find_sla_breaches)
    find_by_entity = forward_sync(listing.find_by_entity)
    similar = forward_sync(listing.similar)
    aggregates = forward_sync(listing.aggregates)
    list = forward_sync(listing.list_)
