"""What a restore must never replace: the database, the archive, the settings.

A manifest only proposes storage names; these paths are the target's own files
that no storage may be, or hold, whatever the manifest says.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: Files beside an SQLite database that belong to it.
SQLITE_SUFFIXES = ("", "-journal", "-wal", "-shm")


def protected_paths(
    *, archive: str | os.PathLike | None = None, also: Iterable[str | os.PathLike] = ()
) -> list[Path]:
    """Resolved paths a restore must never replace nor hold in a storage it replaces.

    Every SQLite database of ``DATABASES`` (with its journal, WAL and shared-memory
    files, and the test database while tests run), the archive being loaded, the
    project's settings module, and ``also`` (e.g. a download destination).
    """
    from django.conf import settings
    from django.db import connections

    found: list[Path] = []
    for alias, options in settings.DATABASES.items():
        names = [options.get("NAME")]
        if alias in connections:
            names.append(connections[alias].settings_dict.get("NAME"))
        if not _is_sqlite(options.get("ENGINE", "")):
            continue
        for name in names:
            database = _sqlite_file(name)
            if database is not None:
                found.extend(
                    database.with_name(database.name + suffix)
                    for suffix in SQLITE_SUFFIXES
                )
    if archive is not None:
        found.append(Path(archive).expanduser())
    module = _settings_file(getattr(settings, "SETTINGS_MODULE", None))
    if module is not None:
        found.append(module)
    found.extend(Path(path).expanduser() for path in also)
    unique: dict[Path, None] = {}
    for path in found:
        unique.setdefault(Path(os.path.realpath(path)), None)
    return list(unique)


def _is_sqlite(engine: str) -> bool:
    return "sqlite" in engine or "spatialite" in engine


def _sqlite_file(name: object) -> Path | None:
    """The file an SQLite ``NAME`` opens, or ``None`` for an in-memory database."""
    if not isinstance(name, (str, os.PathLike)):
        return None
    text = os.fspath(name)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if text in ("", ":memory:"):
        return None
    if text.startswith("file:"):
        parts = urlsplit(text)
        if "mode=memory" in parts.query or parts.path in ("", ":memory:"):
            return None
        text = unquote(parts.path)
    return Path(text).expanduser()


def _settings_file(module: str | None) -> Path | None:
    """The source file of the settings module, without importing anything new."""
    if not module:
        return None
    loaded = sys.modules.get(module)
    origin = getattr(loaded, "__file__", None)
    if origin is None:
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            return None
        origin = spec.origin if spec is not None else None
    return Path(origin) if origin and origin not in ("built-in", "frozen") else None
