"""The one accessor for ``DISKETTE_*`` settings.

Values come from the project's settings, falling back to :mod:`diskette.settings`.
They are read on first use (never at import time), cached, and forgotten when a
``DISKETTE_*`` setting changes (``override_settings`` in tests). Types are not
coerced here: :mod:`diskette.checks` reports wrong ones, and the pipelines call
:func:`diskette.checks.raise_for_settings` before they trust them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from diskette import settings as defaults

PREFIX = "DISKETTE_"

#: What a directory setting holds: a string or a path-like object.
PathValue = str | os.PathLike[str]
#: What ``DISKETTE_ARCHIVE_STORAGE`` holds: ``None``, a ``STORAGES`` alias (or
#: ``"local"``), a ``{"BACKEND": ..., "OPTIONS": ...}`` dict, or a backend instance
#: (see :mod:`diskette.destinations.config`).
ArchiveStorageValue = str | Mapping[str, Any] | object | None


@dataclass(frozen=True)
class DisketteSettings:
    """The project's diskette settings, defaults filled in; attribute = name without prefix.

    The annotations say what a *valid* value is. Nothing here enforces them: a
    project's value is kept as written (no coercion, so that a check can name the
    wrong value exactly), :mod:`diskette.checks` reports what does not match, and
    the pipelines call :func:`~diskette.checks.raise_for_settings` before they
    trust a value. ``apps`` holds ``[name, options]`` pairs, validated by
    :mod:`diskette.definitions`.
    """

    apps: Sequence[Sequence[Any]]
    derived_models: Sequence[str]
    storages: Sequence[PathValue]
    storages_excludes: Sequence[str]
    storages_basepath: PathValue | None
    dump_path: PathValue | None
    dump_filename: str
    dump_permissions: int
    dump_format: str
    dump_compression: str
    encrypt_to: Sequence[PathValue]
    signing_key: PathValue | None
    archive_storage: ArchiveStorageValue
    retention: Mapping[str, Any] | None
    #: ``{"profile": ..., "rules": {...}}``, see :mod:`diskette.anonymise.rules`.
    anonymise: Mapping[str, Any]
    anonymise_salt: str | None
    load_storages_path: PathValue | None
    load_minimal_filesize: int
    load_max_size: int
    load_max_members: int
    load_max_object_size: int
    download_allowed_protocols: Sequence[str]
    download_allow_redirect: bool
    download_timeout: float
    download_max_size: int
    download_deadline: float
    identity_files: Sequence[PathValue]
    trusted_keys: Sequence[PathValue]

    @staticmethod
    def setting_name(attribute: str) -> str:
        """``DISKETTE_`` and the attribute in upper case: ``dump_path`` → ``DISKETTE_DUMP_PATH``."""
        return PREFIX + attribute.upper()

    @property
    def storages_base(self) -> Path:
        """The storages base path, the working directory when unset."""
        return _directory_or_cwd(self.storages_basepath)

    @property
    def dump_directory(self) -> Path:
        """Where archives are written, the working directory when unset."""
        return _directory_or_cwd(self.dump_path)

    @property
    def load_storages_base(self) -> Path:
        """Where storages are restored, the working directory when unset."""
        return _directory_or_cwd(self.load_storages_path)


def _directory_or_cwd(value: PathValue | None) -> Path:
    return Path.cwd() if value in (None, "") else Path(value)


def setting_names() -> list[str]:
    """Every ``DISKETTE_*`` setting name, in declaration order."""
    return [DisketteSettings.setting_name(f.name) for f in fields(DisketteSettings)]


def load_setting_names() -> list[str]:
    """The settings a load (or an inspection) reads; a dump reads all the others."""
    return [
        name
        for name in setting_names()
        if name.startswith(("DISKETTE_LOAD_", "DISKETTE_DOWNLOAD_"))
        or name in _LOAD_KEY_SETTINGS
    ]


#: The key settings a load reads, beside the ``DISKETTE_LOAD_*`` ones.
_LOAD_KEY_SETTINGS = ("DISKETTE_IDENTITY_FILES", "DISKETTE_TRUSTED_KEYS")


@lru_cache(maxsize=1)
def get_settings() -> DisketteSettings:
    """Return the diskette settings of the running project."""
    values = {
        f.name: getattr(
            django_settings,
            DisketteSettings.setting_name(f.name),
            getattr(defaults, DisketteSettings.setting_name(f.name)),
        )
        for f in fields(DisketteSettings)
    }
    return DisketteSettings(**values)


@receiver(setting_changed)
def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith(PREFIX):
        get_settings.cache_clear()
