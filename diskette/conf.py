"""The one accessor for ``DISKETTE_*`` settings.

Values come from the project's settings, falling back to :mod:`diskette.settings`.
They are read on first use (never at import time), cached, and forgotten when a
``DISKETTE_*`` setting changes (``override_settings`` in tests). Types are not
coerced here: :mod:`diskette.checks` reports wrong ones, and the pipelines call
:func:`diskette.checks.raise_for_settings` before they trust them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from diskette import settings as defaults

PREFIX = "DISKETTE_"


@dataclass(frozen=True)
class DisketteSettings:
    """The project's diskette settings, defaults filled in; attribute = name without prefix."""

    apps: Any
    derived_models: Any
    storages: Any
    storages_excludes: Any
    storages_basepath: Any
    dump_path: Any
    dump_filename: Any
    dump_permissions: Any
    dump_format: Any
    load_storages_path: Any
    load_minimal_filesize: Any
    load_max_size: Any
    load_max_members: Any
    load_max_object_size: Any
    download_allowed_protocols: Any
    download_allow_redirect: Any
    download_timeout: Any
    download_max_size: Any
    download_deadline: Any

    @staticmethod
    def setting_name(attribute: str) -> str:
        return PREFIX + attribute.upper()

    @property
    def storages_base(self) -> Path:
        """The storages base path, the working directory when unset."""
        return _directory_or_cwd(self.storages_basepath)

    @property
    def dump_directory(self) -> Path:
        return _directory_or_cwd(self.dump_path)

    @property
    def load_storages_base(self) -> Path:
        return _directory_or_cwd(self.load_storages_path)


def _directory_or_cwd(value: Any) -> Path:
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
    ]


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
