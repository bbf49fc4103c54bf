"""``diskette_dump``: write the chosen data and storages into one archive."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from diskette import api
from diskette.api import FORMATS
from diskette.api.dump_results import DumpPruneError, DumpResult
from diskette.exceptions import ConfigurationError
from diskette.management.base import FLAGS, DisketteCommand
from diskette.management.sharing import (
    DUMP_OPTIONS,
    add_options,
    dump_choices,
    report_sharing,
)

#: How the core's messages name the Python arguments, and this command's words
#: for them: (start of the core's message, what the command prints instead).
_FLAG_WORDS = (
    ("format: ", "--format: "),
    ("compresslevel ", "compresslevel (--compresslevel) "),
    ("compression ", "--compression "),
    ("apps names ", "--app names "),
    ("exclude_apps names ", "--exclude-app names "),
    ("strict: ", "--strict: "),
    ("destination '", "--destination '"),
    ("encrypt_to: ", "--encrypt-to: "),
    ("signing_key: ", "--sign: "),
)
#: Words inside the core's messages, and the flags this command prints for them.
_FLAG_PHRASES = (
    (
        "(check DISKETTE_APPS, DISKETTE_STORAGES, apps, with_data, with_storages)",
        "(check DISKETTE_APPS, DISKETTE_STORAGES, --app, --no-data, --no-storages)",
    ),
    ("use destination for the directory", "use --destination for the directory"),
)


def _with_flags(message: str) -> str:
    """A core message as the command's user knows the options: by their flags."""
    for start, flag in _FLAG_WORDS:
        if message.startswith(start):
            message = flag + message[len(start) :]
            break
    for words, flags in _FLAG_PHRASES:
        message = message.replace(words, flags)
    return message


