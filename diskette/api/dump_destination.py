"""Where a dump's archive goes: the destination resolved, checked, and written to.

A local destination (a directory of this machine, the default) gets the archive
as the archive writer makes it: a temporary file beside the final name, published
by a rename, or, without ``overwrite``, by a hard link, which fails when the name
was taken meanwhile (:func:`diskette.archive.writer.publish_new`).

Any other destination (a Django storage, a backend of the project's) gets a
finished local file: the dump writes the archive in its private work directory
(in ``DISKETTE_DUMP_PATH``), then the backend streams it under its final name.
Before the upload starts, the file is unlinked and the work directory removed
(the open file keeps the bytes): whatever stops the process during the upload,
``kill -9`` included, leaves no local copy behind. The backends publish an upload
only once it is complete; if the upload fails nothing is deleted there (the
name may hold another dump's archive) and no sidecar is written.

In both cases the sidecar (:mod:`diskette.destinations.sidecar`) follows the
archive; if it cannot be written, the archive just published is removed again,
so that no archive of this dump lists as foreign.
"""

from __future__ import annotations

import datetime
import shutil
import string
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from diskette.api.dump_results import DumpPruneError
from diskette.archive.compression import ARCHIVE_FORMATS
from diskette.checks import FILENAME_PLACEHOLDERS
from diskette.crypto.age_stream import SUFFIX as ENCRYPTED_SUFFIX
from diskette.destinations.config import (
    describe_destination,
    describe_error,
    get_destination,
)
from diskette.destinations.django_storage import StorageDestination
from diskette.destinations.local import CHUNK_SIZE, LocalDestination
from diskette.destinations.protocols import (
    ADVANCED_METHODS,
    AdvancedArchiveStorage,
    ArchiveStorage,
    missing_methods,
)
from diskette.destinations.retention import Retention, prune
from diskette.destinations.sidecar import build_sidecar, write_sidecar
from diskette.exceptions import ConfigurationError, DumpError, PruneError
from diskette.reporter import Reporter, plural

if TYPE_CHECKING:
    from diskette.api.dump_options import DumpOptions
    from diskette.api.dump_plan import DumpPlan
    from diskette.api.dump_results import DumpResult
    from diskette.archive import WrittenArchive
    from diskette.conf import DisketteSettings
    from diskette.owner import Owned

#: ``{date}`` form: ISO 8601 without separators in the time, safe on every file system.
DATE_FORMAT = "%Y-%m-%dT%H%M%S"
#: ``{timestamp}`` form, in UTC: ISO 8601 basic format to the microsecond, so
#: that two dumps get two names and names sort by time (``20261201T141503.123456Z``).
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"


#: A valid digest for preparing a sidecar before the archive's is known.
_PLACEHOLDER_DIGEST = "0" * 128


@dataclass(frozen=True)
class Target:
    """A dump's destination: the backend, its description, and its local directory.

    ``directory`` is the archive's directory when ``local``, else the one that
    holds the dump's work directory (``DISKETTE_DUMP_PATH``).
    """

    backend: ArchiveStorage
    where: str
    directory: Path
    local: bool


def resolve_target(options: DumpOptions, conf: DisketteSettings) -> Target:
    """The destination of ``options``: ``destination`` (a local directory), else
    ``to``, else ``DISKETTE_ARCHIVE_STORAGE``."""
    if options.destination is not None:
        directory = Path(options.destination).expanduser().absolute()
        return Target(
            LocalDestination(directory), f"local directory {directory}", directory, True
        )
    try:
        backend = get_destination(options.to)
    except ConfigurationError as error:
        if options.to is None:
            raise
        raise ConfigurationError(f"to={options.to!r}: {error}") from error
    if isinstance(backend, LocalDestination):
        directory = backend.location.absolute()
        return Target(backend, f"local directory {directory}", directory, True)
    value = conf.archive_storage if options.to is None else options.to
    work = conf.dump_directory.expanduser().absolute()
    return Target(backend, describe_destination(value, backend), work, False)


def refuse_existing(target: Target, name: str) -> None:
    """Raise ConfigurationError when ``name`` is taken in the destination, before
    anything is written; DumpError when the destination cannot be reached."""
    if _exists(target.backend, name, target.where):
        raise ConfigurationError(
            f"{target.where} already holds an archive named {name!r}: give another "
            "filename, or overwrite=True to replace it"
        )


def _exists(backend: ArchiveStorage, name: str, where: str) -> bool:
    try:
        return bool(backend.exists(name))
    except ConfigurationError:
        raise
    except Exception as error:  # a backend may raise anything
        raise DumpError(
            f"reaching {where} failed: {describe_error(error)}; no archive was written"
        ) from error


def appeared(plan: DumpPlan) -> DumpError:
    """The error of a name that was free at the plan and is taken at publication."""
    return DumpError(
        f"an archive named {plan.filename!r} appeared in {plan.where} while the dump "
        "ran: it was left as it was; give another filename, or overwrite=True to "
        "replace it; no archive was written"
    )


