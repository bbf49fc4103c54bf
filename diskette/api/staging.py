"""Staging an archive: fetch it, verify it, choose what to load, extract that.

Shared by :func:`~diskette.api.load`, :func:`~diskette.api.plan_load` (which
stage the same archive the same way, in different places) and
:func:`~diskette.api.inspect` (which only fetches), so that none of them imports
another's module. What the archive argument names (a file, a URL, a name in a
destination or ``latest``) is decided by :mod:`diskette.destinations.fetch`.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from diskette.api.load_options import LoadOptions, PathArgument
from diskette.archive import ArchiveReader, normalise_checksum
from diskette.archive.archive_file import Refusal
from diskette.checks import raise_for_settings
from diskette.conf import DisketteSettings, get_settings, load_setting_names
from diskette.crypto.age_keys import Decryption
from diskette.crypto.signing import PublicKey, check_signature, trusted_keys
from diskette.definitions.dependencies import data_file_order
from diskette.destinations.fetch import (
    URL,
    ResolvedArchive,
    fetch_from_destination,
    resolve_archive,
    sidecar_refusal,
)
from diskette.download import download
from diskette.exceptions import (
    ArchiveError,
    ConfigurationError,
    DownloadError,
    DumpError,
)
from diskette.loading.loader import Fixture
from diskette.manifest import DATA_PREFIX, DataFile, Manifest, StorageEntry
from diskette.migrations import MigrationState, check_migrations, compare_migrations
from diskette.owner import LOAD_PREFIX, Owned
from diskette.paths import make_private_directories
from diskette.reporter import Reporter
from diskette.restore.swaps import StagedStorage
from diskette.restore.targets import (
    STORAGE_SETTINGS,
    allowed_storage_names,
    select_storages,
)


@dataclass
class Staged:
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
    #: The key that signed the manifest (verified), None when unsigned.
    signer: PublicKey | None = None
    encrypted: bool = False

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


@dataclass
class _Chosen:
    """What of a verified archive the load takes: data files (in load order),
    storages, and the data paths left out."""

    data_files: list[DataFile]
    storages: list[StorageEntry]
    excluded: set[str]
    migrations: MigrationState


def fetch_archive(
    archive: PathArgument,
    destination: PathArgument | None,
    staging: Path,
    conf: DisketteSettings,
    reporter: Reporter,
) -> Path:
    """Download ``archive`` into staging (or ``destination``); return the local file."""
    target = (
        Path(destination).expanduser().absolute()
        if destination
        else staging / "download.archive"
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


def open_reader(
    path: Path, conf: DisketteSettings, decryption: Decryption | None = None
) -> ArchiveReader:
    """A reader of ``path`` within the load limits the settings give, opening
    an encrypted archive with ``decryption``."""
    return ArchiveReader(
        path,
        max_size=conf.load_max_size,
        max_members=conf.load_max_members,
        minimal_size=conf.load_minimal_filesize,
        decryption=decryption,
    )


@contextlib.contextmanager
def staged(
    archive: PathArgument,
    options: LoadOptions,
    *,
    planning: bool,
    reporter: Reporter,
    timings: dict[str, float],
) -> Iterator[Staged]:
    """Fetch, verify, check the migrations of, and extract an archive; clean up.

    A load stages under the storages base path (the final swap is a rename); a
    plan stages in the temporary directory and leaves the base path alone. With
    no ``checksum``, an archive of a destination that has a sidecar must have
    the checksum its sidecar records.
    """
    allowed = _check_settings(options)
    conf = get_settings()
    keys = options.decryption()
    trusted = trusted_keys(conf.trusted_keys, "DISKETTE_TRUSTED_KEYS")
    checksum = options.checksum
    if checksum is not None:
        checksum = normalise_checksum(checksum)
    resolved = resolve_archive(archive, options.source, reporter=reporter)
    given = options.storages_basepath
    base = Path(given) if given is not None else conf.load_storages_base
    base = base.expanduser().absolute()
    parent = None if planning else _staging_parent(base, options, reporter)
    owned = _create_staging(parent)
    result = None
    try:
        tick = time.monotonic()
        path = _local_file(resolved, options, owned.path, conf, reporter)
        if resolved.path is None:  # downloaded, or fetched from a destination
            timings["download"] = time.monotonic() - tick
            tick = time.monotonic()
        # An archive with a sidecar must be the one it describes: its checksum
        # is compared in the same one pass that stages it.
        refusal = None
        if checksum is None and resolved.checksum is not None:
            checksum = resolved.checksum
            refusal = functools.partial(sidecar_refusal, resolved)
        root = owned.path / "archive"
        manifest, chosen, reader = _verify_and_extract(
            path,
            root,
            options,
            allowed,
            planning,
            conf,
            reporter,
            checksum=checksum,
            refusal=refusal,
            keys=keys,
        )
        assert reader.manifest_bytes is not None  # the pass read it
        signer, warning = check_signature(
            reader.manifest_bytes,
            reader.signature_bytes,
            name=path.name,
            trusted=trusted,
            remote=resolved.path is None,
            allow_unsigned=options.allow_unsigned,
        )
        if warning:
            reporter.warning(warning)
        if signer is not None:
            reporter.detail(f"Signed by {signer.describe()}")
        timings["verify"] = time.monotonic() - tick
        kind = (
            "original diskette" if manifest.is_legacy else f"format {manifest.format}"
        )
        reporter.detail(f"Verified {path.name} ({kind} archive)")
        result = Staged(
            shown=resolved.shown,
            path=path.absolute(),
            planning=planning,
            staging=owned.path,
            root=root,
            base=base,
            manifest=manifest,
            data_files=chosen.data_files,
            storages=chosen.storages,
            excluded=chosen.excluded,
            migrations=chosen.migrations,
            signer=signer,
            encrypted=reader.encrypted,
        )
        yield result
    finally:
        owned.release(remove=not (result is not None and result.keep))


def _local_file(
    resolved: ResolvedArchive,
    options: LoadOptions,
    staging: Path,
    conf: DisketteSettings,
    reporter: Reporter,
) -> Path:
    """The archive as a file here: where it is (a path, an archive of a local
    destination), else downloaded or fetched from its destination into staging
    (or ``download_destination``)."""
    if resolved.path is not None:
        return resolved.path
    if resolved.kind == URL:
        return fetch_archive(
            resolved.argument, options.download_destination, staging, conf, reporter
        )
    target = staging / resolved.filename
    if options.download_destination:
        target = Path(options.download_destination).expanduser().absolute()
        if target.is_dir():
            raise DownloadError(
                f"download destination {str(target)!r} is a directory: give a file name"
            )
    return fetch_from_destination(
        resolved, target, max_size=conf.load_max_size, reporter=reporter
    )


def _check_settings(options: LoadOptions) -> list[str]:
    """Check the settings the load reads (not those an option replaces); return
    the storage names it may restore."""
    names = load_setting_names()
    if options.with_storages and options.storages is None:
        names += STORAGE_SETTINGS  # the target's storages decide what is restored
    raise_for_settings(
        names,
        overridden=["DISKETTE_LOAD_STORAGES_PATH"] if options.storages_basepath else [],
    )
    return allowed_storage_names(options.storages) if options.with_storages else []


def _staging_parent(
    base: Path, options: LoadOptions, reporter: Reporter
) -> Path | None:
    """Where to stage: the storages base path (same file system), else the temp dir."""
    if not options.with_storages:
        return None
    try:
        make_private_directories(base)
    except (OSError, DumpError) as error:
        raise ConfigurationError(
            f"storages base path {str(base)!r} cannot be used ({error}): give an "
            "existing directory with storages_basepath or DISKETTE_LOAD_STORAGES_PATH"
        ) from None
    return base


def _create_staging(parent: Path | None) -> Owned:
    """The load's private staging directory in ``parent`` (the temp dir if None)."""
    try:
        return Owned.create(LOAD_PREFIX, parent)
    except OSError as error:
        raise ConfigurationError(
            f"cannot create a staging directory in {str(parent or tempfile.gettempdir())!r}"
            f" ({error.strerror or error}): give a writable storages_basepath or "
            "DISKETTE_LOAD_STORAGES_PATH"
        ) from None


