"""The writer's own tar headers: read back by tarfile and GNU tar as written."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import tarfile

import pytest

from diskette.archive.tar_blocks import (
    DIRECTORY,
    REGULAR,
    end_of_archive,
    member_header,
    padding,
)

NAMES = [
    "media/a.txt",
    "media/é/photo.jpg",
    "media/" + "x" * 94,  # exactly 100 characters
    "media/" + "y" * 95,  # 101: the name goes in a pax record
    "media/" + "deep/" * 40 + "z.bin",
    "media/日本/語.txt",
    "media/with space/and'quote",
]
MTIMES = [0, 1_700_000_000, 1_700_000_000.5, 1_733_083_645.1234567, -5.0, 8**11 + 3]


def archive(members):
    """A tar stream of ``(name, content, mtime, mode, kind)`` members."""
    out = io.BytesIO()
    for name, content, mtime, mode, kind in members:
        size = len(content) if kind == REGULAR else 0
        out.write(member_header(name, size=size, mtime=mtime, mode=mode, kind=kind))
        if kind == REGULAR:
            out.write(content + padding(size))
    out.write(end_of_archive(out.tell()))
    return out.getvalue()


def random_members(count, seed=0):
    rng = random.Random(seed)
    members = []
    for number in range(count):
        kind = rng.choice([REGULAR, REGULAR, DIRECTORY])
        content = rng.randbytes(rng.choice([0, 1, 511, 512, 513, 5000]))
        name = f"{rng.choice(NAMES)}-{number}"
        members.append(
            (name, content, rng.choice(MTIMES), rng.choice([0o600, 0o644, 0o755]), kind)
        )
    return members


def test_tarfile_reads_back_every_field():
    members = random_members(300)
    data = archive(members)
    assert len(data) % (20 * 512) == 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        found = tar.getmembers()
        assert len(found) == len(members)
        for info, (name, content, mtime, mode, kind) in zip(
            found, members, strict=True
        ):
            assert info.name == name
            assert info.mtime == mtime
            assert info.mode == mode
            assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
            if kind == DIRECTORY:
                assert info.isdir()
            else:
                assert info.isfile()
                assert tar.extractfile(info).read() == content


@pytest.mark.parametrize("mtime", MTIMES)
def test_same_bytes_as_tarfile_for_a_plain_name(mtime):
    """Where tarfile's layout is settled (ASCII names, no device fields), ours is it."""
    info = tarfile.TarInfo("media/uploads/2024/05/photo.jpg")
    info.size, info.mtime, info.mode = 1234, mtime, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    theirs = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    ours = member_header(info.name, size=1234, mtime=mtime, mode=0o644)
    # Python releases differ in what they write in the device fields only.
    devices = slice(329, 345)
    assert len(ours) == len(theirs)
    assert ours[-512:][:148] == theirs[-512:][:148]
    assert ours[-512:][156:329] == theirs[-512:][156:329]
    assert ours[:-512] == theirs[:-512]
    assert ours[-512:][devices] == bytes(16)


@pytest.mark.skipif(shutil.which("tar") is None, reason="no tar here")
def test_gnu_tar_lists_names_and_fractional_times(tmp_path):
    members = [
        ("media/é/photo.jpg", b"jpeg", 1_733_083_645.25, 0o644, REGULAR),
        ("media/" + "y" * 120, b"long", 1_700_000_000, 0o600, REGULAR),
        ("media/empty", b"", 1_600_000_000, 0o755, DIRECTORY),
    ]
    path = tmp_path / "a.tar"
    path.write_bytes(archive(members))
    listing = subprocess.run(
        [
            "tar",
            "--list",
            "--verbose",
            "--full-time",
            "--numeric-owner",
            "-f",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"TZ": "UTC", "LC_ALL": "C.UTF-8"},
    ).stdout.splitlines()
    assert len(listing) == 3
    assert (
        listing[0].startswith("-rw-r--r-- 0/0")
        and "2024-12-01 20:07:25.25" in listing[0]
    )
    assert listing[0].endswith("media/é/photo.jpg")
    assert listing[1].endswith("media/" + "y" * 120)
    assert listing[2].startswith("drwxr-xr-x") and listing[2].endswith("media/empty/")
    extracted = tmp_path / "out"
    extracted.mkdir()
    subprocess.run(["tar", "-xf", str(path), "-C", str(extracted)], check=True)
    assert (extracted / "media/é/photo.jpg").read_bytes() == b"jpeg"
    assert (extracted / "media/é/photo.jpg").stat().st_mtime == 1_733_083_645.25
