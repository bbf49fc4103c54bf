"""The dump pipeline: definitions and storages into one verifiable archive.

:func:`dump` plans the dump (:mod:`diskette.api.dump_plan`), writes each
definition's fixture inside one read transaction (through the dumping stage,
:mod:`diskette.dumping`), then archives the fixtures, the storages and the
manifest. Its keyword arguments are shared with the plan
(:mod:`diskette.api.dump_options`). Where the archive goes, and how it gets
there, is :mod:`diskette.api.dump_destination`.
"""

from __future__ import annotations

import errno
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from diskette.api.dump_destination import (
    appeared,
    prepare_sidecar,
    prune_after_dump,
    publish_sidecar,
    upload,
)
from diskette.api.dump_manifest import dump_manifest
from diskette.api.dump_options import DumpArguments, DumpOptions
from diskette.api.dump_plan import (
    DATE_FORMAT,
    DumpPlan,
    dump_filename,
    dumpdata_command_lines,
    plan_dump,
    plan_options,
)
from diskette.api.dump_results import DataResult, DumpResult, StorageResult
from diskette.archive import ArchiveWriter, WrittenArchive, WrittenMember
from diskette.archive.writer import SourceShrank
from diskette.destinations.retention import configured_retention
from diskette.dumping.dumper import FixtureResult, read_transaction, write_fixture
from diskette.exceptions import DumpError
from diskette.manifest import (
    DATA_PREFIX,
    MANIFEST_NAME,
    SIGNATURE_NAME,
)
from diskette.migrations import applied_migrations
from diskette.owner import DUMP_PREFIX, Owned, describe_leftovers, leftovers
from diskette.paths import StoragePath, make_private_directories
from diskette.reporter import Reporter, plural
from diskette.signals import dump_failed, post_dump, pre_dump, send_after, send_before
from diskette.storages import (
    ExcludePatterns,
    StorageItem,
    StorageStats,
    survey_storage,
    walk_storage,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DATE_FORMAT",
    "DataResult",
    "DumpArguments",
    "DumpOptions",
    "DumpPlan",
    "DumpResult",
    "StorageResult",
    "dump",
    "dump_filename",
    "dumpdata_command_lines",
    "plan_dump",
]


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
    *, reporter: Reporter | None = None, **arguments: Unpack[DumpArguments]
) -> DumpResult:
    """Dump data and storages into one archive; return what was written.

    Raises ConfigurationError before anything is written when a choice is wrong
    (with ``strict``, also when a dumped relation points to rows the archive
    will not hold; also when the archive's name is taken in the destination and
    ``overwrite`` is not given), and DumpError (with nothing left behind) when
    the dump or its upload fails. With ``prune``, the destination is pruned
    (``DISKETTE_RETENTION``) once the archive is written; a failed prune raises
    :class:`~diskette.api.dump_results.DumpPruneError`, whose message says the
    archive was written. The keyword arguments are
    :class:`~diskette.api.dump_options.DumpArguments`.
    """
    options = DumpOptions(**arguments)
    reporter = reporter or Reporter()
    started = time.monotonic()
    plan = plan_options(options, reporter)
    retention = configured_retention() if options.prune else None
    send_before(pre_dump, dump, "the dump", plan=plan)
    try:
        result = _dump_planned(plan, options, reporter, started)
    except BaseException as error:
        send_after(dump_failed, dump, reporter, error=error)
        raise
    result.warnings += send_after(post_dump, dump, reporter, result=result)
    if retention is not None:
        prune_after_dump(plan, retention, result, reporter)
    return result


def _dump_planned(
    plan: DumpPlan, options: DumpOptions, reporter: Reporter, started: float
) -> DumpResult:
    """The dump of a plan, in its private work directory."""
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
            workdir,
            reporter,
            timings,
            started,
            options,
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
    plan: DumpPlan,
    workdir: Owned,
    reporter: Reporter,
    timings: dict[str, float],
    started: float,
    options: DumpOptions,
    skip: Sequence[Path] = (),
) -> DumpResult:
    tick = time.monotonic()
    fixtures, migrations = _write_fixtures(plan, workdir.path, reporter)
    timings["data"] = time.monotonic() - tick

    tick = time.monotonic()
    written, sidecar, data_results, storage_results = _write_archive(
        plan, workdir.path, fixtures, migrations, reporter, skip, plan.compression
    )
    timings["archive"] = time.monotonic() - tick
    if plan.local:
        published = publish_sidecar(plan, written, sidecar)
    else:
        tick = time.monotonic()
        published = upload(plan, written, sidecar, workdir)
        timings["upload"] = time.monotonic() - tick
    timings["total"] = time.monotonic() - started
    return DumpResult(
        path=written.path if plan.local else plan.filename,
        checksum=written.blake2b if options.with_checksum else None,
        size=written.size,
        data=data_results,
        storages=storage_results,
        timings=timings,
        warnings=[*plan.warnings, *(w for f in fixtures for w in f.warnings)],
        destination=plan.where,
        name=plan.filename,
        sidecar=published,
        local=plan.local,
    )


