"""One bounded pass over an untrusted archive, and its errors in one line each.

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
from typing import Any, BinaryIO

from diskette.archive.compression import CorruptStream
from diskette.archive.source import (
    Limited,
    NotAnArchive,
    Prefetcher,
    SourceFile,
    TooLarge,
    decompressed,
)
from diskette.exceptions import ArchiveError, UnsafeArchiveError

#: Tar framing allowed per member on top of its content (header, pax/long name, padding).
MEMBER_OVERHEAD = 4096
#: Tar end-of-archive blocks and record padding.
ARCHIVE_OVERHEAD = 20 * 1024
#: Bytes tarfile reads from the decompressed stream at a time: larger pieces cost
#: fewer calls, but each header read copies what is left of the piece.
BUFSIZE = 64 * 1024
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


class ArchiveStream:
    """One read of an archive file from its start: its members, bounded.

    ``source`` counts (and with ``digest`` hashes) the file's bytes as they are
    read; ``limited`` counts the decompressed bytes against ``limit``, which the
    caller may raise as it goes. Use it as a context manager (it stops the
    decompressing thread), inside :func:`read_errors`.
    """

    def __init__(self, file: BinaryIO, limit: int, *, name: str, digest: Any = None):
        file.seek(0)
        self.source = SourceFile(file, digest)
        self.compression, reader = decompressed(self.source, name)
        self._prefetcher = Prefetcher(reader)
        self.limited = Limited(self._prefetcher, limit)
        try:
            self._tar = tarfile.open(  # type: ignore[call-overload]  # noqa: SIM115
                fileobj=self.limited,
                mode="r|",
                tarinfo=_BoundedTarInfo,
                bufsize=BUFSIZE,
            )
        except BaseException:
            self._prefetcher.close()
            raise

    def __enter__(self) -> ArchiveStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._tar.close()
        self._prefetcher.close()

    def members(self) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo]]:
        """Each ``(tar, member)``; read a member's content before the next one."""
        for member in self._tar:
            yield self._tar, member

    def finish(self) -> None:
        """Read to the end of the file: the decompressor checks its trailer and
        that the stream is whole, and ``source`` has seen every byte."""
        self.limited.drain()


class MemberContent:
    """The content of the member a stream of tar blocks is at: ``size`` bytes.

    It reads the tar stream itself, as ``TarFile.extractfile`` does through two
    more layers (a buffered reader copying into its buffer); tarfile skips the
    padding when it reads the next header. Read it whole before the next member.
    """

    def __init__(self, tar: tarfile.TarFile, member: tarfile.TarInfo):
        self._stream: Any = tar.fileobj
        self._left = int(member.size)

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size is None or size < 0 else min(size, self._left)
        data: bytes = self._stream.read(size)
        if len(data) != size:
            raise tarfile.ReadError("unexpected end of data")
        self._left -= size
        return data


def iterate_members(
    file: BinaryIO, limit: int, *, name: str
) -> Iterator[tuple[tarfile.TarFile, tarfile.TarInfo, Limited]]:
    """Yield ``(tar, member, reader)`` for each member of ``file`` from its start.

    At most ``limit`` decompressed bytes are read (the caller may raise
    ``reader.limit`` as it goes); the stream is read to its end and checked
    there. Use inside :func:`read_errors`, around the caller's loop too: reading
    a member's content happens there.
    """
    with ArchiveStream(file, limit, name=name) as stream:
        for tar, member in stream.members():
            yield tar, member, stream.limited
        stream.finish()


@contextmanager
def read_errors(name: str, max_size: int) -> Iterator[None]:
    """Turn what tarfile and the decompressors raise into one-line ArchiveErrors.

    ``name`` is the archive's file name, ``max_size`` DISKETTE_LOAD_MAX_SIZE.
    """
    try:
        yield
    except TooLarge:
        raise UnsafeArchiveError(
            f"archive {name!r} decompresses to more than DISKETTE_LOAD_MAX_SIZE "
            f"({max_size} bytes): refused as a possible decompression bomb; raise the "
            "setting if the archive is genuine"
        ) from None
    except _HugeHeader as error:
        raise UnsafeArchiveError(
            f"archive {name!r} has an extended header of {error.args[0]} bytes "
            f"(more than {_MAX_HEADER_DATA}): refusing the archive"
        ) from None
    except NotAnArchive:
        raise ArchiveError(
            f"archive {name!r} is not a gzip file, a zstd file or a tar archive (its "
            "first bytes are none of theirs): give an archive written by diskette_dump"
        ) from None
    except gzip.BadGzipFile as error:
        raise ArchiveError(
            f"archive {name!r} is not a gzip file or is damaged ({error}): "
            "give an archive written by diskette_dump"
        ) from None
    except CorruptStream as error:
        raise _corrupt(name, str(error)) from None
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
        f"archive {name!r} is not a tar archive ({message}): give an archive "
        "written by diskette_dump"
    )
