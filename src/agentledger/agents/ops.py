"""Agent registry operations (I/O-free): register, heartbeat, get, list, remove."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from agentledger import validation as v
from agentledger.agents.records import AGENT_STATUSES, Agent
from agentledger.db.statements import Gen, Queries, Row, operation
from agentledger.errors import NotFound
from agentledger.records import from_row

Q = Queries.beside(__file__)
MAX_PAGE = 1000
# The heartbeat_timeout of an agent that keeps no heartbeat.
NEVER = "never"


def _name(value: object) -> str:
    return v.text("name", value, max_len=200)


def _agent(row: Row) -> Agent:
    return from_row(Agent, {**row, "status": row["shown_status"]})


@operation(idempotent=True)
def register(
    name: str,
    *,
    agent_type: str | None = None,
    domain: str | None = None,
    command: str | None = None,
    capabilities: Sequence[str] | None = None,
    config: Mapping[str, Any] | None = None,
    heartbeat_timeout: float | Literal["never"] | None = None,
) -> Gen[Agent]:
    """Register or update an agent (arguments left None keep their stored value).

    A new agent counts as alive from its registration (its first heartbeat); updating a
    registered agent is no sign of life and leaves its last heartbeat as it was, so an
    agent shown ``offline`` stays offline until it heartbeats.

    ``heartbeat_timeout`` is how many seconds without a heartbeat show the agent
    ``offline`` (60 for a new agent); ``"never"`` registers an agent that keeps no
    heartbeat, such as one that runs on a schedule: its status is the one it last
    reported, however long ago its last heartbeat or run was.
    """
    never = heartbeat_timeout == NEVER
    row = yield Q.upsert_agent.one(
        name=_name(name),
        agent_type=v.optional_text("agent_type", agent_type, max_len=200),
        domain=v.optional_text("domain", domain, max_len=200),
        command=v.optional_text("command", command, max_len=10_000),
        capabilities=None if capabilities is None else v.tags("capabilities", capabilities),
        config=None if config is None else v.json_object("config", config),
        heartbeat_timeout=None
        if heartbeat_timeout is None or never
        else v.number("heartbeat_timeout", heartbeat_timeout, low=0.001, high=86_400 * 30),
        no_heartbeat=never,
    )
    return _agent(row)


@operation(writes=False)
def get(name: str) -> Gen[Agent]:
    row = yield Q.get_agent.one(name=_name(name))
    if row is None:
        raise NotFound(f"agent {name!r} is not registered", field="name")
    return _agent(row)


@operation(writes=False)
def list_(
    *,
    status: str | None = None,
    agent_type: str | None = None,
    capability: str | None = None,
    after: str = "",
    limit: int = 100,
) -> Gen[list[Agent]]:
    rows = yield Q.list_agents.all(
        status=None if status is None else v.choice("status", status, AGENT_STATUSES),
        agent_type=v.optional_text("agent_type", agent_type, max_len=200),
        capability=v.optional_text("capability", capability, max_len=200),
        after=v.text("after", after, max_len=200, min_len=0),
        limit=v.integer("limit", limit, low=1, high=MAX_PAGE),
    )
    return [_agent(row) for row in rows]


@operation(idempotent=True)
def heartbeat(name: str, *, status: str | None = None, ran: bool = False) -> Gen[Agent]:
    """Note the agent is alive; ``status`` reports its state, ``ran`` stamps last_run_at."""
    row = yield Q.heartbeat_agent.one(
        name=_name(name),
        status=None if status is None else v.choice("status", status, AGENT_STATUSES),
        ran=v.flag("ran", ran),
    )
    if row is None:
        raise NotFound(f"agent {name!r} is not registered", field="name")
    return _agent(row)


@operation(idempotent=True)
def remove(name: str) -> Gen[bool]:
    """Remove an agent; False when it was not registered."""
    count = yield Q.delete_agent.rowcount(name=_name(name))
    return bool(count)
