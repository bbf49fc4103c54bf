"""The only user of :mod:`tarfile`: write, read, verify and extract archives safely."""

from __future__ import annotations

import collections
import gzip
import hashlib
import hmac
import io
import os
import stat
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from diskette.exceptions import (
    ArchiveError,
    ChecksumError,
    ConfigurationError,
    ManifestError,
    UnsafeArchiveError,
)
from diskette.manifest import DATA_PREFIX, MANIFEST_NAME, MAX_MANIFEST_SIZE, Manifest
from diskette.owner import hold_file
from diskette.paths import check_member_name, safe_join

# ---- writing ----------------------------------------------------------------

#: Read and write buffer when copying member content.
COPY_BUFFER = 1024 * 1024
#: Uncompressed bytes per gzip member: each is compressed by one thread.
GZIP_BLOCK = 1024 * 1024
#: Most threads compressing at once.
GZIP_THREADS = 4


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


class _HashingWriter:
    """A write-only file wrapper that hashes what goes through it."""

    def __init__(self, raw, digest):
        self.raw = raw
        self.digest = digest
        self.size = 0

    def write(self, data) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


class _ParallelGzip:
    """A write-only gzip stream compressed by several threads at once.

    What is written is cut into blocks of :data:`GZIP_BLOCK` bytes, each
    compressed into a gzip member of its own by a thread of a pool (zlib releases
    the GIL, so they really run in parallel) and written in order. The result is
    a multi-member gzip file (RFC 1952), which gzip, tar and Python's gzip module
    read as one stream; blocks of 1 MiB cost well under 1 % in size. At most two
    blocks per thread are held in memory.
    """

    def __init__(self, raw, *, compresslevel: int, threads: int):
        self.raw = raw
        self.compresslevel = compresslevel
        self.buffer = bytearray()
        self.pending: collections.deque = collections.deque()
        self.limit = 2 * threads
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="diskette-gzip")
        self.members = 0

    def write(self, data) -> int:
        self.buffer += data
        while len(self.buffer) >= GZIP_BLOCK:
            block = bytes(self.buffer[:GZIP_BLOCK])
            del self.buffer[:GZIP_BLOCK]
            self._submit(block)
        return len(data)

    def _submit(self, block: bytes) -> None:
        future = self.pool.submit(gzip.compress, block, self.compresslevel, mtime=0)
        self.pending.append(future)
        self.members += 1
        while len(self.pending) > self.limit:
            self.raw.write(self.pending.popleft().result())

    def flush(self) -> None:
        """Nothing to do: blocks are written as they are compressed."""

    def close(self) -> None:
        """Compress what is left and write every pending member."""
        if self.buffer or not self.members:
            self._submit(bytes(self.buffer))
            self.buffer.clear()
        while self.pending:
            self.raw.write(self.pending.popleft().result())
        self.pool.shutdown()

    def abort(self) -> None:
        """Drop what is pending; no thread is left running."""
        self.pending.clear()
        self.buffer.clear()
        self.pool.shutdown(wait=True, cancel_futures=True)


class _HashingReader:
    """Read exactly what tarfile asks for, hashing it."""

    def __init__(self, raw, digest):
        self.raw = raw
        self.digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data


