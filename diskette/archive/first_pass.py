"""Member headers of an untrusted archive, counted and checked as they are read.

:class:`Tally` counts members and bytes against DISKETTE_LOAD_MAX_MEMBERS and
DISKETTE_LOAD_MAX_SIZE as it goes, so a huge or endless archive is refused
early; both readings of an archive (the one pass that stages it, and the
header pass of an inspection, :class:`FirstPass`) go through it.
"""

from __future__ import annotations

import tarfile
from typing import TYPE_CHECKING, BinaryIO

from diskette.archive.members import MemberInfo, check_member
from diskette.archive.source import Limited
from diskette.archive.tar_reader import TarReader
from diskette.archive.tarstream import (
    ARCHIVE_OVERHEAD,
    MEMBER_OVERHEAD,
    iterate_members,
)
from diskette.exceptions import ManifestError, UnsafeArchiveError
from diskette.manifest import (
    MANIFEST_NAME,
    MAX_MANIFEST_SIZE,
    MAX_SIGNATURE_SIZE,
    SIGNATURE_NAME,
)

if TYPE_CHECKING:
    from diskette.crypto.age_keys import Decryption


class Tally:
    """Every member header of one archive, checked and counted within the limits."""

    def __init__(self, name: str, *, max_size: int, max_members: int):
        self.name = name
        self.max_size = max_size
        self.max_members = max_members
        self.members: list[MemberInfo] = []
        self._seen: set[str] = set()
        self._total = 0

    @property
    def limit(self) -> int:
        """Decompressed bytes a reading may start with (framing grows it per member)."""
        return self.max_size + ARCHIVE_OVERHEAD

    def add(self, member: tarfile.TarInfo, reader: Limited) -> MemberInfo:
        """Check one header, count it, and let ``reader`` read its framing."""
        if len(self.members) >= self.max_members:
            raise UnsafeArchiveError(
                f"archive {self.name!r} holds more than "
                f"DISKETTE_LOAD_MAX_MEMBERS ({self.max_members}) members: refused; "
                "raise the setting if the archive is genuine"
            )
        reader.limit += MEMBER_OVERHEAD
        info = check_member(member)
        if info.name in self._seen:
            raise UnsafeArchiveError(
                f"archive member {info.name!r} appears twice: refusing the archive"
            )
        self._seen.add(info.name)
        self.members.append(info)
        self._total += info.size
        if self._total > self.max_size:
            raise UnsafeArchiveError(
                f"archive {self.name!r} holds more than "
                f"DISKETTE_LOAD_MAX_SIZE ({self.max_size} bytes) of files: "
                "refused; raise the setting if the archive is genuine"
            )
        return info


class FirstPass(Tally):
    """Read every member header of one archive once, writing nothing; call
    inside ``read_errors``. Keeps the manifest's bytes, and the signature's."""

    manifest_bytes: bytes | None = None
    signature_bytes: bytes | None = None

    def __init__(
        self,
        name: str,
        *,
        max_size: int,
        max_members: int,
        decryption: Decryption | None = None,
    ):
        super().__init__(name, max_size=max_size, max_members=max_members)
        self.decryption = decryption

    def read(self, file: BinaryIO) -> bytes:
        """Check every member of ``file``; return the manifest's bytes."""
        for tar, member, reader in iterate_members(
            file, self.limit, name=self.name, decryption=self.decryption
        ):
            info = self.add(member, reader)
            if info.name == MANIFEST_NAME:
                self.manifest_bytes = read_manifest(tar, member, info)
            elif info.name == SIGNATURE_NAME:
                self.signature_bytes = read_signature(tar, member, info)
        if self.manifest_bytes is None:
            raise no_manifest(self.name)
        return self.manifest_bytes


def no_manifest(name: str) -> ManifestError:
    return ManifestError(
        f"archive {name!r} has no {MANIFEST_NAME}: it was not written by diskette_dump"
    )


def read_manifest(tar: TarReader, member: tarfile.TarInfo, info: MemberInfo) -> bytes:
    """The manifest member's bytes, refused when it is a directory or too large."""
    if info.is_dir:
        raise ManifestError(
            f"{MANIFEST_NAME} is a directory in the archive, not a file"
        )
    if info.size > MAX_MANIFEST_SIZE:
        raise ManifestError(
            f"{MANIFEST_NAME} is {info.size} bytes, larger than the "
            f"{MAX_MANIFEST_SIZE} bytes accepted"
        )
    return read_all(tar, member)


def read_signature(tar: TarReader, member: tarfile.TarInfo, info: MemberInfo) -> bytes:
    """The signature member's bytes, refused when it is a directory or too large."""
    if info.is_dir or info.size > MAX_SIGNATURE_SIZE:
        raise ManifestError(
            f"{SIGNATURE_NAME} in the archive is not a file of at most "
            f"{MAX_SIGNATURE_SIZE} bytes: it was not written by diskette_dump"
        )
    return read_all(tar, member)


def read_all(tar: TarReader, member: tarfile.TarInfo) -> bytes:
    """A member's whole content (the manifest: bounded by MAX_MANIFEST_SIZE)."""
    stream = tar.extractfile(member)
    return stream.read() if stream else b""
