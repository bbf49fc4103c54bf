"""Which archive a load, its plan or an inspection is given, and its local file.

The ARCHIVE argument is read, in this order, as a URL (``scheme://``, downloaded
as before by :mod:`diskette.download`), as a file of this machine when one is
there (as before), then as a name in a destination (``source``: an alias of
``STORAGES``, ``"local"`` or a backend; ``DISKETTE_ARCHIVE_STORAGE`` when
``None``), the word ``latest`` meaning the newest archive there written by
diskette. A ``Path`` object, and a string no destination could hold (absolute,
with ``..``…), are always files: a missing one is refused by the reader with
the words it always used.

The reader needs a local, seekable file. An archive of a
:class:`~diskette.destinations.local.LocalDestination` is read where it is, with
no copy; from any other backend it is streamed into the caller's (private)
directory, never more than ``DISKETTE_LOAD_MAX_SIZE`` bytes. When the archive
has a valid sidecar, the reader compares the open file with the checksum the
sidecar records (:func:`sidecar_refusal` is its refusal), so that a body that is
not the archive the dump wrote is refused before anything changes.

Errors of a backend (a network, a server, a permission) become one
:class:`~diskette.exceptions.DownloadError` line, as a failed download does.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from diskette.conf import get_settings
from diskette.destinations.config import describe_destination, get_destination
from diskette.destinations.listing import is_archive_name, list_archives
from diskette.destinations.local import LocalDestination
from diskette.destinations.protocols import ArchiveStorage, check_destination_name
from diskette.destinations.sidecar import read_sidecar, sidecar_name
from diskette.download import is_url, redact
from diskette.exceptions import (
    ArchiveError,
    ChecksumError,
    ConfigurationError,
    DisketteError,
    DownloadError,
)
from diskette.reporter import Reporter, plural

#: The archive argument that names the newest archive written by diskette.
LATEST = "latest"
#: What an archive argument turned out to be.
URL, PATH, NAME = "url", "path", "destination"
#: Bytes copied at a time from a backend's stream.
CHUNK_SIZE = 1024 * 1024
#: Prefix of the temporary file a fetch writes before it renames it (a download's).
PARTIAL_PREFIX = ".diskette-download-"
_DIGEST_PREFIX = "blake2b:"


@dataclass(frozen=True)
class ResolvedArchive:
    """Where an archive argument leads.

    ``kind`` is :data:`URL`, :data:`PATH` or :data:`NAME` (``name`` in
    ``destination``, which ``where`` describes). ``path`` is set when the
    archive can be read where it is: a path, or an archive of a local
    destination. ``checksum`` is the BLAKE2b-512 hex digest the archive's
    sidecar records, ``None`` without a valid sidecar.
    """

    argument: str
    kind: str
    path: Path | None = None
    destination: ArchiveStorage | None = None
    name: str | None = None
    where: str = ""
    checksum: str | None = None

    @property
    def shown(self) -> str:
        """How results and messages name the archive (a URL without secrets)."""
        if self.kind == NAME:
            return f"{self.name} in {self.where}"
        if self.kind == URL:
            return redact(self.argument)
        return str(self.path)

    @property
    def described(self) -> str:
        """``archive 'name' in <destination>``, as messages begin."""
        return f"archive {self.name!r} in {self.where}"

    @property
    def filename(self) -> str:
        """The archive's own file name, for the local copy of a fetch."""
        return posixpath.basename(self.name or "") or "archive"


def resolve_archive(
    archive: str | os.PathLike[str],
    source: object = None,
    *,
    reporter: Reporter | None = None,
) -> ResolvedArchive:
    """Read an archive argument as a URL, a file here, or a name in ``source``.

    Only a name is looked up, with the destination's ``exists`` (or, for
    ``latest``, its listing, which reads sidecars only). Raise ArchiveError when
    the destination has no such archive, naming where it looked and the names
    closest to the one given; ConfigurationError when ``source`` names no
    destination.
    """
    reporter = reporter or Reporter()
    text = os.fspath(archive)
    if is_url(text):
        return ResolvedArchive(text, URL)
    path = Path(text).expanduser()
    if (
        not isinstance(archive, str)
        or os.path.lexists(path)
        or not _is_destination_name(text)
    ):
        return ResolvedArchive(text, PATH, path=path)
    destination = get_destination(source)
    value = get_settings().archive_storage if source is None else source
    where = describe_destination(value, destination)
    with backend_errors(f"looking {text!r} up in {where}"):
        if text == LATEST:
            name, checksum = _latest(destination, where)
            reporter.info(f"latest is {name} in {where}")
        else:
            name, checksum = _named(text, destination, where)
    in_place = (
        destination.path(name) if isinstance(destination, LocalDestination) else None
    )
    return ResolvedArchive(
        text, NAME, in_place, destination, name, where, checksum=checksum
    )


