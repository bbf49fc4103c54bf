"""What a destination of archives must do: two structural protocols, and their guards.

A backend is any object with the right methods; nothing is inherited, nothing is
registered (PEP 544). The minimum tier, :class:`ArchiveStorage`, is enough to
dump, list, load and prune: five methods any key-value store can offer. The
advanced tier, :class:`AdvancedArchiveStorage`, adds a stream written under a
temporary name and published atomically, and the size and time of an archive
without reading it; an operation that needs one of them asks for it with
:func:`requires_advanced_storage`, which names what is missing.

Every name handed to a backend is a relative POSIX path checked by
:func:`check_destination_name` (the archive-member rule of :mod:`diskette.paths`,
and no trailing slash): a backend never sees ``..``, an absolute path, an empty
component, a backslash or a NUL.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import IO, Protocol, cast, runtime_checkable

from diskette.exceptions import ConfigurationError
from diskette.paths import member_name_problem

#: Names of the temporary files a backend writes before it publishes one: every
#: backend's ``list`` leaves them out.
PARTIAL_PREFIX = ".diskette-partial-"


@runtime_checkable
class ArchiveStorage(Protocol):
    """The minimum tier: read, write, list, delete and test archives by name.

    ``path`` is always a relative POSIX name checked by
    :func:`check_destination_name`; the destination decides what it is relative to.
    """

    def read(self, path: str) -> IO[bytes]:
        """Open ``path`` for reading: a binary file object the caller closes.

        Raise FileNotFoundError when there is no such file.
        """

    def write(self, path: str, content: IO[bytes]) -> None:
        """Store what ``content`` holds (a binary file at its start) under ``path``.

        Read ``content`` in chunks, never whole. Create what ``path`` needs (its
        directories); replace a file already there. Readers see the previous file
        or the complete new one, never a part, wherever the store allows it; on
        failure, nothing is left under ``path`` or under a temporary name.
        """

    def list(self, prefix: str = "") -> list[str]:
        """The names of the files that start with ``prefix`` and hold no ``/`` after it.

        ``list()`` gives the files at the root, ``list("2026/")`` those of the
        directory ``2026``, ``list("2026/site")`` those of ``2026`` whose name
        starts with ``site``: not recursive. Names are relative to the root, files
        only (no directories, no temporary ``.diskette-partial-`` files).
        """

    def delete(self, path: str) -> None:
        """Remove ``path``; a name that does not exist is not an error."""

    def exists(self, path: str) -> bool:
        """Whether something is stored under ``path``."""


@runtime_checkable
class AdvancedArchiveStorage(ArchiveStorage, Protocol):
    """The advanced tier: the minimum one, plus atomic streams, sizes and times."""

    def open_write(self, path: str) -> AbstractContextManager[IO[bytes]]:
        """A binary stream to write ``path`` with, as a context manager.

        The bytes go under a temporary name; on a clean exit from the ``with``
        block they are published under ``path`` at once (replacing a file there),
        on an exception (KeyboardInterrupt included) they are removed and ``path``
        is left as it was. The caller does not close the stream.
        """

    def size(self, path: str) -> int:
        """The size of ``path`` in bytes; FileNotFoundError when it does not exist."""

    def modified(self, path: str) -> datetime:
        """When ``path`` was last written, an aware UTC datetime; FileNotFoundError
        when it does not exist."""


#: The methods of the minimum tier, :class:`ArchiveStorage`.
MINIMUM_METHODS: tuple[str, ...] = ("read", "write", "list", "delete", "exists")
#: Every method of the advanced tier, :class:`AdvancedArchiveStorage` (the
#: minimum ones included).
ADVANCED_METHODS: tuple[str, ...] = (*MINIMUM_METHODS, "open_write", "size", "modified")


def missing_methods(
    backend: object, tier: Sequence[str] = MINIMUM_METHODS
) -> list[str]:
    """The methods of ``tier`` (:data:`MINIMUM_METHODS` or :data:`ADVANCED_METHODS`)
    that ``backend`` (an instance or a class) lacks or holds as a non-callable."""
    return [name for name in tier if not callable(getattr(backend, name, None))]


def requires_advanced_storage(
    backend: object, operation: str
) -> AdvancedArchiveStorage:
    """Return ``backend`` as an advanced one, or raise ConfigurationError naming
    what ``operation`` (a phrase such as ``"diskette_list --sizes"``) misses."""
    missing = missing_methods(backend, ADVANCED_METHODS)
    if missing:
        raise ConfigurationError(
            f"{operation} needs a destination with {', '.join(missing)}: "
            f"{type(backend).__name__} has not"
        )
    return cast(AdvancedArchiveStorage, backend)


def check_destination_name(name: str, what: str = "destination name") -> str:
    """Return ``name`` when it is a relative POSIX file name, else raise
    ConfigurationError saying why (the one guard every backend relies on)."""
    problem = member_name_problem(name)
    if problem is None and name.endswith("/"):
        problem = "ends with '/', which names a directory"
    if problem is not None:
        raise ConfigurationError(
            f"{what} {name!r} {problem}: give a relative POSIX file name, such as "
            "'diskette.tar.gz' or 'site/diskette.tar.gz'"
        )
    return name


def split_prefix(prefix: str) -> tuple[str, str]:
    """Split a ``list`` prefix into its directory (checked, ``""`` for the root)
    and the start of the file names: ``"2026/site"`` → ``("2026", "site")``."""
    if not isinstance(prefix, str):
        raise ConfigurationError(f"list prefix {prefix!r} is not a string")
    if prefix.startswith("/"):
        raise ConfigurationError(
            f"list prefix {prefix!r} is an absolute path: give the start of a "
            "relative POSIX name"
        )
    directory, _, start = prefix.rpartition("/")
    if directory:
        check_destination_name(directory, "list prefix directory")
    if "\x00" in start or "\\" in start:
        raise ConfigurationError(
            f"list prefix {prefix!r} holds a NUL or a backslash: give the start of a "
            "relative POSIX name"
        )
    return directory, start


def is_partial(name: str) -> bool:
    """Whether a file name (its last component) is a backend's temporary file."""
    return name.rpartition("/")[2].startswith(PARTIAL_PREFIX)
