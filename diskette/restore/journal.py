"""The load journal: what must happen after the commit, written before it.

A load that restores storages writes ``journal.json`` into its staging directory
before its database transaction commits, and inserts the journal's token into a
one-table marker (``diskette_journal``) *inside* that transaction. The marker row
exists if and only if the data was committed, so whoever finds a journal whose
owner is dead knows for sure which way to go: roll the storage swaps forward
(committed) or drop the staging (not committed). Once the swaps are done the
journal is removed, then the marker row.

The marker table is created on first use, inside the load's transaction where
the database can roll DDL back (SQLite, PostgreSQL), before it elsewhere. It is
not a model: diskette's core has none, and ``flush`` leaves the table alone.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from django.db import DatabaseError, connections

from diskette.exceptions import StorageRestoreError
from diskette.restore.swaps import Swap

JOURNAL_NAME = "journal.json"
MARKER_TABLE = "diskette_journal"
#: Journal states: written before the commit, and known to be past it.
PREPARED, COMMITTED = "prepared", "committed"


@dataclass
class Journal:
    """One load's promise about its storages; lives in its staging directory."""

    staging: str
    using: str
    base: str
    mode: str
    archive: str
    swaps: list[Swap]
    state: str = PREPARED
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    created: float = field(default_factory=time.time)
    pid: int = field(default_factory=os.getpid)

    @property
    def path(self) -> Path:
        return Path(self.staging) / JOURNAL_NAME

    def write(self) -> None:
        """Write the journal durably: a new file, synced, renamed over the old."""
        payload = {
            "staging": self.staging,
            "using": self.using,
            "base": self.base,
            "mode": self.mode,
            "archive": self.archive,
            "swaps": [swap.to_dict() for swap in self.swaps],
            "state": self.state,
            "token": self.token,
            "created": self.created,
            "pid": self.pid,
        }
        temporary = self.path.with_name(JOURNAL_NAME + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(json.dumps(payload, indent=1).encode())
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.path)
        _sync_directory(self.path.parent)

    def mark_committed(self) -> None:
        """Record, past the commit, that the data is in (no marker needed any more)."""
        self.state = COMMITTED
        self.write()

    @classmethod
    def read(cls, path: str | os.PathLike) -> Journal:
        """Read a journal file; raise StorageRestoreError when it cannot be read."""
        try:
            data = json.loads(Path(path).read_bytes())
            return cls(
                staging=data["staging"],
                using=data["using"],
                base=data["base"],
                mode=data["mode"],
                archive=data["archive"],
                swaps=[Swap.from_dict(item) for item in data["swaps"]],
                state=data["state"],
                token=data["token"],
                created=data["created"],
                pid=data["pid"],
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise StorageRestoreError(
                f"the load journal {str(path)!r} cannot be read ({error}): the "
                "interrupted load cannot be finished automatically; compare the "
                "storages with the archive and remove the directory by hand"
            ) from None


def _sync_directory(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _execute(using: str, template: str, params: Sequence = ()) -> list[tuple]:
    """Run ``template`` with ``{table}`` as the quoted marker table (a constant)."""
    connection = connections[using]
    sql = template.format(table=connection.ops.quote_name(MARKER_TABLE))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)  # noqa: S608 - the only interpolation is a constant
        return list(cursor.fetchall()) if cursor.description else []


def _table_exists(using: str) -> bool:
    connection = connections[using]
    with connection.cursor() as cursor:
        return MARKER_TABLE in connection.introspection.table_names(cursor)


def prepare_marker(using: str) -> None:
    """Create the marker table, unless it exists; call inside the load's
    transaction where the database rolls DDL back, before it elsewhere."""
    if _table_exists(using):
        return
    _execute(
        using,
        "CREATE TABLE {table} (token varchar(64) NOT NULL PRIMARY KEY, "
        "journal varchar(4000) NOT NULL)",
    )


def insert_marker(journal: Journal) -> None:
    """Insert the journal's token; call inside the load's transaction."""
    _execute(
        journal.using,
        "INSERT INTO {table} (token, journal) VALUES (%s, %s)",
        [journal.token, str(journal.path)],
    )


def marker_committed(journal: Journal) -> bool:
    """Whether the journal's load committed (its marker row exists).

    Raise StorageRestoreError when the database cannot tell (the alias is not in
    these settings, or the server is unreachable): guessing could lose media.
    """
    if journal.using not in connections:
        raise StorageRestoreError(
            f"the interrupted load in {journal.staging!r} loaded into database "
            f"{journal.using!r}, which these settings do not define: run "
            "diskette_recover with the settings of that site"
        )
    try:
        if not _table_exists(journal.using):
            return False
        rows = _execute(
            journal.using, "SELECT 1 FROM {table} WHERE token = %s", [journal.token]
        )
        return bool(rows)
    except DatabaseError as error:
        raise StorageRestoreError(
            f"cannot tell whether the interrupted load in {journal.staging!r} "
            f"committed: database {journal.using!r} answered {error}; run "
            "diskette_recover once it is reachable"
        ) from None


def forget_marker(journal: Journal) -> None:
    """Delete the journal's marker row (autocommit); missing table or row is fine."""
    if journal.using not in connections:
        return
    try:
        if not _table_exists(journal.using):
            return
        _execute(journal.using, "DELETE FROM {table} WHERE token = %s", [journal.token])
    except DatabaseError:
        pass  # a leftover row names a journal that is gone: harmless


def marked_journals(using: str) -> Sequence[Path]:
    """Journal paths the database's marker table names (loads past their commit
    that may still need their storages finished), wherever they staged."""
    try:
        if not _table_exists(using):
            return []
        return [Path(row[0]) for row in _execute(using, "SELECT journal FROM {table}")]
    except DatabaseError:
        return []
