"""Where archives are kept: a directory, a Django storage, or any backend.

A destination is any object with the methods of
:class:`~diskette.destinations.protocols.ArchiveStorage` (the minimum tier) or
:class:`~diskette.destinations.protocols.AdvancedArchiveStorage`; nothing is
inherited. Two are built in: :class:`~diskette.destinations.local.LocalDestination`
(a directory) and :class:`~diskette.destinations.django_storage.StorageDestination`
(any Django storage: ``FileSystemStorage``, S3, SFTP…).
:func:`~diskette.destinations.config.get_destination` makes the one that
``DISKETTE_ARCHIVE_STORAGE``, ``--to`` or ``--from`` names.

This package imports no model and nothing of the dump or load pipelines: they
use it, never the other way.
"""

from __future__ import annotations

from diskette.destinations.config import destination_problems, get_destination
from diskette.destinations.django_storage import StorageDestination
from diskette.destinations.local import LocalDestination
from diskette.destinations.protocols import (
    ADVANCED_METHODS,
    MINIMUM_METHODS,
    AdvancedArchiveStorage,
    ArchiveStorage,
    check_destination_name,
    missing_methods,
    requires_advanced_storage,
)

__all__ = [
    "ADVANCED_METHODS",
    "MINIMUM_METHODS",
    "AdvancedArchiveStorage",
    "ArchiveStorage",
    "LocalDestination",
    "StorageDestination",
    "check_destination_name",
    "destination_problems",
    "get_destination",
    "missing_methods",
    "requires_advanced_storage",
]
