"""``diskette_load``: verify an archive, load its data, restore its storages."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from diskette import api
from diskette.api import STORAGES_MODES as MODES
from diskette.management.base import DisketteCommand
from diskette.management.sharing import (
    ALLOW_UNSIGNED,
    OPEN_OPTIONS,
    add_options,
    open_choices,
)

#: The sections of ``--help``, in the order it lists them.
_DATA, _STORAGES, _ARCHIVE, _SAFETY, _OUTPUT = _GROUPS = (
    "what to load",
    "storages",
    "the archive",
    "safety",
    "output",
)
#: Every option as ``(its --help section, its flags, add_argument's keywords)``, in
#: the order they were always declared, which the usage line and the parsed
#: options keep; ``--ignorenonexistent_data`` is the original diskette's spelling.
_OPTIONS: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = (
    (
        _STORAGES,
        ("--storages-basepath",),
        {
            "help": "directory the storages are restored in "
            "(default: DISKETTE_LOAD_STORAGES_PATH, then the working directory)",
        },
    ),
    (
        _DATA,
        ("--exclude-data",),
        {
            "action": "append",
            "default": [],
            "metavar": "NAME",
            "help": "data file or definition name not to load (repeatable)",
        },
    ),
    (_DATA, ("--no-data",), {"action": "store_true", "help": "load no data"}),
    (
        _STORAGES,
        ("--no-storages",),
        {"action": "store_true", "help": "restore no storage"},
    ),
    (
        _STORAGES,
        ("--storage",),
        {
            "action": "append",
            "dest": "storages",
            "metavar": "NAME",
            "help": "restore this storage of the archive (its name in the archive, "
            "e.g. media) instead of those DISKETTE_STORAGES names (repeatable)",
        },
    ),
    (
        _DATA,
        ("--ignorenonexistent", "--ignorenonexistent_data"),
        {
            "action": "store_true",
            "dest": "ignorenonexistent",
            "help": "skip fields and models that no longer exist",
        },
    ),
    (
        _ARCHIVE,
        ("--checksum",),
        {"metavar": "HEX", "help": "BLAKE2b-512 digest the archive must have"},
    ),
    (
        _ARCHIVE,
        ("--download-destination",),
        {"metavar": "FILE", "help": "keep a downloaded archive at this path"},
    ),
    (
        _ARCHIVE,
        ("--keep",),
        {
            "action": "store_true",
            "help": "accepted for compatibility: the archive is never deleted",
        },
    ),
    (
        _SAFETY,
        ("--flush",),
        {
            "action": "store_true",
            "help": "empty the database's tables first, in the same transaction",
        },
    ),
    (
        _SAFETY,
        ("--noinput", "--no-input"),
        {
            "action": "store_false",
            "dest": "interactive",
            "help": "do not ask for confirmation",
        },
    ),
    (
        _STORAGES,
        ("--storages-mode",),
        {
            "choices": MODES,
            "default": "replace",
            "help": "replace: storages end up exactly as archived (default); "
            "merge: add and overwrite files, remove nothing",
        },
    ),
    (
        _DATA,
        ("--no-signals",),
        {
            "action": "store_false",
            "dest": "signals",
            "help": "send no pre_save, post_save or m2m_changed signal while loading",
        },
    ),
    (
        _DATA,
        ("--exact",),
        {
            "action": "store_true",
            "help": "save every object one by one exactly as loaddata does (slower)",
        },
    ),
    (
        _DATA,
        ("--exact-model",),
        {
            "action": "append",
            "default": [],
            "metavar": "APP_LABEL.MODEL",
            "help": "save this model's objects exactly as loaddata does (repeatable)",
        },
    ),
    (
        _SAFETY,
        ("--ignore-migrations",),
        {
            "action": "store_true",
            "help": "load even when the archive was made at migrations this "
            "database has not applied",
        },
    ),
    (
        _SAFETY,
        ("--plan",),
        {
            "action": "store_true",
            "help": "change nothing: report what the load would do and whether it "
            "would succeed (the data is loaded in a transaction that is rolled back)",
        },
    ),
    (
        _OUTPUT,
        ("--json",),
        {"action": "store_true", "help": "print the result as one JSON object"},
    ),
    (
        _DATA,
        ("--database",),
        {
            "default": DEFAULT_DB_ALIAS,
            "help": "database alias to load into (default: %(default)s)",
        },
    ),
    (
        _ARCHIVE,
        ("--from",),
        {
            "dest": "source",
            "metavar": "NAME",
            "help": "where an ARCHIVE that is no file nor URL is looked up by name "
            "(or 'latest'): an alias of STORAGES, or 'local' (DISKETTE_DUMP_PATH); "
            "default: DISKETTE_ARCHIVE_STORAGE",
        },
    ),
)


class Command(DisketteCommand):
    checks_pending = False
    help = (
        "Load a diskette archive (a path, an http(s) URL, or a name in the "
        "destination, --from): every member is "
        "verified first, the data is loaded in one transaction, then the storages "
        "are swapped in. Rows already in the database are merged by primary key, "
        "as loaddata does; use --flush to empty the database first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """The archive, then the options of :data:`_OPTIONS` in their ``--help`` groups."""
        parser.add_argument(
            "archive",
            metavar="ARCHIVE",
            help="archive path or URL, or the name of an archive in the destination "
            "(--from), or 'latest' for its newest",
        )
        groups = {title: parser.add_argument_group(title) for title in _GROUPS}
        for title, flags, keywords in _OPTIONS:
            groups[title].add_argument(*flags, **keywords)
        add_options(parser, (*OPEN_OPTIONS, ALLOW_UNSIGNED))

    def handle(self, *args: Any, **options: Any) -> None:
        choices = {
            **open_choices(options),
            "storages_basepath": options["storages_basepath"],
            "exclude_data": options["exclude_data"],
            "with_data": not options["no_data"],
            "with_storages": not options["no_storages"],
            "storages": options["storages"],
            "ignorenonexistent": options["ignorenonexistent"],
            "checksum": options["checksum"],
            "download_destination": options["download_destination"],
            "flush": options["flush"],
            "storages_mode": options["storages_mode"],
            "using": options["database"],
            "reporter": self.reporter(options, quiet=options["json"]),
            "signals": options["signals"],
            "exact": True if options["exact"] else options["exact_model"],
            "ignore_migrations": options["ignore_migrations"],
            "source": options["source"],
        }
        if options["plan"]:
            return self._plan(options, choices)
        if options["flush"] and options["interactive"]:
            try:
                answer = input(
                    f"--flush empties every table of database "
                    f"{options['database']!r} before the load. Type 'yes' to "
                    "continue: "
                )
            except EOFError:
                answer = ""
            if answer.strip().lower() != "yes":
                raise CommandError("load cancelled: nothing was changed", returncode=2)
        result = api.load(options["archive"], **choices)
        if options["json"]:
            self.write_json(result.to_dict())

    def _plan(self, options: dict[str, Any], choices: dict[str, Any]) -> None:
        plan = api.plan_load(options["archive"], **choices)
        if options["json"]:
            payload = plan.to_dict()
            payload["notes"] = [self.words(note) for note in payload["notes"]]
            for problem in payload["problems"]:
                problem["message"] = self.words(problem["message"])
            self.write_json(payload)
        else:
            for line in plan.lines():
                self.stdout.write(self.words(line))
        if plan.problems:
            raise CommandError(
                f"--plan: the load would fail: {self.words(plan.problems[0].message)}",
                returncode=plan.exit_code,
            )