class ArchiveWriter:
    """Stream members into a ``.tar.gz`` that appears under its name only when complete.

    The archive is written to ``.<name>.XXXXXXXX.part`` beside its final path,
    0600 and locked by this process while it is written (a next run tells a dead
    writer's part file by its free lock); :meth:`commit` flushes it to disk, gives
    it ``permissions`` and renames it. Any exception (KeyboardInterrupt included)
    inside the ``with`` block removes the temporary file. Owners are dropped
    (uid/gid 0, no user or group names); mtimes and permission bits are kept.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        permissions: int = 0o600,
        compresslevel: int = 6,
    ):
        self.path = Path(path)
        self.permissions = permissions
        self.compresslevel = compresslevel
        self.members: dict[str, str] = {}
        self.temp_path: Path | None = None
        self._file = None
        self._hashing = None
        self._gzip = None
        self._tar = None
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
        self._hashing = _HashingWriter(self._file, hashlib.blake2b())
        self._gzip = _ParallelGzip(
            self._hashing,
            compresslevel=self.compresslevel,
            threads=max(1, min(GZIP_THREADS, os.cpu_count() or 1)),
        )
        self._tar = tarfile.open(
            fileobj=self._gzip, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8"
        )
        self._tar.copybufsize = COPY_BUFFER
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or not self._done:
            self.abort()

    def _info(self, name: str, *, mtime: float, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mtime = mtime
        info.mode = mode & 0o777
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def add_stream(
        self, name: str, stream, size: int, *, mtime: float, mode: int = 0o600
    ) -> WrittenMember:
        """Add ``size`` bytes read from ``stream`` as a regular file member."""
        info = self._info(name, mtime=mtime, mode=mode)
        info.size = size
        digest = hashlib.sha256()
        self._tar.addfile(info, _HashingReader(stream, digest))
        member = WrittenMember(name=name, size=size, sha256=digest.hexdigest())
        self.members[name] = member.sha256
        return member

    def add_file(
        self,
        name: str,
        source: str | os.PathLike,
        *,
        mtime: float | None = None,
        mode: int | None = None,
    ) -> WrittenMember:
        """Add a file from disk; its size is taken once it is open.

        Raises FileNotFoundError if it vanished, and OSError if it shrank while
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
        info = self._info(name, mtime=mtime, mode=mode)
        info.type = tarfile.DIRTYPE
        self._tar.addfile(info)

    def commit(self) -> WrittenArchive:
        """Finish the archive, flush it to disk and rename it to its final name."""
        self._tar.close()
        self._gzip.close()
        self._file.flush()
        os.fchmod(self._file.fileno(), self.permissions)
        os.fsync(self._file.fileno())
        # Renamed while still locked: a clean-up never sees it unowned.
        self.temp_path.replace(self.path)
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
        for closing in (self._tar, self._file):
            if closing is not None:
                with suppress(Exception):  # the temp file goes away anyway
                    closing.close()
        if self.temp_path is not None and not self._done:
            self.temp_path.unlink(missing_ok=True)
        self._done = True


# ---- end of writing ---------------------------------------------------------

# ---- reading ----------------------------------------------------------------
# An archive is untrusted input. Reading makes two passes over ONE open file
# descriptor: the first checks every member header and reads the manifest without
# writing anything; the second extracts into a private staging directory while
# hashing, and refuses any difference from the first pass.

#: Tar framing allowed per member on top of its content (header, pax/long name, padding).
_MEMBER_OVERHEAD = 4096
#: Tar end-of-archive blocks and record padding.
_ARCHIVE_OVERHEAD = 20 * 1024
#: Restored files and directories keep their permission bits, as tarfile's ``data``
#: filter does: never setuid, setgid or sticky, never writable by group or others.
RESTORED_MODE_MASK = 0o755
_CHUNK = 1024 * 1024
_READ_ERRORS = (tarfile.TarError, EOFError, OSError, zlib.error)


class _TooLarge(Exception):
    """Raised inside the decompressed stream when it goes past its limit."""


class _HugeHeader(Exception):
    """A pax or GNU long-name header too large to be a real one."""


