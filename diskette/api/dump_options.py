"""The choices of one dump, as one object shared by the dump and its plan.

:func:`~diskette.api.dump` and :func:`~diskette.api.plan_dump` take the same
keyword arguments (:class:`DumpArguments`; a plan has no ``with_checksum``):
they are checked and normalised once, into a :class:`DumpOptions` that every
step of the pipeline reads, instead of passing eighteen arguments on one by one.
At run time the dataclass refuses a keyword it does not have, as a function
would. Messages name the Python arguments (``compresslevel``, ``format``...);
the management command translates them into its flags.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from django.core import serializers
from django.db import DEFAULT_DB_ALIAS, connections

from diskette.anonymise.planning import check_choice
from diskette.archive.compression import (
    DEFAULT_LEVEL,
    ZSTD,
    check_compression,
    compression_level,
    zstandard,
)
from diskette.conf import PathValue, get_settings
from diskette.crypto.age_keys import Encryption, encryption
from diskette.crypto.signing import SigningKey, signing_key
from diskette.definitions import FORMATS
from diskette.exceptions import ConfigurationError

if TYPE_CHECKING:
    from typing_extensions import Unpack


class DumpPlanArguments(TypedDict, total=False):
    """The keyword arguments of :func:`plan_dump` (but ``reporter``).

    ``None`` means "as the settings say" for the paths, definitions and storages;
    ``definitions`` are raw definitions (as ``DISKETTE_APPS``) or
    :class:`~diskette.definitions.Definition` objects. ``to`` is where the archive
    goes (a ``STORAGES`` alias, ``"local"`` or a destination, see
    :func:`~diskette.destinations.get_destination`; ``DISKETTE_ARCHIVE_STORAGE``
    by default), ``destination`` a local directory instead of it; ``overwrite``
    lets the archive replace one of the same name there.
    """

    destination: PathValue | None
    to: object
    overwrite: bool
    filename: str | None
    definitions: Sequence[Any] | None
    appconf: PathValue | None
    storages: Sequence[PathValue] | None
    storages_basepath: PathValue | None
    storages_excludes: Sequence[str] | None
    no_storages_excludes: bool
    indent: int | None
    with_data: bool
    with_storages: bool
    apps: Sequence[str] | None
    exclude_apps: Sequence[str] | None
    format: str | None
    compression: str
    compresslevel: int
    using: str
    strict: bool
    anonymise: bool | str
    anonymise_salt: str | None
    encrypt_to: Sequence[str] | None
    passphrase: str | None
    signing_key: PathValue | None
    unsigned: bool


class DumpArguments(DumpPlanArguments, total=False):
    """The keyword arguments of :func:`dump` (but ``reporter``): the plan's,
    whether the result gives the archive's checksum, and whether the destination
    is pruned (``DISKETTE_RETENTION``) once the archive is written."""

    with_checksum: bool
    prune: bool


@dataclass(frozen=True, kw_only=True)
class DumpOptions:
    """A dump's options, with their defaults: the same for a dump and its plan."""

    destination: PathValue | None = None
    to: object = None
    overwrite: bool = False
    prune: bool = False
    filename: str | None = None
    definitions: Sequence[Any] | None = None
    appconf: PathValue | None = None
    storages: Sequence[PathValue] | None = None
    storages_basepath: PathValue | None = None
    storages_excludes: Sequence[str] | None = None
    no_storages_excludes: bool = False
    indent: int | None = None
    with_data: bool = True
    with_storages: bool = True
    with_checksum: bool = True
    apps: Sequence[str] | None = None
    exclude_apps: Sequence[str] | None = None
    format: str | None = None
    #: ``gzip`` (``.tar.gz``, which the original diskette reads), ``zstd``
    #: (``.tar.zst``, needs the ``zstd`` extra) or ``none`` (``.tar``); ``None``
    #: is ``DISKETTE_DUMP_COMPRESSION``.
    compression: str | None = None
    #: The compression's level; ``-1``, the default, is the compression's own
    #: default (6 for gzip, 3 for zstd).
    compresslevel: int = DEFAULT_LEVEL
    using: str = DEFAULT_DB_ALIAS
    strict: bool = False
    #: Anonymise the copy (see :mod:`diskette.anonymise`): ``True`` with the
    #: profile of ``DISKETTE_ANONYMISE``, or a profile's name (``"share"``,
    #: ``"none"``); ``anonymise_salt`` replaces ``DISKETTE_ANONYMISE_SALT``.
    anonymise: bool | str = False
    anonymise_salt: str | None = dataclasses.field(default=None, repr=False)
    #: Who the archive is encrypted to: age or SSH public keys, or files of
    #: them; ``None`` is ``DISKETTE_ENCRYPT_TO``, ``[]`` no encryption.
    encrypt_to: Sequence[str] | None = None
    #: Encrypt to this passphrase instead (for a one-off share).
    passphrase: str | None = dataclasses.field(default=None, repr=False)
    #: The Ed25519 private key file the manifest is signed with; ``None`` is
    #: ``DISKETTE_SIGNING_KEY``.
    signing_key: PathValue | None = None
    #: Leave the archive unsigned, whatever ``DISKETTE_SIGNING_KEY`` says.
    unsigned: bool = False

    @classmethod
    def for_plan(cls, **arguments: Unpack[DumpPlanArguments]) -> DumpOptions:
        """The options of :func:`plan_dump`, which writes no archive to checksum
        and prunes nothing."""
        for name in ("with_checksum", "prune"):
            if name in arguments:
                raise TypeError(
                    f"plan_dump() got an unexpected keyword argument {name!r}"
                )
        return cls(**arguments)

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
            "DISKETTE_DUMP_COMPRESSION": self.compression is not None,
            "DISKETTE_ENCRYPT_TO": self.encrypt_to is not None
            or self.passphrase is not None,
            "DISKETTE_SIGNING_KEY": self.signing_key is not None or self.unsigned,
            "DISKETTE_ARCHIVE_STORAGE": self.to is not None
            or self.destination is not None,
            # Read by a prune only.
            "DISKETTE_RETENTION": not self.prune,
            # Read by an anonymised dump only.
            "DISKETTE_ANONYMISE": self.anonymise is False,
            "DISKETTE_ANONYMISE_SALT": self.anonymise is False
            or self.anonymise_salt is not None,
        }
        return [name for name, yes in replaced.items() if yes]

    def validate(self) -> None:
        """Raise ConfigurationError for a database, format, indent, compression,
        level or destination that is wrong (zstd without its package too)."""
        if self.destination is not None and self.to is not None:
            raise ConfigurationError(
                f"destination {str(self.destination)!r} and to={self.to!r} both say "
                "where the archive goes: give one of them (destination is a local "
                "directory)"
            )
        for name in ("overwrite", "prune"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(
                    f"{name} {getattr(self, name)!r} must be True or False"
                )
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
        compression = self.chosen_compression
        if self.compression is not None:  # the setting is checked with the others
            check_compression(compression)
            if compression == ZSTD:
                zstandard()
        compression_level(compression, self.compresslevel)
        check_choice(self.anonymise, self.anonymise_salt)

    def chosen_encryption(self) -> Encryption | None:
        """What the archive is encrypted to: the arguments', else the setting's."""
        if self.encrypt_to is None and self.passphrase is None:
            conf = get_settings()
            return encryption(conf.encrypt_to, None, where="DISKETTE_ENCRYPT_TO")
        return encryption(self.encrypt_to, self.passphrase, where="encrypt_to")

    def chosen_signing_key(self) -> SigningKey | None:
        """The key the manifest is signed with: the argument's, else the setting's."""
        if self.unsigned:
            return None
        if self.signing_key is not None:
            return signing_key(self.signing_key, "signing_key")
        configured = get_settings().signing_key
        if configured is None:
            return None
        return signing_key(configured, "DISKETTE_SIGNING_KEY")

    @property
    def chosen_compression(self) -> str:
        """The compression the archive gets: the option's, else the setting's."""
        if self.compression is not None:
            return self.compression
        return get_settings().dump_compression


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
