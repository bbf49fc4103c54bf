"""``diskette_inspect``: what an archive holds and whether it verifies, changing nothing."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from diskette import api
from diskette.management.base import DisketteCommand
from diskette.management.sharing import OPEN_OPTIONS, add_options, open_choices
from diskette.reporter import Reporter, plural

#: How the manifest's software keys are shown.
SOFTWARE = {"django": "Django", "python": "Python"}


class Command(DisketteCommand):
    help = (
        "Show what a diskette archive (a path, an http(s) URL, or a name in the "
        "destination, --from) holds: its manifest, "
        "data files and storages, and whether every member matches its checksum. "
        "The database is not used and nothing is written."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "archive",
            metavar="ARCHIVE",
            help="archive path or URL, or the name of an archive in the destination "
            "(--from), or 'latest' for its newest",
        )
        parser.add_argument(
            "--from",
            dest="source",
            metavar="NAME",
            help="where an ARCHIVE that is no file nor URL is looked up by name "
            "(or 'latest'): an alias of STORAGES, or 'local' (DISKETTE_DUMP_PATH); "
            "default: DISKETTE_ARCHIVE_STORAGE",
        )
        parser.add_argument(
            "--verify",
            action="store_true",
            help="exit with status 13 when a member does not match its checksum, 12 "
            "when a fixture does not hold the objects the manifest counts",
        )
        parser.add_argument(
            "--manifest-only",
            action="store_true",
            help="read the member headers and the manifest only, do not hash the "
            "members (fast; checksums are not checked)",
        )
        parser.add_argument(
            "--environment",
            action="store_true",
            help="compare the Python distributions the archive records with the "
            "installed ones",
        )
        parser.add_argument(
            "--json", action="store_true", help="print the result as one JSON object"
        )
        add_options(parser, OPEN_OPTIONS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verify"] and options["manifest_only"]:
            raise CommandError(
                "--verify needs the members' checksums: drop --manifest-only",
                returncode=2,
            )
        reporter = self.reporter(options, quiet=options["json"])
        result = api.inspect(
            options["archive"],
            verify=not options["manifest_only"],
            environment=options["environment"],
            reporter=reporter,
            source=options["source"],
            **open_choices(options),
        )
        if options["json"]:
            self.write_json(result.to_dict())
        else:
            self._show(result, reporter)
        error = result.error()
        if options["verify"] and error is not None:
            raise error

    def _show(self, result: api.InspectResult, reporter: Reporter) -> None:
        say = reporter.info
        say(f"archive: {result.archive} ({result.size} bytes)")
        if result.legacy:
            say(
                f"format: original diskette {result.version} (no format version), "
                f"created {result.created}"
            )
        else:
            say(f"format: {result.format}, created {result.created}")
        say(
            "software: "
            + ", ".join(
                f"{SOFTWARE.get(name, name)} {version}"
                for name, version in result.software.items()
            )
        )
        database = result.database
        if database:
            alias = f" (alias {database['alias']!r})" if database.get("alias") else ""
            say(f"database: {database.get('vendor')}{alias}")
        else:
            say("database: not recorded")
        if result.anonymised:
            say(
                f"anonymised: profile {result.anonymised['profile']!r}, rules "
                f"{result.anonymised['rules']}"
            )
        if result.migrations:
            applied = sum(len(names) for names in result.migrations.values())
            say(
                f"migrations: {applied} applied in "
                f"{plural(len(result.migrations), 'app')}"
            )
        for item in result.data:
            parts = [item.definition] if item.definition else []
            parts += [item.format, f"{item.size} bytes"]
            if item.objects is not None:
                counted = " (counted)" if result.legacy else ""
                parts.append(plural(item.objects, "object") + counted)
            say(f"{item.path}: {', '.join(parts)}")
            for label, count in (item.models or {}).items():
                say(f"  {label}: {count}")
        for storage in result.storages:
            line = f"{storage.name}: {plural(storage.files, 'file')}, {storage.bytes} bytes"
            if storage.empty_directories:
                empty = len(storage.empty_directories)
                line += f", {plural(empty, 'empty directory', 'empty directories')}"
            say(line)
        self._show_checksums(result, reporter)
        if result.encrypted:
            say("encrypted: yes (age)")
        if result.signed_by is not None:
            trust = {True: ", trusted", False: ", not in DISKETTE_TRUSTED_KEYS"}
            say(f"signed by: {result.signed_by}{trust.get(result.trusted, '')}")
        if result.environment is not None:
            self._show_environment(result.environment, reporter)

    def _show_checksums(self, result: api.InspectResult, reporter: Reporter) -> None:
        if result.checksums == "verified":
            reporter.info(
                f"checksums: {plural(result.members, 'member')} verified (sha256)"
            )
        elif result.checksums == "none":
            reporter.info(
                "checksums: none (the original diskette writes none); every member "
                "was read without an error"
            )
        elif result.checksums == "not checked":
            reporter.info("checksums: not checked (--manifest-only)")
        else:
            reporter.warning(
                f"checksums: FAILED, {plural(len(result.problems), 'problem')}"
            )
            for problem in result.problems:
                reporter.warning(f"  {problem}")

    def _show_environment(self, difference, reporter: Reporter) -> None:
        if not difference.recorded:
            reporter.info("environment: the archive records none")
            return
        if difference.same:
            reporter.info("environment: the same distributions as here")
            return
        reporter.info("environment: differs from here (a note, not an error)")
        for entry in difference.added:
            reporter.info(f"  + {entry} (here only)")
        for entry in difference.removed:
            reporter.info(f"  - {entry} (archive only)")
        for name, archived, current in difference.changed:
            reporter.info(f"  ~ {name}: {archived} in the archive, {current} here")
