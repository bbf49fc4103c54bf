"""The load pipeline: verify an archive, load its data in one transaction, swap storages in."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.apps import apps as django_apps
from django.db import DEFAULT_DB_ALIAS, connections

from diskette.archive import (
    ArchiveReader,
    normalise_checksum,
)
from diskette.checks import raise_for_settings
from diskette.conf import get_settings, load_setting_names
from diskette.download import download, is_url
from diskette.exceptions import (
    ArchiveError,
    ConfigurationError,
    DumpError,
    StorageRestoreError,
)
from diskette.loader import Fixture, load_fixtures
from diskette.manifest import (
    DATA_PREFIX,
    DataFile,
    Manifest,
    StorageEntry,
)
from diskette.paths import make_private_directories
from diskette.plan import (
    LoadPlan,
    MigrationState,
    ModelRows,
    Problem,
    check_migrations,
    compare_migrations,
    count_rows,
    rehearse,
)
from diskette.reporter import Reporter, plural
from diskette.restore import MODES, StagedStorage, diff_storage, restore_storages

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
        make_private_directories(base)
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
                reporter.info(f"{item.path}: {plural(result.objects, 'object')} loaded")
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
                reporter.info(f"{result.name}: {plural(result.files, 'file')} restored")
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
        load_setting_names(),
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
