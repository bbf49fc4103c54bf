"""What a dump returns: per fixture, per storage, and in all (``to_dict()`` is
the command's ``--json``).

Beside the dump's other modules (``dump_options``, ``dump_plan``); the load's and
the inspection's results are in :mod:`diskette.api.results`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diskette.exceptions import PruneError

if TYPE_CHECKING:
    from diskette.destinations.retention import PruneResult


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
    """What :func:`dump` wrote; ``to_dict()`` is the ``--json`` form.

    ``path`` is the archive's local path when the destination is a local
    directory, else its ``name`` in the destination; ``destination`` describes
    the destination (``local directory /x``, ``STORAGES['backups'] (S3Storage)``).
    ``prune`` is what ``prune=True`` deleted and kept.
    """

    path: Path | str
    checksum: str | None
    size: int
    data: list[DataResult]
    storages: list[StorageResult]
    timings: dict[str, float]
    warnings: list[str] = dataclasses.field(default_factory=list)
    destination: str = ""
    name: str = ""
    sidecar: str | None = None
    local: bool = True
    prune: PruneResult | None = None

    @property
    def objects(self) -> int:
        return sum(item.objects for item in self.data)

    @property
    def files(self) -> int:
        return sum(item.files for item in self.storages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "destination": self.destination,
            "name": self.name,
            "sidecar": self.sidecar,
            "checksum": self.checksum,
            "checksum_algorithm": "blake2b" if self.checksum else None,
            "size": self.size,
            "objects": self.objects,
            "files": self.files,
            "data": [item.to_dict() for item in self.data],
            "storages": [item.to_dict() for item in self.storages],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "warnings": list(self.warnings),
            "prune": self.prune.to_dict() if self.prune is not None else None,
        }


class DumpPruneError(PruneError):
    """``prune=True``: the archive was written, then the prune failed.

    ``dump`` is the dump's result (the archive is there); ``result`` is what the
    prune deleted and did not (``None`` when it failed before deleting anything).
    """

    def __init__(
        self, message: str, result: PruneResult | None, dump: DumpResult
    ) -> None:
        super().__init__(message, result)
        self.dump = dump
