"""The checks of the settings that name models.

``DISKETTE_APPS`` (E001 for each problem of a definition, E017 for a cycle no
load can satisfy), ``DISKETTE_DERIVED_MODELS`` (E016, W004) and the file fields
that a dump of ``DISKETTE_APPS`` would write without their files (W005, only
where a dump runs). What only diskette reads must not stop other commands: the
errors here are warnings in Django's system checks (``check_warning``).
"""

from __future__ import annotations

from diskette.checks.storages import usable_storages
from diskette.conf import DisketteSettings
from diskette.definitions import analyse_definitions, derived, format_problem
from diskette.definitions.dependencies import unloadable_cycles
from diskette.dumping.filefields import unarchived_file_fields
from diskette.problems import Problem


def apps_problems(conf: DisketteSettings) -> list[Problem]:
    """E001 per problem of the definitions; E017 per cycle when they are valid."""
    fmt = conf.dump_format if format_problem(conf.dump_format) is None else "json"
    found, definitions = analyse_definitions(conf.apps, fmt)
    problems = [
        Problem(
            "E001",
            ("DISKETTE_APPS",),
            f"DISKETTE_APPS: {problem}",
            "Fix the definition as the message says; `manage.py diskette_apps` "
            "prints valid definitions for the installed apps.",
            self_fixing=True,
            check_warning=True,
        )
        for problem in found
    ]
    if problems or fmt != conf.dump_format:
        return problems
    return [
        Problem(
            "E017",
            ("DISKETTE_APPS",),
            f"DISKETTE_APPS: {cycle}",
            "Break the cycle as the message says: a dump of these definitions could "
            "not be loaded anywhere.",
            self_fixing=True,
            check_warning=True,
        )
        for cycle in unloadable_cycles(definitions)
    ]


def derived_problems(conf: DisketteSettings) -> list[Problem]:
    """E016 and W004: see :func:`diskette.definitions.derived.setting_problems`."""
    return derived.setting_problems(derived.configured())


def file_field_problems(conf: DisketteSettings) -> list[Problem]:
    """W005: file fields of DISKETTE_APPS whose files no DISKETTE_STORAGES holds."""
    storages = usable_storages(conf)
    if storages is None:
        return []  # E002, E006 or E003 say what is wrong
    if format_problem(conf.dump_format) is not None:
        return []  # E010
    found, definitions = analyse_definitions(conf.apps, conf.dump_format)
    if found:
        return []  # E001
    return [
        Problem(
            "W005",
            ("DISKETTE_APPS", "DISKETTE_STORAGES", "DISKETTE_STORAGES_BASEPATH"),
            f"DISKETTE_STORAGES: {item}",
            "Add that directory (or one that holds it) to DISKETTE_STORAGES, or "
            "leave these models out of DISKETTE_APPS.",
            warning=True,
            dump_only=True,
        )
        for item in unarchived_file_fields(definitions, storages)
    ]
