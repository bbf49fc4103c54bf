"""Hashing while streaming, and the whole-archive BLAKE2b-512 a dump prints.

Members are hashed as they go through, never in a pass of their own: the
wrappers here sit between tarfile and the file or stream it reads or writes.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, BinaryIO

from diskette.exceptions import ConfigurationError

#: Bytes read at a time when hashing or copying member content.
CHUNK = 1024 * 1024


class HashingWriter:
    """A write-only file wrapper that hashes and counts what goes through it."""

    def __init__(self, raw: Any, digest: Any):
        self.raw = raw
        self.digest = digest
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


class HashingReader:
    """Read exactly what the caller asks for, hashing it."""

    def __init__(self, raw: BinaryIO, digest: Any):
        self.raw = raw
        self.digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.digest.update(data)
        return data


def archive_checksum(path: str | os.PathLike) -> str:
    """BLAKE2b-512 hex digest of a whole archive file."""
    with open(path, "rb") as stream:
        return stream_checksum(stream)


def stream_checksum(stream: BinaryIO) -> str:
    """BLAKE2b-512 hex digest of what is left to read in ``stream``."""
    digest = hashlib.blake2b()
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def normalise_checksum(value: str) -> str:
    """Return a BLAKE2b-512 hex digest in lower case, or raise ConfigurationError."""
    text = str(value).strip().lower()
    if len(text) != 128 or any(char not in "0123456789abcdef" for char in text):
        raise ConfigurationError(
            f"checksum={value!r} is not a BLAKE2b-512 digest: give the 128 "
            "hexadecimal characters printed by the dump (or by 'b2sum')"
        )
    return text
