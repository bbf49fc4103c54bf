"""The load pipeline: verify an archive, load its data in one transaction, swap storages in."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps as django_apps
from django.db import DEFAULT_DB_ALIAS, connections

from diskette.api.commit import check_swaps, finish_interrupted, load_staged
from diskette.api.results import LoadResult
from diskette.archive import (
    ArchiveReader,
    normalise_checksum,
)
from diskette.checks import raise_for_settings
from diskette.conf import get_settings, load_setting_names
from diskette.contenttypes import Alignment, align, archive_identities
from diskette.definitions.dependencies import data_file_order
from diskette.download import download, is_url, redact
from diskette.exceptions import (
    ArchiveError,
    ConfigurationError,
    DumpError,
    StorageRestoreError,
)
from diskette.load.loader import Fixture
from diskette.load.rehearsal import (
    LoadPlan,
    MigrationState,
    Problem,
    check_migrations,
    compare_migrations,
    count_rows,
    rehearse,
)
from diskette.manifest import (
    DATA_PREFIX,
    DataFile,
    Manifest,
    StorageEntry,
)
from diskette.owner import LOAD_PREFIX, DatabaseLock, Owned
from diskette.paths import make_private_directories
from diskette.reporter import Reporter
from diskette.restore.diff import diff_storage
from diskette.restore.swaps import MODES, StagedStorage
from diskette.restore.targets import (
    STORAGE_SETTINGS,
    allowed_storage_names,
    select_storages,
)


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
        make_private_directories(base)
    except (OSError, DumpError) as error:
        raise ConfigurationError(
            f"storages base path {str(base)!r} cannot be used ({error}): give an "
            "existing directory with --storages-basepath or DISKETTE_LOAD_STORAGES_PATH"
        ) from None
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


def fetch_archive(
    archive, destination, staging: Path, conf, reporter: Reporter
) -> Path:
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
        deadline=conf.download_deadline,
        reporter=reporter,
    )


def load(
    archive: str | os.PathLike,
    *,
    storages_basepath: str | os.PathLike | None = None,
    exclude_data: list[str] | tuple[str, ...] = (),
    with_data: bool = True,
    with_storages: bool = True,
    storages: list[str] | tuple[str, ...] | None = None,
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
    no ``pre_save``, ``post_save`` or ``m2m_changed`` during the load.
    """
    reporter = reporter or Reporter()
    started = time.monotonic()
    _check_load_options(using, storages_mode)
    exact = _exact_models(exact)
    timings: dict[str, float] = {}
    with DatabaseLock(using):
        finish_interrupted(storages_basepath, using, reporter)
        with _staged(
            archive,
            planning=False,
            storages_basepath=storages_basepath,
            exclude_data=exclude_data,
            with_data=with_data,
            with_storages=with_storages,
            storages=storages,
            checksum=checksum,
            download_destination=download_destination,
            using=using,
            ignore_migrations=ignore_migrations,
            reporter=reporter,
            timings=timings,
        ) as staged:
            check_swaps(staged, storages_mode, download_destination, raise_first=True)
            return load_staged(
                staged,
                flush=flush,
                storages_mode=storages_mode,
                using=using,
                reporter=reporter,
                options={
                    "ignorenonexistent": ignorenonexistent,
                    "signals": signals,
                    "exact": exact,
                },
                timings=timings,
                started=started,
            )


def plan_load(
    archive: str | os.PathLike,
    *,
    storages_basepath: str | os.PathLike | None = None,
    exclude_data: list[str] | tuple[str, ...] = (),
    with_data: bool = True,
    with_storages: bool = True,
    storages: list[str] | tuple[str, ...] | None = None,
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
        storages=storages,
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
        if flush:
            notes.append("--flush empties every table first: no row collides")
            for item in models:
                item.collisions = 0
        data: list[dict[str, Any]] = []
        if staged.fixtures or flush:
            reporter.detail("Loading the data in a transaction that is rolled back")
            identities = archive_identities(manifest, staged.fixtures)
            aligned: list[Alignment] = []
            results, failure = rehearse(
                staged.fixtures,
                before_load=lambda: aligned.append(align(identities, using)),
                using=using,
                ignorenonexistent=ignorenonexistent,
                flush=flush,
                signals=signals,
                exact=exact,
                expected=staged.data_files,
            )
            if failure is not None:
                problems.append(Problem("data", failure.exit_code, str(failure)))
            if aligned and aligned[0].summary():
                notes.append(aligned[0].summary())
            for item, result in zip(staged.data_files, results, strict=False):
                data.append(
                    {
                        "path": item.path,
                        "definition": item.definition,
                        "format": item.format,
                        "objects": result.objects,
                    }
                )

        diffs = [
            diff_storage(storage, staged.base, mode=storages_mode)
            for storage in staged.staged_storages()
        ]
        problems.extend(
            Problem("storages", StorageRestoreError.exit_code, message)
            for message in check_swaps(
                staged, storages_mode, download_destination, raise_first=False
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
            storages=diffs,
            excluded=sorted(staged.excluded),
            problems=problems,
            notes=notes,
        )


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
    path: Path
    planning: bool
    staging: Path
    root: Path
    base: Path
    manifest: Manifest
    data_files: list[DataFile]
    storages: list[StorageEntry]
    excluded: set[str]
    migrations: MigrationState
    keep: bool = False  # past the commit, a swap failed: the journal needs it

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
    storages: list[str] | tuple[str, ...] | None,
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
    names = load_setting_names()
    if with_storages and storages is None:
        names += STORAGE_SETTINGS  # the target's storages decide what is restored
    raise_for_settings(
        names,
        overridden=["DISKETTE_LOAD_STORAGES_PATH"] if storages_basepath else [],
    )
    allowed = allowed_storage_names(storages) if with_storages else []
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
        owned = Owned.create(LOAD_PREFIX, parent)
        staging = owned.path
    except OSError as error:
        raise ConfigurationError(
            f"cannot create a staging directory in {str(parent or tempfile.gettempdir())!r}"
            f" ({error.strerror or error}): give a writable --storages-basepath"
        ) from None
    result = None
    try:
        tick = time.monotonic()
        if remote:
            path = fetch_archive(archive, download_destination, staging, conf, reporter)
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
            order = data_file_order([item.models for item in data_files])
            data_files = [data_files[index] for index in order]
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
            chosen = (
                select_storages(
                    manifest.storages,
                    allowed,
                    explicit=storages is not None,
                    reporter=reporter,
                )
                if with_storages
                else []
            )
            wanted_data = {item.path for item in data_files}
            wanted_storages = [entry.name for entry in chosen]

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
        result = _Staged(
            shown=redact(archive) if remote else str(path),
            path=path.absolute(),
            planning=planning,
            staging=staging,
            root=root,
            base=base,
            manifest=manifest,
            data_files=data_files,
            storages=chosen,
            excluded=excluded,
            migrations=migrations,
        )
        yield result
    finally:
        owned.release(remove=not (result is not None and result.keep))
