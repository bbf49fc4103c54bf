"""What an archive holds, verified without writing anything."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps as django_apps
from django.core.serializers.base import DeserializationError

from diskette.api.load import fetch_archive
from diskette.archive import (
    ArchiveReader,
    MemberCheck,
)
from diskette.checks import raise_for_settings
from diskette.conf import get_settings, load_setting_names
from diskette.download import is_url, redact
from diskette.environment import (
    EnvironmentDifference,
    compare_environments,
    installed_distributions,
)
from diskette.exceptions import (
    ArchiveError,
    ChecksumError,
    ConfigurationError,
    ManifestError,
)
from diskette.load.fixtures import read_objects
from diskette.manifest import (
    MANIFEST_NAME,
    check_counts,
    count_objects,
)
from diskette.reporter import Reporter, plural

#: Prefix of the private temporary directory an inspected URL is downloaded into.
INSPECT_PREFIX = ".diskette-inspect-"


@dataclass
class InspectedData:
    """One data file of an inspected archive.

    ``models`` and ``objects`` come from the manifest (verification counts the
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
        }


def inspect(
    archive: str | os.PathLike,
    *,
    verify: bool = True,
    environment: bool = False,
    reporter: Reporter | None = None,
) -> InspectResult:
    """Describe an archive (path or URL) and verify its members; change nothing.

    Reads the manifest and every member header, then, with ``verify``, every
    member, hashing it without writing it. The database is not used and nothing
    is written, except a URL's download into a private temporary directory,
    removed afterwards. A member that does not match its checksum is in
    ``problems`` (the result says what did not verify, it does not raise);
    an archive that cannot be read or is unsafe raises an ArchiveError.
    ``environment`` compares the distributions the archive records with the
    running ones.
    """
    reporter = reporter or Reporter()
    raise_for_settings(load_setting_names(), overridden=["DISKETTE_LOAD_STORAGES_PATH"])
    conf = get_settings()
    if not is_url(archive):
        path = Path(archive).expanduser()
        return _inspect(path, str(path), conf, verify, environment, reporter)
    try:
        private = Path(tempfile.mkdtemp(prefix=INSPECT_PREFIX))
    except OSError as error:
        raise ConfigurationError(
            f"cannot create a temporary directory for the download in "
            f"{tempfile.gettempdir()!r} ({error.strerror or error}): set TMPDIR to a "
            "writable directory"
        ) from None
    try:
        path = fetch_archive(archive, None, private, conf, reporter)
        return _inspect(path, redact(archive), conf, verify, environment, reporter)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _inspect(path, shown, conf, verify, environment, reporter) -> InspectResult:
    with ArchiveReader(
        path,
        max_size=conf.load_max_size,
        max_members=conf.load_max_members,
        minimal_size=conf.load_minimal_filesize,
    ) as reader:
        manifest = reader.inspect()
        size = path.stat().st_size
        counted: dict[str, dict[str, int]] = {}
        unreadable: dict[str, ArchiveError] = {}
        errors: list[ArchiveError] = []
        checks: list[MemberCheck] = []
        if verify:
            try:
                checks = _check_members(reader, manifest, counted, unreadable, reporter)
            except ArchiveError as error:
                errors.append(error)
    sizes = {m.name: m.size for m in reader.members if not m.is_dir}
    failed = [check for check in checks if check.ok is False]
    errors[:0] = [
        ChecksumError(
            f"archive member {c.name!r} has sha256 {c.sha256}, the manifest says "
            f"{c.expected}: the archive was altered or damaged"
        )
        for c in failed
    ]
    verdict = {c.name: c.ok for c in checks}
    errors += _data_problems(manifest, counted, unreadable, verdict)
    data = []
    for item in manifest.data:
        models = (
            dict(item.models)
            if not manifest.is_legacy
            else _shown(counted.get(item.path))
        )
        data.append(
            InspectedData(
                path=item.path,
                definition=item.definition,
                format=item.format,
                models=models,
                objects=sum(models.values()) if models is not None else None,
                size=sizes.get(item.path, 0),
                sha256=item.sha256,
                verified=verdict.get(item.path),
            )
        )
    storages = [
        _inspected_storage(entry, reader.members, verdict, manifest.is_legacy)
        for entry in manifest.storages
    ]
    difference = None
    if environment:
        difference = compare_environments(
            manifest.environment, installed_distributions()
        )
    return InspectResult(
        archive=shown,
        size=size,
        format=manifest.format,
        legacy=manifest.is_legacy,
        version=manifest.version,
        created=manifest.created or manifest.creation,
        software=dict(manifest.software) or {"diskette": manifest.version},
        database=dict(manifest.database),
        migrations={app: list(names) for app, names in manifest.migrations.items()},
        data=data,
        storages=storages,
        checked=bool(verify),
        members=len(checks),
        failed=failed,
        environment=difference,
        errors=errors,
    )


