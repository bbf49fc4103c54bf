"""Private working directories and files, and whether their owner is alive.

Every directory or partial file diskette creates while it works (a load's staging,
a dump's work directory, an archive being written) is private (0700 directories,
0600 files) and *owned*: the process that made it holds an exclusive lock on it for
as long as it lives. The kernel drops the lock when that process dies, however it
dies (``kill -9`` included), so "the lock is free" means "the owner is gone". The
next run names what a dead owner left behind, and ``diskette_recover`` removes it,
never touching what a live process still holds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.core.files import locks
from django.db import DatabaseError, connections

from diskette.exceptions import LoadInProgressError

#: The lock file inside an owned directory.
LOCK_NAME = ".owner"
#: Prefixes of what diskette leaves in a directory while it works.
LOAD_PREFIX = ".diskette-load-"
DUMP_PREFIX = ".diskette-dump-"
PART_SUFFIX = ".part"
#: Seconds an unlocked directory is given before it counts as abandoned.
UNLOCKED_GRACE = 60


def _locked(path: str | os.PathLike, flags: int):
    """Open ``path`` (created 0600 with ``O_CREAT``) and take its exclusive lock
    without waiting: the open file while this process holds it, or ``None``
    when a live process holds it."""
    handle = os.fdopen(
        os.open(path, flags, 0o600), "r+b" if flags & os.O_RDWR else "rb"
    )
    if locks.lock(handle, locks.LOCK_EX | locks.LOCK_NB):
        return handle
    handle.close()
    return None


class Owned:
    """A private directory this process owns until :meth:`release`.

    The lock file is opened with ``O_CLOEXEC`` (Python's default), so a
    subprocess the owner starts does not keep the lock alive after the owner died.
    """

    def __init__(self, path: Path, handle) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def create(cls, prefix: str, parent: str | os.PathLike | None = None) -> Owned:
        """Make a new 0700 directory ``<parent>/<prefix>XXXXXXXX`` and lock it."""
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        try:
            handle = _locked(path / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_EXCL)
            handle.write(f"{os.getpid()}\n".encode())
            handle.flush()
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        return cls(path, handle)

    def release(self, *, remove: bool = True) -> None:
        """Remove the directory (unless ``remove=False``), then drop the lock."""
        if remove:
            shutil.rmtree(self.path, ignore_errors=True)
        if self._handle is not None:
            locks.unlock(self._handle)
            self._handle.close()
            self._handle = None

    @classmethod
    def claim(cls, path: str | os.PathLike) -> Owned | None:
        """Take over a directory whose owner is gone; ``None`` while it lives.

        Two processes finishing the same leftover cannot both claim it.
        """
        path = Path(path)
        try:
            handle = _locked(path / LOCK_NAME, os.O_RDWR | os.O_CREAT)
        except OSError:
            return None
        return None if handle is None else cls(path, handle)


def hold_file(handle) -> None:
    """Lock an open partial file (an archive being written) for this process."""
    locks.lock(handle, locks.LOCK_EX | locks.LOCK_NB)


def is_abandoned(path: str | os.PathLike) -> bool:
    """Whether ``path`` (an owned directory or a partial file) has no live owner.

    A directory without a lock file is abandoned too once it is a minute old: it
    was made by an older diskette, or its owner died before it could lock it (a
    younger one may be an owner between ``mkdtemp`` and its lock).
    """
    path = Path(path)
    target = path / LOCK_NAME if path.is_dir() and not path.is_symlink() else path
    try:
        handle = _locked(target, os.O_RDONLY)
    except FileNotFoundError:
        try:
            return path.is_dir() and time.time() - path.stat().st_mtime > UNLOCKED_GRACE
        except OSError:
            return False
    except OSError:
        return False
    if handle is None:
        return False
    with handle:
        locks.unlock(handle)
    return True


@dataclass(frozen=True)
class Leftover:
    """Something a dead diskette process left behind."""

    path: Path
    kind: str  # "load staging", "dump work directory", "partial archive"


def _kind(name: str) -> str | None:
    if name.startswith(LOAD_PREFIX):
        return "load staging"
    if name.startswith(DUMP_PREFIX):
        return "dump work directory"
    if name.startswith(".") and name.endswith(PART_SUFFIX):
        return "partial archive"
    return None


def leftovers(directories: Iterable[str | os.PathLike | None]) -> list[Leftover]:
    """What dead owners left in ``directories`` (``None`` entries are skipped).

    Only names diskette makes are looked at, and only those whose owner is gone
    are listed: a live load's staging is never one of them.
    """
    found: dict[Path, Leftover] = {}
    for directory in directories:
        if directory is None:
            continue
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            kind = _kind(entry.name)
            path = Path(entry.path)
            if kind is None or path in found or not is_abandoned(path):
                continue
            found[path] = Leftover(path=path, kind=kind)
    return sorted(found.values(), key=lambda item: str(item.path))


def describe_leftovers(found: Iterable[Leftover]) -> str | None:
    """One warning naming what dead runs left, or ``None`` when nothing is left.

    Their fixtures and partial archives hold dumped data, so loads and dumps name
    them every time; only ``diskette_recover`` removes them, once their owner is gone.
    """
    found = list(found)
    if not found:
        return None
    listed = ", ".join(f"{str(item.path)!r} ({item.kind})" for item in found[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    return (
        f"diskette runs that were killed left private files behind: {listed}{more}; "
        "remove them with 'manage.py diskette_recover' (it never touches a running "
        "load's or dump's files)"
    )


def remove_leftover(leftover: Leftover) -> bool:
    """Remove one leftover if its owner is still gone; say whether it was removed."""
    path = leftover.path
    if not os.path.lexists(path) or not is_abandoned(path):
        return False
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    return not os.path.lexists(path)


class DatabaseLock:
    """One diskette load per database at a time, on this machine and (PostgreSQL)
    on every machine: a lock file keyed on the database's identity, plus a
    session advisory lock where the server has them."""

    ADVISORY_KEY = 0x6469736B65747465  # "diskette"

    def __init__(self, using: str) -> None:
        self.using = using
        self._handle = None
        self._advisory = False

    def _path(self) -> Path:
        connection = connections[self.using]
        settings = connection.settings_dict
        identity = "|".join(
            str(settings.get(key) or "") for key in ("ENGINE", "NAME", "HOST", "PORT")
        )
        if connection.vendor == "sqlite" and connection.is_in_memory_db():
            identity += f"|{os.getpid()}"  # each process has its own
        digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"diskette-load-{digest}.lock"

    def _refuse(self, holder: str) -> None:
        raise LoadInProgressError(
            f"another diskette load ({holder}) is loading into database "
            f"{self.using!r}: wait until it ends, then load again; nothing was changed"
        )

    def __enter__(self) -> DatabaseLock:
        path = self._path()
        handle = _locked(path, os.O_RDWR | os.O_CREAT)
        if handle is None:
            holder = path.read_bytes()[:64].decode(errors="replace").strip()
            self._refuse(f"process {holder}" if holder else "a running process")
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}".encode())
        handle.flush()
        self._handle = handle
        connection = connections[self.using]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s)", [self.ADVISORY_KEY])
                self._advisory = bool(cursor.fetchone()[0])
            if not self._advisory:
                self.__exit__()
                self._refuse("on another machine or connection")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._advisory:
            self._advisory = False
            try:
                with connections[self.using].cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [self.ADVISORY_KEY])
            except DatabaseError:
                pass  # the session ends with the process and frees it anyway
        if self._handle is not None:
            locks.unlock(self._handle)
            self._handle.close()
            self._handle = None


def private_file(path: str | os.PathLike, mode: str = "wb"):
    """Open a new file 0600 from its first byte (never readable by others)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, mode)
