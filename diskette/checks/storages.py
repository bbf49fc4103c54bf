"""Checks of where diskette reads and writes: the directory settings and storages.

``DISKETTE_STORAGES_BASEPATH``, ``_DUMP_PATH``, ``_LOAD_STORAGES_PATH`` (E006),
``DISKETTE_STORAGES`` (E002, E003, E015, W001) and
``DISKETTE_STORAGES_EXCLUDES`` (E004, E005). The rules themselves live in
:mod:`diskette.paths` and :mod:`diskette.storages`; these checks call them and
word their answers as settings problems.
"""

from __future__ import annotations

import os
from typing import Any

from diskette.conf import DisketteSettings
from diskette.paths import StoragePath, resolve_storages, storage_problems
from diskette.problems import Problem, kind_of
from diskette.storages import exclude_pattern_problem

_RELATED = ("DISKETTE_STORAGES", "DISKETTE_STORAGES_BASEPATH")


def is_path(value: Any) -> bool:
    """True for what a directory setting may hold (besides ``None``)."""
    return isinstance(value, (str, os.PathLike))


def usable_storages(conf: DisketteSettings) -> list[StoragePath] | None:
    """The resolved storages, or ``None`` when E002, E006 or E003 say they are wrong.

    For the checks that need the storages (W001, E015, W005) and must stay quiet
    when another check already says what is wrong.
    """
    base = conf.storages_basepath
    if not isinstance(conf.storages, (list, tuple)) or not (
        base is None or is_path(base)
    ):
        return None
    if storage_problems(conf.storages, conf.storages_base):
        return None
    return resolve_storages(conf.storages, conf.storages_base)


def path_problems(conf: DisketteSettings) -> list[Problem]:
    """E006: a directory setting that is not a path."""
    problems = []
    for attribute, related in (
        ("storages_basepath", ("DISKETTE_STORAGES",)),
        ("dump_path", ()),
        ("load_storages_path", ()),
    ):
        name = DisketteSettings.setting_name(attribute)
        value = getattr(conf, attribute)
        if value is None or is_path(value):
            continue
        problems.append(
            Problem(
                "E006",
                (name, *related),
                f"{name} is {value!r} ({kind_of(value)}), not a path",
                f"Set {name} to a directory path (a string or a Path), or to None "
                "for the working directory.",
            )
        )
    return problems


def storages_problems(conf: DisketteSettings) -> list[Problem]:
    """E002 (not a list), E003 (misplaced), then E015 and W001 per storage."""
    storages = conf.storages
    if not isinstance(storages, (list, tuple)):
        fix = f"[{storages!r}]" if is_path(storages) else "['media']"
        return [
            Problem(
                "E002",
                _RELATED,
                f"DISKETTE_STORAGES is {storages!r} ({kind_of(storages)}), not a list "
                "of directories",
                f"Write a list of directory paths, for example DISKETTE_STORAGES = {fix}.",
            )
        ]
    base = conf.storages_basepath
    if base is not None and not is_path(base):
        return []  # E006 says what is wrong; the storages cannot be placed
    hint = (
        "Every storage must be a directory strictly inside DISKETTE_STORAGES_BASEPATH, "
        "listed once, and not inside another storage."
    )
    found = [
        Problem(
            "E003", _RELATED, f"DISKETTE_STORAGES: {problem}", hint, self_fixing=True
        )
        for problem in storage_problems(storages, conf.storages_base)
    ]
    if found:
        return found
    resolved = resolve_storages(storages, conf.storages_base)
    return [
        problem
        for raw, storage in zip(storages, resolved, strict=True)
        for problem in _directory_problems(raw, storage)
    ]


def _directory_problems(raw: Any, storage: StoragePath) -> list[Problem]:
    """W001 when a storage does not exist, E015 when it is not a directory."""
    path = storage.path
    where = "" if str(path) == str(raw) else f" ({str(path)!r})"
    if not path.exists():
        return [
            Problem(
                "W001",
                _RELATED,
                f"DISKETTE_STORAGES: storage {str(raw)!r}{where} does not "
                "exist, so a dump archives nothing from it",
                "Create the directory, or remove it from DISKETTE_STORAGES.",
                warning=True,
                dump_only=True,
            )
        ]
    if not path.is_dir():
        return [
            Problem(
                "E015",
                _RELATED,
                f"DISKETTE_STORAGES: storage {str(raw)!r}{where} is a "
                "file, not a directory",
                "List directories only; to archive one file, list its directory.",
            )
        ]
    return []


def excludes_problems(conf: DisketteSettings) -> list[Problem]:
    """E004 (not a list) and E005 per unusable pattern."""
    name = "DISKETTE_STORAGES_EXCLUDES"
    patterns = conf.storages_excludes
    if not isinstance(patterns, (list, tuple)):
        fix = f"[{patterns!r}]" if isinstance(patterns, str) else "['cache/*', '*.tmp']"
        return [
            Problem(
                "E004",
                (name,),
                f"{name} is {patterns!r} ({kind_of(patterns)}), not a list of patterns",
                f"Write a list of glob patterns, for example {name} = {fix}.",
            )
        ]
    hint = (
        "Write glob patterns relative to each storage, such as 'cache/*' or '**/*.tmp'."
    )
    problems = []
    for pattern in patterns:
        what = exclude_pattern_problem(pattern)
        if what is None:
            continue
        problems.append(
            Problem("E005", (name,), f"{name}: pattern {pattern!r} {what}", hint)
        )
    return problems
