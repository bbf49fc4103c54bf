"""The decompressed stream of an archive file: told by its magic bytes, bounded,
decompressed a few pieces ahead in a thread of its own.

One read of the file feeds everything: the bytes read are counted and, when
asked, hashed (the whole-file BLAKE2b-512 that ``checksum`` compares), then
decompressed by the compression the first bytes name. Decompression runs in a
background thread (zlib and zstd let go of the GIL), so that it overlaps with
the hashing and writing of members, as ``tar xzf`` overlaps gzip and tar; it is
at most :data:`AHEAD` pieces ahead of the reader, and the reader counts every
byte against its limit, so a decompression bomb is refused while streaming.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, BinaryIO

from diskette.archive.compression import (
    GZIP,
    MAGIC_SIZE,
    ZSTD,
    detect_compression,
)
from diskette.archive.gzip import GzipReader
from diskette.archive.zstd import ZstdReader

#: Decompressed bytes per piece handed from the decompressing thread.
PIECE = 256 * 1024
#: Pieces the decompressing thread may hold ready.
AHEAD = 8


class TooLarge(Exception):
    """Raised inside the decompressed stream when it goes past its limit."""


class NotAnArchive(Exception):
    """The file starts with the magic bytes of no compression this reader knows."""


class SourceFile:
    """The archive file as it is read: counted and, with ``digest``, hashed."""

    def __init__(self, raw: BinaryIO, digest: Any = None):
        self.raw = raw
        self.digest = digest
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        if self.digest is not None:
            self.digest.update(data)
        return data


class _Head:
    """A source whose first bytes were read ahead to tell its compression."""

    def __init__(self, head: bytes, source: SourceFile):
        self.head = head
        self.source = source

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size is None or size < 0 or size >= len(self.head):
                data, self.head = self.head, b""
            else:
                data, self.head = self.head[:size], self.head[size:]
            return data
        return self.source.read(size)


def decompressed(source: SourceFile, name: str) -> tuple[str, Any]:
    """``(compression, reader)`` of the file ``source`` reads, from its start.

    ``name`` is the archive's, for the message of a missing zstandard package.

    ``reader.read(size)`` returns at most ``size`` decompressed bytes, ``b""``
    only at a verified end; NotAnArchive when no magic number matches.
    """
    head = b""
    while len(head) < MAGIC_SIZE:
        data = source.read(MAGIC_SIZE - len(head))
        if not data:
            break
        head += data
    compression = detect_compression(head)
    stream = _Head(head, source)
    if compression == GZIP:
        return compression, GzipReader(stream)
    if compression == ZSTD:
        needing = f"archive {name!r}, compressed with zstd,"
        return compression, ZstdReader(stream, needing=needing)
    if compression is None:
        raise NotAnArchive
    return compression, stream


class Prefetcher:
    """Read ``reader`` in a thread of its own, at most :data:`AHEAD` pieces ahead.

    What the thread raises is raised by the next :meth:`read` that reaches it.
    Call :meth:`close` in every case: it stops the thread and waits for it.
    """

    def __init__(self, reader: Any, piece: int = PIECE, ahead: int = AHEAD):
        self._reader = reader
        self._piece = piece
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(ahead)
        self._stop = threading.Event()
        self._current = memoryview(b"")
        self._end: bytes | BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name="diskette-decompress", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._reader.read(self._piece)
                self._put(data)
                if not data:
                    return
        except BaseException as error:  # handed to the reading thread
            self._put(error)

    def _put(self, item: bytes | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return

    def read(self, size: int = -1) -> bytes:
        if not self._current:
            if self._end is not None:
                return self._finished()
            item = self._queue.get()
            if isinstance(item, BaseException) or not item:
                self._end = item
                return self._finished()
            if size is None or size < 0 or size >= len(item):
                return item
            self._current = memoryview(item)
        if size is None or size < 0:
            size = len(self._current)
        data = self._current[:size].tobytes()
        self._current = self._current[size:]
        return data

    def _finished(self) -> bytes:
        if isinstance(self._end, BaseException):
            raise self._end
        return b""

    def close(self) -> None:
        """Stop the thread (after the piece it is reading) and wait for it."""
        self._stop.set()
        self._thread.join()


class Limited:
    """A decompressed view that counts bytes and stops at a limit (TooLarge).

    The caller may raise ``limit`` as it goes (per member, for its framing).
    """

    def __init__(self, reader: Any, limit: int):
        self._reader = reader
        self.count = 0
        self.limit = limit

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = PIECE
        data: bytes = self._reader.read(size)
        self.count += len(data)
        if self.count > self.limit:
            raise TooLarge
        return data

    def drain(self) -> None:
        """Read to the end: the decompressor checks its trailer (CRC, length)."""
        while self.read(PIECE):
            pass
