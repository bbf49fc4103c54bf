"""What a destination holds: its archives, newest first, from their sidecars.

Only sidecars are read (small JSON objects, see :mod:`.sidecar`), never an
archive's body, so listing an object store costs one small download per archive.
An archive-looking file without a valid sidecar naming it is listed as not
written by diskette, with only what the backend itself tells (its size and time
when it has the advanced tier) and nothing guessed; a prune never deletes it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from diskette.crypto.age_stream import SUFFIX as ENCRYPTED_SUFFIX
from diskette.destinations.protocols import is_partial
from diskette.destinations.sidecar import (
    Sidecar,
    archive_of_sidecar,
    read_sidecar,
    sidecar_name,
)

if TYPE_CHECKING:
    from diskette.destinations.protocols import ArchiveStorage

#: Endings of the files a listing treats as archives.
ARCHIVE_SUFFIXES = (
    ".tar.gz",
    ".tgz",
    ".tar",
    ".tar.zst",
    ".tzst",
    ".tar.bz2",
    ".tbz2",
    ".tar.xz",
    ".txz",
)


@dataclass(frozen=True)
class ArchiveEntry:
    """One archive in a destination; ``to_dict()`` is the ``--json`` form.

    ``data_files`` are ``(path, objects)`` and ``storages`` ``(name, files)``, as the
    sidecar's manifest records them (``None`` where the original diskette's
    manifest has no count). An entry not written by diskette has only ``name``,
    and ``size``/``created`` when the backend tells them.
    """

    name: str
    size: int | None
    created: datetime.datetime | None
    written_by_diskette: bool
    checksum: str | None = None
    format: str | None = None
    data_files: tuple[tuple[str, int | None], ...] = ()
    storages: tuple[tuple[str, int | None], ...] = ()
    #: To whom it is encrypted, as its sidecar says (None: not encrypted).
    encryption: dict[str, Any] | None = None
    #: Who signed it, as its sidecar says (the load verifies the signature).
    signed_by: str | None = None

    @property
    def sidecar(self) -> str:
        """The name the sidecar of this archive has (or would have)."""
        return sidecar_name(self.name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "created": self.created.isoformat() if self.created else None,
            "written_by_diskette": self.written_by_diskette,
            "checksum": self.checksum,
            "format": self.format,
            "data_files": [
                {"path": path, "objects": objects} for path, objects in self.data_files
            ],
            "storages": [
                {"name": name, "files": files} for name, files in self.storages
            ],
            "encryption": self.encryption,
            "signed_by": self.signed_by,
        }


@dataclass(frozen=True)
class DestinationListing:
    """Everything a prune needs: the archives, and the sidecars left without one.

    ``orphan_sidecars`` are valid diskette sidecars whose archive is gone (a prune
    that deleted the archive and failed on its sidecar): the next prune removes
    them. A file that merely ends like a sidecar is not one of them.
    """

    entries: list[ArchiveEntry]
    orphan_sidecars: list[str] = field(default_factory=list)


def is_archive_name(name: str) -> bool:
    """Whether a file name looks like an archive (and is not being written)."""
    plain = name[: -len(ENCRYPTED_SUFFIX)] if name.endswith(ENCRYPTED_SUFFIX) else name
    return not is_partial(name) and plain.endswith(ARCHIVE_SUFFIXES)


def list_archives(destination: ArchiveStorage, prefix: str = "") -> list[ArchiveEntry]:
    """The archives of a destination (in the directory ``prefix`` names, as
    :meth:`ArchiveStorage.list` reads it), newest first."""
    return scan_destination(destination, prefix).entries


def scan_destination(
    destination: ArchiveStorage, prefix: str = ""
) -> DestinationListing:
    """The archives of a destination, newest first, and its orphan sidecars.

    Newest is by the sidecar's ``created``, else the backend's modified time;
    entries with neither come last; ties go by name, the newest name first.
    """
    names = destination.list(prefix)
    present = set(names)
    sidecar_of = {
        archive: name
        for name in names
        if (archive := archive_of_sidecar(name)) is not None
    }
    size_of = _optional_method(destination, "size")
    entries = [
        _entry(destination, name, name in sidecar_of, size_of)
        for name in names
        if is_archive_name(name)
    ]
    entries.sort(key=lambda entry: entry.name, reverse=True)
    entries.sort(key=_age_key)
    orphans = sorted(
        sidecar
        for archive, sidecar in sidecar_of.items()
        if archive not in present and read_sidecar(destination, archive) is not None
    )
    return DestinationListing(entries, orphans)


def _age_key(entry: ArchiveEntry) -> tuple[int, float]:
    """Sort key: dated entries first, newest first."""
    if entry.created is None:
        return (1, 0.0)
    return (0, -entry.created.timestamp())


def _entry(
    destination: ArchiveStorage,
    name: str,
    has_sidecar: bool,
    size_of: Callable[[str], int] | None,
) -> ArchiveEntry:
    sidecar = read_sidecar(destination, name) if has_sidecar else None
    size = size_of(name) if size_of is not None else None
    if sidecar is not None and size in (None, sidecar.size):
        return _described(sidecar)
    # No sidecar, an invalid one, or one that describes another file than the
    # one there now (its size differs): nothing of it is trusted.
    modified = _optional_method(destination, "modified")
    created = modified(name) if modified is not None else None
    if created is not None:
        created = created.astimezone(datetime.timezone.utc)
    return ArchiveEntry(
        name=name, size=size, created=created, written_by_diskette=False
    )


def _described(sidecar: Sidecar) -> ArchiveEntry:
    manifest = sidecar.manifest
    return ArchiveEntry(
        name=sidecar.archive,
        size=sidecar.size,
        created=sidecar.created,
        written_by_diskette=True,
        checksum=sidecar.checksum,
        format=sidecar.format,
        data_files=tuple((item.path, item.objects) for item in manifest.data),
        storages=tuple((item.name, item.files) for item in manifest.storages),
        encryption=sidecar.encryption,
        signed_by=sidecar.signed_by,
    )


def _optional_method(destination: object, method: str) -> Callable[..., Any] | None:
    """A method of the advanced tier when the backend has it, else ``None``."""
    found = getattr(destination, method, None)
    return found if callable(found) else None
