"""Storages → directories: staged storages swapped in, all or none.

Runs after the database commit. In ``replace`` mode each staged storage directory
is renamed into place and the previous directory is kept aside until every swap
succeeded; in ``merge`` mode files are moved in one by one and every file they
overwrite is kept aside until the end. On any failure the previous state is put
back and :class:`StorageRestoreError` is raised.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import secrets
import shutil
import stat
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from diskette.exceptions import DisketteError, StorageRestoreError
from diskette.paths import check_member_name, safe_join
from diskette.reporter import Reporter

MODES = ("replace", "merge")


@dataclass(frozen=True)
class StagedStorage:
    """A storage extracted in staging: its manifest name and staged directory."""

    name: str
    staged: Path


@dataclass
class StorageResult:
    """What a storage restore wrote."""

    name: str
    path: str
    files: int = 0
    bytes: int = 0


def _count(directory: Path) -> tuple[int, int]:
    files = size = 0
    for root, _dirs, names in os.walk(directory):
        for name in names:
            files += 1
            size += (Path(root) / name).lstat().st_size
    return files, size


def _aside_name(path: Path) -> Path:
    """A free name beside ``path`` to park the previous directory under."""
    while True:
        candidate = path.with_name(f".{path.name}.diskette-old-{secrets.token_hex(4)}")
        if not os.path.lexists(candidate):
            return candidate


def _make_parents(base: Path, name: str) -> None:
    """Create the parents of storage ``name`` under ``base`` (umask modes), each checked."""
    parts = check_member_name(name, "storage name").split("/")[:-1]
    for index in range(1, len(parts) + 1):
        path = safe_join(base, "/".join(parts[:index]), "storage name")
        if not path.is_dir():
            path.mkdir(mode=0o777)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


class _Replace:
    """Swap whole directories; undo in reverse order."""

    def __init__(self) -> None:
        self.done: list[tuple[Path, Path | None, Path]] = []

    def apply(self, base: Path, storage: StagedStorage) -> Path:
        _make_parents(base, storage.name)
        target = safe_join(base, storage.name, "storage name")
        aside = None
        if os.path.lexists(target):
            # The storage directory keeps the mode it had (the web server reads it).
            if target.is_dir() and not target.is_symlink():
                storage.staged.chmod(stat.S_IMODE(target.stat().st_mode))
            aside = _aside_name(target)
            target.rename(aside)
        try:
            storage.staged.rename(target)
        except OSError:
            if aside is not None:
                aside.rename(target)
            raise
        self.done.append((target, aside, storage.staged))
        return target

    def undo(self) -> None:
        for target, aside, staged in reversed(self.done):
            target.rename(staged)
            if aside is not None:
                aside.rename(target)

    def commit(self, reporter: Reporter) -> None:
        for _target, aside, _staged in self.done:
            if aside is not None:
                try:
                    _remove(aside)
                except OSError as error:
                    reporter.warning(
                        f"the previous directory {str(aside)!r} could not be removed "
                        f"({error.strerror or error}): remove it by hand"
                    )


class _Merge:
    """Move files in one by one, parking what they overwrite; undo in reverse."""

    def __init__(self, backup: Path) -> None:
        self.backup = backup
        self.moved: list[tuple[Path, Path | None]] = []
        self.created: list[Path] = []

    def _directory(self, root: Path, relative: str) -> None:
        parts = relative.split("/") if relative else []
        for index in range(0, len(parts) + 1):
            path = safe_join(root, "/".join(parts[:index])) if index else root
            if path.is_symlink() or (path.exists() and not path.is_dir()):
                raise StorageRestoreError(
                    f"{str(path)!r} is a file or a link where the archive has a "
                    "directory: move it away or use --storages-mode replace"
                )
            if not path.exists():
                path.mkdir(mode=0o777)
                self.created.append(path)

    def apply(self, base: Path, storage: StagedStorage) -> Path:
        _make_parents(base, storage.name)
        target = safe_join(base, storage.name, "storage name")
        self._directory(target, "")
        for root, dirs, names in os.walk(storage.staged):
            relative_root = Path(root).relative_to(storage.staged).as_posix()
            relative_root = "" if relative_root == "." else relative_root
            for name in sorted(dirs):
                self._directory(target, f"{relative_root}/{name}".lstrip("/"))
            for name in sorted(names):
                relative = f"{relative_root}/{name}".lstrip("/")
                destination = safe_join(target, relative, "storage file")
                parked = None
                if os.path.lexists(destination):
                    if destination.is_dir() and not destination.is_symlink():
                        raise StorageRestoreError(
                            f"{str(destination)!r} is a directory where the archive "
                            "has a file: move it away or use --storages-mode replace"
                        )
                    parked = self.backup / secrets.token_hex(8)
                    destination.rename(parked)
                try:
                    (Path(root) / name).rename(destination)
                except OSError:
                    if parked is not None:
                        parked.rename(destination)
                    raise
                self.moved.append((destination, parked))
        return target

    def undo(self) -> None:
        for destination, parked in reversed(self.moved):
            destination.unlink()
            if parked is not None:
                parked.rename(destination)
        for path in reversed(self.created):
            with contextlib.suppress(OSError):
                path.rmdir()

    def commit(self, reporter: Reporter) -> None:
        """Parked files live in the staging directory, which the caller removes."""


def restore_storages(
    storages: Sequence[StagedStorage],
    base: str | os.PathLike,
    *,
    mode: str = "replace",
    backup: str | os.PathLike | None = None,
    reporter: Reporter | None = None,
) -> list[StorageResult]:
    """Put every staged storage in place under ``base``, all or none.

    ``backup`` is a directory on the same file system (in staging) where merge
    mode parks overwritten files.
    """
    reporter = reporter or Reporter()
    if mode not in MODES:
        raise StorageRestoreError(
            f"storages mode {mode!r} is unknown: use one of {', '.join(MODES)}"
        )
    base_path = Path(base).resolve()
    if mode == "merge":
        if backup is None:
            raise StorageRestoreError("merge mode needs a backup directory in staging")
        swapper: _Replace | _Merge = _Merge(Path(backup))
    else:
        swapper = _Replace()
    results: list[StorageResult] = []
    current = None
    try:
        for storage in storages:
            current = storage.name
            files, size = _count(storage.staged)
            target = swapper.apply(base_path, storage)
            results.append(
                StorageResult(
                    name=storage.name, path=str(target), files=files, bytes=size
                )
            )
    except BaseException as error:
        try:
            swapper.undo()
        except OSError as undo_error:
            raise StorageRestoreError(
                f"storage {current!r} could not be restored ({error}) and putting the "
                f"previous directories back failed too ({undo_error}): look for "
                f"'.diskette-old-*' directories under {str(base_path)!r}"
            ) from error
        if not isinstance(error, (OSError, DisketteError)):
            raise  # interrupted: the previous directories are back in place
        detail = _os_text(error) if isinstance(error, OSError) else error
        raise StorageRestoreError(
            f"storage {current!r} could not be restored under {str(base_path)!r} "
            f"({detail}); the previous storage directories are back in place (the "
            "database load was already committed)"
        ) from error
    swapper.commit(reporter)
    return results


def _os_text(error: OSError) -> str:
    parts = [error.strerror or str(error)]
    if error.filename:
        parts.append(repr(str(error.filename)))
    return ": ".join(parts)


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