def _check_members(
    reader, manifest, counted, unreadable, reporter
) -> list[MemberCheck]:
    """Hash every member; count the objects of json and jsonl fixtures on the way."""
    formats = {item.path: item.format for item in manifest.data}
    files = sum(1 for m in reader.members if not m.is_dir and m.name != MANIFEST_NAME)
    done = 0

    def consume(info, stream) -> None:
        nonlocal done
        done += 1
        reporter.progress("Verifying", done, files)
        objects = read_objects(stream, formats.get(info.name, ""))
        if objects is None:
            return  # not a data file, or a format that does not stream
        counts: dict[str, int] = {}
        try:
            for _raw in count_objects(objects, counts):
                pass
        except DeserializationError as error:
            kind = "JSON" if formats[info.name] == "json" else "JSON lines"
            unreadable[info.name] = ChecksumError(
                f"data file {info.name!r} is not a {kind} fixture ({error}): it "
                "cannot be loaded"
            )
            return
        counted[info.name] = counts

    try:
        return reader.check_members(consume)
    finally:
        reporter.done()


def _data_problems(manifest, counted, unreadable, verdict) -> list[ArchiveError]:
    """Each data file that cannot be read, or whose objects are not what the
    manifest counts (a ManifestError); one that fails its checksum says so alone."""
    found: list[ArchiveError] = []
    for item in manifest.data:
        if verdict.get(item.path) is False:
            continue
        if item.path in unreadable:
            found.append(unreadable[item.path])
        elif item.path in counted:
            try:
                check_counts(item, counted[item.path])
            except ManifestError as error:
                found.append(error)
    return found


def _shown(counts: dict[str, int] | None) -> dict[str, int] | None:
    """Counted objects per ``app_label.ModelName`` (as written when not installed)."""
    if counts is None:
        return None
    shown: dict[str, int] = {}
    for key, count in counts.items():
        label = _model_label(key)
        shown[label] = shown.get(label, 0) + count
    return shown


def _model_label(raw: Any) -> str:
    """``app_label.ModelName`` of a fixture's model, as written when not installed."""
    try:
        return django_apps.get_model(str(raw))._meta.label
    except (LookupError, ValueError):
        return str(raw)


def _inspected_storage(entry, members, verdict, legacy) -> InspectedStorage:
    prefix = entry.name + "/"
    inside = [m for m in members if m.name.startswith(prefix)]
    files = [m for m in inside if not m.is_dir]
    if legacy:
        parents = {a for m in inside for a in _parents(m.name)}
        empty = sorted(
            m.name[len(prefix) :] for m in inside if m.is_dir and m.name not in parents
        )
    else:
        empty = list(entry.empty_directories)
    results = [verdict.get(m.name) for m in files]
    return InspectedStorage(
        name=entry.name,
        files=len(files),
        bytes=sum(m.size for m in files),
        empty_directories=empty,
        verified=None if not results or None in results else all(results),
    )


def _parents(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:index]) for index in range(1, len(parts))]
