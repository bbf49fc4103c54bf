"""Writing checked members into a private staging directory.

Every directory is made under the staging root one checked component at a time,
files are created exclusively without following links, and directory modes and
times are set last, once nothing more is written inside them. Headers were
checked before (:func:`~diskette.archive.members.check_member`), more strictly
than tarfile's ``data`` filter: no link, device or FIFO at all, names relative
and normalised, permission bits masked.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from diskette.archive.members import MemberInfo
from diskette.archive.source import PIECE
from diskette.exceptions import ArchiveError, UnsafeArchiveError
from diskette.manifest import METADATA_NAMES, StorageEntry
from diskette.paths import check_member_name


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Staging:
    """The wanted members of one archive, written under ``root`` as they are read.

    ``root`` is resolved. Each directory is made once, by its last (checked)
    name component under its parent, made the same way before it: the staging
    root is private (0700) and only this reader writes in it, never a link, so a
    directory made there stays one and nothing needs resolving again. A file is
    joined to its directory the same way.
    """

    def __init__(self, root: Path, wanted: Callable[[str], bool] | None):
        self.root = root
        self.wanted = wanted
        self.directories: list[tuple[Path, MemberInfo]] = []
        self._made: dict[str, Path] = {}

    def _directory(self, relative: str) -> Path:
        """The staging directory ``relative`` (a checked name), made if needed."""
        path = self._made.get(relative)
        if path is not None:
            return path
        missing = [relative]
        while "/" in missing[-1]:
            parent = missing[-1].rpartition("/")[0]
            if parent in self._made:
                break
            missing.append(parent)
        for name in reversed(missing):
            parent, _, leaf = name.rpartition("/")
            path = (self._made[parent] if parent else self.root) / leaf
            _make_directory(path, name)
            self._made[name] = path
        return path

    def _keeps(self, name: str) -> bool:
        return self.wanted is None or self.wanted(name)

    def write(
        self, member: tarfile.TarInfo, info: MemberInfo, source: Readable | None
    ) -> str | None:
        """Write one member if wanted; return a regular file's SHA-256.

        ``info`` is what :func:`~diskette.archive.members.check_member` made of
        the header (its name checked and normalised). A file that is not wanted
        is still read through and hashed.
        """
        if info.name in METADATA_NAMES:
            return None
        keep = self._keeps(info.name)
        if info.is_dir:
            if keep:
                self.directories.append((self._directory(info.name), info))
            return None
        target = None
        if keep:
            parent, _, leaf = info.name.rpartition("/")
            target = (self._directory(parent) if parent else self.root) / leaf
        return _copy_member(source, target, info)

    def finish(self, storages: Iterable[StorageEntry]) -> None:
        """Create the storages' (empty) directories, then set directory modes and times."""
        for storage in storages:
            if not self._keeps(storage.name + "/"):
                continue
            self._directory(check_member_name(storage.name, "storage name"))
            for relative in storage.empty_directories:
                check_member_name(relative, "empty directory in the manifest")
                self._directory(f"{storage.name}/{relative.rstrip('/')}")
        for path, info in reversed(self.directories):
            path.chmod(info.mode | 0o700)
            os.utime(path, (info.mtime, info.mtime), follow_symlinks=False)


def _make_directory(path: Path, name: str) -> None:
    """Make one staging directory; refuse the archive when ``name`` is a file too.

    The staging root is 0700, so what is inside may take the usual modes (umask):
    restored media must stay readable by the web server once swapped in.
    """
    try:
        path.mkdir(mode=0o777)
    except FileExistsError:
        if path.is_symlink() or not path.is_dir():
            raise UnsafeArchiveError(
                f"archive path {name!r} is both a file and a directory: refusing "
                "the archive"
            ) from None


def _copy_member(source: Readable | None, target: Path | None, info: MemberInfo) -> str:
    """Copy one member (or just read it when ``target`` is None); return its sha256.

    The file's mode and time are set through its descriptor, once written.
    """
    digest = hashlib.sha256()
    if source is None:
        raise ArchiveError(f"archive member {info.name!r} cannot be read")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(target, flags, 0o600) if target is not None else None
    written = 0
    try:
        for chunk in iter(lambda: source.read(PIECE), b""):
            digest.update(chunk)
            written += len(chunk)
            if descriptor is not None:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(descriptor, view) :]
        if written != info.size:
            raise ArchiveError(
                f"archive member {info.name!r} is truncated: copy or download the "
                "archive again"
            )
        if descriptor is not None:
            _set_mode_and_time(descriptor, target, info)
    finally:
        if descriptor is not None:
            os.close(descriptor)
    return digest.hexdigest()


def _set_mode_and_time(descriptor: int, target: Path | None, info: MemberInfo) -> None:
    if os.chmod in os.supports_fd and os.utime in os.supports_fd:
        os.fchmod(descriptor, info.mode)
        os.utime(descriptor, (info.mtime, info.mtime))
    elif target is not None:
        target.chmod(info.mode)
        os.utime(target, (info.mtime, info.mtime), follow_symlinks=False)
