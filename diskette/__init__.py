"""diskette: dump and load a Django site's data and media as one verifiable archive.

The errors are imported here at once (they need nothing of Django); the API
functions (and the types :func:`list_archives` and :func:`prune` deal in) on
first use, so that importing diskette never imports Django models.
Type checkers see the functions' real signatures through the ``TYPE_CHECKING``
imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from diskette.exceptions import (
    ArchiveError,
    ChecksumError,
    ConfigurationError,
    DecryptionError,
    DefinitionError,
    DisketteError,
    DownloadError,
    DumpError,
    IntegrityLoadError,
    InterruptedAfterCommitError,
    LoadError,
    LoadInProgressError,
    ManifestError,
    MigrationMismatchError,
    PruneError,
    ReceiverError,
    RecoveryError,
    SignatureError,
    StorageRestoreError,
    UnsafeArchiveError,
    UnsupportedVersionError,
)

if TYPE_CHECKING:
    from diskette.api.archives import list_archives, prune
    from diskette.api.dumping import dump
    from diskette.api.inspecting import inspect
    from diskette.api.loading import load
    from diskette.destinations.listing import ArchiveEntry
    from diskette.destinations.retention import PruneResult, Retention

__version__ = "0.7.0.dev0"

#: The API functions and types, imported on first use.
_LAZY = (
    "dump",
    "load",
    "inspect",
    "list_archives",
    "prune",
    "ArchiveEntry",
    "PruneResult",
    "Retention",
)

__all__ = [
    "ArchiveEntry",
    "ArchiveError",
    "ChecksumError",
    "ConfigurationError",
    "DecryptionError",
    "DefinitionError",
    "DisketteError",
    "DownloadError",
    "DumpError",
    "IntegrityLoadError",
    "InterruptedAfterCommitError",
    "LoadError",
    "LoadInProgressError",
    "ManifestError",
    "MigrationMismatchError",
    "PruneError",
    "PruneResult",
    "ReceiverError",
    "RecoveryError",
    "Retention",
    "SignatureError",
    "StorageRestoreError",
    "UnsafeArchiveError",
    "UnsupportedVersionError",
    "__version__",
    "dump",
    "inspect",
    "list_archives",
    "load",
    "prune",
]


def __getattr__(name: str) -> Any:
    """Expose the API lazily, so that importing diskette never imports Django models."""
    if name in _LAZY:
        from diskette import api

        return getattr(api, name)
    raise AttributeError(f"module 'diskette' has no attribute {name!r}")
