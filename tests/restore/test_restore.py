"""Storage swaps: prepared before the commit, rolled forward after it, from any stop."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from diskette.exceptions import StorageRestoreError
from diskette.restore.swaps import StagedStorage, apply_swaps, prepare_swaps
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
    return base, staging


def swap(storages, base, mode="replace"):
    swaps = prepare_swaps(storages, base, mode=mode)
    return swaps, apply_swaps(swaps, base, mode=mode)


def test_replace_ends_exactly_as_staged(layout):
    base, staging = layout
    staged = staged_tree(
        staging / "media", {"same.txt": b"new", "deep/a/b.bin": b"b"}, empty=("void",)
    )
    expected = snapshot(staged)
    _swaps, results = swap([StagedStorage("media", staged)], base)
    assert snapshot(base / "media") == expected
    assert (base / "media" / "deep" / "a" / "b.bin").stat().st_mtime == MTIME
    assert [(r.name, r.files, r.bytes) for r in results] == [("media", 2, 4)]
    # The previous directory is gone once every storage is in.
    assert sorted(p.name for p in base.iterdir()) == ["media"]


def test_prepare_changes_nothing_outside_staging(layout):
    base, staging = layout
    before = snapshot(base)
    staged = staged_tree(staging / "media", {"x.txt": b"x"})
    swaps = prepare_swaps([StagedStorage("media", staged)], base, mode="replace")
    assert snapshot(base) == before
    (only,) = swaps
    assert Path(only.aside).parent == (base / "media").resolve().parent
    assert not os.path.lexists(only.aside)


def test_replace_creates_missing_storage_and_its_parents(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    staged = staged_tree(tmp_path / "staging" / "var" / "media", {"x.txt": b"x"})
    swap([StagedStorage("var/media", staged)], base)
    assert (base / "var" / "media" / "x.txt").read_bytes() == b"x"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((base / "var").stat().st_mode) == 0o777 & ~umask


def test_replace_keeps_the_mode_of_the_previous_storage_directory(tmp_path):
    base = tmp_path / "base"
    (base / "media").mkdir(parents=True, mode=0o750)
    (base / "media").chmod(0o750)
    staged = staged_tree(tmp_path / "staging" / "media", {"x.txt": b"x"})
    swap([StagedStorage("media", staged)], base)
    assert stat.S_IMODE((base / "media").stat().st_mode) == 0o750


def test_merge_adds_and_overwrites_but_removes_nothing(layout):
    base, staging = layout
    staged = staged_tree(staging / "media", {"same.txt": b"new", "added/n.txt": b"n"})
    swap([StagedStorage("media", staged)], base, mode="merge")
    media = base / "media"
    assert (media / "same.txt").read_bytes() == b"new"
    assert (media / "same.txt").stat().st_mtime == MTIME
    assert (media / "added" / "n.txt").read_bytes() == b"n"
    assert (media / "old" / "gone.txt").read_bytes() == b"old"
    assert not staged.exists()


def test_replace_rolls_forward_from_between_its_two_renames(layout):
    """Stopped after the previous directory was parked: MEDIA_ROOT is missing;
    running the swaps again puts the new one in and removes the parked one."""
    base, staging = layout
    staged = staged_tree(staging / "media", {"new.txt": b"new"})
    expected = snapshot(staged)
    swaps = prepare_swaps([StagedStorage("media", staged)], base, mode="replace")
    (base / "media").rename(swaps[0].aside)  # what the stopped run did
    apply_swaps(swaps, base, mode="replace")
    assert snapshot(base / "media") == expected
    assert sorted(p.name for p in base.iterdir()) == ["media"]


def test_replace_rolls_forward_from_between_two_storages(tmp_path):
    base = tmp_path / "base"
    for name in ("media", "static"):
        (base / name).mkdir(parents=True)
        (base / name / "old.txt").write_bytes(b"old")
    staging = tmp_path / "staging"
    first = staged_tree(staging / "media", {"m.txt": b"m"})
    second = staged_tree(staging / "static", {"s.txt": b"s"})
    expected = {"media": snapshot(first), "static": snapshot(second)}
    storages = [StagedStorage("media", first), StagedStorage("static", second)]
    swaps = prepare_swaps(storages, base, mode="replace")
    apply_swaps(swaps[:1], base, mode="replace")  # stopped after the first storage
    apply_swaps(swaps, base, mode="replace")  # the next run: all of them
    assert {name: snapshot(base / name) for name in expected} == expected
    assert sorted(p.name for p in base.iterdir()) == ["media", "static"]


def test_merge_rolls_forward_from_the_middle(layout):
    base, staging = layout
    files = {f"f{index}.txt": str(index).encode() for index in range(6)}
    staged = staged_tree(staging / "media", {**files, "same.txt": b"new"})
    swaps = prepare_swaps([StagedStorage("media", staged)], base, mode="merge")
    for name in ("f0.txt", "f1.txt", "same.txt"):  # the stopped run moved these
        (staged / name).replace(base / "media" / name)
    apply_swaps(swaps, base, mode="merge")
    media = base / "media"
    assert {name: (media / name).read_bytes() for name in files} == files
    assert (media / "same.txt").read_bytes() == b"new"
    assert (media / "old" / "gone.txt").read_bytes() == b"old"


def test_a_move_the_file_system_refuses_is_one_error_and_stays_resumable(layout):
    base, staging = layout
    staged = staged_tree(staging / "media", {"blocker": b"a file"})
    (base / "media" / "blocker").mkdir()  # a directory where the archive has a file
    swaps = prepare_swaps([StagedStorage("media", staged)], base, mode="merge")
    with pytest.raises(StorageRestoreError, match="'media'.*blocker"):
        apply_swaps(swaps, base, mode="merge")
    (base / "media" / "blocker").rmdir()  # the operator fixes the cause
    apply_swaps(swaps, base, mode="merge")
    assert (base / "media" / "blocker").read_bytes() == b"a file"


def test_a_symlinked_storage_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_bytes(b"precious")
    base = tmp_path / "base"
    base.mkdir()
    (base / "media").symlink_to(outside)
    staged = staged_tree(tmp_path / "staging" / "media", {"x.txt": b"x"})
    swap([StagedStorage("media", staged)], base)
    assert not (base / "media").is_symlink()
    assert sorted(p.name for p in outside.iterdir()) == ["precious.txt"]


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(StorageRestoreError, match="unknown"):
        prepare_swaps([], tmp_path, mode="sideways")
