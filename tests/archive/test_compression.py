"""Compressions: gzip, zstd and none written and read back, told by their magic
bytes, and every way a compressed stream can be broken refused in one line."""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib

import pytest
import zstandard

from diskette.archive import ArchiveReader, ArchiveWriter
from diskette.archive.compression import (
    COMPRESSIONS,
    archive_name,
    compression_level,
    detect_compression,
)
from diskette.archive.gzip import GzipReader, ParallelGzip, compress_block
from diskette.archive.zstd import FrameTracker, ZstdReader
from diskette.exceptions import ArchiveError, ConfigurationError
from tests.archives import MTIME, make_archive, manifest_dict, stage

LIMITS = {"max_size": 64 * 1024 * 1024, "max_members": 1000, "minimal_size": 10}
MAGIC = {"gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd"}
FILES = {
    "photo.jpg": os.urandom(300_000),
    "notes/readme.txt": b"bonjour " * 5000,
    "empty.bin": b"",
}


def write(path, compression: str, files=FILES, **options):
    """An archive of ``files`` in storage ``media``, as the dump writes it."""
    import json

    payload = manifest_dict({}, {"media": files})
    with ArchiveWriter(path, compression=compression, **options) as writer:
        writer.add_bytes("manifest.json", json.dumps(payload).encode(), mode=0o600)
        writer.add_directory("media", mtime=MTIME, mode=0o755)
        writer.add_directory("media/notes", mtime=MTIME, mode=0o755)
        for name, data in files.items():
            writer.add_bytes(f"media/{name}", data, mtime=MTIME + 0.25, mode=0o644)
        writer.commit()
    return path


def zstd_archive(path, **options):
    """``make_archive``'s archive, compressed with zstd instead of gzip."""
    make_archive(path, compress=False, **options)
    path.write_bytes(
        zstandard.ZstdCompressor(write_checksum=True).compress(path.read_bytes())
    )
    return path


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_each_compression_round_trips_bytes_and_times(tmp_path, compression):
    archive = write(tmp_path / "a.archive", compression)
    head = archive.read_bytes()[:262]
    assert detect_compression(head) == compression
    if compression in MAGIC:
        assert head.startswith(MAGIC[compression])
    else:
        assert head[257:262] == b"ustar"
    staging, found = stage(archive, tmp_path)
    assert found == compression
    for name, data in FILES.items():
        restored = staging / "media" / name
        assert restored.read_bytes() == data
        assert restored.stat().st_mtime == MTIME + 0.25


@pytest.mark.parametrize(
    ("compression", "name"),
    [
        ("zstd", "looks.tar.gz"),
        ("gzip", "looks.tar.zst"),
        ("none", "x.zip"),
        ("zstd", "no-suffix"),
    ],
)
def test_the_format_is_told_by_magic_bytes_never_by_name(tmp_path, compression, name):
    archive = write(tmp_path / name, compression)
    staging, found = stage(archive, tmp_path)
    assert found == compression
    assert (staging / "media" / "photo.jpg").read_bytes() == FILES["photo.jpg"]


def test_bytes_of_no_known_format_are_refused(tmp_path):
    archive = tmp_path / "a.tar.zst"
    archive.write_bytes(b"\x28\xb5\x2f" + b"x" * 600)  # three magic bytes of four
    with (
        ArchiveReader(archive, **LIMITS) as reader,
        pytest.raises(
            ArchiveError,
            match="not a gzip file, a zstd file, a tar archive or an age-encrypted one",
        ),
    ):
        reader.inspect()


