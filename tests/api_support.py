"""Shared pieces for the HTTP tests: a served app and tenants with keys of every role."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

ADMIN = "platform-admin-secret"


def tenant_with_keys(platform: httpx.Client) -> dict[str, Any]:
    tid = f"t-{uuid.uuid4().hex[:10]}"
    assert platform.post("/v1/tenants", json={"id": tid, "name": tid}).status_code == 201
    keys = {
        role: platform.post(f"/v1/tenants/{tid}/keys", json={"role": role}).json()["secret"]
        for role in ("admin", "writer", "reader")
    }
    return {"id": tid, "keys": keys}
