"""A tenant's embedding spaces and full-text search language over HTTP, and an entity's
vector in a space. Reading needs a reader key; declaring, dropping and choosing need an
admin key."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api.auth import AdminTenant, ReaderTenant
from agentledger.errors import NotFound
from agentledger.memory import EmbeddingSpace

router = APIRouter(prefix="/v1/memory", tags=["memory"])


class SpaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(examples=["openai-small"])
    dimensions: int = Field(examples=[1536])
    distance: Literal["cosine", "inner_product", "l2"] = "cosine"
    element: Literal["vector", "halfvec"] = Field(
        default="vector", description="vector: up to 2000 dimensions; halfvec: up to 4000."
    )
    model: str = Field(default="", examples=["text-embedding-3-small"])
    default: bool = Field(default=False, description="Make it the tenant's default space.")
    quantization: Literal["none", "binary"] = Field(
        default="none",
        description="binary: index the signs' bits (up to 16000 dimensions) and re-rank.",
    )
    rerank: int = Field(
        default=10, description="Binary: candidates taken per hit, re-ranked exactly (1-100)."
    )


class LanguageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: str | None = Field(
        examples=["german"],
        description="A text-search configuration of the server; null (with kind) clears "
        "the kind's, which then follows the tenant's.",
    )
    kind: str | None = Field(
        default=None, examples=["receta"], description="This entity kind's, not the tenant's."
    )


class Language(BaseModel):
    language: str
    kind: str | None = Field(default=None, description="The entity kind it is of (null: all).")
    pending: int = Field(description="Entities still indexed in another language.")
    batches: int = Field(description="Re-index tasks waiting or running.")


class Languages(BaseModel):
    language: str = Field(description="The tenant's.")
    kinds: dict[str, str] = Field(description="The kinds that have their own, by kind.")


@router.get("/spaces", response_model=list[EmbeddingSpace], summary="Embedding spaces")
async def spaces(tenant: ReaderTenant) -> object:
    return await tenant.memory.spaces()


@router.post("/spaces", status_code=201, response_model=EmbeddingSpace, summary="Declare a space")
async def declare_space(body: SpaceIn, tenant: AdminTenant) -> object:
    fields = body.model_dump()
    return await tenant.memory.declare_space(fields.pop("name"), **fields)


@router.put(
    "/spaces/{name}/default", response_model=EmbeddingSpace, summary="Make a space the default"
)
async def set_default_space(name: str, tenant: AdminTenant) -> object:
    return await tenant.memory.set_default_space(name)


@router.delete("/spaces/{name}", status_code=204, summary="Drop a space and its vectors")
async def drop_space(name: str, tenant: AdminTenant) -> None:
    if not await tenant.memory.drop_space(name):
        raise NotFound(f"no embedding space {name!r}", field="name")


@router.get(
    "/entities/{entity_id}/embedding",
    summary="An entity's vector in a space (null: none there)",
)
async def get_embedding(
    entity_id: UUID,
    tenant: ReaderTenant,
    space: str | None = None,
    user: str | None = None,
) -> list[float] | None:
    found = await tenant.memory.embedding(entity_id, space=space, user=user)
    if found is None or isinstance(found, list):
        return found
    values: list[float] = found.tolist()  # a numpy array: converted in one call
    return values


@router.get(
    "/language",
    response_model=Language,
    summary="Full-text search language (the tenant's or a kind's), and what its re-index has left",
)
async def language(tenant: ReaderTenant, kind: str | None = None) -> object:
    return await tenant.memory.language_status(kind=kind)


@router.put(
    "/language",
    response_model=Language,
    summary="Choose the text-search configuration of the tenant or of a kind (the re-index "
    "runs in the background)",
)
async def set_language(body: LanguageIn, tenant: AdminTenant) -> object:
    memory = tenant.memory
    await memory.set_language(body.language, kind=body.kind)
    return await memory.language_status(kind=body.kind)


@router.get(
    "/languages",
    response_model=Languages,
    summary="The tenant's full-text search language and the kinds that have their own",
)
async def languages(tenant: ReaderTenant) -> object:
    return await tenant.memory.languages()
