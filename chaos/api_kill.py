"""The API process killed between commit and response: clients keep writing with their
own ids while the uvicorn process is SIGKILLed and restarted; a client that got no answer
retries the same request. Every write is stored once and every answer, first or retried,
names the stored original."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from rich.progress import track

from chaos.common import Result, console, free_port, own_server
from chaos.http import ForkedApi, tenant_with_keys

NAME = "API process killed mid-request"
METHOD = (
    "client threads POST events (event_id), decisions (id) and tasks (dedup_key) to the "
    "API process (what `agentledger serve` runs, forked from a process that has imported "
    "it) SIGKILLed at random moments and restarted on the same port (full run: 1,000 "
    "kills); unanswered requests are retried with the same body until a 2xx; then the "
    "table is compared with the answers"
)


@dataclass
class Sent:
    kind: str
    client_id: str
    answer: dict[str, Any] | None = None
    tries: int = 0


@dataclass
class Tally:
    sent: list[Sent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _one(http: httpx.Client, rng: random.Random, n: int) -> tuple[Sent, str, dict[str, Any]]:
    choice = rng.random()
    cid = str(uuid.uuid4())
    if choice < 0.5:
        body = {"stream": f"s-{rng.randrange(5)}", "type": "Wrote", "payload": {"n": n}}
        return Sent("event", cid), "/v1/events", {**body, "event_id": cid}
    if choice < 0.75:
        body = {"decision": f"d{n}", "decision_type": "chaos", "id": cid}
        return Sent("decision", cid), "/v1/decisions", body
    return Sent("task", cid), "/v1/queues/chaos/tasks", {"input": {"n": n}, "dedup_key": cid}


def _client(base: str, key: str, seed: int, stop: threading.Event, tally: Tally) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
        n = 0
        while not stop.is_set():
            n += 1
            sent, path, body = _one(http, rng, n)
            tally.sent.append(sent)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                sent.tries += 1
                try:
                    answer = http.post(path, json=body)
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                if answer.is_success:
                    sent.answer = answer.json()
                    break
                if answer.status_code < 500:
                    tally.errors.append(f"{path} -> {answer.status_code} {answer.text[:200]}")
                    break
                time.sleep(0.05)


def run(quick: bool) -> Result:
    cycles, clients = (4, 4) if quick else (1000, 8)
    result = Result(NAME, METHOD)
    rng = random.Random(3)
    tally = Tally()
    with own_server(durable=False) as own:
        api = ForkedApi(own.settings(), free_port())
        api.start()
        try:
            keys = tenant_with_keys(api.base)
            stop = threading.Event()
            threads = [
                threading.Thread(
                    target=_client, args=(api.base, keys["writer"], i, stop, tally), daemon=True
                )
                for i in range(clients)
            ]
            for thread in threads:
                thread.start()
            for _ in track(range(cycles), "API processes killed", console=console, disable=quick):
                time.sleep(rng.uniform(0.1, 0.5))
                api.kill9()
                result.faults += 1
                time.sleep(rng.uniform(0.0, 0.1))
                api.start()
            time.sleep(0.5)
            stop.set()
            for thread in threads:
                thread.join(120)
        finally:
            api.stop()
        with own.owner() as conn:
            events = {
                str(r[0]): (r[1], r[2])
                for r in conn.execute(
                    "SELECT event_id, position, version FROM agentledger.events "
                    "WHERE tenant_id = %s",
                    (keys["id"],),
                )
            }
            event_rows = conn.execute(
                "SELECT count(*) FROM agentledger.events WHERE tenant_id = %s", (keys["id"],)
            ).fetchone()
            decisions = [
                str(r[0])
                for r in conn.execute(
                    "SELECT id FROM agentledger.decisions WHERE tenant_id = %s", (keys["id"],)
                )
            ]
            tasks: dict[str, list[int]] = {}
            for dedup, tid in conn.execute(
                "SELECT dedup_key, id FROM agentledger.tasks WHERE tenant_id = %s",
                (keys["id"],),
            ):
                tasks.setdefault(dedup, []).append(tid)
    mismatched = 0
    retried_after_commit = 0
    for sent in tally.sent:
        if sent.answer is None:
            continue
        result.acknowledged += 1
        a = sent.answer
        if sent.kind == "event":
            stored = events.get(sent.client_id)
            if stored is None:
                result.lost += 1
            elif stored != (a["position"], a["version"]):
                mismatched += 1
            retried_after_commit += bool(a["already_appended"])
        elif sent.kind == "decision":
            result.lost += sent.client_id not in decisions
            mismatched += a["id"] != sent.client_id
        else:
            ids = tasks.get(sent.client_id, [])
            result.lost += not ids
            mismatched += bool(ids) and ids[0] != a["id"]
    result.operations = len(tally.sent)
    result.duplicated = (
        (event_rows[0] if event_rows else 0)
        - len(events)
        + len(decisions)
        - len(set(decisions))
        + sum(len(v) - 1 for v in tasks.values())
    )
    result.details = {
        "retried": sum(s.tries > 1 for s in tally.sent),
        "committed_then_killed_answered_on_retry": retried_after_commit,
        "answers_not_matching_stored": mismatched,
        "unanswered": sum(s.answer is None for s in tally.sent),
        "errors": tally.errors[:3],
    }
    return result.decide(
        f"{mismatched} answers differ from the stored write" if mismatched else "",
        "4xx answers" if tally.errors else "",
    )
