"""The only user of :mod:`tarfile`: write, read, verify and extract archives safely.

``writer`` streams members into a tar compressed as ``compression`` says (gzip by
its own threads, zstd by zstd's, or none); ``reader`` tells an untrusted archive's
compression by its magic bytes (``source``) and stages it in one pass
(``one_pass``: headers in ``members``, the manifest's ``layout``, ``extract``), or
inspects it in two (``first_pass``, then a second that refuses any change).
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
