"""The agent registry over HTTP: register, list, read, heartbeat."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from agentledger.agents import Agent
from agentledger.api.auth import AdminTenant, ReaderTenant, WriterTenant
from agentledger.api.pagination import Limit, cursor_text, page
from agentledger.api.schemas import Page

router = APIRouter(prefix="/v1", tags=["agents"])


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_type: str | None = Field(default=None, examples=["researcher"])
    domain: str | None = None
    command: str | None = None
    capabilities: list[str] | None = Field(default=None, examples=[["search", "summarise"]])
    config: dict[str, Any] | None = None
    heartbeat_timeout: Annotated[float, Field(gt=0)] | Literal["never"] | None = Field(
        default=None, description='Seconds before a silent agent is offline; "never": no heartbeat'
    )


class AgentBeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["available", "busy", "offline", "error"] | None = None


@router.put("/agents/{name}", response_model=Agent, summary="Register or update an agent")
async def register_agent(name: str, body: AgentIn, tenant: AdminTenant) -> object:
    return await tenant.agents.register(name, **body.model_dump())


@router.get("/agents", response_model=Page[Agent], summary="The registry, by name")
async def list_agents(
    tenant: ReaderTenant,
    status: Literal["available", "busy", "offline", "error"] | None = None,
    agent_type: str | None = None,
    capability: str | None = None,
    cursor: str | None = None,
    limit: Limit = 100,
) -> object:
    items = await tenant.agents.list(
        status=status,
        agent_type=agent_type,
        capability=capability,
        after=cursor_text(cursor, "after") or "",
        limit=limit,
    )
    return page(items, limit, lambda last: {"after": last.name})


@router.get("/agents/{name}", response_model=Agent)
async def get_agent(name: str, tenant: ReaderTenant) -> object:
    return await tenant.agents.get(name)


@router.post(
    "/agents/{name}/heartbeat",
    response_model=Agent,
    summary="The agent is alive (optionally with a status)",
)
async def agent_heartbeat(
    name: str, tenant: WriterTenant, body: AgentBeatIn | None = None
) -> object:
    return await tenant.agents.heartbeat(name, status=body.status if body else None)
