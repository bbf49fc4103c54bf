"""What every diskette command shares: error handling and the reporter."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from diskette.exceptions import DisketteError
from diskette.interrupts import exit_status, handled_signals
from diskette.reporter import StreamReporter


class DisketteCommand(BaseCommand):
    """A command that turns every DisketteError into one line and its exit status."""

    # Like dumpdata and loaddata: the API checks the settings it reads (and skips
    # those an option replaces), so a broken DISKETTE_APPS cannot block a load.
    requires_system_checks: list = []

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            with handled_signals():
                return super().execute(*args, **options)
        except DisketteError as error:
            if options.get("traceback"):
                raise
            raise CommandError(str(error), returncode=error.exit_code) from error
        except KeyboardInterrupt as interrupt:
            # The core lets an interrupt through only where nothing was changed
            # yet; past a commit it raises a DisketteError that says so instead.
            if options.get("traceback"):
                raise
            raise CommandError(
                "interrupted: nothing was changed", returncode=exit_status(interrupt)
            ) from None

    def reporter(
        self, options: dict[str, Any], *, quiet: bool = False
    ) -> StreamReporter:
        """A reporter on this command's streams; ``quiet`` keeps stdout for JSON output."""
        verbosity = 0 if quiet else options.get("verbosity", 1)
        return StreamReporter(
            verbosity=verbosity,
            out=self.stdout,
            err=self.stderr,
            style=self.style,
            interactive=getattr(sys.stderr, "isatty", lambda: False)(),
        )

    def write_json(self, payload: Any) -> None:
        """Print one JSON object on stdout, for ``--json``."""
        self.stdout.write(
            json.dumps(payload, indent=2, default=str, ensure_ascii=False)
        )
