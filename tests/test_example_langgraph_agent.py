"""The LangGraph agent example: a thread paused in one process resumes in another (the
checkpointer), and a new thread answers from what an earlier one noted (the store)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from langgraph.types import Command

from agentledger import Ledger
from examples.langgraph_agent.agent import build, run
from tests.conftest import ROOT


def agent(database_url: str, data_dir: Path, *args: str) -> str:
    """One run of the example's script, in a process of its own."""
    result = subprocess.run(
        [sys.executable, "-m", "examples.langgraph_agent.agent", *args],
        env={"DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": str(data_dir), "PATH": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


@pytest.mark.pgvector
def test_a_paused_thread_resumes_in_another_process(database_url: str, tmp_path: Path) -> None:
    tenant = ["--tenant", f"agent-{uuid.uuid4().hex[:8]}"]
    said = agent(
        database_url, tmp_path, "say", "--thread", "t1", "remember I like green tea", *tenant
    )
    assert said == "paused: keep 'I like green tea'?"
    resumed = agent(database_url, tmp_path, "resume", "--thread", "t1", "yes", *tenant)
    assert resumed == "I will remember: I like green tea"
    asked = agent(
        database_url, tmp_path, "say", "--thread", "t2", "what do I like to drink?", *tenant
    )
    assert asked == "you told me: I like green tea"


@pytest.mark.pgvector
def test_a_fact_refused_at_the_pause_is_forgotten(sync_ledger: Ledger) -> None:
    tenant = f"agent-{uuid.uuid4().hex[:8]}"
    sync_ledger.tenants.create(tenant)
    graph = build(sync_ledger, tenant)
    start = {"user": "bo", "message": "remember my PIN is 1234", "fact": "", "kept": False}
    assert run(graph, "t1", start) == "paused: keep 'my PIN is 1234'?"
    assert run(graph, "t1", Command(resume="no")) == "I forgot: my PIN is 1234"
    question = {"user": "bo", "message": "what is my PIN?", "fact": "", "kept": False}
    assert run(graph, "t2", question) == "you have not told me anything yet"
    # Another user's memories are another namespace.
    noted = {"user": "cy", "message": "remember I fly on Fridays", "fact": "", "kept": False}
    run(graph, "t3", noted)
    run(graph, "t3", Command(resume="yes"))
    assert run(graph, "t4", question) == "you have not told me anything yet"
