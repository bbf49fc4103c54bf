"""The compressions an archive may have: names, file suffixes, levels, magic bytes.

A dump chooses one (``gzip``, the default, which the original diskette reads;
``zstd``; or ``none``); a load tells which one an archive has by its first bytes,
never by its name, so a renamed or downloaded archive loads the same. zstd needs
the optional ``zstandard`` package (the ``zstd`` extra), imported only when used.
"""

from __future__ import annotations

import os
from types import ModuleType

from diskette.exceptions import ConfigurationError

GZIP = "gzip"
ZSTD = "zstd"
NONE = "none"
#: The compressions a dump may write, the default first.
COMPRESSIONS = (GZIP, ZSTD, NONE)

#: File name ending of each compression's archives.
SUFFIXES = {GZIP: ".tar.gz", ZSTD: ".tar.zst", NONE: ".tar"}
#: Every ending a name of each compression's archives may have.
_ENDINGS = {GZIP: (".tar.gz", ".tgz"), ZSTD: (".tar.zst", ".tzst"), NONE: (".tar",)}
#: What a sidecar records as the archive's ``format``.
ARCHIVE_FORMATS = {GZIP: "tar.gz", ZSTD: "tar.zst", NONE: "tar"}

#: Levels used when none is given. gzip's is gzip's and ``tar czf``'s own; zstd's
#: was measured on fixtures and incompressible media: levels above 3 cost much
#: more time for a few percent on JSON, and nothing on media (see the docs).
DEFAULT_LEVELS = {GZIP: 6, ZSTD: 3}
#: Levels accepted, both ends included (zstd's 20 to 22 need hundreds of MiB).
LEVEL_RANGES = {GZIP: (0, 9), ZSTD: (1, 19)}
#: What ``compresslevel`` means when left out: the compression's default.
DEFAULT_LEVEL = -1

#: Most threads compressing one archive at once.
MAX_THREADS = 4

#: The pip requirement that brings zstd support.
ZSTD_EXTRA = "diskette[zstd]"

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: Where a POSIX (or GNU) tar header holds its magic, and the bytes it starts with.
_TAR_MAGIC_OFFSET = 257
_TAR_MAGIC = b"ustar"
#: Bytes to read to tell every compression apart.
MAGIC_SIZE = _TAR_MAGIC_OFFSET + len(_TAR_MAGIC)


def detect_compression(head: bytes) -> str | None:
    """The compression whose magic bytes start ``head``, or None if none does.

    gzip starts with ``1f 8b``, zstd with ``28 b5 2f fd``; a tar archive without
    compression has ``ustar`` at offset 257 of its first header.
    """
    if head.startswith(_GZIP_MAGIC):
        return GZIP
    if head.startswith(_ZSTD_MAGIC):
        return ZSTD
    if head[_TAR_MAGIC_OFFSET:MAGIC_SIZE] == _TAR_MAGIC:
        return NONE
    return None


def check_compression(value: object, where: str = "compression") -> str:
    """Return ``value`` if it names a compression, else raise ConfigurationError."""
    if value not in COMPRESSIONS:
        raise ConfigurationError(
            f"{where} {value!r} is unknown: use one of {', '.join(COMPRESSIONS)}"
        )
    assert isinstance(value, str)
    return value


def compression_level(compression: str, level: int = DEFAULT_LEVEL) -> int:
    """The level to write ``compression`` at, or raise ConfigurationError.

    :data:`DEFAULT_LEVEL` gives the compression's default; ``none`` takes no level.
    """
    if not isinstance(level, int) or isinstance(level, bool):
        raise ConfigurationError(f"compresslevel {level!r} must be an integer")
    if compression == NONE:
        if level != DEFAULT_LEVEL:
            raise ConfigurationError(
                f"compresslevel {level} means nothing with compression 'none': "
                "leave it out, or choose gzip or zstd"
            )
        return 0
    if level == DEFAULT_LEVEL:
        return DEFAULT_LEVELS[compression]
    low, high = LEVEL_RANGES[compression]
    if not low <= level <= high:
        raise ConfigurationError(
            f"compresslevel {level!r} must be an integer from {low} to {high} for "
            f"{compression} (default {DEFAULT_LEVELS[compression]})"
        )
    return level


def compression_threads() -> int:
    """Threads for one archive's compression: the cores, at most :data:`MAX_THREADS`."""
    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


class CorruptStream(Exception):
    """Compressed data that its decompressor refuses (zstandard's own errors)."""


def zstandard(needing: str = "compression 'zstd'") -> ModuleType:
    """The ``zstandard`` module, or a one-line ConfigurationError naming the extra.

    ``needing`` starts the message: what needs the package.
    """
    try:
        import zstandard as module
    except ImportError:
        raise ConfigurationError(
            f"{needing} needs the zstandard package, which is not installed: "
            f"pip install '{ZSTD_EXTRA}'"
        ) from None
    return module


def archive_name(name: str, compression: str) -> str:
    """``name`` with the suffix of ``compression`` in place of another archive suffix.

    ``diskette.tar.gz`` becomes ``diskette.tar.zst`` for zstd and ``diskette.tar``
    for none; a name that already ends as ``compression``'s archives do, or that
    has no archive suffix at all, is kept as it is.
    """
    if name.endswith(_ENDINGS[compression]):
        return name
    for other, endings in _ENDINGS.items():
        for ending in endings:
            if other != compression and name.endswith(ending) and name != ending:
                return name[: -len(ending)] + SUFFIXES[compression]
    return name
