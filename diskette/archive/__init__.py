"""The only user of :mod:`tarfile`: write, read, verify and extract archives safely.

``writer`` streams members into a ``.tar.gz`` compressed by ``gzip``'s threads;
``reader`` checks an untrusted archive in a first pass (headers in ``members``,
the manifest's ``layout``) and reads it once more to extract or check it.
"""

from diskette.archive.checksums import archive_checksum, normalise_checksum
from diskette.archive.members import MTIME_RANGE, RESTORED_MODE_MASK, MemberInfo
from diskette.archive.reader import ArchiveReader, MemberCheck
from diskette.archive.writer import (
    ArchiveWriter,
    WrittenArchive,
    WrittenMember,
)

__all__ = [
    "MTIME_RANGE",
    "RESTORED_MODE_MASK",
    "ArchiveReader",
    "ArchiveWriter",
    "MemberCheck",
    "MemberInfo",
    "WrittenArchive",
    "WrittenMember",
    "archive_checksum",
    "normalise_checksum",
]
