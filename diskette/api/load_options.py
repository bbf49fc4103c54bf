"""What a load is asked to do: one frozen value shared by the load and its plan.

:func:`~diskette.api.load` and :func:`~diskette.api.plan_load` take the same
keyword arguments; they are checked and normalised once, here, so the pipeline
and the plan read the same fields instead of passing sixteen arguments on one by
one. ``LoadArguments`` is those keywords as type checkers see them (the
functions take ``**arguments: Unpack[LoadArguments]``); at run time the
dataclass refuses a keyword it does not have, as a function would.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict

from django.apps import apps as django_apps
from django.db import DEFAULT_DB_ALIAS, connections

from diskette.conf import get_settings
from diskette.crypto.age_keys import Decryption, decryption
from diskette.exceptions import ConfigurationError
from diskette.restore.swaps import MODES

#: A path as callers give it.
PathArgument = str | os.PathLike[str]


class LoadArguments(TypedDict, total=False):
    """The keyword arguments of :func:`load` and :func:`plan_load` (but ``reporter``)."""

    storages_basepath: PathArgument | None
    exclude_data: Iterable[str] | str
    with_data: bool
    with_storages: bool
    storages: Iterable[str] | str | None
    ignorenonexistent: bool
    checksum: str | None
    download_destination: PathArgument | None
    flush: bool
    storages_mode: str
    using: str
    signals: bool
    exact: bool | Iterable[str] | str
    ignore_migrations: bool
    source: object
    identities: Iterable[PathArgument] | None
    passphrase: str | None
    allow_unsigned: bool


@dataclass(frozen=True, kw_only=True)
class LoadOptions:
    """A load's options, checked: the same for a load and for its plan.

    ``exact`` is True, False or the checked models' labels (lower case), as the
    loader takes it; ``exclude_data`` and ``storages`` are tuples of names.
    ``source`` is where an archive given by name (or ``latest``) is looked up: an
    alias of ``STORAGES``, ``"local"`` or a backend; ``None`` is
    ``DISKETTE_ARCHIVE_STORAGE`` (see :mod:`diskette.destinations.fetch`).
    """

    storages_basepath: PathArgument | None = None
    exclude_data: tuple[str, ...] = ()
    with_data: bool = True
    with_storages: bool = True
    storages: tuple[str, ...] | None = None
    ignorenonexistent: bool = False
    checksum: str | None = None
    download_destination: PathArgument | None = None
    flush: bool = False
    storages_mode: str = "replace"
    using: str = DEFAULT_DB_ALIAS
    signals: bool = True
    exact: bool | tuple[str, ...] = False
    ignore_migrations: bool = False
    source: object = None
    #: Identity files that may open an encrypted archive; ``None`` is
    #: ``DISKETTE_IDENTITY_FILES``.
    identities: tuple[PathArgument, ...] | None = None
    #: The passphrase of an archive encrypted to one.
    passphrase: str | None = field(default=None, repr=False)
    #: Load an archive that no key of ``DISKETTE_TRUSTED_KEYS`` signed, even when
    #: it was fetched from a URL or a remote destination.
    allow_unsigned: bool = False

    @classmethod
    def create(
        cls,
        *,
        exclude_data: Iterable[str] | str = (),
        storages: Iterable[str] | str | None = None,
        exact: bool | Iterable[str] | str = False,
        using: str = DEFAULT_DB_ALIAS,
        storages_mode: str = "replace",
        identities: Iterable[PathArgument] | PathArgument | None = None,
        **others: object,
    ) -> LoadOptions:
        """Check a caller's keyword arguments and give them their one form.

        A wrong database alias, storages mode or model label is refused here,
        before anything is read or locked.
        """
        _check_target(using, storages_mode)
        return cls(
            exclude_data=_names(exclude_data),
            storages=None if storages is None else _names(storages),
            exact=_exact_models(exact),
            using=using,
            storages_mode=storages_mode,
            identities=None if identities is None else _names(identities),
            **others,  # type: ignore[arg-type]  # LoadArguments types them
        )

    def decryption(self) -> Decryption | None:
        """What may open an encrypted archive: the arguments, else the setting."""
        files = self.identities
        if files is None:
            files = tuple(get_settings().identity_files)
        return decryption(files, self.passphrase)

    @property
    def loader_options(self) -> dict[str, object]:
        """What the loader takes from the options, as its keyword arguments."""
        return {
            "ignorenonexistent": self.ignorenonexistent,
            "signals": self.signals,
            "exact": self.exact,
        }


def _names(
    names: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
) -> tuple[str, ...]:
    """One name or several, as a tuple of strings."""
    if isinstance(names, (str, os.PathLike)):
        return (str(names),)
    return tuple(str(name) for name in names or ())


def check_database(using: str) -> None:
    """Refuse a database alias that is not in ``DATABASES``."""
    if using not in connections:
        raise ConfigurationError(
            f"database {using!r} is not in DATABASES: use one of "
            f"{', '.join(connections)}"
        )


def _check_target(using: str, storages_mode: str) -> None:
    """Refuse a wrong database alias or storages mode."""
    check_database(using)
    if storages_mode not in MODES:
        raise ConfigurationError(
            f"storages mode {storages_mode!r} is unknown: use one of {', '.join(MODES)}"
        )


def _exact_models(exact: bool | Iterable[str] | str) -> bool | tuple[str, ...]:
    """``exact`` as True/False or the checked model labels (lower case)."""
    if isinstance(exact, bool):
        return exact
    labels = []
    for label in _names(exact):
        try:
            labels.append(django_apps.get_model(label)._meta.label_lower)
        except (LookupError, ValueError):
            raise ConfigurationError(
                f"exact: {label!r} is not an installed model: give it as "
                "'app_label.ModelName'"
            ) from None
    return tuple(labels)