#: Largest pax / GNU long-name header data accepted (tarfile reads it into memory).
_MAX_HEADER_DATA = 64 * 1024
_HEADER_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuse an oversized pax or long-name header before tarfile reads it whole."""

    def _proc_member(self, tarfile):  # type: ignore[override]
        if self.type in _HEADER_TYPES and self.size > _MAX_HEADER_DATA:
            raise _HugeHeader(self.size)
        return super()._proc_member(tarfile)


class _LimitedGzip:
    """A decompressed view of an archive that counts bytes and stops at a limit.

    A gzip bomb is refused while reading, before anything is written.
    """

    def __init__(self, raw: BinaryIO, limit: int):
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self.count = 0
        self.limit = limit

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = _CHUNK
        data = self._gzip.read(size)
        self.count += len(data)
        if self.count > self.limit:
            raise _TooLarge
        return data

    def drain(self) -> None:
        """Read to the end so that gzip checks its trailer (CRC, length)."""
        while self.read(_CHUNK):
            pass


@dataclass(frozen=True)
class MemberInfo:
    """One checked archive member: a regular file or a directory."""

    name: str
    is_dir: bool
    size: int
    mtime: float
    mode: int  # permission bits to restore, masked by RESTORED_MODE_MASK


def archive_checksum(path: str | os.PathLike) -> str:
    """BLAKE2b-512 hex digest of a whole archive file."""
    digest = hashlib.blake2b()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def normalise_checksum(value: str) -> str:
    """Return a BLAKE2b-512 hex digest in lower case, or raise ConfigurationError."""
    text = str(value).strip().lower()
    if len(text) != 128 or any(char not in "0123456789abcdef" for char in text):
        raise ConfigurationError(
            f"--checksum {value!r} is not a BLAKE2b-512 digest: give the 128 "
            "hexadecimal characters printed by the dump (or by 'b2sum')"
        )
    return text


def _member_type_problem(member: tarfile.TarInfo) -> str | None:
    if member.issparse():
        return "is a sparse file"
    if member.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE):
        return None
    if member.issym():
        return f"is a symbolic link (to {member.linkname!r})"
    if member.islnk():
        return f"is a hard link (to {member.linkname!r})"
    if member.ischr() or member.isblk():
        return "is a device file"
    if member.isfifo():
        return "is a FIFO"
    return f"has an unsupported member type {member.type!r}"


#: Modification times restored, in seconds around 1970: what tar's 11 octal
#: digits hold, either way (pax headers can say anything, even ``nan``).
MTIME_RANGE = (-(8**11), 8**11)
#: Largest user or group id a header may carry (they are not restored).
_MAX_ID = 2**32 - 1
#: Longest user or group name a header may carry (they are not restored).
_MAX_OWNER_NAME = 255


def _header_value_problem(member: tarfile.TarInfo) -> str | None:
    """What is out of range in a member header's values, or None.

    tarfile turns pax strings into numbers without bounds; the values used when
    extracting (size, mode, mtime) must be ones the file system can take.
    """
    size, mode, mtime = member.size, member.mode, member.mtime
    if type(size) is not int or size < 0:
        return f"a size of {_shown(size)} bytes"
    if type(mode) is not int or not 0 <= mode <= 0o7777:
        return f"a mode of {_shown(mode)}, not within 0..0o7777"
    low, high = MTIME_RANGE
    if type(mtime) not in (int, float) or not low < mtime < high:
        return (
            f"a modification time of {_shown(mtime)}, not a number of seconds "
            f"within {low}..{high}"
        )
    for field in ("uid", "gid"):
        value = getattr(member, field)
        if type(value) is not int or not 0 <= value <= _MAX_ID:
            return f"a {field} of {_shown(value)}, not within 0..{_MAX_ID}"
    for field in ("uname", "gname"):
        value = getattr(member, field)
        if not isinstance(value, str) or len(value) > _MAX_OWNER_NAME:
            return f"a {field} longer than {_MAX_OWNER_NAME} characters"
    return None


def _shown(value: object) -> str:
    """A header value for a one-line message: at most 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _ancestors(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:index]) for index in range(1, len(parts))]


