"""What a storage swap needs, checked before the database commit.

Past the commit a failed swap can only be undone for the storages, never for the
data, so everything a swap needs that can be seen beforehand is checked here:
what the target path is (a real directory inside the load base path, no link on
the way), what it must never replace (the database, the archive, the settings),
whether a rename can reach it (one mount, no mount point in the way), whether the
process may write where the swap writes, and whether the file system has room for
the journal and the directories the swap creates. The load refuses before the
commit and the plan reports the same messages.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from diskette.exceptions import StorageRestoreError
from diskette.paths import check_member_name
from diskette.reporter import plural
from diskette.restore.mounts import MountTable
from diskette.restore.protected import protected_paths
from diskette.restore.swaps import MODES

__all__ = [
    "protected_paths",
    "new_directories",
    "first_problem",
    "raise_for_swap",
    "storage_targets",
    "swap_problems",
]

#: Room kept for the journal the load writes before the commit, in bytes.
JOURNAL_BYTES = 64 * 1024
#: Free inodes kept beyond what the swap itself creates.
INODES_MARGIN = 16
#: Free bytes kept beyond what the swap itself creates.
BYTES_MARGIN = 1024 * 1024

_KINDS = (
    (stat.S_ISREG, "a regular file"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def storage_targets(
    base: str | os.PathLike, names: Iterable[str]
) -> list[tuple[str, Path]]:
    """``(name, path)`` for each checked storage name, joined under ``base`` as written.

    The join keeps links unresolved (unlike :func:`diskette.paths.safe_join`), so
    that :func:`swap_problems` sees every link between the base path and a target.
    """
    root = Path(base).expanduser().absolute()
    targets = []
    for name in names:
        clean = check_member_name(name, "storage name")
        targets.append((clean, root.joinpath(*clean.split("/"))))
    return targets


def new_directories(staged: str | os.PathLike, target: str | os.PathLike) -> int:
    """How many directories merging ``staged`` into ``target`` creates (the target's
    own included when it is missing)."""
    staged, target = Path(staged), Path(target)
    count = 0 if os.path.lexists(target) else 1
    for root, dirs, _files in os.walk(staged):
        relative = Path(root).relative_to(staged)
        for name in dirs:
            if not os.path.lexists(target / relative / name):
                count += 1
    return count


def swap_problems(
    targets: Sequence[tuple[str, str | os.PathLike]],
    *,
    base: str | os.PathLike,
    staging: str | os.PathLike,
    mode: str,
    protected: Sequence[str | os.PathLike],
    directories_needed: int = 0,
    files_needed: int = 0,
    bytes_needed: int = 0,
) -> list[str]:
    """Every reason the swap of ``targets`` could fail or do harm, one line each.

    ``targets`` are ``(storage name, path)`` pairs as :func:`storage_targets`
    gives them; ``staging`` is the staging directory of the load, or any directory
    on the file system it will be created on (the base path, for a plan);
    ``directories_needed`` counts the directories a merge creates inside existing
    targets (:func:`new_directories`); ``files_needed`` and ``bytes_needed`` what
    the load has still to write in staging (a plan: the extraction). Empty means
    only the unforeseeable (a disk filled meanwhile, another process) can make
    the swap fail.
    """
    if mode not in MODES:
        return [f"storages mode {mode!r} is unknown: use one of {', '.join(MODES)}"]
    context = _Context(
        base=Path(base).expanduser().absolute(),
        staging=Path(os.path.realpath(staging)),
        mode=mode,
        protected=[Path(os.path.realpath(path)) for path in protected],
        mounts=MountTable.read(),
    )
    problems: list[str] = []
    created = directories_needed
    for name, target in targets:
        found, missing = context.check(name, Path(target))
        problems.extend(found)
        created += missing
    problems.extend(context.room(created + files_needed, bytes_needed))
    return problems


def raise_for_swap(
    targets: Sequence[tuple[str, str | os.PathLike]],
    *,
    base: str | os.PathLike,
    staging: str | os.PathLike,
    mode: str,
    protected: Sequence[str | os.PathLike],
    directories_needed: int = 0,
    files_needed: int = 0,
    bytes_needed: int = 0,
) -> None:
    """Raise :class:`StorageRestoreError` with the first of :func:`swap_problems`."""
    problems = swap_problems(
        targets,
        base=base,
        staging=staging,
        mode=mode,
        protected=protected,
        directories_needed=directories_needed,
        files_needed=files_needed,
        bytes_needed=bytes_needed,
    )
    if problems:
        raise StorageRestoreError(first_problem(problems))


def first_problem(problems: Sequence[str]) -> str:
    """The first of ``problems``, saying how many more there are: one line."""
    more = len(problems) - 1
    return problems[0] + (f" (and {plural(more, 'more problem')})" if more else "")


def _nearest_existing(path: Path) -> Path:
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path


def _kind(mode: int) -> str:
    for test, kind in _KINDS:
        if test(mode):
            return kind
    return "not a directory"


class _Context:
    """One run of the checks: the base, the staging's file system, the mounts."""

    def __init__(
        self,
        *,
        base: Path,
        staging: Path,
        mode: str,
        protected: list[Path],
        mounts: MountTable,
    ) -> None:
        self.base = base
        self.base_real = Path(os.path.realpath(base))
        self.staging = staging
        self.mode = mode
        self.protected = protected
        self.mounts = mounts
        self.staging_mount = mounts.mount_of(_nearest_existing(staging))

    def check(self, name: str, target: Path) -> tuple[list[str], int]:
        """Problems of one target, and how many directories its swap creates."""
        where = f"storage {name!r} ({str(target)!r})"
        lexical = Path(target).absolute()
        for root in (self.base, self.base_real):
            if lexical.is_relative_to(root):
                relative = lexical.relative_to(root)
                break
        else:
            return [self._outside(where)], 0
        if not relative.parts:
            return [
                f"{where} is the load base path itself: a restore replaces only "
                "directories inside DISKETTE_LOAD_STORAGES_PATH"
            ], 0
        current, missing = root, 0
        for index, part in enumerate(relative.parts):
            current = current / part
            try:
                info = os.lstat(current)
            except FileNotFoundError:
                missing = len(relative.parts) - index
                break
            except OSError as error:
                return [
                    f"{where} cannot be examined at {str(current)!r} "
                    f"({error.strerror}): give the process access to it"
                ], 0
            if stat.S_ISLNK(info.st_mode):
                return [self._link(where, current)], 0
            if not stat.S_ISDIR(info.st_mode):
                return [self._not_directory(where, current, info.st_mode, lexical)], 0
        real = Path(os.path.realpath(lexical))
        if not real.is_relative_to(self.base_real) or real == self.base_real:
            return [self._outside(where)], 0
        problems = self._protected(where, real)
        problems.extend(self._mounts(where, real, exists=not missing))
        if not problems:
            problems.extend(self._access(where, real, exists=not missing))
        return problems, missing

    def _outside(self, where: str) -> str:
        return (
            f"{where} is not inside the load base path {str(self.base_real)!r}: a "
            "restore never writes outside it; restore this storage with "
            "DISKETTE_LOAD_STORAGES_PATH set to a directory that holds it"
        )

    def _link(self, where: str, link: Path) -> str:
        return (
            f"{where}: {str(link)!r} is a symbolic link (to {str(link.readlink())!r}), "
            "and a restore never follows or replaces one: replace the link by the "
            "directory it points to, or set DISKETTE_LOAD_STORAGES_PATH to the real "
            "directory"
        )

    def _not_directory(self, where: str, path: Path, mode: int, target: Path) -> str:
        what = "the storage" if path == target else "a directory the storage needs"
        return (
            f"{where}: {str(path)!r} is {_kind(mode)} where {what} should be, and a "
            "restore never replaces one: move it away, or remove this storage from "
            "DISKETTE_STORAGES"
        )

    def _protected(self, where: str, real: Path) -> list[str]:
        for path in [*self.protected, self.staging]:
            if path == real or path.is_relative_to(real):
                held = "is" if path == real else "holds"
                return [
                    f"{where} {held} {str(path)!r}, which a restore never replaces "
                    "(the database, the archive being loaded, the project's "
                    "settings or the load's staging): keep media apart from it, or "
                    "remove this storage from DISKETTE_STORAGES"
                ]
        return []

    def _mounts(self, where: str, real: Path, *, exists: bool) -> list[str]:
        fix = (
            "mount the volume on a directory above the storage and set "
            "DISKETTE_LOAD_STORAGES_PATH to it, so that staging and storage share "
            "one file system"
        )
        if exists and self.mounts.is_mount_point(real):
            return [
                f"{where} is a mount point (a separate file system, such as a "
                f"volume): a restore cannot swap it by rename; {fix}"
            ]
        inner = self.mounts.mounts_inside(real) if exists else []
        if inner:
            return [
                f"{where} holds the mount point {inner[0]!r}: a restore would move "
                "or remove a file system it does not own; exclude it by mounting it "
                "outside the storage"
            ]
        # Replace renames into the parent; merge renames into the target itself.
        reached = real.parent if self.mode == "replace" else real
        anchor = Path(os.path.realpath(_nearest_existing(reached)))
        if self.mounts.mount_of(anchor) != self.staging_mount:
            return [
                f"{where} is on another file system than the staging directory "
                f"{str(self.staging)!r} (mounted at "
                f"{self.mounts.mount_of(anchor)[1]!r}): "
                f"a rename cannot cross file systems; {fix}"
            ]
        return []

    def _access(self, where: str, real: Path, *, exists: bool) -> list[str]:
        if self.mode == "replace" or not exists:
            directory = _nearest_existing(
                real.parent if self.mode == "replace" else real
            )
            if not os.access(directory, os.W_OK | os.X_OK):
                return [self._denied(where, directory)]
            if exists and self.mode == "replace" and _sticky_blocks(directory, real):
                return [
                    f"{where} cannot be renamed: {str(directory)!r} is sticky and "
                    "neither it nor the storage belongs to this user; run the load "
                    "as the storage's owner"
                ]
            return []
        for root, _dirs, _files in os.walk(real):
            if not os.access(root, os.W_OK | os.X_OK):
                return [self._denied(where, Path(root))]
        return []

    def _denied(self, where: str, directory: Path) -> str:
        return (
            f"{where} cannot be restored: this user may not write in "
            f"{str(directory)!r}; run the load as the user that owns it, or give "
            "that user write permission"
        )

    def room(self, created: int, written: int) -> list[str]:
        """Free inodes and bytes for the journal, the backup directory, ``created``
        inodes and ``written`` bytes."""
        anchor = _nearest_existing(self.staging)
        try:
            info = os.statvfs(anchor)
        except OSError as error:
            return [
                f"the free space of {str(anchor)!r} cannot be read ({error.strerror}): "
                "give the process access to it"
            ]
        root = os.geteuid() == 0 if hasattr(os, "geteuid") else False
        inodes_needed = created + 2 + INODES_MARGIN  # + journal, + backup directory
        block = info.f_frsize or info.f_bsize or 4096
        bytes_needed = (created + 2) * block + written + JOURNAL_BYTES + BYTES_MARGIN
        free_inodes = info.f_ffree if root else info.f_favail
        free_bytes = (info.f_bfree if root else info.f_bavail) * block
        problems = []
        # f_files is 0 on file systems without an inode limit (btrfs, some tmpfs).
        if info.f_files and free_inodes < inodes_needed:
            problems.append(
                f"the file system of {str(anchor)!r} has {free_inodes} free inodes and "
                f"the load needs at least {inodes_needed} there for its journal and "
                "the storage swap: free some, then load again"
            )
        if free_bytes < bytes_needed:
            problems.append(
                f"the file system of {str(anchor)!r} has {free_bytes} free bytes and "
                f"the load needs at least {bytes_needed} there for its journal and "
                "the storage swap: free some, then load again"
            )
        return problems


def _sticky_blocks(directory: Path, entry: Path) -> bool:
    """Whether a sticky ``directory`` forbids this user to rename ``entry``."""
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        return False
    info = directory.stat()
    if not info.st_mode & stat.S_ISVTX:
        return False
    user = os.geteuid()
    return user not in (info.st_uid, entry.lstat().st_uid)
