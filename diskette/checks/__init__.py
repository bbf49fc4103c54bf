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

The checks call the validators of the modules that own each rule
(:mod:`diskette.paths`, :mod:`diskette.storages`, :mod:`diskette.definitions`),
never a copy of them. By setting: :mod:`~diskette.checks.storages` (directories,
storages, excludes), :mod:`~diskette.checks.dump` (file name, permissions,
format), :mod:`~diskette.checks.destinations` (where archives are kept, how long),
:mod:`~diskette.checks.limits` (sizes, counts, downloads),
:mod:`~diskette.checks.models` (``DISKETTE_APPS``, ``DISKETTE_DERIVED_MODELS``,
file fields); each problem is a :class:`~diskette.problems.Problem`.

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
diskette.E018   ``DISKETTE_ARCHIVE_STORAGE`` names no destination (an unknown
                ``STORAGES`` alias, a ``BACKEND`` that cannot be imported, an object
                without the methods of the destination protocol)
diskette.E019   ``DISKETTE_RETENTION`` is neither None nor a dict of valid rules
diskette.E021   ``DISKETTE_ENCRYPT_TO``, ``_SIGNING_KEY``, ``_IDENTITY_FILES`` or
                ``_TRUSTED_KEYS`` holds a wrong key, a file that is not one, or
                needs the ``crypto`` extra
diskette.E030   ``DISKETTE_ANONYMISE`` or ``_ANONYMISE_SALT``: a rule, profile or salt
                is wrong (an unknown model or field, a rule the field cannot take)
diskette.W001   a storage directory does not exist (yet): nothing to archive from it
diskette.W002   ``DISKETTE_DUMP_PERMISSIONS`` lets group or others read archives
diskette.W003   ``DISKETTE_DUMP_PERMISSIONS`` does not let the owner read archives
diskette.W004   ``DISKETTE_DERIVED_MODELS`` names a model that is not installed
diskette.W005   file fields of dumped models store files that no storage holds
=============== ========================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.core import checks

from diskette.checks.anonymise import anonymise_problems
from diskette.checks.crypto import crypto_problems
from diskette.checks.destinations import (
    archive_storage_problems,
    retention_problems,
)
from diskette.checks.dump import (
    FILENAME_PLACEHOLDERS,
    dump_compression_problems,
    dump_filename_problems,
    dump_format_problems,
    dump_permissions_problems,
)
from diskette.checks.limits import download_problems, limits_problems
from diskette.checks.models import apps_problems, derived_problems, file_field_problems
from diskette.checks.storages import (
    excludes_problems,
    path_problems,
    storages_problems,
)
from diskette.conf import DisketteSettings, get_settings, setting_names
from diskette.exceptions import ConfigurationError
from diskette.problems import Problem

__all__ = [
    "FILENAME_PLACEHOLDERS",
    "Problem",
    "check_dump_settings",
    "check_settings",
    "raise_for_settings",
    "settings_problems",
]

#: Every check, in the order their problems are reported.
_CHECKERS: tuple[Callable[[DisketteSettings], list[Problem]], ...] = (
    apps_problems,
    path_problems,
    storages_problems,
    excludes_problems,
    dump_filename_problems,
    dump_permissions_problems,
    dump_format_problems,
    dump_compression_problems,
    crypto_problems,
    anonymise_problems,
    archive_storage_problems,
    retention_problems,
    limits_problems,
    download_problems,
    derived_problems,
    file_field_problems,
)


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
