"""What a load and an inspection return: per data file, per storage, and in all
(``to_dict()`` is the commands' ``--json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from diskette.archive import MemberCheck
from diskette.environment import EnvironmentDifference
from diskette.exceptions import ArchiveError, ChecksumError, ManifestError
from diskette.reporter import plural


@dataclass
class LoadedData:
    """One data file of a load: objects saved, per model label (``auth.Permission``,
    as :func:`diskette.manifest.model_label` says it: the manifest's form)."""

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
    #: Whether the archive was encrypted (age).
    encrypted: bool = False
    #: The fingerprint (and comment) of the key whose signature verified.
    signed_by: str | None = None

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
            "encrypted": self.encrypted,
            "signed_by": self.signed_by,
        }


@dataclass
class InspectedData:
    """One data file of an inspected archive.

    ``models`` (per :func:`diskette.manifest.model_label`, as the dump records
    them) and ``objects`` come from the manifest (verification counts the
    objects of json and jsonl fixtures and refuses counts that disagree); for
    the original diskette's archives, which do not record them, they are counted
    while the archive is verified (``None`` without verification).
    """

    path: str
    definition: str | None
    format: str
    models: dict[str, int] | None
    objects: int | None
    size: int
    sha256: str | None
    verified: bool | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class InspectedStorage:
    """One storage of an inspected archive, as its members show it."""

    name: str
    files: int
    bytes: int
    empty_directories: list[str]
    verified: bool | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class InspectResult:
    """What :func:`inspect` found; ``to_dict()`` is the ``--json`` form.

    ``checksums`` is ``"verified"`` (every member matches the manifest),
    ``"failed"`` (see ``problems``), ``"none"`` (an original diskette archive,
    read through without an error), or ``"not checked"`` (``verify=False``).
    ``errors`` holds each problem as the error it is; ``problems`` their messages.
    """

    archive: str
    size: int
    format: int | None
    legacy: bool
    version: str
    created: str
    software: dict[str, str]
    database: dict[str, str]
    migrations: dict[str, list[str]]
    data: list[InspectedData]
    storages: list[InspectedStorage]
    checked: bool
    members: int
    failed: list[MemberCheck]
    environment: EnvironmentDifference | None = None
    errors: list[ArchiveError] = field(default_factory=list)
    #: Whether the file is encrypted (age).
    encrypted: bool = False
    #: The fingerprint (and comment) of the key whose signature verified.
    signed_by: str | None = None
    #: Whether that key is in ``DISKETTE_TRUSTED_KEYS`` (None: none is set).
    trusted: bool | None = None
    #: ``{"profile", "rules"}`` when the archive is an anonymised copy.
    anonymised: dict[str, Any] | None = None

    @property
    def problems(self) -> list[str]:
        """One line per problem found, in the order found."""
        return [str(error) for error in self.errors]

    @property
    def ok(self) -> bool:
        """False when something did not verify."""
        return not self.problems

    def error(self) -> ArchiveError | None:
        """The refusal of a strict verification, or None: the first problem's
        error (a ManifestError for counts that disagree, else a ChecksumError)."""
        if not self.errors:
            return None
        kind = type(self.errors[0])
        if not issubclass(kind, ManifestError):
            kind = ChecksumError
        others = len(self.problems) - 1
        return kind(
            f"archive {self.archive!r} does not verify: {self.problems[0]}"
            + (f" (and {plural(others, 'other problem')})" if others else "")
        )

    @property
    def checksums(self) -> str:
        if self.problems:
            return "failed"
        if not self.checked:
            return "not checked"
        return "none" if self.legacy else "verified"

    @property
    def objects(self) -> int | None:
        counts = [item.objects for item in self.data]
        return None if None in counts else sum(counts)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {
            "archive": self.archive,
            "size": self.size,
            "format": self.format,
            "legacy": self.legacy,
            "version": self.version,
            "created": self.created,
            "software": dict(self.software),
            "database": dict(self.database),
            "migrations": {app: list(names) for app, names in self.migrations.items()},
            "objects": self.objects,
            "files": sum(item.files for item in self.storages),
            "data": [item.to_dict() for item in self.data],
            "storages": [item.to_dict() for item in self.storages],
            "checksums": {
                "status": self.checksums,
                "algorithm": None if self.legacy else "sha256",
                "members": self.members,
                "failed": [
                    {"name": c.name, "expected": c.expected, "actual": c.sha256}
                    for c in self.failed
                ],
            },
            "problems": list(self.problems),
            "environment": self.environment.to_dict() if self.environment else None,
            "encrypted": self.encrypted,
            "signed_by": self.signed_by,
            "trusted": self.trusted,
            "anonymised": dict(self.anonymised) if self.anonymised else None,
        }
