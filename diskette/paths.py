"""The only path guards of diskette.

Every path that comes from a setting, an option, an archive member or a manifest
goes through here before it is joined, created, read or written. The rules:

* storages sit strictly inside their base path, are not the base path itself,
  and neither repeat nor nest in one another;
* archive names are relative, normalised POSIX paths (no ``..``, no leading
  ``/``, no backslash, no NUL, bounded length) and resolve inside their root.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path

from diskette.exceptions import ConfigurationError, UnsafeArchiveError

#: Longest archive member name accepted, in characters (PATH_MAX is 4096 bytes).
MAX_NAME_LENGTH = 1024
#: Longest single path component accepted (NAME_MAX on common file systems).
MAX_COMPONENT_LENGTH = 255
#: A control character (NUL included) anywhere in a name.
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class StoragePath:
    """A storage directory: where it is, and its name inside an archive."""

    path: Path  # absolute, resolved
    name: str  # POSIX path relative to the base path, e.g. "media" or "var/media"


def resolve_base(base: str | os.PathLike) -> Path:
    """Return the absolute, resolved form of a base path."""
    return Path(base).expanduser().resolve()


def storage_problems(storages, base: str | os.PathLike) -> list[str]:
    """List every problem of a set of storage paths against a base path.

    Each message names the storage and says how to fix it; an empty list means
    the storages are usable.
    """
    problems: list[str] = []
    base_path = resolve_base(base)
    seen: dict[Path, str] = {}
    for raw in storages:
        if not isinstance(raw, (str, os.PathLike)) or str(raw).strip() == "":
            problems.append(
                f"storage {raw!r} is not a path: give a directory path as a string"
            )
            continue
        path = (base_path / Path(raw).expanduser()).resolve()
        if path == base_path:
            problems.append(
                f"storage {str(raw)!r} is the storages base path {str(base_path)!r} "
                "itself: name a directory inside it"
            )
            continue
        if not path.is_relative_to(base_path):
            problems.append(
                f"storage {str(raw)!r} resolves to {str(path)!r}, outside the storages "
                f"base path {str(base_path)!r}: move it inside, or set "
                "DISKETTE_STORAGES_BASEPATH to a directory that contains it"
            )
            continue
        if path in seen:
            problems.append(
                f"storage {str(raw)!r} is listed twice (also as {seen[path]!r}): "
                "keep one"
            )
            continue
        for other, other_raw in seen.items():
            if path.is_relative_to(other) or other.is_relative_to(path):
                inner, outer = (
                    (raw, other_raw) if path.is_relative_to(other) else (other_raw, raw)
                )
                problems.append(
                    f"storage {str(inner)!r} is inside storage {str(outer)!r}: "
                    "keep only the outer one and exclude what it should skip"
                )
                break
        seen[path] = str(raw)
    return problems


def resolve_storages(storages, base: str | os.PathLike) -> list[StoragePath]:
    """Resolve storage paths under a base path, or raise ConfigurationError."""
    problems = storage_problems(storages, base)
    if problems:
        raise ConfigurationError("; ".join(problems))
    base_path = resolve_base(base)
    resolved = []
    for raw in storages:
        path = (base_path / Path(raw).expanduser()).resolve()
        resolved.append(
            StoragePath(path=path, name=path.relative_to(base_path).as_posix())
        )
    return resolved


def member_name_problem(name: str) -> str | None:
    """Say what is wrong with an archive member or storage name, or ``None``."""
    if not isinstance(name, str) or name in ("", "."):
        return "is empty or the whole destination"
    if "\x00" in name:
        return "contains a NUL character"
    if "\\" in name:
        return "contains a backslash"
    if len(name) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    if name.startswith("/"):
        return "is an absolute path"
    stripped = name.rstrip("/")
    parts = stripped.split("/")
    if ".." in parts:
        return "goes up a directory with '..'"
    if posixpath.normpath(stripped) != stripped or "" in parts or "." in parts:
        return "is not a normalised path"
    # No component is longer than the whole name: most names need no split.
    if len(stripped) * 4 > MAX_COMPONENT_LENGTH and any(
        len(part.encode("utf-8", "surrogateescape")) > MAX_COMPONENT_LENGTH
        for part in parts
    ):
        return f"has a path component longer than {MAX_COMPONENT_LENGTH} bytes"
    if _CONTROL.search(name):
        return "contains a control character"
    return None


def check_member_name(name: str, what: str = "archive member") -> str:
    """Return ``name`` without a trailing slash, or raise UnsafeArchiveError."""
    problem = member_name_problem(name)
    if problem:
        raise UnsafeArchiveError(
            f"{what} {name!r} {problem}: refusing the archive, nothing was extracted"
        )
    return name.rstrip("/")


def storage_name(name: str, what: str = "storage name in the manifest") -> str:
    """The one form of a storage name: checked, without a trailing slash.

    Checking, extracting, selecting and restoring all use this form, so that
    ``media/`` and ``media`` are one storage everywhere.
    """
    return check_member_name(name, what)


def safe_join(root: str | os.PathLike, name: str, what: str = "archive member") -> Path:
    """Join a checked relative name to ``root`` and prove the result stays inside."""
    clean = check_member_name(name, what)
    root_path = Path(root).resolve()
    target = root_path.joinpath(*clean.split("/"))
    # Resolve symbolic links already on disk; the target itself may not exist yet.
    resolved_parent = target.parent.resolve()
    if not (resolved_parent == root_path or resolved_parent.is_relative_to(root_path)):
        raise UnsafeArchiveError(
            f"{what} {name!r} resolves outside {str(root_path)!r}: refusing the archive"
        )
    return resolved_parent / target.name


def make_private_directories(path: str | os.PathLike) -> None:
    """Create ``path`` and its missing parents 0700; existing ones keep their mode.

    Raise NotADirectoryError when ``path`` exists and is not a directory.
    """
    path = Path(path)
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=0o700)
        except FileExistsError:
            continue
        directory.chmod(0o700)
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(path))
