"""The reader's own tar parsing: the same members as tarfile's, on tar's formats."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile

import pytest

from diskette.archive.tar_reader import MAX_HEADER_DATA, HugeHeader, TarReader

FIELDS = (
    "name",
    "type",
    "size",
    "mode",
    "mtime",
    "uid",
    "gid",
    "uname",
    "gname",
    "linkname",
)


class Pieces:
    """A stream that returns at most ``piece`` bytes a read, as the decompressors do."""

    def __init__(self, data: bytes, piece: int = 700):
        self.data = memoryview(data)
        self.piece = piece

    def read(self, size: int = -1) -> bytes:
        size = min(self.piece, len(self.data) if size < 0 else size)
        chunk, self.data = bytes(self.data[:size]), self.data[size:]
        return chunk


def ours(data: bytes, piece: int = 700):
    reader = TarReader(Pieces(data, piece))
    found = []
    for member in reader:
        content = reader.extractfile(member)
        body = b""
        if content is not None:
            while chunk := content.read(300):
                body += chunk
        found.append(({f: getattr(member, f) for f in FIELDS}, member.issparse(), body))
    return found


def theirs(data: bytes):
    found = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        for member in tar:
            body = tar.extractfile(member).read() if member.isreg() else b""
            found.append(
                ({f: getattr(member, f) for f in FIELDS}, member.issparse(), body)
            )
    return found


def members():
    """Every kind of member tar can hold, with names of every length and script."""
    made = []
    names = ["a.txt", "é/ü.txt", "x" * 100, "y" * 101, "deep/" * 50 + "z", "日本/語"]
    for number, name in enumerate(names):
        info = tarfile.TarInfo(f"media/{name}")
        info.size = number * 300
        info.mtime = 1_700_000_000 + number + (0.5 if number % 2 else 0)
        info.mode = 0o644
        info.uid, info.gid, info.uname, info.gname = (
            1000 + number,
            100,
            "someone",
            "staff",
        )
        made.append(
            (info, bytes(range(256)) * number + b"x" * (number * 300 - 256 * number))
        )
    for kind, extra in (
        (tarfile.DIRTYPE, {}),
        (tarfile.SYMTYPE, {"linkname": "../../etc/passwd"}),
        (tarfile.LNKTYPE, {"linkname": "media/a.txt"}),
        (tarfile.CHRTYPE, {"devmajor": 1, "devminor": 3}),
        (tarfile.FIFOTYPE, {}),
        (tarfile.SYMTYPE, {"linkname": "l" * 150}),
    ):
        info = tarfile.TarInfo(f"media/special-{kind.decode()}")
        info.type = kind
        for key, value in extra.items():
            setattr(info, key, value)
        made.append((info, None))
    return made


def written(format: int, pax_headers=None) -> bytes:
    out = io.BytesIO()
    with tarfile.open(
        fileobj=out, mode="w", format=format, pax_headers=pax_headers
    ) as tar:
        for info, content in members():
            too_long = len(info.name) > 100 or len(info.linkname) > 100
            if format == tarfile.USTAR_FORMAT and (too_long or not info.name.isascii()):
                continue
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return out.getvalue()


@pytest.mark.parametrize(
    "format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT]
)
@pytest.mark.parametrize("piece", [1, 511, 700, 65536])
def test_same_members_as_tarfile(format, piece):
    data = written(format)
    expected = theirs(data)
    assert len(expected) > (5 if format == tarfile.USTAR_FORMAT else 8)
    assert ours(data, piece) == expected


def test_global_pax_headers_apply_to_every_member():
    data = written(tarfile.PAX_FORMAT, pax_headers={"uname": "global", "comment": "c"})
    found = ours(data)
    assert found == theirs(data)
    assert {fields["uname"] for fields, _, _ in found} <= {"global", "someone"}


def test_pax_size_and_sparse_records_are_what_tarfile_makes_of_them():
    info = tarfile.TarInfo("media/forged")
    info.size = 3
    info.pax_headers = {"size": "not a number", "GNU.sparse.size": "10"}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b"abc"))
    data = out.getvalue()
    ((fields, sparse, _),) = ours(data)
    assert sparse  # refused by check_member
    assert fields["size"] == 10


@pytest.mark.skipif(shutil.which("tar") is None, reason="no tar here")
@pytest.mark.parametrize("format", ["gnu", "pax", "ustar", "v7"])
def test_same_members_as_tarfile_on_gnu_tar_archives(tmp_path, format):
    root = tmp_path / "media"
    (root / "sub" / ("long" * 30)).mkdir(parents=True)
    (root / "sub" / "a.txt").write_bytes(b"a" * 1000)
    (root / "sub" / ("long" * 30) / "b.bin").write_bytes(bytes(range(256)) * 9)
    (root / "link").symlink_to("sub/a.txt")
    path = tmp_path / "a.tar"
    result = subprocess.run(
        ["tar", f"--format={format}", "-cf", str(path), "-C", str(tmp_path), "media"],
        capture_output=True,
    )
    if result.returncode != 0:  # ustar and v7 cannot hold the long name
        assert format in ("ustar", "v7")
        subprocess.run(
            [
                "tar",
                f"--format={format}",
                "-cf",
                str(path),
                "-C",
                str(tmp_path),
                "media/sub/a.txt",
                "media/link",
            ],
            check=True,
        )
    data = path.read_bytes()
    assert ours(data) == theirs(data)


def test_a_damaged_first_header_refuses_and_a_later_one_ends_the_archive():
    data = bytearray(written(tarfile.PAX_FORMAT))
    first = bytes(data)
    damaged = bytearray(first)
    damaged[0] ^= 0xFF
    with pytest.raises(tarfile.ReadError, match="bad checksum"):
        ours(bytes(damaged))
    # The first member (a header, no content), then a damaged block.
    later = first[:512] + b"\x01" * 512
    assert len(ours(later)) == 1
    assert ours(later) == theirs(later) == theirs(first[:512])


def test_truncated_content_is_an_unexpected_end():
    data = written(tarfile.PAX_FORMAT)
    cut = data[: 512 * 4 + 100]
    with pytest.raises(tarfile.ReadError, match="unexpected end of data"):
        ours(cut)


def test_empty_stream_and_zero_blocks():
    with pytest.raises(tarfile.ReadError, match="empty file"):
        ours(b"")
    assert ours(bytes(1024)) == []


def test_huge_extended_header_is_refused_before_it_is_read():
    info = tarfile.TarInfo("media/x")
    info.pax_headers = {"comment": "c" * (MAX_HEADER_DATA + 1)}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(HugeHeader):
        ours(out.getvalue())
