"""The load pipeline: verify an archive, load its data in one transaction, swap storages in.

:func:`load` and :func:`plan_load` take the same keyword arguments
(:class:`~diskette.api.load_options.LoadArguments`), checked once into a
:class:`~diskette.api.load_options.LoadOptions`; both stage the archive through
:mod:`diskette.api.staging`. The load goes on in :mod:`diskette.api.commit`;
the plan's steps are here.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from django.db import connections

from diskette.api.commit import check_swaps, finish_interrupted, load_staged
from diskette.api.load_options import LoadOptions, PathArgument
from diskette.api.results import LoadResult
from diskette.api.staging import Staged, staged
from diskette.contenttypes import Alignment, align, archive_identities
from diskette.exceptions import StorageRestoreError
from diskette.loading.counting import ModelRows, count_rows
from diskette.loading.plan import LoadPlan, Problem
from diskette.loading.rehearsal import rehearse
from diskette.owner import DatabaseLock
from diskette.reporter import Reporter
from diskette.restore.diff import StorageDiff, diff_storage
from diskette.signals import load_failed, post_load, pre_load, send_after, send_before

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from diskette.api.load_options import LoadArguments

__all__ = ["LoadOptions", "LoadPlan", "LoadResult", "load", "plan_load"]


def load(
    archive: PathArgument,
    *,
    reporter: Reporter | None = None,
    **arguments: Unpack[LoadArguments],
) -> LoadResult:
    """Verify an archive, load its data in one transaction, then swap its
    storages in; all or nothing.

    ``archive`` is a path, a URL, or a name (or ``latest``, the newest archive
    written by diskette) in the destination ``source`` names: an alias of
    ``STORAGES``, ``"local"`` or a backend, ``DISKETTE_ARCHIVE_STORAGE`` when
    ``None``. An archive of a local directory is read in place; from another
    backend it is fetched into the staging directory first. Without
    ``checksum``, an archive with a sidecar must have the checksum its sidecar
    records (ChecksumError otherwise, before anything changes).

    Nothing changes unless every member checks out, the database has applied
    every migration the archive was made at, for the apps whose data it holds
    (:class:`MigrationMismatchError` otherwise; ``ignore_migrations=True`` loads
    anyway), and every storage swap can be done: only storages the target names
    (``DISKETTE_STORAGES``, or ``storages`` for this load) are restored, and never
    over a file, a link, a mount point, the database or the archive. A database
    error rolls the whole load back. The storage swaps are journaled before the
    commit and done after it; a load stopped in between (any signal, ``kill -9``)
    is finished by the next load or by ``diskette_recover``. A load into a
    database that holds rows merges by primary key, as ``loaddata`` does: use
    ``flush=True`` to empty it first. The input archive is never deleted.

    Rows are inserted in batches where that gives what ``loaddata`` gives;
    ``exact=True`` saves every object as ``loaddata`` does, a list of model
    labels (``"app.Model"``) does so for those models. ``signals=False`` sends
    no ``pre_save``, ``post_save`` or ``m2m_changed`` during the load. The other
    keyword arguments are :class:`~diskette.api.load_options.LoadArguments`.
    """
    reporter = reporter or Reporter()
    started = time.monotonic()
    options = LoadOptions.create(**arguments)
    send_before(pre_load, load, "the load", archive=archive, options=options)
    try:
        result = _load(archive, options, reporter, started)
    except BaseException as error:
        send_after(load_failed, load, reporter, archive=archive, error=error)
        raise
    send_after(post_load, load, reporter, result=result)
    return result


def _load(
    archive: PathArgument, options: LoadOptions, reporter: Reporter, started: float
) -> LoadResult:
    """The load itself: locked, staged, committed, swapped in."""
    timings: dict[str, float] = {}
    with DatabaseLock(options.using):
        finish_interrupted(options.storages_basepath, options.using, reporter)
        with staged(
            archive, options, planning=False, reporter=reporter, timings=timings
        ) as staging:
            check_swaps(
                staging,
                options.storages_mode,
                options.download_destination,
                raise_first=True,
            )
            return load_staged(
                staging,
                flush=options.flush,
                storages_mode=options.storages_mode,
                using=options.using,
                reporter=reporter,
                options=options.loader_options,
                timings=timings,
                started=started,
            )


def plan_load(
    archive: PathArgument,
    *,
    reporter: Reporter | None = None,
    **arguments: Unpack[LoadArguments],
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
    options = LoadOptions.create(**arguments)
    with staged(
        archive, options, planning=True, reporter=reporter, timings={}
    ) as staging:
        problems: list[Problem] = []
        notes: list[str] = []
        _plan_migrations(staging, options, problems, notes)
        vendors = _plan_vendors(staging, options, notes)
        reporter.detail("Counting rows and colliding primary keys")
        models = count_rows(staging.fixtures, options.using)
        if options.flush:
            notes.append("flush=True empties every table first: no row collides")
            for item in models:
                item.collisions = 0
        data = _rehearse(staging, options, problems, notes, reporter)
        diffs = [
            diff_storage(storage, staging.base, mode=options.storages_mode)
            for storage in staging.staged_storages()
        ]
        problems.extend(
            Problem("storages", StorageRestoreError.exit_code, message)
            for message in check_swaps(
                staging,
                options.storages_mode,
                options.download_destination,
                raise_first=False,
            )
        )
        return _plan(staging, options, vendors, models, data, diffs, problems, notes)


def _plan_migrations(
    staging: Staged, options: LoadOptions, problems: list[Problem], notes: list[str]
) -> None:
    """The migration differences: a problem, or a note with ``ignore_migrations``."""
    state = staging.migrations
    if state.note:
        notes.append(state.note)
    mismatch = state.error()
    if mismatch is not None and not options.ignore_migrations:
        problems.append(Problem("migrations", mismatch.exit_code, str(mismatch)))
    elif mismatch is not None:
        notes.append(
            "ignore_migrations=True: the migration differences above do not stop "
            "the load"
        )


def _plan_vendors(
    staging: Staged, options: LoadOptions, notes: list[str]
) -> dict[str, str | None]:
    """The archive's and the target's database vendors, with a note if they differ."""
    vendors = {
        "archive": staging.manifest.database.get("vendor"),
        "target": connections[options.using].vendor,
    }
    if vendors["archive"] and vendors["archive"] != vendors["target"]:
        notes.append(
            f"the archive comes from a {vendors['archive']} database and the "
            f"target is {vendors['target']}: fixtures move between vendors, "
            "compare what the rolled-back load reports"
        )
    return vendors


def _rehearse(
    staging: Staged,
    options: LoadOptions,
    problems: list[Problem],
    notes: list[str],
    reporter: Reporter,
) -> list[dict[str, Any]]:
    """Load the data in a transaction that is rolled back: what each file holds,
    and the error the load would raise (a problem)."""
    if not (staging.fixtures or options.flush):
        return []
    reporter.detail("Loading the data in a transaction that is rolled back")
    identities = archive_identities(staging.manifest, staging.fixtures)
    aligned: list[Alignment] = []
    results, failure = rehearse(
        staging.fixtures,
        before_load=lambda: aligned.append(align(identities, options.using)),
        using=options.using,
        flush=options.flush,
        expected=staging.data_files,
        **options.loader_options,
    )
    if failure is not None:
        problems.append(Problem("data", failure.exit_code, str(failure)))
    summary = aligned[0].summary() if aligned else None
    if summary:
        notes.append(summary)
    return [
        {
            "path": item.path,
            "definition": item.definition,
            "format": item.format,
            "objects": result.objects,
        }
        for item, result in zip(staging.data_files, results, strict=False)
    ]


def _plan(
    staging: Staged,
    options: LoadOptions,
    vendors: dict[str, str | None],
    models: list[ModelRows],
    data: list[dict[str, Any]],
    diffs: list[StorageDiff],
    problems: list[Problem],
    notes: list[str],
) -> LoadPlan:
    """The plan, put together."""
    manifest = staging.manifest
    return LoadPlan(
        archive=staging.shown,
        format=manifest.format,
        legacy=manifest.is_legacy,
        database=options.using,
        vendors=vendors,
        flush=options.flush,
        storages_mode=options.storages_mode,
        migrations=staging.migrations,
        models=models,
        data=data,
        storages=diffs,
        excluded=sorted(staging.excluded),
        problems=problems,
        notes=notes,
    )
