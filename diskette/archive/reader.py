"""The archive reader: two passes over ONE open file descriptor of an untrusted archive.

The first pass (:meth:`ArchiveReader.inspect`) checks every member header, the
sizes and the layout, and reads the manifest without writing anything. The
second pass (:meth:`ArchiveReader._second_pass`) reads the archive again and
refuses any difference from the first; extracting and checking both read
through it, so an archive swapped or rewritten between the passes is refused
the same way by both.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from diskette.archive.checksums import (
    CHUNK,
    HashingReader,
    normalise_checksum,
    stream_checksum,
)
from diskette.archive.extract import Staging
from diskette.archive.first_pass import FirstPass, read_all
from diskette.archive.layout import check_layout
from diskette.archive.members import MemberInfo, check_member
from diskette.archive.tarstream import (
    ARCHIVE_OVERHEAD,
    MEMBER_OVERHEAD,
    iterate_members,
    read_errors,
)
from diskette.exceptions import ArchiveError, ChecksumError
from diskette.manifest import MANIFEST_NAME, Manifest


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


class ArchiveReader:
    """Check, then extract, an untrusted archive; use it as a context manager.

    ``inspect()`` checks every member and returns the manifest without writing
    anything; ``extract()`` writes the wanted members into a staging directory and
    verifies every checksum the manifest holds; ``check_members()`` hashes every
    member without writing anything.
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

    # -- the open file -----------------------------------------------------------

    def __enter__(self) -> ArchiveReader:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Open the archive once: both passes read this one file descriptor."""
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - closed by close()
            status = os.fstat(self._file.fileno())
        except FileNotFoundError:
            raise ArchiveError(
                f"archive {str(self.path)!r} does not exist: check the path"
            ) from None
        except OSError as error:
            raise ArchiveError(
                f"archive {str(self.path)!r} cannot be read ({error.strerror or error})"
            ) from None
        if not stat.S_ISREG(status.st_mode):
            self.close()
            raise ArchiveError(f"archive {str(self.path)!r} is not a regular file")
        size = status.st_size
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

    def _open_file(self) -> BinaryIO:
        if self._file is None:
            raise ArchiveError("the archive is not open")
        return self._file

    def _read_errors(self) -> AbstractContextManager[None]:
        return read_errors(self.path.name, self.max_size)

    def verify_checksum(self, expected: str) -> None:
        """Compare the BLAKE2b-512 of the open file with ``expected``."""
        expected = normalise_checksum(expected)
        stream = self._open_file()
        stream.seek(0)
        actual = stream_checksum(stream)
        if not hmac.compare_digest(actual, expected):
            raise ChecksumError(
                f"archive {self.path.name!r} has BLAKE2b-512 {actual[:16]}…, "
                f"not the expected {expected[:16]}…: it was altered or is not the "
                "archive you meant; download or copy it again"
            )

    # -- first pass --------------------------------------------------------------

    def inspect(self) -> Manifest:
        """First pass: check every member and the manifest; write nothing."""
        first = FirstPass(
            self.path.name, max_size=self.max_size, max_members=self.max_members
        )
        with self._read_errors():
            manifest_bytes = first.read(self._open_file())
        manifest = Manifest.from_bytes(manifest_bytes)
        check_layout(manifest, first.members)
        self.manifest = manifest
        self.members = first.members
        self._manifest_bytes = manifest_bytes
        return manifest

    # -- second pass -------------------------------------------------------------

    def _inspected(self) -> Manifest:
        if self.manifest is None:
            self.inspect()
        assert self.manifest is not None
        return self.manifest

    def _second_pass(
        self,
    ) -> Iterator[tuple[tarfile.TarInfo, MemberInfo, BinaryIO | None]]:
        """Yield ``(member, info, content)`` again, refusing any change since inspect().

        Each header must be the one the first pass accepted, in the same place,
        the manifest the same bytes, and no member more or fewer. ``content`` is
        the stream of a regular file other than the manifest, else None. Loop
        over it inside :meth:`_read_errors`: content is read in the loop.
        """
        limit = (
            self.max_size + ARCHIVE_OVERHEAD + MEMBER_OVERHEAD * (len(self.members) + 1)
        )
        count = 0
        for tar, member, _reader in iterate_members(self._open_file(), limit):
            if count >= len(self.members):
                raise self._changed()
            info = check_member(member)
            if info != self.members[count]:
                raise self._changed()
            count += 1
            content = None
            if info.name == MANIFEST_NAME:
                if read_all(tar, member) != self._manifest_bytes:
                    raise self._changed()
            elif not info.is_dir:
                content = tar.extractfile(member)
                if content is None:
                    raise ArchiveError(f"archive member {info.name!r} cannot be read")
            yield member, info, content
        if count != len(self.members):
            raise self._changed()

    def _changed(self) -> ArchiveError:
        return ArchiveError(
            f"archive {self.path.name!r} changed while it was read: refused"
        )

    def extract(
        self, staging: str | os.PathLike, *, wanted: Callable[[str], bool] | None = None
    ) -> Path:
        """Second pass: write wanted members under ``staging`` and verify checksums.

        Every member is read and hashed, wanted or not; only wanted ones are
        written. Returns ``staging``. Call :meth:`inspect` first.
        """
        manifest = self._inspected()
        root = Path(staging).resolve()
        expected = _expected_checksums(manifest)
        target = Staging(root, wanted)
        with self._read_errors():
            for member, info, content in self._second_pass():
                digest = target.write(member, info, content)
                check = expected.get(info.name)
                if digest is not None and check is not None:
                    _compare_digest(info.name, digest, check)
        target.finish(manifest.storages)
        return root

    def check_members(
        self, consume: Callable[[MemberInfo, BinaryIO], None] | None = None
    ) -> list[MemberCheck]:
        """Second pass that writes nothing: hash every regular file but the manifest.

        Returns each file's SHA-256 next to the one the manifest holds (``None``
        in the original diskette's archives), in archive order; a difference is
        the caller's to judge. ``consume(info, stream)`` may read a file's
        content while it is hashed. Call :meth:`inspect` first.
        """
        expected = _expected_checksums(self._inspected())
        checks: list[MemberCheck] = []
        with self._read_errors():
            for _member, info, content in self._second_pass():
                if content is None:
                    continue
                digest = hashlib.sha256()
                stream = HashingReader(content, digest)
                if consume is not None:
                    consume(info, stream)
                while stream.read(CHUNK):
                    pass
                checks.append(
                    MemberCheck(
                        name=info.name,
                        size=info.size,
                        sha256=digest.hexdigest(),
                        expected=expected.get(info.name),
                    )
                )
        return checks


def _expected_checksums(manifest: Manifest) -> dict[str, str]:
    expected = dict(manifest.members)
    for item in manifest.data:
        if item.sha256:
            expected.setdefault(item.path, item.sha256)
    return expected


def _compare_digest(name: str, digest: str, expected: str) -> None:
    if not hmac.compare_digest(digest, expected):
        raise ChecksumError(
            f"archive member {name!r} has sha256 {digest[:16]}…, the "
            f"manifest says {expected[:16]}…: the archive was altered or damaged; "
            "nothing was loaded"
        )
