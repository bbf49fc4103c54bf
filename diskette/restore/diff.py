"""What restoring a staged storage would change: the plan's view, nothing written."""

from __future__ import annotations

import filecmp
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from diskette.paths import safe_join
from diskette.restore.swaps import StagedStorage


@dataclass
class StorageDiff:
    """What restoring one staged storage would change under its target directory.

    ``replaced`` files exist in both with different content, ``unchanged`` ones
    are identical; bytes are the archive's sizes for added and replaced files and
    the target's for removed ones. ``conflicts`` are paths where a directory
    meets a file (merge mode fails on them).
    """

    name: str
    path: str
    mode: str
    added: int = 0
    added_bytes: int = 0
    replaced: int = 0
    replaced_bytes: int = 0
    unchanged: int = 0
    removed: int = 0
    removed_bytes: int = 0
    conflicts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _files(directory: Path) -> dict[str, Path]:
    """Every file (or link) under ``directory``, by relative POSIX path."""
    found: dict[str, Path] = {}
    if not directory.is_dir() or directory.is_symlink():
        return found
    for root, dirs, names in os.walk(directory):
        for name in names + [d for d in dirs if (Path(root) / d).is_symlink()]:
            path = Path(root) / name
            found[path.relative_to(directory).as_posix()] = path
    return found


def diff_storage(
    staged: StagedStorage, base: str | os.PathLike, *, mode: str = "replace"
) -> StorageDiff:
    """Compare a staged storage with its target under ``base``; change nothing.

    ``replace`` mode removes the target's files that the archive lacks; ``merge``
    mode removes nothing.
    """
    target = safe_join(Path(base), staged.name, "storage name")
    diff = StorageDiff(name=staged.name, path=str(target), mode=mode)
    existing = _files(target)
    if os.path.lexists(target) and (target.is_symlink() or not target.is_dir()):
        if mode == "merge":
            diff.conflicts.append(staged.name)
        else:
            existing = {"": target}
    for relative, source in sorted(_files(staged.staged).items()):
        size = source.lstat().st_size
        current = existing.pop(relative, None)
        destination = target / relative
        if current is None:
            if mode == "merge" and _blocked(target, relative):
                diff.conflicts.append(f"{staged.name}/{relative}")
            diff.added += 1
            diff.added_bytes += size
        elif current.lstat().st_size == size and not current.is_symlink():
            if filecmp.cmp(source, destination, shallow=False):
                diff.unchanged += 1
            else:
                diff.replaced += 1
                diff.replaced_bytes += size
        else:
            diff.replaced += 1
            diff.replaced_bytes += size
    if mode == "replace":
        for path in existing.values():
            diff.removed += 1
            diff.removed_bytes += path.lstat().st_size
    return diff


def merge_conflicts(staged: StagedStorage, base: str | os.PathLike) -> list[str]:
    """Paths where merging ``staged`` under ``base`` meets a file where the archive
    has a directory, or the other way round (merge mode cannot proceed there)."""
    target = safe_join(Path(base), staged.name, "storage name")
    if os.path.lexists(target) and (target.is_symlink() or not target.is_dir()):
        return [staged.name]
    return [
        f"{staged.name}/{relative}"
        for relative in sorted(_files(staged.staged))
        if _blocked(target, relative)
    ]


def _blocked(target: Path, relative: str) -> bool:
    """Whether merging ``relative`` into ``target`` meets a directory or a file
    where the archive has the other."""
    parts = relative.split("/")
    current = target
    for index, part in enumerate(parts):
        current = current / part
        last = index == len(parts) - 1
        if not os.path.lexists(current):
            return False
        if last:
            return current.is_dir() and not current.is_symlink()
        if current.is_symlink() or not current.is_dir():
            return True
    return False
