"""The dump pipeline: definitions and storages into one verifiable archive."""

from __future__ import annotations

import dataclasses
import datetime
import errno
import json
import os
import platform
import shlex
import string
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import django
from django.core import serializers
from django.core.management import get_commands
from django.db import DEFAULT_DB_ALIAS, connections

from diskette.archive import (
    ArchiveWriter,
)
from diskette.checks import raise_for_settings
from diskette.conf import get_settings, load_setting_names, setting_names
from diskette.contenttypes import recorded_identities
from diskette.definitions import FORMATS, Definition
from diskette.definitions.dependencies import unloadable_cycles
from diskette.definitions.derived import SETTING as DERIVED_SETTING
from diskette.dump.dumper import (
    FixtureResult,
    dumpdata_arguments,
    dumped_models,
    read_transaction,
    resolve_models,
    write_fixture,
)
from diskette.dump.filefields import unarchived_file_fields
from diskette.dump.relations import dangling_relations
from diskette.environment import (
    installed_distributions,
)
from diskette.exceptions import (
    ConfigurationError,
    DumpError,
    ManifestError,
)
from diskette.load.rehearsal import (
    applied_migrations,
)
from diskette.manifest import (
    DATA_PREFIX,
    FORMAT_VERSION,
    MANIFEST_NAME,
    DataFile,
    Manifest,
    StorageEntry,
)
from diskette.owner import DUMP_PREFIX, Owned, describe_leftovers, leftovers
from diskette.paths import StoragePath, make_private_directories, member_name_problem
from diskette.reporter import Reporter, plural
from diskette.storages import (
    ExcludePatterns,
    StorageStats,
    check_storages,
    survey_storage,
    walk_storage,
)

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
    #: Relations to rows the archive will not hold (see :mod:`diskette.dump.relations`).
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
        [
            name
            for name in setting_names()
            if name not in load_setting_names() and name != DERIVED_SETTING
        ],
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
        cycles = unloadable_cycles(chosen)
        if cycles:
            raise ConfigurationError("; ".join(cycles))
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
    if with_data and with_storages:
        for item in unarchived_file_fields(chosen, resolved):
            reporter.warning(str(item))
            warnings.append(str(item))

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
        make_private_directories(plan.destination)
        left = leftovers([plan.destination])
        workdir = Owned.create(DUMP_PREFIX, plan.destination)
    except OSError as error:
        raise _os_error(error) from None
    warning = describe_leftovers(left)
    try:
        if warning:
            reporter.warning(warning)
        result = _dump(
            plan,
            workdir.path,
            reporter,
            timings,
            started,
            with_checksum,
            skip=[item.path for item in left],
        )
    except OSError as error:
        raise _os_error(error) from None
    finally:
        workdir.release()
    if warning:
        result.warnings.append(warning)
    return result


def _dump(
    plan, workdir, reporter, timings, started, with_checksum, skip=()
) -> DumpResult:
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
                f"{DATA_PREFIX}{fixture.filename}: {plural(fixture.objects, 'object')} "
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
        # What a killed dump left there is not archived either.
        own = {writer.temp_path.resolve(), workdir.resolve()}
        own.update(path.resolve() for path in skip)
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
                f"{storage.name}: {plural(stats.files, 'file')}, {stats.bytes} bytes"
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
        warnings=[*plan.warnings, *(w for f in fixtures for w in f.warnings)],
    )


def _manifest(plan, data_results, storage_results, migrations, writer) -> bytes:
    from diskette import __version__

    identities = recorded_identities(plan.using)
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
        content_types=tuple(
            (pk, *key) for pk, key in sorted(identities.content_types.items())
        ),
        permissions=tuple(
            (pk, *key) for pk, key in sorted(identities.permissions.items())
        ),
    )
    payload = manifest.to_dict()
    try:
        Manifest.from_dict(payload)
    except ManifestError as error:
        raise DumpError(f"the manifest would not be valid: {error}") from None
    return json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")
