"""Memory, tasks and agents through HTTP: behaviour, roles and tenant isolation."""

from __future__ import annotations

import uuid

import httpx


def test_merge_upsert_never_overwrites_with_null(admin: httpx.Client) -> None:
    key = f"crm:{uuid.uuid4().hex[:6]}"
    first = admin.post(
        "/v1/memory/entities",
        json={
            "kind": "contact",
            "name": "John Smith",
            "key": key,
            "source": "crm",
            "attrs": {"company": "Acme", "phone": "555"},
            "tags": ["vip"],
        },
    ).json()
    second = admin.post(
        "/v1/memory/entities",
        json={
            "kind": "contact",
            "name": "John Smith",
            "key": key,
            "source": "crm",
            "attrs": {"phone": None, "title": "CFO"},
            "tags": ["board"],
        },
    ).json()
    assert second["id"] == first["id"]
    assert second["attrs"] == {"company": "Acme", "phone": "555", "title": "CFO"}
    assert sorted(second["tags"]) == ["board", "vip"]
    by_key = admin.get("/v1/memory/entities/by-key", params={"key": key, "source": "crm"})
    assert by_key.json()["id"] == first["id"]


def test_search_modes_and_graph(admin: httpx.Client, reader: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:6]
    batch = admin.post(
        "/v1/memory/entities/batch",
        json={
            "entities": [
                {
                    "kind": "contact",
                    "name": "John Smith",
                    "summary": "renewal owner",
                    "tags": [tag],
                    "by_name": True,
                },
                {
                    "kind": "account",
                    "name": "Acme Corporation",
                    "summary": "renewal due",
                    "tags": [tag],
                    "by_name": True,
                },
            ]
        },
    )
    assert batch.status_code == 200, batch.text
    ids = batch.json()["ids"]
    fuzzy = reader.post(
        "/v1/memory/search", json={"query": "Jon Smth", "mode": "fuzzy", "filter": {"tags": [tag]}}
    ).json()
    assert fuzzy[0]["entity"]["name"] == "John Smith"
    text = reader.post(
        "/v1/memory/search", json={"query": "renewal", "mode": "text", "filter": {"tags": [tag]}}
    ).json()
    assert {h["entity"]["name"] for h in text} == {"John Smith", "Acme Corporation"}
    hybrid = reader.post(
        "/v1/memory/search", json={"query": "Jon Smth", "filter": {"tags": [tag]}}
    ).json()
    assert hybrid[0]["entity"]["name"] == "John Smith"
    rel = admin.post(
        "/v1/memory/relationships", json={"from_id": ids[0], "to_id": ids[1], "type": "works_at"}
    )
    assert rel.status_code == 201
    near = reader.get(f"/v1/memory/entities/{ids[0]}/neighbours").json()
    assert [n["entity"]["name"] for n in near] == ["Acme Corporation"]
    stats = reader.get("/v1/memory/stats").json()
    assert stats["relationships"] >= 1 and stats["by_kind"]["contact"] >= 1
    assert reader.post("/v1/memory/entities", json={"kind": "x", "name": "y"}).status_code == 403


def test_typed_attribute_filters(admin: httpx.Client) -> None:
    tag = uuid.uuid4().hex[:6]
    for n, revenue in enumerate([900, 1500, 12000]):
        admin.post(
            "/v1/memory/entities",
            json={
                "kind": "deal",
                "name": f"Deal {tag} {n}",
                "attrs": {"revenue": revenue},
                "tags": [tag],
            },
        )
    hits = admin.post(
        "/v1/memory/search",
        json={
            "query": f"Deal {tag}",
            "mode": "fuzzy",
            "threshold": 0.1,
            "filter": {"tags": [tag], "where": [["revenue", ">", 1000]]},
        },
    ).json()
    # 12000 > 1000 numerically, though "12000" < "1000" as text
    assert sorted(h["entity"]["attrs"]["revenue"] for h in hits) == [1500, 12000]


