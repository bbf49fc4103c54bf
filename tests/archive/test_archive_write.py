"""The archive writer: a real .tar.gz, complete or absent, with checksums."""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile

import pytest

from diskette.archive import ArchiveWriter
from diskette.archive.writer import SourceShrank


def temp_leftovers(directory):
    return [p.name for p in directory.iterdir() if p.name.endswith(".part")]


def test_members_checksums_and_metadata(tmp_path):
    source = tmp_path / "photo.jpg"
    source.write_bytes(b"\xff\xd8" + os.urandom(3000))
    source.chmod(0o640)
    os.utime(source, (1_700_000_000, 1_700_000_000.25))
    target = tmp_path / "out" / "archive.tar.gz"
    target.parent.mkdir()

    with ArchiveWriter(target, compresslevel=1) as writer:
        data = writer.add_bytes("data/a.json", b"[]", mtime=1_600_000_000)
        photo = writer.add_file("media/ünï/photo.jpg", source)
        writer.add_directory("media/empty", mtime=1_650_000_000, mode=0o750)
        writer.add_bytes("manifest.json", b"{}")
        written = writer.commit()

    raw = target.read_bytes()
    assert written.path == target
    assert written.size == len(raw)
    assert written.blake2b == hashlib.blake2b(raw).hexdigest()
    assert data.sha256 == hashlib.sha256(b"[]").hexdigest()
    assert photo.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert writer.members == {
        "data/a.json": data.sha256,
        "media/ünï/photo.jpg": photo.sha256,
        "manifest.json": hashlib.sha256(b"{}").hexdigest(),
    }
    with tarfile.open(target, "r:gz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == [
            "data/a.json",
            "media/ünï/photo.jpg",
            "media/empty",
            "manifest.json",
        ]
        photo_info = members[1]
        assert photo_info.mode == 0o640
        assert photo_info.mtime == 1_700_000_000.25
        assert (photo_info.uid, photo_info.gid, photo_info.uname, photo_info.gname) == (
            0,
            0,
            "",
            "",
        )
        assert members[2].isdir()
        assert members[2].mode == 0o750
        assert tar.extractfile(photo_info).read() == source.read_bytes()
    assert temp_leftovers(target.parent) == []


def test_archive_is_pax_with_utf8_names(tmp_path):
    target = tmp_path / "a.tar.gz"
    with ArchiveWriter(target) as writer:
        writer.add_bytes("media/日本語.txt", b"x")
        writer.commit()
    with tarfile.open(target, "r:gz", encoding="utf-8") as tar:
        (member,) = tar.getmembers()
        assert member.name == "media/日本語.txt"
        assert member.pax_headers.get("path") == "media/日本語.txt"


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_permissions(tmp_path, mode):
    target = tmp_path / "a.tar.gz"
    old = os.umask(0)
    try:
        with ArchiveWriter(target, permissions=mode) as writer:
            writer.add_bytes("x", b"x")
            writer.commit()
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_temp_name_then_rename(tmp_path):
    target = tmp_path / "a.tar.gz"
    with ArchiveWriter(target) as writer:
        writer.add_bytes("x", b"x")
        (temp,) = temp_leftovers(tmp_path)
        assert temp.startswith(".a.tar.gz.")
        assert not target.exists()
        writer.commit()
    assert target.exists()
    assert temp_leftovers(tmp_path) == []


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_error_inside_removes_temp_and_keeps_old_archive(tmp_path, error):
    target = tmp_path / "a.tar.gz"
    target.write_bytes(b"previous archive")
    with pytest.raises(error), ArchiveWriter(target) as writer:
        writer.add_bytes("x", b"x" * 100_000)
        raise error()
    assert temp_leftovers(tmp_path) == []
    assert target.read_bytes() == b"previous archive"


def test_leaving_without_commit_removes_temp(tmp_path):
    target = tmp_path / "a.tar.gz"
    with ArchiveWriter(target) as writer:
        writer.add_bytes("x", b"x")
    assert list(tmp_path.iterdir()) == []


def test_vanished_source_file(tmp_path):
    target = tmp_path / "a.tar.gz"
    with pytest.raises(FileNotFoundError), ArchiveWriter(target) as writer:
        writer.add_file("media/gone", tmp_path / "gone")
    assert list(tmp_path.iterdir()) == []


def test_shrunk_source_stream_is_an_error(tmp_path):
    import io

    target = tmp_path / "a.tar.gz"
    with (
        pytest.raises(SourceShrank, match="7 bytes short of its 10 bytes"),
        ArchiveWriter(target) as writer,
    ):
        writer.add_stream("media/short", io.BytesIO(b"abc"), 10, mtime=0)
    assert list(tmp_path.iterdir()) == []


def test_large_members_compressed_in_parallel_read_back_everywhere(
    tmp_path, monkeypatch
):
    """Blocks compressed by several threads make one valid gzip stream: Python's
    tarfile and gzip and the system's tar read it, byte for byte."""
    import gzip
    import shutil
    import subprocess

    monkeypatch.setattr("diskette.archive.gzip.GZIP_BLOCK", 4096)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(50_000) + b"diskette " * 20_000)
    target = tmp_path / "archive.tar.gz"
    with ArchiveWriter(target, compresslevel=6) as writer:
        member = writer.add_file("data/big.bin", big)
        writer.add_bytes("manifest.json", b"{}")
        written = writer.commit()

    raw = target.read_bytes()
    assert raw.count(b"\x1f\x8b\x08") > 10, "several gzip members"
    assert written.blake2b == hashlib.blake2b(raw).hexdigest()
    with tarfile.open(target, "r:gz") as tar:
        assert tar.extractfile("data/big.bin").read() == big.read_bytes()
    with tarfile.open(fileobj=gzip.GzipFile(target), mode="r|") as tar:
        assert [info.name for info in tar] == ["data/big.bin", "manifest.json"]
    assert member.sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    if shutil.which("tar"):
        listed = subprocess.run(
            ["tar", "-tzf", str(target)], capture_output=True, text=True, check=True
        )
        assert listed.stdout.split() == ["data/big.bin", "manifest.json"]
