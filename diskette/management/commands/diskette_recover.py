"""``diskette_recover``: finish interrupted loads, remove what killed runs left."""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS

from diskette.api.recover import recover_interrupted
from diskette.management.base import DisketteCommand


class Command(DisketteCommand):
    help = (
        "Finish every diskette load that was interrupted after its database commit "
        "(its storages are swapped in as its journal says), drop those interrupted "
        "before it, and remove the private files killed loads and dumps left "
        "behind. Files of a load or dump that is still running are never touched."
    )
    checks_pending = False

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--directory",
            action="append",
            default=[],
            dest="directories",
            metavar="DIR",
            help="also look in this directory (a --storages-basepath or "
            "--destination used before; repeatable)",
        )
        parser.add_argument(
            "--list",
            action="store_false",
            dest="remove",
            help="finish interrupted loads but only list the leftovers",
        )
        parser.add_argument(
            "--json", action="store_true", help="print the result as one JSON object"
        )
        parser.add_argument(
            "--database",
            default=DEFAULT_DB_ALIAS,
            help="database whose load journal to read (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = recover_interrupted(
            directories=options["directories"],
            using=options["database"],
            remove=options["remove"],
            reporter=self.reporter(options, quiet=options["json"]),
        )
        if options["json"]:
            self.write_json(result.to_dict())
            return
        for leftover in result.left:
            self.stdout.write(
                f"left by a killed run: {leftover.path} ({leftover.kind})"
            )
        if not (result.finished or result.dropped or result.removed or result.left):
            self.stdout.write("nothing to recover")
