"""Storages → directories: staged storages swapped in after the commit, rolled forward.

A load prepares every swap before its database commit (:func:`prepare_swaps`:
target paths, the names the previous directories will be parked under, the
modes to keep) and writes them to its journal. After the commit there is no way
back: :func:`apply_swaps` only moves forward and can be run again from any point
it was stopped at (a signal, ``kill -9``, a power loss), by the same load or by
the next run reading the journal, until the storages are exactly the archive's.

In ``replace`` mode each storage's previous directory is renamed aside, the
staged one renamed in, and the previous one removed once every storage is in;
in ``merge`` mode staged files are moved in one by one with ``os.replace``
(which overwrites atomically), and nothing is removed.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from diskette.exceptions import StorageRestoreError
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


@dataclass(frozen=True)
class Swap:
    """One storage's move from staging into place, as the journal records it.

    ``aside`` is where replace mode parks the previous directory; it is chosen
    before the commit so that a run resumed from the journal uses the same name.
    """

    name: str
    target: str
    staged: str
    aside: str
    files: int = 0
    bytes: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Swap:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__})


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


def prepare_swaps(
    storages: Sequence[StagedStorage], base: str | os.PathLike, *, mode: str
) -> list[Swap]:
    """Decide every swap before the commit; change nothing but the staged copies.

    A storage directory that exists keeps its mode (the web server reads it):
    the staged directory takes that mode now, while it is still private work.
    """
    if mode not in MODES:
        raise StorageRestoreError(
            f"storages mode {mode!r} is unknown: use one of {', '.join(MODES)}"
        )
    base_path = Path(base).resolve()
    swaps = []
    for storage in storages:
        target = safe_join(base_path, storage.name, "storage name")
        if mode == "replace" and target.is_dir() and not target.is_symlink():
            storage.staged.chmod(stat.S_IMODE(target.stat().st_mode))
        files, size = _count(storage.staged)
        swaps.append(
            Swap(
                name=storage.name,
                target=str(target),
                staged=str(storage.staged),
                aside=str(_aside_name(target)),
                files=files,
                bytes=size,
            )
        )
    return swaps


def apply_swaps(
    swaps: Sequence[Swap],
    base: str | os.PathLike,
    *,
    mode: str,
    reporter: Reporter | None = None,
) -> list[StorageResult]:
    """Move every staged storage into place; safe to run again after any stop.

    Raise :class:`StorageRestoreError` when the file system refuses a move; what
    was moved stays moved, and a later run finishes the rest.
    """
    reporter = reporter or Reporter()
    base_path = Path(base).resolve()
    results = []
    for swap in swaps:
        try:
            if mode == "merge":
                _merge(base_path, swap)
            else:
                _replace(base_path, swap)
        except OSError as error:
            raise StorageRestoreError(
                f"storage {swap.name!r} could not be moved into {swap.target!r} "
                f"({_os_text(error)})"
            ) from error
        results.append(
            StorageResult(
                name=swap.name, path=swap.target, files=swap.files, bytes=swap.bytes
            )
        )
    for swap in swaps:
        aside = Path(swap.aside)
        if os.path.lexists(aside):
            try:
                _remove(aside)
            except OSError as error:
                reporter.warning(
                    f"the previous directory {str(aside)!r} could not be removed "
                    f"({error.strerror or error}): remove it by hand"
                )
    return results


def _replace(base: Path, swap: Swap) -> None:
    """Park the previous directory aside and rename the staged one in, from any
    point: a staged directory already gone means this swap is done."""
    staged, target, aside = Path(swap.staged), Path(swap.target), Path(swap.aside)
    if not os.path.lexists(staged):
        return
    _make_parents(base, swap.name)
    if os.path.lexists(target):
        if os.path.lexists(aside):
            raise FileExistsError(
                17, "both the previous directory and its parked copy exist", str(aside)
            )
        target.rename(aside)
    staged.rename(target)


def _merge(base: Path, swap: Swap) -> None:
    """Move each staged file in, replacing the file it meets; moved files leave
    staging, so a second run moves only what is left."""
    staged, target = Path(swap.staged), Path(swap.target)
    if not os.path.lexists(staged):
        return
    _make_parents(base, swap.name)
    _directory(target)
    for root, dirs, names in os.walk(staged):
        relative = Path(root).relative_to(staged).as_posix()
        relative = "" if relative == "." else relative + "/"
        for name in sorted(dirs):
            _directory(safe_join(target, relative + name, "storage file"))
        for name in sorted(names):
            destination = safe_join(target, relative + name, "storage file")
            (Path(root) / name).replace(destination)
    shutil.rmtree(staged)


def _directory(path: Path) -> None:
    if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
        raise StorageRestoreError(
            f"{str(path)!r} is a file or a link where the archive has a directory"
        )
    if not path.exists():
        path.mkdir(mode=0o777)


def _os_text(error: OSError) -> str:
    parts = [error.strerror or str(error)]
    if error.filename:
        parts.append(repr(str(error.filename)))
    return ": ".join(parts)