class ArchiveReader:
    """Check, then extract, an untrusted archive; use it as a context manager.

    ``inspect()`` checks every member and returns the manifest without writing
    anything; ``extract()`` writes the wanted members into a staging directory and
    verifies every checksum the manifest holds.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        max_size: int,
        max_members: int,
        minimal_size: int = 0,
    ):
        self.path = Path(path)
        self.max_size = int(max_size)
        self.max_members = int(max_members)
        self.minimal_size = int(minimal_size or 0)
        self.manifest: Manifest | None = None
        self.members: list[MemberInfo] = []
        self._manifest_bytes: bytes | None = None
        self._file: BinaryIO | None = None

    # -- context ---------------------------------------------------------------

    def __enter__(self) -> ArchiveReader:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - closed by close()
            size = os.fstat(self._file.fileno()).st_size
        except FileNotFoundError:
            raise ArchiveError(
                f"archive {str(self.path)!r} does not exist: check the path"
            ) from None
        except OSError as error:
            raise ArchiveError(
                f"archive {str(self.path)!r} cannot be read ({error.strerror or error})"
            ) from None
        if not stat.S_ISREG(os.fstat(self._file.fileno()).st_mode):
            self.close()
            raise ArchiveError(f"archive {str(self.path)!r} is not a regular file")
        if size == 0 or size < self.minimal_size:
            self.close()
            raise ArchiveError(
                f"archive {str(self.path)!r} is {size} bytes, smaller than "
                f"DISKETTE_LOAD_MINIMAL_FILESIZE ({self.minimal_size}): it is empty "
                "or broken, dump it again"
            )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- checksum ----------------------------------------------------------------

    def verify_checksum(self, expected: str) -> None:
        """Compare the BLAKE2b-512 of the open file with ``expected``."""
        expected = normalise_checksum(expected)
        digest = hashlib.blake2b()
        stream = self._stream_file()
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
        if not hmac.compare_digest(digest.hexdigest(), expected):
            raise ChecksumError(
                f"archive {self.path.name!r} has BLAKE2b-512 {digest.hexdigest()[:16]}…, "
                f"not the expected {expected[:16]}…: it was altered or is not the "
                "archive you meant; download or copy it again"
            )

    # -- reading -----------------------------------------------------------------

    def _stream_file(self) -> BinaryIO:
        if self._file is None:
            raise ArchiveError("the archive is not open")
        self._file.seek(0)
        return self._file

    def _members(self, limit: int):
        """Yield ``(tar, member, reader)`` for each member; use inside _read_errors()."""
        reader = _LimitedGzip(self._stream_file(), limit)
        with tarfile.open(  # type: ignore[call-overload]
            fileobj=reader, mode="r|", tarinfo=_BoundedTarInfo
        ) as tar:
            for member in tar:
                yield tar, member, reader
        reader.drain()

    @contextmanager
    def _read_errors(self):
        """Turn what tarfile, gzip and zlib raise into one-line ArchiveErrors."""
        name = self.path.name
        try:
            yield
        except _TooLarge:
            raise UnsafeArchiveError(
                f"archive {name!r} decompresses to more than DISKETTE_LOAD_MAX_SIZE "
                f"({self.max_size} bytes): refused as a possible gzip bomb; raise the "
                "setting if the archive is genuine"
            ) from None
        except _HugeHeader as error:
            raise UnsafeArchiveError(
                f"archive {name!r} has an extended header of {error.args[0]} bytes "
                f"(more than {_MAX_HEADER_DATA}): refusing the archive"
            ) from None
        except gzip.BadGzipFile as error:
            raise ArchiveError(
                f"archive {name!r} is not a gzip file or is damaged ({error}): "
                "give a .tar.gz written by diskette_dump"
            ) from None
        except EOFError:
            raise ArchiveError(
                f"archive {name!r} is truncated (the compressed data ends early): "
                "copy or download it again"
            ) from None
        except zlib.error as error:
            raise ArchiveError(
                f"archive {name!r} has corrupt compressed data ({error}): copy or "
                "download it again"
            ) from None
        except tarfile.ReadError as error:
            message = str(error)
            if message.startswith("zlib error"):
                raise ArchiveError(
                    f"archive {name!r} has corrupt compressed data ({message}): copy "
                    "or download it again"
                ) from None
            if "unexpected end" in message or "truncated" in message.lower():
                raise ArchiveError(
                    f"archive {name!r} is truncated ({message}): copy or download it "
                    "again"
                ) from None
            raise ArchiveError(
                f"archive {name!r} is not a tar archive ({message}): give a .tar.gz "
                "written by diskette_dump"
            ) from None
        except tarfile.TarError as error:
            raise ArchiveError(f"archive {name!r} cannot be read ({error})") from None

    def _check_member(self, member: tarfile.TarInfo) -> MemberInfo:
        name = check_member_name(member.name)
        problem = _member_type_problem(member)
        if problem:
            raise UnsafeArchiveError(
                f"archive member {name!r} {problem}: only regular files and directories "
                "are accepted; refusing the archive, nothing was extracted"
            )
        problem = _header_value_problem(member)
        if problem:
            raise UnsafeArchiveError(
                f"archive member {name!r} has {problem}: the header is damaged or "
                "forged; refusing the archive, nothing was extracted"
            )
        return MemberInfo(
            name=name,
            is_dir=member.isdir(),
            size=0 if member.isdir() else int(member.size),
            mtime=float(member.mtime),
            mode=member.mode & RESTORED_MODE_MASK,
        )

    def inspect(self) -> Manifest:
        """First pass: check every member and the manifest; write nothing."""
        members: list[MemberInfo] = []
        seen: set[str] = set()
        total = 0
        manifest_bytes = None
        with self._read_errors():
            for tar, member, reader in self._members(self.max_size + _ARCHIVE_OVERHEAD):
                manifest_bytes = self._inspect_member(
                    tar, member, reader, members, seen, manifest_bytes
                )
                total += members[-1].size
                if total > self.max_size:
                    raise UnsafeArchiveError(
                        f"archive {self.path.name!r} holds more than "
                        f"DISKETTE_LOAD_MAX_SIZE ({self.max_size} bytes) of files: "
                        "refused; raise the setting if the archive is genuine"
                    )
        if manifest_bytes is None:
            raise ManifestError(
                f"archive {self.path.name!r} has no {MANIFEST_NAME}: it was not written "
                "by diskette_dump"
            )
        manifest = Manifest.from_bytes(manifest_bytes)
        _check_layout(manifest, members)
        self.manifest = manifest
        self.members = members
        self._manifest_bytes = manifest_bytes
        return manifest

    def _inspect_member(self, tar, member, reader, members, seen, manifest_bytes):
        """Check one member header in the first pass; return the manifest bytes."""
        if len(members) >= self.max_members:
            raise UnsafeArchiveError(
                f"archive {self.path.name!r} holds more than "
                f"DISKETTE_LOAD_MAX_MEMBERS ({self.max_members}) members: refused; "
                "raise the setting if the archive is genuine"
            )
        reader.limit += _MEMBER_OVERHEAD
        info = self._check_member(member)
        if info.name in seen:
            raise UnsafeArchiveError(
                f"archive member {info.name!r} appears twice: refusing the archive"
            )
        seen.add(info.name)
        if info.name == MANIFEST_NAME:
            if info.is_dir:
                raise ManifestError(
                    f"{MANIFEST_NAME} is a directory in the archive, not a file"
                )
            if info.size > MAX_MANIFEST_SIZE:
                raise ManifestError(
                    f"{MANIFEST_NAME} is {info.size} bytes, larger than the "
                    f"{MAX_MANIFEST_SIZE} bytes accepted"
                )
            stream = tar.extractfile(member)
            manifest_bytes = stream.read() if stream else b""
        members.append(info)
        return manifest_bytes

    def extract(
        self, staging: str | os.PathLike, *, wanted: Callable[[str], bool] | None = None
    ) -> Path:
        """Second pass: write wanted members under ``staging`` and verify checksums.

        Every member is read and hashed, wanted or not; only wanted ones are
        written. Returns ``staging``. Call :meth:`inspect` first.
        """
        if self.manifest is None:
            self.inspect()
        manifest = self.manifest
        assert manifest is not None
        root = Path(staging).resolve()
        expected = _expected_checksums(manifest)
        directories: list[tuple[Path, MemberInfo]] = []
        limit = (
            self.max_size
            + _ARCHIVE_OVERHEAD
            + _MEMBER_OVERHEAD * (len(self.members) + 1)
        )
        with self._read_errors():
            count = self._extract_members(root, limit, wanted, expected, directories)
        if count != len(self.members):
            raise ArchiveError(
                f"archive {self.path.name!r} changed while it was read: refused"
            )
        for storage in manifest.storages:
            if wanted is not None and not wanted(storage.name + "/"):
                continue
            _make_directories(root, storage.name)
            for relative in storage.empty_directories:
                check_member_name(relative, "empty directory in the manifest")
                _make_directories(root, f"{storage.name}/{relative.rstrip('/')}")
        for path, info in reversed(directories):
            path.chmod(info.mode | 0o700)
            os.utime(path, (info.mtime, info.mtime), follow_symlinks=False)
        return root

    def _extract_members(self, root, limit, wanted, expected, directories) -> int:
        count = 0
        for tar, member, _reader in self._members(limit):
            if count >= len(self.members):
                raise ArchiveError(
                    f"archive {self.path.name!r} changed while it was read: refused"
                )
            info = self._check_member(member)
            if info != self.members[count]:
                raise ArchiveError(
                    f"archive {self.path.name!r} changed while it was read: refused"
                )
            count += 1
            _data_filter(member, root)
            if info.name == MANIFEST_NAME:
                stream = tar.extractfile(member)
                if (stream.read() if stream else b"") != self._manifest_bytes:
                    raise ArchiveError(
                        f"archive {self.path.name!r} changed while it was read: refused"
                    )
                continue
            keep = wanted is None or wanted(info.name)
            if info.is_dir:
                if keep:
                    target = safe_join(root, info.name)
                    _make_directories(root, info.name)
                    directories.append((target, info))
                continue
            target = safe_join(root, info.name) if keep else None
            if target is not None:
                parent = info.name.rpartition("/")[0]
                if parent:
                    _make_directories(root, parent)
            source = tar.extractfile(member)
            digest = _copy_member(source, target, info)
            check = expected.get(info.name)
            if check is not None and not hmac.compare_digest(digest, check):
                raise ChecksumError(
                    f"archive member {info.name!r} has sha256 {digest[:16]}…, the "
                    f"manifest says {check[:16]}…: the archive was altered or damaged; "
                    "nothing was loaded"
                )
        return count

    def check_members(
        self, consume: Callable[[MemberInfo, BinaryIO], None] | None = None
    ) -> list[MemberCheck]:
        """Second pass that writes nothing: hash every regular file but the manifest.

        Returns each file's SHA-256 next to the one the manifest holds (``None``
        in the original diskette's archives), in archive order; a difference is
        the caller's to judge. ``consume(info, stream)`` may read a file's
        content while it is hashed. Call :meth:`inspect` first.
        """
        if self.manifest is None:
            self.inspect()
        assert self.manifest is not None
        expected = _expected_checksums(self.manifest)
        limit = (
            self.max_size
            + _ARCHIVE_OVERHEAD
            + _MEMBER_OVERHEAD * (len(self.members) + 1)
        )
        checks: list[MemberCheck] = []
        count = 0
        with self._read_errors():
            for tar, member, _reader in self._members(limit):
                info = self._check_member(member)
                if count >= len(self.members) or info != self.members[count]:
                    raise ArchiveError(
                        f"archive {self.path.name!r} changed while it was read: refused"
                    )
                count += 1
                if info.is_dir or info.name == MANIFEST_NAME:
                    continue
                source = tar.extractfile(member)
                if source is None:
                    raise ArchiveError(f"archive member {info.name!r} cannot be read")
                digest = hashlib.sha256()
                stream = _HashingReader(source, digest)
                if consume is not None:
                    consume(info, stream)
                while stream.read(_CHUNK):
                    pass
                checks.append(
                    MemberCheck(
                        name=info.name,
                        size=info.size,
                        sha256=digest.hexdigest(),
                        expected=expected.get(info.name),
                    )
                )
        if count != len(self.members):
            raise ArchiveError(
                f"archive {self.path.name!r} changed while it was read: refused"
            )
        return checks


@dataclass(frozen=True)
class MemberCheck:
    """A regular file member as read: its SHA-256 and the manifest's, if any."""

    name: str
    size: int
    sha256: str
    expected: str | None

    @property
    def ok(self) -> bool | None:
        """True or False when the manifest has a checksum for it, else None."""
        if self.expected is None:
            return None
        return hmac.compare_digest(self.sha256, self.expected)