def test_memory_isolation(admin: httpx.Client, intruder: httpx.Client) -> None:
    e = admin.post("/v1/memory/entities", json={"kind": "fact", "name": "secret"}).json()
    assert intruder.get(f"/v1/memory/entities/{e['id']}").status_code == 404
    assert intruder.delete(f"/v1/memory/entities/{e['id']}").status_code == 404
    other = intruder.post("/v1/memory/entities", json={"kind": "fact", "name": "mine"}).json()
    r = intruder.post(
        "/v1/memory/relationships", json={"from_id": other["id"], "to_id": e["id"], "type": "x"}
    )
    assert r.status_code == 404
    assert admin.get(f"/v1/memory/entities/{e['id']}").status_code == 200


def test_task_cycle_over_http(admin: httpx.Client, intruder: httpx.Client) -> None:
    queue = f"q{uuid.uuid4().hex[:6]}"
    ids = admin.post(
        f"/v1/queues/{queue}/tasks/batch", json={"tasks": [{"input": {"n": n}} for n in range(3)]}
    ).json()
    assert len(ids) == 3
    claimed = admin.post(f"/v1/queues/{queue}/claim", json={"limit": 2, "worker": "w1"}).json()
    assert len(claimed) == 2
    held = admin.post(
        "/v1/tasks/heartbeat",
        json={"claims": [{"id": t["id"], "token": t["claim_token"]} for t in claimed]},
    ).json()
    assert sorted(held) == sorted(t["id"] for t in claimed)
    # another tenant holding even the right token cannot touch the task: refused
    probe = intruder.post(
        "/v1/tasks/settle",
        json={
            "outcomes": [
                {"id": claimed[0]["id"], "token": claimed[0]["claim_token"], "action": "complete"}
            ]
        },
    )
    assert probe.json() == {"applied": {}, "refused": [claimed[0]["id"]]}
    settled = admin.post(
        "/v1/tasks/settle",
        json={
            "outcomes": [
                {
                    "id": t["id"],
                    "token": t["claim_token"],
                    "action": "complete",
                    "output": {"ok": 1},
                }
                for t in claimed
            ]
        },
    )
    assert settled.status_code == 200, settled.text
    assert set(settled.json()["applied"].values()) == {"completed"}
    stale = admin.post(
        "/v1/tasks/settle",
        json={
            "outcomes": [{"id": claimed[0]["id"], "token": str(uuid.uuid4()), "action": "complete"}]
        },
    )
    assert stale.json()["refused"] == [claimed[0]["id"]]  # a lost lease cannot complete
    stats = {s["queue"]: s for s in admin.get("/v1/tasks/stats", params={"queue": queue}).json()}
    assert stats[queue]["completed"] == 2 and stats[queue]["pending"] == 1
    assert intruder.get(f"/v1/tasks/{ids[2]}").status_code == 404


def test_agent_registry(admin: httpx.Client, reader: httpx.Client) -> None:
    name = f"agent-{uuid.uuid4().hex[:6]}"
    created = admin.put(
        f"/v1/agents/{name}", json={"agent_type": "researcher", "capabilities": ["search"]}
    )
    assert created.status_code == 200, created.text
    assert reader.put(f"/v1/agents/{name}", json={}).status_code == 403
    beat = admin.post(f"/v1/agents/{name}/heartbeat", json={"status": "busy"}).json()
    assert beat["status"] == "busy"
    listed = reader.get("/v1/agents", params={"capability": "search"}).json()["items"]
    assert name in [a["name"] for a in listed]
    weekly = admin.put(f"/v1/agents/{name}-weekly", json={"heartbeat_timeout": "never"})
    assert weekly.status_code == 200 and weekly.json()["heartbeat_timeout"] is None, weekly.text
    bad = admin.put(f"/v1/agents/{name}-weekly", json={"heartbeat_timeout": "always"})
    assert bad.status_code == 422 and "heartbeat_timeout" in bad.text, bad.text
