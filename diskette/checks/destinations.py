"""Checks of where archives are kept and how long: ``DISKETTE_ARCHIVE_STORAGE``
(E018) and ``DISKETTE_RETENTION`` (E019).

The rules live in :mod:`diskette.destinations.config` and
:mod:`diskette.destinations.retention`, which
:func:`~diskette.destinations.config.get_destination` and
:func:`~diskette.destinations.retention.configured_retention` apply too; these
checks call them, so ``manage.py check`` and a command word a wrong value the
same way.
"""

from __future__ import annotations

from diskette.conf import DisketteSettings
from diskette.destinations.config import destination_problems
from diskette.destinations.retention import (
    RETENTION_HINT,
    RETENTION_SETTING,
    retention_problem,
)
from diskette.problems import Problem

#: The retention check's id, after E018 (the destination's).
RETENTION_CHECK_ID = "E019"


def archive_storage_problems(conf: DisketteSettings) -> list[Problem]:
    """E018: the value names no destination (an unknown ``STORAGES`` alias, a
    ``BACKEND`` that cannot be imported, an object without the protocol's methods)."""
    return destination_problems(conf)


def retention_problems(conf: DisketteSettings) -> list[Problem]:
    """E019: ``DISKETTE_RETENTION`` is neither ``None`` nor a dict of valid rules
    (an unknown rule, no rule, a count below 1, a duration or size that does not
    read)."""
    problem = retention_problem(conf.retention)
    if problem is None:
        return []
    return [
        Problem(
            RETENTION_CHECK_ID,
            (RETENTION_SETTING,),
            f"{RETENTION_SETTING}: {problem}",
            RETENTION_HINT,
        )
    ]
