"""The archive writer: members streamed into a compressed tar that appears only when complete."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import tempfile
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from diskette.archive.checksums import HashingWriter
from diskette.archive.compressed_member import open_compressor
from diskette.archive.compression import (
    DEFAULT_LEVEL,
    GZIP,
    check_compression,
    compression_level,
)
from diskette.archive.tar_blocks import (
    DIRECTORY,
    end_of_archive,
    member_header,
    padding,
)
from diskette.owner import hold_file

if TYPE_CHECKING:
    from diskette.crypto.age_keys import Encryption

#: Read and write buffer when copying member content.
COPY_BUFFER = 1024 * 1024


class SourceShrank(OSError):
    """A member's source ended before the size its header gives (it shrank)."""


@dataclass(frozen=True)
class WrittenMember:
    """A regular file member as written: its name, size and SHA-256."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class WrittenArchive:
    """The finished archive: where it is, its size and its BLAKE2b-512."""

    path: Path
    size: int
    blake2b: str


class ArchiveWriter:
    """Stream members into a tar archive that appears under its name only when complete.

    ``compression`` is ``gzip`` (the default, in blocks compressed by several
    threads), ``zstd`` (zstd's own threads) or ``none``; ``compresslevel`` is
    its level, :data:`~diskette.archive.compression.DEFAULT_LEVEL` for the
    compression's default.

    The archive is written to ``.<name>.XXXXXXXX.part`` beside its final path,
    0600 and locked by this process while it is written (a next run tells a dead
    writer's part file by its free lock); :meth:`commit` flushes it to disk, gives
    it ``permissions`` and renames it. Any exception (KeyboardInterrupt included)
    inside the ``with`` block removes the temporary file. Owners are dropped
    (uid/gid 0, no user or group names); mtimes and permission bits are kept.
    With ``overwrite=False`` the commit never replaces a file that appeared under
    the final name meanwhile: it raises FileExistsError (see :func:`publish_new`).
    With ``encryption``, the compressed stream is encrypted with age on its way
    to the file (:mod:`diskette.crypto.age_stream`); the file's checksum is the
    encrypted file's.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        permissions: int = 0o600,
        compresslevel: int = DEFAULT_LEVEL,
        overwrite: bool = True,
        compression: str = GZIP,
        encryption: Encryption | None = None,
    ):
        self.path = Path(path)
        self.encryption = encryption
        self.overwrite = overwrite
        self.permissions = permissions
        self.compression = check_compression(compression)
        self.compresslevel = compression_level(self.compression, compresslevel)
        self.members: dict[str, str] = {}
        self.temp_path: Path | None = None
        self._file: Any = None
        self._hashing: Any = None
        self._body: Any = None  # what the compressed stream goes to
        self._gzip: Any = None
        self._tar: _Positioned | None = None
        self._done = False

    def __enter__(self) -> ArchiveWriter:
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".part", dir=self.path.parent
        )
        self.temp_path = Path(name)
        try:
            self._file = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            self.abort()
            raise
        try:
            hold_file(self._file)
        except BaseException:
            self.abort()
            raise
        self._hashing = HashingWriter(self._file, hashlib.blake2b())
        self._body = self._hashing
        try:
            if self.encryption is not None:
                from diskette.crypto.age_stream import EncryptingWriter

                self._body = EncryptingWriter(self._hashing, self.encryption)
            self._gzip = open_compressor(
                self._body, self.compression, self.compresslevel
            )
        except BaseException:
            self.abort()
            raise
        self._tar = _Positioned(self._gzip)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is not None or not self._done:
            self.abort()

    def add_stream(
        self, name: str, stream: BinaryIO, size: int, *, mtime: float, mode: int = 0o600
    ) -> WrittenMember:
        """Add ``size`` bytes read from ``stream`` as a regular file member.

        Raises SourceShrank when ``stream`` ends before ``size`` bytes.
        """
        assert self._tar is not None
        self._tar.write(member_header(name, size=size, mtime=mtime, mode=mode & 0o777))
        digest = hashlib.sha256()
        left = size
        while left:
            data = stream.read(min(COPY_BUFFER, left))
            if not data:
                raise SourceShrank(f"it ended {left} bytes short of its {size} bytes")
            digest.update(data)
            self._tar.write(data)
            left -= len(data)
        self._tar.write(padding(size))
        member = WrittenMember(name=name, size=size, sha256=digest.hexdigest())
        self.members[name] = member.sha256
        return member

    def add_compressed(
        self,
        name: str,
        source: str | os.PathLike,
        *,
        size: int,
        sha256: str,
        mode: int = 0o600,
    ) -> WrittenMember:
        """Add a member whose content ``source`` holds already compressed by this
        archive's compression (a :class:`~diskette.archive.compressed_member.CompressedFile`
        of ``size`` bytes whose SHA-256 is ``sha256``): its bytes are copied as
        they are, between whole members or frames of the archive's stream."""
        assert self._tar is not None
        with open(source, "rb") as stream:
            mtime = os.fstat(stream.fileno()).st_mtime
            self._tar.write(member_header(name, size=size, mtime=mtime, mode=mode))
            self._gzip.end_segment()
            while data := stream.read(COPY_BUFFER):
                self._body.write(data)
        self._tar.position += size
        self._tar.write(padding(size))
        self.members[name] = sha256
        return WrittenMember(name=name, size=size, sha256=sha256)

    def add_file(
        self,
        name: str,
        source: str | os.PathLike,
        *,
        mtime: float | None = None,
        mode: int | None = None,
    ) -> WrittenMember:
        """Add a file from disk; its size is taken once it is open.

        Raises FileNotFoundError if it vanished, and SourceShrank if it shrank while
        being read.
        """
        with open(source, "rb") as stream:
            st = os.fstat(stream.fileno())
            return self.add_stream(
                name,
                stream,
                st.st_size,
                mtime=st.st_mtime if mtime is None else mtime,
                mode=stat.S_IMODE(st.st_mode) if mode is None else mode,
            )

    def add_bytes(
        self, name: str, data: bytes, *, mtime: float | None = None, mode: int = 0o600
    ) -> WrittenMember:
        """Add a member from memory (the manifest)."""
        return self.add_stream(
            name,
            io.BytesIO(data),
            len(data),
            mtime=time.time() if mtime is None else mtime,
            mode=mode,
        )

    def add_directory(self, name: str, *, mtime: float, mode: int = 0o700) -> None:
        """Add a directory entry (for empty directories)."""
        assert self._tar is not None
        self._tar.write(
            member_header(name, size=0, mtime=mtime, mode=mode & 0o777, kind=DIRECTORY)
        )

    def commit(self) -> WrittenArchive:
        """Finish the archive, flush it to disk and rename it to its final name."""
        assert self._tar is not None
        self._tar.write(end_of_archive(self._tar.position))
        self._gzip.close()
        if self._body is not self._hashing:
            self._body.close()
        self._hashing.close()
        self._file.flush()
        os.fchmod(self._file.fileno(), self.permissions)
        os.fsync(self._file.fileno())
        # Renamed while still locked: a clean-up never sees it unowned.
        if self.overwrite:
            self.temp_path.replace(self.path)
        else:
            publish_new(self.temp_path, self.path)
        self._done = True
        self._file.close()
        try:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            pass
        else:
            try:
                os.fsync(dir_fd)
            except OSError:
                pass
            finally:
                os.close(dir_fd)
        return WrittenArchive(
            path=self.path,
            size=self._hashing.size,
            blake2b=self._hashing.digest.hexdigest(),
        )

    def abort(self) -> None:
        """Close and remove the temporary file; never raises."""
        if self._gzip is not None:
            with suppress(Exception):  # stop compressing before closing the tar
                self._gzip.abort()
        if self._body is not None and self._body is not self._hashing:
            self._body.abort()
        if self._hashing is not None:
            self._hashing.abort()
        if self._file is not None:
            with suppress(Exception):  # the temp file goes away anyway
                self._file.close()
        if self.temp_path is not None and not self._done:
            self.temp_path.unlink(missing_ok=True)
        self._done = True


