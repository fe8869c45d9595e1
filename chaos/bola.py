"""Tenant isolation at the API (broken object-level authorisation): tenant B replays tenant
A's requests, with A's ids and names, on every route of the OpenAPI document that takes a
path id, and reads every list and search; no answer may carry A's data, and no write
against A's ids may succeed."""

from __future__ import annotations

import itertools
import random
import uuid
from typing import Any

import httpx

from agentledger import Ledger
from chaos.common import Result, own_server
from chaos.http import ADMIN, api_server, tenant_with_keys

NAME = "Tenant isolation at the API (BOLA)"
METHOD = (
    "tenant A seeded in every module (events, memory, decisions, runs, alerts, tasks, "
    "agents, sessions with chunks and artifacts, catalog) with a secret in each record's content; "
    "tenant B's keys (admin, writer, reader) replay every OpenAPI route with a path id "
    "filled with A's ids and names (all methods, a minimal body), and every list with A's "
    "names as filters; a leak is a response containing A's secret, tenant id or any of A's "
    "ids that the request did not carry, or a 2xx write on A's object id"
)
WRITE = {"post", "put", "patch", "delete"}
# Path parameters whose value is an action or a version, not an object of A.
ACTIONS = {
    "action": ["suspend", "activate", "ack", "resolve", "cancel", "redrive", "discard"],
    "version": ["1"],
}


def _seed(ledger: Ledger, tenant: str, marker: str, inner: str) -> dict[str, list[str]]:
    """A's records, named after ``marker`` and carrying ``inner`` in their content (never in
    an id or a name, so an answer that echoes the request does not count); their ids by the
    path parameter they fill."""
    s = ledger.tenant(tenant)
    appended = s.events.append(f"stream-{marker}", "Seeded", {"m": inner})
    entity = s.memory.upsert("thing", f"name-{marker}", key=f"key-{marker}", attrs={"m": inner})
    other = s.memory.upsert("thing", f"other-{marker}", key=f"k2-{marker}")
    s.memory.relate(entity.id, other.id, "knows")
    decision = s.decisions.record(
        f"decide-{marker}", decision_type=f"dt-{marker}", data={"m": inner}
    )
    run = s.runs.start(f"trigger-{marker}", content=inner)
    alert = s.alerts.create(1, f"alert-{marker}", body=inner)
    task = s.tasks.enqueue(f"queue-{marker}", {"m": inner})
    s.agents.register(f"agent-{marker}", config={"m": inner})
    session = s.sessions.create(f"session-{marker}", summary=inner)
    chunk = s.sessions.add_chunk(session.id, f"chunk {inner}")
    s.sessions.save_artifact(session.id, f"art-{marker}", inner, artifact_type="report")
    s.catalog.register_schema(f"dt{marker}", {"type": "object"})
    s.catalog.create_version(f"dt{marker}", f"doc-{marker}", {"m": inner})
    keys = s.keys.list()
    return {
        "event_id": [str(appended.event_id)],
        "stream": [f"stream-{marker}", f"session:{session.id}"],
        "entity_id": [str(entity.id), str(other.id)],
        "decision_id": [str(decision.id)],
        "run_id": [str(run.id)],
        "alert_id": [str(alert.id)],
        "task_id": [str(task.id)],
        "queue": [f"queue-{marker}"],
        "name": [f"agent-{marker}", f"art-{marker}", f"doc-{marker}"],
        "session_id": [str(session.id)],
        "chunk_id": [str(chunk.id)],
        "doc_type": [f"dt{marker}"],
        "key_id": [str(k.id) for k in keys],
        "tenant_id": [tenant],
    }


