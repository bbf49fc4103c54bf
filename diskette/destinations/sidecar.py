"""The sidecar beside each archive: ``<archive name>.manifest.json``.

A listing or a prune must know what a destination holds without downloading
archive bodies, which can be gigabytes on an object store. So the dump writes,
once the archive is published, a small JSON object beside it that names the
archive and repeats its size, checksum, creation time and manifest. The manifest
inside the archive stays the truth (a load verifies the archive, never the
sidecar); the sidecar only describes.

A sidecar is also the mark that diskette wrote the archive: a prune deletes only
archives whose sidecar parses here. So the parser is strict: anything unexpected
(a wrong type, an unknown key, a name that is not the archive's, a size over
:data:`MAX_SIDECAR_SIZE`) gives ``None`` and the archive counts as foreign.
"""

from __future__ import annotations

import datetime
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from diskette.exceptions import DisketteError
from diskette.manifest import Manifest

if TYPE_CHECKING:
    from diskette.destinations.protocols import ArchiveStorage

#: What a sidecar's name adds to its archive's name.
SIDECAR_SUFFIX = ".manifest.json"
#: Value of the ``diskette_sidecar`` key: the sidecar format this diskette writes.
SIDECAR_VERSION = 1
#: Largest sidecar read, in bytes: bigger is refused unread (or at that size).
MAX_SIDECAR_SIZE = 1024 * 1024
#: The keys of a sidecar, no more and no fewer (but the optional ones).
SIDECAR_KEYS = frozenset(
    {"diskette_sidecar", "archive", "size", "checksum", "created", "format", "manifest"}
)
#: Keys a sidecar has only when they apply: to whom an encrypted archive is
#: encrypted (public keys only), and who signed a signed one.
OPTIONAL_KEYS = frozenset({"encryption", "signed_by"})
#: Manifest entries that grow with the number of files or rows and only serve a
#: load, which reads the archive's own manifest: left out of the sidecar so that
#: it stays small whatever the site (``members`` is required, so it is emptied).
_LOAD_ONLY_KEYS = ("content_types", "permissions")
_CHECKSUM = re.compile(r"(?:blake2b:)?([0-9a-f]{128})")
_LONGEST_FORMAT = 32


@dataclass(frozen=True)
class Sidecar:
    """A parsed, valid sidecar; ``created`` is aware and in UTC."""

    archive: str
    size: int
    checksum: str
    created: datetime.datetime
    format: str
    manifest: Manifest
    #: ``{"method": "age", "passphrase": bool, "recipients": [public keys]}``.
    encryption: dict[str, Any] | None = None
    #: The signing key's fingerprint (and comment), as ``diskette_inspect`` shows it.
    signed_by: str | None = None


def sidecar_name(archive: str) -> str:
    """The name of an archive's sidecar, in the same directory."""
    return archive + SIDECAR_SUFFIX


def archive_of_sidecar(name: str) -> str | None:
    """The archive a sidecar name is beside, or ``None`` when it is no sidecar name."""
    if not name.endswith(SIDECAR_SUFFIX) or len(name) == len(SIDECAR_SUFFIX):
        return None
    return name[: -len(SIDECAR_SUFFIX)]


def build_sidecar(
    archive: str,
    size: int,
    checksum: str,
    manifest: Mapping[str, Any],
    *,
    created: datetime.datetime | None = None,
    archive_format: str = "tar.gz",
    encryption: Mapping[str, Any] | None = None,
    signed_by: str | None = None,
) -> dict[str, Any]:
    """The sidecar of a finished archive, as a JSON-ready dict.

    ``checksum`` is the archive file's BLAKE2b-512 as the dump prints it (128
    hexadecimal characters, with or without the ``blake2b:`` prefix); the sidecar
    holds it prefixed. ``manifest`` is the dict the archive's ``manifest.json``
    holds (:meth:`Manifest.to_dict`); the sidecar keeps it without the member
    checksums, content types and permissions (see ``_LOAD_ONLY_KEYS``).
    ``created`` defaults to now and must be aware. Raise ValueError when a value
    is wrong or the result would be refused by :func:`parse_sidecar`: a dump must
    never write a sidecar that makes its own archive look foreign.
    """
    match = _CHECKSUM.fullmatch(checksum) if isinstance(checksum, str) else None
    if match is None:
        raise ValueError(
            f"checksum {checksum!r} is not a BLAKE2b-512 hex digest "
            "(128 lower-case hexadecimal characters)"
        )
    when = created or datetime.datetime.now(datetime.timezone.utc)
    if when.tzinfo is None:
        raise ValueError(f"created {when.isoformat()!r} has no time zone")
    sidecar = {
        "diskette_sidecar": SIDECAR_VERSION,
        "archive": archive,
        "size": size,
        "checksum": f"blake2b:{match.group(1)}",
        "created": when.astimezone(datetime.timezone.utc).isoformat(
            timespec="microseconds"
        ),
        "format": archive_format,
        "manifest": _described_manifest(manifest),
    }
    if encryption is not None:
        sidecar["encryption"] = dict(encryption)
    if signed_by is not None:
        sidecar["signed_by"] = signed_by
    raw = sidecar_bytes(sidecar)
    if parse_sidecar(raw, archive) is None:
        raise ValueError(
            f"the sidecar of {archive!r} would not be valid (a wrong name, size, "
            f"format or manifest, or over {MAX_SIDECAR_SIZE} bytes)"
        )
    return sidecar


