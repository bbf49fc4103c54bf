"""Checks of the numbers that bound a load and a download.

The size and count limits (E011), and the download settings: allowed URL schemes
(E012), redirects (E013), timeout and deadline (E014). No other module validates
these values: the pipelines call :func:`diskette.checks.raise_for_settings` and
then trust them.
"""

from __future__ import annotations

import re
from typing import Any

from diskette import settings as defaults
from diskette.conf import DisketteSettings
from diskette.problems import Problem, kind_of

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")


def is_int(value: Any) -> bool:
    """True for an integer that is not a boolean (``True`` is no size limit)."""
    return isinstance(value, int) and not isinstance(value, bool)


#: Integer limits: attribute -> smallest value allowed.
_LIMITS = {
    "load_minimal_filesize": 0,
    "load_max_size": 1,
    "load_max_members": 1,
    "load_max_object_size": 1,
    "download_max_size": 1,
}


def limits_problems(conf: DisketteSettings) -> list[Problem]:
    """E011 per size or count limit that is not an integer in range."""
    problems = []
    for attribute, low in _LIMITS.items():
        name = DisketteSettings.setting_name(attribute)
        value = getattr(conf, attribute)
        if is_int(value) and value >= low:
            continue
        problems.append(
            Problem(
                "E011",
                (name,),
                f"{name} is {value!r} ({kind_of(value)}), not an integer of at least {low}",
                f"Set {name} to a whole number of at least {low}; the default is "
                f"{getattr(defaults, name)}.",
            )
        )
    return problems


def download_problems(conf: DisketteSettings) -> list[Problem]:
    """E012, E013 and E014: what a download may fetch, and for how long."""
    return [
        *_protocol_problems(conf.download_allowed_protocols),
        *_redirect_problems(conf.download_allow_redirect),
        *_seconds_problems(conf),
    ]


def _protocol_problems(protocols: object) -> list[Problem]:
    name = "DISKETTE_DOWNLOAD_ALLOWED_PROTOCOLS"
    hint = f"Write a list of URL schemes in lower case, for example {name} = ['https']."
    if not isinstance(protocols, (list, tuple)):
        return [
            Problem(
                "E012",
                (name,),
                f"{name} is {protocols!r} ({kind_of(protocols)}), not a list of URL "
                "schemes",
                hint,
            )
        ]
    return [
        Problem("E012", (name,), f"{name}: {scheme!r} is not a URL scheme", hint)
        for scheme in protocols
        if not isinstance(scheme, str) or not _SCHEME.match(scheme)
    ]


def _redirect_problems(value: object) -> list[Problem]:
    name = "DISKETTE_DOWNLOAD_ALLOW_REDIRECT"
    if isinstance(value, bool):
        return []
    return [
        Problem(
            "E013",
            (name,),
            f"{name} is {value!r} ({kind_of(value)}), not True or False",
            f"Set {name} to True or False.",
        )
    ]


def _seconds_problems(conf: DisketteSettings) -> list[Problem]:
    problems = []
    for name, value, example in (
        ("DISKETTE_DOWNLOAD_TIMEOUT", conf.download_timeout, 60),
        ("DISKETTE_DOWNLOAD_DEADLINE", conf.download_deadline, 3600),
    ):
        if not (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and value > 0
        ):
            problems.append(
                Problem(
                    "E014",
                    (name,),
                    f"{name} is {value!r} ({kind_of(value)}), not a positive number of "
                    "seconds",
                    f"Set {name} to a number of seconds greater than 0, for example "
                    f"{example}.",
                )
            )
    return problems
