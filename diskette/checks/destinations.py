"""Check of where archives are kept: ``DISKETTE_ARCHIVE_STORAGE`` (E018).

The rule lives in :mod:`diskette.destinations.config`, which
:func:`~diskette.destinations.config.get_destination` applies too; this check
calls it, so ``manage.py check`` and a command word a wrong value the same way.
"""

from __future__ import annotations

from diskette.conf import DisketteSettings
from diskette.destinations.config import destination_problems
from diskette.problems import Problem


def archive_storage_problems(conf: DisketteSettings) -> list[Problem]:
    """E018: the value names no destination (an unknown ``STORAGES`` alias, a
    ``BACKEND`` that cannot be imported, an object without the protocol's methods)."""
    return destination_problems(conf)
