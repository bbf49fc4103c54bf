"""The choices of one dump, as one object shared by the dump and its plan.

:func:`diskette.api.dump` and :func:`diskette.api.plan_dump` keep their keyword
arguments (they are the public API); each builds a :class:`DumpOptions` from
them once, and every step of the pipeline reads that object instead of taking
the arguments one by one. Messages name the Python arguments (``compresslevel``,
``format``...); the management command translates them into its flags.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core import serializers
from django.db import DEFAULT_DB_ALIAS, connections

from diskette.definitions import FORMATS
from diskette.exceptions import ConfigurationError


@dataclass(frozen=True)
class DumpOptions:
    """Every keyword argument of :func:`diskette.api.dump` but the reporter.

    ``None`` means "as the settings say" for the paths, definitions and storages.
    """

    destination: str | os.PathLike | None = None
    filename: str | None = None
    definitions: list | None = None
    appconf: str | os.PathLike | None = None
    storages: list | None = None
    storages_basepath: str | os.PathLike | None = None
    storages_excludes: list[str] | None = None
    no_storages_excludes: bool = False
    indent: int | None = None
    with_data: bool = True
    with_storages: bool = True
    with_checksum: bool = True
    apps: list[str] | None = None
    exclude_apps: list[str] | None = None
    format: str | None = None
    compresslevel: int = 6
    using: str = DEFAULT_DB_ALIAS
    strict: bool = False

    @classmethod
    def from_arguments(cls, arguments: Mapping[str, Any]) -> DumpOptions:
        """The options among a function's arguments (its ``locals()``), others ignored.

        So that ``dump()`` and ``plan_dump()`` keep their explicit keyword
        signatures without naming every argument a second time.
        """
        names = {item.name for item in dataclasses.fields(cls)}
        return cls(**{name: arguments[name] for name in names if name in arguments})

    @property
    def own_definitions(self) -> bool:
        """Whether the caller gives the definitions (replacing ``DISKETTE_APPS``)."""
        return self.definitions is not None or self.appconf is not None

    def replaced_settings(self) -> list[str]:
        """The settings these options replace, whose own value is not checked."""
        replaced = {
            "DISKETTE_APPS": self.own_definitions or not self.with_data,
            "DISKETTE_STORAGES": self.storages is not None or not self.with_storages,
            "DISKETTE_STORAGES_BASEPATH": self.storages_basepath is not None,
            "DISKETTE_STORAGES_EXCLUDES": self.no_storages_excludes
            or not self.with_storages,
            "DISKETTE_DUMP_PATH": self.destination is not None,
            "DISKETTE_DUMP_FILENAME": self.filename is not None,
        }
        return [name for name, yes in replaced.items() if yes]

    def validate(self) -> None:
        """Raise ConfigurationError for a database, format, indent or level that is wrong."""
        if self.using not in connections:
            raise ConfigurationError(
                f"database {self.using!r} is not in DATABASES: use one of "
                f"{', '.join(connections)}"
            )
        if self.format is not None:
            check_format(self.format, "format")
        indent = self.indent
        if indent is not None and (not isinstance(indent, int) or indent < 0):
            raise ConfigurationError(f"indent {indent!r} must be a positive integer")
        level = self.compresslevel
        if not isinstance(level, int) or not 0 <= level <= 9:
            raise ConfigurationError(
                f"compresslevel {level!r} must be an integer from 0 to 9"
            )


def check_format(fmt: str, where: str) -> None:
    """Raise ConfigurationError, prefixed by ``where``, unless ``fmt`` can be written."""
    if fmt not in FORMATS:
        raise ConfigurationError(
            f"{where}: format {fmt!r} is unknown: use one of {', '.join(FORMATS)}"
        )
    try:
        serializers.get_serializer(fmt)
    except serializers.SerializerDoesNotExist:
        raise ConfigurationError(
            f"{where}: format {fmt!r} is not available: install PyYAML for yaml"
        ) from None
