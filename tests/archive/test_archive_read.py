"""Reading archives: inspect (no writes), then extract into staging with checks."""

from __future__ import annotations

import hashlib
import stat

import pytest

from diskette.archive import ArchiveReader, archive_checksum, normalise_checksum
from diskette.exceptions import ChecksumError, ConfigurationError
from tests.archives import MTIME, Entry, make_archive, sites, snapshot

LIMITS = {"max_size": 10 * 1024 * 1024, "max_members": 1000, "minimal_size": 10}


def test_inspect_reads_the_manifest_and_writes_nothing(tmp_path):
    archive = make_archive(
        tmp_path / "a.tar.gz",
        data={"sites.json": sites((3, "a.org"))},
        storages={"media": {"x/y.txt": b"y"}},
    )
    before = snapshot(tmp_path)
    with ArchiveReader(archive, **LIMITS) as reader:
        manifest = reader.inspect()
    assert snapshot(tmp_path) == before
    assert [d.path for d in manifest.data] == ["data/sites.json"]
    assert [s.name for s in manifest.storages] == ["media"]
    assert not manifest.is_legacy
    names = [m.name for m in reader.members]
    assert names[0] == "manifest.json"
    assert "media/x/y.txt" in names


def test_legacy_layout_with_manifest_last_and_no_directory_entries(tmp_path):
    archive = make_archive(
        tmp_path / "legacy.tar.gz",
        data={"auth.json": sites((3, "a.org"))},
        storages={"media": {"deep/file.txt": b"f"}},
        legacy=True,
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader:
        manifest = reader.inspect()
        reader.extract(staging)
    assert manifest.is_legacy
    assert manifest.data[0].format == "json"
    assert reader.members[-1].name == "manifest.json"
    assert (staging / "media" / "deep" / "file.txt").read_bytes() == b"f"


def test_extract_keeps_mtimes_and_permission_bits(tmp_path):
    archive = make_archive(
        tmp_path / "a.tar.gz",
        storages={"media": {"d/f.txt": b"content"}},
        empty_directories={"media": ["empty/inner"]},
    )
    staging = tmp_path / "staging"
    staging.mkdir(mode=0o700)
    with ArchiveReader(archive, **LIMITS) as reader:
        reader.extract(staging)
    target = staging / "media" / "d" / "f.txt"
    assert target.read_bytes() == b"content"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert stat.S_IMODE(staging.stat().st_mode) == 0o700
    assert target.stat().st_mtime == MTIME
    assert (staging / "media" / "empty" / "inner").is_dir()


def test_wanted_filter_writes_only_wanted_but_verifies_everything(tmp_path):
    def lie(payload):
        payload["diskette"]["members"]["media/b.txt"] = "0" * 64

    archive = make_archive(
        tmp_path / "a.tar.gz",
        data={"sites.json": sites((3, "a.org"))},
        storages={"media": {"b.txt": b"b"}},
        tamper=lie,
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader, pytest.raises(ChecksumError):
        reader.extract(staging, wanted=lambda name: name.startswith("data"))
    assert not (staging / "media" / "b.txt").exists()


def test_wanted_filter_skips_unwanted_members(tmp_path):
    archive = make_archive(
        tmp_path / "a.tar.gz",
        data={"sites.json": sites((3, "a.org"))},
        storages={"media": {"b.txt": b"b"}},
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader:
        reader.extract(staging, wanted=lambda name: name.startswith("data"))
    assert (staging / "data" / "sites.json").is_file()
    assert not (staging / "media").exists()


def test_whole_file_checksum(tmp_path):
    archive = make_archive(tmp_path / "a.tar.gz", data={"s.json": sites((3, "a.org"))})
    digest = hashlib.blake2b(archive.read_bytes()).hexdigest()
    assert archive_checksum(archive) == digest
    with ArchiveReader(archive, **LIMITS) as reader:
        reader.verify_checksum(digest.upper())
        with pytest.raises(ChecksumError, match="BLAKE2b-512"):
            reader.verify_checksum(digest[:-1] + ("0" if digest[-1] != "0" else "1"))


def test_normalise_checksum_refuses_what_is_not_a_digest():
    with pytest.raises(ConfigurationError, match="128 hexadecimal"):
        normalise_checksum("z" * 128)
    assert normalise_checksum(" " + "AB" * 64 + "\n") == "ab" * 64


def test_archive_written_by_the_dump_side_is_read_back(tmp_path):
    """ArchiveWriter's output passes every reader check."""
    from diskette.archive import ArchiveWriter

    source = tmp_path / "f.txt"
    source.write_bytes(b"payload")
    path = tmp_path / "written.tar.gz"
    with ArchiveWriter(path, permissions=0o600, compresslevel=6) as writer:
        writer.add_directory("media", mtime=MTIME, mode=0o755)
        member = writer.add_file("media/f.txt", source, mtime=MTIME, mode=0o644)
        from tests.archives import manifest_dict

        payload = manifest_dict({}, {"media": {"f.txt": b"payload"}})
        assert payload["diskette"]["members"]["media/f.txt"] == member.sha256
        import json

        writer.add_bytes("manifest.json", json.dumps(payload).encode(), mode=0o600)
        writer.commit()
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(path, **LIMITS) as reader:
        reader.inspect()
        reader.extract(staging)
    assert (staging / "media" / "f.txt").read_bytes() == b"payload"


def test_extra_entry_type_helper_is_honest(tmp_path):
    """The hostile builder really writes the member type it is asked for."""
    import tarfile

    archive = make_archive(
        tmp_path / "a.tar.gz",
        extra=[Entry("media/l", type=tarfile.SYMTYPE, linkname="x")],
        storages={"media": {}},
    )
    with tarfile.open(archive) as tar:
        assert tar.getmember("media/l").issym()


def test_extract_drops_special_and_group_write_bits(tmp_path):
    archive = make_archive(
        tmp_path / "a.tar.gz",
        storages={"media": {"run.sh": b"#!/bin/sh"}},
        legacy=True,
        extra=[Entry("media/shared.txt", data=b"s", mode=0o6777)],
    )
    staging = tmp_path / "staging"
    staging.mkdir(mode=0o700)
    with ArchiveReader(archive, **LIMITS) as reader:
        reader.extract(staging)
    assert stat.S_IMODE((staging / "media" / "shared.txt").stat().st_mode) == 0o755
