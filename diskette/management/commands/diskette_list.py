"""``diskette_list``: the archives of a destination, newest first, from their sidecars."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from diskette import api
from diskette.management.base import DisketteCommand
from diskette.reporter import human_size, plural

#: Size units of the listing, in powers of 1000 (as ``--max-size`` reads them).
#: Hex digits of a checksum the listing shows (the JSON has them all).
_SHORT_CHECKSUM = 16


class Command(DisketteCommand):
    help = (
        "List the archives of a destination, newest first: when each was made, its "
        "size, what it holds, its checksum and format, read from the sidecars "
        "beside the archives (no archive is downloaded). Files that look like "
        "archives but were not written by diskette are shown as such."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="source",
            metavar="NAME",
            help="the destination to list: an alias of STORAGES, or 'local' "
            "(DISKETTE_DUMP_PATH); default: DISKETTE_ARCHIVE_STORAGE",
        )
        parser.add_argument(
            "--json", action="store_true", help="print the archives as one JSON list"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        entries = api.list_archives(options["source"])
        if options["json"]:
            self.write_json([entry.to_dict() for entry in entries])
            return
        reporter = self.reporter(options)
        if not entries:
            source = options["source"]
            where = repr(source) if source else "DISKETTE_ARCHIVE_STORAGE"
            reporter.info(f"no archive in {where}")
        for entry in entries:
            for line in entry_lines(entry):
                reporter.info(line)


def entry_lines(entry: api.ArchiveEntry) -> list[str]:
    """The lines of one archive: its name and when, then what it holds."""
    if not entry.written_by_diskette:
        facts = ["not written by diskette"]
        if entry.size is not None:
            facts.append(human_size(entry.size))
        if entry.created is not None:
            facts.append(f"modified {_utc(entry)}")
        return [f"{entry.name}: {', '.join(facts)}"]
    checksum = (entry.checksum or "").partition(":")
    short = f"{checksum[0]}:{checksum[2][:_SHORT_CHECKSUM]}" if checksum[2] else "none"
    lines = [
        entry.name,
        f"  created {_utc(entry)}, {human_size(entry.size or 0)}, format "
        f"{entry.format}, checksum {short}",
    ]
    if entry.data_files:
        lines.append(
            "  data: "
            + ", ".join(
                path if objects is None else f"{path} ({plural(objects, 'object')})"
                for path, objects in entry.data_files
            )
        )
    if entry.storages:
        lines.append(
            "  storages: "
            + ", ".join(
                name if files is None else f"{name} ({plural(files, 'file')})"
                for name, files in entry.storages
            )
        )
    if entry.encryption is not None:
        recipients = entry.encryption["recipients"]
        lines.append(
            "  encrypted (age) to "
            + (
                "a passphrase"
                if entry.encryption["passphrase"]
                else plural(len(recipients), "recipient") + ": " + ", ".join(recipients)
            )
        )
    if entry.signed_by is not None:
        lines.append(f"  signed by {entry.signed_by}")
    return lines


def _utc(entry: api.ArchiveEntry) -> str:
    assert entry.created is not None  # the callers test it, or it has a sidecar
    return entry.created.strftime("%Y-%m-%d %H:%M:%S UTC")