def _expected_checksums(manifest: Manifest) -> dict[str, str]:
    expected = dict(manifest.members)
    for item in manifest.data:
        if item.sha256:
            expected.setdefault(item.path, item.sha256)
    return expected


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


def _make_directories(root: Path, relative: str) -> None:
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
        for chunk in iter(lambda: source.read(_CHUNK), b""):
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


def _check_layout(manifest: Manifest, members: list[MemberInfo]) -> None:
    """Every member sits under a prefix the manifest declares, and vice versa."""
    data_paths: set[str] = set()
    for item in manifest.data:
        path = check_member_name(item.path, "data file in the manifest")
        if not path.startswith(DATA_PREFIX) or "/" in path[len(DATA_PREFIX) :]:
            raise ManifestError(
                f"data file {item.path!r} in the manifest is not directly under "
                f"{DATA_PREFIX!r}: the archive is damaged or was edited"
            )
        if path in data_paths:
            raise ManifestError(
                f"data file {item.path!r} is listed twice in the manifest"
            )
        data_paths.add(path)
    storages: list[str] = []
    for entry in manifest.storages:
        name = check_member_name(entry.name, "storage name in the manifest")
        top = name.split("/")[0]
        if top == DATA_PREFIX.rstrip("/") or name == MANIFEST_NAME:
            raise UnsafeArchiveError(
                f"storage name {entry.name!r} in the manifest collides with the "
                "archive's own data: refusing the archive"
            )
        for other in storages:
            if (
                name == other
                or name.startswith(other + "/")
                or other.startswith(name + "/")
            ):
                raise UnsafeArchiveError(
                    f"storage name {entry.name!r} in the manifest repeats or nests "
                    f"in storage {other!r}: refusing the archive"
                )
        storages.append(name)
    files = {m.name for m in members if not m.is_dir}
    checksums = manifest.members
    for member in members:
        name = member.name
        for ancestor in _ancestors(name):
            if ancestor in files:
                raise UnsafeArchiveError(
                    f"archive path {ancestor!r} is both a file and a directory: "
                    "refusing the archive"
                )
        if name == MANIFEST_NAME:
            continue
        in_storage = any(name.startswith(s + "/") for s in storages)
        if member.is_dir:
            if (
                name == DATA_PREFIX.rstrip("/")
                or in_storage
                or any(s == name or s.startswith(name + "/") for s in storages)
            ):
                continue
        elif name in data_paths or in_storage:
            if not manifest.is_legacy and name not in checksums:
                raise ManifestError(
                    f"archive member {name!r} has no checksum in the manifest: the "
                    "archive is damaged or was edited"
                )
            continue
        if name.startswith(DATA_PREFIX):
            raise UnsafeArchiveError(
                f"data file {name!r} is not listed in the manifest: refusing the archive"
            )
        raise UnsafeArchiveError(
            f"archive member {name!r} is outside every prefix the manifest declares "
            "(data files and storages): refusing the archive"
        )
    for path in data_paths:
        if path not in files:
            raise ManifestError(
                f"data file {path!r} is listed in the manifest but missing from the "
                "archive: the archive is incomplete, dump it again"
            )
    for name in checksums:
        if name not in files:
            raise ManifestError(
                f"member {name!r} has a checksum in the manifest but is missing from "
                "the archive: the archive is incomplete, dump it again"
            )
    sizes = {m.name: m.size for m in members if not m.is_dir}
    for item in manifest.data:
        listed = checksums.get(item.path)
        if item.sha256 and listed and item.sha256 != listed:
            raise ManifestError(
                f"data file {item.path!r} has two different checksums in the manifest: "
                "the archive is damaged or was edited"
            )
        if item.size is not None and item.size != sizes.get(item.path):
            raise ManifestError(
                f"data file {item.path!r} is {sizes.get(item.path)} bytes, the manifest "
                f"says {item.size}: the archive is damaged or was edited"
            )
    for entry in manifest.storages:
        if entry.files is None:
            continue
        inside = [n for n in files if n.startswith(entry.name + "/")]
        if len(inside) != entry.files:
            raise ManifestError(
                f"storage {entry.name!r} holds {len(inside)} files, the manifest says "
                f"{entry.files}: the archive is damaged or was edited"
            )
