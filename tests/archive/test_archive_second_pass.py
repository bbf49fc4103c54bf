"""The second pass refuses an archive rewritten since the first one read it.

An inspection verifies members in a second pass (``check_members``), and
staging reads an archive a second time when what it chose from the manifest
was skipped before the manifest came: both compare each header, the manifest's
bytes and the number of members with what the first pass accepted.
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
def test_an_archive_rewritten_after_inspect_is_refused_by_check_members(
    tmp_path, change
):
    data = {"sites.json": sites((3, "a.org"))}
    archive = make_archive(tmp_path / "a.tar.gz", data=data, storages={"media": FILES})
    options = {"data": data, "storages": {"media": FILES}, **REWRITES[change]}
    other = make_archive(tmp_path / "other.tar.gz", **options)
    assert other.read_bytes() != archive.read_bytes()
    with ArchiveReader(archive, **LIMITS) as reader:
        reader.inspect()
        _rewrite_in_place(archive, other)
        with pytest.raises(ArchiveError, match="changed while it was read: refused"):
            reader.check_members()


@pytest.mark.parametrize("change", sorted(REWRITES))
def test_an_archive_rewritten_before_staging_reads_it_again_is_refused(
    tmp_path, change
):
    """Staging reads an archive again when ``choose`` wants a member read before
    the manifest that ``provisional`` skipped; ``choose`` runs between the two."""
    data = {"sites.json": sites((3, "a.org"))}
    common = {"data": data, "manifest_first": False}
    archive = make_archive(tmp_path / "a.tar.gz", storages={"media": FILES}, **common)
    options = {"storages": {"media": FILES}, **common, **REWRITES[change]}
    other = make_archive(tmp_path / "other.tar.gz", **options)
    assert other.read_bytes() != archive.read_bytes()
    staging = tmp_path / "staging"
    staging.mkdir()
    size = archive.stat().st_size

    def choose(manifest):
        _rewrite_in_place(archive, other)
        return None  # everything, media included

    with ArchiveReader(archive, **LIMITS) as reader:
        with pytest.raises(ArchiveError, match="changed while it was read: refused"):
            reader.stage(staging, choose, provisional=lambda name: "media" not in name)
        assert reader.bytes_read > size  # read more than once
    assert not (staging / "media" / "c.txt").exists()


@pytest.mark.parametrize("manifest_first", [True, False])
def test_an_unchanged_archive_stages_and_checks(tmp_path, manifest_first):
    archive = make_archive(
        tmp_path / "a.tar.gz",
        storages={"media": FILES},
        manifest_first=manifest_first,
    )
    staging = tmp_path / "staging"
    staging.mkdir()
    with ArchiveReader(archive, **LIMITS) as reader:
        reader.stage(staging)
        assert (staging / "media" / "b.txt").read_bytes() == b"second"
        checks = reader.check_members()
    assert {c.name: c.ok for c in checks} == {"media/a.txt": True, "media/b.txt": True}
