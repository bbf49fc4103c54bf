"""Checks of how a dump writes its archive and fixtures.

``DISKETTE_DUMP_FILENAME`` (E007, E008), ``DISKETTE_DUMP_PERMISSIONS`` (E009,
W002, W003), ``DISKETTE_DUMP_FORMAT`` (E010, with the formats' own rule from
:mod:`diskette.definitions.formats`) and ``DISKETTE_DUMP_COMPRESSION`` (E020).
"""

from __future__ import annotations

import re
import string

from diskette.archive.compression import COMPRESSIONS, ZSTD, zstandard
from diskette.checks.limits import is_int
from diskette.conf import DisketteSettings
from diskette.definitions import available_formats, format_problem
from diskette.exceptions import ConfigurationError
from diskette.problems import Problem, kind_of

#: The placeholders ``DISKETTE_DUMP_FILENAME`` may hold.
FILENAME_PLACEHOLDERS = ("features", "date", "timestamp")

_FILENAME = "DISKETTE_DUMP_FILENAME"


def dump_filename_problems(conf: DisketteSettings) -> list[Problem]:
    """E007 when the value is not a plain file name, else E008 per bad placeholder."""
    value = conf.dump_filename
    plain = (
        "Give a plain file name such as 'diskette{features}.tar.gz'; the directory "
        "is DISKETTE_DUMP_PATH."
    )
    if not isinstance(value, str) or not value.strip():
        message = f"{_FILENAME} is {value!r} ({kind_of(value)}), not a file name"
        return [Problem("E007", (_FILENAME,), message, plain)]
    if any(char in value for char in "/\\\x00") or value in (".", ".."):
        message = (
            f"{_FILENAME} {value!r} is not a plain file name (it holds a directory)"
        )
        return [Problem("E007", (_FILENAME,), message, plain)]
    return _placeholder_problems(value)


def _placeholder_problems(value: str) -> list[Problem]:
    allowed = ", ".join("{" + p + "}" for p in FILENAME_PLACEHOLDERS)
    hint = (
        f"Use only the placeholders {allowed}, and write a literal brace twice ({{{{)."
    )
    try:
        fields = list(string.Formatter().parse(value))
    except ValueError as error:
        message = f"{_FILENAME} {value!r} is malformed: {error}"
        return [Problem("E008", (_FILENAME,), message, hint)]
    problems = []
    for _, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in FILENAME_PLACEHOLDERS:
            message = f"{_FILENAME} {value!r} has the unknown placeholder {{{field}}}"
        elif spec or conversion:
            message = (
                f"{_FILENAME} {value!r} formats the placeholder {{{field}}}; "
                "write it bare"
            )
        else:
            continue
        problems.append(Problem("E008", (_FILENAME,), message, hint))
    return problems


def dump_permissions_problems(conf: DisketteSettings) -> list[Problem]:
    """E009 when the mode is not a file mode; W002 and W003 when it is unwise."""
    name = "DISKETTE_DUMP_PERMISSIONS"
    mode = conf.dump_permissions
    hint = (
        f"Set {name} to an octal integer such as 0o600 (read and write for the owner)."
    )
    if not is_int(mode) or not 0 <= mode <= 0o777:
        extra = ""
        if is_int(mode) and re.fullmatch(r"[0-7]{3}", str(mode)):
            extra = f" (did you mean 0o{mode}?)"
        shown = f"{mode} (0o{mode:o})" if is_int(mode) and mode > 0 else repr(mode)
        return [
            Problem(
                "E009",
                (name,),
                f"{name} is {shown}, not a file mode between 0o000 and 0o777{extra}",
                hint,
            )
        ]
    problems = []
    if mode & 0o077:
        problems.append(
            Problem(
                "W002",
                (name,),
                f"{name} is 0o{mode:03o}: group or others can read the archives, "
                "which hold password hashes and personal data",
                "Use 0o600 unless other accounts must read the archives.",
                warning=True,
            )
        )
    if not mode & 0o400:
        problems.append(
            Problem(
                "W003",
                (name,),
                f"{name} is 0o{mode:03o}: the owner cannot read the archives",
                "Give the owner read permission, for example 0o600.",
                warning=True,
            )
        )
    return problems


def dump_format_problems(conf: DisketteSettings) -> list[Problem]:
    """E010, in the words of :func:`~diskette.definitions.format_problem`."""
    name = "DISKETTE_DUMP_FORMAT"
    problem = format_problem(conf.dump_format)
    if problem is None:
        return []
    return [
        Problem(
            "E010",
            (name, "DISKETTE_APPS"),
            f"{name} {conf.dump_format!r} {problem}",
            f"Set {name} to one of "
            + ", ".join(repr(f) for f in available_formats())
            + ".",
        )
    ]


def dump_compression_problems(conf: DisketteSettings) -> list[Problem]:
    """E020 when the compression is unknown, or is zstd without its package."""
    name = "DISKETTE_DUMP_COMPRESSION"
    value = conf.dump_compression
    if value not in COMPRESSIONS:
        return [
            Problem(
                "E020",
                (name,),
                f"{name} {value!r} is not a compression",
                "Set it to one of " + ", ".join(repr(c) for c in COMPRESSIONS) + ".",
            )
        ]
    if value == ZSTD:
        try:
            zstandard(f"{name} 'zstd'")
        except ConfigurationError as error:
            return [
                Problem(
                    "E020",
                    (name,),
                    str(error),
                    "Install the extra, or set it to 'gzip' or 'none'.",
                )
            ]
    return []
