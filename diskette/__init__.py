"""diskette: dump and load a Django site's data and media as one verifiable archive.

The errors are imported here at once (they need nothing of Django); the API
functions on first use, so that importing diskette never imports Django models.
Type checkers see the functions' real signatures through the ``TYPE_CHECKING``
imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from diskette.exceptions import (
    ArchiveError,
    ChecksumError,
    ConfigurationError,
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
    RecoveryError,
    StorageRestoreError,
    UnsafeArchiveError,
    UnsupportedVersionError,
)

if TYPE_CHECKING:
    from diskette.api.dumping import dump
    from diskette.api.inspecting import inspect
    from diskette.api.loading import load

__version__ = "0.7.0.dev0"

#: The API functions, imported on first use.
_LAZY = ("dump", "load", "inspect")

__all__ = [
    "ArchiveError",
    "ChecksumError",
    "ConfigurationError",
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
    "RecoveryError",
    "StorageRestoreError",
    "UnsafeArchiveError",
    "UnsupportedVersionError",
    "__version__",
    "dump",
    "inspect",
    "load",
]


def __getattr__(name: str) -> Any:
    """Expose the API lazily, so that importing diskette never imports Django models."""
    if name in _LAZY:
        from diskette import api

        return getattr(api, name)
    raise AttributeError(f"module 'diskette' has no attribute {name!r}")
