"""What a dump returns: per fixture, per storage, and in all (``to_dict()`` is
the command's ``--json``).

Beside the dump's other modules (``dump_options``, ``dump_plan``); the load's and
the inspection's results are in :mod:`diskette.api.results`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class DataResult:
    """One fixture in the archive."""

    name: str
    path: str
    format: str
    models: dict[str, int]
    objects: int
    size: int
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StorageResult:
    """One storage in the archive."""

    name: str
    files: int
    bytes: int
    empty_directories: list[str]
    skipped_links: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DumpResult:
    """What :func:`dump` wrote; ``to_dict()`` is the ``--json`` form."""

    path: Path
    checksum: str | None
    size: int
    data: list[DataResult]
    storages: list[StorageResult]
    timings: dict[str, float]
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def objects(self) -> int:
        return sum(item.objects for item in self.data)

    @property
    def files(self) -> int:
        return sum(item.files for item in self.storages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "checksum": self.checksum,
            "checksum_algorithm": "blake2b" if self.checksum else None,
            "size": self.size,
            "objects": self.objects,
            "files": self.files,
            "data": [item.to_dict() for item in self.data],
            "storages": [item.to_dict() for item in self.storages],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "warnings": list(self.warnings),
        }
