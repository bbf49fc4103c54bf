"""Gzip streams: compressed by several threads when writing, bounded when reading."""

from __future__ import annotations

import collections
import gzip
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

#: Uncompressed bytes per gzip member: each is compressed by one thread.
GZIP_BLOCK = 1024 * 1024
#: Samples of a block deflated to tell whether it compresses, and their size.
_SAMPLES = 4
_SAMPLE = 16 * 1024
#: A block whose samples deflate to more than this share of their size is stored.
STORE_RATIO = 0.97
#: Compressed bytes read at a time.
READ_SIZE = 256 * 1024
#: zlib's window bits for a gzip header and trailer (16 + 15).
_GZIP_WBITS = 31


class ParallelGzip:
    """A write-only gzip stream compressed by several threads at once.

    What is written is cut into blocks of :data:`GZIP_BLOCK` bytes, each
    compressed into a gzip member of its own by a thread of a pool (zlib releases
    the GIL, so they really run in parallel) and written in order. The result is
    a multi-member gzip file (RFC 1952), which gzip, tar and Python's gzip module
    read as one stream; blocks of 1 MiB cost well under 1 % in size. At most two
    blocks per thread are held in memory. A block that does not compress
    (photos, videos, archives) is stored as it is (:func:`compress_block`).
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
        future = self.pool.submit(compress_block, block, self.compresslevel)
        self.pending.append(future)
        self.members += 1
        while len(self.pending) > self.limit:
            self.raw.write(self.pending.popleft().result())

    def flush(self) -> None:
        """Nothing to do: blocks are written as they are compressed."""

    def end_segment(self) -> None:
        """Compress what is held and write every pending member: what ``raw``
        is given next follows whole members."""
        if self.buffer:
            self._submit(bytes(self.buffer))
            self.buffer.clear()
        while self.pending:
            self.raw.write(self.pending.popleft().result())

    def close(self) -> None:
        """Compress what is left and write every pending member."""
        if not self.buffer and not self.members:
            self._submit(b"")  # an empty stream is still one gzip member
        self.end_segment()
        self.pool.shutdown()

    def abort(self) -> None:
        """Drop what is pending; no thread is left running."""
        self.pending.clear()
        self.buffer.clear()
        self.pool.shutdown(wait=True, cancel_futures=True)


def compress_block(block: bytes, level: int) -> bytes:
    """One gzip member holding ``block``, at ``level`` unless it does not compress.

    Media files are mostly compressed already, and deflate spends as long on them
    at level 6 as on text, for nothing: samples of the block are deflated at
    level 1 first (a few percent of the block's cost), and a block whose samples
    shrink by less than :data:`STORE_RATIO` is stored (level 0: a copy and a
    CRC). Any gzip reader reads both kinds of member.
    """
    if level > 0 and len(block) >= _SAMPLES * _SAMPLE and _incompressible(block):
        level = 0
    return gzip.compress(block, level, mtime=0)


def _incompressible(block: bytes) -> bool:
    step = len(block) // _SAMPLES
    view = memoryview(block)
    sampled = squeezed = 0
    for index in range(_SAMPLES):
        sample = view[index * step : index * step + _SAMPLE]
        sampled += len(sample)
        squeezed += len(zlib.compress(sample, 1))
    return squeezed > STORE_RATIO * sampled


class GzipReader:
    """The decompressed bytes of a (multi-member) gzip stream, read in bounded pieces.

    zlib checks each member's CRC-32 and length; a stream that ends inside a
    member raises EOFError; bytes after a member that are neither zeros (padding,
    as gzip allows) nor another member raise zlib.error. No read returns more than it was
    asked for, however well the data compresses: a gzip bomb is stopped by the
    reader's caller, never buffered whole. Unlike :class:`gzip.GzipFile`, it
    gives zlib large pieces, which it inflates without holding the GIL.
    """

    def __init__(self, raw: Any, read_size: int = READ_SIZE):
        self.raw = raw
        self.read_size = read_size
        self._inflate: Any = zlib.decompressobj(_GZIP_WBITS)
        self._pending = b""  # compressed bytes not given to zlib yet
        self._started = False  # whether the current member has any input
        self._done = False

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.read_size
        while not self._done:
            if self._inflate.eof:
                self._next_member()
                continue
            if not self._pending:
                self._pending = self.raw.read(self.read_size)
                if not self._pending:
                    if self._started:
                        raise EOFError("the gzip stream ends inside a member")
                    self._done = True
                    break
                self._started = True
            data = self._inflate.decompress(self._pending, size)
            # At a member's end what is left is in unused_data (some Pythons
            # leave a copy of it in unconsumed_tail too).
            self._pending = b"" if self._inflate.eof else self._inflate.unconsumed_tail
            if data:
                return data
        return b""

    def _next_member(self) -> None:
        """After a member: start the next one, or end (zeros may pad the end)."""
        rest = self._inflate.unused_data.lstrip(b"\0")
        while not rest:
            rest = self.raw.read(self.read_size)
            if not rest:
                self._done = True
                return
            rest = rest.lstrip(b"\0")
        self._inflate = zlib.decompressobj(_GZIP_WBITS)
        self._pending = rest
        self._started = True