class _Positioned:
    """The tar stream: counts what was written, for the padding of its end."""

    def __init__(self, raw: Any):
        self.raw = raw
        self.position = 0

    def write(self, data: bytes) -> None:
        self.raw.write(data)
        self.position += len(data)


#: Errors of ``os.link`` that mean "this file system has no hard links".
_NO_HARD_LINKS = {
    errno.EPERM,
    errno.ENOTSUP,
    errno.EOPNOTSUPP,
    errno.EMLINK,
    errno.ENOSYS,
}


def publish_new(temporary: Path, path: Path) -> None:
    """Give ``temporary`` the name ``path`` unless ``path`` exists (FileExistsError).

    A hard link is created atomically and fails when the name is taken (POSIX
    ``link``), which a rename cannot do portably (``renameat2`` with
    ``RENAME_NOREPLACE`` is Linux only and not in the standard library); the
    temporary name is then removed. A file system without hard links (FAT, some
    network and FUSE file systems) gets a check then a rename: a file created
    between the two would be replaced.
    """
    try:
        os.link(temporary, path)
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        if os.path.lexists(path):
            raise FileExistsError(
                errno.EEXIST, os.strerror(errno.EEXIST), str(path)
            ) from None
        temporary.replace(path)
        return
    temporary.unlink()
