"""The archive file itself: opened once, refused early when it cannot be one, and
compared with the checksum it should have."""

from __future__ import annotations

import hmac
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from diskette.crypto.age_stream import MAGIC_SIZE as ENCRYPTED_MAGIC
from diskette.crypto.age_stream import is_encrypted
from diskette.exceptions import ArchiveError, ChecksumError, DisketteError

#: What makes the error of a file whose BLAKE2b-512 is not the expected one.
Refusal = Callable[[str], DisketteError]


def open_archive(path: Path, minimal_size: int) -> tuple[BinaryIO, bool]:
    """The archive at ``path`` open for reading, and whether it is encrypted
    (told by its first bytes); ArchiveError when it is missing, unreadable, not
    a regular file, or smaller than ``minimal_size``."""
    try:
        file = open(path, "rb")  # noqa: SIM115 - the reader closes it
        status = os.fstat(file.fileno())
    except FileNotFoundError:
        raise ArchiveError(
            f"archive {str(path)!r} does not exist: check the path"
        ) from None
    except OSError as error:
        raise ArchiveError(
            f"archive {str(path)!r} cannot be read ({error.strerror or error})"
        ) from None
    if not stat.S_ISREG(status.st_mode):
        file.close()
        raise ArchiveError(f"archive {str(path)!r} is not a regular file")
    size = status.st_size
    if size == 0 or size < minimal_size:
        file.close()
        raise ArchiveError(
            f"archive {str(path)!r} is {size} bytes, smaller than "
            f"DISKETTE_LOAD_MINIMAL_FILESIZE ({minimal_size}): it is empty "
            "or broken, dump it again"
        )
    return file, is_encrypted(os.pread(file.fileno(), ENCRYPTED_MAGIC, 0))


def compare_file_checksum(
    name: str,
    actual: str,
    expected: str,
    refusal: Refusal | None,
    cause: BaseException | None = None,
) -> None:
    """Raise ``refusal(actual)`` (a ChecksumError by default), from ``cause``,
    unless the archive ``name``'s BLAKE2b-512 ``actual`` is ``expected``."""
    if hmac.compare_digest(actual, expected):
        return
    if refusal is not None:
        raise refusal(actual) from cause
    raise ChecksumError(
        f"archive {name!r} has BLAKE2b-512 {actual[:16]}…, "
        f"not the expected {expected[:16]}…: it was altered or is not the "
        "archive you meant; download or copy it again"
    ) from cause
