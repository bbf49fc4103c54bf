"""The Python API: :func:`dump`, :func:`load`, :func:`inspect`: the commands' pipelines."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import json
import os
import platform
import shlex
import shutil
import string
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import django
from django.apps import apps as django_apps
from django.core import serializers
from django.core.management import get_commands
from django.core.serializers.base import DeserializationError
from django.db import DEFAULT_DB_ALIAS, connections

from diskette.archive import (
    ArchiveReader,
    ArchiveWriter,
    MemberCheck,
    normalise_checksum,
)
from diskette.checks import raise_for_settings
from diskette.conf import get_settings, setting_names
from diskette.definitions import FORMATS, Definition
from diskette.download import download, is_url, redact
from diskette.dumper import (
    FixtureResult,
    dumpdata_arguments,
    dumped_models,
    read_transaction,
    resolve_models,
    write_fixture,
)
from diskette.environment import (
    EnvironmentDifference,
    compare_environments,
    installed_distributions,
)
from diskette.exceptions import (
    ArchiveError,
    ConfigurationError,
    DumpError,
    ManifestError,
    StorageRestoreError,
)
from diskette.fixtures import read_json_array
from diskette.loader import Fixture, load_fixtures
from diskette.manifest import (
    DATA_PREFIX,
    FORMAT_VERSION,
    MANIFEST_NAME,
    DataFile,
    Manifest,
    StorageEntry,
)
from diskette.paths import StoragePath, member_name_problem
from diskette.plan import (
    LoadPlan,
    MigrationState,
    ModelRows,
    Problem,
    applied_migrations,
    check_migrations,
    compare_migrations,
    count_rows,
    rehearse,
)
from diskette.relations import dangling_relations
from diskette.reporter import Reporter
from diskette.restore import MODES, StagedStorage, diff_storage, restore_storages
from diskette.storages import (
    ExcludePatterns,
    StorageStats,
    check_storages,
    survey_storage,
    walk_storage,
)

#: The settings a load reads; a dump reads all the others.
LOAD_SETTINGS = [
    name
    for name in setting_names()
    if name.startswith(("DISKETTE_LOAD_", "DISKETTE_DOWNLOAD_"))
]

# ---- dump ----------------------------------------------------------------------

#: Placeholders a dump filename may hold.
FILENAME_PLACEHOLDERS = ("features", "date")
#: ``{date}`` form: ISO 8601 without separators in the time, safe on every file system.
DATE_FORMAT = "%Y-%m-%dT%H%M%S"


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


@dataclass
class DumpPlan:
    """Everything a dump will do, validated, before anything is read or written."""

    definitions: list[Definition]
    storages: list[StoragePath]
    excludes: list[str]
    destination: Path
    filename: str
    indent: int | None
    compresslevel: int
    permissions: int
    using: str
    skipped: list[str] = dataclasses.field(default_factory=list)
    #: Relations to rows the archive will not hold (see :mod:`diskette.relations`).
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.destination / self.filename

    def describe(self, reporter: Reporter | None = None) -> dict[str, Any]:
        """Resolved models and storage counts (walks storages, reads no data)."""
        patterns = ExcludePatterns(self.excludes)
        storages = []
        for storage in self.storages:
            stats = survey_storage(storage, patterns, reporter)
            storages.append(
                {
                    "name": storage.name,
                    "path": str(storage.path),
                    "files": stats.files,
                    "bytes": stats.bytes,
                    "empty_directories": stats.empty_directories,
                    "skipped_links": stats.skipped,
                    "excluded": stats.excluded,
                }
            )
        return {
            "archive": str(self.path),
            "database": self.using,
            "data": [
                {
                    "name": definition.name,
                    "path": DATA_PREFIX + definition.filename,
                    "format": definition.format,
                    "models": [
                        model._meta.label
                        for model in dumped_models(definition, self.using)
                    ]
                    if not definition.dump_command
                    else list(definition.models),
                    "natural_foreign": definition.natural_foreign,
                    "natural_primary": definition.natural_primary,
                    "use_base_manager": definition.use_base_manager,
                    "dump_command": definition.dump_command,
                }
                for definition in self.definitions
            ],
            "storages": storages,
            "excludes": list(self.excludes),
            "warnings": list(self.warnings),
        }


def _features(with_data: bool, with_storages: bool) -> str:
    return "_" + "_".join(
        name for name, on in (("data", with_data), ("storages", with_storages)) if on
    )


def dump_filename(
    pattern: str,
    *,
    with_data: bool,
    with_storages: bool,
    now: datetime.datetime | None = None,
) -> str:
    """Fill ``{features}`` and ``{date}`` in a filename pattern, or raise ConfigurationError.

    ``{date}`` is the local time as ``2026-11-22T101500`` (no ``:``, so the name
    is valid on every file system).
    """
    if not isinstance(pattern, str) or not pattern:
        raise ConfigurationError(
            f"dump filename {pattern!r} is empty or not a string: use e.g. "
            "'diskette{features}.tar.gz'"
        )
    try:
        fields = list(string.Formatter().parse(pattern))
    except ValueError as error:
        raise ConfigurationError(
            f"dump filename {pattern!r} is not a valid pattern ({error}): write "
            "literal braces as '{{' and '}}'"
        ) from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in FILENAME_PLACEHOLDERS or spec or conversion:
            raise ConfigurationError(
                f"dump filename {pattern!r} has an unknown placeholder {{{name}}}: "
                "only {features} and {date} are replaced"
            )
    now = now or datetime.datetime.now()
    name = pattern.format(
        features=_features(with_data, with_storages), date=now.strftime(DATE_FORMAT)
    )
    if "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ConfigurationError(
            f"dump filename {pattern!r} gives {name!r}, which is not a plain file "
            "name: use --destination for the directory"
        )
    return name


def _raw_definitions(definitions, appconf):
    if appconf is not None:
        try:
            with open(appconf, encoding="utf-8") as stream:
                return json.load(stream)
        except OSError as error:
            raise ConfigurationError(
                f"cannot read the application definitions file {str(appconf)!r}: "
                f"{error.strerror}"
            ) from None
        except (ValueError, UnicodeDecodeError) as error:
            raise ConfigurationError(
                f"the application definitions file {str(appconf)!r} is not valid "
                f"JSON: {error}"
            ) from None
    return definitions


def _load_definitions(raw) -> list[Definition]:
    if raw is not None and all(isinstance(item, Definition) for item in raw):
        return list(raw)
    from diskette import definitions as definitions_module

    loader = getattr(definitions_module, "load_definitions", None)
    if loader is None:  # pragma: no cover - until definitions.py is complete
        raise ConfigurationError("application definitions cannot be parsed yet")
    return list(loader(raw))


def _select(definitions, apps, exclude_apps) -> list[Definition]:
    names = [definition.name for definition in definitions]
    for option, chosen in (("--app", apps), ("--exclude-app", exclude_apps)):
        unknown = [name for name in chosen or () if name not in names]
        if unknown:
            raise ConfigurationError(
                f"{option} names unknown definition(s) {', '.join(map(repr, unknown))}: "
                f"known ones are {', '.join(map(repr, names)) or 'none'}"
            )
    if apps:
        definitions = [d for d in definitions if d.name in apps]
    if exclude_apps:
        definitions = [d for d in definitions if d.name not in exclude_apps]
    return definitions


def _with_format(definition: Definition, fmt: str | None) -> Definition:
    if fmt is None or fmt == definition.format:
        return definition
    stem, dot, ext = definition.filename.rpartition(".")
    base = stem if dot and ext in FORMATS else definition.filename
    return dataclasses.replace(definition, format=fmt, filename=f"{base}.{fmt}")


def _check_format(fmt: str, where: str) -> None:
    if fmt not in FORMATS:
        raise ConfigurationError(
            f"{where}: format {fmt!r} is unknown: use one of {', '.join(FORMATS)}"
        )
    try:
        serializers.get_serializer(fmt)
    except serializers.SerializerDoesNotExist:
        raise ConfigurationError(
            f"{where}: format {fmt!r} is not available: install PyYAML for yaml"
        ) from None


def plan_dump(
    *,
    destination: str | os.PathLike | None = None,
    filename: str | None = None,
    definitions: list | None = None,
    appconf: str | os.PathLike | None = None,
    storages: list | None = None,
    storages_basepath: str | os.PathLike | None = None,
    storages_excludes: list[str] | None = None,
    no_storages_excludes: bool = False,
    indent: int | None = None,
    with_data: bool = True,
    with_storages: bool = True,
    apps: list[str] | None = None,
    exclude_apps: list[str] | None = None,
    format: str | None = None,  # noqa: A002 - the option's name
    compresslevel: int = 6,
    using: str = DEFAULT_DB_ALIAS,
    strict: bool = False,
    reporter: Reporter | None = None,
) -> DumpPlan:
    """Validate every choice of a dump and resolve it; reads no data, writes nothing.

    Relations to rows the archive would not hold are reported as warnings, or
    raise ConfigurationError with ``strict``.
    """
    reporter = reporter or Reporter()
    own_definitions = definitions is not None or appconf is not None
    replaced = {
        "DISKETTE_APPS": own_definitions or not with_data,
        "DISKETTE_STORAGES": storages is not None or not with_storages,
        "DISKETTE_STORAGES_BASEPATH": storages_basepath is not None,
        "DISKETTE_STORAGES_EXCLUDES": no_storages_excludes or not with_storages,
        "DISKETTE_DUMP_PATH": destination is not None,
        "DISKETTE_DUMP_FILENAME": filename is not None,
    }
    raise_for_settings(
        [name for name in setting_names() if name not in LOAD_SETTINGS],
        overridden=[name for name, yes in replaced.items() if yes],
    )
    conf = get_settings()
    pattern = conf.dump_filename if filename is None else filename
    dump_filename(pattern, with_data=True, with_storages=True)  # fail early
    if using not in connections:
        raise ConfigurationError(
            f"database {using!r} is not in DATABASES: use one of "
            f"{', '.join(connections)}"
        )
    if format is not None:
        _check_format(format, "--format")
    if indent is not None and (not isinstance(indent, int) or indent < 0):
        raise ConfigurationError(f"indent {indent!r} must be a positive integer")
    if not isinstance(compresslevel, int) or not 0 <= compresslevel <= 9:
        raise ConfigurationError(
            f"compresslevel (--compresslevel) {compresslevel!r} must be an integer "
            "from 0 to 9"
        )

    chosen: list[Definition] = []
    skipped: list[str] = []
    if with_data:
        raw = _raw_definitions(definitions, appconf)
        chosen = _select(_load_definitions(raw), apps, exclude_apps)
        chosen = [_with_format(d, format) for d in chosen]
        # A definition that selects no model (a drain left with nothing) would
        # make dumpdata dump everything: it is skipped, and said so.
        skipped = [d.name for d in chosen if not d.models and not d.dump_command]
        chosen = [d for d in chosen if d.models or d.dump_command]
        seen: dict[str, str] = {}
        for definition in chosen:
            _check_format(definition.format, f"definition {definition.name!r}")
            member = DATA_PREFIX + definition.filename
            problem = member_name_problem(member)
            if problem or "/" in definition.filename:
                raise ConfigurationError(
                    f"definition {definition.name!r}: filename "
                    f"{definition.filename!r} {problem or 'contains a /'}: give a plain "
                    "file name"
                )
            if definition.filename in seen:
                raise ConfigurationError(
                    f"definitions {seen[definition.filename]!r} and {definition.name!r} "
                    f"both write {definition.filename!r}: give one another filename"
                )
            seen[definition.filename] = definition.name
            if not definition.dump_command:
                resolve_models(definition.models)
            elif definition.dump_command not in get_commands():
                raise ConfigurationError(
                    f"definition {definition.name!r}: dump_command "
                    f"{definition.dump_command!r} is not a management command of this "
                    "project"
                )
    warnings = _dangling(chosen, using, strict, reporter)

    resolved: list[StoragePath] = []
    excludes: list[str] = []
    if with_storages:
        base = (
            storages_basepath if storages_basepath is not None else conf.storages_base
        )
        paths = conf.storages if storages is None else storages
        resolved = check_storages(list(paths or ()), base)
        # The option's patterns add to the setting's; --no-storages-excludes
        # drops the setting's only.
        if not no_storages_excludes:
            excludes = list(conf.storages_excludes or ())
        excludes += list(storages_excludes or ())
        ExcludePatterns(excludes)  # validates them

    if not chosen and not resolved:
        raise ConfigurationError(
            "nothing to dump: no application definition and no storage selected "
            "(check DISKETTE_APPS, DISKETTE_STORAGES, --app, --no-data, --no-storages)"
        )
    name = dump_filename(
        pattern,
        with_data=bool(chosen),
        with_storages=bool(resolved),
    )
    target = Path(destination) if destination is not None else conf.dump_directory
    permissions = conf.dump_permissions
    if not isinstance(permissions, int) or not 0 <= permissions <= 0o777:
        raise ConfigurationError(
            f"DISKETTE_DUMP_PERMISSIONS {permissions!r} must be a mode such as 0o600"
        )
    return DumpPlan(
        definitions=chosen,
        storages=resolved,
        excludes=excludes,
        destination=target.expanduser().absolute(),
        filename=name,
        indent=indent,
        compresslevel=compresslevel,
        permissions=permissions,
        using=using,
        skipped=skipped,
        warnings=warnings,
    )


def _dangling(
    definitions: list[Definition], using: str, strict: bool, reporter: Reporter
) -> list[str]:
    """Warn about relations to rows the archive will not hold; refuse with ``strict``."""
    found = [str(item) for item in dangling_relations(definitions, using)]
    if found and strict:
        raise ConfigurationError(
            f"--strict: {len(found)} relation(s) point to rows the archive will not "
            "hold: " + "; ".join(found)
        )
    for message in found:
        reporter.warning(message)
    return found


def dumpdata_command_lines(
    plan: DumpPlan, program: list[str] | None = None
) -> list[str]:
    """One shell-quoted ``dumpdata`` line per definition, writing into the destination.

    ``program`` is how to run the project's commands, ``manage.py`` by default.
    """
    program = program or ["manage.py"]
    lines = []
    for definition in plan.definitions:
        args = dumpdata_arguments(
            definition,
            output=str(plan.destination / definition.filename),
            using=plan.using,
            indent=plan.indent,
        )
        command = definition.dump_command or "dumpdata"
        lines.append(shlex.join([*program, command, *args]))
    return lines


def _make_directory(path: Path) -> None:
    """Create ``path`` and missing parents 0700; existing directories keep their mode."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue
        directory.chmod(0o700)
    if not path.is_dir():
        raise DumpError(f"destination {str(path)!r} is not a directory")


