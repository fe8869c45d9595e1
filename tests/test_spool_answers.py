"""What a spooled write tells its caller, with the server really stopped: ``Spooled`` names
the record's id (both faces), ``agentledger serve`` answers 202 naming the spool entry and
the record (and lists the 202 in its OpenAPI document), and a key the process verified
before keeps spooling for the whole outage, not just while its cache entry is fresh."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentledger import Ledger, Settings, Spooled
from agentledger.api import create_app
from agentledger.db import migrate
from agentledger.db.embedded import EmbeddedServer
from agentledger.web import auth
from agentledger.web.auth import KeyCache, Principal
from tests.conftest import server_dir
from tests.faces import opened
from tests.http_server import client, serve

pytestmark = pytest.mark.slow
ADMIN = "platform-admin-key-for-spool-answers"
# The routes whose operations are spoolable (runs.start / finish, decisions.record /
# record_feedback, alerts.raise_, events.append_fields, memory.upsert_keyed).
SPOOLABLE_ROUTES = [
    "/v1/events",
    "/v1/runs",
    "/v1/runs/{run_id}/finish",
    "/v1/decisions",
    "/v1/decisions/{decision_id}/feedback",
    "/v1/alerts",
    "/v1/memory/entities",
]


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    """A server of our own, so stopping it does not disturb the rest of the suite."""
    srv = EmbeddedServer(server_dir())
    srv.start()
    migrate.upgrade(srv.url())
    yield srv
    srv.stop(mode="immediate")
    shutil.rmtree(srv.data_dir, ignore_errors=True)


def _settings(server: EmbeddedServer, spool: Path, **kw: Any) -> Settings:
    return Settings.build(
        database_url=server.url(),
        data_dir=spool.parent,
        spool_dir=spool,
        pool_timeout=0.5,
        connect_timeout=1,
        retry_attempts=2,
        retry_backoff=0.05,
        **kw,
    )


def _spooled(call: Any) -> Spooled:
    with pytest.raises(Spooled) as kept:
        call()
    return kept.value


@pytest.mark.parametrize("face", ["sync", "async"])
def test_spooled_names_the_id_of_the_record_it_keeps(
    server: EmbeddedServer, tmp_path: Path, face: str, aio: asyncio.Runner
) -> None:
    with opened(face, _settings(server, tmp_path / "spool"), aio) as ledger:
        scope = ledger.tenant(ledger.tenants.create(f"n-{uuid.uuid4().hex[:8]}").id)
        given = uuid.uuid4()
        server.stop(mode="immediate")
        try:
            run = _spooled(lambda: scope.runs.start("email"))
            decision = _spooled(lambda: scope.decisions.record("d", decision_type="x"))
            alert = _spooled(lambda: scope.alerts.create(2, "disk", id=given))
            event = _spooled(lambda: scope.events.append("s", "T", {}))
            kept = _spooled(lambda: scope.memory.upsert("contact", "Ann", key="crm-1"))
        finally:
            server.start()
        run_id, decision_id = run.record_id, decision.record_id
        assert isinstance(run_id, uuid.UUID) and isinstance(decision_id, uuid.UUID)
        assert run_id != decision_id
        assert alert.record_id == given  # the id given is the one named
        event_id = event.record_id
        assert isinstance(event_id, uuid.UUID)
        assert kept.record_id is None  # keyed by its natural key: no id to name
        for exc in (run, decision, alert, event):
            assert exc.detail["record_id"] == exc.record_id
            assert exc.entry_id is not None and exc.detail["entry_id"] == exc.entry_id
            assert str(exc.record_id) in str(exc)
        ledger.replay_spool()
        # The ids named are the records': the run can be finished, the decision answered.
        assert scope.runs.finish(run_id).status == "succeeded"
        assert scope.decisions.record_feedback(decision_id, True).accepted
        assert scope.alerts.get(given).title == "disk"
        assert len(scope.runs.list()) == 1
        assert scope.events.get(event_id).stream == "s"


def _revoke(settings: Settings, tenant: str, key_id: str) -> None:
    """Revoke behind the server's back (another process would), so its cache is not told."""
    with Ledger(settings, migrate=False) as other:
        other.tenant(tenant).keys.revoke(key_id)


