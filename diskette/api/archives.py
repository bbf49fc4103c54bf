"""What a destination holds, and the prune that applies a retention to it.

Thin over :mod:`diskette.destinations.listing` and
:mod:`diskette.destinations.retention`, which take a backend: these take what a
setting or an option names (an alias of ``STORAGES``, ``"local"``, a
``{"BACKEND": ...}`` dict or a backend object; ``None`` is
``DISKETTE_ARCHIVE_STORAGE``), and :func:`prune` applies ``DISKETTE_RETENTION``
when it is given no retention. Both read sidecars only, never an archive's body.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from diskette.destinations.config import (
    describe_destination,
    describe_error,
    get_destination,
)
from diskette.destinations.listing import ArchiveEntry
from diskette.destinations.listing import list_archives as list_destination
from diskette.destinations.retention import (
    PruneResult,
    Retention,
    configured_retention,
)
from diskette.destinations.retention import prune as prune_destination
from diskette.exceptions import ConfigurationError, DisketteError, DownloadError
from diskette.problems import kind_of

__all__ = ["ArchiveEntry", "PruneResult", "Retention", "list_archives", "prune"]


def list_archives(destination: object = None) -> list[ArchiveEntry]:
    """The archives of a destination, newest first (see
    :class:`~diskette.destinations.listing.ArchiveEntry`); files that look like
    archives but were not written by diskette are listed as such."""
    backend = get_destination(destination)
    with _reading(destination, backend):
        return list_destination(backend)


def prune(
    retention: Retention | None = None,
    *,
    destination: object = None,
    dry_run: bool = False,
    only: Collection[str] | None = None,
) -> PruneResult:
    """Delete the archives of a destination that ``retention`` does not keep.

    ``retention`` defaults to ``DISKETTE_RETENTION`` (ConfigurationError when it
    is not set). Only archives written by diskette are ever deleted, each before
    its sidecar. ``dry_run`` deletes nothing and says what would go; ``only``
    limits the deletion to the names such a dry run gave (what a user
    confirmed). A backend failing half-way raises PruneError, whose ``result``
    says what was deleted and what was not.
    """
    if retention is None:
        retention = configured_retention()
    elif not isinstance(retention, Retention):
        raise ConfigurationError(
            f"retention {retention!r} ({kind_of(retention)}) is not a Retention: "
            "give Retention(keep_last=7, ...) or None for DISKETTE_RETENTION"
        )
    backend = get_destination(destination)
    with _reading(destination, backend):
        return prune_destination(backend, retention, dry_run=dry_run, only=only)


@contextmanager
def _reading(value: object, backend: object) -> Iterator[None]:
    """Turn what a backend raises while it is read (an unreachable server, wrong
    credentials, a bucket that does not exist) into one DownloadError line.

    Errors of diskette itself pass as they are: a prune that failed half-way is
    a PruneError that says what was deleted.
    """
    try:
        yield
    except DisketteError:
        raise
    except Exception as error:
        raise DownloadError(
            f"reading {describe_destination(value, backend)} failed: "
            f"{describe_error(error)}; nothing was changed"
        ) from error