def _os_error(error: OSError) -> DumpError:
    where = f" ({error.filename})" if error.filename else ""
    if error.errno == errno.ENOSPC:
        cause = "no space left on the device"
    elif error.errno in (errno.EACCES, errno.EPERM):
        cause = "permission denied"
    elif error.errno == errno.ENOENT:
        cause = "a file vanished while it was archived"
    else:
        cause = error.strerror or str(error)
    return DumpError(f"the dump failed: {cause}{where}; no archive was written")


def dump(
    *,
    destination: str | os.PathLike | None = None,
    filename: str | None = None,
    definitions: list | None = None,
    appconf: str | os.PathLike | None = None,
    storages: list | None = None,
    storages_basepath: str | os.PathLike | None = None,
    storages_excludes: list[str] | None = None,
    no_storages_excludes: bool = False,
    indent: int | None = None,
    with_data: bool = True,
    with_storages: bool = True,
    with_checksum: bool = True,
    apps: list[str] | None = None,
    exclude_apps: list[str] | None = None,
    format: str | None = None,  # noqa: A002 - the option's name
    compresslevel: int = 6,
    using: str = DEFAULT_DB_ALIAS,
    strict: bool = False,
    reporter: Reporter | None = None,
) -> DumpResult:
    """Dump data and storages into one archive; return what was written.

    Raises ConfigurationError before anything is written when a choice is wrong
    (with ``strict``, also when a dumped relation points to rows the archive
    will not hold), and DumpError (with nothing left behind) when the dump
    itself fails.
    """
    reporter = reporter or Reporter()
    started = time.monotonic()
    plan = plan_dump(
        destination=destination,
        filename=filename,
        definitions=definitions,
        appconf=appconf,
        storages=storages,
        storages_basepath=storages_basepath,
        storages_excludes=storages_excludes,
        no_storages_excludes=no_storages_excludes,
        indent=indent,
        with_data=with_data,
        with_storages=with_storages,
        apps=apps,
        exclude_apps=exclude_apps,
        format=format,
        compresslevel=compresslevel,
        using=using,
        strict=strict,
        reporter=reporter,
    )
    timings: dict[str, float] = {}
    try:
        _make_directory(plan.destination)
        workdir = Path(tempfile.mkdtemp(prefix=".diskette-", dir=plan.destination))
    except OSError as error:
        raise _os_error(error) from None
    try:
        return _dump(plan, workdir, reporter, timings, started, with_checksum)
    except OSError as error:
        raise _os_error(error) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _dump(plan, workdir, reporter, timings, started, with_checksum) -> DumpResult:
    fixtures: list[FixtureResult] = []
    tick = time.monotonic()
    for name in plan.skipped:
        reporter.info(f"definition {name!r} selects no model: skipped")
    with read_transaction(plan.using):
        migrations = applied_migrations(plan.using)
        for definition in plan.definitions:
            fixture = write_fixture(
                definition,
                workdir / definition.filename,
                using=plan.using,
                indent=plan.indent,
                reporter=reporter,
            )
            fixtures.append(fixture)
            reporter.info(
                f"{DATA_PREFIX}{fixture.filename}: {fixture.objects} objects "
                f"({definition.name})"
            )
    timings["data"] = time.monotonic() - tick

    tick = time.monotonic()
    patterns = ExcludePatterns(plan.excludes)
    data_results: list[DataResult] = []
    storage_results: list[StorageResult] = []
    with ArchiveWriter(
        plan.path, permissions=plan.permissions, compresslevel=plan.compresslevel
    ) as writer:
        own = {writer.temp_path.resolve(), workdir.resolve()}
        for fixture in fixtures:
            member = writer.add_file(
                DATA_PREFIX + fixture.filename, fixture.path, mode=0o600
            )
            data_results.append(
                DataResult(
                    name=fixture.definition,
                    path=member.name,
                    format=fixture.format,
                    models=dict(fixture.models),
                    objects=fixture.objects,
                    size=member.size,
                    sha256=member.sha256,
                )
            )
            fixture.path.unlink()
        for storage in plan.storages:
            stats = StorageStats(name=storage.name)
            archived = 0
            for item in walk_storage(storage, patterns, stats, reporter):
                if item.path in own or item.path.parent in own:
                    # The destination sits in this storage: never archive the
                    # archive being written, nor the private work directory.
                    if item.is_dir and item.relative in stats.empty_directories:
                        stats.empty_directories.remove(item.relative)
                    stats.files -= not item.is_dir
                    stats.bytes -= item.size
                    continue
                if item.is_dir:
                    writer.add_directory(item.arcname, mtime=item.mtime, mode=item.mode)
                    continue
                try:
                    member = writer.add_file(
                        item.arcname, item.path, mtime=item.mtime, mode=item.mode
                    )
                except FileNotFoundError:
                    raise DumpError(
                        f"{str(item.path)!r} vanished while it was archived: run the "
                        "dump again when nothing is deleting files; no archive was "
                        "written"
                    ) from None
                except OSError as error:
                    if error.errno is not None:
                        raise
                    # tarfile's "unexpected end of data": the file shrank.
                    raise DumpError(
                        f"{str(item.path)!r} changed while it was archived ({error}): "
                        "run the dump again; no archive was written"
                    ) from None
                stats.bytes += member.size - item.size
                archived += 1
                reporter.progress(f"archiving {storage.name}", archived, None)
            reporter.done()
            storage_results.append(
                StorageResult(
                    name=storage.name,
                    files=stats.files,
                    bytes=stats.bytes,
                    empty_directories=list(stats.empty_directories),
                    skipped_links=list(stats.skipped),
                )
            )
            reporter.info(
                f"{storage.name}: {stats.files} files, {stats.bytes} bytes"
                + (
                    f", {len(stats.empty_directories)} empty directories"
                    if stats.empty_directories
                    else ""
                )
            )
        manifest = _manifest(plan, data_results, storage_results, migrations, writer)
        writer.add_bytes(MANIFEST_NAME, manifest, mode=0o600)
        written = writer.commit()
    timings["archive"] = time.monotonic() - tick
    timings["total"] = time.monotonic() - started
    return DumpResult(
        path=written.path,
        checksum=written.blake2b if with_checksum else None,
        size=written.size,
        data=data_results,
        storages=storage_results,
        timings=timings,
        warnings=list(plan.warnings),
    )