def test_serve_spools_for_the_whole_outage_and_answers_202_naming_the_record(
    server: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "CACHE_SECONDS", 1.0)  # a verified key goes stale sooner
    settings = _settings(server, tmp_path / "spool", admin_key=ADMIN)
    app = create_app(settings)
    with serve(app) as base, Ledger(settings, migrate=False) as own:
        spec = client(base).get("/openapi.json").json()
        for path in SPOOLABLE_ROUTES:
            answers = spec["paths"][path]["post"]["responses"]
            schema = answers["202"]["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/SpooledProblem"}, path
        fields = spec["components"]["schemas"]["SpooledProblem"]["properties"]
        assert {"entry_id", "record_id"} <= set(fields)
        assert "202" not in spec["paths"]["/v1/events/batch"]["post"]["responses"]

        tenant = own.tenants.create(f"h-{uuid.uuid4().hex[:8]}").id
        keys = {r: own.tenant(tenant).keys.create(role=r) for r in ("writer", "admin")}
        revoked = own.tenant(tenant).keys.create(role="writer")
        writer, stranger = client(base, keys["writer"].secret), client(base, keys["admin"].secret)
        fired = client(base, revoked.secret)
        assert writer.get("/v1/runs").status_code == 200  # verified by this process
        assert fired.get("/v1/runs").status_code == 200
        _revoke(settings, tenant, str(revoked.key.id))
        given = str(uuid.uuid4())
        server.stop(mode="immediate")
        try:
            time.sleep(1.5)  # past the keys' freshness: the database would be asked now
            answers = {
                "run": writer.post("/v1/runs", json={"trigger_type": "email"}),
                "decision": writer.post(
                    "/v1/decisions", json={"decision": "d", "decision_type": "x", "id": given}
                ),
            }
            time.sleep(1.5)
            answers["late"] = writer.post("/v1/runs", json={"trigger_type": "late"})
            answers["event"] = writer.post("/v1/events", json={"stream": "s", "type": "T"})
            answers["fired"] = fired.post("/v1/runs", json={"trigger_type": "fired"})
            read = writer.get("/v1/runs")
            unseen = stranger.post("/v1/runs", json={"trigger_type": "stranger"})
        finally:
            server.start()
        for name, answer in answers.items():
            assert answer.status_code == 202, (name, answer.text)
            assert answer.headers["content-type"] == "application/problem+json"
            body = answer.json()
            assert body["type"].endswith("/spooled") and body["entry_id"], body
            assert uuid.UUID(body["record_id"]), body
        assert answers["decision"].json()["record_id"] == given
        assert read.status_code == 503  # reads are not spooled
        assert unseen.status_code == 503  # a key never verified here: nothing to check

        time.sleep(1.1)  # the database answers again: every key is checked again at once
        assert fired.get("/v1/runs").status_code == 401
        run_id = answers["run"].json()["record_id"]
        own.replay_spool()
        finished = writer.post(f"/v1/runs/{run_id}/finish", json={})
        assert finished.status_code == 200 and finished.json()["id"] == run_id
        triggers = sorted(r["trigger_type"] for r in writer.get("/v1/runs").json()["items"])
        assert triggers == ["email", "fired", "late"]  # the revoked key's, kept in the outage


def test_a_bounded_cache_keeps_the_last_principal_of_recent_keys() -> None:
    cache = KeyCache(size=3)
    who = {s: Principal(tenant_id="t", role="writer", key_id=s) for s in "abcd"}
    for secret in "abc":
        cache.put(secret, who[secret])
    cache.put("a", who["a"])  # verified again: the most recent
    cache.put("d", who["d"])  # over the bound: the least recently verified goes
    assert [cache.last_known(s) for s in "abcd"] == [who["a"], None, who["c"], who["d"]]
    cache.put("e", None)
    assert cache.last_known("e") is None and cache.last_known("c") is None
