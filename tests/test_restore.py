"""Storage restore: staged directories swapped in, all or none."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from diskette.exceptions import StorageRestoreError
from diskette.restore import StagedStorage, restore_storages
from tests.archives import snapshot

MTIME = 1_600_000_000


def staged_tree(
    root: Path, files: dict[str, bytes], empty: tuple[str, ...] = ()
) -> Path:
    root.mkdir(parents=True, mode=0o700)
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_bytes(content)
        os.utime(path, (MTIME, MTIME))
    for relative in empty:
        (root / relative).mkdir(parents=True, mode=0o700)
    return root


@pytest.fixture
def layout(tmp_path):
    base = tmp_path / "base"
    media = base / "media"
    (media / "old").mkdir(parents=True)
    (media / "old" / "gone.txt").write_bytes(b"old")
    (media / "same.txt").write_bytes(b"previous")
    staging = tmp_path / "staging"
    staging.mkdir()
    backup = staging / "backup"
    backup.mkdir()
    return base, staging, backup


def test_replace_ends_exactly_as_staged(layout):
    base, staging, backup = layout
    staged = staged_tree(
        staging / "media", {"same.txt": b"new", "deep/a/b.bin": b"b"}, empty=("void",)
    )
    expected = snapshot(staged)
    results = restore_storages([StagedStorage("media", staged)], base, backup=backup)
    assert snapshot(base / "media") == expected
    assert (base / "media" / "void").is_dir()
    assert (base / "media" / "deep" / "a" / "b.bin").stat().st_mtime == MTIME
    assert not (base / "media" / "old").exists()
    assert [(r.name, r.files, r.bytes) for r in results] == [("media", 2, 4)]
    assert sorted(p.name for p in base.iterdir()) == ["media"]


def test_replace_creates_missing_storage_and_its_parents(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    staged = staged_tree(tmp_path / "staging" / "var" / "media", {"x.txt": b"x"})
    restore_storages([StagedStorage("var/media", staged)], base)
    assert (base / "var" / "media" / "x.txt").read_bytes() == b"x"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((base / "var").stat().st_mode) == 0o777 & ~umask


def test_replace_keeps_the_mode_of_the_previous_storage_directory(tmp_path):
    base = tmp_path / "base"
    (base / "media").mkdir(parents=True, mode=0o750)
    (base / "media").chmod(0o750)
    staged = staged_tree(tmp_path / "staging" / "media", {"x.txt": b"x"})
    restore_storages([StagedStorage("media", staged)], base)
    assert stat.S_IMODE((base / "media").stat().st_mode) == 0o750


def test_merge_adds_and_overwrites_but_removes_nothing(layout):
    base, staging, backup = layout
    staged = staged_tree(staging / "media", {"same.txt": b"new", "added/n.txt": b"n"})
    restore_storages(
        [StagedStorage("media", staged)], base, mode="merge", backup=backup
    )
    media = base / "media"
    assert (media / "same.txt").read_bytes() == b"new"
    assert (media / "same.txt").stat().st_mtime == MTIME
    assert (media / "added" / "n.txt").read_bytes() == b"n"
    assert (media / "old" / "gone.txt").read_bytes() == b"old"


def test_failed_swap_puts_every_previous_storage_back(layout, tmp_path):
    base, staging, backup = layout
    (base / "second").mkdir()
    (base / "second" / "keep.txt").write_bytes(b"keep")
    before = snapshot(base)
    first = staged_tree(staging / "media", {"new.txt": b"new"})
    missing = staging / "second-never-staged"
    with pytest.raises(StorageRestoreError, match="'second'.*back in place"):
        restore_storages(
            [StagedStorage("media", first), StagedStorage("second", missing)],
            base,
            backup=backup,
        )
    assert snapshot(base) == before


def test_failed_merge_puts_overwritten_files_back(layout):
    base, staging, backup = layout
    (base / "media" / "blocker").mkdir()
    before = snapshot(base)
    staged = staged_tree(
        staging / "media", {"aaa.txt": b"added", "same.txt": b"new", "blocker": b"file"}
    )
    with pytest.raises(StorageRestoreError, match="blocker"):
        restore_storages(
            [StagedStorage("media", staged)], base, mode="merge", backup=backup
        )
    assert snapshot(base) == before


def test_symlinked_storage_is_replaced_not_followed(tmp_path):
    """A destination that is a link to elsewhere: the link is swapped, the target
    outside the base path is untouched."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_bytes(b"precious")
    base = tmp_path / "base"
    base.mkdir()
    (base / "media").symlink_to(outside)
    staged = staged_tree(tmp_path / "staging" / "media", {"x.txt": b"x"})
    restore_storages([StagedStorage("media", staged)], base)
    assert not (base / "media").is_symlink()
    assert sorted(p.name for p in (base / "media").iterdir()) == ["x.txt"]
    assert sorted(p.name for p in outside.iterdir()) == ["precious.txt"]


def test_merge_refuses_a_link_inside_the_storage(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    base = tmp_path / "base"
    (base / "media").mkdir(parents=True)
    (base / "media" / "sub").symlink_to(outside)
    staged = staged_tree(tmp_path / "staging" / "media", {"sub/x.txt": b"x"})
    backup = tmp_path / "backup"
    backup.mkdir()
    with pytest.raises(StorageRestoreError):
        restore_storages(
            [StagedStorage("media", staged)], base, mode="merge", backup=backup
        )
    assert list(outside.iterdir()) == []


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(StorageRestoreError, match="unknown"):
        restore_storages([], tmp_path, mode="sideways")
