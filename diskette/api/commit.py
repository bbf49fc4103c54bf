"""A load's commit and what follows it: the journal, the swaps, the recovery first.

The data goes in one transaction whose last statement records the load journal's
marker; the storage swaps follow the commit and only move forward. Everything a
swap needs is checked before (:func:`check_swaps`), and loads interrupted after
their commit are finished before a new one starts (:func:`finish_interrupted`).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.db import connections

from diskette.api.results import LoadedData, LoadedStorage, LoadResult
from diskette.conf import get_settings
from diskette.contenttypes import align, archive_identities
from diskette.exceptions import (
    DisketteError,
    InterruptedAfterCommitError,
    RecoveryError,
    StorageRestoreError,
)
from diskette.interrupts import deferred_signals, exit_status
from diskette.loading.loader import load_fixtures
from diskette.owner import describe_leftovers
from diskette.reporter import Reporter, plural
from diskette.restore.diff import merge_conflicts
from diskette.restore.journal import (
    COMMITTED,
    Journal,
    forget_marker,
    insert_marker,
    prepare_marker,
)
from diskette.restore.preflight import (
    first_problem,
    new_directories,
    storage_targets,
    swap_problems,
)
from diskette.restore.protected import protected_paths
from diskette.restore.recovery import recover, search_directories
from diskette.restore.swaps import apply_swaps, prepare_swaps

if TYPE_CHECKING:
    from diskette.api.load_options import PathArgument
    from diskette.api.staging import Staged


def finish_interrupted(
    storages_basepath: PathArgument | None, using: str, reporter: Reporter
) -> None:
    """Finish loads interrupted after their commit before this one starts, and
    name what killed runs left; a journal that cannot be finished stops the load."""
    extra = [Path(storages_basepath)] if storages_basepath is not None else []
    directories = search_directories(*extra)
    outcome = recover(directories, using=using, remove=False, reporter=reporter)
    message = describe_leftovers(outcome.left)
    if message:
        reporter.warning(message)


def load_staged(
    staged: Staged,
    *,
    flush: bool,
    storages_mode: str,
    using: str,
    reporter: Reporter,
    options: dict[str, Any],
    timings: dict[str, float],
    started: float,
) -> LoadResult:
    """Load the data, committing with the journal's marker, then swap the storages.

    From the last statement of the transaction until the swaps are done, SIGINT
    and SIGTERM are held back: the load finishes, then exits as interrupted.
    """
    journal = _journal(staged, storages_mode, using)
    held = contextlib.ExitStack()
    tick = time.monotonic()
    try:
        results = _load_data(staged, journal, held, flush, using, reporter, options)
    except BaseException:
        with contextlib.suppress(KeyboardInterrupt):
            held.close()  # before the commit: the error says nothing changed
        raise
    loaded = _loaded(staged, results, reporter)
    timings["data"] = time.monotonic() - tick

    tick = time.monotonic()
    restored = []
    try:
        if journal is not None:
            restored = _swap_in(staged, journal, reporter)
        held.close()
    except KeyboardInterrupt as interrupt:
        raise InterruptedAfterCommitError(
            "interrupted after the commit: the load was finished first (data "
            "committed, storages swapped in)",
            exit_status(interrupt),
        ) from None
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
        encrypted=staged.encrypted,
        signed_by=staged.signer.describe() if staged.signer else None,
    )


def _journal(staged: Staged, mode: str, using: str) -> Journal | None:
    """The journal of the storage swaps to come (None without storages)."""
    if not staged.storages:
        return None
    return Journal(
        staging=str(staged.staging),
        using=using,
        base=str(staged.base),
        mode=mode,
        archive=staged.shown,
        swaps=prepare_swaps(staged.staged_storages(), staged.base, mode=mode),
    )


def _load_data(
    staged: Staged,
    journal: Journal | None,
    held: contextlib.ExitStack,
    flush: bool,
    using: str,
    reporter: Reporter,
    options: dict[str, Any],
) -> list[Any]:
    """Load the data in one transaction whose last statement records the
    journal's marker; signals are held back (in ``held``) from then on."""

    def before_commit() -> None:
        held.enter_context(deferred_signals())
        if journal is not None:
            journal.write()
            if connections[using].features.can_rollback_ddl:
                prepare_marker(using)
            insert_marker(journal)

    identities = archive_identities(staged.manifest, staged.fixtures)

    def before_load() -> None:
        summary = align(identities, using).summary()
        if summary:
            reporter.detail(summary.capitalize())

    if not (staged.fixtures or flush):
        held.enter_context(deferred_signals())
        if journal is not None:
            journal.state = COMMITTED
            journal.write()
        return []
    if journal is not None and not connections[using].features.can_rollback_ddl:
        prepare_marker(using)
    results: list[Any] = load_fixtures(
        staged.fixtures,
        using=using,
        flush=flush,
        reporter=reporter,
        expected=staged.data_files,
        before_load=before_load,
        before_commit=before_commit,
        **options,
    )
    return results