def _manifest(plan, data_results, storage_results, migrations, writer) -> bytes:
    from diskette import __version__

    now = datetime.datetime.now().astimezone()
    manifest = Manifest(
        version=__version__,
        creation=now.replace(tzinfo=None).isoformat(timespec="seconds"),
        created=now.isoformat(timespec="seconds"),
        format=FORMAT_VERSION,
        data=tuple(
            DataFile(
                path=item.path,
                format=item.format,
                definition=item.name,
                models=dict(item.models),
                objects=item.objects,
                size=item.size,
                sha256=item.sha256,
            )
            for item in data_results
        ),
        storages=tuple(
            StorageEntry(
                name=item.name,
                files=item.files,
                bytes=item.bytes,
                empty_directories=tuple(item.empty_directories),
            )
            for item in storage_results
        ),
        software={
            "diskette": __version__,
            "django": django.get_version(),
            "python": platform.python_version(),
        },
        database={"vendor": connections[plan.using].vendor, "alias": plan.using},
        migrations=migrations,
        members=dict(writer.members),
        environment=tuple(installed_distributions()),
    )
    payload = manifest.to_dict()
    try:
        Manifest.from_dict(payload)
    except ManifestError as error:
        raise DumpError(f"the manifest would not be valid: {error}") from None
    return json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")