def _verify_and_extract(
    path: Path,
    root: Path,
    options: LoadOptions,
    allowed: list[str],
    planning: bool,
    conf: DisketteSettings,
    reporter: Reporter,
    *,
    checksum: str | None,
    refusal: Refusal | None,
    keys: Decryption | None,
) -> tuple[Manifest, _Chosen, ArchiveReader]:
    """Stage the archive in one pass: its manifest first, from which the load
    chooses what it takes, then each member verified as it is written (only what
    is chosen is written; the rest is hashed and skipped). ``checksum`` is the
    expected BLAKE2b-512 of the file, if any; ``refusal`` makes the error of a
    file that does not have it; ``keys`` open an encrypted one. Returns the
    closed reader too, for the manifest's and the signature's bytes."""
    chosen: list[_Chosen] = []

    def choose(manifest: Manifest) -> Callable[[str], bool]:
        chosen.append(_choose(manifest, options, allowed, planning, reporter))
        return _wanted_members(chosen[-1])

    with open_reader(path, conf, keys) as reader:
        try:
            root.mkdir(mode=0o700)
            manifest = reader.stage(
                root,
                choose,
                provisional=_provisional(options, allowed),
                checksum=checksum,
                refusal=refusal,
                progress=functools.partial(
                    reporter.progress, f"verifying {path.name}", unit="bytes"
                ),
            )
            reporter.done()
        except OSError as error:
            raise ArchiveError(
                f"the archive could not be extracted into {str(root.parent)!r} "
                f"({error.strerror or error}): free some space or give another "
                "storages_basepath; nothing was changed"
            ) from None
    return manifest, chosen[-1], reader


