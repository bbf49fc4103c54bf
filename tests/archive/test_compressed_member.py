"""Members compressed as they are written, then copied into the archive unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

import pytest

from diskette.archive import ArchiveWriter
from diskette.archive.compressed_member import CompressedFile
from diskette.archive.compression import COMPRESSIONS, DEFAULT_LEVEL
from tests.archives import MTIME, manifest_dict, stage

LIMITS = {"max_size": 64 * 1024 * 1024, "max_members": 1000, "minimal_size": 10}
TAR_OPTIONS = {"gzip": ["-z"], "zstd": ["--zstd"], "none": []}
#: Text that compresses, a size that fills several gzip blocks, and nothing at all.
CONTENTS = {
    "after.txt": b"after",  # the archive's own stream follows a copied member
    "big.json": b'{"model": "library.book", "pk": 1},\n' * 120_000,
    "random.bin": os.urandom(1_500_000),
    "empty.json": b"",
}


def write(path, compression):
    """Each content compressed on its own first, then the archive around them."""
    spilled = {}
    for name, data in CONTENTS.items():
        if name == "after.txt":
            continue  # written through the archive's own stream, after the others
        spill = path.parent / f"{name}.spill"
        with CompressedFile(spill, compression=compression, level=DEFAULT_LEVEL) as out:
            for start in range(0, len(data), 70_000):  # as a serializer writes
                out.write(data[start : start + 70_000])
        assert (out.size, out.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        spilled[name] = out
    payload = manifest_dict({}, {"media": CONTENTS})
    with ArchiveWriter(path, compression=compression) as writer:
        writer.add_directory("media", mtime=MTIME, mode=0o755)
        for name, out in spilled.items():
            member = writer.add_compressed(
                f"media/{name}", out.path, size=out.size, sha256=out.sha256
            )
            assert member.sha256 == out.sha256
        writer.add_bytes("media/after.txt", CONTENTS["after.txt"], mtime=MTIME)
        writer.add_bytes("manifest.json", json.dumps(payload).encode())
        writer.commit()
    return path


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_the_archive_reads_as_one_stream(tmp_path, compression):
    """diskette's reader checks every member's SHA-256 against the manifest."""
    archive = write(tmp_path / "a.archive", compression)
    staging, found = stage(archive, tmp_path)
    assert found == compression
    for name, data in CONTENTS.items():
        assert (staging / "media" / name).read_bytes() == data


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_tar_reads_it_too(tmp_path, compression):
    if shutil.which("tar") is None or (
        compression == "zstd" and shutil.which("zstd") is None
    ):
        pytest.skip(f"no tar or zstd to read a {compression} archive here")
    archive = write(tmp_path / "a.archive", compression)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(
        ["tar", *TAR_OPTIONS[compression], "-xf", str(archive), "-C", str(out)],
        check=True,
    )
    for name, data in CONTENTS.items():
        assert (out / "media" / name).read_bytes() == data


def test_a_failed_write_leaves_no_file(tmp_path):
    spill = tmp_path / "fixture.json"
    with (
        pytest.raises(RuntimeError),
        CompressedFile(spill, compression="gzip", level=DEFAULT_LEVEL) as out,
    ):
        out.write(b"[" * 3_000_000)
        raise RuntimeError("the serializer failed")
    assert list(tmp_path.iterdir()) == []


def test_the_file_is_private_from_its_first_byte(tmp_path):
    spill = tmp_path / "fixture.json"
    with CompressedFile(spill, compression="zstd", level=DEFAULT_LEVEL) as out:
        assert oct(spill.stat().st_mode & 0o777) == oct(0o600)
        out.write(b"secret")
