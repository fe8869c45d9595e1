"""Where an application's own revisions live: its registered folders, resolved to paths.

An application registers folders of Alembic revisions in two ways, both optional:

- the ``migrations`` setting (``AGENTLEDGER_MIGRATIONS``): importable package paths
  (``myapp.migrations``) or directories (``./migrations``, ``/srv/app/migrations``);
- an entry point in the ``agentledger.migrations`` group of an installed distribution
  (``myapp = "myapp.migrations"``), so that installing the application is enough.

Each folder becomes an Alembic version location beside the core's (``db/migrate.py``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

from agentledger.config import Settings
from agentledger.errors import ConfigError

ENTRY_POINT_GROUP = "agentledger.migrations"
CORE_VERSIONS = Path(__file__).with_name("migrations") / "versions"
# A dotted name of identifiers is a package path; anything else names a directory.
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def registered(settings: Settings) -> tuple[Path, ...]:
    """The application's revision folders: the ``migrations`` setting's, in order, then the
    installed entry points', by name; each once, the core's own folder never.

    ConfigError names the entry that cannot be resolved (a package that does not import, a
    module that is no package, a directory that does not exist)."""
    found = [from_spec(spec) for spec in settings.migrations]
    found += [from_entry_point(ep) for ep in sorted(_entry_points(), key=lambda ep: ep.name)]
    return _unique(found)


def from_spec(spec: str) -> Path:
    """The folder a ``migrations`` entry names: a package's directory, or a directory."""
    where = f"setting migrations (AGENTLEDGER_MIGRATIONS) entry {spec!r}"
    if _DOTTED.fullmatch(spec):
        try:
            module = importlib.import_module(spec)
        except ImportError as exc:
            raise ConfigError(f"{where} does not import: {exc}", field="migrations") from exc
        return _package_dir(module, where)
    return _directory(Path(spec).expanduser(), where)


def from_entry_point(ep: EntryPoint) -> Path:
    """The folder an ``agentledger.migrations`` entry point names: the package it loads, or
    the directory (a ``str`` or ``Path``) it loads."""
    dist = f" of {ep.dist.name}" if ep.dist is not None else ""
    where = f"entry point {ep.name!r}{dist} ({ENTRY_POINT_GROUP} = {ep.value!r})"
    try:
        target = ep.load()
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{where} does not load: {exc}", field="migrations") from exc
    if isinstance(target, ModuleType):
        return _package_dir(target, where)
    if isinstance(target, str | Path):
        return _directory(Path(target), where)
    raise ConfigError(
        f"{where} loads a {type(target).__name__}, not a package or a directory",
        field="migrations",
    )


def _entry_points() -> Iterable[EntryPoint]:
    return entry_points(group=ENTRY_POINT_GROUP)


def _package_dir(module: ModuleType, where: str) -> Path:
    paths = list(getattr(module, "__path__", []))
    if not paths:
        raise ConfigError(
            f"{where} is a module, not a package (a folder of revision files)",
            field="migrations",
        )
    if len(paths) > 1:
        raise ConfigError(
            f"{where} is a namespace package over several folders: {paths}",
            field="migrations",
        )
    return _directory(Path(paths[0]), where)


def _directory(path: Path, where: str) -> Path:
    resolved = path.resolve()
    if not resolved.is_dir():
        raise ConfigError(f"{where}: {resolved} is not a directory", field="migrations")
    if "\n" in str(resolved):
        raise ConfigError(f"{where}: a folder name holds a line break", field="migrations")
    return resolved


def _unique(paths: Iterable[Path]) -> tuple[Path, ...]:
    core = CORE_VERSIONS.resolve()
    seen: dict[Path, None] = {}
    for path in paths:
        if path != core:
            seen.setdefault(path, None)
    return tuple(seen)