# ---- load ----------------------------------------------------------------------

#: Prefix of the private staging directory a load extracts into.
STAGING_PREFIX = ".diskette-load-"


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


def _excluded(manifest: Manifest, names, reporter: Reporter) -> set[str]:
    """Data paths matched by ``--exclude-data`` (file name, stem or definition name)."""
    if isinstance(names, (str, os.PathLike)):
        names = [names]
    wanted = {str(name) for name in names or ()}
    matched: set[str] = set()
    used: set[str] = set()
    for item in manifest.data:
        keys = {item.path, item.filename, item.filename.rsplit(".", 1)[0]}
        if item.definition:
            keys.add(item.definition)
        hits = keys & wanted
        if hits:
            matched.add(item.path)
            used |= hits
    for name in sorted(wanted - used):
        reporter.warning(
            f"--exclude-data {name!r} matches no data file of the archive "
            f"(it has {', '.join(d.filename for d in manifest.data) or 'none'})"
        )
    return matched


def _staging_parent(base: Path, with_storages: bool, reporter: Reporter) -> Path | None:
    """Where to stage: the storages base path (same file system), else the temp dir."""
    if not with_storages:
        return None
    try:
        _make_directory(base)
    except (OSError, DumpError) as error:
        raise ConfigurationError(
            f"storages base path {str(base)!r} cannot be used ({error}): give an "
            "existing directory with --storages-basepath or DISKETTE_LOAD_STORAGES_PATH"
        ) from None
    stale = sorted(path.name for path in base.glob(STAGING_PREFIX + "*"))
    if stale:
        reporter.warning(
            f"{str(base)!r} holds staging directories of loads that were killed "
            f"({', '.join(stale)}): delete them once no other load is running"
        )
    return base


