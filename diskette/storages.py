"""Storage directories: walk them, apply the exclude patterns, report what is found.

Exclude patterns match the POSIX path of a file or directory relative to the
storage root, case-sensitively, in the spirit of ``.gitignore``:

* a pattern is split on ``/`` and matched segment by segment with
  :func:`fnmatch.fnmatchcase`: ``*`` and ``?`` never cross a ``/``, ``[abc]``
  is a character class;
* a ``**`` segment matches zero or more whole segments;
* a pattern without ``/`` matches a name at any depth (``*.tmp`` is
  ``**/*.tmp``); a pattern with a ``/`` is anchored at the storage root (a
  leading ``/`` is allowed and ignored);
* a pattern ending with ``/`` matches directories only;
* a pattern that matches a directory excludes everything inside it.

Examples, in a storage holding ``cache/a/b.png``, ``docs/x.tmp`` and
``docs/.DS_Store``: ``cache`` or ``cache/`` or ``cache/*`` exclude
``cache/a/b.png``; ``*.tmp`` excludes ``docs/x.tmp``; ``docs/*.tmp`` too, but
``/*.tmp`` does not (anchored, one level); ``**/.DS_Store`` and ``.DS_Store``
exclude ``docs/.DS_Store``.

Symbolic links are never followed: each one is skipped and named in a warning.
Sockets, FIFOs and devices are skipped the same way. A directory left with
nothing to archive (empty on disk, or everything in it excluded) is kept as an
empty directory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from diskette.exceptions import ConfigurationError, DumpError
from diskette.paths import StoragePath, member_name_problem, resolve_storages
from diskette.reporter import Reporter


@dataclass(frozen=True)
class StorageItem:
    """A file or an empty directory to put in the archive."""

    path: Path  # on disk
    arcname: str  # "<storage name>/<relative path>"
    relative: str  # path relative to the storage root ("" for the root itself)
    is_dir: bool
    size: int
    mtime: float
    mode: int  # permission bits only


@dataclass
class StorageStats:
    """What a walk found in one storage; filled while the walk runs."""

    name: str
    files: int = 0
    bytes: int = 0
    empty_directories: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # links and special files
    excluded: int = 0

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "files": self.files,
            "bytes": self.bytes,
            "empty_directories": list(self.empty_directories),
            "skipped_links": list(self.skipped),
            "excluded": self.excluded,
        }


def exclude_pattern_problem(pattern: object) -> str | None:
    """Say what makes an exclude pattern unusable, or ``None``.

    A leading ``/`` is fine: it anchors the pattern at the storage root.
    """
    if not isinstance(pattern, str):
        kind = type(pattern).__name__
        return f"is {'an' if kind[0] in 'aeiou' else 'a'} {kind}, not a string"
    if pattern.strip().strip("/") == "":
        return "is empty"
    if ".." in pattern.replace("\\", "/").split("/"):
        return "goes up with '..', out of the storage"
    return None


class ExcludePatterns:
    """Compiled exclude patterns; see the module docstring for their meaning."""

    def __init__(self, patterns: Iterable[str] = ()):
        self.patterns: list[tuple[list[str], bool]] = []
        for raw in patterns:
            problem = exclude_pattern_problem(raw)
            if problem:
                raise ConfigurationError(
                    f"storages exclude pattern {raw!r} {problem}: give a glob "
                    "relative to the storage, such as 'cache/*' or '*.tmp'"
                )
            dir_only = raw.endswith("/")
            text = raw.strip("/")
            segments = [s for s in text.split("/") if s != ""]
            if "/" not in raw.rstrip("/"):
                segments = ["**", *segments]
            self.patterns.append((segments, dir_only))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excludes(self, relative: str, is_dir: bool) -> bool:
        """True if ``relative`` (POSIX, relative to the storage root) is excluded."""
        parts = relative.split("/")
        # A matched parent directory excludes everything inside it.
        return any(
            self._matches(parts[:depth], True) for depth in range(1, len(parts))
        ) or self._matches(parts, is_dir)

    def excludes_entry(self, relative: str, is_dir: bool) -> bool:
        """Whether a pattern matches ``relative`` itself, not one of its parents.

        What a walk asks: it has checked each parent directory before entering
        it, and never enters an excluded one.
        """
        return bool(self.patterns) and self._matches(relative.split("/"), is_dir)

    def _matches(self, parts: list[str], is_dir: bool) -> bool:
        return any(
            (is_dir or not dir_only) and _match(segments, parts)
            for segments, dir_only in self.patterns
        )


def _match(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    head = pattern[0]
    if head == "**":
        rest = pattern[1:]
        if "**" not in rest:
            # The rest matches whole segments: only the last len(rest) can.
            start = len(parts) - len(rest)
            return start >= 0 and _match(rest, parts[start:])
        return any(_match(rest, parts[i:]) for i in range(len(parts) + 1))
    return (
        bool(parts) and fnmatchcase(parts[0], head) and _match(pattern[1:], parts[1:])
    )


def check_storages(storages, base) -> list[StoragePath]:
    """Resolve storages and refuse any that is missing or not a directory."""
    resolved = resolve_storages(storages, base)
    for storage in resolved:
        if not storage.path.is_dir():
            what = (
                "does not exist" if not storage.path.exists() else "is not a directory"
            )
            raise ConfigurationError(
                f"storage {storage.name!r} ({str(storage.path)!r}) {what}: create it "
                "or remove it from DISKETTE_STORAGES / storages=[...]"
            )
    return resolved


def walk_storage(
    storage: StoragePath,
    excludes: ExcludePatterns,
    stats: StorageStats,
    reporter: Reporter | None = None,
) -> Iterator[StorageItem]:
    """Yield the files and empty directories of a storage, filling ``stats``.

    Streams: memory does not grow with the number of files beyond one
    directory listing at a time.
    """
    reporter = reporter or Reporter()
    root_item = None
    found_any = False
    for item in _walk(storage, storage.path, "", excludes, stats, reporter):
        found_any = True
        yield item
    if not found_any:
        # An empty storage still travels as its directory.
        st = _lstat(storage.path)
        root_item = StorageItem(
            path=storage.path,
            arcname=storage.name,
            relative="",
            is_dir=True,
            size=0,
            mtime=st.st_mtime,
            mode=stat.S_IMODE(st.st_mode) & 0o777,
        )
        yield root_item


def _lstat(path: Path) -> os.stat_result:
    try:
        return path.lstat()
    except FileNotFoundError:
        raise DumpError(
            f"{str(path)!r} vanished while the storage was read: run the dump again "
            "when nothing is deleting files"
        ) from None
    except PermissionError:
        raise DumpError(f"no permission to read {str(path)!r}") from None


def _archive_name(storage: StoragePath, relative: str) -> str:
    arcname = f"{storage.name}/{relative}"
    problem = member_name_problem(arcname)
    if problem is None:
        try:
            arcname.encode("utf-8")
        except UnicodeEncodeError:
            problem = "is not valid UTF-8"
    if problem:
        raise DumpError(
            f"file {arcname!r} {problem} and cannot be archived safely: rename it "
            "or exclude it with DISKETTE_STORAGES_EXCLUDES / storages_excludes"
        )
    return arcname


def _walk(storage, directory, prefix, excludes, stats, reporter):
    try:
        with os.scandir(directory) as listing:
            names = sorted(entry.name for entry in listing)
    except FileNotFoundError:
        raise DumpError(
            f"directory {str(directory)!r} vanished while the storage was read: run "
            "the dump again when nothing is deleting files"
        ) from None
    except PermissionError:
        raise DumpError(f"no permission to list {str(directory)!r}") from None
    for name in names:
        path = Path(directory) / name
        relative = f"{prefix}{name}"
        st = _lstat(path)
        if stat.S_ISLNK(st.st_mode) or not (
            stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)
        ):
            if excludes.excludes_entry(relative, False):
                stats.excluded += 1
                continue
            kind = "symbolic link" if stat.S_ISLNK(st.st_mode) else "special file"
            stats.skipped.append(f"{storage.name}/{relative}")
            reporter.warning(
                f"skipped {kind} {storage.name}/{relative}: diskette archives regular "
                "files and directories only, never what a link points to"
            )
            continue
        is_dir = stat.S_ISDIR(st.st_mode)
        if excludes.excludes_entry(relative, is_dir):
            stats.excluded += 1
            continue
        if is_dir:
            inside = False
            for item in _walk(storage, path, relative + "/", excludes, stats, reporter):
                inside = True
                yield item
            if not inside:
                stats.empty_directories.append(relative)
                yield StorageItem(
                    path=path,
                    arcname=_archive_name(storage, relative),
                    relative=relative,
                    is_dir=True,
                    size=0,
                    mtime=st.st_mtime,
                    mode=stat.S_IMODE(st.st_mode) & 0o777,
                )
            continue
        stats.files += 1
        stats.bytes += st.st_size
        yield StorageItem(
            path=path,
            arcname=_archive_name(storage, relative),
            relative=relative,
            is_dir=False,
            size=st.st_size,
            mtime=st.st_mtime,
            mode=stat.S_IMODE(st.st_mode) & 0o777,
        )


def survey_storage(
    storage: StoragePath, excludes: ExcludePatterns, reporter: Reporter | None = None
) -> StorageStats:
    """Count the files and bytes a dump would take from a storage (reads no content)."""
    stats = StorageStats(name=storage.name)
    for _item in walk_storage(storage, excludes, stats, reporter):
        pass
    return stats
