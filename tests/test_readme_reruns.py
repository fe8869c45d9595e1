"""README's LangGraph block holds when run again on the same database (a reader runs it
twice; its thread must not carry the first run's messages)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_the_langgraph_block_runs_twice(database_url: str, tmp_path: Path) -> None:
    pytest.importorskip("langgraph")
    blocks = [b for b in BLOCK.findall((ROOT / "README.md").read_text()) if "StateGraph" in b]
    assert len(blocks) == 1
    env = {"DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": str(tmp_path), "PATH": ""}
    for run in (1, 2):
        done = subprocess.run(
            [sys.executable, "-c", blocks[0]],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
        assert done.returncode == 0, f"run {run}:\n{done.stderr}"
