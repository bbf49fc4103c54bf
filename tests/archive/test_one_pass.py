"""Staging reads an archive once: the manifest first, then each member checked,
hashed and written (or only hashed) as it comes, limits enforced as it goes."""

from __future__ import annotations

import hashlib
import os

import pytest
import zstandard

from diskette.archive import ArchiveReader
from diskette.exceptions import ChecksumError, ManifestError, UnsafeArchiveError
from tests.archives import Entry, make_archive, sites

LIMITS = {"max_size": 64 * 1024 * 1024, "max_members": 1000, "minimal_size": 10}
MEDIA = {"media": {f"d{i}/f{i}.bin": os.urandom(200_000) for i in range(6)}}
DATA = {"sites.json": sites((3, "a.org"))}


def recompressed(path, compression: str):
    """The archive at ``path`` (a gzip one) in ``compression`` instead."""
    import gzip

    raw = gzip.decompress(path.read_bytes())
    if compression == "zstd":
        raw = zstandard.ZstdCompressor(threads=2, write_checksum=True).compress(raw)
    if compression != "gzip":
        path.write_bytes(raw)
    return path


def files_in(root):
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()
    )


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_staging_reads_the_archive_file_once(tmp_path, compression):
    archive = make_archive(tmp_path / "a.archive", data=DATA, storages=MEDIA)
    recompressed(archive, compression)
    checksum = hashlib.blake2b(archive.read_bytes()).hexdigest()
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader:
        reader.stage(staging, checksum=checksum)
        assert reader.bytes_read == archive.stat().st_size
    assert len(files_in(staging / "media")) == 6


@pytest.mark.parametrize("manifest_first", [True, False])
def test_the_manifest_may_come_first_or_last(tmp_path, manifest_first):
    """diskette writes it last, as the original did: one pass either way."""
    archive = make_archive(
        tmp_path / "a.tar.gz", data=DATA, storages=MEDIA, manifest_first=manifest_first
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader:
        manifest = reader.stage(staging)
        assert reader.bytes_read == archive.stat().st_size
    assert [item.path for item in manifest.data] == ["data/sites.json"]
    assert len(files_in(staging / "media")) == 6


def test_what_provisional_skipped_and_choose_wants_is_read_again(tmp_path):
    archive = make_archive(
        tmp_path / "a.tar.gz", data=DATA, storages=MEDIA, manifest_first=False
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader:
        reader.stage(
            staging,
            lambda manifest: None,
            provisional=lambda name: name.startswith("data"),
        )
        assert reader.bytes_read == 2 * archive.stat().st_size
    assert len(files_in(staging / "media")) == 6
    assert files_in(staging)[0] == "data/sites.json"


@pytest.mark.parametrize("manifest_first", [True, False])
def test_only_what_is_chosen_and_provisional_is_written(tmp_path, manifest_first):
    archive = make_archive(
        tmp_path / "a.tar.gz", data=DATA, storages=MEDIA, manifest_first=manifest_first
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    seen = []

    def choose(manifest):
        seen.append([s.name for s in manifest.storages])
        return lambda name: name.startswith("data")

    with ArchiveReader(archive, **LIMITS) as reader:
        manifest = reader.stage(
            staging, choose, provisional=lambda name: name.startswith("data")
        )
        assert reader.bytes_read == archive.stat().st_size
    assert seen == [["media"]]
    assert [item.path for item in manifest.data] == ["data/sites.json"]
    assert files_in(staging) == ["data/sites.json"]  # media hashed, not written


@pytest.mark.parametrize("manifest_first", [True, False])
def test_a_skipped_member_is_verified_too(tmp_path, manifest_first):
    def lie(payload):
        payload["diskette"]["members"]["media/d2/f2.bin"] = "0" * 64

    archive = make_archive(
        tmp_path / "a.tar.gz",
        data=DATA,
        storages=MEDIA,
        tamper=lie,
        manifest_first=manifest_first,
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with (
        ArchiveReader(archive, **LIMITS) as reader,
        pytest.raises(ChecksumError, match="media/d2/f2.bin"),
    ):
        reader.stage(staging, provisional=lambda name: name.startswith("data"))


def test_a_wrong_whole_file_checksum_is_refused_after_the_one_pass(tmp_path):
    archive = make_archive(tmp_path / "a.tar.gz", storages=MEDIA)
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader:
        with pytest.raises(ChecksumError, match="BLAKE2b-512"):
            reader.stage(staging, checksum="0" * 128)
        assert reader.bytes_read == archive.stat().st_size


def test_a_member_the_manifest_does_not_declare_is_refused_before_it_is_written(
    tmp_path,
):
    archive = make_archive(
        tmp_path / "a.tar.gz",
        storages=MEDIA,
        extra=[Entry("other/intruder.txt", data=b"x")],
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with (
        ArchiveReader(archive, **LIMITS) as reader,
        pytest.raises(UnsafeArchiveError, match="outside every prefix"),
    ):
        reader.stage(staging)
    assert not (staging / "other").exists()


def test_a_last_member_with_a_wrong_checksum_is_refused(tmp_path):
    """The media before it are in staging; the caller moves nothing out of it."""

    def lie(payload):
        payload["diskette"]["members"]["media/d5/f5.bin"] = "0" * 64

    archive = make_archive(tmp_path / "a.tar.gz", storages=MEDIA, tamper=lie)
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader:
        with pytest.raises(ChecksumError, match="media/d5/f5.bin"):
            reader.stage(staging)
        assert reader.members[-1].name == "media/d5/f5.bin"


def test_a_declared_member_missing_at_the_end_is_refused(tmp_path):
    def more(payload):
        payload["diskette"]["members"]["media/ghost.bin"] = "0" * 64

    archive = make_archive(tmp_path / "a.tar.gz", storages=MEDIA, tamper=more)
    (tmp_path / "staging").mkdir()
    with (
        ArchiveReader(archive, **LIMITS) as reader,
        pytest.raises(ManifestError, match="missing from the archive"),
    ):
        reader.stage(tmp_path / "staging")


def test_the_size_limit_stops_a_zstd_bomb_while_streaming(tmp_path):
    """64 MiB of zeros after the end of the tar, in a few kilobytes of zstd."""
    archive = make_archive(tmp_path / "a.tar", storages=MEDIA, compress=False)
    raw = archive.read_bytes() + bytes(64 * 1024 * 1024)
    archive.write_bytes(zstandard.ZstdCompressor().compress(raw))
    assert archive.stat().st_size < 2 * 1024 * 1024
    staging = tmp_path / "staging"
    staging.mkdir()
    limits = {**LIMITS, "max_size": 2 * 1024 * 1024}
    with (
        ArchiveReader(archive, **limits) as reader,
        pytest.raises(UnsafeArchiveError, match="decompression bomb"),
    ):
        reader.stage(staging)


def test_the_member_limit_is_enforced_as_members_come(tmp_path):
    files = {f"f{index}.txt": b"x" for index in range(50)}
    archive = make_archive(tmp_path / "a.tar.gz", storages={"media": files})
    staging = tmp_path / "staging"
    staging.mkdir()
    with (
        ArchiveReader(archive, **{**LIMITS, "max_members": 10}) as reader,
        pytest.raises(UnsafeArchiveError, match="DISKETTE_LOAD_MAX_MEMBERS"),
    ):
        reader.stage(staging)
    assert len(files_in(staging)) < 10
