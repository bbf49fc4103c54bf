"""Gzip streams: compressed by several threads when writing, bounded when reading."""

from __future__ import annotations

import collections
import gzip
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

from diskette.archive.checksums import CHUNK

#: Uncompressed bytes per gzip member: each is compressed by one thread.
GZIP_BLOCK = 1024 * 1024
#: Most threads compressing at once.
GZIP_THREADS = 4


class ParallelGzip:
    """A write-only gzip stream compressed by several threads at once.

    What is written is cut into blocks of :data:`GZIP_BLOCK` bytes, each
    compressed into a gzip member of its own by a thread of a pool (zlib releases
    the GIL, so they really run in parallel) and written in order. The result is
    a multi-member gzip file (RFC 1952), which gzip, tar and Python's gzip module
    read as one stream; blocks of 1 MiB cost well under 1 % in size. At most two
    blocks per thread are held in memory.
    """

    def __init__(self, raw: Any, *, compresslevel: int, threads: int):
        self.raw = raw
        self.compresslevel = compresslevel
        self.buffer = bytearray()
        self.pending: collections.deque[Future[bytes]] = collections.deque()
        self.limit = 2 * threads
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="diskette-gzip")
        self.members = 0

    def write(self, data: bytes) -> int:
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


class TooLarge(Exception):
    """Raised inside the decompressed stream when it goes past its limit."""


class LimitedGzip:
    """A decompressed view of an archive that counts bytes and stops at a limit.

    A gzip bomb is refused while reading, before anything is written.
    """

    def __init__(self, raw: BinaryIO, limit: int):
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")
        self.count = 0
        self.limit = limit

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = CHUNK
        data = self._gzip.read(size)
        self.count += len(data)
        if self.count > self.limit:
            raise TooLarge
        return data

    def drain(self) -> None:
        """Read to the end so that gzip checks its trailer (CRC, length)."""
        while self.read(CHUNK):
            pass