def _choose(
    manifest: Manifest,
    options: LoadOptions,
    allowed: list[str],
    planning: bool,
    reporter: Reporter,
) -> _Chosen:
    """The data files in load order, their migrations' state, and the storages."""
    excluded = _excluded(manifest, options.exclude_data, reporter)
    data_files = [
        item
        for item in manifest.data
        if options.with_data and item.path not in excluded
    ]
    order = data_file_order([item.models for item in data_files])
    data_files = [data_files[index] for index in order]
    if planning:
        migrations = compare_migrations(manifest, data_files, options.using)
    else:
        migrations = check_migrations(
            manifest,
            data_files,
            options.using,
            ignore=options.ignore_migrations,
            reporter=reporter,
        )
    storages = (
        select_storages(
            manifest.storages,
            allowed,
            explicit=options.storages is not None,
            reporter=reporter,
        )
        if options.with_storages
        else []
    )
    return _Chosen(data_files, storages, excluded, migrations)


def _provisional(options: LoadOptions, allowed: list[str]) -> Callable[[str], bool]:
    """What to stage before the manifest is read (archives end with it): the
    data, and what is inside a storage the target may restore. It holds all
    that :func:`_wanted_members` will choose (a load refuses an archive storage
    the target does not name); data files that ``exclude_data`` leaves out are
    staged, not loaded."""
    storages = allowed if options.with_storages else []
    data = DATA_PREFIX.rstrip("/")

    def wanted(name: str) -> bool:
        if options.with_data and (name == data or name.startswith(DATA_PREFIX)):
            return True
        return any(name == s or name.startswith(s + "/") for s in storages)

    return wanted


def _wanted_members(chosen: _Chosen) -> Callable[[str], bool]:
    """Which members to extract: the chosen data files, the data directory, and
    what is inside a chosen storage."""
    data = {item.path for item in chosen.data_files}
    storages = [entry.name for entry in chosen.storages]

    def wanted(name: str) -> bool:
        if name in data or name == DATA_PREFIX.rstrip("/"):
            return True
        return any(name == s or name.startswith(s + "/") for s in storages)

    return wanted


def _excluded(manifest: Manifest, names: Iterable[str], reporter: Reporter) -> set[str]:
    """Data paths matched by ``exclude_data`` (file name, stem or definition name)."""
    wanted = set(names)
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
            f"exclude_data {name!r} matches no data file of the archive "
            f"(it has {', '.join(d.filename for d in manifest.data) or 'none'})"
        )
    return matched
