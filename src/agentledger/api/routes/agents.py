"""The agent registry over HTTP: register, list, read, heartbeat."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from agentledger.agents import Agent
from agentledger.api.auth import Admin, Reader, Writer, scope
from agentledger.api.pagination import Limit

router = APIRouter(prefix="/v1")


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


@router.put(
    "/agents/{name}", response_model=Agent, tags=["agents"], summary="Register or update an agent"
)
async def register_agent(name: str, body: AgentIn, request: Request, who: Admin) -> object:
    return await scope(request, who).agents.register(name, **body.model_dump())


@router.get("/agents", response_model=list[Agent], tags=["agents"], summary="The registry")
async def list_agents(
    request: Request,
    who: Reader,
    status: Literal["available", "busy", "offline", "error"] | None = None,
    agent_type: str | None = None,
    capability: str | None = None,
    limit: Limit = 100,
) -> object:
    return await scope(request, who).agents.list(
        status=status, agent_type=agent_type, capability=capability, limit=limit
    )


@router.get("/agents/{name}", response_model=Agent, tags=["agents"])
async def get_agent(name: str, request: Request, who: Reader) -> object:
    return await scope(request, who).agents.get(name)


@router.post(
    "/agents/{name}/heartbeat",
    response_model=Agent,
    tags=["agents"],
    summary="The agent is alive (optionally with a status)",
)
async def agent_heartbeat(
    name: str, request: Request, who: Writer, body: AgentBeatIn | None = None
) -> object:
    return await scope(request, who).agents.heartbeat(name, status=body.status if body else None)
