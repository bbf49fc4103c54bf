"""Writing checked members into a private staging directory.

Every path is joined under the staging root one checked component at a time,
files are created exclusively without following links, and directory modes and
times are set last, once nothing more is written inside them.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from diskette.archive.checksums import CHUNK
from diskette.archive.members import MemberInfo
from diskette.exceptions import ArchiveError, UnsafeArchiveError
from diskette.manifest import MANIFEST_NAME, StorageEntry
from diskette.paths import check_member_name, safe_join


class Staging:
    """The wanted members of one archive, written under ``root`` as they are read."""

    def __init__(self, root: Path, wanted: Callable[[str], bool] | None):
        self.root = root
        self.wanted = wanted
        self.directories: list[tuple[Path, MemberInfo]] = []

    def _keeps(self, name: str) -> bool:
        return self.wanted is None or self.wanted(name)

    def write(
        self, member: tarfile.TarInfo, info: MemberInfo, source: BinaryIO | None
    ) -> str | None:
        """Write one member if wanted; return a regular file's SHA-256.

        A file that is not wanted is still read through and hashed.
        """
        _data_filter(member, self.root)
        if info.name == MANIFEST_NAME:
            return None
        keep = self._keeps(info.name)
        if info.is_dir:
            if keep:
                target = safe_join(self.root, info.name)
                make_directories(self.root, info.name)
                self.directories.append((target, info))
            return None
        target = safe_join(self.root, info.name) if keep else None
        if target is not None:
            parent = info.name.rpartition("/")[0]
            if parent:
                make_directories(self.root, parent)
        return _copy_member(source, target, info)

    def finish(self, storages: Iterable[StorageEntry]) -> None:
        """Create the storages' (empty) directories, then set directory modes and times."""
        for storage in storages:
            if not self._keeps(storage.name + "/"):
                continue
            make_directories(self.root, storage.name)
            for relative in storage.empty_directories:
                check_member_name(relative, "empty directory in the manifest")
                make_directories(self.root, f"{storage.name}/{relative.rstrip('/')}")
        for path, info in reversed(self.directories):
            path.chmod(info.mode | 0o700)
            os.utime(path, (info.mtime, info.mtime), follow_symlinks=False)


def _data_filter(member: tarfile.TarInfo, root: Path) -> None:
    """Also run tarfile's own ``data`` filter where the interpreter has it."""
    data_filter = getattr(tarfile, "data_filter", None)
    if data_filter is None:
        return
    try:
        data_filter(member, str(root))
    except tarfile.FilterError as error:
        raise UnsafeArchiveError(
            f"archive member {member.name!r} is refused by tarfile's data filter "
            f"({error}): refusing the archive"
        ) from None


def make_directories(root: Path, relative: str) -> None:
    """Create ``relative`` under ``root`` one checked component at a time.

    The staging root is 0700, so what is inside may take the usual modes (umask):
    restored media must stay readable by the web server once swapped in.
    """
    parts = check_member_name(relative, "directory").split("/")
    for index in range(1, len(parts) + 1):
        path = safe_join(root, "/".join(parts[:index]))
        try:
            path.mkdir(mode=0o777)
        except FileExistsError:
            if path.is_symlink() or not path.is_dir():
                raise UnsafeArchiveError(
                    f"archive path {'/'.join(parts[:index])!r} is both a file and a "
                    "directory: refusing the archive"
                ) from None


def _copy_member(source: BinaryIO | None, target: Path | None, info: MemberInfo) -> str:
    """Copy one member (or just read it when ``target`` is None); return its sha256."""
    digest = hashlib.sha256()
    if source is None:
        raise ArchiveError(f"archive member {info.name!r} cannot be read")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    flags |= getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    descriptor = os.open(target, flags, 0o600) if target is not None else None
    written = 0
    try:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            digest.update(chunk)
            written += len(chunk)
            if descriptor is not None:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(descriptor, view) :]
    finally:
        if descriptor is not None:
            os.close(descriptor)
    if written != info.size:
        raise ArchiveError(
            f"archive member {info.name!r} is truncated: copy or download the archive "
            "again"
        )
    if target is not None:
        target.chmod(info.mode)
        os.utime(target, (info.mtime, info.mtime), follow_symlinks=False)
    return digest.hexdigest()
