"""The rules that keep the code base in shape: layering, generated code, named queries."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentledger.db.schema import SCHEMA_SQL
from agentledger.db.statements import Queries, compact

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "agentledger"
# Which top-level parts of the package each part may import (api/console/cli -> ledger ->
# modules -> db). Modules may use the shared leaf helpers.
LEAVES = {"errors", "config", "validation", "lifecycle", "records", "attempts"}
FRONT = {
    "api",
    "console",
    "web",
    "cli",
    "demo",
    "session_import",
    "integrations",
    "__init__",
    "__main__",
}
# The two HTTP faces share agentledger.web and never import each other, save the one place
# that composes them (the app factory mounts the console).
FACES_APART = {("console", "api"), ("web", "api"), ("web", "console")}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def test_only_db_imports_psycopg() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in PACKAGE.rglob("*.py")
        if _part(p) != "db"
        and any(m.split(".")[0] in {"psycopg", "psycopg_pool"} for m in _imports(p))
    ]
    assert offenders == []


def _rank(part: str) -> int:
    """Higher layers may import lower ones (and modules each other), never the reverse."""
    if part in FRONT:
        return 3
    if part.startswith("ledger"):
        return 2
    if part == "db":
        return 0
    if part in LEAVES:
        return -1
    return 1  # a domain module


def test_imports_flow_one_way() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        part = _part(path)
        for module in _imports(path):
            if not module.startswith("agentledger.") or module == "agentledger":
                continue
            target = module.split(".")[1]
            if target == part:
                continue
            allowed = _rank(target) <= _rank(part)
            if not allowed:
                offenders.append(f"{path.relative_to(ROOT)}: {part} -> {target}")
    assert offenders == []


def test_http_faces_do_not_import_each_other() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} -> {module}"
        for path in PACKAGE.rglob("*.py")
        for module in _imports(path)
        if module.startswith("agentledger.") and (_part(path), module.split(".")[1]) in FACES_APART
    ]
    assert offenders == []


# What an operation may use of db/: the I/O-free vocabulary (statements, parameter types),
# the binding's tenant-id check and the error translator's constraint registry.
OPS_MAY_IMPORT = {"statements", "types", "binding", "translate"}


def test_operations_use_only_the_io_free_parts_of_db() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in PACKAGE.glob("*/ops.py")
        for module in _imports(path)
        if module.startswith("agentledger.db.") and module.split(".")[2] not in OPS_MAY_IMPORT
    ]
    assert offenders == []


def test_generated_sync_code_is_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "async_to_sync.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _query_files() -> list[Path]:
    """The named-query files (schema.sql is a dump, not queries)."""
    return [p for p in sorted(PACKAGE.rglob("*.sql")) if p != SCHEMA_SQL]


def _loaded_files(package: Path) -> dict[Path, dict[str, str]]:
    """For each module of a package, the names it reads queries files through: bound there
    (``Q = Queries.beside(__file__)``, ``SPACES = Queries.beside(__file__, "spaces.sql")``)
    or imported from a sibling module that binds them; name -> file name."""
    trees = {m: ast.parse(m.read_text()) for m in package.glob("*.py")}
    bound: dict[Path, dict[str, str]] = {}
    for module, tree in trees.items():
        bound[module] = {}
        for node in tree.body:
            call = node.value if isinstance(node, ast.Assign) else None
            if (
                isinstance(call, ast.Call)
                and ast.unparse(call.func) == "Queries.beside"
                and isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Name)
            ):
                args = call.args[1:]
                filename = args[0].value if args and isinstance(args[0], ast.Constant) else None
                bound[module][node.targets[0].id] = str(filename or "queries.sql")
    reads = {m: dict(names) for m, names in bound.items()}
    for module, tree in trees.items():
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module:
                source = ROOT / "src" / (node.module.replace(".", "/") + ".py")
                for alias in node.names:
                    if alias.name in bound.get(source, {}):
                        reads[module][alias.asname or alias.name] = bound[source][alias.name]
    return reads


def test_every_named_query_is_used_and_every_used_name_exists() -> None:
    for sql_file in _query_files():
        names = set(Queries(sql_file).by_name)
        used: set[str] = set()
        for module, reads in _loaded_files(sql_file.parent).items():
            text = module.read_text()
            for var, filename in reads.items():
                if filename == sql_file.name:
                    used |= set(re.findall(rf"\b{var}\.(\w+)\b", text))
        used -= {"beside", "by_name", "path"}
        assert names - used == set(), f"{sql_file.relative_to(ROOT)}: unused {names - used}"
        assert used - names == set(), f"{sql_file.relative_to(ROOT)}: undefined {used - names}"


# psycopg parses a statement's placeholders once and caches the result only for statements
# up to this length; a longer one is parsed again on every call (psycopg._queries).
DRIVER_CACHED_LENGTH = 4096


def test_every_named_query_is_compact_and_short_enough_for_the_driver_cache() -> None:
    for sql_file in _query_files():
        for name, query in Queries(sql_file).by_name.items():
            where = f"{sql_file.relative_to(ROOT)}: {name}"
            assert "\n--" not in query.sql and "\n " not in query.sql, where
            assert len(query.sql) <= DRIVER_CACHED_LENGTH, f"{where}: {len(query.sql)} chars"


def test_compact_leaves_quoted_text_alone() -> None:
    assert (
        compact("SELECT a,\n    -- why\n    b\n  FROM t -- keep\n")
        == "SELECT a,\nb\nFROM t -- keep"
    )
    for untouched in (
        "SELECT 'two\n   lines'",  # a line break inside a literal
        'SELECT "odd\n   name"',  # ... inside a quoted name
        "SELECT $$x\n  -- y$$",  # dollar quoting
    ):
        assert compact(untouched) == untouched


def test_fragments_are_spliced_where_included(tmp_path: Path) -> None:
    path = tmp_path / "queries.sql"
    path.write_text(
        "-- fragment: cols\n-- Shared columns.\n    a, b\n\n"
        "-- fragment: filter\nWHERE x = %(x)s\n-- include: more\n\n"
        "-- fragment: more\n  AND y\n\n"
        "-- name: first\n-- Why.\nSELECT\n-- include: cols\nFROM t\n  -- include: filter\n\n"
        "-- name: second\n-- include: cols\n"
    )
    queries = Queries(path)
    assert queries.first.sql == "SELECT\na, b\nFROM t\nWHERE x = %(x)s\nAND y"
    assert queries.first.doc == "Why."
    assert queries.second.sql == "a, b"
    assert set(queries.by_name) == {"first", "second"}


def test_a_fragment_unknown_unused_empty_or_in_itself_fails_the_load(tmp_path: Path) -> None:
    path = tmp_path / "queries.sql"
    for text, error in (
        ("-- name: q\nSELECT\n-- include: nope\n", "unknown fragment 'nope'"),
        ("-- fragment: f\na\n-- name: q\nSELECT 1\n", "fragment f is never included"),
        ("-- fragment: f\n-- only a comment\n-- name: q\n-- include: f\n", "f is empty"),
        (
            "-- fragment: f\n-- include: g\n-- fragment: g\n-- include: f\n"
            "-- name: q\n-- include: f\n",
            "fragment f includes itself",
        ),
        ("-- fragment: f\n-- plan: generic\na\n-- name: q\n-- include: f\n", "no directives"),
        ("-- fragment: f\na\n-- fragment: f\nb\n-- name: q\n-- include: f\n", "twice"),
    ):
        path.write_text(text)
        with pytest.raises(ValueError, match=error):
            Queries(path)


def test_sql_is_never_built_from_strings_at_run_time() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr):
                literal = "".join(
                    v.value
                    for v in node.values
                    if isinstance(v, ast.Constant) and isinstance(v.value, str)
                )
                if re.search(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", literal):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_every_errors_docstring_is_its_one_line_title() -> None:
    """The API's problem title is an error's first docstring line: a whole sentence."""
    from agentledger import errors

    classes = [c for c in vars(errors).values() if isinstance(c, type)]
    for error in classes:
        if issubclass(error, errors.LedgerError):
            doc = (error.__doc__ or "").strip()
            assert doc and "\n" not in doc and doc.endswith("."), error.__name__