def _exact_models(exact) -> bool | list[str]:
    """``exact`` as True/False or a list of checked model labels (lower case)."""
    if isinstance(exact, bool):
        return exact
    if isinstance(exact, str):
        exact = [exact]
    labels = []
    for label in exact or ():
        try:
            labels.append(django_apps.get_model(str(label))._meta.label_lower)
        except (LookupError, ValueError):
            raise ConfigurationError(
                f"--exact-model {label!r} is not an installed model: give it as "
                "'app_label.ModelName'"
            ) from None
    return labels


def _fetch(archive, destination, staging: Path, conf, reporter: Reporter) -> Path:
    """Download ``archive`` into staging (or ``destination``); return the local file."""
    target = (
        Path(destination).expanduser().absolute()
        if destination
        else staging / "download.tar.gz"
    )
    return download(
        str(archive),
        target,
        allowed_protocols=conf.download_allowed_protocols,
        allow_redirect=conf.download_allow_redirect,
        timeout=conf.download_timeout,
        max_size=conf.download_max_size,
        reporter=reporter,
    )


def load(
    archive: str | os.PathLike,
    *,
    storages_basepath: str | os.PathLike | None = None,
    exclude_data: list[str] | tuple[str, ...] = (),
    with_data: bool = True,
    with_storages: bool = True,
    ignorenonexistent: bool = False,
    checksum: str | None = None,
    download_destination: str | os.PathLike | None = None,
    flush: bool = False,
    storages_mode: str = "replace",
    using: str = DEFAULT_DB_ALIAS,
    reporter: Reporter | None = None,
    signals: bool = True,
    exact: bool | list[str] | tuple[str, ...] = False,
    ignore_migrations: bool = False,
) -> LoadResult:
    """Verify an archive (path or URL), load its data in one transaction, then
    swap its storages in; all or nothing.

    Nothing changes unless every member checks out and the database has applied
    every migration the archive was made at, for the apps whose data it holds
    (:class:`MigrationMismatchError` otherwise; ``ignore_migrations=True`` loads
    anyway). A database error rolls the whole load back; storages are swapped
    only after the commit. A load into a database that holds rows merges by
    primary key, as ``loaddata`` does: use ``flush=True`` to empty it first. The
    input archive is never deleted.

    Rows are inserted in batches where that gives what ``loaddata`` gives;
    ``exact=True`` saves every object as ``loaddata`` does, a list of model
    labels (``"app.Model"``) does so for those models. ``signals=False`` sends
    no ``pre_save``, ``post_save`` or ``m2m_changed`` during the load.
    """
    reporter = reporter or Reporter()
    started = time.monotonic()
    _check_load_options(using, storages_mode)
    exact = _exact_models(exact)
    timings: dict[str, float] = {}
    with _staged(
        archive,
        planning=False,
        storages_basepath=storages_basepath,
        exclude_data=exclude_data,
        with_data=with_data,
        with_storages=with_storages,
        checksum=checksum,
        download_destination=download_destination,
        using=using,
        ignore_migrations=ignore_migrations,
        reporter=reporter,
        timings=timings,
    ) as staged:
        tick = time.monotonic()
        loaded = []
        if staged.fixtures or flush:
            results = load_fixtures(
                staged.fixtures,
                using=using,
                ignorenonexistent=ignorenonexistent,
                flush=flush,
                reporter=reporter,
                signals=signals,
                exact=exact,
            )
            for item, result in zip(staged.data_files, results, strict=True):
                loaded.append(
                    LoadedData(
                        name=item.filename,
                        path=item.path,
                        definition=item.definition,
                        format=item.format,
                        objects=result.objects,
                        models=dict(result.models),
                        seconds=result.seconds,
                    )
                )
                reporter.info(f"{item.path}: {result.objects} objects loaded")
        timings["data"] = time.monotonic() - tick

        tick = time.monotonic()
        restored = []
        if staged.storages:
            backup = staged.staging / "backup"
            backup.mkdir(mode=0o700)
            for result in restore_storages(
                staged.staged_storages(),
                staged.base,
                mode=storages_mode,
                backup=backup,
                reporter=reporter,
            ):
                restored.append(
                    LoadedStorage(
                        name=result.name,
                        path=result.path,
                        files=result.files,
                        bytes=result.bytes,
                    )
                )
                reporter.info(f"{result.name}: {result.files} files restored")
        timings["storages"] = time.monotonic() - tick
        timings["total"] = time.monotonic() - started
        return LoadResult(
            archive=staged.shown,
            format=staged.manifest.format,
            legacy=staged.manifest.is_legacy,
            database=using,
            data=loaded,
            storages=restored,
            excluded=sorted(staged.excluded),
            timings=timings,
        )