def prepare_sidecar(plan: DumpPlan, manifest: dict[str, Any]) -> dict[str, Any]:
    """The archive's sidecar, but its size and digest, checked before the archive
    is published (DumpError when it could not be valid): a dump never publishes
    an archive that would list as foreign. Finished by :func:`publish_sidecar`.
    Its ``format`` is the archive's (``tar.gz``, ``tar.zst`` or ``tar``, with
    ``.age`` when encrypted); an encrypted archive's says to whom, a signed
    one's by which key."""
    archive_format = ARCHIVE_FORMATS[plan.compression]
    encryption = None
    if plan.encryption is not None:
        archive_format += ENCRYPTED_SUFFIX
        encryption = plan.encryption.describe()
    try:
        return build_sidecar(
            plan.filename,
            0,
            _PLACEHOLDER_DIGEST,
            manifest,
            archive_format=archive_format,
            encryption=encryption,
            signed_by=plan.signer.public.describe() if plan.signer else None,
        )
    except ValueError as error:
        raise DumpError(f"{error}; no archive was written") from None


def publish_sidecar(
    plan: DumpPlan, written: WrittenArchive, prepared: dict[str, Any]
) -> str:
    """Write the sidecar of the published archive; return its name.

    ``prepared`` gets the archive's size and digest, which cannot make it
    invalid (an integer, 128 hexadecimal digits): it is not validated again. If
    the sidecar cannot be written (KeyboardInterrupt included), the archive is
    removed again: without its sidecar it would list as not written by
    diskette, and no prune would ever delete it.
    """
    sidecar = {
        **prepared,
        "size": written.size,
        "checksum": f"blake2b:{written.blake2b}",
    }
    try:
        return write_sidecar(plan.backend, sidecar)
    except BaseException as error:
        removed = _remove_archive(plan)
        if not isinstance(error, Exception):
            raise
        fate = (
            "the archive was removed again: no archive was written"
            if removed
            else f"the archive {plan.filename!r} stays there without its sidecar, so "
            "it lists as not written by diskette: delete it"
        )
        raise DumpError(
            f"writing the sidecar to {plan.where} failed: {describe_error(error)}; "
            f"{fate}"
        ) from error


def _remove_archive(plan: DumpPlan) -> bool:
    try:
        plan.backend.delete(plan.filename)
    except Exception:  # the sidecar's error is the one to show
        return False
    return True


def upload(
    plan: DumpPlan, written: WrittenArchive, sidecar: dict[str, Any], workdir: Owned
) -> str:
    """Stream the finished local archive to the destination, then its sidecar.

    The local file is opened, then removed with the work directory, so that an
    upload stopped in any way leaves no local copy. Without ``overwrite`` the
    name is checked again just before the upload: the archive protocol has no
    "write unless it exists", so a name taken between this check and the end of
    the upload would be replaced; the window is the upload's length, not the
    dump's. Returns the sidecar's name.
    """
    with open(written.path, "rb") as archive:
        workdir.release()
        if not plan.overwrite and _exists(plan.backend, plan.filename, plan.where):
            raise appeared(plan)
        try:
            _send(plan.backend, plan.filename, archive)
        except Exception as error:  # a backend may raise anything
            raise DumpError(
                f"uploading to {plan.where} failed: {describe_error(error)}; no "
                "archive was written"
            ) from error
    return publish_sidecar(plan, written, sidecar)


def _send(backend: ArchiveStorage, name: str, archive: IO[bytes]) -> None:
    """``write`` the archive; a backend of the advanced tier gets it through
    ``open_write``, its atomic stream, but a Django storage, whose ``open_write``
    spools a second local copy for the same ``write``."""
    if isinstance(backend, StorageDestination) or missing_methods(
        backend, ADVANCED_METHODS
    ):
        backend.write(name, archive)
        return
    with cast(AdvancedArchiveStorage, backend).open_write(name) as stream:
        shutil.copyfileobj(archive, stream, CHUNK_SIZE)


# ---- the archive's name ---------------------------------------------------------


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
    """Fill ``{features}``, ``{date}`` and ``{timestamp}`` in a filename pattern,
    or raise ConfigurationError.

    ``{date}`` is the local time as ``2026-11-22T101500`` (no ``:``, so the name
    is valid on every file system), ``{timestamp}`` the same moment in UTC as
    ``20261122T091500.123456Z`` (:data:`TIMESTAMP_FORMAT`); a naive ``now`` is
    local time.
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
                "only {features}, {date} and {timestamp} are replaced"
            )
    now = now or datetime.datetime.now()
    utc = now.astimezone(datetime.timezone.utc)
    name = pattern.format(
        features=_features(with_data, with_storages),
        date=now.strftime(DATE_FORMAT),
        timestamp=utc.strftime(TIMESTAMP_FORMAT),
    )
    if "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise ConfigurationError(
            f"dump filename {pattern!r} gives {name!r}, which is not a plain file "
            "name: use destination for the directory"
        )
    return name


# ---- prune=True ------------------------------------------------------------------


def prune_after_dump(
    plan: DumpPlan, retention: Retention, result: DumpResult, reporter: Reporter
) -> None:
    """Prune the destination after the dump; a failure says the archive is there."""
    written = f"the archive {plan.archive!r} was written to {plan.where}"
    try:
        pruned = prune(plan.backend, retention)
    except PruneError as error:
        result.prune = error.result
        raise DumpPruneError(
            f"{written}; then {error}", error.result, result
        ) from error
    except Exception as error:  # listing a backend may raise anything
        raise DumpPruneError(
            f"{written}; then the prune failed before deleting anything: "
            f"{describe_error(error)}: fix the cause and prune again",
            None,
            result,
        ) from error
    result.prune = pruned
    reporter.info(
        f"pruned {plan.where}: deleted {plural(len(pruned.deleted), 'file')}, "
        f"kept {plural(len(pruned.kept), 'archive')}"
    )
