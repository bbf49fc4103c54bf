"""System checks of the ``DISKETTE_*`` settings, run by ``manage.py check``.

The same problems feed :func:`raise_for_settings`, which the commands and the
API call before they trust a setting, so a bad value gives the same message
everywhere. Every message names the setting and the bad value; every hint says
how to fix it.

Staying out of other commands' way: the problems of what only diskette reads
(E001, E016, E017) are errors for diskette's commands but warnings in Django's
system checks, so that a stale label does not stop ``makemigrations`` or
``migrate``; and W001 and W005, which only matter where a dump runs, are left
out of the checks every command runs (``manage.py check --deploy`` shows them).

=============== ========================================================================
ID              Problem
=============== ========================================================================
diskette.E001   ``DISKETTE_APPS``: an application definition is invalid (one per problem)
diskette.E002   ``DISKETTE_STORAGES`` is not a list of paths
diskette.E003   a storage is outside the base path, is the base path, repeats or nests
diskette.E004   ``DISKETTE_STORAGES_EXCLUDES`` is not a list of strings
diskette.E005   an exclude pattern is empty, absolute or goes up with ``..``
diskette.E006   ``DISKETTE_STORAGES_BASEPATH``, ``_DUMP_PATH`` or
                ``_LOAD_STORAGES_PATH`` is not a path
diskette.E007   ``DISKETTE_DUMP_FILENAME`` is not a plain file name
diskette.E008   ``DISKETTE_DUMP_FILENAME`` has an unknown or malformed placeholder
diskette.E009   ``DISKETTE_DUMP_PERMISSIONS`` is not a file mode (0o000 to 0o777)
diskette.E010   ``DISKETTE_DUMP_FORMAT`` is not a fixture format (or needs PyYAML)
diskette.E011   a size or count limit (``DISKETTE_LOAD_MINIMAL_FILESIZE``,
                ``_LOAD_MAX_SIZE``, ``_LOAD_MAX_MEMBERS``, ``_LOAD_MAX_OBJECT_SIZE``,
                ``_DOWNLOAD_MAX_SIZE``) is not an integer in range
diskette.E012   ``DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS`` is not a list of URL schemes
diskette.E013   ``DISKETTE_DOWNLOAD_ALLOW_REDIRECT`` is not a boolean
diskette.E014   ``DISKETTE_DOWNLOAD_TIMEOUT`` or ``_DOWNLOAD_DEADLINE`` is not a
                positive number of seconds
diskette.E015   a storage exists but is not a directory
diskette.E016   ``DISKETTE_DERIVED_MODELS`` is not a list of model labels
diskette.E017   ``DISKETTE_APPS``: models reference each other by non-nullable natural
                foreign keys, which no load can save
diskette.W001   a storage directory does not exist (yet): nothing to archive from it
diskette.W002   ``DISKETTE_DUMP_PERMISSIONS`` lets group or others read archives
diskette.W003   ``DISKETTE_DUMP_PERMISSIONS`` does not let the owner read archives
diskette.W004   ``DISKETTE_DERIVED_MODELS`` names a model that is not installed
diskette.W005   file fields of dumped models store files that no storage holds
=============== ========================================================================
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.core import checks

from diskette import settings as defaults
from diskette.conf import DisketteSettings, get_settings, setting_names
from diskette.definitions import available_formats, format_problem
from diskette.exceptions import ConfigurationError
from diskette.model_checks import apps_problems, derived_problems, file_field_problems
from diskette.paths import resolve_base, storage_problems
from diskette.problems import Problem
from diskette.storages import exclude_pattern_problem

__all__ = ["Problem", "check_settings", "raise_for_settings", "settings_problems"]

#: The placeholders ``DISKETTE_DUMP_FILENAME`` may hold.
FILENAME_PLACEHOLDERS = ("features", "date")

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    name = type(value).__name__
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


# ---- one function per setting (or group of settings) ------------------------------


def _paths(conf: DisketteSettings) -> list[Problem]:
    problems = []
    for attribute, related in (
        ("storages_basepath", ("DISKETTE_STORAGES",)),
        ("dump_path", ()),
        ("load_storages_path", ()),
    ):
        name = DisketteSettings.setting_name(attribute)
        value = getattr(conf, attribute)
        if value is None or _is_path(value):
            continue
        problems.append(
            Problem(
                "E006",
                (name, *related),
                f"{name} is {value!r} ({_kind(value)}), not a path",
                f"Set {name} to a directory path (a string or a Path), or to None "
                "for the working directory.",
            )
        )
    return problems


def _storages(conf: DisketteSettings) -> list[Problem]:
    related = ("DISKETTE_STORAGES", "DISKETTE_STORAGES_BASEPATH")
    storages = conf.storages
    if not isinstance(storages, (list, tuple)):
        fix = f"[{storages!r}]" if _is_path(storages) else "['media']"
        return [
            Problem(
                "E002",
                related,
                f"DISKETTE_STORAGES is {storages!r} ({_kind(storages)}), not a list "
                "of directories",
                f"Write a list of directory paths, for example DISKETTE_STORAGES = {fix}.",
            )
        ]
    base = conf.storages_basepath
    if base is not None and not _is_path(base):
        return []  # E006 says what is wrong; the storages cannot be placed
    hint = (
        "Every storage must be a directory strictly inside DISKETTE_STORAGES_BASEPATH, "
        "listed once, and not inside another storage."
    )
    found = [
        Problem(
            "E003", related, f"DISKETTE_STORAGES: {problem}", hint, self_fixing=True
        )
        for problem in storage_problems(storages, conf.storages_base)
    ]
    if found:
        return found
    base_path = resolve_base(conf.storages_base)
    for raw in storages:
        path = (base_path / Path(raw).expanduser()).resolve()
        where = "" if str(path) == str(raw) else f" ({str(path)!r})"
        if not path.exists():
            found.append(
                Problem(
                    "W001",
                    related,
                    f"DISKETTE_STORAGES: storage {str(raw)!r}{where} does not "
                    "exist, so a dump archives nothing from it",
                    "Create the directory, or remove it from DISKETTE_STORAGES.",
                    warning=True,
                    dump_only=True,
                )
            )
        elif not path.is_dir():
            found.append(
                Problem(
                    "E015",
                    related,
                    f"DISKETTE_STORAGES: storage {str(raw)!r}{where} is a "
                    "file, not a directory",
                    "List directories only; to archive one file, list its directory.",
                )
            )
    return found


def _excludes(conf: DisketteSettings) -> list[Problem]:
    name = "DISKETTE_STORAGES_EXCLUDES"
    patterns = conf.storages_excludes
    if not isinstance(patterns, (list, tuple)):
        fix = f"[{patterns!r}]" if isinstance(patterns, str) else "['cache/*', '*.tmp']"
        return [
            Problem(
                "E004",
                (name,),
                f"{name} is {patterns!r} ({_kind(patterns)}), not a list of patterns",
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


def _dump_filename(conf: DisketteSettings) -> list[Problem]:
    name = "DISKETTE_DUMP_FILENAME"
    value = conf.dump_filename
    plain = (
        "Give a plain file name such as 'diskette{features}.tar.gz'; the directory "
        "is DISKETTE_DUMP_PATH."
    )
    if not isinstance(value, str) or not value.strip():
        return [
            Problem(
                "E007",
                (name,),
                f"{name} is {value!r} ({_kind(value)}), not a file name",
                plain,
            )
        ]
    if any(char in value for char in "/\\\x00") or value in (".", ".."):
        return [
            Problem(
                "E007",
                (name,),
                f"{name} {value!r} is not a plain file name (it holds a directory)",
                plain,
            )
        ]
    allowed = ", ".join("{" + p + "}" for p in FILENAME_PLACEHOLDERS)
    hint = (
        f"Use only the placeholders {allowed}, and write a literal brace twice ({{{{)."
    )
    try:
        fields = list(string.Formatter().parse(value))
    except ValueError as error:
        return [
            Problem("E008", (name,), f"{name} {value!r} is malformed: {error}", hint)
        ]
    problems = []
    for _, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in FILENAME_PLACEHOLDERS:
            problems.append(
                Problem(
                    "E008",
                    (name,),
                    f"{name} {value!r} has the unknown placeholder {{{field}}}",
                    hint,
                )
            )
        elif spec or conversion:
            problems.append(
                Problem(
                    "E008",
                    (name,),
                    f"{name} {value!r} formats the placeholder {{{field}}}; "
                    "write it bare",
                    hint,
                )
            )
    return problems


def _dump_permissions(conf: DisketteSettings) -> list[Problem]:
    name = "DISKETTE_DUMP_PERMISSIONS"
    mode = conf.dump_permissions
    hint = (
        f"Set {name} to an octal integer such as 0o600 (read and write for the owner)."
    )
    if not _is_int(mode) or not 0 <= mode <= 0o777:
        extra = ""
        if _is_int(mode) and re.fullmatch(r"[0-7]{3}", str(mode)):
            extra = f" (did you mean 0o{mode}?)"
        shown = f"{mode} (0o{mode:o})" if _is_int(mode) and mode > 0 else repr(mode)
        return [
            Problem(
                "E009",
                (name,),
                f"{name} is {shown}, not a file mode between 0o000 and 0o777{extra}",
                hint,
            )
        ]
    problems = []
    if mode & 0o077:
        problems.append(
            Problem(
                "W002",
                (name,),
                f"{name} is 0o{mode:03o}: group or others can read the archives, "
                "which hold password hashes and personal data",
                "Use 0o600 unless other accounts must read the archives.",
                warning=True,
            )
        )
    if not mode & 0o400:
        problems.append(
            Problem(
                "W003",
                (name,),
                f"{name} is 0o{mode:03o}: the owner cannot read the archives",
                "Give the owner read permission, for example 0o600.",
                warning=True,
            )
        )
    return problems


def _dump_format(conf: DisketteSettings) -> list[Problem]:
    name = "DISKETTE_DUMP_FORMAT"
    problem = format_problem(conf.dump_format)
    if problem is None:
        return []
    return [
        Problem(
            "E010",
            (name, "DISKETTE_APPS"),
            f"{name} {conf.dump_format!r} {problem}",
            f"Set {name} to one of "
            + ", ".join(repr(f) for f in available_formats())
            + ".",
        )
    ]


#: Integer limits: attribute -> smallest value allowed.
_LIMITS = {
    "load_minimal_filesize": 0,
    "load_max_size": 1,
    "load_max_members": 1,
    "load_max_object_size": 1,
    "download_max_size": 1,
}


def _limits(conf: DisketteSettings) -> list[Problem]:
    problems = []
    for attribute, low in _LIMITS.items():
        name = DisketteSettings.setting_name(attribute)
        value = getattr(conf, attribute)
        if _is_int(value) and value >= low:
            continue
        problems.append(
            Problem(
                "E011",
                (name,),
                f"{name} is {value!r} ({_kind(value)}), not an integer of at least {low}",
                f"Set {name} to a whole number of at least {low}; the default is "
                f"{getattr(defaults, name)}.",
            )
        )
    return problems


def _download(conf: DisketteSettings) -> list[Problem]:
    problems = []
    name = "DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS"
    protocols = conf.download_allowed_protocols
    hint = f"Write a list of URL schemes in lower case, for example {name} = ['https']."
    if not isinstance(protocols, (list, tuple)):
        problems.append(
            Problem(
                "E012",
                (name,),
                f"{name} is {protocols!r} ({_kind(protocols)}), not a list of URL schemes",
                hint,
            )
        )
    else:
        for scheme in protocols:
            if not isinstance(scheme, str) or not _SCHEME.match(scheme):
                problems.append(
                    Problem(
                        "E012", (name,), f"{name}: {scheme!r} is not a URL scheme", hint
                    )
                )
    name = "DISKETTE_DOWNLOAD_ALLOW_REDIRECT"
    value = conf.download_allow_redirect
    if not isinstance(value, bool):
        problems.append(
            Problem(
                "E013",
                (name,),
                f"{name} is {value!r} ({_kind(value)}), not True or False",
                f"Set {name} to True or False.",
            )
        )
    for name, value, example in (
        ("DISKETTE_DOWNLOAD_TIMEOUT", conf.download_timeout, 60),
        ("DISKETTE_DOWNLOAD_DEADLINE", conf.download_deadline, 3600),
    ):
        if not (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and value > 0
        ):
            problems.append(
                Problem(
                    "E014",
                    (name,),
                    f"{name} is {value!r} ({_kind(value)}), not a positive number of "
                    "seconds",
                    f"Set {name} to a number of seconds greater than 0, for example "
                    f"{example}.",
                )
            )
    return problems


_CHECKERS: tuple[Callable[[DisketteSettings], list[Problem]], ...] = (
    apps_problems,
    _paths,
    _storages,
    _excludes,
    _dump_filename,
    _dump_permissions,
    _dump_format,
    _limits,
    _download,
    derived_problems,
    file_field_problems,
)


# ---- public API ------------------------------------------------------------------


def settings_problems(names: Iterable[str] | None = None) -> list[Problem]:
    """Every problem (errors and warnings) of the settings ``names`` (default: all)."""
    wanted = None
    if names is not None:
        wanted = set(names)
        unknown = wanted - set(setting_names())
        if unknown:
            raise ValueError(f"not diskette settings: {', '.join(sorted(unknown))}")
    conf = get_settings()
    problems = [problem for checker in _CHECKERS for problem in checker(conf)]
    if wanted is None:
        return problems
    return [p for p in problems if wanted.intersection(p.settings)]


@checks.register("diskette")
def check_settings(app_configs=None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The system check: one message per problem of the ``DISKETTE_*`` settings.

    Problems that only matter where a dump runs (a storage not created yet on a
    fresh target) are left to :func:`check_dump_settings`.
    """
    return [p.check_message() for p in settings_problems() if not p.dump_only]


@checks.register("diskette", deploy=True)
def check_dump_settings(app_configs=None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``check --deploy``: the problems that only matter where a dump runs."""
    return [p.check_message() for p in settings_problems() if p.dump_only]


def raise_for_settings(
    names: Iterable[str] | None = None, *, overridden: Iterable[str] = ()
) -> None:
    """Raise ConfigurationError with every error of the settings ``names`` (default: all).

    Problems that concern an ``overridden`` setting (one an option replaces, such
    as ``--appconf`` for ``DISKETTE_APPS``) do not count. Warnings do not raise.
    The message is each error's message, joined by "; ".
    """
    replaced = set(overridden)
    errors = [
        p
        for p in settings_problems(names)
        if not p.warning and not replaced.intersection(p.settings)
    ]
    if errors:
        raise ConfigurationError("; ".join(problem.sentence for problem in errors))
