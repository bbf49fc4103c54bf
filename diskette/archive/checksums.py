"""Hashing while streaming, and the whole-archive BLAKE2b-512 a dump prints.

Members are hashed as they go through, never in a pass of their own: the
wrappers here sit between tarfile and the file or stream it reads or writes.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from typing import Any, BinaryIO

from diskette.exceptions import ConfigurationError

#: Bytes read at a time when hashing or copying member content.
CHUNK = 1024 * 1024


class HashingWriter:
    """A write-only file wrapper that hashes and counts what goes through it.

    Hashing and writing run in a thread of their own, beside the compression
    and the reading of members (hashlib and file writes let go of the GIL); at
    most ``ahead`` pieces wait for it. :meth:`close` waits until everything is
    written and raises what writing raised (a full disk); :meth:`abort` drops
    what waits. ``size`` counts what was given, ``digest`` is final once closed.
    """

    def __init__(self, raw: Any, digest: Any, ahead: int = 16):
        self.raw = raw
        self.digest = digest
        self.size = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(ahead)
        self._error: BaseException | None = None
        self._dropped = False
        self._thread = threading.Thread(
            target=self._run, name="diskette-write", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is not None or self._dropped:
                continue
            try:
                self.digest.update(data)
                self.raw.write(data)
            except BaseException as error:  # raised again by the writing thread
                self._error = error

    def write(self, data: bytes) -> int:
        if self._error is not None:
            raise self._error
        if self._dropped:
            return len(data)
        if not isinstance(data, bytes):
            data = bytes(data)  # a view of a buffer its writer reuses
        self._queue.put(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing to do: :meth:`close` waits for the writes."""

    def close(self) -> None:
        """Wait until everything is hashed and written; raise what writing raised."""
        self._stop()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        """Drop what waits and stop the thread; never raises."""
        self._dropped = True
        self._stop()

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


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
