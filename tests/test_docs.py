"""Docs are tests: every python block in README.md and docs/ runs against a real database."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
RUNNABLE = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# How the library refuses vectors on a server without pgvector (MissingExtension).
MISSING_VECTOR = "needs the PostgreSQL extension 'vector'"


def _blocks() -> list[tuple[str, str]]:
    found = []
    for path in RUNNABLE:
        for i, code in enumerate(BLOCK.findall(path.read_text())):
            if code.lstrip().startswith("@operation"):  # an excerpt of the package itself
                continue
            found.append((f"{path.name}#{i}", code))
    return found


@pytest.mark.parametrize(("name", "code"), _blocks(), ids=[n for n, _ in _blocks()])
def test_doc_block_runs(
    name: str, code: str, database_url: str, server_has_vector: bool, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": database_url, "AGENTLEDGER_DATA_DIR": str(tmp_path), "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    if result.returncode != 0 and not server_has_vector and MISSING_VECTOR in result.stderr:
        pytest.skip(f"{name} stores vectors; the test server has no pgvector")
    assert result.returncode == 0, f"{name} failed:\n{result.stderr}"