def _write_archive(
    plan: DumpPlan,
    workdir: Path,
    fixtures: list[FixtureResult],
    migrations: dict[str, list[str]],
    reporter: Reporter,
    skip: Sequence[Path],
    compression: str,
) -> tuple[WrittenArchive, dict[str, Any], list[DataResult], list[StorageResult]]:
    """Write the archive, compressed by ``compression``: in the destination when
    it is local, else in the work directory, for the upload. Returns it with its
    prepared sidecar and its contents."""
    patterns = ExcludePatterns(plan.excludes)
    with ArchiveWriter(
        plan.path if plan.local else workdir / plan.filename,
        permissions=plan.permissions if plan.local else 0o600,
        compresslevel=plan.compresslevel,
        overwrite=plan.overwrite or not plan.local,
        compression=compression,
        encryption=plan.encryption,
    ) as writer:
        assert writer.temp_path is not None  # set on entering the writer
        # What a killed dump left there is not archived either.
        own = {writer.temp_path.resolve(), workdir.resolve()}
        own.update(path.resolve() for path in skip)
        data_results = [_archive_fixture(writer, fixture) for fixture in fixtures]
        storage_results = [
            _archive_storage(writer, storage, patterns, own, reporter)
            for storage in plan.storages
        ]
        manifest = dump_manifest(
            plan, data_results, storage_results, migrations, writer.members
        )
        sidecar = prepare_sidecar(plan, manifest)
        encoded = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        writer.add_bytes(MANIFEST_NAME, encoded, mode=0o600)
        if plan.signer is not None:
            writer.add_bytes(SIGNATURE_NAME, plan.signer.sign(encoded), mode=0o600)
        try:
            written = writer.commit()
        except FileExistsError:
            raise appeared(plan) from None
    return written, sidecar, data_results, storage_results


def _write_fixtures(
    plan: DumpPlan, workdir: Path, reporter: Reporter
) -> tuple[list[FixtureResult], dict[str, list[str]]]:
    """Every fixture and the applied migrations, read in one transaction."""
    fixtures: list[FixtureResult] = []
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
                compression=plan.compression,
                compresslevel=plan.compresslevel,
                anonymiser=plan.anonymiser,
            )
            fixtures.append(fixture)
            reporter.info(
                f"{DATA_PREFIX}{fixture.filename}: {plural(fixture.objects, 'object')} "
                f"({definition.name})"
            )
    return fixtures, migrations


def _archive_fixture(writer: ArchiveWriter, fixture: FixtureResult) -> DataResult:
    """Move one written fixture into the archive (as it is, when it was written
    compressed by the archive's compression)."""
    name = DATA_PREFIX + fixture.filename
    if fixture.compression == writer.compression:
        member = writer.add_compressed(
            name,
            fixture.path,
            size=fixture.content_size,
            sha256=fixture.content_sha256,
        )
    else:
        member = writer.add_file(name, fixture.path, mode=0o600)
    fixture.path.unlink()
    return DataResult(
        name=fixture.definition,
        path=member.name,
        format=fixture.format,
        models=dict(fixture.models),
        objects=fixture.objects,
        size=member.size,
        sha256=member.sha256,
    )


def _archive_storage(
    writer: ArchiveWriter,
    storage: StoragePath,
    patterns: ExcludePatterns,
    own: set[Path],
    reporter: Reporter,
) -> StorageResult:
    """Archive one storage's files and directories, never the dump's own files."""
    stats = StorageStats(name=storage.name)
    archived = 0
    # A total for the live line, counted only when one is drawn (a walk more).
    total = survey_storage(storage, patterns).files if reporter.shows_progress else None
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
        member = _add_storage_file(writer, item)
        stats.bytes += member.size - item.size
        archived += 1
        reporter.progress(f"archiving {storage.name}", archived, total, "files")
    reporter.done()
    reporter.info(
        f"{storage.name}: {plural(stats.files, 'file')}, {stats.bytes} bytes"
        + (
            f", {len(stats.empty_directories)} empty directories"
            if stats.empty_directories
            else ""
        )
    )
    return StorageResult(
        name=storage.name,
        files=stats.files,
        bytes=stats.bytes,
        empty_directories=list(stats.empty_directories),
        skipped_links=list(stats.skipped),
    )


def _add_storage_file(writer: ArchiveWriter, item: StorageItem) -> WrittenMember:
    """Add one file; a file that vanished or shrank meanwhile is a DumpError."""
    try:
        return writer.add_file(
            item.arcname, item.path, mtime=item.mtime, mode=item.mode
        )
    except FileNotFoundError:
        raise DumpError(
            f"{str(item.path)!r} vanished while it was archived: run the "
            "dump again when nothing is deleting files; no archive was "
            "written"
        ) from None
    except SourceShrank as error:
        raise DumpError(
            f"{str(item.path)!r} changed while it was archived ({error}): "
            "run the dump again; no archive was written"
        ) from None