def test_zstd_without_zstandard_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    archive = write(tmp_path / "a.tar.zst", "zstd")
    monkeypatch.setitem(sys.modules, "zstandard", None)  # as if not installed
    with pytest.raises(ConfigurationError) as caught:
        ArchiveWriter(tmp_path / "b.tar.zst", compression="zstd").__enter__()
    assert str(caught.value) == (
        "compression 'zstd' needs the zstandard package, which is not installed: "
        "pip install 'diskette[zstd]'"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["a.tar.zst"]  # no part file left
    staging = tmp_path / "staging"
    staging.mkdir()
    with (
        ArchiveReader(archive, **LIMITS) as reader,
        pytest.raises(ConfigurationError, match="diskette\\[zstd\\]") as caught,
    ):
        reader.stage(staging)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("archive 'a.tar.zst', compressed with zstd,")
    assert list(staging.iterdir()) == []


@pytest.mark.parametrize("cut", ["half", "checksum", "last byte", "header"])
def test_a_truncated_zstd_stream_is_refused(tmp_path, cut):
    archive = write(tmp_path / "a.tar.zst", "zstd")
    content = archive.read_bytes()
    keep = {"half": len(content) // 2, "checksum": -4, "last byte": -1, "header": 12}
    archive.write_bytes(content[: keep[cut]])
    staging = tmp_path / "staging"
    staging.mkdir()
    with (
        ArchiveReader(archive, **LIMITS) as reader,
        pytest.raises(ArchiveError, match="truncated") as caught,
    ):
        reader.stage(staging)
    assert "\n" not in str(caught.value)


def test_corrupt_zstd_data_is_refused(tmp_path):
    archive = write(tmp_path / "a.tar.zst", "zstd")
    content = bytearray(archive.read_bytes())
    middle = len(content) // 2
    content[middle : middle + 8] = bytes(8)
    archive.write_bytes(bytes(content))
    staging = tmp_path / "staging"
    staging.mkdir()
    with (
        ArchiveReader(archive, **LIMITS) as reader,
        pytest.raises(ArchiveError, match="corrupt|truncated|sha256"),
    ):
        reader.stage(staging)


def test_bytes_after_the_last_zstd_frame_are_refused(tmp_path):
    archive = write(tmp_path / "a.tar.zst", "zstd")
    archive.write_bytes(archive.read_bytes() + b"trailing garbage")
    with (
        ArchiveReader(archive, **LIMITS) as reader,
        pytest.raises(ArchiveError, match="corrupt"),
    ):
        reader.stage(tmp_path / "staging")


def test_two_zstd_frames_are_one_stream(tmp_path):
    """zstd files may be concatenated, as ``cat a.zst b.zst`` makes them."""
    archive = make_archive(
        tmp_path / "a.tar", storages={"media": FILES}, compress=False
    )
    raw = archive.read_bytes()
    compressor = zstandard.ZstdCompressor(write_checksum=True)
    archive.write_bytes(
        compressor.compress(raw[:5000]) + compressor.compress(raw[5000:])
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader:
        reader.stage(staging)
    assert (staging / "media" / "photo.jpg").read_bytes() == FILES["photo.jpg"]


def test_the_frame_tracker_follows_frames_byte_by_byte():
    data = os.urandom(20_000) + b"ab" * 150_000 + bytes(200_000)
    frame = zstandard.ZstdCompressor(write_checksum=True).compress(data)
    skippable = (0x184D2A5E).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"abc"
    tracker = FrameTracker()
    for index, byte in enumerate(frame + skippable + frame):
        tracker.feed(bytes([byte]))
        ends = index in (len(frame) - 1, len(frame) + len(skippable) - 1)
        assert tracker.complete == (
            ends or index == 2 * len(frame) + len(skippable) - 1
        )
    assert tracker.frames == 2


def test_the_zstd_reader_never_returns_more_than_asked():
    """A small stream that decompresses to 64 MiB is read in bounded pieces."""
    bomb = zstandard.ZstdCompressor().compress(bytes(64 * 1024 * 1024))
    assert len(bomb) < 10_000
    reader = ZstdReader(io.BytesIO(bomb), needing="test")
    sizes = {len(reader.read(4096)) for _ in range(100)}
    assert sizes == {4096}


@pytest.mark.parametrize("read_size", [1000, 64 * 1024, 256 * 1024])
@pytest.mark.parametrize("piece", [4096, 100_000, 256 * 1024])
def test_the_gzip_reader_reads_multi_member_streams_whole(read_size, piece):
    """Members of ParallelGzip end anywhere in a read; each must start where the
    previous one ended, whatever is left in zlib's tail."""
    data = os.urandom(3 * 1024 * 1024) + b"text " * 400_000 + os.urandom(700_000)
    out = io.BytesIO()
    stream = ParallelGzip(out, compresslevel=6, threads=2)
    for index in range(0, len(data), 300_000):
        stream.write(data[index : index + 300_000])
    stream.close()
    assert stream.members > 5
    reader = GzipReader(io.BytesIO(out.getvalue()), read_size=read_size)
    pieces = []
    while chunk := reader.read(piece):
        assert len(chunk) <= piece
        pieces.append(chunk)
    assert b"".join(pieces) == data == gzip.decompress(out.getvalue())


def test_the_gzip_reader_refuses_a_cut_stream_and_accepts_zero_padding():
    packed = gzip.compress(os.urandom(100_000))
    with pytest.raises(EOFError):
        reader = GzipReader(io.BytesIO(packed[:-3]))
        while reader.read(65536):
            pass
    reader = GzipReader(io.BytesIO(packed + bytes(1000)))
    assert len(b"".join(iter(lambda: reader.read(65536), b""))) == 100_000
    reader = GzipReader(io.BytesIO(packed + b"garbage!"))
    with pytest.raises(zlib.error):
        while reader.read(65536):
            pass


def test_incompressible_blocks_are_stored_and_text_is_deflated():
    media = os.urandom(1024 * 1024)
    text = (b'{"model": "library.book", "pk": 1, "fields": {}}\n' * 25_000)[
        : len(media)
    ]
    stored = compress_block(media, 6)
    assert gzip.decompress(stored) == media
    assert len(stored) < len(media) + 200  # stored blocks, a few bytes each
    assert len(stored) < len(gzip.compress(media, 6, mtime=0))
    deflated = compress_block(text, 6)
    assert len(deflated) == len(gzip.compress(text, 6, mtime=0)) < len(text) // 10


@pytest.mark.parametrize(
    ("name", "compression", "expected"),
    [
        (
            "diskette_data_20261201T141503.123456Z.tar.gz",
            "zstd",
            "diskette_data_20261201T141503.123456Z.tar.zst",
        ),
        ("site.tar.gz", "none", "site.tar"),
        ("site.tar", "gzip", "site.tar.gz"),
        ("site.tar.zst", "gzip", "site.tar.gz"),
        ("site.tgz", "gzip", "site.tgz"),
        ("site.tgz", "zstd", "site.tar.zst"),
        ("site.tzst", "zstd", "site.tzst"),
        ("backup", "zstd", "backup"),
        (".tar.gz", "zstd", ".tar.gz"),
    ],
)
def test_the_name_suffix_follows_the_compression(name, compression, expected):
    assert archive_name(name, compression) == expected


@pytest.mark.parametrize(
    ("compression", "level", "result"),
    [
        ("gzip", -1, 6),
        ("zstd", -1, 3),
        ("none", -1, 0),
        ("gzip", 0, 0),
        ("zstd", 19, 19),
    ],
)
def test_levels(compression, level, result):
    assert compression_level(compression, level) == result


@pytest.mark.parametrize(
    ("compression", "level", "message"),
    [
        ("gzip", 10, "from 0 to 9 for gzip"),
        ("zstd", 0, "from 1 to 19 for zstd"),
        ("zstd", 22, "from 1 to 19 for zstd"),
        ("none", 6, "means nothing with compression 'none'"),
        ("gzip", "6", "must be an integer"),
        ("gzip", True, "must be an integer"),
    ],
)
def test_bad_levels_are_refused(compression, level, message):
    with pytest.raises(ConfigurationError, match=message):
        compression_level(compression, level)


def test_an_unknown_compression_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="use one of gzip, zstd, none"):
        ArchiveWriter(tmp_path / "a.tar.xz", compression="xz")
