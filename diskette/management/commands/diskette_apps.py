"""Print application definitions for the installed apps, ready for DISKETTE_APPS."""

from __future__ import annotations

import json
import pprint
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from diskette.api import generate_definitions
from diskette.management.base import FLAGS, DisketteCommand
from diskette.reporter import StreamReporter


class Command(DisketteCommand):
    help = (
        "Print a definition for every installed app that has models to dump, in "
        "dependency order, leaving out derived models (content types, permissions, "
        "sessions, search indexes...); paste the output as DISKETTE_APPS."
    )
    #: The generator names its arguments; this command's user knows the flags.
    flags = {**FLAGS, "apps item": "--app", "excludes item": "--exclude"}

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--app",
            action="append",
            default=[],
            dest="apps",
            metavar="APP",
            help="Only this app (label such as 'auth' or name such as "
            "'django.contrib.auth'); repeat for several.",
        )
        parser.add_argument(
            "--exclude",
            action="append",
            default=[],
            dest="excludes",
            metavar="APP_OR_MODEL",
            help="Leave this app ('sessions') or model ('auth.Permission') out, "
            "also out of the --drain; repeat for several.",
        )
        parser.add_argument(
            "--format",
            choices=("json", "python"),
            default="json",
            help="json (default) or python (a Python literal for the settings).",
        )
        parser.add_argument(
            "--destination",
            metavar="FILE",
            help="Write to this file instead of the standard output.",
        )
        parser.add_argument(
            "--drain",
            action="store_true",
            help="Append a drain that dumps the models of every app not listed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # Notes go to stderr: stdout is the definitions, ready to paste.
        notes = StreamReporter(
            verbosity=options["verbosity"],
            out=self.stderr,
            err=self.stderr,
            style=self.style,
            interactive=False,
        )
        definitions = generate_definitions(
            apps=options["apps"],
            excludes=options["excludes"],
            drain=options["drain"],
            reporter=notes,
        )
        if options["format"] == "python":
            text = pprint.pformat(definitions, width=88, sort_dicts=False)
        else:
            text = json.dumps(definitions, indent=4, ensure_ascii=False)
        destination = options["destination"]
        if not destination:
            self.stdout.write(text)
            return
        try:
            Path(destination).write_text(text + "\n", encoding="utf-8")
        except OSError as error:
            raise CommandError(
                f"--destination {destination!r}: cannot write it ({error.strerror}): "
                "give a file in an existing, writable directory"
            ) from error
        if options["verbosity"] >= 1:
            self.stdout.write(f"Wrote {len(definitions)} definitions to {destination}")
