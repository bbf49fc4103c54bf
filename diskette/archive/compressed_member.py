"""Member content compressed as it is written, copied into the archive as it is.

A fixture's size is known only once it is serialized, and a tar header needs it
first, so a fixture is written to a file of its own before it goes into the
archive. Compressed there already, in the archive's own compression, its
compressed bytes are copied into the archive stream unchanged: gzip members and
zstd frames may follow one another, and every reader (``tar``, ``gzip``,
``zstd``, diskette's) reads them as one stream. The compression then runs in its
threads while the serializer encodes, instead of in a pass of its own once the
data is read, and each byte is compressed once.
"""

from __future__ import annotations

import hashlib
import io
import os
from contextlib import suppress
from pathlib import Path
from typing import Any

from diskette.archive.compression import (
    GZIP,
    ZSTD,
    check_compression,
    compression_level,
    compression_threads,
)
from diskette.archive.gzip import ParallelGzip
from diskette.archive.zstd import ZstdWriter
from diskette.owner import private_file


def open_compressor(raw: Any, compression: str, level: int) -> Any:
    """The stream that compresses into ``raw`` (``raw`` itself for none).

    Each has ``write``, ``close`` (ends the stream), ``abort``, and ``end_segment``
    (writes everything given so far to ``raw`` as whole gzip members or zstd
    frames, so that bytes compressed elsewhere may follow).
    """
    threads = compression_threads()
    if compression == GZIP:
        return ParallelGzip(raw, compresslevel=level, threads=threads)
    if compression == ZSTD:
        return ZstdWriter(raw, level=level, threads=threads)
    return Plain(raw)


class Plain:
    """No compression: what is written goes to ``raw`` as it is."""

    def __init__(self, raw: Any):
        self.write = raw.write

    def end_segment(self) -> None:
        """Nothing is held back."""

    def close(self) -> None:
        """Nothing to do: the file is closed by its owner."""

    def abort(self) -> None:
        """Nothing to do: the file is removed by its owner."""


class CompressedFile(io.RawIOBase):
    """A new private file (0600) holding what is written, compressed.

    ``size`` and ``sha256`` are those of the bytes written, not of the file:
    what the archive's manifest records for the member. On an error inside
    the ``with`` block, or on :meth:`abort`, the file is removed.
    """

    def __init__(self, path: str | os.PathLike, *, compression: str, level: int):
        super().__init__()
        self.path = Path(path)
        self.compression = check_compression(compression)
        self.size = 0
        self._ended = False
        self._digest = hashlib.sha256()
        self._file = private_file(self.path)
        try:
            self._stream = open_compressor(
                self._file, self.compression, compression_level(compression, level)
            )
        except BaseException:
            self._file.close()
            self.path.unlink(missing_ok=True)
            raise

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._digest.update(data)
        self._stream.write(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        """Write what was given so far to the file, compressed (whole gzip
        members or zstd frames: what a reader of the file then finds)."""
        if not self._ended:
            self._stream.end_segment()

    def close(self) -> None:
        """End the compressed stream and close the file."""
        if self.closed:
            return
        try:
            self._ended = True
            self._stream.close()
        finally:
            self._file.close()
            super().close()

    def abort(self) -> None:
        """Stop compressing and remove the file; never raises."""
        self._ended = True
        if not self.closed:
            with suppress(Exception):  # the file goes away anyway
                self._stream.abort()
                self._file.close()
            super().close()
        self.path.unlink(missing_ok=True)

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