def _requests(
    doc: dict[str, Any], ids: dict[str, list[str]]
) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, query) for every route: path ids filled with A's values, lists with
    A's names as filters."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for path, operations in doc["paths"].items():
        if path.endswith("/stream") or not path.startswith("/v1/"):
            continue  # event streams never end; health and metrics hold no tenant data
        for method, op in operations.items():
            params = op.get("parameters", [])
            names = [p["name"] for p in params if p["in"] == "path"]
            query = {
                p["name"]: ids[p["name"]][0]
                for p in params
                if p["in"] == "query" and p["name"] in ids
            }
            if not names:
                if method == "get":
                    out.append((method, path, {}))
                    if query:
                        out.append((method, path, query))
                continue
            choices = [ids.get(n) or ACTIONS.get(n) or [f"x-{n}"] for n in names]
            for combo in itertools.product(*choices):
                url = path
                for n, value in zip(names, combo, strict=True):
                    url = url.replace("{" + n + "}", value)
                out.append((method, url, query))
    return out


def run(quick: bool) -> Result:
    target = 300 if quick else 10_000
    result = Result(NAME, METHOD)
    leaks: list[str] = []
    with own_server(durable=False) as own:
        settings = own.settings()
        marker, inner = uuid.uuid4().hex, uuid.uuid4().hex
        with api_server(settings) as base:
            a = tenant_with_keys(base)
            b = tenant_with_keys(base)
            with Ledger(settings, migrate=False) as ledger:
                ids = _seed(ledger, a["id"], marker, inner)
            # Names (streams, queues, agents, documents) are per tenant: B may own the same
            # name. Objects are A's by id.
            objects = {v for n, vs in ids.items() if n.endswith("_id") for v in vs}
            secrets = {inner, a["id"], *(v for v in objects if len(v) >= 20)}
            # The detector sees A's data when A asks: a leak would show.
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {a['reader']}"}, timeout=30
            ) as mine:
                seen = mine.get(f"/v1/events/{ids['event_id'][0]}").text
                sees = inner in seen and mine.get("/v1/agents").text.count(inner) == 1
            doc = httpx.get(f"{base}/openapi.json").json()
            plan = _requests(doc, ids)
            rng = random.Random(5)
            clients = [
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {b[r]}"}, timeout=30)
                for r in ("admin", "writer", "reader")
            ]
            try:
                sent = 0
                while sent < target:
                    for method, url, query in plan:
                        http = clients[sent % 3]
                        body: dict[str, Any] | None = {} if method in WRITE else None
                        answer = http.request(method, url, params=query, json=body)
                        sent += 1
                        text = answer.text
                        asked = f"{url} {query}"
                        exposed = [s for s in secrets if s in text and s not in asked]
                        wrote = (
                            method in WRITE
                            and answer.is_success
                            and any(v in url.split("/") for v in objects)
                        )
                        if exposed or wrote:
                            leaks.append(
                                f"{method.upper()} {url} -> {answer.status_code}: "
                                + ", ".join(_where(text, s) for s in exposed)
                            )
                        if answer.status_code >= 500:
                            result.details.setdefault("server_errors", []).append(
                                f"{method.upper()} {url} -> {answer.status_code}"
                            )
                    rng.shuffle(plan)
            finally:
                for http in clients:
                    http.close()
            # A's data is intact after B's writes.
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {a['reader']}"}, timeout=30
            ) as mine:
                intact = mine.get(f"/v1/events/{ids['event_id'][0]}").status_code == 200
                intact &= mine.get(f"/v1/tasks/{ids['task_id'][0]}").json()["status"] == "pending"
                intact &= mine.get(f"/v1/sessions/{ids['session_id'][0]}").status_code == 200
            _ = ADMIN
    result.operations = sent
    result.faults = len(plan)  # distinct forged requests
    result.leaked = len(leaks)
    result.details.update({"routes_replayed": len(plan), "leaks": sorted(set(leaks))[:10]})
    errors = result.details.get("server_errors", [])
    return result.decide(
        "" if intact else "A's data changed",
        "" if sees else "the detector does not see A's data even for A",
        f"{len(errors)} 5xx answers" if errors else "",
    )


def _where(text: str, secret: str) -> str:
    """The secret in its context in the answer, for the report."""
    at = text.find(secret)
    return text[max(0, at - 60) : at + len(secret) + 20]
