"""Generate each sync module from its async source (``*_async.py`` -> ``*_sync.py``).

The async code is the source; the sync twin differs only by keywords and names, so it is
derived, never hand-copied. ``--check`` fails when a generated file is stale (run in CI).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "agentledger"

RULES: list[tuple[str, str]] = [
    (r"\basync (def|with|for)\b", r"\1"),
    (r"\bawait ", ""),
    (r"\basyncio\.to_thread\(\s*([\w.]+)\)", r"\1()"),
    (r"\basyncio\.to_thread\(\s*([\w.]+),\s*", r"\1("),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"^import asyncio$", "import time"),
    (r"\basynccontextmanager\b", "contextmanager"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\bAsync([A-Z]\w*)", r"\1"),
    (r"(\w)_async\b", r"\1_sync"),
]


def convert(source: str, origin: str, target: str = "generated.py") -> str:
    text = source
    for pattern, repl in RULES:
        text = re.sub(pattern, repl, text, flags=re.MULTILINE)
    header = (
        f"# Generated from {origin} by scripts/async_to_sync.py.\n"
        "# Edit the source and rerun the script; CI fails when this file is stale.\n"
    )
    return _format(header + text, target)


def _format(text: str, target: str) -> str:
    def ruff(*args: str, data: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "ruff", *args, "--stdin-filename", target, "-"],
            input=data,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout

    fixed = ruff("check", "--fix", "--select", "I,F401", "--exit-zero", "--quiet", data=text)
    return ruff("format", "--quiet", data=fixed)


def pairs() -> list[tuple[Path, Path]]:
    return [
        (src, src.with_name(src.name.replace("_async.py", "_sync.py")))
        for src in sorted(PACKAGE.rglob("*_async.py"))
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a generated file is stale")
    args = parser.parse_args()
    stale = []
    for src, dst in pairs():
        expected = convert(src.read_text(), str(src.relative_to(ROOT)), str(dst.relative_to(ROOT)))
        if dst.exists() and dst.read_text() == expected:
            continue
        if args.check:
            stale.append(dst)
        else:
            dst.write_text(expected)
            print(f"wrote {dst.relative_to(ROOT)}")
    if stale:
        names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
        print(f"stale generated files: {names}; run python scripts/async_to_sync.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