def fetch_from_destination(
    resolved: ResolvedArchive, target: Path, *, max_size: int, reporter: Reporter
) -> Path:
    """Stream a destination's archive to the file ``target``; return it.

    At most ``max_size`` bytes (``DISKETTE_LOAD_MAX_SIZE``): a backend that
    tells sizes is asked first, and the bytes are counted as they come. As a
    download does, the bytes go to a 0600 temporary file beside ``target``,
    renamed once complete and removed on any failure.
    """
    destination, name = resolved.destination, resolved.name
    if destination is None or name is None:
        raise ValueError(f"{resolved.argument!r} is not an archive of a destination")
    doing = f"fetching {resolved.shown}"
    size_of = getattr(destination, "size", None)
    total = None
    if callable(size_of):
        with backend_errors(doing):
            total = int(size_of(name))
    if total is not None and total > max_size:
        raise _too_large(resolved, max_size, total)
    descriptor, temporary = tempfile.mkstemp(
        prefix=PARTIAL_PREFIX, suffix=".part", dir=target.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as output, backend_errors(doing):
            stream = destination.read(name)
            try:
                received = _copy(stream, output, resolved, max_size, total, reporter)
            finally:
                stream.close()
        reporter.done()
        Path(temporary).replace(target)
    except BaseException:
        with suppress(OSError):  # the error that brought us here matters more
            Path(temporary).unlink()
        raise
    reporter.info(f"Fetched {resolved.shown} ({received} bytes)")
    return target


def sidecar_refusal(resolved: ResolvedArchive, actual: str) -> ChecksumError:
    """The refusal of an archive whose BLAKE2b-512 is ``actual``, not the one its
    sidecar records (``resolved.checksum``)."""
    return ChecksumError(
        f"{resolved.described} has BLAKE2b-512 {actual[:16]}…, not the "
        f"{(resolved.checksum or '')[:16]}… its sidecar {sidecar_name(resolved.name or '')!r} "
        "records: it is not the archive the dump wrote there (altered, or replaced "
        "under its name); nothing was changed"
    )


@contextmanager
def backend_errors(doing: str) -> Iterator[None]:
    """Any error of a backend as one DownloadError line; diskette's own as they are."""
    try:
        yield
    except DisketteError:
        raise
    except Exception as error:  # a backend may raise anything: botocore, paramiko…
        raise DownloadError(
            f"{doing} failed ({type(error).__name__}: {error}): nothing was changed; "
            "check the destination and try again"
        ) from error


def _is_destination_name(text: str) -> bool:
    try:
        check_destination_name(text)
    except ConfigurationError:
        return False
    return True


def _named(
    name: str, destination: ArchiveStorage, where: str
) -> tuple[str, str | None]:
    """``name`` if the destination has it, with its sidecar's checksum."""
    if not destination.exists(name):
        raise _unknown(name, destination, where)
    sidecar = read_sidecar(destination, name)
    return name, _hex(sidecar.checksum) if sidecar is not None else None


def _latest(destination: ArchiveStorage, where: str) -> tuple[str, str | None]:
    """The newest archive written by diskette, with its sidecar's checksum."""
    entries = list_archives(destination)
    for entry in entries:
        if entry.written_by_diskette:
            return entry.name, _hex(entry.checksum)
    others = (
        f" (it holds {plural(len(entries), 'archive')} not written by diskette)"
        if entries
        else ""
    )
    raise ArchiveError(
        f"{LATEST!r} names the newest archive written by diskette, and {where} "
        f"holds none{others}: dump one there, or name the archive"
    )


def _unknown(name: str, destination: ArchiveStorage, where: str) -> ArchiveError:
    """The refusal of a name that is neither a file, a URL nor in the destination."""
    directory = posixpath.dirname(name)
    names = [
        found
        for found in destination.list(f"{directory}/" if directory else "")
        if is_archive_name(found)
    ]
    close = difflib.get_close_matches(name, names, n=3)
    if close:
        hint = (
            f"the closest names there: {', '.join(map(repr, close))} (run "
            "diskette_list to see them all)"
        )
    else:
        hint = "run diskette_list to see what it holds"
    return ArchiveError(
        f"archive {name!r} does not exist: it is neither a file, a URL nor an "
        f"archive in {where}; {hint}"
    )


def _copy(
    stream: IO[bytes],
    output: IO[bytes],
    resolved: ResolvedArchive,
    max_size: int,
    total: int | None,
    reporter: Reporter,
) -> int:
    """Copy ``stream`` to ``output``; the number of bytes, refused past ``max_size``."""
    received = 0
    for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
        received += len(chunk)
        if received > max_size:
            raise _too_large(resolved, max_size)
        output.write(chunk)
        reporter.progress("Fetching", received, total)
    return received


def _too_large(
    resolved: ResolvedArchive, max_size: int, size: int | None = None
) -> ArchiveError:
    found = f" ({size} bytes)" if size is not None else ""
    return ArchiveError(
        f"{resolved.described}{found} is larger than DISKETTE_LOAD_MAX_SIZE "
        f"({max_size} bytes): it was not fetched; raise the setting if the archive "
        "is the one you meant"
    )


def _hex(checksum: str | None) -> str | None:
    """A sidecar's ``blake2b:<hex>`` as the hex digest the reader compares."""
    return checksum.removeprefix(_DIGEST_PREFIX) if checksum else None
