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
from examples.langgraph_agent.agent import NothingToResume, build, run, user_label
from tests.conftest import ROOT


def launch(database_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One run of the example's script, in a process of its own, whatever its outcome."""
    return subprocess.run(
        [sys.executable, "-m", "examples.langgraph_agent.agent", *args],
        env={"DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": str(data_dir), "PATH": ""},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def agent(database_url: str, data_dir: Path, *args: str) -> str:
    """One successful run of the example's script: what it printed."""
    result = launch(database_url, data_dir, *args)
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


@pytest.mark.pgvector
def test_resuming_a_thread_with_nothing_paused_says_so(database_url: str, tmp_path: Path) -> None:
    tenant = ["--tenant", f"agent-{uuid.uuid4().hex[:8]}"]
    result = launch(database_url, tmp_path, "resume", "--thread", "never-seen", "yes", *tenant)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "thread never-seen has nothing to resume"


@pytest.mark.pgvector
def test_a_thread_resumes_once(sync_ledger: Ledger) -> None:
    tenant = f"agent-{uuid.uuid4().hex[:8]}"
    sync_ledger.tenants.create(tenant)
    graph = build(sync_ledger, tenant)
    with pytest.raises(NothingToResume, match="thread t0 has nothing to resume"):
        run(graph, "t0", Command(resume="yes"))
    start = {"user": "bo", "message": "remember I row", "fact": "", "kept": False}
    assert run(graph, "t1", start) == "paused: keep 'I row'?"
    assert run(graph, "t1", Command(resume="yes")) == "I will remember: I row"
    with pytest.raises(NothingToResume):
        run(graph, "t1", Command(resume="yes"))


@pytest.mark.pgvector
def test_an_email_is_a_user(sync_ledger: Ledger) -> None:
    tenant = f"agent-{uuid.uuid4().hex[:8]}"
    sync_ledger.tenants.create(tenant)
    graph = build(sync_ledger, tenant)
    noted = {"user": "ana.b@x.org", "message": "remember I row", "fact": "", "kept": False}
    assert run(graph, "t1", noted) == "paused: keep 'I row'?"
    assert run(graph, "t1", Command(resume="yes")) == "I will remember: I row"
    asked = {"user": "ana.b@x.org", "message": "what do I do?", "fact": "", "kept": False}
    assert run(graph, "t2", asked) == "you told me: I row"
    # An id that spells the encoding is another user.
    other = {**asked, "user": "ana%2Eb@x%2Eorg"}
    assert run(graph, "t3", other) == "you have not told me anything yet"


def test_user_labels_keep_plain_ids_and_never_collide() -> None:
    assert user_label("ana") == "ana"
    assert user_label("a.b") == "a%2Eb"
    ids = ["a.b", "a%2Eb", "a%252Eb", "a\x00b", "a%00b"]
    labels = [user_label(user) for user in ids]
    assert len(set(labels)) == len(ids)
    assert all("." not in label and "\x00" not in label for label in labels)
    for bad in ("", "x" * 200):
        with pytest.raises(ValueError):
            user_label(bad)


@pytest.mark.parametrize("user", ["", "x" * 200])
def test_an_unusable_user_is_refused_in_one_line(user: str, tmp_path: Path) -> None:
    result = launch("postgresql://unused", tmp_path, "say", "--thread", "t1", "--user", user, "hi")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("--user ")
