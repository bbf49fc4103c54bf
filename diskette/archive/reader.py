"""The archive reader: ONE open file descriptor of an untrusted archive.

A load stages the archive in one pass (:meth:`ArchiveReader.stage`, see
:mod:`diskette.archive.one_pass`): each member checked, hashed and written into
staging as it is read, the manifest wherever it is. An inspection reads the
headers and the manifest without writing anything (:meth:`ArchiveReader.inspect`),
then, to verify, the members (:meth:`ArchiveReader.check_members`) in a second
pass that refuses any difference from the first, so an archive swapped or
rewritten between the passes is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from diskette.archive.archive_file import Refusal, compare_file_checksum, open_archive
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
from diskette.archive.one_pass import (
    Chooser,
    OnePass,
    Wanted,
    compare_digest,
    expected_checksums,
)
from diskette.archive.tarstream import (
    ARCHIVE_OVERHEAD,
    MEMBER_OVERHEAD,
    ArchiveStream,
    iterate_members,
    read_errors,
)
from diskette.exceptions import ArchiveError, DisketteError
from diskette.manifest import MANIFEST_NAME, METADATA_NAMES, Manifest

if TYPE_CHECKING:
    from diskette.crypto.age_keys import Decryption


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
    """Stage, or inspect, an untrusted archive; use it as a context manager.

    ``stage()`` (and ``extract()``) writes the wanted members into a staging
    directory and verifies every checksum the manifest holds, in one pass;
    ``inspect()`` checks every member and returns the manifest without writing
    anything; ``check_members()`` then hashes every member without writing
    anything. ``bytes_read`` counts the bytes read of the file, ``compression``
    is the one its magic bytes name (once read).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        max_size: int,
        max_members: int,
        minimal_size: int = 0,
        decryption: Decryption | None = None,
    ):
        self.path = Path(path)
        self.decryption = decryption
        self.max_size = int(max_size)
        self.max_members = int(max_members)
        self.minimal_size = int(minimal_size or 0)
        self.manifest: Manifest | None = None
        self.members: list[MemberInfo] = []
        self._manifest_bytes: bytes | None = None
        #: The signature member's bytes, once read (None: the archive is unsigned).
        self.signature_bytes: bytes | None = None
        self._file: BinaryIO | None = None
        self.bytes_read = 0
        self.compression: str | None = None
        #: Whether the file is an age-encrypted archive (told once it is open).
        self.encrypted = False

    # -- the open file -----------------------------------------------------------

    def __enter__(self) -> ArchiveReader:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Open the archive once: every pass reads this one file descriptor."""
        self._file, self.encrypted = open_archive(self.path, self.minimal_size)

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

    def verify_checksum(self, expected: str, refusal: Refusal | None = None) -> None:
        """Compare the BLAKE2b-512 of the open file with ``expected``."""
        expected = normalise_checksum(expected)
        stream = self._open_file()
        stream.seek(0)
        actual = stream_checksum(stream)
        self.bytes_read += stream.tell()
        compare_file_checksum(self.path.name, actual, expected, refusal)

    # -- one pass ----------------------------------------------------------------

    def stage(
        self,
        staging: str | os.PathLike,
        choose: Chooser | None = None,
        *,
        provisional: Wanted = None,
        checksum: str | None = None,
        refusal: Refusal | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Manifest:
        """Write the wanted members under ``staging``, verifying each; one pass.

        Until the manifest is read, ``provisional`` says which member names to
        write (None: all); once it is read and validated, ``choose(manifest)``
        says (None: all). The other members are hashed and skipped. With
        ``checksum`` (BLAKE2b-512 of the file), the bytes read are hashed too and
        compared at the end; a file that is not that one is refused as such
        (``refusal(actual)`` makes the error, a ChecksumError by default) even
        when reading it failed first: the rest of it is hashed then. Every check
        is done when this returns; on any error, what was written is under
        ``staging`` only. ``progress(read, size)`` is told the bytes of the file
        read so far, member by member. See :mod:`diskette.archive.one_pass`.
        """
        root = Path(staging).resolve()
        expected = normalise_checksum(checksum) if checksum else None
        digest = hashlib.blake2b() if expected else None
        one = OnePass(
            self.path.name,
            root,
            max_size=self.max_size,
            max_members=self.max_members,
            choose=choose,
            provisional=provisional,
        )
        self.members = one.tally.members  # as they are read
        try:
            self._one_pass(one, digest, progress)
        except DisketteError as error:
            if digest is not None and expected is not None:
                self._hash_rest(digest)
                compare_file_checksum(
                    self.path.name, digest.hexdigest(), expected, refusal, cause=error
                )
            raise
        if digest is not None and expected is not None:
            compare_file_checksum(self.path.name, digest.hexdigest(), expected, refusal)
        if one.missed:
            return self._stage_again(root, one)
        manifest = one.finish()
        self.manifest = manifest
        self._manifest_bytes = one.manifest_bytes
        self.signature_bytes = one.signature_bytes
        return manifest

    def _one_pass(
        self,
        one: OnePass,
        digest: Any,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Read the archive once, from its start, through ``one``."""
        file = self._open_file()
        size = os.fstat(file.fileno()).st_size
        try:
            with (
                self._read_errors(),
                ArchiveStream(
                    file,
                    one.tally.limit,
                    name=self.path.name,
                    digest=digest,
                    decryption=self.decryption,
                ) as stream,
            ):
                self.compression = stream.compression
                for tar, member in stream.members():
                    one.member(tar, member, stream.limited)
                    if progress is not None:
                        progress(stream.source.count, size)
                stream.finish()
        finally:
            self.bytes_read += file.tell()

    def _hash_rest(self, digest: Any) -> None:
        """Hash what the pass left unread of the file, to tell it by its checksum."""
        file = self._open_file()
        start = file.tell()
        for chunk in iter(lambda: file.read(CHUNK), b""):
            digest.update(chunk)
        self.bytes_read += file.tell() - start

    def _stage_again(self, root: Path, one: OnePass) -> Manifest:
        """``choose`` wants members that ``provisional`` skipped: start staging
        again, from the verified headers and manifest, in a second pass."""
        manifest = one.finish()
        self.manifest = manifest
        self._manifest_bytes = one.manifest_bytes
        self.signature_bytes = one.signature_bytes
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        wanted = one.choose(manifest) if one.choose is not None else None
        self._extract_inspected(root, wanted)
        return manifest

    # -- first pass --------------------------------------------------------------

    def inspect(self) -> Manifest:
        """First pass: check every member and the manifest; write nothing."""
        first = FirstPass(
            self.path.name,
            max_size=self.max_size,
            max_members=self.max_members,
            decryption=self.decryption,
        )
        file = self._open_file()
        with self._read_errors():
            try:
                manifest_bytes = first.read(file)
            finally:
                self.bytes_read += file.tell()
        manifest = Manifest.from_bytes(manifest_bytes)
        check_layout(manifest, first.members)
        self.manifest = manifest
        self.members = first.members
        self._manifest_bytes = manifest_bytes
        self.signature_bytes = first.signature_bytes
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
        file = self._open_file()
        try:
            for tar, member, _reader in iterate_members(
                file, limit, name=self.path.name, decryption=self.decryption
            ):
                if count >= len(self.members):
                    raise self._changed()
                info = check_member(member)
                if info != self.members[count]:
                    raise self._changed()
                count += 1
                content = None
                if info.name in METADATA_NAMES:
                    if read_all(tar, member) != self._metadata(info.name):
                        raise self._changed()
                elif not info.is_dir:
                    content = tar.extractfile(member)
                    if content is None:
                        raise ArchiveError(
                            f"archive member {info.name!r} cannot be read"
                        )
                yield member, info, content
        finally:
            self.bytes_read += file.tell()
        if count != len(self.members):
            raise self._changed()

    @property
    def manifest_bytes(self) -> bytes | None:
        """The manifest's bytes as the archive holds them, once read."""
        return self._manifest_bytes

    def _metadata(self, name: str) -> bytes | None:
        return self._manifest_bytes if name == MANIFEST_NAME else self.signature_bytes

    def _changed(self) -> ArchiveError:
        return ArchiveError(
            f"archive {self.path.name!r} changed while it was read: refused"
        )

    def extract(self, staging: str | os.PathLike, *, wanted: Wanted = None) -> Path:
        """Write the ``wanted`` members (default: all) under ``staging``, verifying
        each: :meth:`stage` with a fixed choice. Returns ``staging`` resolved."""
        self.stage(staging, lambda manifest: wanted, provisional=wanted)
        return Path(staging).resolve()

    def _extract_inspected(
        self, root: Path, wanted: Callable[[str], bool] | None
    ) -> None:
        """Second pass after :meth:`inspect`: write wanted members under ``root``."""
        manifest = self._inspected()
        expected = expected_checksums(manifest)
        target = Staging(root, wanted)
        with self._read_errors():
            for member, info, content in self._second_pass():
                digest = target.write(member, info, content)
                check = expected.get(info.name)
                if digest is not None and check is not None:
                    compare_digest(info.name, digest, check)
        target.finish(manifest.storages)

    def check_members(
        self, consume: Callable[[MemberInfo, BinaryIO], None] | None = None
    ) -> list[MemberCheck]:
        """Second pass that writes nothing: hash every regular file but the manifest.

        Returns each file's SHA-256 next to the one the manifest holds (``None``
        in the original diskette's archives), in archive order; a difference is
        the caller's to judge. ``consume(info, stream)`` may read a file's
        content while it is hashed. Call :meth:`inspect` first.
        """
        expected = expected_checksums(self._inspected())
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
