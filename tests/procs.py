"""Worker processes for the tests that kill them: started from this checkout, speaking
on stdout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agentledger import Settings

ROOT = Path(__file__).resolve().parents[1]


def spawn_worker(module: str, settings: Settings, *args: str) -> subprocess.Popen[str]:
    """``python -m module DATABASE_URL DATA_DIR *args``, its stdout a text pipe."""
    assert settings.database_url is not None
    return subprocess.Popen(
        [sys.executable, "-m", module, settings.database_url, str(settings.data_dir), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
