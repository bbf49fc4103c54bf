"""Finish what interrupted runs left: journaled loads rolled forward, leftovers named.

A load killed after its commit left a journal in its staging directory; the next
``diskette_load``, or ``diskette_recover``, finishes its storage swaps (or drops
the staging when the commit never happened). A run killed earlier left only
private work (staging, a dump's work directory, a partial archive): it is named
by the next run and removed by ``diskette_recover``. Nothing a live process
holds is ever touched: ownership comes from :mod:`diskette.owner`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from diskette.conf import get_settings
from diskette.exceptions import DisketteError
from diskette.owner import (
    LOAD_PREFIX,
    Leftover,
    Owned,
    is_abandoned,
    leftovers,
    remove_leftover,
)
from diskette.reporter import Reporter
from diskette.restore.journal import (
    COMMITTED,
    JOURNAL_NAME,
    Journal,
    forget_marker,
    marked_journals,
    marker_committed,
)
from diskette.restore.swaps import apply_swaps


@dataclass
class RecoveryResult:
    """What a recovery did: loads finished or dropped (their staging directories),
    leftovers removed, and those left in place."""

    finished: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    left: list[Leftover] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**asdict(self), "left": [str(item.path) for item in self.left]}


def search_directories(*extra: str | Path | None) -> list[Path]:
    """Where diskette puts its work: the load base path, the dump destination, the
    system temporary directory, and ``extra`` (an option's directories)."""
    conf = get_settings()
    found = []
    for directory in (
        conf.load_storages_base,
        conf.dump_directory,
        Path(tempfile.gettempdir()),
        *extra,
    ):
        if directory is None:
            continue
        path = Path(directory).expanduser().absolute()
        if path not in found:
            found.append(path)
    return found


def pending_journals(
    directories: Iterable[Path], using: str | None = None
) -> list[Path]:
    """Journals of loads whose owner is gone, in ``directories`` and wherever the
    marker table of database ``using`` (when given) says one staged."""
    candidates: list[Path] = []
    for leftover in leftovers(directories):
        if leftover.kind == "load staging":
            candidates.append(leftover.path / JOURNAL_NAME)
    if using is not None:
        for journal in marked_journals(using):
            staging = journal.parent
            if staging.name.startswith(LOAD_PREFIX) and is_abandoned(staging):
                candidates.append(journal)
    return [path for path in dict.fromkeys(candidates) if path.is_file()]


def finish_journal(path: Path, reporter: Reporter) -> str:
    """Roll one interrupted load forward or drop it: "finished", "dropped", or
    "busy" for one another process claimed first (two runs never finish the same
    load)."""
    claimed = Owned.claim(path.parent)
    if claimed is None:
        return "busy"
    try:
        journal = Journal.read(path)
        if journal.state == COMMITTED or marker_committed(journal):
            apply_swaps(
                journal.swaps, journal.base, mode=journal.mode, reporter=reporter
            )
            outcome = "finished"
            reporter.info(
                f"finished the load of {journal.archive} interrupted after its "
                f"commit: {', '.join(s.name for s in journal.swaps)} swapped in"
            )
        else:
            outcome = "dropped"
            reporter.info(
                f"the load of {journal.archive} was interrupted before its commit: "
                "the database was not changed; its staging was removed"
            )
        path.unlink()
        forget_marker(journal)
    except BaseException:
        claimed.release(remove=False)
        raise
    claimed.release(remove=True)
    return outcome


def recover(
    directories: Iterable[Path],
    *,
    using: str | None = None,
    remove: bool = True,
    reporter: Reporter | None = None,
) -> RecoveryResult:
    """Finish every interrupted load found, then remove (or only list, with
    ``remove=False``) what dead runs left behind."""
    reporter = reporter or Reporter()
    directories = list(directories)
    result = RecoveryResult()
    for path in pending_journals(directories, using):
        outcome = finish_journal(path, reporter)
        if outcome == "finished":
            result.finished.append(str(path.parent))
        elif outcome == "dropped":
            result.dropped.append(str(path.parent))
    for leftover in leftovers(directories):
        if (leftover.path / JOURNAL_NAME).is_file():
            continue  # a journal that could not be finished above: keep it
        if remove and remove_leftover(leftover):
            result.removed.append(str(leftover.path))
            reporter.info(f"removed {leftover.kind} {str(leftover.path)!r}")
        else:
            result.left.append(leftover)
    return result


def pending_warning(directories: Iterable[Path]) -> str | None:
    """The warning every command gives while a journaled load awaits its finish.

    A journal still marked "prepared" may belong to a load whose commit never
    happened: only the database's marker can tell, and this warning reads no
    database, so it claims no commit for those.
    """
    pending = pending_journals(directories)
    if not pending:
        return None
    committed = [path for path in pending if _state(path) == COMMITTED]
    where = ", ".join(repr(str(path.parent)) for path in pending)
    if committed:
        what = (
            "a load was interrupted after its commit and its storages are not all "
            "in place yet"
        )
    else:
        what = (
            "a load was interrupted at its commit and is not finished (its storages "
            "are swapped in if the commit happened, its staging dropped if not)"
        )
    return (
        f"{what} ({where}): run 'manage.py diskette_recover' to finish it (the next "
        "diskette_load does too)"
    )


def _state(path: Path) -> str | None:
    try:
        return Journal.read(path).state
    except DisketteError:
        return None