def _program() -> list[str]:
    """How the running project's commands are started, for ``--no-archive`` lines."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is not None and script.name == "manage.py" and script.is_file():
        return [sys.executable, str(script.resolve())]
    module = os.environ.get("DJANGO_SETTINGS_MODULE") or settings.SETTINGS_MODULE
    return [
        sys.executable,
        "-m",
        "django",
        *([f"--settings={module}"] if module else []),
    ]


#: The sections of ``--help``, in the order it lists them.
_DATA, _STORAGES, _ARCHIVE, _INSTEAD, _OUTPUT = _GROUPS = (
    "what to dump",
    "storages",
    "the archive",
    "instead of dumping",
    "output",
)
#: Every option as ``(its --help section, its flags, add_argument's keywords)``, in
#: the order they were always declared, which the usage line and the parsed
#: options keep.
_OPTIONS: tuple[tuple[str, tuple[str, ...], dict[str, Any]], ...] = (
    (_ARCHIVE, ("--destination",), {"help": "directory of the archive"}),
    (
        _ARCHIVE,
        ("--filename",),
        {"help": "archive file name; {features}, {date} and {timestamp} are replaced"},
    ),
    (
        _DATA,
        ("--appconf",),
        {"help": "JSON file of application definitions (replaces DISKETTE_APPS)"},
    ),
    (
        _STORAGES,
        ("--storage",),
        {
            "dest": "storages",
            "action": "append",
            "metavar": "PATH",
            "help": "storage directory (repeatable; replaces DISKETTE_STORAGES)",
        },
    ),
    (
        _STORAGES,
        ("--storages-basepath",),
        {"help": "directory every storage must sit inside"},
    ),
    (
        _STORAGES,
        ("--storages-exclude",),
        {
            "dest": "storages_excludes",
            "action": "append",
            "metavar": "PATTERN",
            "help": "exclude pattern (repeatable; added to DISKETTE_STORAGES_EXCLUDES)",
        },
    ),
    (
        _STORAGES,
        ("--no-storages-excludes",),
        {"action": "store_true", "help": "ignore DISKETTE_STORAGES_EXCLUDES"},
    ),
    (_ARCHIVE, ("--indent",), {"type": int, "help": "indentation of the fixtures"}),
    (_DATA, ("--no-data",), {"action": "store_true", "help": "dump no data"}),
    (
        _STORAGES,
        ("--no-storages",),
        {"action": "store_true", "help": "dump no storage"},
    ),
    (
        _ARCHIVE,
        ("--no-checksum",),
        {"action": "store_true", "help": "do not print the checksum"},
    ),
    (
        _INSTEAD,
        ("--no-archive",),
        {
            "action": "store_true",
            "help": "print the dumpdata command lines instead of dumping",
        },
    ),
    (
        _INSTEAD,
        ("--check",),
        {
            "action": "store_true",
            "help": "validate and describe the dump; read no data, write nothing",
        },
    ),
    (
        _DATA,
        ("--app",),
        {
            "dest": "apps",
            "action": "append",
            "metavar": "NAME",
            "help": "dump only this definition (repeatable)",
        },
    ),
    (
        _DATA,
        ("--exclude-app",),
        {
            "dest": "exclude_apps",
            "action": "append",
            "metavar": "NAME",
            "help": "do not dump this definition (repeatable)",
        },
    ),
    (
        _ARCHIVE,
        ("--format",),
        {"metavar": "|".join(FORMATS), "help": "fixture format for every definition"},
    ),
    (
        _ARCHIVE,
        ("--compression",),
        {
            "metavar": "gzip|zstd|none",
            "help": "how the archive is compressed: gzip (.tar.gz), zstd (.tar.zst, "
            "needs the zstd extra) or none (.tar); default DISKETTE_DUMP_COMPRESSION "
            "(gzip)",
        },
    ),
    (
        _ARCHIVE,
        ("--compresslevel",),
        {
            "type": int,
            "metavar": "LEVEL",
            "help": "compression level: 0-9 for gzip (default 6), 1-19 for zstd "
            "(default 3)",
        },
    ),
    (
        _DATA,
        ("--database",),
        {"default": "default", "help": "database to dump (default 'default')"},
    ),
    (
        _DATA,
        ("--strict",),
        {
            "action": "store_true",
            "help": "refuse to dump when a dumped relation points to rows the "
            "archive would not hold (a warning otherwise)",
        },
    ),
    (
        _DATA,
        ("--anonymise",),
        {
            "nargs": "?",
            "const": True,
            "default": False,
            "metavar": "PROFILE",
            "help": "write an anonymised copy: the rules of DISKETTE_ANONYMISE on "
            "top of its profile, or of PROFILE (share, none); the salt is "
            "DISKETTE_ANONYMISE_SALT (setting or environment), else random",
        },
    ),
    (
        _OUTPUT,
        ("--json",),
        {"action": "store_true", "help": "print the result as one JSON object"},
    ),
    (
        _ARCHIVE,
        ("--to",),
        {
            "metavar": "NAME",
            "help": "where the archive goes: an alias of STORAGES, or 'local' "
            "(DISKETTE_DUMP_PATH); default DISKETTE_ARCHIVE_STORAGE",
        },
    ),
    (
        _ARCHIVE,
        ("--overwrite",),
        {
            "action": "store_true",
            "help": "replace an archive of the same name in the destination",
        },
    ),
    (
        _ARCHIVE,
        ("--save",),
        {
            "action": "store_true",
            "help": "accepted for compatibility (the original's admin record): every "
            "archive is recorded by its sidecar, and diskette_list lists it",
        },
    ),
    (
        _ARCHIVE,
        ("--prune",),
        {
            "action": "store_true",
            "help": "once the archive is written, delete the archives of the "
            "destination that DISKETTE_RETENTION does not keep",
        },
    ),
)


class Command(DisketteCommand):
    help = (
        "Dump the application definitions' data as fixtures and the storages' files "
        "into one archive (.tar.gz, or .tar.zst or .tar with --compression) with a "
        "manifest."
    )
    flags = {
        **FLAGS,
        "overwrite=True": "--overwrite",
        "to=": "--to ",
        "prune=True": "--prune",
    }

    def add_arguments(self, parser) -> None:
        """The options of :data:`_OPTIONS`, each in its ``--help`` group."""
        groups = {title: parser.add_argument_group(title) for title in _GROUPS}
        for title, flags, keywords in _OPTIONS:
            groups[title].add_argument(*flags, **keywords)
        add_options(parser, DUMP_OPTIONS)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            return self._handle(options)
        except ConfigurationError as error:
            message = _with_flags(str(error))
            if message == str(error):
                raise
            raise type(error)(message) from error

    def _handle(self, options: dict[str, Any]) -> None:
        choices = {
            "destination": options["destination"],
            "to": options["to"],
            "overwrite": options["overwrite"],
            "filename": options["filename"],
            "appconf": options["appconf"],
            "storages": options["storages"],
            "storages_basepath": options["storages_basepath"],
            "storages_excludes": options["storages_excludes"],
            "no_storages_excludes": options["no_storages_excludes"],
            "indent": options["indent"],
            "with_data": not options["no_data"],
            "with_storages": not options["no_storages"],
            "apps": options["apps"],
            "exclude_apps": options["exclude_apps"],
            "format": options["format"],
            "compression": options["compression"],
            "using": options["database"],
            "strict": options["strict"],
            "anonymise": options["anonymise"],
        }
        if options["compresslevel"] is not None:
            choices["compresslevel"] = options["compresslevel"]
        choices.update(dump_choices(options))
        if options["prune"] and (options["no_archive"] or options["check"]):
            raise CommandError(
                "--prune prunes after a dump: leave it out with --check and "
                "--no-archive",
                returncode=2,
            )
        if options["no_archive"]:
            return self._no_archive(choices, options)
        if options["check"]:
            return self._check(choices, options)
        reporter = self.reporter(options, quiet=options["json"])
        try:
            result = api.dump(
                **choices,
                with_checksum=not options["no_checksum"],
                prune=options["prune"],
                reporter=reporter,
            )
        except DumpPruneError as error:
            # The archive was written: say what it is before the error.
            self._report(error.dump, options, reporter)
            raise
        self._report(result, options, reporter)

    def _report(
        self, result: DumpResult, options: dict[str, Any], reporter: Any
    ) -> None:
        """The archive written: where it went, its size, its checksum."""
        if options["json"]:
            return self.write_json(result.to_dict())
        where = (
            result.path if result.local else f"{result.name} in {result.destination}"
        )
        reporter.info(
            f"archive {where}: {result.size} bytes, {result.objects} objects, "
            f"{result.files} files"
        )
        if result.checksum:
            reporter.info(f"checksum (blake2b): {result.checksum}")

    def _no_archive(self, choices: dict[str, Any], options: dict[str, Any]) -> None:
        # The lines write into the local dump directory: no archive, so no
        # destination to reach and no name to check.
        local = {
            "to": None if choices["destination"] is not None else "local",
            "overwrite": True,
            "with_storages": False,
        }
        plan = api.plan_dump(**{**choices, **local})
        if options["verbosity"] >= 1:
            self.stderr.write(
                f"# {len(plan.definitions)} dumpdata command line(s); "
                "storages are not dumped without an archive"
            )
            for name in plan.skipped:
                self.stderr.write(f"# definition {name!r} selects no model: skipped")
            for warning in plan.warnings:
                self.stderr.write(f"# warning: {warning}")
            if not plan.destination.is_dir():
                self.stderr.write(
                    f"# create {plan.destination} first: dumpdata writes into it"
                )
        for line in api.dumpdata_command_lines(plan, program=_program()):
            self.stdout.write(line)

    def _check(self, choices: dict[str, Any], options: dict[str, Any]) -> None:
        reporter = self.reporter(options, quiet=options["json"])
        plan = api.plan_dump(**choices, reporter=reporter)
        description = plan.describe(reporter)
        if options["json"]:
            return self.write_json(description)
        where = (
            description["archive"]
            if plan.local
            else f"{description['name']} in {description['destination']}"
        )
        reporter.info(f"archive: {where} (nothing written: --check)")
        for item in description["data"]:
            reporter.info(
                f"{item['path']} ({item['name']}, {item['format']}): "
                + (", ".join(item["models"]) or "no models")
            )
        for item in description["storages"]:
            reporter.info(
                f"{item['name']}: {item['files']} files, {item['bytes']} bytes, "
                f"{item['excluded']} excluded"
            )
        if description["excludes"]:
            reporter.detail("exclude patterns: " + json.dumps(description["excludes"]))
        report_sharing(description, reporter)
