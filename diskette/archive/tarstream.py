"""One bounded pass over an untrusted ``.tar.gz``, and its errors in one line each.

An archive is untrusted input: it is read as a stream (never seeking, never
trusting tarfile's index), decompressed within a byte limit, with pax and GNU
long-name headers bounded before tarfile reads them into memory.
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from diskette.archive.gzip import LimitedGzip, TooLarge
from diskette.exceptions import ArchiveError, UnsafeArchiveError

#: Tar framing allowed per member on top of its content (header, pax/long name, padding).
MEMBER_OVERHEAD = 4096
#: Tar end-of-archive blocks and record padding.
ARCHIVE_OVERHEAD = 20 * 1024
#: Largest pax / GNU long-name header data accepted (tarfile reads it into memory).
_MAX_HEADER_DATA = 64 * 1024
_HEADER_TYPES = (
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
)


class _HugeHeader(Exception):
    """A pax or GNU long-name header too large to be a real one."""


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuse an oversized pax or long-name header before tarfile reads it whole."""

    def _proc_member(self, tarfile):  # type: ignore[override]
        if self.type in _HEADER_TYPES and self.size > _MAX_HEADER_DATA:
            raise _HugeHeader(self.size)
        return super()._proc_member(tarfile)


def iterate_members(
    file: BinaryIO, limit: int
) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo, LimitedGzip]]:
    """Yield ``(tar, member, reader)`` for each member of ``file`` from its start.

    At most ``limit`` decompressed bytes are read (the caller may raise
    ``reader.limit`` as it goes); the gzip trailer is checked at the end. Use
    inside :func:`read_errors`, around the caller's loop too: reading a member's
    content happens there.
    """
    file.seek(0)
    reader = LimitedGzip(file, limit)
    with tarfile.open(  # type: ignore[call-overload]
        fileobj=reader, mode="r|", tarinfo=_BoundedTarInfo
    ) as tar:
        for member in tar:
            yield tar, member, reader
    reader.drain()


@contextmanager
def read_errors(name: str, max_size: int) -> Iterator[None]:
    """Turn what tarfile, gzip and zlib raise into one-line ArchiveErrors.

    ``name`` is the archive's file name, ``max_size`` DISKETTE_LOAD_MAX_SIZE.
    """
    try:
        yield
    except TooLarge:
        raise UnsafeArchiveError(
            f"archive {name!r} decompresses to more than DISKETTE_LOAD_MAX_SIZE "
            f"({max_size} bytes): refused as a possible gzip bomb; raise the "
            "setting if the archive is genuine"
        ) from None
    except _HugeHeader as error:
        raise UnsafeArchiveError(
            f"archive {name!r} has an extended header of {error.args[0]} bytes "
            f"(more than {_MAX_HEADER_DATA}): refusing the archive"
        ) from None
    except gzip.BadGzipFile as error:
        raise ArchiveError(
            f"archive {name!r} is not a gzip file or is damaged ({error}): "
            "give a .tar.gz written by diskette_dump"
        ) from None
    except EOFError:
        raise ArchiveError(
            f"archive {name!r} is truncated (the compressed data ends early): "
            "copy or download it again"
        ) from None
    except zlib.error as error:
        raise _corrupt(name, str(error)) from None
    except tarfile.ReadError as error:
        raise _tar_read_error(name, str(error)) from None
    except tarfile.TarError as error:
        raise ArchiveError(f"archive {name!r} cannot be read ({error})") from None


def _corrupt(name: str, detail: str) -> ArchiveError:
    return ArchiveError(
        f"archive {name!r} has corrupt compressed data ({detail}): copy or "
        "download it again"
    )


def _tar_read_error(name: str, message: str) -> ArchiveError:
    """tarfile says in words alone whether the stream was corrupt or cut short."""
    if message.startswith("zlib error"):
        return _corrupt(name, message)
    if "unexpected end" in message or "truncated" in message.lower():
        return ArchiveError(
            f"archive {name!r} is truncated ({message}): copy or download it again"
        )
    return ArchiveError(
        f"archive {name!r} is not a tar archive ({message}): give a .tar.gz "
        "written by diskette_dump"
    )