def plan_load(
    archive: str | os.PathLike,
    *,
    storages_basepath: str | os.PathLike | None = None,
    exclude_data: list[str] | tuple[str, ...] = (),
    with_data: bool = True,
    with_storages: bool = True,
    ignorenonexistent: bool = False,
    checksum: str | None = None,
    download_destination: str | os.PathLike | None = None,
    flush: bool = False,
    storages_mode: str = "replace",
    using: str = DEFAULT_DB_ALIAS,
    reporter: Reporter | None = None,
    signals: bool = True,
    exact: bool | list[str] | tuple[str, ...] = False,
    ignore_migrations: bool = False,
) -> LoadPlan:
    """What :func:`load` with the same arguments would do, without doing it.

    Verifies and extracts the archive (into a private temporary directory, not
    under the storages base path), compares migrations, counts the target's rows
    and colliding primary keys, loads the data in a transaction that is rolled
    back, and compares each staged storage with its directory, which is only
    read. Errors that stop a load before the data (a bad option, an unreadable or
    unsafe archive) are raised; what would make the load fail later is in
    ``plan.problems``, and ``plan.exit_code`` is 0 only when it would succeed.
    """
    reporter = reporter or Reporter()
    _check_load_options(using, storages_mode)
    exact = _exact_models(exact)
    with _staged(
        archive,
        planning=True,
        storages_basepath=storages_basepath,
        exclude_data=exclude_data,
        with_data=with_data,
        with_storages=with_storages,
        checksum=checksum,
        download_destination=download_destination,
        using=using,
        ignore_migrations=ignore_migrations,
        reporter=reporter,
        timings={},
    ) as staged:
        manifest = staged.manifest
        problems: list[Problem] = []
        notes: list[str] = []
        state = staged.migrations
        if state.note:
            notes.append(state.note)
        mismatch = state.error()
        if mismatch is not None and not ignore_migrations:
            problems.append(Problem("migrations", mismatch.exit_code, str(mismatch)))
        elif mismatch is not None:
            notes.append(
                "--ignore-migrations: the migration differences above do not stop "
                "the load"
            )
        vendors = {
            "archive": manifest.database.get("vendor"),
            "target": connections[using].vendor,
        }
        if vendors["archive"] and vendors["archive"] != vendors["target"]:
            notes.append(
                f"the archive comes from a {vendors['archive']} database and the "
                f"target is {vendors['target']}: fixtures move between vendors, "
                "compare what the rolled-back load reports"
            )

        reporter.detail("Counting rows and colliding primary keys")
        models = count_rows(staged.fixtures, using)
        _manifest_counts(models, staged.data_files)
        if flush:
            notes.append("--flush empties every table first: no row collides")
            for item in models:
                item.collisions = 0
        data: list[dict[str, Any]] = []
        if staged.fixtures or flush:
            reporter.detail("Loading the data in a transaction that is rolled back")
            results, failure = rehearse(
                staged.fixtures,
                using=using,
                ignorenonexistent=ignorenonexistent,
                flush=flush,
                signals=signals,
                exact=exact,
            )
            if failure is not None:
                problems.append(Problem("data", failure.exit_code, str(failure)))
            for item, result in zip(staged.data_files, results, strict=False):
                data.append(
                    {
                        "path": item.path,
                        "definition": item.definition,
                        "format": item.format,
                        "objects": result.objects,
                    }
                )

        storages = [
            diff_storage(storage, staged.base, mode=storages_mode)
            for storage in staged.staged_storages()
        ]
        for diff in storages:
            if diff.conflicts:
                problems.append(
                    Problem(
                        "storages",
                        StorageRestoreError.exit_code,
                        f"storage {diff.name!r}: a file and a directory meet at "
                        f"{', '.join(diff.conflicts[:5])}: merge mode would fail; "
                        "move them away or use --storages-mode replace",
                    )
                )
        return LoadPlan(
            archive=staged.shown,
            format=manifest.format,
            legacy=manifest.is_legacy,
            database=using,
            vendors=vendors,
            flush=flush,
            storages_mode=storages_mode,
            migrations=state,
            models=models,
            data=data,
            storages=storages,
            excluded=sorted(staged.excluded),
            problems=problems,
            notes=notes,
        )


