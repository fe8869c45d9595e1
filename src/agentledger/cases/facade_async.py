"""The bound tenant's cases: async façade."""

from __future__ import annotations

from agentledger.cases import kinds as kind_ops, listing, ops, relations, timeline as timelines
from agentledger.db.facade_async import AsyncFacade
from agentledger.db.forward import forward_async


class AsyncCases(AsyncFacade):
    """System-of-record cases (exceptions, bottlenecks...) of kinds the tenant defines,
    each with a lifecycle the database enforces and a timeline of events (the stream
    ``case:<id>``) that every change appends to in its own transaction."""

    define_kind = forward_async(kind_ops.define_kind)
    kinds = forward_async(kind_ops.kinds)
    kind = forward_async(kind_ops.kind)

    create = forward_async(ops.create, new_id="id")
    upsert = forward_async(ops.upsert, new_id="id")
    get = forward_async(ops.get)
    get_by_ref = forward_async(ops.get_by_ref)
    update = forward_async(ops.update)
    transition = forward_async(ops.transition)
    assign = forward_async(ops.assign)
    comment = forward_async(timelines.comment, new_id="id")
    append_event = forward_async(timelines.append_event, new_id="event_id")
    timeline = forward_async(timelines.timeline)
    detail = forward_async(timelines.detail)
    delete = forward_async(ops.delete)

    link_entity = forward_async(relations.link_entity)
    unlink_entity = forward_async(relations.unlink_entity)
    linked_entities = forward_async(relations.linked_entities)
    linked_to = forward_async(relations.linked_to)
    block = forward_async(relations.block)
    unblock = forward_async(relations.unblock)
    blocking = forward_async(relations.blocking)
    blocked_by = forward_async(relations.blocked_by)

    find_sla_breaches = forward_async(listing.find_sla_breaches)
    find_by_entity = forward_async(listing.find_by_entity)
    similar = forward_async(listing.similar)
    aggregates = forward_async(listing.aggregates)
    list = forward_async(listing.list_)
