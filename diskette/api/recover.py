"""Finish interrupted loads and remove what killed runs left: ``diskette_recover``."""

from __future__ import annotations

import os

from django.db import DEFAULT_DB_ALIAS

from diskette.api.load_options import check_database
from diskette.reporter import Reporter
from diskette.restore.recovery import RecoveryResult, recover, search_directories


def recover_interrupted(
    *,
    directories: list[str | os.PathLike[str]] | tuple[str | os.PathLike[str], ...] = (),
    using: str = DEFAULT_DB_ALIAS,
    remove: bool = True,
    reporter: Reporter | None = None,
) -> RecoveryResult:
    """Roll every load interrupted after its commit forward to its new storages,
    drop those interrupted before it, and remove the private files of killed runs.

    Looks in the load base path, the dump destination, the system temporary
    directory and ``directories``, and wherever database ``using``'s journal
    marker says a load staged. ``remove=False`` only lists the leftovers. Files a
    running load or dump holds are never touched.
    """
    check_database(using)
    return recover(
        search_directories(*directories),
        using=using,
        remove=remove,
        reporter=reporter or Reporter(),
    )