def _manifest_counts(models: list[ModelRows], data_files: list[DataFile]) -> None:
    """Objects per model as the manifest records them, where it does."""
    recorded: dict[str, int] = {}
    for item in data_files:
        for label, count in item.models.items():
            try:
                key = django_apps.get_model(label)._meta.label
            except (LookupError, ValueError):
                continue
            recorded[key] = recorded.get(key, 0) + count
    for item in models:
        if item.model in recorded:
            item.objects = recorded[item.model]


def _check_load_options(using: str, storages_mode: str) -> None:
    """Refuse a wrong database alias or storages mode."""
    if using not in connections:
        raise ConfigurationError(
            f"database {using!r} is not in DATABASES: use one of "
            f"{', '.join(connections)}"
        )
    if storages_mode not in MODES:
        raise ConfigurationError(
            f"storages mode {storages_mode!r} is unknown: use one of {', '.join(MODES)}"
        )


@dataclass
class _Staged:
    """A verified archive extracted in staging, with what a load takes from it."""

    shown: str
    staging: Path
    root: Path
    base: Path
    manifest: Manifest
    data_files: list[DataFile]
    storages: list[StorageEntry]
    excluded: set[str]
    migrations: MigrationState

    @property
    def fixtures(self) -> list[Fixture]:
        return [
            Fixture(
                name=item.filename,
                path=self.root.joinpath(*item.path.split("/")),
                format=item.format,
            )
            for item in self.data_files
        ]

    def staged_storages(self) -> list[StagedStorage]:
        return [
            StagedStorage(
                name=entry.name, staged=self.root.joinpath(*entry.name.split("/"))
            )
            for entry in self.storages
        ]


