"""zstd streams: compressed by zstd's own threads, read in bounded pieces, checked whole.

zstd's stream reader returns what a cut stream holds without saying it was cut,
so :class:`FrameTracker` follows the frames' structure (block headers and sizes,
no decompression) in the compressed bytes as they are read: a stream that does
not end where a frame does is truncated.
"""

from __future__ import annotations

from typing import Any

from diskette.archive.compression import CorruptStream, zstandard

#: Compressed bytes read at a time.
READ_SIZE = 256 * 1024

_FRAME_MAGIC = 0xFD2FB528
#: Skippable frames have magic numbers 0x184D2A50 to 0x184D2A5F.
_SKIPPABLE_MASK = 0xFFFFFFF0
_SKIPPABLE_MAGIC = 0x184D2A50
_RESERVED_BLOCK = 3
_RLE_BLOCK = 1


class ZstdWriter:
    """A write-only zstd stream; ``threads`` workers of zstd compress it.

    The frame records a checksum of its content, which the reader verifies.
    """

    def __init__(self, raw: Any, *, level: int, threads: int):
        module = zstandard()
        compressor = module.ZstdCompressor(
            level=level, threads=threads, write_checksum=True
        )
        self._stream = compressor.stream_writer(raw, closefd=False)

    def write(self, data: bytes) -> int:
        self._stream.write(data)
        return len(data)

    def flush(self) -> None:
        """Nothing to do: zstd writes its output as its workers finish blocks."""

    def end_segment(self) -> None:
        """End the frame and write it whole: what ``raw`` is given next follows
        it (a later write starts a new frame)."""
        self._stream.flush(zstandard().FLUSH_FRAME)

    def close(self) -> None:
        """End the frame and write what is left."""
        self._stream.close()

    def abort(self) -> None:
        """Drop the frame (the file is removed); zstd's workers stop with it."""
        self._stream = None


class FrameTracker:
    """Follow zstd frames through ``feed``; ``complete`` once the last one ended.

    Each state waits for a number of bytes: a magic number, a frame header, a
    block header; content (blocks, skippable frames, checksums) is only counted.
    """

    def __init__(self) -> None:
        self._need = 4
        self._header = bytearray()
        self._skip = 0
        self._state = self._magic
        self._checksum = False
        self.frames = 0

    @property
    def complete(self) -> bool:
        """Whether the bytes fed so far end just after a whole frame."""
        return (
            self.frames > 0
            and self._state == self._magic
            and not self._header
            and not self._skip
        )

    def feed(self, data: bytes) -> None:
        """Account for ``data``, the next compressed bytes; raise on what is no zstd."""
        view = memoryview(data)
        while view:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            take = min(self._need - len(self._header), len(view))
            self._header += view[:take]
            view = view[take:]
            if len(self._header) == self._need:
                header = bytes(self._header)
                self._header.clear()
                self._state(header)

    def _expect(self, count: int, state: Any) -> None:
        self._need = count
        self._state = state

    def _magic(self, header: bytes) -> None:
        magic = int.from_bytes(header, "little")
        if magic == _FRAME_MAGIC:
            self._expect(1, self._descriptor)
        elif magic & _SKIPPABLE_MASK == _SKIPPABLE_MAGIC:
            self._expect(4, self._skippable)
        else:
            raise ValueError("data after the last zstd frame is not a zstd frame")

    def _skippable(self, header: bytes) -> None:
        self._skip = int.from_bytes(header, "little")
        self._expect(4, self._magic)

    def _descriptor(self, header: bytes) -> None:
        descriptor = header[0]
        single_segment = bool(descriptor & 0x20)
        self._checksum = bool(descriptor & 0x04)
        content_size = (1 if single_segment else 0, 2, 4, 8)[descriptor >> 6]
        dictionary = (0, 1, 2, 4)[descriptor & 0x03]
        self._skip = (0 if single_segment else 1) + dictionary + content_size
        self._expect(3, self._block)

    def _block(self, header: bytes) -> None:
        value = int.from_bytes(header, "little")
        kind = (value >> 1) & 0x03
        if kind == _RESERVED_BLOCK:
            raise ValueError("a zstd block has the reserved type")
        self._skip = 1 if kind == _RLE_BLOCK else value >> 3
        if not value & 0x01:
            return  # more blocks of this frame follow
        self.frames += 1
        self._skip += 4 if self._checksum else 0
        self._expect(4, self._magic)


class _Tracked:
    """The compressed source, fed to a :class:`FrameTracker` as zstd reads it."""

    def __init__(self, raw: Any, tracker: FrameTracker):
        self.raw = raw
        self.tracker = tracker

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.raw.read(size)
        self.tracker.feed(data)
        return data


class ZstdReader:
    """The decompressed bytes of a zstd stream (one or more frames), read in
    bounded pieces: EOFError when it is cut short, CorruptStream when its data
    or its content checksum is wrong. ``needing`` names the archive in the
    message of a missing zstandard package."""

    def __init__(self, raw: Any, *, needing: str, read_size: int = READ_SIZE):
        module = zstandard(needing)
        self._error = module.ZstdError
        self.tracker = FrameTracker()
        self._stream = module.ZstdDecompressor().stream_reader(
            _Tracked(raw, self.tracker),
            read_size=read_size,
            read_across_frames=True,
            closefd=False,
        )
        self.read_size = read_size

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.read_size
        try:
            data: bytes = self._stream.read(size)
        except (ValueError, self._error) as error:
            raise CorruptStream(str(error)) from None
        if not data and not self.tracker.complete:
            raise EOFError("the zstd stream ends inside a frame")
        return data
