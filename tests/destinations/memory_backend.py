"""A complete destination backend: archives kept in memory.

The example of docs/destinations/custom.rst (included from this file) and the
backend of tests/destinations/test_custom_backend.py. It is written from the
documented protocol alone: a plain class, nothing inherited, nothing registered.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import IO

#: Bytes read at a time from a stream being stored.
CHUNK_SIZE = 1024 * 1024


class MemoryDestination:
    """Archives in a dict, in named buckets that every instance shares.

    Use it as ``DISKETTE_ARCHIVE_STORAGE = {"BACKEND":
    "tests.destinations.memory_backend.MemoryDestination", "OPTIONS": {"bucket":
    "nightly"}}``: each ``get_destination()`` makes a new instance, and the
    bucket keeps what the previous one wrote.
    """

    #: bucket name -> {path: (bytes, when written)}
    buckets: dict[str, dict[str, tuple[bytes, datetime]]] = {}

    def __init__(self, bucket: str = "default"):
        self.files = self.buckets.setdefault(bucket, {})

    # The minimum tier: enough to dump, list, load and prune.

    def read(self, path: str) -> IO[bytes]:
        return io.BytesIO(self._stored(path)[0])

    def write(self, path: str, content: IO[bytes]) -> None:
        chunks = []
        while chunk := content.read(CHUNK_SIZE):
            chunks.append(chunk)
        # One assignment at the end: a reader never sees part of the file.
        self.files[path] = (b"".join(chunks), datetime.now(timezone.utc))

    def list(self, prefix: str = "") -> list[str]:
        return sorted(
            name
            for name in self.files
            if name.startswith(prefix) and "/" not in name[len(prefix) :]
        )

    def delete(self, path: str) -> None:
        self.files.pop(path, None)

    def exists(self, path: str) -> bool:
        return path in self.files

    # The advanced tier: atomic streams, sizes and times without a download.

    @contextmanager
    def open_write(self, path: str) -> Iterator[IO[bytes]]:
        stream = io.BytesIO()
        yield stream  # an exception here skips the publication below
        self.files[path] = (stream.getvalue(), datetime.now(timezone.utc))

    def size(self, path: str) -> int:
        return len(self._stored(path)[0])

    def modified(self, path: str) -> datetime:
        return self._stored(path)[1]

    def _stored(self, path: str) -> tuple[bytes, datetime]:
        try:
            return self.files[path]
        except KeyError:
            raise FileNotFoundError(path) from None
