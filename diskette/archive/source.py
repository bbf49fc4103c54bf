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

from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from diskette.archive.compression import (
    GZIP,
    MAGIC_SIZE,
    ZSTD,
    detect_compression,
)
from diskette.archive.gzip import GzipReader
from diskette.archive.zstd import ZstdReader
from diskette.crypto.age_stream import DecryptingReader, is_encrypted
from diskette.crypto.age_stream import decrypting as decrypting_stream
from diskette.crypto.pipe import Pipe, Producer

if TYPE_CHECKING:
    from diskette.crypto.age_keys import Decryption

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


def _read_head(stream: Any) -> bytes:
    head = b""
    while len(head) < MAGIC_SIZE:
        data = stream.read(MAGIC_SIZE - len(head))
        if not data:
            break
        head += data
    return head


class Opened(NamedTuple):
    """An archive file as its first bytes say to read it.

    ``reader`` gives the tar stream; ``decrypting`` is the decryption under it
    (for an encrypted archive), which the caller closes.
    """

    compression: str
    reader: Any
    decrypting: DecryptingReader | None = None


def decompressed(
    source: SourceFile, name: str, decryption: Decryption | None = None
) -> Opened:
    """The tar stream of the file ``source`` reads, from its start.

    ``name`` is the archive's, for the messages. An encrypted archive (age) is
    decrypted with ``decryption`` first (DecryptionError without it), then told
    by its compression's magic bytes like any other; the decryption is closed
    here when that fails.

    ``reader.read(size)`` returns at most ``size`` decompressed bytes, ``b""``
    only at a verified end; NotAnArchive when no magic number matches.
    """
    head = _read_head(source)
    if not is_encrypted(head):
        return _tar_stream(head, source, name)
    decrypting = decrypting_stream(_Head(head, source), head, decryption, name=name)
    try:
        inner = _read_head(decrypting)
        if is_encrypted(inner):  # encrypted twice: no dump writes that
            raise NotAnArchive
        return _tar_stream(inner, decrypting, name)._replace(decrypting=decrypting)
    except BaseException:
        decrypting.close()
        raise


def _tar_stream(head: bytes, rest: Any, name: str) -> Opened:
    """The tar stream of ``head`` then ``rest``, by the compression ``head`` names."""
    compression = detect_compression(head)
    stream = _Head(head, rest)
    if compression == GZIP:
        return Opened(compression, GzipReader(stream))
    if compression == ZSTD:
        needing = f"archive {name!r}, compressed with zstd,"
        return Opened(compression, ZstdReader(stream, needing=needing))
    if compression is None:
        raise NotAnArchive
    return Opened(compression, stream)


class Prefetcher:
    """Read ``reader`` in a thread of its own, at most ``ahead`` pieces ahead.

    What the thread raises is raised by the next :meth:`read` that reaches it.
    Call :meth:`close` in every case: it stops the thread and waits for it.
    """

    def __init__(self, reader: Any, piece: int = PIECE, ahead: int = AHEAD):
        self._reader = reader
        self._piece = piece
        self._pipe = Pipe(ahead)
        self._thread = Producer("diskette-decompress", self._run, self._pipe)

    def _run(self) -> None:
        while data := self._reader.read(self._piece):
            self._pipe.write(data)

    def read(self, size: int = -1) -> bytes:
        return self._pipe.read(size)

    def close(self) -> None:
        """Stop the thread (after the piece it is reading) and wait for it."""
        self._pipe.abort()
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
