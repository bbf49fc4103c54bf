"""``diskette_prune``: delete the archives a retention does not keep.

Only archives written by diskette are ever deleted (each before its sidecar);
any other file is left alone. The command shows what it keeps (with the rules
that keep each archive) and what it deletes, asks for ``yes`` unless
``--noinput``, and then deletes no more than it showed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.management.base import CommandError, CommandParser

from diskette import api
from diskette.destinations.quantities import parse_duration, parse_size
from diskette.destinations.sidecar import archive_of_sidecar, sidecar_name
from diskette.exceptions import ConfigurationError
from diskette.management.base import DisketteCommand, command_words
from diskette.reporter import Reporter, plural

#: The rule options: (flag, the Retention rule, metavar, help).
_RULES: tuple[tuple[str, str, str, str], ...] = (
    ("--keep", "keep_last", "N", "keep the newest N archives"),
    (
        "--older-than",
        "newer_than",
        "DURATION",
        "delete the archives older than DURATION (45s, 90m, 12h, 30d, 2w), unless "
        "another rule keeps them",
    ),
    (
        "--max-size",
        "max_total_size",
        "SIZE",
        "keep the newest archives whose sizes add up to SIZE at most (500MB, 2GiB)",
    ),
    (
        "--keep-daily",
        "daily",
        "N",
        "keep the newest archive of each of the last N days",
    ),
    (
        "--keep-weekly",
        "weekly",
        "N",
        "keep the newest archive of each of the last N weeks",
    ),
    (
        "--keep-monthly",
        "monthly",
        "N",
        "keep the newest archive of each of the last N months",
    ),
    (
        "--keep-yearly",
        "yearly",
        "N",
        "keep the newest archive of each of the last N years",
    ),
)
#: How an error of the rules names each option.
RULE_FLAGS: Mapping[str, str] = {rule: flag for flag, rule, _, _ in _RULES}
#: The rules whose options are text to read.
_PARSERS: Mapping[str, Callable[[str], Any]] = {
    "newer_than": parse_duration,
    "max_total_size": parse_size,
}


class Command(DisketteCommand):
    help = (
        "Delete the archives of a destination that a retention does not keep: the "
        "rule options given (an archive is kept when any rule keeps it), else "
        "DISKETTE_RETENTION. Files not written by diskette are never deleted. "
        "Shows what is kept (and by which rule) and deleted, then asks for 'yes'."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="source",
            metavar="NAME",
            help="the destination to prune: an alias of STORAGES, or 'local' "
            "(DISKETTE_DUMP_PATH); default: DISKETTE_ARCHIVE_STORAGE",
        )
        rules = parser.add_argument_group(
            "rules",
            "an archive is kept when any rule keeps it; without a rule, "
            "DISKETTE_RETENTION applies. Days, ISO weeks, months and years are read in "
            "UTC and count only those that hold an archive.",
        )
        for flag, rule, metavar, text in _RULES:
            kind = int if metavar == "N" else str
            rules.add_argument(flag, dest=rule, metavar=metavar, type=kind, help=text)
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="show what would be kept and deleted, delete nothing",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="do not ask for confirmation",
        )
        parser.add_argument(
            "--json", action="store_true", help="print the result as one JSON object"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        retention = retention_of(options)
        source, dry_run = options["source"], options["dry_run"]
        asking = options["interactive"] and not dry_run
        if options["json"] and asking:
            raise CommandError(
                "--json cannot ask for confirmation: add --noinput, or --dry-run",
                returncode=2,
            )
        reporter = self.reporter(options, quiet=options["json"])
        if asking:
            preview = api.prune(retention, destination=source, dry_run=True)
            show(preview, reporter)
            if not preview.deleted:
                return
            _confirm(preview, source)
            result = api.prune(retention, destination=source, only=preview.deleted)
        else:
            result = api.prune(retention, destination=source, dry_run=dry_run)
            if options["json"]:
                self.write_json(result.to_dict())
                return
            show(result, reporter)
        if dry_run and result.deleted:
            reporter.info(
                f"dry run: nothing was deleted ({_count(result.deleted)} would be)"
            )
        elif result.deleted:
            reporter.info(f"deleted {_count(result.deleted)}")


def _confirm(preview: api.PruneResult, source: str | None) -> None:
    """Ask for ``yes`` as diskette_load --flush does; CommandError (2) otherwise."""
    where = repr(source) if source else "DISKETTE_ARCHIVE_STORAGE"
    try:
        answer = input(
            f"This deletes {_count(preview.deleted)} from {where}. Type 'yes' to "
            "continue: "
        )
    except EOFError:
        answer = ""
    if answer.strip().lower() != "yes":
        raise CommandError("prune cancelled: nothing was deleted", returncode=2)


def retention_of(options: Mapping[str, Any]) -> api.Retention | None:
    """The retention the rule options give, ``None`` when none is given;
    ConfigurationError (naming the option) when a value is wrong."""
    rules: dict[str, Any] = {}
    for flag, rule, _, _ in _RULES:
        value = options.get(rule)
        if value is None:
            continue
        if rule in _PARSERS:
            try:
                value = _PARSERS[rule](value)
            except ValueError as error:
                raise ConfigurationError(f"{flag} {error}") from None
        rules[rule] = value
    if not rules:
        return None
    try:
        return api.Retention(**rules)
    except ConfigurationError as error:
        raise ConfigurationError(command_words(str(error), RULE_FLAGS)) from None


def show(result: api.PruneResult, reporter: Reporter) -> None:
    """One line per archive: kept (and by which rules), deleted (``delete`` in a
    dry run, which ``result`` is before a confirmation), or left alone."""
    verb = "delete" if result.dry_run else "deleted"
    for name, reasons in result.kept:
        reporter.info(f"keep     {name}: {', '.join(reasons)}")
    deleted = set(result.deleted)
    for path in result.deleted:
        archive = archive_of_sidecar(path)
        if archive is None:
            also = " (and its sidecar)" if sidecar_name(path) in deleted else ""
            reporter.info(f"{verb:<8} {path}{also}")
        elif archive not in deleted:
            reporter.info(f"{verb:<8} {path} (a sidecar whose archive is gone)")
    for name in result.ignored:
        reporter.info(f"leave    {name}: not written by diskette")
    if not result.deleted:
        reporter.info("nothing to delete")


def _count(paths: list[str]) -> str:
    """``2 archives and 2 sidecars``: what a list of deleted files holds."""
    archives = sum(1 for path in paths if archive_of_sidecar(path) is None)
    sidecars = len(paths) - archives
    return f"{plural(archives, 'archive')} and {plural(sidecars, 'sidecar')}"
