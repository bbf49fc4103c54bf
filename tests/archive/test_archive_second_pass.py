"""The second pass refuses an archive rewritten after inspect(), for extract and check.

Both read through the same verifying pass: each header, the manifest's bytes and
the number of members must be what the first pass accepted.
"""

from __future__ import annotations

import pytest

from diskette.archive import ArchiveReader
from diskette.exceptions import ArchiveError
from tests.archives import Entry, make_archive, sites

LIMITS = {"max_size": 10 * 1024 * 1024, "max_members": 1000, "minimal_size": 10}
FILES = {"a.txt": b"first", "b.txt": b"second"}


def _later_creation(payload):
    """The same manifest, one second later: same size, other bytes."""
    payload["creation"] = payload["creation"].replace(":25", ":26")


REWRITES = {
    "a member more": {"extra": [Entry("media/c.txt", data=b"third")]},
    "a member fewer": {"storages": {"media": {"a.txt": b"first"}}},
    "the manifest": {"tamper": _later_creation},
}


def _rewrite_in_place(path, replacement) -> None:
    """Overwrite the file the reader holds open, keeping its inode."""
    content = replacement.read_bytes()
    with open(path, "r+b") as stream:
        stream.write(content)
        stream.truncate()


@pytest.mark.parametrize("change", sorted(REWRITES))
@pytest.mark.parametrize("second_pass", ["extract", "check_members"])
def test_an_archive_rewritten_after_inspect_is_refused(tmp_path, change, second_pass):
    data = {"sites.json": sites((3, "a.org"))}
    archive = make_archive(tmp_path / "a.tar.gz", data=data, storages={"media": FILES})
    options = {"data": data, "storages": {"media": FILES}, **REWRITES[change]}
    other = make_archive(tmp_path / "other.tar.gz", **options)
    assert other.read_bytes() != archive.read_bytes()
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader:
        reader.inspect()
        _rewrite_in_place(archive, other)
        with pytest.raises(ArchiveError, match="changed while it was read: refused"):
            if second_pass == "extract":
                reader.extract(staging)
            else:
                reader.check_members()


@pytest.mark.parametrize("second_pass", ["extract", "check_members"])
def test_an_unchanged_archive_passes_both_second_passes(tmp_path, second_pass):
    archive = make_archive(tmp_path / "a.tar.gz", storages={"media": FILES})
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader:
        reader.inspect()
        if second_pass == "extract":
            reader.extract(staging)
            assert (staging / "media" / "b.txt").read_bytes() == b"second"
        else:
            checks = reader.check_members()
            assert {c.name: c.ok for c in checks} == {
                "media/a.txt": True,
                "media/b.txt": True,
            }
