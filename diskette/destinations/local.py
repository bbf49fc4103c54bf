"""A directory of this machine as a destination of archives (the advanced tier).

Nothing is half-written under an archive's name: every write goes to a
``.diskette-partial-`` file in the same directory, is flushed to disk, then
renamed over the final name (``os.replace``, atomic on POSIX). Any exception,
KeyboardInterrupt and a full disk included, removes the temporary file.

Archives are private: missing directories are created 0700, files get
``DISKETTE_DUMP_PERMISSIONS`` (0600 by default) before they are published. No
name is followed out of the location through a symbolic link.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from diskette.conf import PathValue, get_settings
from diskette.destinations.protocols import (
    PARTIAL_PREFIX,
    check_destination_name,
    is_partial,
    split_prefix,
)
from diskette.exceptions import ConfigurationError
from diskette.paths import make_private_directories

#: Bytes copied at a time from a content stream to its file.
CHUNK_SIZE = 1024 * 1024


class LocalDestination:
    """Archives in the directory ``location``, created (0700) on the first write.

    ``permissions`` is the mode of the files written; ``None`` reads
    ``DISKETTE_DUMP_PERMISSIONS`` when a file is written (so an instance made in
    the settings module follows the setting).
    """

    def __init__(self, location: PathValue, *, permissions: int | None = None):
        self.location = Path(location).expanduser()
        self.permissions = permissions

    def __repr__(self) -> str:
        return f"LocalDestination({str(self.location)!r})"

    # -- the minimum tier ------------------------------------------------------

    def read(self, path: str) -> IO[bytes]:
        """Open ``path`` for reading (FileNotFoundError when absent)."""
        return open(self._followed(path), "rb")  # noqa: SIM115 - the caller closes it

    def write(self, path: str, content: IO[bytes]) -> None:
        """Copy ``content`` to ``path`` in chunks, published atomically."""
        with self.open_write(path) as stream:
            shutil.copyfileobj(content, stream, CHUNK_SIZE)

    def list(self, prefix: str = "") -> list[str]:
        """Regular files of the prefix's directory whose names start with it.

        Directories, symbolic links and temporary files are left out; a missing
        directory lists nothing.
        """
        directory, start = split_prefix(prefix)
        folder = self._followed(directory) if directory else self._root()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(
            f"{directory}/{entry.name}" if directory else entry.name
            for entry in entries
            if entry.name.startswith(start)
            and not is_partial(entry.name)
            and entry.is_file(follow_symlinks=False)
        )

    def delete(self, path: str) -> None:
        """Remove ``path`` (a link is removed, not what it points to)."""
        self._placed(path).unlink(missing_ok=True)

    def exists(self, path: str) -> bool:
        """Whether anything (a file, a directory, a link) is at ``path``."""
        return os.path.lexists(self._placed(path))

    # -- the advanced tier -----------------------------------------------------

    @contextmanager
    def open_write(self, path: str) -> Iterator[IO[bytes]]:
        """A stream to a temporary file, renamed to ``path`` on a clean exit."""
        target = self._placed(path)
        make_private_directories(target.parent)
        descriptor, temporary = tempfile.mkstemp(
            prefix=PARTIAL_PREFIX, dir=target.parent
        )
        try:
            stream = os.fdopen(descriptor, "wb")
        except BaseException:
            os.close(descriptor)
            Path(temporary).unlink()
            raise
        try:
            with stream:
                yield stream
                stream.flush()
                os.fchmod(stream.fileno(), self._mode())
                os.fsync(stream.fileno())
            Path(temporary).replace(target)
        except BaseException:
            with suppress(OSError):  # the error that brought us here matters more
                Path(temporary).unlink()
            raise
        sync_directory(target.parent)

    def size(self, path: str) -> int:
        """The size of ``path`` in bytes."""
        return self._followed(path).stat().st_size

    def modified(self, path: str) -> datetime:
        """The modification time of ``path``, in UTC."""
        mtime = self._followed(path).stat().st_mtime
        return datetime.fromtimestamp(mtime, tz=timezone.utc)

    # -- where names lead ------------------------------------------------------

    def path(self, path: str) -> Path:
        """The file ``path`` names on this machine, links resolved and refused
        when they lead out: what a load reads in place, without a copy."""
        return self._followed(path)

    def _root(self) -> Path:
        return self.location.resolve()

    def _placed(self, path: str) -> Path:
        """``path`` under the location, its directories resolved and proved inside.

        The last component is not followed: a write replaces a link there, a
        delete removes the link.
        """
        name = check_destination_name(path)
        root = self._root()
        target = root.joinpath(*name.split("/"))
        parent = target.parent.resolve()
        if not parent.is_relative_to(root):
            raise _outside(name, root)
        return parent / target.name

    def _followed(self, path: str) -> Path:
        """``path`` with every link resolved, refused when it leads out."""
        root = self._root()
        resolved = self._placed(path).resolve()
        if not resolved.is_relative_to(root):
            raise _outside(path, root)
        return resolved

    def _mode(self) -> int:
        if self.permissions is not None:
            return self.permissions
        mode: int = get_settings().dump_permissions
        return mode


def _outside(name: str, root: Path) -> ConfigurationError:
    return ConfigurationError(
        f"destination name {name!r} leads outside the destination {str(root)!r} "
        "through a symbolic link: refused; remove the link or write elsewhere"
    )


def sync_directory(directory: PathValue) -> None:
    """Flush a rename to disk; a file system that cannot is not an error."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
