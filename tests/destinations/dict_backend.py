"""A destination held in a dict, for the listing, sidecar and retention tests.

``DictBackend`` has the minimum tier of the archive storage protocol (read, write,
list, delete, exists); ``AdvancedDictBackend`` adds ``size`` and ``modified``. Both
count the bytes read per path, can refuse to open chosen paths, and can fail on
their n-th delete, so a test can prove what was read and what a half-way failure
leaves.
"""

from __future__ import annotations

import datetime
import io
from collections import Counter
from typing import IO, Any

from diskette.destinations.sidecar import build_sidecar, write_sidecar
from diskette.manifest import FORMAT_VERSION, DataFile, Manifest, StorageEntry

CHECKSUM = "ab" * 64
SHA = "cd" * 32


class CountingStream(io.RawIOBase):
    """A readable stream that adds what is read to its backend's tally."""

    def __init__(self, data: bytes, tally: Counter, path: str, chunk: int | None):
        self._data = io.BytesIO(data)
        self._tally = tally
        self._path = path
        self._chunk = chunk  # at most this many bytes per read: short reads

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._chunk is not None and (size < 0 or size > self._chunk):
            size = self._chunk
        data = self._data.read(size)
        self._tally[self._path] += len(data)
        return data


class DictBackend:
    """The minimum tier, in memory."""

    def __init__(self, *, fail_on_delete: int | None = None, chunk: int | None = None):
        self.files: dict[str, bytes] = {}
        self.bytes_read: Counter = Counter()
        self.opened: list[str] = []
        self.forbidden: set[str] = set()  # opening one of these fails the test
        self.deletes: list[str] = []  # every delete asked, in order
        self.fail_on_delete = fail_on_delete
        self.chunk = chunk

    def read(self, path: str) -> IO[bytes]:
        assert path not in self.forbidden, f"{path!r} was opened"
        if path not in self.files:
            raise FileNotFoundError(path)
        self.opened.append(path)
        return CountingStream(self.files[path], self.bytes_read, path, self.chunk)  # type: ignore[return-value]

    def write(self, path: str, content: IO[bytes]) -> None:
        self.files[path] = content.read()

    def list(self, prefix: str = "") -> list[str]:
        return sorted(name for name in self.files if name.startswith(prefix))

    def delete(self, path: str) -> None:
        self.deletes.append(path)
        if self.fail_on_delete is not None and len(self.deletes) == self.fail_on_delete:
            raise PermissionError(13, "Permission denied", path)
        self.files.pop(path, None)  # a missing name is not an error

    def exists(self, path: str) -> bool:
        return path in self.files


class AdvancedDictBackend(DictBackend):
    """The minimum tier plus ``size`` and ``modified`` (set per path in ``times``)."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.times: dict[str, datetime.datetime] = {}

    def size(self, path: str) -> int:
        if path not in self.files:
            raise FileNotFoundError(path)
        return len(self.files[path])

    def modified(self, path: str) -> datetime.datetime:
        return self.times[path]


def manifest_dict(**overrides: Any) -> dict[str, Any]:
    """A valid manifest dict, as an archive's manifest.json holds it."""
    values: dict[str, Any] = {
        "version": "1.0.0",
        "creation": "2026-11-22T10:15:00",
        "format": FORMAT_VERSION,
        "created": "2026-11-22T10:15:00+00:00",
        "software": {"diskette": "1.0.0", "django": "5.2", "python": "3.12.0"},
        "database": {"vendor": "sqlite", "alias": "default"},
        "migrations": {"auth": ["0001_initial"]},
        "data": (
            DataFile(
                path="data/auth.json",
                format="json",
                definition="auth",
                models={"auth.User": 2},
                objects=2,
                size=10,
                sha256=SHA,
            ),
            DataFile(
                path="data/library.jsonl",
                format="jsonl",
                definition="library",
                models={"library.Book": 40},
                objects=40,
                size=900,
                sha256=SHA,
            ),
        ),
        "storages": (
            StorageEntry(name="media", files=3, bytes=30, empty_directories=()),
        ),
        "members": {"data/auth.json": SHA, "data/library.jsonl": SHA},
        "content_types": ((1, "auth", "user"),),
        "permissions": ((1, "auth", "user", "add_user"),),
    }
    values.update(overrides)
    return Manifest(**values).to_dict()


def utc(*parts: int) -> datetime.datetime:
    return datetime.datetime(*parts, tzinfo=datetime.timezone.utc)


def store_archive(
    backend: DictBackend,
    name: str,
    created: datetime.datetime,
    body: bytes = b"archive body " * 10,
    manifest: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Put an archive and its sidecar in ``backend``, as a dump does; the sidecar."""
    backend.files[name] = body
    sidecar = build_sidecar(
        name, len(body), CHECKSUM, manifest or manifest_dict(), created=created
    )
    write_sidecar(backend, sidecar)  # type: ignore[arg-type]
    return sidecar
