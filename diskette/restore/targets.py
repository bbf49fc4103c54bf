"""Which storages a load may restore: the target decides, the archive proposes.

An archive names its storages relative to the base path it was dumped from
(``media``, ``var/uploads``). The target names the storages *it* keeps the same
way: its ``DISKETTE_STORAGES``, relative to its ``DISKETTE_STORAGES_BASEPATH``,
or a list given for one run. A storage of the archive that the target does not
name is refused before anything is extracted, whatever the manifest says: a
manifest that lists ``db.sqlite3`` or the project's code directory must not get
them replaced.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from diskette.conf import get_settings
from diskette.exceptions import UnsafeArchiveError
from diskette.manifest import StorageEntry
from diskette.paths import resolve_storages, storage_name
from diskette.reporter import Reporter

#: The settings the target's storage names come from.
STORAGE_SETTINGS = ("DISKETTE_STORAGES", "DISKETTE_STORAGES_BASEPATH")


def allowed_storage_names(storages: Iterable[str] | None = None) -> list[str]:
    """The storage names this site lets a load restore.

    ``storages`` (names as an archive writes them, for one run) replaces the
    configured ``DISKETTE_STORAGES``.
    """
    if storages is not None:
        if isinstance(storages, str):
            storages = [storages]
        return [storage_name(str(name), "storage name given") for name in storages]
    conf = get_settings()
    return [item.name for item in resolve_storages(conf.storages, conf.storages_base)]


def select_storages(
    entries: Sequence[StorageEntry],
    allowed: Sequence[str],
    *,
    explicit: bool,
    reporter: Reporter,
) -> list[StorageEntry]:
    """The archive's storages, once each is known to be one the target names.

    Raise :class:`UnsafeArchiveError` naming the first storage the target does not
    name; warn about names given for the run that the archive does not hold.
    """
    wanted = set(allowed)
    for entry in entries:
        if entry.name not in wanted:
            where = (
                "the storages given for this load ({}) do"
                if explicit
                else "DISKETTE_STORAGES of this site ({}) does"
            ).format(", ".join(repr(n) for n in allowed) or "none")
            raise UnsafeArchiveError(
                f"the archive holds storage {entry.name!r}, which {where} not name: "
                f"a load restores only the storages the target names. Add it to "
                "DISKETTE_STORAGES, or name it for this load (storages=[...]), or "
                "load without storages (with_storages=False); nothing was changed"
            )
    if explicit:
        held = {entry.name for entry in entries}
        for name in allowed:
            if name not in held:
                reporter.warning(
                    f"storage {name!r} was named for this load but the archive does "
                    f"not hold it (it holds {', '.join(sorted(held)) or 'none'})"
                )
    return list(entries)
