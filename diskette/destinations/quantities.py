"""The values of retention rules as people write them: ``30d``, ``2GiB``.

:func:`parse_duration` and :func:`parse_size` read what an option or the
``DISKETTE_RETENTION`` setting gives; :func:`show_value` writes a rule's value
back in that form, for the reasons a prune gives and for messages.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

_DURATION = re.compile(r"\s*(\d+)\s*([a-zA-Z]+)\s*")
_DURATION_UNITS = {
    "s": "seconds",
    "m": "minutes",
    "h": "hours",
    "d": "days",
    "w": "weeks",
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_duration(text: str) -> datetime.timedelta:
    """``30d``, ``12h``, ``2w``, ``90m``, ``45s`` as a timedelta; ValueError if not.

    Months and years have no fixed length: the calendar rules (``monthly``,
    ``yearly``) are for them.
    """
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    unit = match.group(2) if match else ""
    if match is None or unit not in _DURATION_UNITS:
        hint = ""
        if unit.lower() in ("mo", "month", "months", "y", "year", "years"):
            hint = " (months and years have no fixed length: use monthly or yearly)"
        raise ValueError(
            f"{text!r} is not a duration{hint}: give a whole number and one unit, "
            "s (seconds), m (minutes), h (hours), d (days) or w (weeks), such as "
            "30d or 12h"
        )
    value = int(match.group(1))
    if value == 0:
        raise ValueError(f"{text!r} is no duration: give more than zero, such as 30d")
    return datetime.timedelta(**{_DURATION_UNITS[unit]: value})


def parse_size(text: str) -> int:
    """``500MB``, ``2GiB``, ``1.5GB``, ``1024`` as bytes; ValueError if not.

    kB, MB, GB and TB are powers of 1000, KiB, MiB, GiB and TiB of 1024; units
    are read in any case. A bare ``G`` or ``M`` is refused: it says neither.
    """
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(
            f"{text!r} is not a size: give a number and a unit, B, kB, MB, GB, TB "
            "(powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), such as "
            "500MB or 2GiB"
        )
    size = round(float(match.group(1)) * _SIZE_UNITS[unit])
    if size < 1:
        raise ValueError(f"{text!r} is no size: give at least one byte, such as 500MB")
    return size


def show_value(value: Any) -> str:
    """A rule's value as an option gives it: ``30d`` rather than ``30 days, 0:00:00``
    (in the largest of d, h, m, s that divides it)."""
    if isinstance(value, datetime.timedelta):
        seconds = int(value.total_seconds())
        for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
            if seconds % length == 0:
                return f"{seconds // length}{unit}"
        return f"{seconds}s"
    return str(value)
