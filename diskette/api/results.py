"""What a load returns: per data file, per storage, and in all (``--json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class LoadedData:
    """One data file of a load: objects saved, per model label."""

    name: str
    path: str
    definition: str | None
    format: str
    objects: int
    models: dict[str, int]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3)}


@dataclass
class LoadedStorage:
    """One storage of a load: where it went and what it holds now."""

    name: str
    path: str
    files: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadResult:
    """What :func:`load` did; ``to_dict()`` is the ``--json`` form."""

    archive: str
    format: int | None
    legacy: bool
    database: str
    data: list[LoadedData]
    storages: list[LoadedStorage]
    excluded: list[str]
    timings: dict[str, float]

    @property
    def objects(self) -> int:
        return sum(item.objects for item in self.data)

    @property
    def files(self) -> int:
        return sum(item.files for item in self.storages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "format": self.format,
            "legacy": self.legacy,
            "database": self.database,
            "objects": self.objects,
            "files": self.files,
            "data": [item.to_dict() for item in self.data],
            "storages": [item.to_dict() for item in self.storages],
            "excluded": list(self.excluded),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