def _described_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the manifest dict without what only a load needs."""
    described = dict(manifest)
    extra = described.get("diskette")
    if isinstance(extra, Mapping):
        extra = {k: v for k, v in extra.items() if k not in _LOAD_ONLY_KEYS}
        extra["members"] = {}
        described["diskette"] = extra
    return described


def sidecar_bytes(sidecar: Mapping[str, Any]) -> bytes:
    """The encoded sidecar, as written."""
    return json.dumps(sidecar, indent=2, ensure_ascii=False).encode("utf-8")


def write_sidecar(destination: ArchiveStorage, sidecar: Mapping[str, Any]) -> str:
    """Write a sidecar beside its archive; return the sidecar's name.

    Call it only once the archive is published: a sidecar names an archive that
    is there.
    """
    name = sidecar_name(sidecar["archive"])
    destination.write(name, io.BytesIO(sidecar_bytes(sidecar)))
    return name


def read_sidecar(destination: ArchiveStorage, archive: str) -> Sidecar | None:
    """Read and parse the sidecar of ``archive``; ``None`` if absent or invalid.

    At most :data:`MAX_SIDECAR_SIZE` + 1 bytes are read; when the backend tells
    sizes (the advanced tier), a bigger sidecar is not opened at all. A backend
    error other than a missing file is raised: it says nothing about the archive.
    """
    name = sidecar_name(archive)
    size_of = getattr(destination, "size", None)
    try:
        if callable(size_of) and size_of(name) > MAX_SIDECAR_SIZE:
            return None
        stream = destination.read(name)
    except FileNotFoundError:
        return None
    try:
        raw = bounded_read(stream, MAX_SIDECAR_SIZE + 1)
    finally:
        stream.close()
    return parse_sidecar(raw, archive)


def bounded_read(stream: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``stream``, however few each read returns."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def parse_sidecar(raw: bytes, archive: str) -> Sidecar | None:
    """The sidecar in ``raw`` if it is a valid one naming ``archive``, else ``None``."""
    if len(raw) > MAX_SIDECAR_SIZE:
        return None
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict) or not set(payload) >= SIDECAR_KEYS:
        return None
    if not set(payload) <= SIDECAR_KEYS | OPTIONAL_KEYS:
        return None
    encryption = payload.get("encryption")
    signed_by = payload.get("signed_by")
    if not (encryption is None or _valid_encryption(encryption)):
        return None
    if not (signed_by is None or isinstance(signed_by, str) and len(signed_by) < 512):
        return None
    version = payload["diskette_sidecar"]
    size = payload["size"]
    checksum = payload["checksum"]
    archive_format = payload["format"]
    if (
        type(version) is not int
        or version != SIDECAR_VERSION
        or not isinstance(archive, str)
        or payload["archive"] != archive
        or type(size) is not int
        or size < 0
        or not isinstance(checksum, str)
        or not checksum.startswith("blake2b:")
        or _CHECKSUM.fullmatch(checksum) is None
        or not isinstance(archive_format, str)
        or not 0 < len(archive_format) <= _LONGEST_FORMAT
    ):
        return None
    created = _utc_datetime(payload["created"])
    if created is None:
        return None
    try:
        manifest = Manifest.from_dict(payload["manifest"])
    except (DisketteError, LookupError, TypeError, ValueError):
        return None
    return Sidecar(
        archive,
        size,
        checksum,
        created,
        archive_format,
        manifest,
        encryption,
        signed_by,
    )


def _valid_encryption(value: Any) -> bool:
    """What the dump writes as ``encryption``: a method, a flag, public keys."""
    return (
        isinstance(value, dict)
        and set(value) == {"method", "passphrase", "recipients"}
        and value["method"] == "age"
        and isinstance(value["passphrase"], bool)
        and isinstance(value["recipients"], list)
        and all(isinstance(r, str) and len(r) < 16384 for r in value["recipients"])
    )


def _utc_datetime(value: Any) -> datetime.datetime | None:
    """An aware ISO 8601 timestamp in UTC, or ``None`` (naive, not a string...)."""
    if not isinstance(value, str):
        return None
    text = value[:-1] + "+00:00" if value.endswith("Z") else value  # Python 3.10
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return when.astimezone(datetime.timezone.utc)