@contextlib.contextmanager
def _staged(
    archive,
    *,
    planning: bool,
    storages_basepath,
    exclude_data,
    with_data: bool,
    with_storages: bool,
    checksum: str | None,
    download_destination,
    using: str,
    ignore_migrations: bool,
    reporter: Reporter,
    timings: dict[str, float],
) -> Iterator[_Staged]:
    """Fetch, verify, check the migrations of, and extract an archive; clean up.

    A load stages under the storages base path (the final swap is a rename); a
    plan stages in the temporary directory and leaves the base path alone.
    """
    raise_for_settings(
        LOAD_SETTINGS,
        overridden=["DISKETTE_LOAD_STORAGES_PATH"] if storages_basepath else [],
    )
    conf = get_settings()
    if checksum is not None:
        checksum = normalise_checksum(checksum)
    remote = is_url(archive)
    base = (
        Path(storages_basepath)
        if storages_basepath is not None
        else conf.load_storages_base
    )
    base = base.expanduser().absolute()
    parent = None if planning else _staging_parent(base, with_storages, reporter)
    try:
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent))
    except OSError as error:
        raise ConfigurationError(
            f"cannot create a staging directory in {str(parent or tempfile.gettempdir())!r}"
            f" ({error.strerror or error}): give a writable --storages-basepath"
        ) from None
    try:
        tick = time.monotonic()
        if remote:
            path = _fetch(archive, download_destination, staging, conf, reporter)
            timings["download"] = time.monotonic() - tick
            tick = time.monotonic()
        else:
            path = Path(archive).expanduser()
        with ArchiveReader(
            path,
            max_size=conf.load_max_size,
            max_members=conf.load_max_members,
            minimal_size=conf.load_minimal_filesize,
        ) as reader:
            if checksum:
                reader.verify_checksum(checksum)
            manifest = reader.inspect()
            excluded = _excluded(manifest, exclude_data, reporter)
            data_files = [
                item
                for item in manifest.data
                if with_data and item.path not in excluded
            ]
            if planning:
                migrations = compare_migrations(manifest, data_files, using)
            else:
                migrations = check_migrations(
                    manifest,
                    data_files,
                    using,
                    ignore=ignore_migrations,
                    reporter=reporter,
                )
            storages = list(manifest.storages) if with_storages else []
            wanted_data = {item.path for item in data_files}
            wanted_storages = [entry.name for entry in storages]

            def wanted(name: str) -> bool:
                if name in wanted_data or name == DATA_PREFIX.rstrip("/"):
                    return True
                return any(
                    name == s or name.startswith(s + "/") for s in wanted_storages
                )

            root = staging / "archive"
            try:
                root.mkdir(mode=0o700)
                reader.extract(root, wanted=wanted)
            except OSError as error:
                raise ArchiveError(
                    f"the archive could not be extracted into {str(staging)!r} "
                    f"({error.strerror or error}): free some space or give another "
                    "--storages-basepath; nothing was changed"
                ) from None
        timings["verify"] = time.monotonic() - tick
        kind = (
            "original diskette" if manifest.is_legacy else f"format {manifest.format}"
        )
        reporter.detail(f"Verified {path.name} ({kind} archive)")
        yield _Staged(
            shown=str(archive) if remote else str(path),
            staging=staging,
            root=root,
            base=base,
            manifest=manifest,
            data_files=data_files,
            storages=storages,
            excluded=excluded,
            migrations=migrations,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---- inspect -------------------------------------------------------------------

#: Prefix of the private temporary directory an inspected URL is downloaded into.
INSPECT_PREFIX = ".diskette-inspect-"


@dataclass
class InspectedData:
    """One data file of an inspected archive.

    ``models`` and ``objects`` come from the manifest; for the original
    diskette's archives, which do not record them, they are counted while the
    archive is verified (``None`` without verification).
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
    problems: list[str]
    environment: EnvironmentDifference | None = None

    @property
    def ok(self) -> bool:
        """False when something did not verify."""
        return not self.problems

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
    raise_for_settings(LOAD_SETTINGS, overridden=["DISKETTE_LOAD_STORAGES_PATH"])
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
        path = _fetch(archive, None, private, conf, reporter)
        return _inspect(path, redact(str(archive)), conf, verify, environment, reporter)
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
        problems: list[str] = []
        checks: list[MemberCheck] = []
        if verify:
            try:
                checks = _check_members(reader, manifest, counted, problems, reporter)
            except ArchiveError as error:
                problems.append(str(error))
    sizes = {m.name: m.size for m in reader.members if not m.is_dir}
    failed = [check for check in checks if check.ok is False]
    problems[:0] = [
        f"archive member {c.name!r} has sha256 {c.sha256}, the manifest says "
        f"{c.expected}: the archive was altered or damaged"
        for c in failed
    ]
    verdict = {c.name: c.ok for c in checks}
    data = []
    for item in manifest.data:
        models = dict(item.models) if not manifest.is_legacy else counted.get(item.path)
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
        problems=problems,
        environment=difference,
    )


def _check_members(reader, manifest, counted, problems, reporter) -> list[MemberCheck]:
    """Hash every member; count the objects of the original's fixtures on the way."""
    legacy_data = {item.path for item in manifest.data} if manifest.is_legacy else set()
    files = sum(1 for m in reader.members if not m.is_dir and m.name != MANIFEST_NAME)
    done = 0

    def consume(info, stream) -> None:
        nonlocal done
        done += 1
        reporter.progress("Verifying", done, files)
        if info.name not in legacy_data:
            return
        counts: dict[str, int] = {}
        try:
            for item in read_json_array(stream):
                label = _model_label(
                    item.get("model") if isinstance(item, dict) else None
                )
                counts[label] = counts.get(label, 0) + 1
        except DeserializationError as error:
            problems.append(
                f"data file {info.name!r} is not a JSON fixture ({error}): it cannot "
                "be loaded"
            )
            return
        counted[info.name] = counts

    try:
        return reader.check_members(consume)
    finally:
        reporter.done()


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
