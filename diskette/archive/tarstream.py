"""One bounded pass over an untrusted archive, and its errors in one line each.

An archive is untrusted input: it is read as a stream (never seeking, never
trusting an index), decompressed within a byte limit, its headers parsed by
:class:`~diskette.archive.tar_reader.TarReader` (pax and GNU long-name headers
bounded before they are read into memory).
"""

from __future__ import annotations

import gzip
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, BinaryIO

from diskette.archive.compression import CorruptStream
from diskette.archive.source import (
    Limited,
    NotAnArchive,
    Prefetcher,
    SourceFile,
    TooLarge,
    decompressed,
)
from diskette.archive.tar_reader import MAX_HEADER_DATA, HugeHeader, TarReader
from diskette.exceptions import ArchiveError, UnsafeArchiveError

if TYPE_CHECKING:
    from diskette.crypto.age_keys import Decryption

#: Tar framing allowed per member on top of its content (header, pax/long name, padding).
MEMBER_OVERHEAD = 4096
#: Tar end-of-archive blocks and record padding.
ARCHIVE_OVERHEAD = 20 * 1024


class ArchiveStream:
    """One read of an archive file from its start: its members, bounded.

    ``source`` counts (and with ``digest`` hashes) the file's bytes as they are
    read; ``limited`` counts the decompressed bytes against ``limit``, which the
    caller may raise as it goes. Use it as a context manager (it stops the
    decompressing thread), inside :func:`read_errors`.
    """

    def __init__(
        self,
        file: BinaryIO,
        limit: int,
        *,
        name: str,
        digest: Any = None,
        decryption: Decryption | None = None,
    ):
        file.seek(0)
        self.source = SourceFile(file, digest)
        opened = decompressed(self.source, name, decryption)
        self.compression = opened.compression
        self._decrypting = opened.decrypting
        self._prefetcher = Prefetcher(opened.reader)
        self.limited = Limited(self._prefetcher, limit)
        self._tar = TarReader(self.limited)

    def __enter__(self) -> ArchiveStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._prefetcher.close()
        if self._decrypting is not None:
            self._decrypting.close()

    def members(self) -> Iterator[tuple[TarReader, tarfile.TarInfo]]:
        """Each ``(tar, member)``; read a member's content before the next one."""
        for member in self._tar:
            yield self._tar, member

    def finish(self) -> None:
        """Read to the end of the file: the decompressor checks its trailer and
        that the stream is whole, and ``source`` has seen every byte."""
        self.limited.drain()


def iterate_members(
    file: BinaryIO, limit: int, *, name: str, decryption: Decryption | None = None
) -> Iterator[tuple[TarReader, tarfile.TarInfo, Limited]]:
    """Yield ``(tar, member, reader)`` for each member of ``file`` from its start.

    At most ``limit`` decompressed bytes are read (the caller may raise
    ``reader.limit`` as it goes); the stream is read to its end and checked
    there. Use inside :func:`read_errors`, around the caller's loop too: reading
    a member's content happens there.
    """
    with ArchiveStream(file, limit, name=name, decryption=decryption) as stream:
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
    except HugeHeader as error:
        raise UnsafeArchiveError(
            f"archive {name!r} has an extended header of {error.args[0]} bytes "
            f"(more than {MAX_HEADER_DATA}): refusing the archive"
        ) from None
    except NotAnArchive:
        raise ArchiveError(
            f"archive {name!r} is not a gzip file, a zstd file, a tar archive or an "
            "age-encrypted one (its first bytes are none of theirs): give an archive "
            "written by diskette_dump"
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