def _loaded(staged: Staged, results: list[Any], reporter: Reporter) -> list[LoadedData]:
    """What each data file loaded, said as it is recorded."""
    loaded = []
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
        reporter.info(f"{item.path}: {plural(result.objects, 'object')} loaded")
    return loaded


def _swap_in(
    staged: Staged, journal: Journal, reporter: Reporter
) -> list[LoadedStorage]:
    """Past the commit: swap the storages in as the journal says, then forget it.

    A failure keeps the journal and the staging for ``diskette_recover``.
    """
    if journal.state != COMMITTED:
        with contextlib.suppress(OSError):
            journal.mark_committed()  # the marker row says it too, should this fail
    try:
        results = apply_swaps(
            journal.swaps, journal.base, mode=journal.mode, reporter=reporter
        )
    except (OSError, DisketteError) as error:
        staged.keep = True
        raise RecoveryError(
            f"the data was committed, but the storages could not all be swapped in "
            f"yet: {error}. The load is journaled in {str(staged.staging)!r}: fix "
            "the cause, then run 'manage.py diskette_recover' (or load again) to "
            "finish it"
        ) from None
    journal.path.unlink()
    forget_marker(journal)
    restored = []
    for result in results:
        restored.append(
            LoadedStorage(
                name=result.name,
                path=result.path,
                files=result.files,
                bytes=result.bytes,
            )
        )
        reporter.info(f"{result.name}: {plural(result.files, 'file')} restored")
    return restored


def check_swaps(
    staged: Staged,
    mode: str,
    download_destination: PathArgument | None,
    *,
    raise_first: bool,
) -> list[str]:
    """Everything the storage swaps need, checked before the commit; the load
    raises the first problem, the plan lists them all."""
    if not staged.storages:
        return []
    problems = []
    names = [entry.name for entry in staged.storages]
    targets = storage_targets(staged.base, names)
    needed = 0
    if mode == "merge":
        for storage, (_name, target) in zip(
            staged.staged_storages(), targets, strict=True
        ):
            needed += new_directories(storage.staged, target)
            conflicts = merge_conflicts(storage, staged.base)
            if conflicts:
                problems.append(
                    f"storage {storage.name!r}: a file and a directory meet at "
                    f"{', '.join(conflicts[:5])}: merge mode would fail; move them "
                    "away or use storages_mode='replace'"
                )
    problems[:0] = swap_problems(
        targets,
        base=staged.base,
        staging=staged.base if staged.planning else staged.staging,
        mode=mode,
        protected=protected_paths(
            archive=staged.path,
            also=[
                get_settings().dump_directory,  # where archives are kept
                *([download_destination] if download_destination else []),
            ],
        ),
        directories_needed=needed,
    )
    if problems and raise_first:
        raise StorageRestoreError(f"{first_problem(problems)}; nothing was changed")
    return problems
