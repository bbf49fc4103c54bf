"""What an archive holds, verified without writing anything."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.core.serializers.base import DeserializationError

from diskette.api.results import InspectedData, InspectedStorage, InspectResult
from diskette.api.staging import fetch_archive, open_reader
from diskette.archive import (
    ArchiveReader,
    MemberCheck,
    MemberInfo,
)
from diskette.checks import raise_for_settings
from diskette.conf import DisketteSettings, get_settings, load_setting_names
from diskette.crypto.age_keys import Decryption, decryption
from diskette.crypto.signing import PublicKey, is_trusted, trusted_keys, verify
from diskette.destinations.fetch import (
    URL,
    ResolvedArchive,
    fetch_from_destination,
    resolve_archive,
    sidecar_refusal,
)
from diskette.environment import (
    compare_environments,
    installed_distributions,
)
from diskette.exceptions import (
    ArchiveError,
    ChecksumError,
    ConfigurationError,
    ManifestError,
    SignatureError,
)
from diskette.manifest import (
    METADATA_NAMES,
    Manifest,
    StorageEntry,
    check_counts,
    count_objects,
    count_per_label,
)
from diskette.readers import read_objects
from diskette.reporter import Reporter

__all__ = [
    "INSPECT_PREFIX",
    "InspectResult",
    "InspectedData",
    "InspectedStorage",
    "inspect",
]

#: Prefix of the private temporary directory an inspected URL is downloaded into.
INSPECT_PREFIX = ".diskette-inspect-"


def inspect(
    archive: str | os.PathLike[str],
    *,
    verify: bool = True,
    environment: bool = False,
    reporter: Reporter | None = None,
    source: object = None,
    identities: Sequence[str | os.PathLike[str]] | None = None,
    passphrase: str | None = None,
) -> InspectResult:
    """Describe an archive and verify its members; change nothing.

    ``archive`` is a path, a URL, or a name (or ``latest``) in the destination
    ``source`` names (an alias of ``STORAGES``, ``"local"`` or a backend;
    ``DISKETTE_ARCHIVE_STORAGE`` when ``None``). Reads the manifest and every
    member header, then, with ``verify``, every member, hashing it without
    writing it. The database is not used and nothing is written, except a
    download (of a URL, or from a destination that is not a local directory)
    into a private temporary directory, removed afterwards. A member that does
    not match its checksum, or an archive that is not the one its sidecar
    describes, is in ``problems`` (the result says what did not verify, it does
    not raise); an archive that cannot be read or is unsafe raises an
    ArchiveError. ``environment`` compares the distributions the archive records
    with the running ones. An encrypted archive is opened with the
    ``identities`` files (``DISKETTE_IDENTITY_FILES`` when ``None``) or the
    ``passphrase``; a signed one's signature is verified (a wrong one is a
    problem) and its key compared with ``DISKETTE_TRUSTED_KEYS``.
    """
    reporter = reporter or Reporter()
    raise_for_settings(load_setting_names(), overridden=["DISKETTE_LOAD_STORAGES_PATH"])
    conf = get_settings()
    files = conf.identity_files if identities is None else identities
    opening = _Opening(
        decryption(files, passphrase),
        trusted_keys(conf.trusted_keys, "DISKETTE_TRUSTED_KEYS"),
    )
    resolved = resolve_archive(archive, source, reporter=reporter)
    if resolved.path is not None:
        return _inspect_file(
            resolved, resolved.path, conf, verify, environment, reporter, opening
        )
    try:
        private = Path(tempfile.mkdtemp(prefix=INSPECT_PREFIX))
    except OSError as error:
        raise ConfigurationError(
            f"cannot create a temporary directory for the download in "
            f"{tempfile.gettempdir()!r} ({error.strerror or error}): set TMPDIR to a "
            "writable directory"
        ) from None
    try:
        if resolved.kind == URL:
            path = fetch_archive(archive, None, private, conf, reporter)
        else:
            path = fetch_from_destination(
                resolved,
                private / resolved.filename,
                max_size=conf.load_max_size,
                reporter=reporter,
            )
        return _inspect_file(
            resolved, path, conf, verify, environment, reporter, opening
        )
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _inspect_file(
    resolved: ResolvedArchive,
    path: Path,
    conf: DisketteSettings,
    verify: bool,
    environment: bool,
    reporter: Reporter,
    opening: _Opening,
) -> InspectResult:
    """Inspect the local file of ``resolved``, opened once. When verifying, a file
    that is not the archive its sidecar describes is the first problem, or the
    error raised when it cannot even be read (the sidecar says why)."""
    with open_reader(path, conf, opening.decryption) as reader:
        mismatch = _sidecar_mismatch(reader, resolved) if verify else None
        try:
            result = _inspect(reader, resolved.shown, verify, environment, reporter)
        except ArchiveError as error:
            if mismatch is None:
                raise
            raise mismatch from error
        result.encrypted = reader.encrypted
        _check_signer(reader, result, opening.trusted)
    if mismatch is not None:
        result.errors.insert(0, mismatch)
    return result


@dataclass(frozen=True)
class _Opening:
    """What opens an encrypted archive, and the keys trusted to sign one."""

    decryption: Decryption | None
    trusted: list[PublicKey]


def _check_signer(
    reader: ArchiveReader, result: InspectResult, trusted: list[PublicKey]
) -> None:
    """Verify the signature, if any: who signed, whether that key is trusted; a
    signature that does not verify is a problem of the result."""
    if reader.signature_bytes is None or reader.manifest_bytes is None:
        return
    try:
        signer = verify(
            reader.manifest_bytes, reader.signature_bytes, name=reader.path.name
        )
    except SignatureError as error:
        result.errors.insert(0, error)
        return
    result.signed_by = signer.describe()
    if trusted:
        result.trusted = is_trusted(signer, trusted)


def _sidecar_mismatch(
    reader: ArchiveReader, resolved: ResolvedArchive
) -> ChecksumError | None:
    """The refusal of an open file whose BLAKE2b-512 is not its sidecar's, or
    ``None`` (it is, or there is no sidecar): the file read is the one inspected."""
    if resolved.checksum is None:
        return None
    try:
        reader.verify_checksum(
            resolved.checksum, refusal=functools.partial(sidecar_refusal, resolved)
        )
    except ChecksumError as refused:
        return refused
    return None


def _inspect(
    reader: ArchiveReader,
    shown: str,
    verify: bool,
    environment: bool,
    reporter: Reporter,
) -> InspectResult:
    """Read the manifest and, with ``verify``, check every member; describe it."""
    manifest = reader.inspect()
    size = reader.path.stat().st_size
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
    data = _inspected_data(manifest, counted, sizes, verdict)
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
        anonymised=manifest.anonymised,
        errors=errors,
    )


def _inspected_data(
    manifest: Manifest,
    counted: dict[str, dict[str, int]],
    sizes: dict[str, int],
    verdict: dict[str, bool | None],
) -> list[InspectedData]:
    """Each data file as the manifest records it (as counted, for the original
    diskette's archives, which record no counts), its models per
    :func:`~diskette.manifest.model_label`: fixtures write ``auth.permission``,
    inspect says ``auth.Permission`` as the dump and the load do."""
    data = []
    for item in manifest.data:
        recorded = item.models if not manifest.is_legacy else counted.get(item.path)
        models = count_per_label(recorded) if recorded is not None else None
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
    return data


def _check_members(
    reader: ArchiveReader,
    manifest: Manifest,
    counted: dict[str, dict[str, int]],
    unreadable: dict[str, ArchiveError],
    reporter: Reporter,
) -> list[MemberCheck]:
    """Hash every member; count the objects of json and jsonl fixtures on the way."""
    formats = {item.path: item.format for item in manifest.data}
    files = sum(
        1 for m in reader.members if not m.is_dir and m.name not in METADATA_NAMES
    )
    done = 0

    def consume(info: MemberInfo, stream: BinaryIO) -> None:
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
        checks: list[MemberCheck] = reader.check_members(consume)
        return checks
    finally:
        reporter.done()


def _data_problems(
    manifest: Manifest,
    counted: dict[str, dict[str, int]],
    unreadable: dict[str, ArchiveError],
    verdict: dict[str, bool | None],
) -> list[ArchiveError]:
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


def _inspected_storage(
    entry: StorageEntry,
    members: Sequence[MemberInfo],
    verdict: dict[str, bool | None],
    legacy: bool,
) -> InspectedStorage:
    """A storage as its members show it (the original diskette records nothing
    of empty directories: they are the directory members with nothing inside)."""
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
